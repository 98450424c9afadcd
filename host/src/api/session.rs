//! Browser sessions, for the web console: an API key is exchanged once for a random session
//! token held in an HttpOnly, `SameSite=Lax`, expiring cookie; only the token's hash is stored,
//! and the session dies with its key. Requests that change something carry a CSRF token
//! derived from the session token (a hidden form field, or `X-CSRF-Token` from script), which
//! another site can't know.

use super::AppState;
use super::login::{https, sent_cookie, set_cookie};
use crate::store::access::{ApiKeyRecord, hash_key};
use axum::http::HeaderMap;

/// The session cookie's name (`__Host-` prefixed when the public URL is HTTPS).
pub const COOKIE: &str = "p8sync_session";
/// How long a session lasts.
pub const TTL: chrono::Duration = chrono::Duration::hours(12);
/// The header script sends the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The key it signed in with (its user, and whether it is an admin key).
    pub key: ApiKeyRecord,
    /// The token every change must carry.
    pub csrf: String,
    token_hash: String,
}

/// The CSRF token of the session whose token is `token`: a hash no other site can compute.
fn csrf_of(token: &str) -> String {
    hash_key(&format!("csrf:{token}"))
}

impl Session {
    /// The session the request's cookie names, if it is live.
    pub async fn from_headers(state: &AppState, headers: &HeaderMap) -> Option<Session> {
        let (_, token) = sent_cookie(headers, COOKIE)?;
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let token_hash = hash_key(&token);
        let key = state.store.session_key(&token_hash).await.ok()??;
        Some(Session {
            key,
            csrf: csrf_of(&token),
            token_hash,
        })
    }

    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        sent.len() == self.csrf.len()
            && sent
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }

    /// End it (signing out).
    pub async fn end(&self, state: &AppState) -> Result<(), crate::store::StoreError> {
        state.store.delete_session(&self.token_hash).await
    }
}

/// Start a session for `key`: the `Set-Cookie` header value for the browser.
pub async fn start(
    state: &AppState,
    key: &ApiKeyRecord,
) -> Result<String, crate::store::StoreError> {
    let token = crate::oauth::login::random_token();
    state
        .store
        .put_session(&hash_key(&token), key.id, chrono::Utc::now() + TTL)
        .await?;
    Ok(set_cookie(
        state,
        &cookie_name(state),
        &token,
        TTL.num_seconds(),
    ))
}

/// The `Set-Cookie` that removes the session cookie.
pub fn clear(state: &AppState) -> String {
    set_cookie(state, &cookie_name(state), "", 0)
}

fn cookie_name(state: &AppState) -> String {
    if https(state) {
        format!("__Host-{COOKIE}")
    } else {
        COOKIE.to_string()
    }
}
