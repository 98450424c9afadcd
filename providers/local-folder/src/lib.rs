//! The `local` provider: lists the directory tree the host pre-opens read-only at `/root`.
//!
//! It reports sizes and modified times but never reads file contents: hashing while listing would
//! make a no-change re-sync cost as much as a full copy. The host hashes while it streams.
//!
//! Entry ids are paths relative to the root, with `/` separators. Listing is breadth-first in
//! name order; the cursor carries the folders still to visit and how far into the first one the
//! previous page got.

use p8sync_provider_sdk::types::{AuthMethod, ChangePage, Entry, ListRequest, Page, ProviderInfo};
use p8sync_provider_sdk::types::{Capability, EntryKind, FetchPlan, ProviderError, SkippedEntry};
use p8sync_provider_sdk::{Provider, cursor, entries, log, time};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// Where the host mounts the granted root inside the sandbox.
const ROOT: &str = "/root";
const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 5000;

struct LocalFolder;

impl Provider for LocalFolder {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "local".into(),
            display_name: "Local folder".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "A directory tree on the host, granted read-only.".into(),
            api_hosts: vec![],
            plain_hosts: vec![],
            auth: AuthMethod::None,
            capabilities: vec![Capability::LocalRoot],
            config_keys: vec![],
        }
    }

    fn list(request: ListRequest) -> Result<Page, ProviderError> {
        let page_size = match request.page_size_hint as usize {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let (mut pending, mut skip) = match &request.cursor {
            Some(c) => decode_cursor(c)?,
            None => {
                let start = match &request.folder_id {
                    Some(id) => checked_relative(id)?,
                    None => String::new(),
                };
                let meta = fs::metadata(guest_path(&start)).map_err(|e| {
                    ProviderError::InvalidConfig(format!(
                        "cannot read the folder `{}` under the granted root: {e}",
                        display(&start)
                    ))
                })?;
                if !meta.is_dir() {
                    return Err(ProviderError::InvalidConfig(format!(
                        "`{}` is not a folder",
                        display(&start)
                    )));
                }
                (vec![start], 0)
            }
        };

        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        while let Some(dir) = pending.first().cloned() {
            let children = read_sorted(&dir)?;
            let mut index = skip;
            while index < children.len() && entries.len() < page_size {
                let name = &children[index];
                index += 1;
                match describe(&dir, name) {
                    Described::Entry(entry) => {
                        if entry.kind == EntryKind::Folder && request.recursive {
                            pending.push(entry.id.clone());
                        }
                        entries.push(entry);
                    }
                    Described::Skipped(s) => {
                        log::warn(format!("skipping `{}`: {}", s.name, s.reason));
                        skipped.push(s);
                    }
                }
            }
            if index < children.len() {
                skip = index;
                break;
            }
            pending.remove(0);
            skip = 0;
            if entries.len() >= page_size {
                break;
            }
        }
        let next_cursor = (!pending.is_empty()).then(|| encode_cursor(&pending, skip));
        Ok(Page {
            entries,
            skipped,
            next_cursor,
        })
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Err(no_changes_feed())
    }

    fn changes(_cursor: String) -> Result<ChangePage, ProviderError> {
        Err(no_changes_feed())
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let relative = checked_relative(&entry.id)?;
        match fs::metadata(guest_path(&relative)) {
            Ok(meta) if meta.is_file() => Ok(FetchPlan::LocalFile(relative)),
            Ok(_) => Err(ProviderError::Permanent(format!(
                "`{relative}` is not a regular file"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ProviderError::NotFound(
                format!("`{relative}` no longer exists"),
            )),
            Err(e) => Err(ProviderError::Forbidden(format!(
                "cannot read `{relative}`: {e}"
            ))),
        }
    }
}

p8sync_provider_sdk::export_provider!(LocalFolder);

fn no_changes_feed() -> ProviderError {
    ProviderError::Permanent("the local provider has no changes feed; list instead".into())
}

enum Described {
    Entry(Entry),
    Skipped(SkippedEntry),
}

fn describe(dir: &str, name: &str) -> Described {
    let id = join(dir, name);
    let path = guest_path(&id);
    let skipped = |reason: String| {
        Described::Skipped(SkippedEntry {
            id: id.clone(),
            name: id.clone(),
            reason,
        })
    };
    let link_meta = match fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) => return skipped(format!("cannot read its metadata: {e}")),
    };
    let meta = if link_meta.file_type().is_symlink() {
        // The sandbox refuses to follow a link out of the root, so a failure here is either
        // an escape or a dangling link; read_link tells which.
        match fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                return skipped("symlink to a folder: not followed, to avoid cycles".into());
            }
            Ok(m) => m,
            Err(_) => {
                let target = fs::read_link(&path).ok();
                return match target {
                    Some(t) if escapes(dir, &t) => skipped(format!(
                        "symlink points outside the root (to `{}`)",
                        t.display()
                    )),
                    Some(t) => skipped(format!("broken symlink (to `{}`)", t.display())),
                    // The sandbox will not even read a link whose target is outside the root.
                    None => skipped("symlink points outside the root".into()),
                };
            }
        }
    } else {
        link_meta
    };

    let kind = if meta.is_dir() {
        EntryKind::Folder
    } else if meta.is_file() {
        EntryKind::File
    } else {
        return skipped("not a regular file or folder (device, socket or pipe)".into());
    };
    let path_segments: Vec<String> = if dir.is_empty() {
        vec![]
    } else {
        dir.split('/').map(str::to_string).collect()
    };
    Described::Entry(Entry {
        id: id.clone(),
        name: name.to_string(),
        path: path_segments,
        parent_ids: if dir.is_empty() {
            vec![]
        } else {
            vec![dir.to_string()]
        },
        kind,
        mime_type: match kind {
            EntryKind::Folder => None,
            EntryKind::File => entries::mime_for(name).map(str::to_string),
        },
        size: (kind == EntryKind::File).then_some(meta.len()),
        modified: meta.modified().ok().map(time::from_system_time),
        created: meta.created().ok().map(time::from_system_time),
        checksums: vec![],
        revision: None,
        export_as: None,
        metadata_json: None,
    })
}

/// Whether a symlink in `dir` with this target leads out of the root.
fn escapes(dir: &str, target: &Path) -> bool {
    if target.is_absolute() {
        return true;
    }
    let mut depth: i64 = if dir.is_empty() {
        0
    } else {
        dir.split('/').count() as i64
    };
    for c in target.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
}

fn read_sorted(dir: &str) -> Result<Vec<String>, ProviderError> {
    let read = fs::read_dir(guest_path(dir)).map_err(|e| {
        // A folder that vanished mid-listing is an error, never an empty folder.
        ProviderError::Transient(format!("cannot list `{}`: {e}", display(dir)))
    })?;
    let mut names = Vec::new();
    for item in read {
        let item = item.map_err(|e| {
            ProviderError::Transient(format!("cannot list `{}`: {e}", display(dir)))
        })?;
        match item.file_name().into_string() {
            Ok(name) => names.push(name),
            Err(raw) => log::warn(format!(
                "skipping a name in `{}` that is not valid UTF-8: {raw:?}",
                display(dir)
            )),
        }
    }
    names.sort();
    Ok(names)
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn guest_path(relative: &str) -> PathBuf {
    if relative.is_empty() {
        PathBuf::from(ROOT)
    } else {
        Path::new(ROOT).join(relative)
    }
}

fn display(relative: &str) -> &str {
    if relative.is_empty() { "." } else { relative }
}

/// A relative path made only of plain components (no `..`, no absolute paths).
fn checked_relative(id: &str) -> Result<String, ProviderError> {
    let path = Path::new(id);
    let plain = path
        .components()
        .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain || id.contains('\\') {
        return Err(ProviderError::InvalidConfig(format!(
            "`{id}` is not a plain path relative to the root"
        )));
    }
    Ok(id.trim_matches('/').to_string())
}

fn encode_cursor(pending: &[String], skip: usize) -> String {
    let mut fields = vec!["local-v1".to_string(), skip.to_string()];
    fields.extend(pending.iter().cloned());
    cursor::encode(&fields)
}

fn decode_cursor(c: &str) -> Result<(Vec<String>, usize), ProviderError> {
    let bad = || ProviderError::CursorExpired(format!("unrecognised cursor `{c:.40}`"));
    let mut fields = cursor::decode(c).into_iter();
    if fields.next().as_deref() != Some("local-v1") {
        return Err(bad());
    }
    let skip = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let pending = fields
        .map(|f| checked_relative(&f).map_err(|_| bad()).map(|_| f))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((pending, skip))
}
