//! The delta query: the full listing (a delta round without a token) and the change feed (a
//! round from a saved delta link), one Graph page per call.
//!
//! Listing cursor (JSON, version 1): `v` version, `n` the `@odata.nextLink` to read next, `t`
//! the folders seen so far (see `tree`), so that pages whose items come without
//! `parentReference.path` still get their paths without a request per folder. The change
//! cursor is Graph's own `@odata.nextLink` or `@odata.deltaLink`, as given.

use crate::api::{self, Api};
use crate::entries::{self, Described};
use crate::model::{DeltaPage, Item};
use crate::settings::{MAX_PAGE_SIZE, Settings};
use crate::tree::Tree;
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::{
    ChangePage, Entry, ListRequest, Page, ProviderError, SkippedEntry,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

const VERSION: u32 = 1;
/// The host refuses cursors over 1 MiB; past this the folder map is dropped (lookups refill it).
const MAX_CURSOR_BYTES: usize = 900 * 1024;

#[derive(Debug, Serialize, Deserialize)]
struct ListState {
    v: u32,
    n: String,
    #[serde(default)]
    t: Tree,
}

/// What became of one id in a page; a later appearance of the id replaces an earlier one.
#[derive(Debug)]
enum Outcome {
    Changed(Box<Entry>),
    Removed { folder: bool },
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

    fn into_iter(mut self) -> impl Iterator<Item = (String, Outcome)> {
        self.order.into_iter().filter_map(move |id| {
            let o = self.by_id.remove(&id)?;
            Some((id, o))
        })
    }
}

/// One page of the full listing.
pub fn list(request: &ListRequest, settings: &Settings) -> Result<Page, ProviderError> {
    if request.folder_id.is_some() {
        return Err(ProviderError::Permanent(
            "the onedrive provider lists the whole drive (Graph's delta query); use the sync \
             config's include_folders to keep only some folders"
                .into(),
        ));
    }
    let mut api = Api::new(settings);
    let (url, mut tree) = match request.cursor.as_deref() {
        None => {
            let top = settings
                .page_size
                .unwrap_or(request.page_size_hint)
                .clamp(1, MAX_PAGE_SIZE);
            (api.delta_start_url(Some(top)), Tree::default())
        }
        Some(c) => match serde_json::from_str::<ListState>(c) {
            Ok(s) if s.v == VERSION => (s.n, s.t),
            _ => {
                return Err(ProviderError::CursorExpired(
                    "the listing cursor was made by another version of the onedrive provider; \
                     listing again from the start"
                        .into(),
                ));
            }
        },
    };
    let page = api.delta(&url, "delta (listing)")?;
    let (next, delta) = (page.next_link.clone(), page.delta_link.clone());
    let outcomes = apply(&mut api, &mut tree, page)?;
    let mut out = Page {
        entries: Vec::new(),
        skipped: Vec::new(),
        next_cursor: None,
    };
    for (_, outcome) in outcomes.into_iter() {
        match outcome {
            Outcome::Changed(e) if request.recursive || e.path.is_empty() => out.entries.push(*e),
            Outcome::Skipped(s) => out.skipped.push(s),
            // Deleted items in a full round were deleted while it ran: the change feed, read
            // from a cursor taken before the listing, reports them.
            _ => {}
        }
    }
    out.next_cursor = match (next, delta) {
        (Some(n), _) if !n.is_empty() => Some(list_cursor(n, tree)?),
        (_, Some(d)) if !d.is_empty() => None,
        _ => {
            return Err(ProviderError::Permanent(
                "delta (listing): Graph's page has neither @odata.nextLink nor @odata.deltaLink"
                    .into(),
            ));
        }
    };
    api::log_requests(&api, "list");
    Ok(out)
}

fn list_cursor(next: String, mut tree: Tree) -> Result<String, ProviderError> {
    let encode = |state: &ListState| {
        serde_json::to_string(state)
            .map_err(|e| ProviderError::Permanent(format!("cannot write the listing cursor: {e}")))
    };
    let mut state = ListState {
        v: VERSION,
        n: next,
        t: tree.clone(),
    };
    let mut text = encode(&state)?;
    if text.len() > MAX_CURSOR_BYTES {
        log::info(format!(
            "forgetting {} folders to keep the listing cursor small; their paths are looked up \
             again when needed",
            tree.len()
        ));
        tree.shrink();
        state.t = tree;
        text = encode(&state)?;
    }
    Ok(text)
}

/// The delta link for "now".
pub fn start_cursor(settings: &Settings) -> Result<String, ProviderError> {
    let mut api = Api::new(settings);
    let link = api.latest_delta_link()?;
    api::log_requests(&api, "start_cursor");
    Ok(link)
}

/// One page of changes from a saved delta link (or the next link of a round in progress).
pub fn changes(cursor: &str, settings: &Settings) -> Result<ChangePage, ProviderError> {
    let mut api = Api::new(settings);
    if !api.on_api_origin(cursor) {
        return Err(ProviderError::CursorExpired(
            "the saved change cursor is not a delta link on the configured Graph server (the \
             API base changed); listing the drive again"
                .into(),
        ));
    }
    let page = api.delta(cursor, "delta (changes)")?;
    let (next, delta) = (page.next_link.clone(), page.delta_link.clone());
    let mut tree = Tree::default();
    let outcomes = apply(&mut api, &mut tree, page)?;
    let (next_cursor, has_more) = match (next, delta) {
        (Some(n), _) if !n.is_empty() => (n, true),
        (_, Some(d)) if !d.is_empty() => (d, false),
        _ => {
            return Err(ProviderError::Permanent(
                "delta (changes): Graph's page has neither @odata.nextLink nor @odata.deltaLink"
                    .into(),
            ));
        }
    };
    if !api.on_api_origin(&next_cursor) {
        return Err(ProviderError::Permanent(
            "delta (changes): Graph sent a paging link to another server than the API base; \
             refusing to follow it"
                .into(),
        ));
    }
    let mut out = ChangePage {
        changed: Vec::new(),
        removed: Vec::new(),
        skipped: Vec::new(),
        next_cursor,
        has_more,
    };
    for (id, outcome) in outcomes.into_iter() {
        match outcome {
            Outcome::Changed(e) => out.changed.push(*e),
            Outcome::Removed { folder: true } => {
                // Personal drives report only the folder, not what was in it: only a full
                // listing tells which files went with it.
                return Err(ProviderError::CursorExpired(format!(
                    "the folder `{id}` was deleted and the change feed does not name the files \
                     it held; listing the drive again"
                )));
            }
            Outcome::Removed { folder: false } => out.removed.push(id),
            Outcome::Skipped(s) => out.skipped.push(s),
        }
    }
    api::log_requests(&api, "changes");
    Ok(out)
}

/// Turn a page's items into outcomes: folders first (so children placed before their parents
/// in the page still find them), then every item in order, the last appearance winning.
fn apply(api: &mut Api, tree: &mut Tree, page: DeltaPage) -> Result<Outcomes, ProviderError> {
    let mut items = Vec::with_capacity(page.value.len());
    for raw in page.value {
        match serde_json::from_value::<Item>(raw) {
            Ok(item) if !item.id.is_empty() => items.push(item),
            Ok(_) => log::warn("ignoring a delta item without an id"),
            Err(e) => log::warn(format!("ignoring an unreadable delta item: {e}")),
        }
    }
    for item in &items {
        if item.deleted.is_some() {
            tree.forget(&item.id);
        } else {
            tree.learn(item);
        }
    }
    let mut out = Outcomes::default();
    for item in items {
        if item.deleted.is_some() {
            out.record(
                &item.id,
                Outcome::Removed {
                    folder: item.folder.is_some(),
                },
            );
            continue;
        }
        if item.root.is_some() || tree.is_root(&item.id) {
            continue;
        }
        let outcome = match tree.parent_path(api, &item)? {
            Some(path) => match entries::describe(&item, &path) {
                Described::Entry(e) => Outcome::Changed(e),
                Described::Skipped(s) => {
                    log::info(format!("skipping `{}`: {}", s.name, s.reason));
                    Outcome::Skipped(s)
                }
            },
            None => Outcome::Skipped(entries::skipped(
                &item,
                &[],
                "its folder could not be found (it was probably deleted meanwhile; the next \
                 sync catches up)",
            )),
        };
        out.record(&item.id, outcome);
    }
    Ok(out)
}
