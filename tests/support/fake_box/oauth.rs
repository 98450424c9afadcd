//! Box's OAuth 2.0 endpoints, as far as a sync needs them: an authorize page that approves at
//! once, the token endpoint (code exchange with optional PKCE, refresh) and revocation. As at
//! Box, the client authenticates in the form body only (a Basic header is not read), and a
//! refresh token is single use: each refresh returns a new pair and the old refresh token is
//! dead at once (400 `invalid_grant`).

use super::FakeBox;
use super::routes::{Params, Reply, Shared, fault_for, json_reply, lock};
use super::state::State;
use crate::fake_common::tokens::AccessTokens;
use axum::body::Bytes;
use axum::extract::{RawQuery, State as Axum};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::Digest as _;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

struct Code {
    redirect_uri: String,
    /// (challenge, method) when the authorize request carried PKCE.
    challenge: Option<(String, String)>,
    used: bool,
}

pub(crate) struct OAuthState {
    access: AccessTokens,
    /// Access tokens revoked through `/oauth2/revoke` (the shared store cannot forget one).
    revoked: HashSet<String>,
    /// Live refresh tokens; a used one is removed.
    refresh: HashSet<String>,
    codes: HashMap<String, Code>,
    pub lifetime: Duration,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            access: AccessTokens::default(),
            revoked: HashSet::new(),
            refresh: HashSet::new(),
            codes: HashMap::new(),
            lifetime: Duration::from_secs(3600),
        }
    }
}

/// Box's tokens are 32 alphanumerics.
fn opaque() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl State {
    pub(crate) fn access_ok(&self, token: &str) -> bool {
        self.oauth.access.live(token).is_some() && !self.oauth.revoked.contains(token)
    }

    pub(crate) fn refresh_live(&self, token: &str) -> bool {
        self.oauth.refresh.contains(token)
    }

    pub(crate) fn issue_tokens(&mut self) -> (String, String) {
        let (access, refresh) = (opaque(), opaque());
        self.oauth
            .access
            .issue(access.clone(), self.oauth.lifetime, ());
        self.oauth.refresh.insert(refresh.clone());
        (access, refresh)
    }

    pub(crate) fn expire_access_tokens(&mut self) {
        self.oauth.access.expire_all();
    }

    pub(crate) fn revoke_refresh_tokens(&mut self) {
        self.oauth.refresh.clear();
    }

    fn token_response(&mut self) -> Reply {
        let (access, refresh) = self.issue_tokens();
        json_reply(
            200,
            &json!({
                "access_token": access,
                "expires_in": self.oauth.lifetime.as_secs(),
                "token_type": "bearer",
                "refresh_token": refresh,
                "restricted_to": [],
            }),
        )
    }
}

fn oauth_error(error: &str, description: &str) -> Reply {
    json_reply(
        400,
        &json!({"error": error, "error_description": description}),
    )
}

/// `GET /api/oauth2/authorize`: approves at once and redirects back with a code.
pub(crate) async fn authorize(Axum(shared): Axum<Shared>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q.as_deref());
    let mut s = lock(&shared);
    s.counts.authorize += 1;
    authorize_reply(&mut s, &p).into_response()
}

fn authorize_reply(s: &mut State, p: &Params) -> Reply {
    if p.get("response_type") != Some("code") {
        return oauth_error("unsupported_response_type", "response_type must be code");
    }
    if p.get("client_id") != Some(FakeBox::CLIENT_ID) {
        return invalid_client();
    }
    let Some(Ok(mut url)) = p.get("redirect_uri").map(url::Url::parse) else {
        return oauth_error("invalid_request", "Invalid redirect_uri");
    };
    let challenge = p.get("code_challenge").map(|c| {
        let method = p.get("code_challenge_method").unwrap_or("plain");
        (c.to_string(), method.to_string())
    });
    let code = opaque();
    let redirect_uri = p.get("redirect_uri").unwrap_or_default().to_string();
    s.oauth.codes.insert(
        code.clone(),
        Code {
            redirect_uri,
            challenge,
            used: false,
        },
    );
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(state) = p.get("state") {
            q.append_pair("state", state);
        }
    }
    Reply::bytes(302, "text/html", Vec::new()).header("location", url.to_string())
}

/// Box reads the client's id and secret from the form body only.
fn client_ok(form: &Params) -> bool {
    form.get("client_id") == Some(FakeBox::CLIENT_ID)
        && form.get("client_secret") == Some(FakeBox::CLIENT_SECRET)
}

fn invalid_client() -> Reply {
    oauth_error("invalid_client", "The client credentials are invalid")
}

/// `POST /oauth2/token`
pub(crate) async fn token(Axum(shared): Axum<Shared>, body: Bytes) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let mut s = lock(&shared);
    match form.get("grant_type") {
        Some("authorization_code") => s.counts.token_code += 1,
        Some("refresh_token") => s.counts.token_refresh += 1,
        _ => {}
    }
    let reply = if !client_ok(&form) {
        invalid_client()
    } else if let Some(r) = fault_for(&mut s, super::Target::Token) {
        r
    } else {
        token_reply(&mut s, &form)
    };
    reply.into_response()
}

fn token_reply(s: &mut State, form: &Params) -> Reply {
    match form.get("grant_type") {
        Some("authorization_code") => {
            let bad = || {
                oauth_error(
                    "invalid_grant",
                    "Auth code doesn't exist or is invalid for the client",
                )
            };
            let Some(c) = form.get("code").and_then(|c| s.oauth.codes.get_mut(c)) else {
                return bad();
            };
            if c.used {
                return bad();
            }
            c.used = true;
            if form.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error("invalid_grant", "The redirect_uri does not match");
            }
            if let Some((challenge, method)) = &c.challenge {
                let verifier = form.get("code_verifier").unwrap_or("");
                let computed = if method == "S256" {
                    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if &computed != challenge {
                    return oauth_error("invalid_grant", "The code_verifier is invalid");
                }
            }
            s.token_response()
        }
        // Rotation: the refresh token is spent by this call, whatever comes of it later.
        Some("refresh_token") => match form.get("refresh_token") {
            Some(t) if s.oauth.refresh.remove(t) => s.token_response(),
            _ => {
                s.counts.token_refresh_refused += 1;
                oauth_error("invalid_grant", "Refresh token has expired")
            }
        },
        _ => oauth_error("unsupported_grant_type", "Grant type is not supported"),
    }
}

/// `POST /oauth2/revoke`: kills the access or refresh token named; 200 with no body.
pub(crate) async fn revoke(Axum(shared): Axum<Shared>, body: Bytes) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let mut s = lock(&shared);
    s.counts.revoke += 1;
    if !client_ok(&form) {
        return invalid_client().into_response();
    }
    if let Some(t) = form.get("token") {
        s.oauth.refresh.remove(t);
        s.oauth.revoked.insert(t.to_string());
    }
    Reply::bytes(200, "text/plain", Vec::new()).into_response()
}
