//! `/auth/credentials`: which accounts are connected (never their tokens), and disconnecting
//! one (revoked at the provider first).

use super::AppState;
use super::auth::Caller;
use super::configs::provider_id;
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use crate::oauth::{CredentialStatus, OAuthApp, TokenManager};
use crate::runtime::types::AuthMethod;
use crate::store::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

/// Whose credentials.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CredentialFilter {
    /// Only this user's (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// How to disconnect.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevokeOptions {
    /// Delete it here even when the provider can't be reached to revoke it.
    #[serde(default)]
    pub force: bool,
    /// Whose (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// What disconnecting did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// The provider id.
    pub provider: String,
    /// The provider confirmed the revocation (`false`: it has no revocation endpoint, or
    /// `force` skipped a failure).
    pub revoked_at_provider: bool,
    /// The credential is gone from this server.
    pub deleted: bool,
}

pub(super) fn tokens(state: &AppState) -> ApiResult<&Arc<TokenManager>> {
    state.tokens.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "credentials are unavailable on this server: the operator must set P8_ENCRYPTION_KEY",
        )
    })
}

/// `GET /auth/credentials`
#[utoipa::path(get, path = "/auth/credentials", tag = "auth", params(CredentialFilter),
    responses((status = 200, body = [crate::oauth::CredentialStatus]), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<CredentialFilter>,
) -> ApiResult<Json<Vec<CredentialStatus>>> {
    let user = caller.scope(f.user)?;
    let list = tokens(&state)?
        .status(user)
        .await
        .map_err(|e| ApiError::internal("listing credentials", e))?;
    Ok(Json(list))
}

/// `DELETE /auth/credentials/{provider}`: revoke at the provider, then delete here. When the
/// provider can't be reached the credential is kept (so nothing is left granted without a
/// way to revoke it), unless `force=true`.
#[utoipa::path(delete, path = "/auth/credentials/{provider}", tag = "auth",
    params(("provider" = String, Path), RevokeOptions),
    responses((status = 200, body = Revoked), (status = 404, body = super::error::ErrorBody),
        (status = 502, body = super::error::ErrorBody, description = "the provider could not revoke it; kept")),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    ApiQuery(o): ApiQuery<RevokeOptions>,
) -> ApiResult<Json<Revoked>> {
    let user = caller.acting_for(o.user)?;
    let provider = provider_id(&provider).to_string();
    let manager = tokens(&state)?;
    let not_found = || ApiError::not_found(format!("{provider} credential"));
    let Some((access, refresh)) = manager
        .tokens(user, &provider)
        .await
        .map_err(|e| ApiError::internal("reading a credential", e))?
    else {
        return Err(not_found());
    };
    let installed = state.registry.get(&provider).map_err(|e| e.to_string());
    // A stored password or API token is not a grant: there is nothing to revoke at the
    // provider (the user changes it there), so deleting it here is the whole job.
    let static_secret = installed
        .as_ref()
        .is_ok_and(|p| !matches!(p.info().auth, AuthMethod::Oauth2(_)));
    // Revoking the refresh token ends the whole grant; the access token alone otherwise.
    let token = refresh.unwrap_or(access);
    let revoked = match installed {
        Ok(_) if static_secret => Ok(false),
        Ok(p) => match OAuthApp::for_provider(&p) {
            Ok(app) => app.revoke(&token).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Err(e) => Err(e),
    };
    let revoked_at_provider = match revoked {
        Ok(done) => done,
        Err(e) if o.force => {
            tracing::warn!(%provider, %user, "revocation failed, deleting anyway (force): {e}");
            false
        }
        Err(e) => {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!(
                    "{e}; the credential is kept (retry, or pass force=true to delete it anyway)"
                ),
            ));
        }
    };
    let deleted = manager
        .delete(user, &provider)
        .await
        .map_err(|e| ApiError::internal("deleting a credential", e))?;
    if !deleted {
        return Err(not_found());
    }
    Ok(Json(Revoked {
        provider,
        revoked_at_provider,
        deleted,
    }))
}
