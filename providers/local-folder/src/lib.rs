//! The `local` provider: lists the directory tree the host grants read-only.
//!
//! It reads the tree through the host's `read-root-dir`/`stat-root-path` (SDK
//! [`local_root`]) rather than `wasi:filesystem`, because those show every name, in the
//! contract's lossless name encoding ([`names`]): a Latin-1 name that is not valid UTF-8 is
//! listed as `caf‛E9.txt` and the host opens the file of those very bytes. Nothing beside it
//! is held up by it.
//!
//! It reports sizes and modified times but never reads file contents: hashing while listing would
//! make a no-change re-sync cost as much as a full copy. The host hashes while it streams.
//!
//! Entry ids are paths relative to the root, `/`-separated, each name encoded. Listing is
//! breadth-first in byte order of the names; the cursor carries the folders still to visit and
//! the last name the previous page got to in the first one.

use p8sync_provider_sdk::local_root::{self, RootItem, RootItemKind};
use p8sync_provider_sdk::types::{AuthMethod, ChangePage, Entry, ListRequest, Page, ProviderInfo};
use p8sync_provider_sdk::types::{Capability, EntryKind, FetchPlan, ProviderError, SkippedEntry};
use p8sync_provider_sdk::{Provider, cursor, entries, log, names};

const DEFAULT_PAGE: usize = 1000;
const MAX_PAGE: usize = 5000;
/// The host's limit on an id or a name (`validate::MAX_NAME_BYTES`): a longer path is skipped
/// with the reason rather than failing the page it is on.
const MAX_ID_BYTES: usize = 4096;
/// Stop a page once its ids and names add up to this much (the host refuses pages over 32 MiB).
const PAGE_TEXT_BUDGET: usize = 8 * 1024 * 1024;
const CURSOR_FORMAT: &str = "local-v2";

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
        let (mut pending, mut after) = match &request.cursor {
            Some(c) => decode_cursor(c)?,
            None => {
                let start = match &request.folder_id {
                    Some(id) => checked_relative(id)?,
                    None => String::new(),
                };
                let item = local_root::stat(&start).map_err(|e| {
                    ProviderError::InvalidConfig(format!(
                        "cannot read the folder `{}` under the granted root: {}",
                        shown(&start),
                        p8sync_provider_sdk::error::message(&e)
                    ))
                })?;
                if !matches!(item.kind, RootItemKind::Folder) {
                    return Err(ProviderError::InvalidConfig(format!(
                        "`{}` is not a folder",
                        shown(&start)
                    )));
                }
                (vec![start], None)
            }
        };

        let mut entries = Vec::new();
        let mut skipped = Vec::new();
        let mut text = 0;
        'folders: while let Some(dir) = pending.first().cloned() {
            let room = page_size - entries.len() - skipped.len();
            let items = match local_root::read_dir(&dir, after.as_deref(), room as u32) {
                Ok(items) => items,
                // One folder that may not be read is that folder's problem, not the listing's.
                Err(ProviderError::Forbidden(why)) if !dir.is_empty() => {
                    let reason = format!("cannot read this folder: {why}");
                    log::warn(format!("skipping `{}`: {reason}", names::display(&dir)));
                    skipped.push(skip(&dir, reason));
                    pending.remove(0);
                    after = None;
                    continue;
                }
                // A folder that vanished mid-listing is an error, never an empty folder.
                Err(e) => {
                    return Err(ProviderError::Transient(format!(
                        "cannot list `{}`: {}",
                        shown(&dir),
                        p8sync_provider_sdk::error::message(&e)
                    )));
                }
            };
            let complete = items.len() < room;
            for item in items {
                if text >= PAGE_TEXT_BUDGET {
                    // The rest of this batch comes again on the next page.
                    break 'folders;
                }
                after = Some(item.name.clone());
                match describe(&dir, item) {
                    Described::Entry(entry) => {
                        if entry.kind == EntryKind::Folder && request.recursive {
                            pending.push(entry.id.clone());
                        }
                        text += 3 * entry.id.len() + entry.name.len();
                        entries.push(entry);
                    }
                    Described::Skipped(s) => {
                        log::warn(format!(
                            "skipping `{}`: {}",
                            names::display(&s.name),
                            s.reason
                        ));
                        text += s.id.len() + s.name.len() + s.reason.len();
                        skipped.push(s);
                    }
                }
            }
            if !complete {
                break;
            }
            pending.remove(0);
            after = None;
            if entries.len() + skipped.len() >= page_size {
                break;
            }
        }
        let next_cursor = (!pending.is_empty()).then(|| encode_cursor(&pending, after.as_deref()));
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
        let shown = names::display(&relative);
        match local_root::stat(&relative) {
            Ok(item) => match item.kind {
                RootItemKind::File => Ok(FetchPlan::LocalFile(relative)),
                RootItemKind::Folder => Err(ProviderError::Permanent(format!(
                    "`{shown}` is a folder now, not a file"
                ))),
                RootItemKind::Unsupported(why) => Err(ProviderError::Permanent(format!(
                    "`{shown}` cannot be synced: {why}"
                ))),
            },
            // Gone, or a folder on its path is not a folder any more.
            Err(ProviderError::NotFound(_) | ProviderError::InvalidConfig(_)) => Err(
                ProviderError::NotFound(format!("`{shown}` no longer exists")),
            ),
            Err(ProviderError::Forbidden(why)) => Err(ProviderError::Forbidden(format!(
                "cannot read `{shown}`: {why}"
            ))),
            Err(e) => Err(e),
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

/// A skipped entry for the path `id`, cut to the host's limit when it is longer.
fn skip(id: &str, reason: String) -> SkippedEntry {
    let id = fit(id);
    SkippedEntry {
        id: id.clone(),
        name: id,
        reason,
    }
}

/// `id` when it fits the host's limit; otherwise a stable stand-in: its start and a hash.
fn fit(id: &str) -> String {
    if id.len() <= MAX_ID_BYTES {
        return id.to_string();
    }
    let mut end = MAX_ID_BYTES - 40;
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    // FNV-1a: stable across builds, enough to tell two long paths apart in a report.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{}…#{hash:016x}", &id[..end])
}

fn describe(dir: &str, item: RootItem) -> Described {
    let id = join(dir, &item.name);
    if id.len() > MAX_ID_BYTES {
        return Described::Skipped(skip(
            &id,
            format!(
                "its path is {} bytes long (names encoded); the host takes at most {MAX_ID_BYTES}",
                id.len()
            ),
        ));
    }
    let kind = match item.kind {
        RootItemKind::File => EntryKind::File,
        RootItemKind::Folder if item.symlink => {
            return Described::Skipped(skip(
                &id,
                "symlink to a folder: not followed, to avoid cycles".into(),
            ));
        }
        RootItemKind::Folder => EntryKind::Folder,
        RootItemKind::Unsupported(reason) => return Described::Skipped(skip(&id, reason)),
    };
    let path_segments: Vec<String> = if dir.is_empty() {
        vec![]
    } else {
        dir.split('/').map(str::to_string).collect()
    };
    Described::Entry(Entry {
        size: (kind == EntryKind::File).then_some(item.size),
        modified: item.modified,
        mime_type: match kind {
            EntryKind::Folder => None,
            EntryKind::File => entries::mime_for(&item.name).map(str::to_string),
        },
        path: path_segments,
        parent_ids: if dir.is_empty() {
            vec![]
        } else {
            vec![dir.to_string()]
        },
        ..match kind {
            EntryKind::File => entries::file(id, item.name),
            EntryKind::Folder => entries::folder(id, item.name),
        }
    })
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn shown(relative: &str) -> String {
    if relative.is_empty() {
        ".".into()
    } else {
        names::display(relative)
    }
}

/// A relative path of plain names in the name encoding (no `..`, not absolute), with empty and
/// `.` names dropped.
fn checked_relative(id: &str) -> Result<String, ProviderError> {
    let invalid = || {
        ProviderError::InvalidConfig(format!(
            "`{}` is not a plain path relative to the root",
            names::display(id)
        ))
    };
    if id.starts_with('/') {
        return Err(invalid());
    }
    let mut kept = Vec::new();
    for name in id.split('/') {
        match name {
            "" | "." => {}
            ".." => return Err(invalid()),
            n if names::is_encoded(n) => kept.push(n),
            _ => return Err(invalid()),
        }
    }
    Ok(kept.join("/"))
}

fn encode_cursor(pending: &[String], after: Option<&str>) -> String {
    // No name is empty, so "" says "from the first name".
    let mut fields = vec![CURSOR_FORMAT.to_string(), after.unwrap_or("").to_string()];
    fields.extend(pending.iter().cloned());
    cursor::encode(&fields)
}

fn decode_cursor(c: &str) -> Result<(Vec<String>, Option<String>), ProviderError> {
    let bad = || ProviderError::CursorExpired(format!("unrecognised cursor `{c:.40}`"));
    let mut fields = cursor::decode(c).into_iter();
    if fields.next().as_deref() != Some(CURSOR_FORMAT) {
        return Err(bad());
    }
    let after = fields.next().ok_or_else(bad)?;
    let after = (!after.is_empty()).then_some(after);
    if after.as_deref().is_some_and(|a| !names::is_encoded(a)) {
        return Err(bad());
    }
    let pending = fields
        .map(|f| checked_relative(&f).map_err(|_| bad()).map(|_| f))
        .collect::<Result<Vec<_>, _>>()?;
    if pending.is_empty() {
        return Err(bad());
    }
    Ok((pending, after))
}
