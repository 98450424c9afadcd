//! The Dropbox API v2 routes the provider uses, and Dropbox's OAuth 2 endpoints.

use super::FakeDropbox;
use super::faults::{
    Kind, Reply, auth_error, bad_request, endpoint_error, fault_reply, finish, json_reply, pick,
};
use super::state::{Code, Cursor, State};
use crate::fake_common::client_auth::basic_client;
use crate::fake_common::params::Params;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as Axum};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::Digest as _;
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) type Shared = Arc<Mutex<State>>;

/// A panic in a test's population call must not wedge the server for the rest of the test.
pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn router(state: Shared) -> Router {
    Router::new()
        .route("/2/files/list_folder", post(list_folder))
        .route("/2/files/list_folder/continue", post(list_continue))
        .route(
            "/2/files/list_folder/get_latest_cursor",
            post(latest_cursor),
        )
        .route("/2/files/download", post(download))
        .route("/2/users/get_current_account", post(current_account))
        .route("/oauth2/authorize", get(authorize))
        .route("/oauth2/token", post(token))
        .with_state(state)
}

/// JSON as Dropbox puts it in a header: ASCII only, everything else `\uXXXX`.
pub(crate) fn ascii_json(v: &Value) -> String {
    let mut out = String::new();
    for c in v.to_string().chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Count, authenticate, then maybe fail by injection: the common start of every API call.
fn admit(
    s: &mut State,
    kind: Kind,
    endpoint: &str,
    headers: &HeaderMap,
) -> Result<Option<super::Fault>, Reply> {
    kind.count(&mut s.counts);
    let Some(token) = bearer(headers) else {
        return Err(bad_request(
            endpoint,
            "Must provide HTTP header \"Authorization\" or URL parameter \"authorization\".",
        ));
    };
    s.check_access(token).map_err(auth_error)?;
    let fault = pick(&mut s.rules, kind);
    if let Some(reply) = fault.as_ref().and_then(fault_reply) {
        return Err(reply);
    }
    Ok(fault)
}

/// The JSON argument of an RPC call (`Content-Type: application/json`).
fn rpc_arg(endpoint: &str, headers: &HeaderMap, body: &[u8]) -> Result<Value, Reply> {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json") {
        return Err(bad_request(
            endpoint,
            &format!(
                "Bad HTTP \"Content-Type\" header: \"{content_type}\".  Expecting one of \"application/json\", \"application/json; charset=utf-8\", \"text/plain; charset=dropbox-cors-hack\"."
            ),
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        bad_request(
            endpoint,
            &format!("request body: could not decode input as JSON: {e}"),
        )
    })
}

/// `(path, recursive, include_deleted, limit)` of list_folder and get_latest_cursor.
fn listing_args(endpoint: &str, arg: &Value) -> Result<(String, bool, bool, u32), Reply> {
    let Some(path) = arg["path"].as_str() else {
        return Err(bad_request(
            endpoint,
            "request body: missing required field 'path'",
        ));
    };
    if path == "/" {
        return Err(bad_request(
            endpoint,
            "request body: path: Specify the root folder as an empty string rather than as \"/\".",
        ));
    }
    if !(path.is_empty()
        || path.starts_with('/')
        || path.starts_with("id:")
        || path.starts_with("ns:"))
    {
        return Err(bad_request(
            endpoint,
            &format!(
                "request body: path: '{path}' did not match pattern '(/(.|[\\r\\n])*)?|id:.*|(ns:[0-9]+(/.*)?)'"
            ),
        ));
    }
    let flag = |name: &str| -> Result<bool, Reply> {
        match &arg[name] {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            other => Err(bad_request(
                endpoint,
                &format!("request body: {name}: expected boolean, got {other}"),
            )),
        }
    };
    let limit = match &arg["limit"] {
        Value::Null => 2000,
        v => match v.as_u64() {
            Some(n) if (1..=2000).contains(&n) => n as u32,
            _ => {
                return Err(bad_request(
                    endpoint,
                    &format!("request body: limit: {v} is not within the range [1, 2000]"),
                ));
            }
        },
    };
    Ok((
        path.to_string(),
        flag("recursive")?,
        flag("include_deleted")?,
        limit,
    ))
}

/// The folder a listing names, lower-cased (`""` for the root), or the 409 Dropbox gives.
fn listed_folder(s: &State, path: &str) -> Result<String, Reply> {
    if path.is_empty() {
        return Ok(String::new());
    }
    let Some(lower) = s.resolve(path) else {
        return Err(endpoint_error(&["path", "not_found"]));
    };
    if s.nodes[lower].file.is_some() {
        return Err(endpoint_error(&["path", "not_folder"]));
    }
    Ok(lower.to_string())
}

fn page_reply(s: &State, cursor: Cursor) -> Reply {
    let (entries, next, has_more) = s.page(cursor);
    json_reply(
        200,
        &json!({"entries": entries, "cursor": next.encode(), "has_more": has_more}),
    )
}

/// An API call: admitted, then answered by `answer` while the state is locked, then sent.
async fn api_call(
    shared: &Shared,
    kind: Kind,
    endpoint: &str,
    headers: &HeaderMap,
    answer: impl FnOnce(&State) -> Result<Reply, Reply>,
) -> Response {
    let (reply, fault) = {
        let mut s = lock(shared);
        match admit(&mut s, kind, endpoint, headers) {
            Err(r) => (r, None),
            Ok(fault) => (answer(&s).unwrap_or_else(|r| r), fault),
        }
    };
    finish(reply, fault).await
}

/// A cursor for the listing that `arg` asks for, starting at `after` (`None`: at the end).
fn new_cursor(
    s: &State,
    endpoint: &str,
    arg: &Value,
    after: Option<String>,
) -> Result<Cursor, Reply> {
    let (path, recursive, include_deleted, limit) = listing_args(endpoint, arg)?;
    let root = listed_folder(s, &path)?;
    Ok(Cursor {
        root,
        recursive,
        include_deleted,
        limit,
        epoch: s.epoch,
        after,
        since: s.seq,
        pages: 0,
    })
}

async fn list_folder(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    const EP: &str = "files/list_folder";
    api_call(&shared, Kind::ListFolder, EP, &headers, |s| {
        let arg = rpc_arg(EP, &headers, &body)?;
        let cursor = new_cursor(s, EP, &arg, Some(String::new()))?;
        Ok(page_reply(s, cursor))
    })
    .await
}

async fn list_continue(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    const EP: &str = "files/list_folder/continue";
    api_call(&shared, Kind::Continue, EP, &headers, |s| {
        let arg = rpc_arg(EP, &headers, &body)?;
        let Some(text) = arg["cursor"].as_str() else {
            return Err(bad_request(
                EP,
                "request body: missing required field 'cursor'",
            ));
        };
        let Some(cursor) = Cursor::decode(text) else {
            return Err(bad_request(EP, "request body: cursor: invalid cursor"));
        };
        if cursor.epoch < s.epoch {
            return Err(endpoint_error(&["reset"]));
        }
        Ok(page_reply(s, cursor))
    })
    .await
}

async fn latest_cursor(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    const EP: &str = "files/list_folder/get_latest_cursor";
    api_call(&shared, Kind::LatestCursor, EP, &headers, |s| {
        let arg = rpc_arg(EP, &headers, &body)?;
        let cursor = new_cursor(s, EP, &arg, None)?;
        Ok(json_reply(200, &json!({"cursor": cursor.encode()})))
    })
    .await
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` against `len`: `Some(Ok(range))`, `Some(Err(()))` when
/// unsatisfiable, `None` when there is no usable Range header.
fn byte_range(headers: &HeaderMap, len: usize) -> Option<Result<(usize, usize), ()>> {
    let spec = headers
        .get("range")?
        .to_str()
        .ok()?
        .trim()
        .strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: usize = n.parse().ok()?;
            if n == 0 {
                return Some(Err(()));
            }
            (len.saturating_sub(n), len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.saturating_sub(1)),
        (a, b) => (
            a.parse().ok()?,
            b.parse::<usize>().ok()?.min(len.saturating_sub(1)),
        ),
    };
    if start >= len || start > end {
        return Some(Err(()));
    }
    Some(Ok((start, end)))
}

async fn download(Axum(shared): Axum<Shared>, headers: HeaderMap, _body: Bytes) -> Response {
    api_call(&shared, Kind::Download, "files/download", &headers, |s| {
        download_reply(s, &headers)
    })
    .await
}

fn download_reply(s: &State, headers: &HeaderMap) -> Result<Reply, Reply> {
    const EP: &str = "files/download";
    if let Some(ct) = headers.get("content-type") {
        let ct = ct.to_str().unwrap_or("");
        let ok = ["text/plain", "application/octet-stream"]
            .iter()
            .any(|t| ct == *t || ct.starts_with(&format!("{t}; charset=")));
        if !ok && !ct.is_empty() {
            return Err(bad_request(
                EP,
                &format!(
                    "Bad HTTP \"Content-Type\" header: \"{ct}\".  Expecting one of \"text/plain\", \"text/plain; charset=utf-8\", \"application/octet-stream\", \"application/octet-stream; charset=utf-8\"."
                ),
            ));
        }
    }
    let Some(raw) = headers.get("dropbox-api-arg") else {
        return Err(bad_request(
            EP,
            "Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\".",
        ));
    };
    // Header values are ASCII; anything else had to be \u-escaped by the client.
    let Ok(text) = raw.to_str() else {
        return Err(bad_request(
            EP,
            "HTTP header \"Dropbox-API-Arg\": not ASCII; escape non-ASCII characters as \\uXXXX",
        ));
    };
    let arg: Value = serde_json::from_str(text).map_err(|e| {
        bad_request(
            EP,
            &format!("HTTP header \"Dropbox-API-Arg\": could not decode input as JSON: {e}"),
        )
    })?;
    let Some(path) = arg["path"].as_str() else {
        return Err(bad_request(
            EP,
            "HTTP header \"Dropbox-API-Arg\": missing required field 'path'",
        ));
    };
    let Some(lower) = s.resolve(path) else {
        return Err(endpoint_error(&["path", "not_found"]));
    };
    let node = &s.nodes[lower];
    let Some(file) = &node.file else {
        return Err(endpoint_error(&["path", "not_file"]));
    };
    if file.cloud_doc {
        return Err(endpoint_error(&["unsupported_file"]));
    }
    let mut data = file.data.to_vec();
    if file.corrupt && !data.is_empty() {
        let mid = data.len() / 2;
        data[mid] ^= 0x55;
    }
    let result = ascii_json(&s.meta(lower));
    let total = data.len();
    let reply = match byte_range(headers, total) {
        None => Reply::bytes(200, "application/octet-stream", data),
        Some(Err(())) => {
            return Err(Reply::bytes(416, "text/plain", "")
                .header("content-range", format!("bytes */{total}")));
        }
        Some(Ok((a, b))) => Reply::bytes(206, "application/octet-stream", data[a..=b].to_vec())
            .header("content-range", format!("bytes {a}-{b}/{total}")),
    };
    Ok(reply
        .header("dropbox-api-result", result)
        .header("accept-ranges", "bytes"))
}

async fn current_account(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    const EP: &str = "users/get_current_account";
    api_call(&shared, Kind::CurrentAccount, EP, &headers, |_| {
        // A call without arguments sends the body `null` (or nothing at all).
        let text = String::from_utf8_lossy(&body);
        Ok(if text.trim().is_empty() || text.trim() == "null" {
            json_reply(
                200,
                &json!({
                    "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                    "name": {"display_name": "Fake User", "given_name": "Fake", "surname": "User"},
                    "email": "user@example.com",
                    "email_verified": true,
                }),
            )
        } else {
            bad_request(EP, "request body: expected null, got value")
        })
    })
    .await
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// `GET /oauth2/authorize`: approves at once and redirects back with a code.
async fn authorize(Axum(shared): Axum<Shared>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q.as_deref());
    let reply = {
        let mut s = lock(&shared);
        Kind::Authorize.count(&mut s.counts);
        s.last_authorize = Some(p.pairs.clone());
        if p.get("client_id") != Some(FakeDropbox::CLIENT_ID) {
            Reply::bytes(400, "text/plain", "Invalid client_id.")
        } else if p.get("response_type") != Some("code") {
            Reply::bytes(400, "text/plain", "Invalid response_type.")
        } else {
            let code = format!("fake-code-{}", s.opaque_token("code", 30));
            let challenge = p.get("code_challenge").map(str::to_string);
            s.codes.insert(
                code.clone(),
                Code {
                    redirect_uri: p.get("redirect_uri").map(str::to_string),
                    challenge,
                    offline: p.get("token_access_type") == Some("offline"),
                    used: false,
                },
            );
            match p.get("redirect_uri").and_then(|r| url::Url::parse(r).ok()) {
                Some(mut url) => {
                    {
                        let mut q = url.query_pairs_mut();
                        q.append_pair("code", &code);
                        if let Some(state) = p.get("state") {
                            q.append_pair("state", state);
                        }
                    }
                    Reply::bytes(302, "text/html", "").header("location", url.to_string())
                }
                None => Reply::bytes(200, "text/plain", code),
            }
        }
    };
    finish(reply, None).await
}

fn client_ok(f: &Params, headers: &HeaderMap) -> bool {
    if let Some(id) = f.get("client_id") {
        // A PKCE client may leave the secret out; a confidential one must send it right.
        return id == FakeDropbox::CLIENT_ID
            && f.get("client_secret")
                .is_none_or(|s| s == FakeDropbox::CLIENT_SECRET);
    }
    basic_client(headers).is_some_and(|(id, secret)| {
        id == FakeDropbox::CLIENT_ID && secret == FakeDropbox::CLIENT_SECRET
    })
}

fn token_response(s: &mut State, refresh: Option<String>) -> Reply {
    let access = s.new_access();
    let mut body = json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": s.lifetime.as_secs(),
        "scope": "account_info.read files.content.read files.metadata.read",
        "uid": "12345",
        "account_id": "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    json_reply(200, &body)
}

/// `POST /oauth2/token`: code exchange (with PKCE) and refresh.
async fn token(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let f = Params::parse(std::str::from_utf8(&body).ok());
    let kind = match f.get("grant_type") {
        Some("authorization_code") => Kind::TokenCode,
        Some("refresh_token") => Kind::TokenRefresh,
        _ => Kind::TokenOther,
    };
    let (reply, fault) = {
        let mut s = lock(&shared);
        kind.count(&mut s.counts);
        if !client_ok(&f, &headers) {
            (
                oauth_error(400, "invalid_client", "Invalid client_id or client_secret"),
                None,
            )
        } else {
            let fault = pick(&mut s.rules, kind);
            match fault.as_ref().and_then(fault_reply) {
                Some(r) => (r, None),
                None => (token_reply(&mut s, kind, &f), fault),
            }
        }
    };
    finish(reply, fault).await
}

fn token_reply(s: &mut State, kind: Kind, f: &Params) -> Reply {
    match kind {
        Kind::TokenCode => {
            let Some(code) = f.get("code") else {
                return oauth_error(400, "invalid_request", "No auth code provided");
            };
            let Some(c) = s.codes.get_mut(code) else {
                return oauth_error(400, "invalid_grant", "code doesn't exist or has expired");
            };
            if c.used {
                return oauth_error(400, "invalid_grant", "code doesn't exist or has expired");
            }
            c.used = true;
            if c.redirect_uri.is_some() && f.get("redirect_uri") != c.redirect_uri.as_deref() {
                return oauth_error(400, "invalid_grant", "redirect_uri mismatch");
            }
            if let Some(challenge) = &c.challenge {
                let computed = f
                    .get("code_verifier")
                    .map(|v| URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(v.as_bytes())));
                if computed.as_deref() != Some(challenge.as_str()) {
                    return oauth_error(400, "invalid_grant", "invalid code verifier");
                }
            }
            let offline = c.offline;
            let refresh = offline.then(|| s.new_refresh());
            token_response(s, refresh)
        }
        Kind::TokenRefresh => {
            let alive = f
                .get("refresh_token")
                .and_then(|t| s.refresh.get(t))
                .copied()
                .unwrap_or(false);
            if !alive {
                return oauth_error(400, "invalid_grant", "refresh token is invalid or revoked");
            }
            // Dropbox keeps the refresh token: a refresh returns none.
            token_response(s, None)
        }
        _ => oauth_error(400, "unsupported_grant_type", "grant_type is not supported"),
    }
}
