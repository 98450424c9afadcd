//! The listing: a breadth-first walk of the tree, one `PROPFIND Depth: 1` per folder (`Depth:
//! infinity` is refused by many servers and unbounded in size). The queue of folders still to
//! visit travels in the cursor, with how many children of the first one were already handed
//! out, so a call stays short and a folder with more children than a page fits is split over
//! several pages.

use crate::api;
use crate::entries;
use crate::paths::{self, HrefError};
use crate::settings::Settings;
use p8sync_provider_sdk::cursor;
use p8sync_provider_sdk::types::{
    Entry, EntryKind, ListRequest, Page, ProviderError, SkippedEntry,
};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The cursor format's first field, so a cursor from another version is recognised.
const CURSOR_VERSION: &str = "webdav-1";
/// PROPFINDs per call at most, to stay well inside the host's deadline.
const MAX_REQUESTS: usize = 24;
/// Time per call after which no further PROPFIND is started.
const TIME_BUDGET: Duration = Duration::from_secs(15);
/// Entries per page at most (the host takes up to 10,000).
const MAX_PAGE: usize = 5_000;

/// A folder still to visit: its id, and how many of its children (in path order) were listed.
struct Pending {
    id: String,
    done: usize,
}

/// Where the walk stands.
struct Walk {
    recursive: bool,
    /// The listing root (entry paths are relative to it).
    root: String,
    queue: VecDeque<Pending>,
}

impl Walk {
    fn start(request: &ListRequest, settings: &Settings) -> Self {
        let root = request
            .folder_id
            .clone()
            .unwrap_or_else(|| settings.root.clone());
        Walk {
            recursive: request.recursive,
            queue: VecDeque::from([Pending {
                id: root.clone(),
                done: 0,
            }]),
            root,
        }
    }

    fn encode(&self) -> String {
        let mut fields = vec![
            CURSOR_VERSION.to_string(),
            if self.recursive { "r" } else { "1" }.to_string(),
            self.root.clone(),
        ];
        for p in &self.queue {
            fields.push(p.done.to_string());
            fields.push(p.id.clone());
        }
        cursor::encode(&fields)
    }

    fn decode(text: &str) -> Result<Self, ProviderError> {
        let expired = || {
            ProviderError::CursorExpired(
                "the listing cursor is not one this version of the provider made".into(),
            )
        };
        let fields = cursor::decode(text);
        let [version, mode, root, rest @ ..] = &fields[..] else {
            return Err(expired());
        };
        if version != CURSOR_VERSION || rest.len() % 2 != 0 {
            return Err(expired());
        }
        let queue = rest
            .chunks(2)
            .map(|pair| {
                Ok(Pending {
                    done: pair[0].parse().map_err(|_| expired())?,
                    id: pair[1].clone(),
                })
            })
            .collect::<Result<_, ProviderError>>()?;
        Ok(Walk {
            recursive: mode == "r",
            root: root.clone(),
            queue,
        })
    }
}

fn shown(id: &str) -> String {
    if id.is_empty() {
        "/".into()
    } else {
        format!("/{id}")
    }
}

/// One page of the listing.
pub fn list(request: &ListRequest, settings: &Settings) -> Result<Page, ProviderError> {
    let mut walk = match &request.cursor {
        Some(c) => Walk::decode(c)?,
        None => Walk::start(request, settings),
    };
    let capacity = (request.page_size_hint as usize).clamp(1, MAX_PAGE);
    let started = Instant::now();
    let mut entries: Vec<Entry> = Vec::new();
    let mut skipped = Vec::new();
    let mut requests = 0;
    while let Some(pending) = walk.queue.pop_front() {
        if requests >= MAX_REQUESTS
            || (requests > 0 && started.elapsed() > TIME_BUDGET)
            || entries.len() >= capacity
        {
            walk.queue.push_front(pending);
            break;
        }
        requests += 1;
        let is_root = pending.id == walk.root;
        let what = format!("listing the folder `{}`", shown(&pending.id));
        let resources = match api::propfind(&settings.folder_url(&pending.id), &what) {
            Ok(r) => r,
            Err(ProviderError::NotFound(m)) if is_root && request.cursor.is_none() => {
                return Err(ProviderError::InvalidConfig(format!(
                    "{m}; the folder `{}` does not exist on the server (check `root` and \
                     P8_WEBDAV_API_BASE)",
                    shown(&pending.id)
                )));
            }
            Err(e) => return Err(e),
        };
        let mut children = Vec::new();
        for resource in resources {
            let id = match paths::id_of_href(&resource.href, &settings.base) {
                Ok(id) => id,
                Err(e) => {
                    skipped.push(SkippedEntry {
                        id: resource.href.clone(),
                        name: resource.href.clone(),
                        reason: match e {
                            HrefError::NotUtf8 => "its path is not valid UTF-8".into(),
                            HrefError::OutsideBase => format!(
                                "the server listed it in `{}` but its path is outside the configured base",
                                shown(&pending.id)
                            ),
                        },
                    });
                    continue;
                }
            };
            if id == pending.id {
                if !resource.collection && is_root {
                    return Err(ProviderError::InvalidConfig(format!(
                        "`{}` is a file, not a folder; `root` must name a folder",
                        shown(&id)
                    )));
                }
                continue;
            }
            // Only direct children: a server answering as if `Depth: infinity` must not make
            // the walk visit folders twice.
            let parent = id.rsplit_once('/').map_or("", |(p, _)| p);
            if parent != pending.id {
                continue;
            }
            children.push((id, resource));
        }
        // Path order, so that `done` means the same children on the next call.
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let total = children.len();
        let room = capacity.saturating_sub(entries.len()).max(1);
        let take = room.min(total.saturating_sub(pending.done));
        for (id, resource) in children.into_iter().skip(pending.done).take(take) {
            let entry = entries::entry(&resource, &id, &walk.root);
            if entry.kind == EntryKind::Folder && walk.recursive {
                walk.queue.push_back(Pending {
                    id: id.clone(),
                    done: 0,
                });
            }
            entries.push(entry);
        }
        if pending.done + take < total {
            walk.queue.push_front(Pending {
                id: pending.id,
                done: pending.done + take,
            });
            break;
        }
    }
    let next_cursor = (!walk.queue.is_empty()).then(|| walk.encode());
    Ok(Page {
        entries,
        skipped,
        next_cursor,
    })
}
