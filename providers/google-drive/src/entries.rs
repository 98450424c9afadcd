//! Drive files as contract entries: the rules listing and the change feed share.

use crate::export::Disposition;
use crate::model::{EntryMeta, File};
use crate::settings::Settings;
use p8sync_provider_sdk::types::{Checksum, ChecksumAlgorithm, Entry, EntryKind, SkippedEntry};
use p8sync_provider_sdk::{log, time};

/// A file as an entry, or the reason it is left out.
pub enum Described {
    /// Listed.
    Entry(Box<Entry>),
    /// Left out, with the reason recorded by the host.
    Skipped(SkippedEntry),
}

/// A skipped entry for `file`, shown at `path`.
pub fn skipped(id: &str, name: &str, path: &[String], reason: impl Into<String>) -> SkippedEntry {
    let mut shown = path.join("/");
    if !shown.is_empty() {
        shown.push('/');
    }
    shown.push_str(name);
    SkippedEntry {
        id: id.to_string(),
        name: shown,
        reason: reason.into(),
    }
}

/// A folder entry. `identity` is the folder itself, or the shortcut that leads to it.
pub fn folder(identity: &File, target: Option<&File>, path: &[String]) -> Entry {
    let shown = target.unwrap_or(identity);
    let meta = EntryMeta {
        drive_id: identity.drive_id.clone(),
        target_id: target.map(|t| t.id.clone()),
        ..EntryMeta::default()
    };
    Entry {
        id: identity.id.clone(),
        name: identity.name.clone(),
        path: path.to_vec(),
        parent_ids: identity.parents.clone(),
        kind: EntryKind::Folder,
        mime_type: Some(shown.mime_type.clone()),
        size: None,
        modified: shown.modified_time.as_deref().and_then(time::parse_rfc3339),
        created: shown.created_time.as_deref().and_then(time::parse_rfc3339),
        checksums: Vec::new(),
        revision: None,
        export_as: None,
        metadata_json: to_json(&meta),
    }
}

/// A file entry (not a folder, not a shortcut) at `path`.
pub fn file(file: &File, path: &[String], settings: &Settings) -> Described {
    content_entry(file, file, path, settings)
}

/// A shortcut to a file: the shortcut's id, name and place, the target's content.
pub fn shortcut_to_file(
    shortcut: &File,
    target: &File,
    path: &[String],
    settings: &Settings,
) -> Described {
    content_entry(shortcut, target, path, settings)
}

/// `identity` gives the entry's id, name and parents; `content` its type, size and checksums.
fn content_entry(
    identity: &File,
    content: &File,
    path: &[String],
    settings: &Settings,
) -> Described {
    let skip =
        |reason: String| Described::Skipped(skipped(&identity.id, &identity.name, path, reason));
    let is_shortcut = identity.id != content.id;
    let mut meta = EntryMeta {
        drive_id: identity.drive_id.clone(),
        version: content.version.clone(),
        head_revision_id: content.head_revision_id.clone(),
        target_id: is_shortcut.then(|| content.id.clone()),
        export_link: None,
        can_download: content.download_blocked().then_some(false),
    };
    let mut entry = Entry {
        id: identity.id.clone(),
        name: identity.name.clone(),
        path: path.to_vec(),
        parent_ids: identity.parents.clone(),
        kind: EntryKind::File,
        mime_type: Some(content.mime_type.clone()).filter(|m| !m.is_empty()),
        size: None,
        modified: time_of(content, "modifiedTime", content.modified_time.as_deref()),
        created: time_of(content, "createdTime", content.created_time.as_deref()),
        checksums: Vec::new(),
        revision: None,
        export_as: None,
        metadata_json: None,
    };
    match settings.exports.disposition(&content.mime_type) {
        Disposition::Skip(reason) => return skip(reason),
        Disposition::Export(format) => {
            meta.export_link = content.export_links.get(&format.mime_type).cloned();
            // Workspace files have no checksum or size: their version (which grows on every
            // edit) is what tells a change, with the modified time as a fallback.
            entry.revision = content
                .version
                .clone()
                .or_else(|| content.modified_time.clone());
            entry.export_as = Some(format);
        }
        Disposition::Download => {
            if let Some(size) = &content.size {
                match size.trim().parse::<u64>() {
                    Ok(n) => entry.size = Some(n),
                    Err(_) => {
                        return skip(format!(
                            "Drive reported a size that is not a number (`{size:.40}`)"
                        ));
                    }
                }
            }
            let sums = [
                (ChecksumAlgorithm::Md5, &content.md5_checksum, 32),
                (ChecksumAlgorithm::Sha1, &content.sha1_checksum, 40),
                (ChecksumAlgorithm::Sha256, &content.sha256_checksum, 64),
            ];
            for (algorithm, value, len) in sums {
                let Some(value) = value else { continue };
                let value = value.trim().to_ascii_lowercase();
                if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
                    entry.checksums.push(Checksum { algorithm, value });
                } else {
                    // A checksum the host cannot match would fail this file on every sync.
                    log::warn(format!(
                        "ignoring a malformed {algorithm:?} checksum on `{}`",
                        content.id
                    ));
                }
            }
            entry.revision = content
                .head_revision_id
                .clone()
                .or_else(|| content.md5_checksum.clone())
                .or_else(|| content.version.clone());
        }
    }
    entry.metadata_json = to_json(&meta);
    Described::Entry(Box::new(entry))
}

fn time_of(
    file: &File,
    field: &str,
    value: Option<&str>,
) -> Option<p8sync_provider_sdk::types::Timestamp> {
    let value = value?;
    let parsed = time::parse_rfc3339(value);
    if parsed.is_none() {
        log::warn(format!(
            "ignoring an unreadable {field} `{value:.40}` on `{}`",
            file.id
        ));
    }
    parsed
}

fn to_json(meta: &EntryMeta) -> Option<String> {
    serde_json::to_string(meta).ok().filter(|s| s != "{}")
}
