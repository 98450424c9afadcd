//! Box API 2.0 routes (folder listings, item GETs, `/content`, events, `users/me`), the
//! download server ("dl.boxcloud.com") that `/content` redirects to, replies and faults.

use super::state::{Kind, State, select};
use super::{Fault, Target, events, oauth};
use axum::Router;
use axum::extract::State as Axum;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use crate::fake_common::params::Params;
pub(crate) use crate::fake_common::reply::Reply;

pub(crate) type Shared = Arc<Mutex<State>>;

/// A panic in a test's population call must not wedge the server for the rest of the test.
pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// A JSON reply as Box sends it.
pub(crate) fn json_reply(status: u16, v: &Value) -> Reply {
    Reply::bytes(
        status,
        "application/json",
        serde_json::to_vec(v).expect("json"),
    )
}

/// Box's error object.
pub(crate) fn box_error(status: u16, code: &str, message: &str) -> Reply {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    json_reply(
        status,
        &json!({
            "type": "error",
            "status": status,
            "code": code,
            "message": message,
            "help_url": "http://developers.box.com/docs/#errors",
            "request_id": &request_id[..15],
        }),
    )
}

pub(crate) fn bad_request(message: &str) -> Reply {
    box_error(400, "bad_request", message)
}

fn not_found() -> Reply {
    box_error(404, "not_found", "Not Found")
}

fn with_retry(r: Reply, after: Option<u32>) -> Reply {
    match after {
        Some(s) => r.header("retry-after", s.to_string()),
        None => r,
    }
}

fn error_reply(f: &Fault) -> Option<Reply> {
    Some(match f {
        Fault::RateLimit429 { retry_after } => with_retry(
            box_error(
                429,
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
            ),
            *retry_after,
        ),
        Fault::Unavailable503 { retry_after } => with_retry(
            box_error(503, "unavailable", "Service Unavailable"),
            *retry_after,
        ),
        Fault::Status500 => box_error(500, "internal_server_error", "Internal Server Error"),
        Fault::CorruptBody => return None,
    })
}

fn pick(s: &mut State, wanted: Target) -> Option<Fault> {
    let api = matches!(
        wanted,
        Target::Items | Target::Item | Target::Content | Target::Events
    );
    s.rules
        .pick(|t| t == wanted || (t == Target::AnyApi && api))
}

/// An error reply for `target` when a rule fires (the token endpoint uses it too).
pub(crate) fn fault_for(s: &mut State, target: Target) -> Option<Reply> {
    pick(s, target).as_ref().and_then(error_reply)
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/api/oauth2/authorize", get(oauth::authorize))
        .route("/oauth2/token", post(oauth::token))
        .route("/oauth2/revoke", post(oauth::revoke))
        .fallback(api)
        .with_state(shared)
}

pub(crate) fn cdn_router(shared: Shared) -> Router {
    Router::new()
        .route("/d/{id}/{version}", get(cdn))
        .with_state(shared)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Every `/2.0` request.
async fn api(Axum(shared): Axum<Shared>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let params = Params::parse(uri.query());
    let mut s = lock(&shared);
    route(&mut s, &method, uri.path(), &params, &headers).into_response()
}

fn route(s: &mut State, method: &Method, path: &str, p: &Params, headers: &HeaderMap) -> Reply {
    let Some(rest) = path.strip_prefix("/2.0/") else {
        return not_found();
    };
    s.counts.total_api += 1;
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let target = match segments.as_slice() {
        ["folders", _, "items"] => Target::Items,
        ["folders", _] | ["files", _] | ["users", "me"] => Target::Item,
        ["files", _, "content"] => Target::Content,
        ["events"] => Target::Events,
        _ => return not_found(),
    };
    match target {
        Target::Items => s.counts.items += 1,
        Target::Item => s.counts.item += 1,
        Target::Content => s.counts.content += 1,
        _ => s.counts.events += 1,
    }
    if !bearer(headers).is_some_and(|t| s.access_ok(t)) {
        // Box answers an unknown or expired token with an empty 401.
        return Reply {
            status: 401,
            headers: vec![(
                "www-authenticate",
                "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"".into(),
            )],
            body: Vec::new().into(),
        };
    }
    if method != Method::GET {
        return box_error(405, "method_not_allowed", "Method Not Allowed");
    }
    if let Some(r) = fault_for(s, target) {
        return r;
    }
    let fields: Option<Vec<String>> = p.get("fields").map(|f| {
        f.split(',')
            .map(|x| x.trim().to_string())
            .filter(|x| !x.is_empty())
            .collect()
    });
    match segments.as_slice() {
        ["folders", id, "items"] => items(s, id, p, fields.as_deref()),
        ["folders", id] => item(s, id, Kind::Folder, fields.as_deref()),
        ["files", id] => item(s, id, Kind::File, fields.as_deref()),
        ["files", id, "content"] => content(s, id),
        ["events"] => events::page(s, p),
        _ => json_reply(
            200,
            &json!({"type": "user", "id": super::state::USER_ID, "name": "Fake User", "login": "fake.user@example.com"}),
        ),
    }
}

/// The item when it is one of `kind`: `Ok`, or the error Box gives (404 `trashed` if trashed).
fn find(s: &State, id: &str, kind: Kind) -> Result<(), Reply> {
    match s.items.get(id) {
        Some(r) if r.kind == kind && s.is_trashed(id) => {
            Err(box_error(404, "trashed", "Item is trashed"))
        }
        Some(r) if r.kind == kind => Ok(()),
        _ => Err(not_found()),
    }
}

fn item(s: &State, id: &str, kind: Kind, fields: Option<&[String]>) -> Reply {
    match find(s, id, kind) {
        Ok(()) => json_reply(200, &select(s.full(id), fields)),
        Err(r) => r,
    }
}

/// A listing marker: opaque to clients, the folder and offset to us.
fn marker(folder: &str, offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("m:{folder}:{offset}"))
}

fn parse_marker(folder: &str, m: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(m).ok()?).ok()?;
    let rest = text.strip_prefix("m:")?.strip_prefix(folder)?;
    rest.strip_prefix(':')?.parse().ok()
}

fn number(p: &Params, name: &str, default: usize) -> Result<usize, Reply> {
    match p.get(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| bad_request(&format!("Invalid value '{v}' for query parameter '{name}'"))),
    }
}

/// `GET /folders/{id}/items`: marker paging with `usemarker=true`, offset paging without.
fn items(s: &State, folder: &str, p: &Params, fields: Option<&[String]>) -> Reply {
    if let Err(r) = find(s, folder, Kind::Folder) {
        return r;
    }
    let limit = match number(p, "limit", 100) {
        Ok(l) => l.clamp(1, 1000.min(s.max_page.max(1))),
        Err(r) => return r,
    };
    let usemarker = p.get("usemarker") == Some("true");
    let offset = match (usemarker, p.get("marker")) {
        (true, Some(m)) if !m.is_empty() => match parse_marker(folder, m) {
            Some(o) => o,
            None => {
                return bad_request(&format!("Invalid value '{m}' for query parameter 'marker'"));
            }
        },
        (true, _) => 0,
        (false, _) => match number(p, "offset", 0) {
            Ok(o) => o,
            Err(r) => return r,
        },
    };
    let children = s.children(folder);
    let end = offset.saturating_add(limit).min(children.len());
    let entries: Vec<Value> = children
        .get(offset..end)
        .unwrap_or_default()
        .iter()
        .map(|id| match fields {
            Some(f) => select(s.full(id), Some(f)),
            None => s.mini(id),
        })
        .collect();
    if !usemarker {
        return json_reply(
            200,
            &json!({
                "total_count": children.len(),
                "entries": entries,
                "offset": offset,
                "limit": limit,
                "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
            }),
        );
    }
    let mut body = json!({"entries": entries, "limit": limit});
    if end < children.len() {
        body["next_marker"] = json!(marker(folder, end));
    } else if s.empty_final_marker {
        body["next_marker"] = json!("");
    }
    json_reply(200, &body)
}

/// `GET /files/{id}/content`: 302 to a pre-authenticated URL of the current version, or 202
/// once when the test said the file is not ready.
fn content(s: &mut State, id: &str) -> Reply {
    if let Err(r) = find(s, id, Kind::File) {
        return r;
    }
    if s.not_ready.remove(id) {
        return Reply::bytes(202, "text/plain", Vec::new()).header("retry-after", "1");
    }
    let location = format!(
        "{}/d/{id}/{}?sig={}",
        s.cdn_origin,
        s.get(id).version,
        uuid::Uuid::new_v4().simple()
    );
    Reply::bytes(302, "text/plain", Vec::new()).header("location", location)
}

/// The download server: serves a version's bytes (Range honoured) and counts any
/// `Authorization` a client wrongly sends it.
async fn cdn(
    Axum(shared): Axum<Shared>,
    axum::extract::Path((id, version)): axum::extract::Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut s = lock(&shared);
    s.counts.cdn += 1;
    if headers.contains_key("authorization") {
        s.cdn_authorization_seen += 1;
    }
    cdn_reply(&mut s, &id, &version, uri.query(), &headers).into_response()
}

fn octets(status: u16, body: Vec<u8>) -> Reply {
    Reply::bytes(status, "application/octet-stream", body)
}

fn cdn_reply(
    s: &mut State,
    id: &str,
    version: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Reply {
    let fault = pick(s, Target::Cdn);
    if let Some(r) = fault.as_ref().and_then(error_reply) {
        return r;
    }
    if Params::parse(query).get("sig").is_none() {
        return octets(403, b"Forbidden".to_vec());
    }
    let mut data = match s.versions.get(version) {
        Some((file, data)) if file == id => data.clone(),
        _ => return octets(404, b"Not Found".to_vec()),
    };
    if fault == Some(Fault::CorruptBody) || s.corrupt.contains(id) {
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
    let last = len.checked_sub(1)?;
    let (a, b) = match (a.trim(), b.trim()) {
        ("", n) => (len - n.parse::<u64>().ok()?.min(len), last),
        (a, "") => (a.parse().ok()?, last),
        (a, b) => (a.parse().ok()?, b.parse::<u64>().ok()?.min(last)),
    };
    (a <= b).then_some((a, b))
}
