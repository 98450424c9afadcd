//! Graph's routes (delta, item metadata, `/content`), the download server ("CDN") the content
//! redirects to, replies and injected faults.

use super::state::{DRIVE_ID, State};
use super::{Fault, Target, oauth};
use axum::Router;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) type Shared = Arc<Mutex<State>>;

/// A panic in a test's population call must not wedge the server for the rest of the test.
pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) use crate::fake_common::params::Params;

pub(crate) use crate::fake_common::reply::Reply;

/// A JSON reply as Graph sends it.
pub(crate) fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::bytes(
        status,
        "application/json; charset=utf-8",
        serde_json::to_vec(v).expect("json"),
    )
}

/// File content.
fn octets(status: u16, body: Vec<u8>) -> Reply {
    Reply::bytes(status, "application/octet-stream", body)
}

/// Graph's error envelope.
pub(crate) fn graph_error(status: u16, code: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": "7d4c9b1e-0000-4000-8000-000000000001",
                "client-request-id": "7d4c9b1e-0000-4000-8000-000000000001"
            }
        }}),
    )
}

fn not_found() -> Reply {
    graph_error(404, "itemNotFound", "The resource could not be found.")
}

/// What a request was, for counting and fault targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Delta,
    Item,
    Content,
}

impl Kind {
    fn target(self) -> Target {
        match self {
            Kind::Delta => Target::Delta,
            Kind::Item => Target::Item,
            Kind::Content => Target::Content,
        }
    }
}

fn hit_by(target: Target, wanted: Target) -> bool {
    target == wanted
        || (target == Target::AnyApi
            && matches!(wanted, Target::Delta | Target::Item | Target::Content))
}

/// The fault the rules give this request, if one fires (counted against every matching rule;
/// the first rule added wins).
fn pick(s: &mut State, wanted: Target) -> Option<Fault> {
    s.rules.pick(|t| hit_by(t, wanted))
}

fn error_reply(f: &Fault) -> Option<Reply> {
    let with_retry = |r: Reply, after: &Option<u32>| match after {
        Some(s) => r.header("retry-after", s.to_string()),
        None => r,
    };
    Some(match f {
        Fault::RateLimit429 { retry_after } => with_retry(
            graph_error(
                429,
                "activityLimitReached",
                "The request has been throttled",
            ),
            retry_after,
        ),
        Fault::Unavailable503 { retry_after } => with_retry(
            graph_error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable.",
            ),
            retry_after,
        ),
        Fault::Status500 => graph_error(
            500,
            "generalException",
            "An unspecified error has occurred.",
        ),
        Fault::CorruptBody => return None,
    })
}

/// An error reply for `target` when a rule fires (used by the token endpoint too).
pub(crate) fn fault_for(s: &mut State, target: Target) -> Option<Reply> {
    pick(s, target).as_ref().and_then(error_reply)
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/common/oauth2/v2.0/authorize", get(oauth::authorize))
        .route("/common/oauth2/v2.0/token", post(oauth::token))
        .fallback(graph)
        .with_state(shared)
}

pub(crate) fn cdn_router(shared: Shared) -> Router {
    Router::new()
        .route("/download/{ticket}", get(cdn))
        .with_state(shared)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Every Graph request: `/v1.0/me/drive/...` or `/v1.0/drives/{id}/...`.
async fn graph(Axum(shared): Axum<Shared>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().to_string();
    let params = Params::parse(uri.query());
    let reply = {
        let mut s = lock(&shared);
        route(&mut s, &path, &params, &headers)
    };
    reply.into_response()
}

fn route(s: &mut State, path: &str, params: &Params, headers: &HeaderMap) -> Reply {
    let Some(rest) = path.strip_prefix("/v1.0") else {
        return graph_error(400, "BadRequest", "Invalid version.");
    };
    let (drive_path, rest) = if let Some(r) = rest.strip_prefix("/me/drive") {
        ("/me/drive".to_string(), r)
    } else if let Some(r) = rest.strip_prefix("/drives/") {
        let (id, r) = r.split_once('/').unwrap_or((r, ""));
        if !id.eq_ignore_ascii_case(DRIVE_ID) {
            return graph_error(404, "itemNotFound", "The drive could not be found.");
        }
        (format!("/drives/{id}"), r)
    } else {
        return graph_error(400, "BadRequest", "Resource not found for the segment.");
    };
    let rest = rest.to_string();
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let kind = match segments.as_slice() {
        ["root", "delta"] => Kind::Delta,
        ["items", _] => Kind::Item,
        ["items", _, "content"] => Kind::Content,
        _ => return graph_error(400, "BadRequest", "Resource not found for the segment."),
    };
    s.counts.total_api += 1;
    match kind {
        Kind::Delta => s.counts.delta += 1,
        Kind::Item => s.counts.item += 1,
        Kind::Content => s.counts.content += 1,
    }
    if !bearer(headers).is_some_and(|t| s.access_ok(t)) {
        return graph_error(
            401,
            "InvalidAuthenticationToken",
            "Access token has expired or is not yet valid.",
        )
        .header("www-authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"");
    }
    if let Some(r) = fault_for(s, kind.target()) {
        return r;
    }
    match kind {
        Kind::Delta => delta(s, &drive_path, params),
        Kind::Item => item(s, &percent_decode(segments[1])),
        Kind::Content => content(s, &percent_decode(segments[1])),
    }
}

fn item(s: &State, id: &str) -> Reply {
    match s.items.get(id) {
        Some(r) if !r.deleted => json_reply(200, &s.item_json(id, true)),
        _ => not_found(),
    }
}

fn content(s: &mut State, id: &str) -> Reply {
    match s.items.get(id) {
        Some(r) if !r.deleted && !r.folder => {}
        Some(r) if !r.deleted => {
            return graph_error(400, "notSupported", "Cannot download a folder.");
        }
        _ => return not_found(),
    }
    let ticket = format!("t{}x{}", s.tickets.len() + 1, s.seq);
    s.tickets.insert(ticket.clone(), id.to_string());
    let location = format!(
        "{}/download/{ticket}?tempauth=fake-pre-authenticated-{}",
        s.cdn_origin,
        s.tickets.len()
    );
    octets(302, Vec::new()).header("location", location)
}

fn delta(s: &mut State, drive_path: &str, params: &Params) -> Reply {
    let top = params
        .get("$top")
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(s.max_page)
        .clamp(1, s.max_page);
    let token = params.get("token");
    if token == Some("latest") {
        let link = s.delta_url(drive_path, &State::token('D', s.seq));
        return json_reply(200, &json!({"value": [], "@odata.deltaLink": link}));
    }
    let (kind, n) = match token.map(State::parse_token) {
        None => ('F', 0),
        Some(Some(t)) => t,
        Some(None) => return resync(),
    };
    let (value, next): (Vec<Value>, Option<String>) = match kind {
        // A full round: every live item in the order of its last change. An item changed
        // while the round runs moves to its end, so it can come twice (the last one wins).
        'F' => {
            let mut live: Vec<(u64, String)> = s
                .items
                .values()
                .filter(|r| !r.deleted && r.seq >= n)
                .map(|r| (r.seq, r.id.clone()))
                .collect();
            // Named again after everything else, as if changed while the round ran.
            for (k, id) in s.repeat_in_round.iter().enumerate() {
                let at = s.seq + 1 + k as u64;
                if at >= n && s.items.get(id).is_some_and(|r| !r.deleted) {
                    live.push((at, id.clone()));
                }
            }
            live.sort();
            let more = live.len() > top;
            live.truncate(top);
            let next = more.then(|| State::token('F', live.last().expect("a page").0 + 1));
            let value = live
                .iter()
                .map(|(_, id)| s.item_json(id, s.paths_in_delta))
                .collect();
            (value, next)
        }
        // A change round: every change after the token, as it was when it happened.
        'D' | 'C' => {
            if n < s.oldest_valid {
                return resync();
            }
            let changes: Vec<&(u64, String, Value)> =
                s.log.iter().filter(|(seq, _, _)| *seq > n).collect();
            let more = changes.len() > top;
            let page: Vec<&(u64, String, Value)> = changes.into_iter().take(top).collect();
            let next = more.then(|| State::token('C', page.last().expect("a page").0));
            (page.iter().map(|(_, _, v)| v.clone()).collect(), next)
        }
        _ => return resync(),
    };
    let mut body = json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(driveItem)",
        "value": value,
    });
    match next {
        Some(t) => body["@odata.nextLink"] = json!(s.delta_url(drive_path, &t)),
        None => {
            body["@odata.deltaLink"] = json!(s.delta_url(drive_path, &State::token('D', s.seq)))
        }
    }
    json_reply(200, &body)
}

fn resync() -> Reply {
    graph_error(
        410,
        "resyncRequired",
        "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
    )
}

/// The download server: pre-authenticated URLs, no credentials expected, Range honoured.
async fn cdn(
    Axum(shared): Axum<Shared>,
    axum::extract::Path(ticket): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let reply = {
        let mut s = lock(&shared);
        s.counts.cdn += 1;
        cdn_reply(&mut s, &ticket, &headers)
    };
    reply.into_response()
}

fn cdn_reply(s: &mut State, ticket: &str, headers: &HeaderMap) -> Reply {
    if headers.contains_key("authorization") {
        // The real server refuses it too (401); the test fails on the count.
        s.cdn_authorization_seen += 1;
        return octets(
            401,
            b"Authorization is not accepted on pre-authenticated URLs".to_vec(),
        );
    }
    let fault = pick(s, Target::Cdn);
    if let Some(r) = fault.as_ref().and_then(error_reply) {
        return r;
    }
    let Some(id) = s.tickets.get(ticket).cloned() else {
        return octets(
            401,
            b"The pre-authenticated URL is invalid or expired".to_vec(),
        );
    };
    let mut data = match s.items.get(&id) {
        Some(r) if !r.deleted => r.content.clone(),
        _ => return octets(404, b"Not found".to_vec()),
    };
    if fault == Some(Fault::CorruptBody) || s.corrupt.contains(&id) {
        match data.first_mut() {
            Some(b) => *b ^= 0x5a,
            None => data.push(0x5a),
        }
    }
    let len = data.len() as u64;
    let Some(range) = headers.get("range").and_then(|v| v.to_str().ok()) else {
        return octets(200, data).header("accept-ranges", "bytes");
    };
    match parse_range(range, len) {
        Some((a, b)) => octets(206, data[a as usize..=b as usize].to_vec())
            .header("content-range", format!("bytes {a}-{b}/{len}"))
            .header("accept-ranges", "bytes"),
        None => octets(416, Vec::new()).header("content-range", format!("bytes */{len}")),
    }
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` against a body of `len` bytes, inclusive.
fn parse_range(header: &str, len: u64) -> Option<(u64, u64)> {
    let spec = header.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (a, b) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            (len.checked_sub(n.min(len))?, len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<u64>().ok()?.min(len.checked_sub(1)?),
        ),
    };
    (a <= b && b < len).then_some((a, b))
}
