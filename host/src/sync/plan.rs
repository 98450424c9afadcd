//! What a sync has to do: filter the listing, then diff it against what is recorded.

use crate::runtime::types::{ChecksumAlgorithm, Entry, EntryKind};
use crate::store::{FileStatus, SyncConfig, SyncFile};
use std::collections::HashMap;

/// What to do with one remote file.
#[derive(Debug)]
pub enum Action {
    /// New or changed: fetch and store it.
    Transfer {
        /// The entry as listed.
        entry: Box<Entry>,
        /// What is recorded, if anything.
        existing: Option<SyncFile>,
    },
    /// Recorded as synced and unchanged.
    Unchanged(SyncFile),
    /// Recorded, and gone from the provider.
    Deleted(SyncFile),
    /// Listed, but filtered out or too large.
    Skip {
        /// The entry.
        entry: Box<Entry>,
        /// Why.
        reason: String,
    },
}

/// The checksum the provider reported, as `algorithm:value` (the form `SyncFile` records).
pub fn provider_checksum(entry: &Entry) -> Option<String> {
    entry.checksums.iter().find_map(|c| {
        let name = match &c.algorithm {
            ChecksumAlgorithm::Md5 => "md5",
            ChecksumAlgorithm::Sha1 => "sha1",
            ChecksumAlgorithm::Sha256 => "sha256",
            ChecksumAlgorithm::DropboxContentHash => "dropbox",
            // Base64: case matters.
            ChecksumAlgorithm::QuickXorHash => return Some(format!("quickxor:{}", c.value.trim())),
            ChecksumAlgorithm::Other(_) => return None,
        };
        Some(format!("{name}:{}", c.value.trim().to_ascii_lowercase()))
    })
}

/// The extension a file counts as for type filters: its export format's, else its name's.
pub fn extension(entry: &Entry) -> Option<String> {
    entry
        .export_as
        .as_ref()
        .map(|e| e.extension.clone())
        .or_else(|| entry.name.rsplit_once('.').map(|(_, e)| e.to_string()))
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

fn normalise_types(list: &[String]) -> Vec<String> {
    list.iter()
        .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

fn split_path(p: &str) -> Vec<String> {
    p.split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Whether `folder` is `prefix` or inside it, segment by segment.
fn under(folder: &[String], prefix: &[String]) -> bool {
    prefix.len() <= folder.len() && folder.iter().zip(prefix).all(|(a, b)| a == b)
}

/// Why a file is filtered out, or `None` when it is in.
pub fn filter(config: &SyncConfig, entry: &Entry) -> Option<String> {
    let includes: Vec<Vec<String>> = config
        .include_folders
        .iter()
        .map(|p| split_path(p))
        .collect();
    let excludes: Vec<Vec<String>> = config
        .exclude_folders
        .iter()
        .map(|p| split_path(p))
        .collect();
    let folder = &entry.path;
    if !includes.is_empty() && !includes.iter().any(|p| under(folder, p)) {
        return Some("not under an included folder".into());
    }
    if let Some(p) = excludes.iter().find(|p| under(folder, p)) {
        return Some(format!("under the excluded folder `{}`", p.join("/")));
    }
    let ext = extension(entry);
    let include_types = normalise_types(&config.include_file_types);
    let exclude_types = normalise_types(&config.exclude_file_types);
    if !include_types.is_empty() && !ext.as_ref().is_some_and(|e| include_types.contains(e)) {
        return Some("file type not included".into());
    }
    if let Some(e) = ext.as_ref().filter(|e| exclude_types.contains(e)) {
        return Some(format!("file type `{e}` is excluded"));
    }
    if let (Some(max), Some(size)) = (config.max_file_size, entry.size)
        && size > max as u64
    {
        return Some(format!("{size} bytes is over the {max} byte limit"));
    }
    None
}

/// Whether a recorded, synced file still matches the listed entry: by revision when both have
/// one, then by checksum, then by size and modified time.
pub fn unchanged(file: &SyncFile, entry: &Entry) -> bool {
    if file.status != FileStatus::Synced {
        return false;
    }
    if let (Some(a), Some(b)) = (&file.remote_revision, &entry.revision) {
        return a == b;
    }
    if let (Some(a), Some(b)) = (&file.remote_checksum, provider_checksum(entry)) {
        return *a == b;
    }
    let modified = timestamp(entry.modified);
    file.remote_size == entry.size.map(|s| s as i64)
        && file.remote_modified_at == modified
        && (entry.size.is_some() || modified.is_some())
}

/// A provider timestamp at the precision every store keeps (Postgres: microseconds), so a
/// stored time compares equal to the same time listed again.
pub fn timestamp(
    t: Option<crate::runtime::types::Timestamp>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = t?;
    chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds / 1000 * 1000)
}

/// What to do with one listed file, given its record: skip it (a file that is now filtered out
/// is left as it was recorded), leave it, or transfer it.
fn classify(config: &SyncConfig, entry: Entry, existing: Option<SyncFile>) -> Action {
    if let Some(reason) = filter(config, &entry) {
        return Action::Skip {
            entry: Box::new(entry),
            reason,
        };
    }
    match existing {
        Some(file) if unchanged(&file, &entry) => Action::Unchanged(file),
        existing => Action::Transfer {
            entry: Box::new(entry),
            existing,
        },
    }
}

/// Plan a sync from a complete listing. Never call this with a listing that failed: an empty
/// listing means every recorded file is deleted.
pub fn plan(config: &SyncConfig, listing: Vec<Entry>, recorded: Vec<SyncFile>) -> Vec<Action> {
    let mut recorded: HashMap<String, SyncFile> = recorded
        .into_iter()
        .map(|f| (f.remote_id.clone(), f))
        .collect();
    // A listing may name an id twice (Graph's delta rounds do when an item changes while the
    // round runs): the later entry is the newer state, and one id is transferred once.
    let mut latest: HashMap<String, Entry> = HashMap::new();
    let mut order = Vec::new();
    for entry in listing.into_iter().filter(|e| e.kind == EntryKind::File) {
        if !latest.contains_key(&entry.id) {
            order.push(entry.id.clone());
        }
        latest.insert(entry.id.clone(), entry);
    }
    let mut actions = Vec::new();
    for id in order {
        let entry = latest.remove(&id).expect("ids come from the map");
        let existing = recorded.remove(&id);
        actions.push(classify(config, entry, existing));
    }
    let mut gone: Vec<SyncFile> = recorded
        .into_values()
        .filter(|f| f.status != FileStatus::Deleted)
        .collect();
    gone.sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
    actions.extend(gone.into_iter().map(Action::Deleted));
    actions
}

/// Plan a sync from the change feed: only the changed entries are diffed, and only the ids the
/// feed says were removed are marked deleted (absence means nothing here). A later change to
/// one id wins over an earlier one.
pub fn plan_changes(
    config: &SyncConfig,
    changed: Vec<Entry>,
    removed: &[String],
    recorded: Vec<SyncFile>,
) -> Vec<Action> {
    let mut recorded: HashMap<String, SyncFile> = recorded
        .into_iter()
        .map(|f| (f.remote_id.clone(), f))
        .collect();
    let mut latest: HashMap<String, Entry> = HashMap::new();
    let mut order = Vec::new();
    for entry in changed.into_iter().filter(|e| e.kind == EntryKind::File) {
        if !latest.contains_key(&entry.id) {
            order.push(entry.id.clone());
        }
        latest.insert(entry.id.clone(), entry);
    }
    let removed_set: std::collections::HashSet<&String> = removed.iter().collect();
    let mut actions = Vec::new();
    for id in order {
        if removed_set.contains(&id) {
            continue;
        }
        let entry = latest.remove(&id).expect("ids come from the map");
        let existing = recorded.remove(&id);
        actions.push(classify(config, entry, existing));
    }
    for id in removed {
        if let Some(file) = recorded.remove(id)
            && file.status != FileStatus::Deleted
        {
            actions.push(Action::Deleted(file));
        }
    }
    actions
}
