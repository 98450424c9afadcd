//! `/auth/credentials`: which accounts are connected (never their tokens), and disconnecting
//! one (revoked at the provider first).

use super::AppState;
use super::auth::Caller;
use super::configs::provider_id;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use crate::app::accounts::Revocation;
use crate::oauth::{CredentialStatus, StaticCredential, TokenManager};
use crate::secret::Secret;
use crate::store::ids::UserId;
use axum::Json;
use axum::extract::{Path, State};
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

/// The credentials, or why this server has none.
pub(super) fn tokens(state: &AppState) -> ApiResult<&Arc<TokenManager>> {
    state
        .tokens
        .as_ref()
        .ok_or_else(|| crate::app::AppError::no_credentials().into())
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

/// A password or token the user made at the service, for a provider that signs in with one
/// (WebDAV: a user name and an app password; token providers: the token). Exactly one shape.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSecret {
    /// With `password`: the account's user name.
    pub username: Option<String>,
    /// With `username`: the password (an app password where the service has them).
    pub password: Option<String>,
    /// Alone: the API token.
    pub token: Option<String>,
}

/// A stored password or token (never echoed).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SavedSecret {
    /// The provider id.
    pub provider: String,
    /// `basic` (user name and password) or `bearer` (token).
    pub kind: String,
    /// The account: the user name, for a password.
    pub account: Option<String>,
}

/// Who the secret is for.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SecretOptions {
    /// Store it for this user (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// `PUT /auth/credentials/{provider}`: store (or replace) a password or token, sealed.
#[utoipa::path(operation_id = "saveUserSecret", put, path = "/auth/credentials/{provider}", tag = "auth",
    request_body = UserSecret,
    params(("provider" = String, Path), SecretOptions),
    responses((status = 200, body = SavedSecret), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "the provider signs in another way, or the secret is not acceptable")),
    security(("bearer" = [])))]
pub async fn save(
    State(state): State<AppState>,
    caller: Caller,
    Path(provider): Path<String>,
    ApiQuery(o): ApiQuery<SecretOptions>,
    ApiJson(input): ApiJson<UserSecret>,
) -> ApiResult<Json<SavedSecret>> {
    let user = caller.acting_for(o.user)?;
    let (credential, kind, account) = match input {
        UserSecret {
            username: Some(username),
            password: Some(password),
            token: None,
        } => (
            StaticCredential::Basic {
                username: username.clone(),
                password: Secret::new(password),
            },
            "basic",
            Some(username),
        ),
        UserSecret {
            username: None,
            password: None,
            token: Some(token),
        } => (
            StaticCredential::Bearer {
                token: Secret::new(token),
            },
            "bearer",
            None,
        ),
        _ => {
            return Err(ApiError::invalid(
                "give `username` and `password`, or `token` alone",
            ));
        }
    };
    let provider = state
        .app()
        .save_user_secret(user, provider_id(&provider), &credential)
        .await?;
    tracing::info!(%provider, %user, "stored a {kind} credential");
    Ok(Json(SavedSecret {
        provider,
        kind: kind.into(),
        account,
    }))
}
