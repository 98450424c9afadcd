//! A small fake of the JSON files API the provider template (`providers/template`, id `example`)
//! talks to, behaving like a sane real API: bearer tokens (401 with a JSON error when missing,
//! wrong or rotated away), `limit`/`cursor` paging with opaque cursors (400 for one it did not
//! make), 404 for unknown ids and paths, 429 with `Retry-After` and 5xx when told to fail.
//!
//! ```text
//! GET /v1/files?limit=N[&cursor=C][&folder=PATH&recursive=true|false]
//!     -> {"files": [{"id","name","folder","size","sha256","modified"}], "next": "C2" | null}
//! GET /v1/files/{id}/content -> the bytes
//! errors -> {"error": {"code": N, "message": "..."}}
//! ```

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as Axum};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use sha2::Digest;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// The most files one page holds, whatever `limit` asks.
pub const MAX_LIMIT: usize = 1000;

struct FileRec {
    id: String,
    name: String,
    folder: String,
    content: Vec<u8>,
    modified: String,
}

#[derive(Default)]
struct State {
    files: Vec<FileRec>,
    token: String,
    next_id: u32,
    /// Statuses (and `Retry-After`) the next API requests are answered with, in order.
    faults: VecDeque<(u16, Option<u32>)>,
    requests: usize,
}

/// The fake API, serving on 127.0.0.1 from a thread of its own for the life of the process.
pub struct ExampleApi {
    port: u16,
    state: Arc<Mutex<State>>,
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

impl ExampleApi {
    /// Start a fake with no files and a fresh token.
    pub fn start() -> ExampleApi {
        let state = Arc::new(Mutex::new(State {
            token: new_token(),
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a port");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = Router::new().fallback(handle).with_state(state.clone());
        // Its own runtime, so a test that blocks on a build or a child process can't stall it.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app).await;
            });
        });
        ExampleApi { port, state }
    }

    /// The API base the provider is pointed at (`P8_EXAMPLE_API_BASE`).
    pub fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// The bearer token the API accepts now.
    pub fn token(&self) -> String {
        lock(&self.state).token.clone()
    }

    /// Replace the token (the old one expires): the next request with it gets 401.
    pub fn rotate_token(&self) -> String {
        let mut s = lock(&self.state);
        s.token = new_token();
        s.token.clone()
    }

    /// Add a file in `folder` (`/`-separated, empty at the top); returns its id.
    pub fn add_file(&self, folder: &str, name: &str, content: impl Into<Vec<u8>>) -> String {
        let mut s = lock(&self.state);
        s.next_id += 1;
        let id = format!("f{:05}", s.next_id);
        let modified = format!(
            "2024-05-{:02}T12:00:{:02}.250Z",
            1 + s.next_id % 28,
            s.next_id % 60
        );
        s.files.push(FileRec {
            id: id.clone(),
            name: name.into(),
            folder: folder.into(),
            content: content.into(),
            modified,
        });
        id
    }

    /// Answer the next `times` API requests with `status` (429 and 503 carry `retry_after`).
    pub fn fail_next(&self, status: u16, times: usize, retry_after: Option<u32>) {
        let mut s = lock(&self.state);
        for _ in 0..times {
            s.faults.push_back((status, retry_after));
        }
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }
}

fn new_token() -> String {
    format!("ex-{}", uuid::Uuid::new_v4().simple())
}

fn error(status: u16, message: &str) -> Response {
    let body = serde_json::json!({"error": {"code": status, "message": message}});
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn json(value: serde_json::Value) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(value.to_string()))
        .unwrap()
}

/// Cursors are opaque to clients; this one is an offset with a check so a made-up or edited
/// cursor is refused, as real APIs do.
fn make_cursor(offset: usize) -> String {
    let check = &hex::encode(sha2::Sha256::digest(format!("example:{offset}")))[..8];
    format!("{offset}.{check}")
}

fn read_cursor(cursor: &str) -> Option<usize> {
    let (offset, _) = cursor.split_once('.')?;
    let offset: usize = offset.parse().ok()?;
    (make_cursor(offset) == cursor).then_some(offset)
}

async fn handle(Axum(state): Axum<Arc<Mutex<State>>>, request: Request) -> Response {
    let mut s = lock(&state);
    s.requests += 1;
    let path = request.uri().path().to_string();
    let params: Vec<(String, String)> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let expected = format!("Bearer {}", s.token);
    let authorized = request
        .headers()
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    if !authorized {
        let mut r = error(401, "the access token is missing, invalid or expired");
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
        return r;
    }
    if let Some((status, retry_after)) = s.faults.pop_front() {
        let mut r = error(status, "injected by the test");
        if let Some(secs) = retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        return r;
    }
    if request.method() != axum::http::Method::GET {
        return error(405, "only GET is supported");
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "files"] => {
            let limit = match param("limit").map(str::parse::<usize>) {
                None => 100,
                Some(Ok(n)) if n >= 1 => n.min(MAX_LIMIT),
                Some(_) => return error(400, "limit must be a whole number of at least 1"),
            };
            let offset = match param("cursor") {
                None => 0,
                Some(c) => match read_cursor(c) {
                    Some(o) => o,
                    None => return error(400, "the cursor is invalid or expired"),
                },
            };
            let recursive = param("recursive") != Some("false");
            let folder = param("folder").map(|f| f.trim_matches('/').to_string());
            let selected: Vec<&FileRec> = s
                .files
                .iter()
                .filter(|f| match &folder {
                    None => true,
                    Some(top) if top.is_empty() => recursive || f.folder.is_empty(),
                    Some(top) => {
                        f.folder == *top || (recursive && f.folder.starts_with(&format!("{top}/")))
                    }
                })
                .collect();
            let page: Vec<serde_json::Value> = selected
                .iter()
                .skip(offset)
                .take(limit)
                .map(|f| {
                    serde_json::json!({
                        "id": f.id,
                        "name": f.name,
                        "folder": f.folder,
                        "size": f.content.len(),
                        "sha256": hex::encode(sha2::Sha256::digest(&f.content)),
                        "modified": f.modified,
                    })
                })
                .collect();
            let next = (offset + limit < selected.len()).then(|| make_cursor(offset + limit));
            json(serde_json::json!({"files": page, "next": next}))
        }
        ["v1", "files", id, "content"] => match s.files.iter().find(|f| f.id == *id) {
            Some(f) => Response::builder()
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(f.content.clone()))
                .unwrap(),
            None => error(404, &format!("no file with id `{id}`")),
        },
        _ => error(404, "no such endpoint"),
    }
}
