//! The change feed: Dropbox's list_folder cursor, wrapped with what a deletion needs.
//!
//! Dropbox reports a deletion as a path (`{".tag": "deleted", "path_lower": ...}`) with no id,
//! and a deleted folder stands for everything under it. Entries are keyed by Dropbox's `id`,
//! so the cursor handed to the host carries a map from each file's `path_lower` to its id:
//! made when the feed starts (from a listing of the root) and updated by every page of
//! changes. A deleted path is turned into the ids under it. Those removals are held in the
//! cursor until the feed is drained, because a move arrives as a deletion at the old path and
//! a file at the new one, possibly on a later page; only ids not seen again are removed.
//!
//! The cursor must stay under the host's limit (1 MiB). When the map would not fit, the cursor
//! carries none, and a page with a deletion answers `cursor-expired`: the host then lists
//! everything and finds what is gone by comparing ids.

use crate::api::Api;
use crate::entries::{Item, convert};
use crate::settings::Settings;
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::{ChangePage, ProviderError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Marks cursors this version makes; anything else is a cursor from elsewhere.
const PREFIX: &str = "dbx1:";

/// Largest cursor made with a path map (the host refuses cursors over 1 MiB).
pub const MAX_CURSOR_BYTES: usize = 900 * 1024;

/// Removals held back at most; past this, listing again is cheaper and safer.
const MAX_PENDING: usize = 5_000;

/// The feed's state between calls.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FeedCursor {
    /// Dropbox's cursor.
    pub dropbox: String,
    /// `path_lower` -> id of every file under the root; `None` when too large to carry.
    pub files: Option<BTreeMap<String, String>>,
    /// Ids deleted so far in this drain, reported when the feed is drained.
    #[serde(default)]
    pub pending: Vec<String>,
}

impl FeedCursor {
    /// The text handed to the host; without the map when it would be too long.
    pub fn encode(self) -> String {
        let (text, dropped) = self.encode_quietly();
        if let Some(files) = dropped {
            log::info(format!(
                "the change cursor is too long with the map of {files} files; deletions will \
                 be found by listing again instead"
            ));
        }
        text
    }

    /// [`FeedCursor::encode`], saying how many mapped files were dropped (if it came to that)
    /// instead of logging it.
    fn encode_quietly(mut self) -> (String, Option<usize>) {
        let text = format!(
            "{PREFIX}{}",
            serde_json::to_string(&self).expect("serialises")
        );
        if text.len() <= MAX_CURSOR_BYTES || self.files.is_none() {
            return (text, None);
        }
        let dropped = self.files.take().map(|f| f.len());
        let text = format!(
            "{PREFIX}{}",
            serde_json::to_string(&self).expect("serialises")
        );
        (text, dropped)
    }

    /// Read a cursor made by [`FeedCursor::encode`].
    pub fn decode(text: &str) -> Result<Self, ProviderError> {
        text.strip_prefix(PREFIX)
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| {
                ProviderError::CursorExpired(
                    "the saved change cursor was not made by this version of the Dropbox \
                     provider; everything is listed again"
                        .into(),
                )
            })
    }
}

/// The cursor for "now": Dropbox's latest cursor, with the map of the files there.
pub fn start_cursor(settings: &Settings) -> Result<String, ProviderError> {
    let mut api = Api::new(settings);
    // Taken before the map's listing: changes in between are replayed, and replaying is
    // harmless (a file sets its path again; a deletion removes what is there).
    let dropbox = api.latest_cursor()?;
    let mut files = BTreeMap::new();
    let mut bytes = 0usize;
    let mut fits = true;
    let mut page = api.list_folder(None, true)?;
    loop {
        if fits {
            for meta in &page.entries {
                if meta.tag == "file"
                    && let (Some(path), Some(id)) = (&meta.path_lower, &meta.id)
                {
                    bytes += path.len() + id.len() + 6;
                    files.insert(path.clone(), id.clone());
                }
            }
            if bytes > MAX_CURSOR_BYTES {
                // No point reading the rest: the map will not be carried.
                fits = false;
                files.clear();
                break;
            }
        }
        if !page.has_more {
            break;
        }
        page = api.list_continue(&page.cursor).map_err(|e| match e {
            // The map's own listing was reset: the feed must start again anyway.
            ProviderError::CursorExpired(m) => ProviderError::Transient(m),
            other => other,
        })?;
    }
    log::debug(format!(
        "change cursor made with {} files mapped ({} Dropbox requests)",
        files.len(),
        api.requests
    ));
    Ok(FeedCursor {
        dropbox,
        files: fits.then_some(files),
        pending: Vec::new(),
    }
    .encode())
}

/// One page of changes since `cursor`.
pub fn changes(cursor: &str, settings: &Settings) -> Result<ChangePage, ProviderError> {
    let mut state = FeedCursor::decode(cursor)?;
    let mut api = Api::new(settings);
    let result = api.list_continue(&state.dropbox)?;
    let mut page = ChangePage {
        changed: Vec::new(),
        removed: Vec::new(),
        skipped: Vec::new(),
        next_cursor: String::new(),
        has_more: result.has_more,
    };
    let mut tracker = Tracker::new(&mut state);
    for meta in result.entries {
        let path = meta.path_lower.clone();
        match convert(meta, &settings.root_path) {
            Item::Entry(e) => {
                if let Some(path) = &path
                    && e.kind == p8sync_provider_sdk::types::EntryKind::File
                {
                    tracker.file(path, &e.id);
                }
                page.changed.push(*e);
            }
            Item::Skipped(s) => {
                // Not synced any more under its id: a file replaced by a Paper doc, say.
                if let Some(path) = &path {
                    tracker.file(path, &s.id);
                }
                page.skipped.push(s);
            }
            Item::Deleted(path) => {
                if !tracker.deleted(&path) {
                    return Err(ProviderError::CursorExpired(
                        "Dropbox reported a deletion, which names a path and not an id, and \
                         this account is too large to keep the path map in the cursor; \
                         everything is listed again to find what is gone"
                            .into(),
                    ));
                }
            }
            Item::Nothing => {}
        }
    }
    drop(tracker);
    if state.pending.len() > MAX_PENDING {
        return Err(ProviderError::CursorExpired(format!(
            "more than {MAX_PENDING} files were deleted or moved; everything is listed again"
        )));
    }
    state.dropbox = result.cursor;
    if !result.has_more {
        page.removed = std::mem::take(&mut state.pending);
    }
    page.next_cursor = state.encode();
    Ok(page)
}

/// Applies one page of changes to the path map.
struct Tracker<'a> {
    state: &'a mut FeedCursor,
    /// id -> path, the map's reverse.
    paths: HashMap<String, String>,
}

impl<'a> Tracker<'a> {
    fn new(state: &'a mut FeedCursor) -> Self {
        let paths = state
            .files
            .iter()
            .flatten()
            .map(|(p, i)| (i.clone(), p.clone()))
            .collect();
        Tracker { state, paths }
    }

    /// The file `id` is now at `path`.
    fn file(&mut self, path: &str, id: &str) {
        self.state.pending.retain(|p| p != id);
        let Some(files) = &mut self.state.files else {
            return;
        };
        if let Some(old) = self.paths.get(id)
            && old != path
        {
            files.remove(old);
        }
        if let Some(previous) = files.insert(path.to_string(), id.to_string())
            && previous != id
            && self.paths.get(&previous).map(String::as_str) == Some(path)
        {
            // Another file was here: it is gone unless it shows up elsewhere later.
            self.paths.remove(&previous);
            self.state.pending.push(previous);
        }
        self.paths.insert(id.to_string(), path.to_string());
    }

    /// Everything at or under `path` is gone. `false` when there is no map to say what.
    fn deleted(&mut self, path: &str) -> bool {
        let Some(files) = &mut self.state.files else {
            return false;
        };
        let below = format!("{path}/");
        let gone: Vec<String> = files
            .range(path.to_string()..)
            .take_while(|(p, _)| p.as_str() == path || p.starts_with(&below))
            .map(|(p, _)| p.clone())
            .collect();
        for p in gone {
            if let Some(id) = files.remove(&p) {
                self.paths.remove(&id);
                if !self.state.pending.contains(&id) {
                    self.state.pending.push(id);
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor(files: &[(&str, &str)]) -> FeedCursor {
        FeedCursor {
            dropbox: "c".into(),
            files: Some(
                files
                    .iter()
                    .map(|(p, i)| (p.to_string(), i.to_string()))
                    .collect(),
            ),
            pending: Vec::new(),
        }
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_expire() {
        let c = cursor(&[("/a.txt", "id:a")]);
        let (text, dropped) = c.clone().encode_quietly();
        assert_eq!(dropped, None);
        assert_eq!(FeedCursor::decode(&text).unwrap(), c);
        assert!(matches!(
            FeedCursor::decode("AAFh8s-some-dropbox-cursor"),
            Err(ProviderError::CursorExpired(_))
        ));
    }

    #[test]
    fn an_oversized_map_is_dropped() {
        let mut c = cursor(&[]);
        let files = c.files.as_mut().unwrap();
        for i in 0..30_000 {
            files.insert(
                format!("/folder/file number {i:06}.txt"),
                format!("id:{i:022}"),
            );
        }
        let (text, dropped) = c.encode_quietly();
        assert_eq!(dropped, Some(30_000));
        assert!(text.len() < 4096, "{}", text.len());
        assert_eq!(FeedCursor::decode(&text).unwrap().files, None);
    }

    #[test]
    fn deletions_become_ids_and_moves_are_not_deletions() {
        let mut c = cursor(&[
            ("/a.txt", "id:a"),
            ("/dir/b.txt", "id:b"),
            ("/dir/sub/c.txt", "id:c"),
            ("/dirx.txt", "id:x"),
            ("/other/d.txt", "id:d"),
        ]);
        let mut t = Tracker::new(&mut c);
        // A folder deleted: everything under it, but not a sibling sharing the prefix.
        assert!(t.deleted("/dir"));
        // A file moved: deleted at the old path, listed at the new one.
        assert!(t.deleted("/a.txt"));
        t.file("/moved/a.txt", "id:a");
        // A file moved first and its old path deleted after: not removed.
        t.file("/elsewhere/d.txt", "id:d");
        assert!(t.deleted("/other/d.txt"));
        drop(t);
        let mut pending = c.pending.clone();
        pending.sort();
        assert_eq!(pending, ["id:b", "id:c"]);
        let files = c.files.unwrap();
        assert_eq!(files.get("/moved/a.txt").map(String::as_str), Some("id:a"));
        assert_eq!(
            files.get("/elsewhere/d.txt").map(String::as_str),
            Some("id:d")
        );
        assert!(files.contains_key("/dirx.txt"));
        assert_eq!(files.len(), 3);
    }

    #[test]
    fn a_file_replaced_at_its_path_is_removed() {
        let mut c = cursor(&[("/a.txt", "id:old")]);
        let mut t = Tracker::new(&mut c);
        t.file("/a.txt", "id:new");
        drop(t);
        assert_eq!(c.pending, ["id:old"]);
    }

    #[test]
    fn without_a_map_deletions_ask_for_a_listing() {
        let mut c = FeedCursor {
            dropbox: "c".into(),
            files: None,
            pending: Vec::new(),
        };
        let mut t = Tracker::new(&mut c);
        t.file("/a.txt", "id:a");
        assert!(!t.deleted("/a.txt"));
    }
}
