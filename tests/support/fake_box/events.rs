//! `GET /2.0/events`: pages of the event log after a stream position. Positions are integers
//! beyond a double's precision (a JSON number by default, a string when the test asks), and
//! the test can make pages repeat an event or arrive out of order, as Box documents they may.

use super::routes::{Params, Reply, bad_request, json_reply};
use super::state::State;
use serde_json::{Value, json};

pub(crate) fn page(s: &State, p: &Params) -> Reply {
    if !matches!(
        p.get("stream_type"),
        None | Some("all" | "changes" | "sync")
    ) {
        return bad_request("Invalid value for query parameter 'stream_type'");
    }
    // Box calls it `limit`; older clients send `chunk_size`.
    let limit = match p
        .get("limit")
        .or(p.get("chunk_size"))
        .map(str::parse::<usize>)
    {
        None => 100,
        Some(Ok(n)) => n.clamp(1, 500.min(s.max_events.max(1))),
        Some(Err(_)) => return bad_request("Invalid value for query parameter 'limit'"),
    };
    // No position (or 0) means the whole log, as at Box.
    let after = match p.get("stream_position").map(str::trim) {
        Some("now") => return reply(s, Vec::new(), s.position),
        None => 0,
        Some(t) => match t.parse::<u64>() {
            Ok(n) => n,
            Err(_) => {
                return bad_request(&format!(
                    "Invalid value '{t}' for query parameter 'stream_position'"
                ));
            }
        },
    };
    let start = s.events.partition_point(|e| e.position <= after);
    let new = &s.events[start..start.saturating_add(limit).min(s.events.len())];
    let next = new.last().map_or(s.position, |e| e.position);
    let mut entries: Vec<Value> = Vec::new();
    if s.repeat_events && !new.is_empty() && start > 0 {
        // The previous page's last event again, same event_id: clients must dedupe.
        entries.push(s.events[start - 1].json.clone());
    }
    entries.extend(new.iter().map(|e| e.json.clone()));
    if s.shuffle_events {
        entries.reverse();
    }
    reply(s, entries, next)
}

fn reply(s: &State, entries: Vec<Value>, next: u64) -> Reply {
    let next = if s.positions_as_strings {
        json!(next.to_string())
    } else {
        json!(next)
    };
    json_reply(
        200,
        &json!({"chunk_size": entries.len(), "next_stream_position": next, "entries": entries}),
    )
}
