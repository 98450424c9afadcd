//! Google's OAuth endpoints: an authorize page that approves at once, the token endpoint
//! (code exchange with PKCE, refresh, optional rotation), revocation and userinfo.

use super::FakeDrive;
use super::faults::{Kind, Reply, finish, json_reply, pick};
use super::routes::{Params, Shared, lock};
use super::state::State;
use crate::fake_common::client_auth::basic_client;
use crate::fake_common::tokens::AccessTokens;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as Axum};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::Digest as _;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub(crate) const DEFAULT_SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

pub(crate) struct RefreshToken {
    alive: bool,
    grant: u64,
    scope: String,
}

struct Code {
    redirect_uri: String,
    challenge: Option<(String, String)>,
    offline: bool,
    scope: String,
    used: bool,
}

/// Tokens are tied to a grant (one consent); revoking any token of a grant revokes all of it.
pub(crate) struct OAuthState {
    /// access token -> its grant
    access: AccessTokens<u64>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, Code>,
    revoked_grants: HashSet<u64>,
    next_grant: u64,
    pub lifetime: Duration,
    pub rotate: bool,
    pub last_authorize: Option<Vec<(String, String)>>,
    /// Show a consent page with an "Allow" link instead of approving at once.
    pub consent_page: bool,
    /// The Google account the person signs in to at the consent screen (what userinfo says).
    pub email: String,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            access: AccessTokens::default(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            revoked_grants: HashSet::new(),
            next_grant: 1,
            lifetime: Duration::from_secs(3600),
            rotate: false,
            last_authorize: None,
            consent_page: false,
            email: "user@example.com".into(),
        }
    }
}

impl State {
    pub(crate) fn access_ok(&self, token: &str) -> bool {
        self.oauth
            .access
            .live(token)
            .is_some_and(|grant| !self.oauth.revoked_grants.contains(grant))
    }

    fn refresh_ok(&self, token: &str) -> Option<(u64, String)> {
        self.oauth
            .refresh
            .get(token)
            .filter(|t| t.alive && !self.oauth.revoked_grants.contains(&t.grant))
            .map(|t| (t.grant, t.scope.clone()))
    }

    fn new_access(&mut self, grant: u64) -> String {
        let token = format!("ya29.fake-{}", self.opaque("access", 60));
        self.oauth
            .access
            .issue(token.clone(), self.oauth.lifetime, grant);
        token
    }

    fn new_refresh(&mut self, grant: u64, scope: &str) -> String {
        let token = format!("1//fake-{}", self.opaque("refresh", 60));
        self.oauth.refresh.insert(
            token.clone(),
            RefreshToken {
                alive: true,
                grant,
                scope: scope.to_string(),
            },
        );
        token
    }

    fn new_grant(&mut self) -> u64 {
        self.oauth.next_grant += 1;
        self.oauth.next_grant
    }

    pub(crate) fn issue_tokens(&mut self) -> (String, String) {
        let grant = self.new_grant();
        let refresh = self.new_refresh(grant, DEFAULT_SCOPE);
        (self.new_access(grant), refresh)
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        self.oauth.access.expire_all();
    }

    pub(crate) fn revoke_refresh_tokens(&mut self) {
        for t in self.oauth.refresh.values_mut() {
            t.alive = false;
        }
    }

    fn token_response(&mut self, grant: u64, scope: &str, refresh: Option<String>) -> Reply {
        let access = self.new_access(grant);
        let mut body = json!({
            "access_token": access,
            "expires_in": self.oauth.lifetime.as_secs(),
            "token_type": "Bearer",
            "scope": scope,
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        json_reply(200, &body).header(
            "cache-control",
            "no-cache, no-store, max-age=0, must-revalidate",
        )
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn dead_grant() -> Reply {
    oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
}

fn html(status: u16, text: &str) -> Reply {
    Reply::bytes(
        status,
        "text/html; charset=utf-8",
        format!("<!doctype html><title>Error</title><p>{text}</p>"),
    )
}

/// `GET /o/oauth2/v2/auth`: approves at once and redirects back with a code.
pub(crate) async fn authorize(Axum(shared): Axum<Shared>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let reply = {
        let mut s = lock(&shared);
        Kind::Authorize.count(&mut s.counts);
        s.oauth.last_authorize = Some(params.pairs.clone());
        authorize_reply(&mut s, &params)
    };
    finish(reply, None).await
}

fn authorize_reply(s: &mut State, p: &Params) -> Reply {
    if p.get("client_id") != Some(FakeDrive::CLIENT_ID) {
        return html(
            400,
            "Error 401: invalid_client. The OAuth client was not found.",
        );
    }
    let Some(redirect) = p.get("redirect_uri") else {
        return html(
            400,
            "Error 400: invalid_request. Missing required parameter: redirect_uri",
        );
    };
    let Ok(mut url) = url::Url::parse(redirect) else {
        return html(
            400,
            "Error 400: invalid_request. Invalid parameter value for redirect_uri",
        );
    };
    if p.get("response_type") != Some("code") {
        return html(
            400,
            "Error 400: invalid_request. Only response_type=code is supported",
        );
    }
    let Some(scope) = p.get("scope").filter(|s| !s.trim().is_empty()) else {
        return html(
            400,
            "Error 400: invalid_request. Missing required parameter: scope",
        );
    };
    let challenge = match (p.get("code_challenge"), p.get("code_challenge_method")) {
        (None, _) => None,
        (Some(c), m) => {
            let method = m.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return html(
                    400,
                    "Error 400: invalid_request. Invalid code_challenge_method",
                );
            }
            Some((c.to_string(), method.to_string()))
        }
    };
    let code = format!("4/fake-{}", s.opaque("code", 40));
    s.oauth.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.to_string(),
            challenge,
            offline: p.get("access_type") == Some("offline"),
            scope: scope.to_string(),
            used: false,
        },
    );
    {
        let mut q = url.query_pairs_mut();
        if let Some(state) = p.get("state") {
            q.append_pair("state", state);
        }
        q.append_pair("code", &code);
        q.append_pair("scope", scope);
    }
    if s.oauth.consent_page {
        // Whoever has this page can approve: as at Google, the consent screen does not know
        // which browser the app meant it for.
        let href = url.to_string().replace('&', "&amp;").replace('"', "&quot;");
        return Reply::bytes(
            200,
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><title>Sign in - Google Accounts</title>\
                 <p>p8sync wants to access your Google Account</p>\
                 <a id=\"allow\" href=\"{href}\">Allow</a>"
            ),
        );
    }
    Reply::bytes(302, "text/html; charset=utf-8", "").header("location", url.to_string())
}

/// The client named by the form or by HTTP Basic, if it is ours.
fn client_ok(form: &Params, headers: &HeaderMap) -> bool {
    if let Some(id) = form.get("client_id") {
        return id == FakeDrive::CLIENT_ID
            && form.get("client_secret") == Some(FakeDrive::CLIENT_SECRET);
    }
    basic_client(headers).is_some_and(|(id, secret)| {
        id == FakeDrive::CLIENT_ID && secret == FakeDrive::CLIENT_SECRET
    })
}

/// `POST /token`
pub(crate) async fn token(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let kind = match form.get("grant_type") {
        Some("authorization_code") => Kind::TokenCode,
        Some("refresh_token") => Kind::TokenRefresh,
        _ => Kind::TokenOther,
    };
    let (reply, fault) = {
        let mut s = lock(&shared);
        kind.count(&mut s.counts);
        if !client_ok(&form, &headers) {
            (
                oauth_error(401, "invalid_client", "The OAuth client was not found."),
                None,
            )
        } else {
            let fault = pick(&mut s.rules, kind);
            match fault.as_ref().and_then(super::faults::fault_reply) {
                Some(r) => (r, None),
                None => (token_reply(&mut s, kind, &form), fault),
            }
        }
    };
    finish(reply, fault).await
}

fn token_reply(s: &mut State, kind: Kind, form: &Params) -> Reply {
    match kind {
        Kind::TokenCode => {
            let Some(code) = form.get("code") else {
                return oauth_error(400, "invalid_request", "Missing required parameter: code");
            };
            let Some(c) = s.oauth.codes.get_mut(code) else {
                return oauth_error(400, "invalid_grant", "Malformed auth code.");
            };
            if c.used {
                return oauth_error(400, "invalid_grant", "Bad Request");
            }
            // A code is spent by any attempt to redeem it, as at Google.
            c.used = true;
            if form.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error(400, "redirect_uri_mismatch", "Bad Request");
            }
            if let Some((challenge, method)) = &c.challenge {
                let Some(verifier) = form.get("code_verifier") else {
                    return oauth_error(400, "invalid_grant", "Missing code verifier.");
                };
                let computed = if method == "S256" {
                    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if &computed != challenge {
                    return oauth_error(400, "invalid_grant", "Invalid code verifier.");
                }
            }
            let (offline, scope) = (c.offline, c.scope.clone());
            let grant = s.new_grant();
            let refresh = offline.then(|| s.new_refresh(grant, &scope));
            s.token_response(grant, &scope, refresh)
        }
        Kind::TokenRefresh => {
            let Some(token) = form.get("refresh_token") else {
                return oauth_error(
                    400,
                    "invalid_request",
                    "Missing required parameter: refresh_token",
                );
            };
            let Some((grant, scope)) = s.refresh_ok(token) else {
                return dead_grant();
            };
            let rotated = s.oauth.rotate.then(|| {
                if let Some(old) = s.oauth.refresh.get_mut(token) {
                    old.alive = false;
                }
                s.new_refresh(grant, &scope)
            });
            s.token_response(grant, &scope, rotated)
        }
        _ => oauth_error(
            400,
            "unsupported_grant_type",
            &format!(
                "Invalid grant_type: {}",
                form.get("grant_type").unwrap_or("")
            ),
        ),
    }
}

/// `POST /revoke?token=...` (or the token in a form body).
pub(crate) async fn revoke(
    Axum(shared): Axum<Shared>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Response {
    let query = Params::parse(q.as_deref());
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let token = query.get("token").or(form.get("token")).map(str::to_string);
    let reply = {
        let mut s = lock(&shared);
        Kind::Revoke.count(&mut s.counts);
        let grant = token.as_deref().and_then(|t| {
            if s.access_ok(t) {
                s.oauth.access.live(t).copied()
            } else {
                s.refresh_ok(t).map(|(g, _)| g)
            }
        });
        match grant {
            Some(g) => {
                s.oauth.revoked_grants.insert(g);
                json_reply(200, &json!({}))
            }
            None => oauth_error(400, "invalid_token", "Token expired or revoked"),
        }
    };
    finish(reply, None).await
}

/// `GET /oauth2/v3/userinfo`
pub(crate) async fn userinfo(Axum(shared): Axum<Shared>, headers: HeaderMap) -> Response {
    let reply = {
        let mut s = lock(&shared);
        Kind::Userinfo.count(&mut s.counts);
        match super::routes::bearer(&headers) {
            Some(t) if s.access_ok(t) => json_reply(
                200,
                &json!({"sub": "1234", "email": s.oauth.email, "email_verified": true}),
            ),
            _ => oauth_error(401, "invalid_request", "Invalid Credentials").header(
                "www-authenticate",
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        }
    };
    finish(reply, None).await
}
