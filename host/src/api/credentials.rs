//! `/auth/credentials`: which accounts are connected (never their tokens), and disconnecting
//! one (revoked at the provider first).

use super::AppState;
use super::auth::Caller;
use super::configs::provider_id;
use super::error::{ApiError, ApiResult};
use super::extract::ApiQuery;
use crate::app::accounts::Revocation;
use crate::oauth::{CredentialStatus, TokenManager};
use crate::store::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use std::sync::Arc;

/// Whose credentials.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CredentialFilter {
    /// Only this user's (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// How to disconnect.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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
#[utoipa::path(operation_id = "listCredentials", get, path = "/auth/credentials", tag = "auth", params(CredentialFilter),
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
#[utoipa::path(operation_id = "revokeCredential", delete, path = "/auth/credentials/{provider}", tag = "auth",
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
    let provider = provider_id(&provider);
    let done = state.app().disconnect(user, provider, o.force).await?;
    Ok(Json(Revoked {
        provider: done.provider,
        revoked_at_provider: done.revocation == Revocation::Revoked,
        deleted: true,
    }))
}
