//! A fake Box (API 2.0) and Box OAuth for end-to-end tests, following
//! shared/reference/provider-apis.md: numeric string ids under root `0` ("All Files"), folder
//! listings with marker or offset paging and `fields=` selection, item GETs (404 `trashed` for
//! trashed items), `/content` answering 302 to a second listener (the download server, which
//! honours Range and counts any `Authorization` it receives) or 202 when a file is not ready,
//! an events stream with positions beyond a double's precision (events can repeat or arrive
//! out of order when the test says so), OAuth with single-use refresh tokens (rotation), client
//! credentials in the form body only, expiring access tokens (an empty 401), and injectable
//! faults.
//!
//! ```text
//! let bx = FakeBox::start().await;
//! let docs = bx.add_folder(&bx.root_id(), "Docs");
//! bx.add_file(&docs, "a.txt", "hello");
//! // runtime overrides: bx.overrides(); credential: bx.grant()
//! ```
//!
//! As at Box, the root folder's `etag` and `sequence_id` are null wherever it appears.

mod events;
mod oauth;
mod routes;
mod state;
#[cfg(test)]
mod tests;

use crate::fake_common::server::{Port, Served};
use state::{Kind, State};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which requests an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Folder item listings
    Items,
    /// `GET files/{id}`, `folders/{id}`, `users/me`
    Item,
    /// `/files/{id}/content` (the 302)
    Content,
    /// The download server
    Cdn,
    /// The events stream
    Events,
    /// The OAuth token endpoint
    Token,
    /// Every `/2.0` request (listings, items, content, events)
    AnyApi,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `rate_limit_exceeded`, with `Retry-After` when given.
    RateLimit429 {
        /// Seconds for `Retry-After`.
        retry_after: Option<u32>,
    },
    /// 503 `unavailable`, with `Retry-After` when given.
    Unavailable503 {
        /// Seconds for `Retry-After`.
        retry_after: Option<u32>,
    },
    /// 500 `internal_server_error`.
    Status500,
    /// The download server answers 200 with one byte of the body changed (download server only).
    CorruptBody,
}

/// Requests received, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Folder item listings
    pub items: u64,
    /// Item GETs (files, folders, `users/me`)
    pub item: u64,
    /// `/content` requests
    pub content: u64,
    /// Download server requests
    pub cdn: u64,
    /// Events pages
    pub events: u64,
    /// Every `/2.0` request
    pub total_api: u64,
    /// Code exchanges
    pub token_code: u64,
    /// Refreshes
    pub token_refresh: u64,
    /// Refreshes refused because the refresh token was used, revoked or unknown
    pub token_refresh_refused: u64,
    /// Revocation requests
    pub revoke: u64,
    /// Authorize page visits
    pub authorize: u64,
}

struct Inner {
    state: Arc<Mutex<State>>,
    api: Served,
    cdn: Served,
}

/// A running fake; clones share it, and it stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeBox {
    inner: Arc<Inner>,
}

impl FakeBox {
    /// The OAuth client id the fake accepts.
    pub const CLIENT_ID: &str = "fake-box-client-id";
    /// The OAuth client secret the fake accepts.
    pub const CLIENT_SECRET: &str = "fake-box-client-secret";

    /// Start the API (with OAuth) and the download server on two free ports of 127.0.0.1.
    pub async fn start() -> FakeBox {
        let api = Port::bind().await;
        let cdn = Port::bind().await;
        let state = Arc::new(Mutex::new(State::new(cdn.origin())));
        let api = api.serve(routes::router(state.clone()));
        let cdn = cdn.serve(routes::cdn_router(state.clone()));
        FakeBox {
            inner: Arc::new(Inner { state, api, cdn }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut routes::lock(&self.inner.state))
    }

    /// The API server's origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.inner.api.origin()
    }

    /// The download server's origin (a second listener, standing in for dl.boxcloud.com).
    pub fn cdn_origin(&self) -> String {
        self.inner.cdn.origin()
    }

    /// The API base, `{origin}/2.0`.
    pub fn api_base(&self) -> String {
        format!("{}/2.0", self.origin())
    }

    /// The authorize endpoint.
    pub fn auth_url(&self) -> String {
        format!("{}/api/oauth2/authorize", self.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/token", self.origin())
    }

    /// The revocation endpoint.
    pub fn revoke_url(&self) -> String {
        format!("{}/oauth2/revoke", self.origin())
    }

    /// The root folder's id, `0`.
    pub fn root_id(&self) -> String {
        state::ROOT_ID.to_string()
    }

    /// Add a folder (an `ITEM_CREATE` event).
    pub fn add_folder(&self, parent: &str, name: &str) -> String {
        self.with(|s| s.add(parent, name, Kind::Folder, Vec::new(), ""))
    }

    /// Add a file (`ITEM_CREATE`, then `ITEM_UPLOAD`).
    pub fn add_file(&self, parent: &str, name: &str, content: impl Into<Vec<u8>>) -> String {
        self.with(|s| s.add(parent, name, Kind::File, content.into(), ""))
    }

    /// Add a web link (bookmark) to `url` (an `ITEM_CREATE` event).
    pub fn add_web_link(&self, parent: &str, name: &str, url: &str) -> String {
        self.with(|s| s.add(parent, name, Kind::WebLink, Vec::new(), url))
    }

    /// Upload a new version of a file: new version id, sha1, size, etag, sequence id and
    /// modification times (`ITEM_UPLOAD`).
    pub fn update_content(&self, id: &str, content: impl Into<Vec<u8>>) {
        self.with(|s| s.update_content(id, content.into()));
    }

    /// Rename an item (`ITEM_RENAME`).
    pub fn rename(&self, id: &str, name: &str) {
        self.with(|s| s.rename(id, name));
    }

    /// Move an item under another folder (`ITEM_MOVE`, for the item only).
    pub fn move_to(&self, id: &str, parent: &str) {
        self.with(|s| s.move_to(id, parent));
    }

    /// Trash an item and, for a folder, everything below it (one `ITEM_TRASH`, for the item).
    pub fn trash(&self, id: &str) {
        self.with(|s| s.trash(id));
    }

    /// Restore a trashed item with what was trashed with it (one `ITEM_UNDELETE_VIA_TRASH`).
    pub fn restore(&self, id: &str) {
        self.with(|s| s.restore(id));
    }

    /// Copy an item (a folder with its subtree, all with new ids) under `parent`; one
    /// `ITEM_COPY` event for the copy. Returns the copy's id.
    pub fn copy(&self, id: &str, parent: &str) -> String {
        self.with(|s| s.copy(id, parent))
    }

    /// A file's current content.
    pub fn content(&self, id: &str) -> Vec<u8> {
        self.with(|s| s.content(id).to_vec())
    }

    /// A file's SHA-1, lower-case hex, as Box gives it.
    pub fn sha1_of(&self, id: &str) -> String {
        self.with(|s| s.sha1(id))
    }

    /// The item's full standard representation (as a GET without `fields` returns it).
    pub fn metadata(&self, id: &str) -> serde_json::Value {
        self.with(|s| s.full(id))
    }

    /// Most items per listing page (default 1000), whatever `limit` asks.
    pub fn set_max_page(&self, n: usize) {
        self.with(|s| s.max_page = n.max(1));
    }

    /// Most events per events page (default 500), whatever `limit` asks.
    pub fn set_max_events(&self, n: usize) {
        self.with(|s| s.max_events = n.max(1));
    }

    /// Whether a listing's last page says `"next_marker": ""` (on) or has none (default).
    pub fn set_empty_final_marker(&self, on: bool) {
        self.with(|s| s.empty_final_marker = on);
    }

    /// Whether `next_stream_position` is a JSON string (on) or a number (default).
    pub fn set_positions_as_strings(&self, on: bool) {
        self.with(|s| s.positions_as_strings = on);
    }

    /// Whether every non-empty events page starts with the last event of the page before it
    /// again (same `event_id`).
    pub fn set_repeat_events(&self, on: bool) {
        self.with(|s| s.repeat_events = on);
    }

    /// Whether events pages come in reverse order (out-of-order delivery).
    pub fn set_shuffle_events(&self, on: bool) {
        self.with(|s| s.shuffle_events = on);
    }

    /// Make the next `/content` of this file answer 202 with `Retry-After: 1` (not ready yet).
    pub fn not_ready_once(&self, id: &str) {
        self.with(|s| s.not_ready.insert(id.to_string()));
    }

    /// Make the download server corrupt this file's bytes every time (same length).
    pub fn corrupt_downloads_of(&self, id: &str) {
        self.with(|s| s.corrupt.insert(id.to_string()));
    }

    /// Requests that reached the download server carrying `Authorization` (must stay 0).
    pub fn cdn_authorization_seen(&self) -> u64 {
        self.with(|s| s.cdn_authorization_seen)
    }

    /// A live (access token, refresh token) pair, as after a consent.
    pub fn issue_tokens(&self) -> (String, String) {
        self.with(|s| s.issue_tokens())
    }

    /// A grant of fresh tokens, expiring when the fake expires the access token.
    pub fn grant(&self) -> p8sync::oauth::Grant {
        let (access, refresh) = self.issue_tokens();
        let lifetime = self.with(|s| s.oauth.lifetime);
        p8sync::oauth::Grant {
            access_token: p8sync::secret::Secret::new(access),
            refresh_token: Some(p8sync::secret::Secret::new(refresh)),
            expires_at: Some(
                chrono::Utc::now() + chrono::Duration::from_std(lifetime).unwrap_or_default(),
            ),
            scopes: None,
        }
    }

    /// Expire every access token issued so far: the API answers 401.
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.expire_access_tokens());
    }

    /// Kill every refresh token: refreshing answers 400 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.with(|s| s.revoke_refresh_tokens());
    }

    /// How long access tokens issued from now on live (default an hour).
    pub fn set_access_token_lifetime(&self, d: Duration) {
        self.with(|s| s.oauth.lifetime = d);
    }

    /// Whether this refresh token would still be accepted (issued, not used, not revoked).
    pub fn refresh_token_is_live(&self, token: &str) -> bool {
        self.with(|s| s.refresh_live(token))
    }

    /// The operator overrides that point the `box` provider here: the API base, the OAuth
    /// endpoints and client, and the download server as an extra host (no credentials).
    pub fn overrides(&self) -> p8sync::config::ProviderOverrides {
        p8sync::config::ProviderOverrides {
            api_base: Some(self.api_base()),
            auth_url: Some(self.auth_url()),
            token_url: Some(self.token_url()),
            revoke_url: Some(self.revoke_url()),
            extra_hosts: vec![self.cdn_origin()],
            client_id: Some(Self::CLIENT_ID.into()),
            client_secret: Some(p8sync::secret::Secret::new(Self::CLIENT_SECRET)),
            ..Default::default()
        }
    }

    /// The same, as the environment of a `p8sync` process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("P8_BOX_API_BASE", self.api_base()),
            ("P8_BOX_AUTH_URL", self.auth_url()),
            ("P8_BOX_TOKEN_URL", self.token_url()),
            ("P8_BOX_REVOKE_URL", self.revoke_url()),
            ("P8_BOX_ALLOWED_HOSTS", self.cdn_origin()),
            ("P8_BOX_CLIENT_ID", Self::CLIENT_ID.into()),
            ("P8_BOX_CLIENT_SECRET", Self::CLIENT_SECRET.into()),
        ]
    }

    /// Give every `every_nth` request matching `target` this fault, at most `limit` times.
    /// Faults apply after authentication; when several rules fire, the first added wins.
    pub fn inject(&self, target: Target, fault: Fault, every_nth: u32, limit: Option<u32>) {
        self.with(|s| s.rules.push(target, fault, every_nth, limit));
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
