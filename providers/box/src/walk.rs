//! The folder walk: a depth-first walk of the tree, one folder page (marker paged) per
//! request. It serves the listing, and the change feed when a folder moves or is copied, since
//! Box then reports only the folder, not what is inside.
//!
//! Depth first keeps the walk's state small: a stack with one frame per level, each holding
//! its folder's next marker and the subfolders of its current page not visited yet (at most
//! one page of them). Breadth first would carry every folder of a level, which for a wide
//! account outgrows a cursor. The state travels in the cursor (every call is a fresh
//! instance), so one call stays short whatever the size of the account.

use crate::api::Api;
use crate::entries::{self, Described};
use crate::model::Item;
use p8sync_provider_sdk::cursor;
use p8sync_provider_sdk::types::{Entry, EntryKind, ProviderError, SkippedEntry};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The cursor format; change it when the state changes.
const FORMAT: &str = "box.walk.v1";
/// Folders nested deeper than this are taken for a cycle in what the server says.
const MAX_DEPTH: usize = 256;
/// The host refuses cursors over 1 MiB.
const MAX_CURSOR_BYTES: usize = 900 * 1024;

/// A folder being walked.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Frame {
    /// The folder's id.
    id: String,
    /// The folder names from the walk's root down to this folder (empty for the root).
    path: Vec<String>,
    /// The marker of its next page; `None` before the first page and after the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    marker: Option<String>,
    /// Whether its first page was read.
    started: bool,
    /// Subfolders seen on its pages and not walked yet: (id, name).
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pending: VecDeque<(String, String)>,
}

/// Where a walk stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Walk {
    recursive: bool,
    stack: Vec<Frame>,
}

/// How much one step of a walk may do.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Folder pages to read at most.
    pub requests: usize,
    /// Entries after which no further page is read.
    pub entries: usize,
    /// Time after which no further page is read.
    pub time: Duration,
    /// Items per folder page.
    pub page_size: u32,
}

/// What one step found.
#[derive(Debug, Default)]
pub struct Found {
    /// Files and folders.
    pub entries: Vec<Entry>,
    /// Items left out, with reasons.
    pub skipped: Vec<SkippedEntry>,
    /// The error that stopped the step after it had read something: what was read is kept
    /// (the walk stands before the failed request), so a flaky server never makes a long walk
    /// start its call over and over.
    pub interrupted: Option<ProviderError>,
}

impl Walk {
    /// A walk of the folder `id`, whose own path below the synced folder is `path`.
    pub fn new(id: &str, path: Vec<String>, recursive: bool) -> Self {
        Walk {
            recursive,
            stack: vec![Frame {
                id: id.to_string(),
                path,
                marker: None,
                started: false,
                pending: VecDeque::new(),
            }],
        }
    }

    /// Whether every folder was walked.
    pub fn done(&self) -> bool {
        self.stack.is_empty()
    }

    /// The walk as a cursor.
    pub fn encode(&self) -> Result<String, ProviderError> {
        let text = cursor::encode_state(FORMAT, self);
        if text.len() > MAX_CURSOR_BYTES {
            return Err(ProviderError::Permanent(format!(
                "the folder tree is too deep and wide to walk ({} levels waiting); sync a \
                 folder below it instead (the `folder_id` setting)",
                self.stack.len()
            )));
        }
        Ok(text)
    }

    /// A walk from a cursor made by [`Walk::encode`].
    pub fn decode(text: &str) -> Result<Self, ProviderError> {
        cursor::decode_state(FORMAT, text)
    }

    /// Walk on within `budget`. The walk's first folder answering 404 is `not_found` (the
    /// caller says what that means); a folder that disappears midway fails the step (it is
    /// tried again), because reading it as empty would delete what it holds. A request that
    /// fails after others succeeded ends the step with what they found (see
    /// [`Found::interrupted`]).
    pub fn step(&mut self, api: &mut Api, budget: Budget) -> Result<Found, ProviderError> {
        let started = Instant::now();
        let mut found = Found::default();
        let mut requests = 0;
        loop {
            let depth = self.stack.len();
            let Some(top) = self.stack.last_mut() else {
                break;
            };
            if let Some((id, name)) = top.pending.pop_front() {
                let mut path = top.path.clone();
                path.push(name);
                if path.len() > MAX_DEPTH {
                    found.skipped.push(SkippedEntry {
                        name: path.join("/"),
                        id,
                        reason: format!(
                            "the folder is nested more than {MAX_DEPTH} levels deep (or the \
                             server reports a cycle); what is inside is not listed"
                        ),
                    });
                    continue;
                }
                self.stack.push(Frame {
                    id,
                    path,
                    marker: None,
                    started: false,
                    pending: VecDeque::new(),
                });
                continue;
            }
            if top.started && top.marker.is_none() {
                self.stack.pop();
                continue;
            }
            if requests >= budget.requests
                || found.entries.len() >= budget.entries
                || (requests > 0 && started.elapsed() > budget.time)
            {
                break;
            }
            requests += 1;
            let what = format!("listing the folder `{}` ({})", shown(&top.path), top.id);
            let page = match api.items(&top.id, top.marker.as_deref(), budget.page_size, &what) {
                Err(e) if requests > 1 => {
                    found.interrupted = Some(e);
                    break;
                }
                Err(e) => return Err(e),
                Ok(Some(page)) => page,
                Ok(None) if depth == 1 && !top.started => {
                    return Err(ProviderError::NotFound(format!("{what}: HTTP 404")));
                }
                Ok(None) => {
                    return Err(ProviderError::Transient(format!(
                        "{what}: the folder disappeared during the listing (HTTP 404); the \
                         listing is tried again"
                    )));
                }
            };
            let next = page.next();
            if next.is_some() && next == top.marker {
                return Err(ProviderError::Permanent(format!(
                    "{what}: Box answered the same next marker twice; refusing to loop"
                )));
            }
            top.started = true;
            top.marker = next;
            for raw in page.entries {
                let item = match serde_json::from_value::<Item>(raw) {
                    Ok(item) if !item.id.is_empty() => item,
                    Ok(_) => {
                        found
                            .skipped
                            .push(unreadable(&top.path, "an item without an id"));
                        continue;
                    }
                    Err(e) => {
                        found
                            .skipped
                            .push(unreadable(&top.path, &format!("an unreadable item: {e}")));
                        continue;
                    }
                };
                match entries::describe(&item, &top.path) {
                    Described::Entry(e) => {
                        if e.kind == EntryKind::Folder && self.recursive {
                            top.pending.push_back((e.id.clone(), e.name.clone()));
                        }
                        found.entries.push(*e);
                    }
                    Described::Skipped(s) => found.skipped.push(s),
                }
            }
        }
        Ok(found)
    }
}

fn shown(path: &[String]) -> String {
    format!("/{}", path.join("/"))
}

fn unreadable(path: &[String], what: &str) -> SkippedEntry {
    SkippedEntry {
        id: format!("{}/?", shown(path)),
        name: shown(path),
        reason: format!("Box listed {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_round_trips_and_foreign_ones_expire() {
        let mut w = Walk::new("0", vec![], true);
        w.stack[0].started = true;
        w.stack[0].marker = Some("m1".into());
        w.stack[0].pending.push_back(("12".into(), "Work".into()));
        let c = w.encode().unwrap();
        let back = Walk::decode(&c).unwrap();
        assert_eq!(back.stack[0].pending[0].1, "Work");
        assert_eq!(back.stack[0].marker.as_deref(), Some("m1"));
        assert!(!back.done());
        assert!(matches!(
            Walk::decode("box.walk.v0:{}"),
            Err(ProviderError::CursorExpired(_))
        ));
    }
}
