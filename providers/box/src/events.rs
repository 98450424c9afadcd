//! The change feed: Box's events stream (`stream_type=changes`), one events page per call.
//!
//! Box's events can repeat and arrive out of order, so the cursor carries, besides the stream
//! position, the ids of recent events (a repeat is dropped) and the latest `sequence_id` seen
//! per recent item (an older state of an item arriving late is dropped). A folder's move,
//! rename, copy or restore is one event for the folder alone: its tree is walked to report
//! what is inside with its new paths. A folder moved to the trash takes its files with it
//! without naming them, so that one ends the feed (`cursor-expired`): the host lists the
//! account again and compares.

use crate::api::{self, Api};
use crate::entries::{self, Described};
use crate::model::{self, Event, Item};
use crate::settings::{MAX_EVENTS, MAX_PAGE_SIZE, Settings, valid_id};
use crate::walk::{Budget, Walk};
use p8sync_provider_sdk::cursor;
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::{ChangePage, Entry, ProviderError, SkippedEntry};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

/// The cursor format; change it when the state changes.
const FORMAT: &str = "box.changes.v1";
/// Recent event ids kept to drop repeats.
const MAX_SEEN_EVENTS: usize = 1_000;
/// Recent items whose latest sequence id is kept to drop late arrivals.
const MAX_SEQUENCES: usize = 1_000;
/// Item lookups one call may make for events whose source lacks its path.
const MAX_LOOKUPS: usize = 100;
/// Folder pages one call may read to report what is inside moved or copied folders.
const MAX_WALK_REQUESTS: usize = 30;

/// Event types that leave an item in place with new content, name or place.
const CHANGES: &[&str] = &[
    "ITEM_CREATE",
    "ITEM_UPLOAD",
    "ITEM_MODIFY",
    "ITEM_RENAME",
    "ITEM_MOVE",
    "ITEM_COPY",
    "ITEM_UNDELETE_VIA_TRASH",
];
/// Event types after which a folder's contents have new paths or are new to the sync.
const FOLDER_TREE_CHANGES: &[&str] = &[
    "ITEM_RENAME",
    "ITEM_MOVE",
    "ITEM_COPY",
    "ITEM_UNDELETE_VIA_TRASH",
];

/// The change cursor's state.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Feed {
    /// The stream position to read from (digits).
    p: String,
    /// Recent event ids, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    e: VecDeque<String>,
    /// Recent items' latest sequence ids, oldest first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    s: VecDeque<(String, u64)>,
}

impl Feed {
    fn encode(&self) -> String {
        cursor::encode_state(FORMAT, self)
    }

    fn remember_event(&mut self, id: String) {
        self.e.push_back(id);
        while self.e.len() > MAX_SEEN_EVENTS {
            self.e.pop_front();
        }
    }

    fn remember_sequence(&mut self, id: &str, sequence: u64) {
        self.s.retain(|(i, _)| i != id);
        self.s.push_back((id.to_string(), sequence));
        while self.s.len() > MAX_SEQUENCES {
            self.s.pop_front();
        }
    }
}

/// What became of one id in a page; a later state of the id replaces an earlier one.
#[derive(Debug)]
enum Outcome {
    Changed(Box<Entry>),
    Removed,
    Skipped(SkippedEntry),
}

/// Outcomes in the order their ids first appeared.
#[derive(Default)]
struct Outcomes {
    order: Vec<String>,
    by_id: HashMap<String, Outcome>,
}

impl Outcomes {
    fn record(&mut self, id: &str, outcome: Outcome) {
        if self.by_id.insert(id.to_string(), outcome).is_none() {
            self.order.push(id.to_string());
        }
    }
}

/// The cursor for "now": the current end of the stream.
pub fn start_cursor(settings: &Settings) -> Result<String, ProviderError> {
    let mut api = Api::new(settings);
    let page = api.events("now", 1)?;
    let p = page
        .next_stream_position
        .as_ref()
        .and_then(model::position)
        .ok_or_else(no_position)?;
    api::log_requests(&api, "start_cursor");
    Ok(Feed {
        p,
        ..Feed::default()
    }
    .encode())
}

fn no_position() -> ProviderError {
    ProviderError::Permanent(
        "reading the events stream: Box's answer has no usable next_stream_position".into(),
    )
}

/// One page of changes from a saved position.
pub fn changes(text: &str, settings: &Settings) -> Result<ChangePage, ProviderError> {
    let mut feed: Feed = cursor::decode_state(FORMAT, text)?;
    let mut api = Api::new(settings);
    let page = api.events(&feed.p, MAX_EVENTS)?;
    let next = page
        .next_stream_position
        .as_ref()
        .and_then(model::position)
        .ok_or_else(no_position)?;
    let count = page.entries.len();
    let mut seen: HashSet<String> = feed.e.iter().cloned().collect();
    let mut sequences: HashMap<String, u64> = feed.s.iter().cloned().collect();
    let mut out = Outcomes::default();
    let mut walks: Vec<(String, Vec<String>)> = Vec::new();
    let mut lookups = 0;
    // Box sends at most `limit` events; a server that sends more gets that many read.
    for raw in page.entries.into_iter().take(MAX_EVENTS as usize) {
        let event = match serde_json::from_value::<Event>(raw) {
            Ok(e) => e,
            Err(e) => {
                log::warn(format!("ignoring an unreadable event: {e}"));
                continue;
            }
        };
        if let Some(id) = &event.event_id {
            if !seen.insert(id.clone()) {
                log::debug(format!("dropping the repeated event `{id:.60}`"));
                continue;
            }
            feed.remember_event(id.clone());
        }
        let removal = event.event_type == "ITEM_TRASH";
        if !removal && !CHANGES.contains(&event.event_type.as_str()) {
            continue;
        }
        let Some(mut item) = event
            .source
            .and_then(|s| serde_json::from_value::<Item>(s).ok())
            .filter(|i| matches!(i.kind.as_str(), "file" | "folder" | "web_link"))
            .filter(|i| valid_id(&i.id))
        else {
            continue;
        };
        if let Some(sequence) = item.sequence() {
            if sequences
                .get(&item.id)
                .is_some_and(|&known| sequence < known)
            {
                log::debug(format!("dropping a late event for `{}`", item.id));
                continue;
            }
            sequences.insert(item.id.clone(), sequence);
            feed.remember_sequence(&item.id, sequence);
        }
        let folder = item.kind == "folder";
        if removal || item.is_gone() {
            if folder {
                return Err(folder_gone(&item));
            }
            out.record(&item.id, Outcome::Removed);
            continue;
        }
        if item.path_collection.is_none() {
            // A source without its path: ask Box where the item is now.
            if lookups >= MAX_LOOKUPS {
                return Err(ProviderError::CursorExpired(format!(
                    "more than {MAX_LOOKUPS} changed items came without their folders; \
                     listing the account again"
                )));
            }
            lookups += 1;
            match api.item(&item.kind, &item.id)? {
                Some(current) if !current.is_gone() => item = current,
                _ if folder => return Err(folder_gone(&item)),
                _ => {
                    out.record(&item.id, Outcome::Removed);
                    continue;
                }
            }
        }
        let Some(path) = entries::path_below(&item, &settings.root) else {
            // Not below the synced folder (any more).
            if folder && event.event_type == "ITEM_MOVE" {
                return Err(ProviderError::CursorExpired(format!(
                    "the folder `{}` was moved, perhaps out of the synced folder, and Box does \
                     not name the files it took along; listing the account again",
                    item.display_name()
                )));
            }
            if !folder {
                out.record(&item.id, Outcome::Removed);
            }
            continue;
        };
        match entries::describe(&item, &path) {
            Described::Entry(e) => {
                if folder && FOLDER_TREE_CHANGES.contains(&event.event_type.as_str()) {
                    let mut inside = path.clone();
                    inside.push(e.name.clone());
                    walks.retain(|(id, _)| id != &e.id);
                    walks.push((e.id.clone(), inside));
                }
                out.record(&item.id, Outcome::Changed(e));
            }
            Described::Skipped(s) => out.record(&item.id, Outcome::Skipped(s)),
        }
    }
    walk_folders(&mut api, walks, &mut out)?;
    let has_more = count > 0 && next != feed.p;
    feed.p = next;
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    let mut skipped = Vec::new();
    for id in out.order {
        match out.by_id.remove(&id) {
            Some(Outcome::Changed(e)) => changed.push(*e),
            Some(Outcome::Removed) => removed.push(id),
            Some(Outcome::Skipped(s)) => skipped.push(s),
            None => {}
        }
    }
    api::log_requests(&api, "changes");
    Ok(ChangePage {
        changed,
        removed,
        skipped,
        next_cursor: feed.encode(),
        has_more,
    })
}

fn folder_gone(item: &Item) -> ProviderError {
    ProviderError::CursorExpired(format!(
        "the folder `{}` went to the trash, and Box does not name the files that went with it; \
         listing the account again",
        item.display_name()
    ))
}

/// Report everything inside folders that moved, were renamed, copied or restored, as it is
/// now. A tree too big to walk within the call ends the feed instead: the host lists again.
fn walk_folders(
    api: &mut Api,
    walks: Vec<(String, Vec<String>)>,
    out: &mut Outcomes,
) -> Result<(), ProviderError> {
    let mut requests = 0;
    for (id, path) in walks {
        let mut walk = Walk::new(&id, path, true);
        while !walk.done() {
            if requests >= MAX_WALK_REQUESTS {
                return Err(ProviderError::CursorExpired(format!(
                    "a moved or copied folder (`{id}`) holds more than can be read now; listing \
                     the account again"
                )));
            }
            let budget = Budget {
                requests: MAX_WALK_REQUESTS - requests,
                entries: usize::MAX,
                time: Duration::from_secs(20),
                page_size: MAX_PAGE_SIZE,
            };
            let before = api.requests;
            let found = match walk.step(api, budget) {
                // Gone since the event: its trash event follows.
                Err(ProviderError::NotFound(_)) => break,
                other => other?,
            };
            requests += api.requests - before;
            if let Some(e) = found.interrupted {
                // The host calls again from the same position.
                return Err(e);
            }
            for e in found.entries {
                let id = e.id.clone();
                out.record(&id, Outcome::Changed(Box::new(e)));
            }
            for s in found.skipped {
                let id = s.id.clone();
                out.record(&id, Outcome::Skipped(s));
            }
            if api.requests == before {
                // Nothing read and not done: the time budget ran out.
                return Err(ProviderError::CursorExpired(format!(
                    "a moved or copied folder (`{id}`) took too long to read; listing the \
                     account again"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_remembers_a_bounded_number_of_events_and_items() {
        let mut f = Feed {
            p: "1152922976252290886".into(),
            ..Feed::default()
        };
        for i in 0..(MAX_SEEN_EVENTS + 10) {
            f.remember_event(i.to_string());
        }
        assert_eq!(f.e.len(), MAX_SEEN_EVENTS);
        assert_eq!(f.e.front().map(String::as_str), Some("10"));
        f.remember_sequence("7", 1);
        f.remember_sequence("7", 3);
        assert_eq!(f.s.iter().filter(|(i, _)| i == "7").count(), 1);
        let back: Feed = cursor::decode_state(FORMAT, &f.encode()).unwrap();
        assert_eq!(back.p, "1152922976252290886");
        assert_eq!(back.s.back(), Some(&("7".to_string(), 3)));
    }
}
