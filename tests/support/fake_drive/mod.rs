//! A fake Google Drive API v3 and Google OAuth 2.0 server for end-to-end tests, faithful to
//! the behaviour in shared/reference/provider-apis.md: real `q` parsing, `fields` selection,
//! short and empty pages, hidden shared drives, Range, the export cap, a change log, and
//! deterministic fault injection.
//!
//! ```text
//! let drive = FakeDrive::start().await;
//! let docs = drive.add_folder("root", "Docs");
//! drive.add_file(&[&docs], "a.txt", "text/plain", "hello");
//! let (access, _refresh) = drive.issue_tokens();
//! // point the provider at drive.api_base() / drive.token_url() with that token
//! ```
//!
//! Things a provider must cope with here, on purpose: files.list pages follow the pattern
//! full, half, empty (with `nextPageToken`), full, half, empty... so only results that span
//! more than one and a half pages see a short or empty page; trashed files are listed unless
//! `q` says `trashed = false`; `name contains` matches prefixes (of the name or of a word in
//! it), not substrings.

mod faults;
pub mod fields;
mod oauth;
pub mod query;
mod routes;
mod state;

use crate::fake_common::server::{Port, Served};
use state::{Body, FOLDER, SHORTCUT, State, WsKind};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Which requests an injected fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// files.list
    List,
    /// files.get for metadata
    Get,
    /// files.get with `alt=media`
    Media,
    /// files.export
    Export,
    /// A URL from `exportLinks`
    ExportLink,
    /// changes.list
    Changes,
    /// changes.getStartPageToken
    StartPageToken,
    /// drives.list and drives.get
    Drives,
    /// about.get
    About,
    /// The OAuth token endpoint (code exchange and refresh)
    Token,
    /// Every Drive API request (everything but OAuth)
    AnyApi,
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 `rateLimitExceeded`, with `Retry-After` when given.
    RateLimit429 {
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u32>,
    },
    /// 403 `userRateLimitExceeded` (domain `usageLimits`), with `Retry-After` when given.
    RateLimit403 {
        /// Seconds for the `Retry-After` header.
        retry_after: Option<u32>,
    },
    /// 500 `backendError`.
    Status500,
    /// 503 `backendError`.
    Status503,
    /// Answer normally, after this long.
    Slow(Duration),
    /// Send the status, the headers with the full `Content-Length` and about half the body,
    /// then close the connection (meant for downloads; any other reply is cut the same way).
    DropMidDownload,
}

/// Requests received, per kind, whether they succeeded or not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// files.list
    pub list: u64,
    /// files.get for metadata
    pub get: u64,
    /// files.get with `alt=media`
    pub media: u64,
    /// files.export
    pub export: u64,
    /// `exportLinks` URLs
    pub export_link: u64,
    /// changes.list
    pub changes: u64,
    /// changes.getStartPageToken
    pub start_page_token: u64,
    /// drives.list and drives.get
    pub drives: u64,
    /// about.get
    pub about: u64,
    /// Token requests with `grant_type=authorization_code`
    pub token_code: u64,
    /// Token requests with `grant_type=refresh_token`
    pub token_refresh: u64,
    /// Token requests with any other or no grant type
    pub token_other: u64,
    /// Authorize page visits
    pub authorize: u64,
    /// Revocations
    pub revoke: u64,
    /// userinfo requests
    pub userinfo: u64,
    /// Every Drive API request, `exportLinks` included (OAuth excluded)
    pub total_api: u64,
}

struct Inner {
    state: Arc<Mutex<State>>,
    server: Served,
}

/// A running fake; clones share it, and it stops when the last clone is dropped.
#[derive(Clone)]
pub struct FakeDrive {
    inner: Arc<Inner>,
}

impl FakeDrive {
    /// The OAuth client id the fake accepts.
    pub const CLIENT_ID: &str = "fake-client-id";
    /// The OAuth client secret the fake accepts.
    pub const CLIENT_SECRET: &str = "fake-client-secret";

    /// Start serving on 127.0.0.1 at a free port.
    pub async fn start() -> FakeDrive {
        let port = Port::bind().await;
        let state = Arc::new(Mutex::new(State::new(port.port)));
        let server = port.serve(routes::router(state.clone()));
        FakeDrive {
            inner: Arc::new(Inner { state, server }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut routes::lock(&self.inner.state))
    }

    /// `http://127.0.0.1:PORT`
    pub fn origin(&self) -> String {
        self.inner.server.origin()
    }

    /// The Drive API base, `http://127.0.0.1:PORT/drive/v3`.
    pub fn api_base(&self) -> String {
        format!("{}/drive/v3", self.origin())
    }

    /// The OAuth authorize endpoint.
    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.origin())
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.origin())
    }

    /// The OAuth revocation endpoint.
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.origin())
    }

    /// The OpenID userinfo endpoint, answering `{"sub","email","email_verified"}`.
    pub fn userinfo_url(&self) -> String {
        format!("{}/oauth2/v3/userinfo", self.origin())
    }

    /// The id of My Drive's root folder (`'root'` works as an alias everywhere).
    pub fn root_id(&self) -> String {
        self.with(|s| s.root_id.clone())
    }

    /// Add a folder.
    pub fn add_folder(&self, parent: &str, name: &str) -> String {
        self.with(|s| s.add(&[parent], name, FOLDER, Body::Folder))
    }

    /// Add a file with binary content under one or more parents.
    pub fn add_file(
        &self,
        parents: &[&str],
        name: &str,
        mime: &str,
        content: impl Into<Vec<u8>>,
    ) -> String {
        assert!(
            !mime.starts_with("application/vnd.google-apps."),
            "fake drive: use add_workspace/add_folder/add_shortcut for {mime}"
        );
        let content = content.into();
        self.with(|s| {
            let body = s.binary_body(content);
            s.add(parents, name, mime, body)
        })
    }

    /// Add a Google Workspace file; `kind` is document, spreadsheet, presentation, drawing,
    /// form, site or map.
    pub fn add_workspace(&self, parent: &str, name: &str, kind: &str, text: &str) -> String {
        let kind = WsKind::parse(kind)
            .unwrap_or_else(|| panic!("fake drive: unknown workspace kind {kind}"));
        let body = Body::Workspace {
            kind,
            text: text.to_string(),
        };
        self.with(|s| s.add(&[parent], name, kind.mime(), body))
    }

    /// Make files.export of this document fail with 403 `exportSizeLimitExceeded`
    /// (its `exportLinks` still work).
    pub fn set_export_oversized(&self, id: &str) {
        self.with(|s| {
            let seq = s.ids[s.resolve(id)];
            s.files.get_mut(&seq).expect("indexed").oversized = true;
        });
    }

    /// What an export of `id` to `mime` returns: `EXPORT {mime}\n{text}`.
    pub fn export_bytes(&self, id: &str, mime: &str) -> Vec<u8> {
        self.with(|s| s.export_bytes(id, mime))
    }

    /// Add a shortcut; the target need not exist (a dangling shortcut).
    pub fn add_shortcut(&self, parent: &str, name: &str, target_id: &str) -> String {
        self.with(|s| {
            let target_mime = s.get(target_id).map(|t| t.mime.clone());
            let body = Body::Shortcut {
                target_id: target_id.to_string(),
                target_mime,
            };
            s.add(&[parent], name, SHORTCUT, body)
        })
    }

    /// Add a shared drive; its id is also the id of its root folder. Like real ones (and
    /// unlike file ids) the id is 19 characters starting with `0A`.
    pub fn add_shared_drive(&self, name: &str) -> String {
        self.with(|s| s.add_shared_drive(name))
    }

    /// Flag a file as malware/spam: `alt=media` needs `acknowledgeAbuse=true`.
    pub fn mark_abusive(&self, id: &str) {
        self.with(|s| {
            let seq = s.ids[s.resolve(id)];
            s.files.get_mut(&seq).expect("indexed").abusive = true;
        });
    }

    /// Make `alt=media` of a file fail with 403 `downloadQuotaExceeded`.
    pub fn mark_download_quota_exceeded(&self, id: &str) {
        self.with(|s| {
            let seq = s.ids[s.resolve(id)];
            s.files.get_mut(&seq).expect("indexed").quota_exceeded = true;
        });
    }

    /// Replace a binary file's content (new checksums, size, revision; version + 1;
    /// modifiedTime now; a change).
    pub fn update_content(&self, id: &str, content: impl Into<Vec<u8>>) {
        let content = content.into();
        self.with(|s| {
            assert!(
                matches!(s.get(id).map(|f| &f.body), Some(Body::Binary { .. })),
                "fake drive: {id} is not a binary file"
            );
            let body = s.binary_body(content);
            s.mutate(id, true, |f| f.body = body);
        });
    }

    /// Replace a Google Workspace file's text (version + 1; modifiedTime now; a change).
    pub fn update_workspace_text(&self, id: &str, text: &str) {
        self.with(|s| {
            s.mutate(id, true, |f| match &mut f.body {
                Body::Workspace { text: t, .. } => *t = text.to_string(),
                _ => panic!("fake drive: {} is not a Google Workspace file", f.id),
            })
        });
    }

    /// Rename (version + 1 and a change; modifiedTime stays).
    pub fn rename(&self, id: &str, name: &str) {
        self.with(|s| {
            s.mutate(id, false, |f| {
                f.name = name.to_string();
                f.name_lower = name.to_lowercase();
            })
        });
    }

    /// Replace the parents (version + 1 and a change; a move into a shared drive carries
    /// the subtree's driveId along).
    pub fn move_to(&self, id: &str, parents: &[&str]) {
        self.with(|s| s.set_parents(id, parents));
    }

    /// Move to the trash (explicitlyTrashed); descendants whose parents are all trashed are
    /// trashed implicitly. Each gets a change with `removed:false`, `file.trashed:true`.
    pub fn trash(&self, id: &str) {
        self.with(|s| s.trash(id));
    }

    /// Delete for good, with descendants that have no other parent; each gets a change with
    /// `removed:true` and no file.
    pub fn delete(&self, id: &str) {
        self.with(|s| s.delete(id));
    }

    /// A file's content (for Google Workspace files, its text).
    pub fn content(&self, id: &str) -> Vec<u8> {
        self.with(|s| match s.get(id).map(|f| &f.body) {
            Some(Body::Binary { data, .. }) => data.to_vec(),
            Some(Body::Workspace { text, .. }) => text.as_bytes().to_vec(),
            Some(_) => panic!("fake drive: {id} has no content"),
            None => panic!("fake drive: no file {id}"),
        })
    }

    /// A file's current metadata, every field, as files.get with `fields=*` would return it.
    pub fn metadata(&self, id: &str) -> Option<serde_json::Value> {
        self.with(|s| s.get(id).map(|f| s.file_json(f)))
    }

    /// Ids of every file and folder (roots excluded), in creation order.
    pub fn all_ids(&self) -> Vec<String> {
        self.with(|s| {
            s.files
                .values()
                .filter(|f| !f.is_root)
                .map(|f| f.id.clone())
                .collect()
        })
    }

    /// An (access token, refresh token) pair, as if the user had consented with offline access.
    pub fn issue_tokens(&self) -> (String, String) {
        self.with(|s| s.issue_tokens())
    }

    /// The operator overrides that point the `google_drive` provider (API and OAuth) here.
    pub fn overrides(&self) -> p8sync::config::ProviderOverrides {
        p8sync::config::ProviderOverrides {
            api_base: Some(self.api_base()),
            auth_url: Some(self.auth_url()),
            token_url: Some(self.token_url()),
            revoke_url: Some(self.revoke_url()),
            userinfo_url: Some(self.userinfo_url()),
            client_id: Some(Self::CLIENT_ID.into()),
            client_secret: Some(p8sync::secret::Secret::new(Self::CLIENT_SECRET)),
            ..Default::default()
        }
    }

    /// The same, as the environment of a `p8sync` process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("P8_GOOGLE_DRIVE_API_BASE", self.api_base()),
            ("P8_GOOGLE_DRIVE_AUTH_URL", self.auth_url()),
            ("P8_GOOGLE_DRIVE_TOKEN_URL", self.token_url()),
            ("P8_GOOGLE_DRIVE_REVOKE_URL", self.revoke_url()),
            ("P8_GOOGLE_DRIVE_USERINFO_URL", self.userinfo_url()),
            ("GOOGLE_CLIENT_ID", Self::CLIENT_ID.into()),
            ("GOOGLE_CLIENT_SECRET", Self::CLIENT_SECRET.into()),
        ]
    }

    /// A grant of fresh tokens, as the token endpoint would return it after a consent with
    /// offline access (valid for an hour).
    pub fn grant(&self) -> p8sync::oauth::Grant {
        let (access, refresh) = self.issue_tokens();
        p8sync::oauth::Grant {
            access_token: p8sync::secret::Secret::new(access),
            refresh_token: Some(p8sync::secret::Secret::new(refresh)),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            scopes: None,
        }
    }

    /// How long access tokens issued from now on live (default 3600 s); `expires_in` says so.
    pub fn set_access_token_lifetime(&self, d: Duration) {
        self.with(|s| s.oauth.lifetime = d);
    }

    /// Expire every access token issued so far: the API answers 401 `authError`.
    pub fn expire_access_tokens(&self) {
        self.with(|s| s.expire_access_tokens());
    }

    /// Kill every refresh token issued so far: refreshing answers 400 `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.with(|s| s.revoke_refresh_tokens());
    }

    /// Make refreshes return a new refresh token and retire the one that was used.
    pub fn set_rotate_refresh_tokens(&self, on: bool) {
        self.with(|s| s.oauth.rotate = on);
    }

    /// Show a consent page with an "Allow" link (`#allow`) instead of approving at once, so a
    /// browser test can stop at the consent screen, or hand it to someone else.
    pub fn set_consent_page(&self, on: bool) {
        self.with(|s| s.oauth.consent_page = on);
    }

    /// Who signs in at the consent screen from now on (the email userinfo reports).
    pub fn set_signed_in_email(&self, email: &str) {
        self.with(|s| s.oauth.email = email.to_string());
    }

    /// The query parameters of the last authorize request.
    pub fn last_authorize_params(&self) -> Option<Vec<(String, String)>> {
        self.with(|s| s.oauth.last_authorize.clone())
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

    /// The current `startPageToken`, without a request.
    pub fn start_page_token(&self) -> String {
        self.with(|s| (s.changes.len() + 1).to_string())
    }
}
