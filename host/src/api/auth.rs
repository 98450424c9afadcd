//! Who is calling: a Bearer API key, looked up by its hash. A caller sees and changes only
//! its own user's data; an admin key sees everyone's.

use super::AppState;
use super::error::ApiError;
use crate::store::access::hash_key;
use crate::store::ids::UserId;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// The user the key acts as.
    pub user: UserId,
    /// The key is an admin key.
    pub admin: bool,
}

impl Caller {
    /// Whether the caller may see or change data owned by `owner`.
    pub fn owns(&self, owner: UserId) -> bool {
        self.admin || self.user == owner
    }

    /// Nothing, for an admin key; 403 saying `why` for any other.
    pub fn require_admin(&self, why: &str) -> Result<(), ApiError> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, why))
        }
    }

    /// Whose data the caller may see: `None` for an admin (anyone's), else their own.
    pub fn owner(&self) -> Option<UserId> {
        (!self.admin).then_some(self.user)
    }

    /// The user whose data a listing shows: the caller's own; an admin's choice (`None`: all).
    pub fn scope(&self, asked: Option<UserId>) -> Result<Option<UserId>, ApiError> {
        match (self.admin, asked) {
            (true, asked) => Ok(asked),
            (false, None) => Ok(Some(self.user)),
            (false, Some(u)) if u == self.user => Ok(Some(u)),
            // Asking for another user is not a way to learn whether they exist.
            (false, Some(_)) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "only an admin key can act for another user",
            )),
        }
    }

    /// The user a new object belongs to: the caller's own, or (admins only) the one asked for.
    pub fn acting_for(&self, asked: Option<UserId>) -> Result<UserId, ApiError> {
        Ok(self.scope(asked)?.unwrap_or(self.user))
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
        let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            // A browser signed in to the console: its session, and for a change the CSRF
            // token only the console's pages know.
            if let Some(session) =
                super::session::Session::from_headers(state, &parts.headers).await
            {
                let safe = matches!(parts.method.as_str(), "GET" | "HEAD" | "OPTIONS");
                let sent = parts
                    .headers
                    .get(super::session::CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                if !safe && !session.csrf_ok(sent) {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "a change made with a console session must carry the session's CSRF token (X-CSRF-Token)",
                    ));
                }
                return Ok(Caller {
                    user: session.key.userid,
                    admin: session.key.is_admin,
                });
            }
            return Err(unauthorized(
                "send an API key as `Authorization: Bearer <key>` (create one with `p8sync user create`), or sign in to the console at /",
            ));
        };
        let key = header
            .to_str()
            .ok()
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer <key>`"))?;
        let record = state
            .store
            .api_key_by_hash(&hash_key(key))
            .await?
            .ok_or_else(|| {
                unauthorized(
                    "the API key is not valid (it may have been deleted); ask for a new one",
                )
            })?;
        Ok(Caller {
            user: record.userid,
            admin: record.is_admin,
        })
    }
}
