//! A fake Microsoft Graph (OneDrive) and Microsoft identity platform for end-to-end tests,
//! following shared/reference/provider-apis.md: delta rounds with real paging and absolute
//! `@odata.nextLink`/`@odata.deltaLink` on its own origin, change tokens that return only what
//! changed (deleted facets, an item twice when it changed twice), `token=latest`, 410
//! `resyncRequired` for invalidated tokens, `/content` answering 302 to a second listener (the
//! download server) that honours Range and counts any `Authorization` it receives, a correct
//! quickXorHash, OAuth with expiring tokens (401 `InvalidAuthenticationToken`), and injectable
//! faults.
//!
//! ```text
//! let od = FakeOneDrive::start().await;
//! let docs = od.add_folder(&od.root_id(), "Docs");
//! od.add_file(&docs, "a.txt", "hello");
//! // runtime overrides: od.overrides(); credential: od.grant()
//! ```
//!
//! Like business drives (and as Graph documents for delta), delta items carry no
//! `parentReference.path` unless [`FakeOneDrive::set_paths_in_delta`] says so; item GETs do.

mod oauth;
mod quickxor;
mod routes;
mod state;

use crate::fake_common::server::{Port, Served};
pub use quickxor::quick_xor_hash;
use state::State;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which requests an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Delta pages (listing, changes, `token=latest`)
    Delta,
    /// Item metadata GETs
    Item,
    /// `/items/{id}/content` (the 302)
    Content,
    /// The download server
    Cdn,
    /// The OAuth token endpoint
    Token,
    /// Every Graph request (delta, item, content)
    AnyApi,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `activityLimitReached`, with `Retry-After` when given.
    RateLimit429 {
        /// Seconds for `Retry-After`.
        retry_after: Option<u32>,
    },
    /// 503 `serviceNotAvailable`, with `Retry-After` when given.
    Unavailable503 {
        /// Seconds for `Retry-After`.
        retry_after: Option<u32>,
    },
    /// 500 `generalException`.
    Status500,
    /// The download server answers 200 with one byte of the body changed (download server only).
    CorruptBody,
}

/// Requests received, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Delta pages
    pub delta: u64,
    /// Item metadata GETs
    pub item: u64,
    /// `/content` requests
    pub content: u64,
    /// Download server requests
    pub cdn: u64,
    /// Every Graph request (delta, item, content)
    pub total_api: u64,
    /// Code exchanges
    pub token_code: u64,
    /// Refreshes
    pub token_refresh: u64,
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
pub struct FakeOneDrive {
    inner: Arc<Inner>,
}

impl FakeOneDrive {
    /// The OAuth client id the fake accepts.
    pub const CLIENT_ID: &str = "fake-onedrive-client-id";
    /// The OAuth client secret the fake accepts.
    pub const CLIENT_SECRET: &str = "fake-onedrive-client-secret";

    /// Start Graph and the download server on two free ports of 127.0.0.1.
    pub async fn start() -> FakeOneDrive {
        let api = Port::bind().await;
        let cdn = Port::bind().await;
        let state = Arc::new(Mutex::new(State::new(api.origin(), cdn.origin())));
        let api = api.serve(routes::router(state.clone()));
        let cdn = cdn.serve(routes::cdn_router(state.clone()));
        FakeOneDrive {
            inner: Arc::new(Inner { state, api, cdn }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut routes::lock(&self.inner.state))
    }

    /// Graph's origin, `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> String {
        self.inner.api.origin()
    }

    /// The download server's origin (a second listener).
    pub fn cdn_origin(&self) -> String {
        self.inner.cdn.origin()
    }

    /// The API base, `http://127.0.0.1:PORT/v1.0`.
    pub fn api_base(&self) -> String {
        format!("{}/v1.0", self.origin())
    }

    /// The authorize endpoint.
    pub fn auth_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/authorize", self.origin())
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/common/oauth2/v2.0/token", self.origin())
    }

    /// The drive's id (for the `drive_id` config key).
    pub fn drive_id(&self) -> String {
        state::DRIVE_ID.to_string()
    }

    /// The root folder's id.
    pub fn root_id(&self) -> String {
        self.with(|s| s.root_id.clone())
    }

    /// Add a folder.
    pub fn add_folder(&self, parent: &str, name: &str) -> String {
        self.with(|s| s.add(parent, name, true, "", Vec::new()))
    }

    /// Add a file (`text/plain`).
    pub fn add_file(&self, parent: &str, name: &str, content: impl Into<Vec<u8>>) -> String {
        self.with(|s| s.add(parent, name, false, "text/plain", content.into()))
    }

    /// Replace a file's content (new cTag, eTag, hashes, size; a change).
    pub fn update_content(&self, id: &str, content: impl Into<Vec<u8>>) {
        self.with(|s| s.update_content(id, content.into()));
    }

    /// Rename (a change of the item only; descendants are not reported, as at Graph).
    pub fn rename(&self, id: &str, name: &str) {
        self.with(|s| s.rename(id, name));
    }

    /// Move under another folder (a change).
    pub fn move_to(&self, id: &str, parent: &str) {
        self.with(|s| s.move_to(id, parent));
    }

    /// Delete an item and everything below it (each gets a `deleted` change).
    pub fn delete(&self, id: &str) {
        self.with(|s| s.delete(id));
    }

    /// A file's content.
    pub fn content(&self, id: &str) -> Vec<u8> {
        self.with(|s| s.live(id).content.clone())
    }

    /// The item as a GET would return it (with `parentReference.path`).
    pub fn metadata(&self, id: &str) -> serde_json::Value {
        self.with(|s| s.item_json(id, true))
    }

    /// Most items per delta page (default 200), whatever `$top` asks.
    pub fn set_max_page(&self, n: usize) {
        self.with(|s| s.max_page = n.max(1));
    }

    /// Whether delta items carry `parentReference.path` from now on (default: no).
    pub fn set_paths_in_delta(&self, on: bool) {
        self.with(|s| s.paths_in_delta = on);
    }

    /// Make full delta rounds name this item twice: in its place and again at the end (as
    /// Graph does for an item that changes while a round runs).
    pub fn repeat_in_full_round(&self, id: &str) {
        self.with(|s| s.repeat_in_round.push(id.to_string()));
    }

    /// Invalidate every delta token issued so far: they answer 410 `resyncRequired`.
    pub fn invalidate_delta_tokens(&self) {
        self.with(|s| {
            s.seq += 1;
            s.oldest_valid = s.seq;
        });
    }

    /// Make the download server corrupt this file's bytes every time (same length).
    pub fn corrupt_downloads_of(&self, id: &str) {
        self.with(|s| s.corrupt.insert(id.to_string()));
    }

    /// Requests that reached the download server carrying `Authorization` (must stay 0).
    pub fn cdn_authorization_seen(&self) -> u64 {
        self.with(|s| s.cdn_authorization_seen)
    }

    /// An (access token, refresh token) pair, as after a consent with `offline_access`.
    pub fn issue_tokens(&self) -> (String, String) {
        self.with(|s| s.issue_tokens())
    }

    /// A grant of fresh tokens, valid for an hour.
    pub fn grant(&self) -> p8sync::oauth::Grant {
        let (access, refresh) = self.issue_tokens();
        p8sync::oauth::Grant {
            access_token: p8sync::secret::Secret::new(access),
            refresh_token: Some(p8sync::secret::Secret::new(refresh)),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            scopes: None,
        }
    }

    /// Expire every access token issued so far: Graph answers 401.
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.expire_access_tokens());
    }

    /// Kill every refresh token: refreshing answers 400 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.with(|s| s.revoke_refresh_tokens());
    }

    /// How long access tokens issued from now on live.
    pub fn set_access_token_lifetime(&self, d: Duration) {
        self.with(|s| s.oauth.lifetime = d);
    }

    /// The operator overrides that point the `onedrive` provider here: the API base, the
    /// OAuth endpoints and client, and the download server as an extra host (no credentials).
    pub fn overrides(&self) -> p8sync::config::ProviderOverrides {
        p8sync::config::ProviderOverrides {
            api_base: Some(self.api_base()),
            auth_url: Some(self.auth_url()),
            token_url: Some(self.token_url()),
            extra_hosts: vec![self.cdn_origin()],
            client_id: Some(Self::CLIENT_ID.into()),
            client_secret: Some(p8sync::secret::Secret::new(Self::CLIENT_SECRET)),
            ..Default::default()
        }
    }

    /// The same, as the environment of a `p8sync` process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("P8_ONEDRIVE_API_BASE", self.api_base()),
            ("P8_ONEDRIVE_AUTH_URL", self.auth_url()),
            ("P8_ONEDRIVE_TOKEN_URL", self.token_url()),
            ("P8_ONEDRIVE_ALLOWED_HOSTS", self.cdn_origin()),
            ("P8_ONEDRIVE_CLIENT_ID", Self::CLIENT_ID.into()),
            ("P8_ONEDRIVE_CLIENT_SECRET", Self::CLIENT_SECRET.into()),
        ]
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
