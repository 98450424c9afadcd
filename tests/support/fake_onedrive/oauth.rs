//! The Microsoft identity platform's v2.0 endpoints, as far as a sync needs them: an
//! authorize page that approves at once, and the token endpoint (code exchange with PKCE,
//! refresh). Like the real one, every refresh returns a new refresh token (the old one keeps
//! working), and a refused refresh is 400 `invalid_grant` with an `AADSTS` description.

use super::FakeOneDrive;
use super::routes::{Params, Reply, Shared, json_reply, lock};
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
use std::time::{Duration, Instant};

pub(crate) const SCOPE: &str = "offline_access Files.Read.All User.Read";

struct Code {
    redirect_uri: String,
    challenge: Option<(String, String)>,
    scope: String,
    used: bool,
}

pub(crate) struct OAuthState {
    access: AccessTokens,
    refresh: HashSet<String>,
    codes: HashMap<String, Code>,
    next: u64,
    pub lifetime: Duration,
}

impl Default for OAuthState {
    fn default() -> Self {
        OAuthState {
            access: AccessTokens::default(),
            refresh: HashSet::new(),
            codes: HashMap::new(),
            next: 0,
            lifetime: Duration::from_secs(3600),
        }
    }
}

impl State {
    pub(crate) fn access_ok(&self, token: &str) -> bool {
        self.oauth.access.live(token).is_some()
    }

    fn opaque(&mut self, prefix: &str) -> String {
        self.oauth.next += 1;
        let digest =
            sha2::Sha256::digest(format!("{prefix}-{}-{:?}", self.oauth.next, Instant::now()));
        format!("{prefix}{}", URL_SAFE_NO_PAD.encode(digest))
    }

    pub(crate) fn issue_tokens(&mut self) -> (String, String) {
        let access = self.opaque("EwB-fake-access.");
        let refresh = self.opaque("M.C-fake-refresh.");
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

    fn token_response(&mut self, scope: &str) -> Reply {
        let (access, refresh) = self.issue_tokens();
        let lifetime = self.oauth.lifetime.as_secs();
        json_reply(
            200,
            &json!({
                "token_type": "Bearer",
                "scope": scope,
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": access,
                "refresh_token": refresh,
            }),
        )
    }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({"error": error, "error_description": description, "error_codes": [70000]}),
    )
}

/// `GET /common/oauth2/v2.0/authorize`: approves at once and redirects back with a code.
pub(crate) async fn authorize(Axum(shared): Axum<Shared>, RawQuery(q): RawQuery) -> Response {
    let p = Params::parse(q.as_deref());
    let reply = {
        let mut s = lock(&shared);
        s.counts.authorize += 1;
        authorize_reply(&mut s, &p)
    };
    reply.into_response()
}

fn authorize_reply(s: &mut State, p: &Params) -> Reply {
    if p.get("client_id") != Some(FakeOneDrive::CLIENT_ID) {
        return oauth_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found.",
        );
    }
    let (Some(redirect), Some(scope)) = (p.get("redirect_uri"), p.get("scope")) else {
        return oauth_error(
            400,
            "invalid_request",
            "AADSTS900144: redirect_uri and scope are required.",
        );
    };
    let Ok(mut url) = url::Url::parse(redirect) else {
        return oauth_error(400, "invalid_request", "AADSTS50011: bad redirect_uri.");
    };
    let challenge = p.get("code_challenge").map(|c| {
        (
            c.to_string(),
            p.get("code_challenge_method")
                .unwrap_or("plain")
                .to_string(),
        )
    });
    let code = s.opaque("M.C-fake-code.");
    s.oauth.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect.to_string(),
            challenge,
            scope: scope.to_string(),
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
    json_reply(302, &json!({})).header("location", url.to_string())
}

fn client_ok(form: &Params, headers: &HeaderMap) -> bool {
    if let Some(id) = form.get("client_id") {
        return id == FakeOneDrive::CLIENT_ID
            && form
                .get("client_secret")
                .is_none_or(|s| s == FakeOneDrive::CLIENT_SECRET);
    }
    basic_client(headers).is_some_and(|(id, secret)| {
        id == FakeOneDrive::CLIENT_ID && secret == FakeOneDrive::CLIENT_SECRET
    })
}

/// `POST /common/oauth2/v2.0/token`
pub(crate) async fn token(Axum(shared): Axum<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = Params::parse(std::str::from_utf8(&body).ok());
    let reply = {
        let mut s = lock(&shared);
        match form.get("grant_type") {
            Some("authorization_code") => s.counts.token_code += 1,
            Some("refresh_token") => s.counts.token_refresh += 1,
            _ => {}
        }
        if !client_ok(&form, &headers) {
            oauth_error(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.",
            )
        } else if let Some(r) = super::routes::fault_for(&mut s, super::Target::Token) {
            r
        } else {
            token_reply(&mut s, &form)
        }
    };
    reply.into_response()
}

fn token_reply(s: &mut State, form: &Params) -> Reply {
    match form.get("grant_type") {
        Some("authorization_code") => {
            let Some(c) = form.get("code").and_then(|c| s.oauth.codes.get_mut(c)) else {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS70000: The provided authorization code is invalid.",
                );
            };
            if c.used {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS54005: OAuth2 Authorization code was already redeemed.",
                );
            }
            c.used = true;
            if form.get("redirect_uri") != Some(c.redirect_uri.as_str()) {
                return oauth_error(
                    400,
                    "invalid_grant",
                    "AADSTS50148: The redirect_uri does not match.",
                );
            }
            if let Some((challenge, method)) = &c.challenge {
                let verifier = form.get("code_verifier").unwrap_or("");
                let computed = if method == "S256" {
                    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
                } else {
                    verifier.to_string()
                };
                if &computed != challenge {
                    return oauth_error(
                        400,
                        "invalid_grant",
                        "AADSTS50148: The code_verifier does not match the code_challenge.",
                    );
                }
            }
            let scope = c.scope.clone();
            s.token_response(&scope)
        }
        Some("refresh_token") => match form.get("refresh_token") {
            Some(t) if s.oauth.refresh.contains(t) => s.token_response(SCOPE),
            _ => oauth_error(
                400,
                "invalid_grant",
                "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.",
            ),
        },
        other => oauth_error(
            400,
            "unsupported_grant_type",
            &format!(
                "AADSTS70003: The app requested an unsupported grant type '{}'.",
                other.unwrap_or("")
            ),
        ),
    }
}
