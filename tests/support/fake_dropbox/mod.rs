//! A fake Dropbox API v2 and Dropbox OAuth 2 server for end-to-end tests, faithful to the
//! behaviour in shared/reference/provider-apis.md and Dropbox's documentation:
//!
//! * `files/list_folder` (+ `/continue`, `/get_latest_cursor`) over a case-insensitive tree,
//!   with cursors that encode the listing position and the change sequence: a listing's last
//!   cursor, or a latest cursor, continues with every change made since, `deleted` entries
//!   included (a deleted folder is one entry for the folder; a move is a deletion at the old
//!   path and entries at the new one, same ids). Pages follow the pattern full, half, empty
//!   (with `has_more`), so a provider must not stop at a short or empty page.
//! * Strict arguments: `Content-Type: application/json` on RPC calls, the root as `""` (a
//!   `"/"` is a 400 as at Dropbox), `limit` 1..=2000, plain-text 400 bodies.
//! * `files/download` with its argument in `Dropbox-API-Arg` (ASCII JSON), the metadata in
//!   `Dropbox-API-Result`, and `Range`.
//! * `content_hash` computed as Dropbox does (SHA-256 over each 4 MiB block's SHA-256).
//! * OAuth: authorize (refresh tokens only with `token_access_type=offline`), code exchange
//!   with PKCE, refresh (no new refresh token); expired access tokens get 401
//!   `expired_access_token`, dead refresh tokens 400 `invalid_grant`.
//! * Faults on demand: 429 `too_many_requests` with `Retry-After`, 500, 503, 409 `reset` on a
//!   cursor, slow answers, and downloads that arrive corrupted.

mod faults;
mod routes;
mod state;

use crate::fake_common::server::{Port, Served};
use state::State;
pub use state::content_hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which requests an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// files/list_folder
    ListFolder,
    /// files/list_folder/continue (listings and the change feed)
    Continue,
    /// files/list_folder/get_latest_cursor
    LatestCursor,
    /// files/download
    Download,
    /// The OAuth token endpoint
    Token,
    /// Every API request (not OAuth)
    AnyApi,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 `too_many_requests`, with `Retry-After` (Dropbox always sends it) and `retry_after`.
    RateLimit429 {
        /// Seconds to wait.
        retry_after: u32,
    },
    /// 500, plain text.
    Status500,
    /// 503, plain text.
    Status503,
    /// 409 `reset`: Dropbox wants the listing started over.
    Reset,
    /// Answer normally, after this long.
    Slow(Duration),
}

/// Requests received, per kind, whether they succeeded or not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// files/list_folder
    pub list_folder: u64,
    /// files/list_folder/continue
    pub list_continue: u64,
    /// files/list_folder/get_latest_cursor
    pub latest_cursor: u64,
    /// files/download
    pub download: u64,
    /// users/get_current_account
    pub current_account: u64,
    /// Token requests with `grant_type=authorization_code`
    pub token_code: u64,
    /// Token requests with `grant_type=refresh_token`
    pub token_refresh: u64,
    /// Token requests with any other grant type
    pub token_other: u64,
    /// Authorize page visits
    pub authorize: u64,
    /// Every API request (OAuth excluded)
    pub total_api: u64,
}

struct Inner {
    state: Arc<Mutex<State>>,
    server: Served,
}

/// A running fake; clones share it, and it stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeDropbox {
    inner: Arc<Inner>,
}

impl FakeDropbox {
    /// The OAuth client id (app key) the fake accepts.
    pub const CLIENT_ID: &str = "fake-dropbox-app-key";
    /// The OAuth client secret (app secret) the fake accepts.
    pub const CLIENT_SECRET: &str = "fake-dropbox-app-secret";

    /// Start serving on 127.0.0.1 at a free port.
    pub async fn start() -> FakeDropbox {
        let port = Port::bind().await;
        let state = Arc::new(Mutex::new(State::new()));
        let server = port.serve(routes::router(state.clone()));
        FakeDropbox {
            inner: Arc::new(Inner { state, server }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut routes::lock(&self.inner.state))
    }

    /// `http://127.0.0.1:PORT`: the RPC and the content endpoints both live here.
    pub fn origin(&self) -> String {
        self.inner.server.origin()
    }

    /// The OAuth authorize endpoint.
    pub fn auth_url(&self) -> String {
        format!("{}/oauth2/authorize", self.origin())
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.origin())
    }

    /// Add a folder (and missing parents) at a path like `/Work/Reports`; returns its id.
    pub fn add_folder(&self, path: &str) -> String {
        self.with(|s| s.add_folder(path))
    }

    /// Upload a file at `path` (parents are created); returns its id. Uploading to an existing
    /// path overwrites it: same id, new content, rev and content hash.
    pub fn add_file(&self, path: &str, content: impl Into<Vec<u8>>) -> String {
        let content = content.into();
        self.with(|s| s.put_file(path, content))
    }

    /// Add a Paper-like cloud document: listed with `is_downloadable: false`; downloads fail.
    pub fn add_cloud_doc(&self, path: &str) -> String {
        self.with(|s| {
            let id = s.put_file(path, b"cloud document".to_vec());
            s.file_mut(&id).cloud_doc = true;
            id
        })
    }

    /// New content for the file with this id (same id, new rev and hash, a change).
    pub fn update(&self, id: &str, content: impl Into<Vec<u8>>) {
        let content = content.into();
        self.with(|s| {
            let path = s.nodes[&s.by_id[id]].path_display.clone();
            s.put_file(&path, content);
        });
    }

    /// Delete a file, or a folder with everything in it, by id or path.
    pub fn delete(&self, id_or_path: &str) {
        self.with(|s| s.delete(id_or_path));
    }

    /// Move or rename a file or folder (by id or path) to the path `to`; ids stay.
    pub fn move_to(&self, id_or_path: &str, to: &str) {
        self.with(|s| s.move_to(id_or_path, to));
    }

    /// Serve this file's downloads damaged (same length, one byte changed) or not.
    pub fn corrupt_downloads(&self, id: &str, on: bool) {
        self.with(|s| s.file_mut(id).corrupt = on);
    }

    /// The id at a path, if any.
    pub fn id_of(&self, path: &str) -> Option<String> {
        self.with(|s| s.resolve(path).map(|p| s.nodes[p].id.clone()))
    }

    /// A file's metadata as list_folder would give it.
    pub fn metadata(&self, id_or_path: &str) -> Option<serde_json::Value> {
        self.with(|s| {
            s.resolve(id_or_path)
                .map(|p| p.to_string())
                .map(|p| s.meta(&p))
        })
    }

    /// A file's content.
    pub fn content(&self, id: &str) -> Vec<u8> {
        self.with(|s| s.file_mut(id).data.to_vec())
    }

    /// Make every cursor issued so far answer 409 `reset`.
    pub fn reset_cursors(&self) {
        self.with(|s| s.epoch += 1);
    }

    /// An (access token, refresh token) pair, as after a consent with offline access.
    pub fn issue_tokens(&self) -> (String, String) {
        self.with(|s| s.issue_tokens())
    }

    /// A grant of fresh tokens, as the token endpoint returns them (valid for four hours).
    pub fn grant(&self) -> p8sync::oauth::Grant {
        let (access, refresh) = self.issue_tokens();
        p8sync::oauth::Grant {
            access_token: p8sync::secret::Secret::new(access),
            refresh_token: Some(p8sync::secret::Secret::new(refresh)),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(4)),
            scopes: None,
        }
    }

    /// The operator overrides that point the `dropbox` provider (API and OAuth) here.
    pub fn overrides(&self) -> p8sync::config::ProviderOverrides {
        p8sync::config::ProviderOverrides {
            api_base: Some(self.origin()),
            auth_url: Some(self.auth_url()),
            token_url: Some(self.token_url()),
            client_id: Some(Self::CLIENT_ID.into()),
            client_secret: Some(p8sync::secret::Secret::new(Self::CLIENT_SECRET)),
            ..Default::default()
        }
    }

    /// How long access tokens issued from now on live (default 4 hours, as at Dropbox).
    pub fn set_access_token_lifetime(&self, d: Duration) {
        self.with(|s| s.lifetime = d);
    }

    /// Expire every access token issued so far: the API answers 401 `expired_access_token`.
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.access.expire_all());
    }

    /// Kill every refresh token issued so far: refreshing answers 400 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.with(|s| {
            for alive in s.refresh.values_mut() {
                *alive = false;
            }
        });
    }

    /// The query parameters of the last authorize request.
    pub fn last_authorize_params(&self) -> Option<Vec<(String, String)>> {
        self.with(|s| s.last_authorize.clone())
    }

    /// Give every `every_nth` request matching `target` this fault, at most `limit` times.
    /// Faults apply after authentication; when several rules fire, the first added wins.
    pub fn inject(&self, target: Target, fault: Fault, every_nth: u32, limit: Option<u32>) {
        self.with(|s| {
            s.rules.push(target, fault, every_nth, limit);
        });
    }

    /// Remove every injected fault.
    pub fn clear_faults(&self) {
        self.with(|s| s.rules.clear());
    }

    /// Requests received per kind since the start or the last reset.
    pub fn counts(&self) -> Counts {
        self.with(|s| s.counts.clone())
    }

    /// Zero the request counts.
    pub fn reset_counts(&self) {
        self.with(|s| s.counts = Counts::default());
    }
}
