//! `/auth/credentials`: which accounts are connected (never their tokens), and disconnecting
//! one (revoked at the provider first).

use super::AppState;
use super::auth::Caller;
use super::configs::provider_id;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery};
use crate::app::accounts::Revocation;
use crate::oauth::AccountChoice;
use crate::oauth::{CredentialStatus, StaticCredential, TokenManager};
use crate::secret::Secret;
use crate::store::ids::{CredentialId, UserId};
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
    /// Which account (its id), when the user has several of the provider.
    #[param(value_type = Option<String>, format = Uuid)]
    pub account: Option<CredentialId>,
    /// Whose (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// What disconnecting did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Revoked {
    /// The provider id.
    pub provider: String,
    /// The account's label.
    pub label: String,
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
    let done = state
        .app()
        .disconnect(user, provider, o.account, o.force)
        .await?;
    Ok(Json(Revoked {
        provider: done.provider,
        label: done.label,
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
    /// The server the account lives on, for a self-hosted service (WebDAV: the address of
    /// its files, e.g. `https://cloud.example.com/remote.php/dav/files/NAME/`). Its syncs may
    /// reach that origin and no other.
    pub server_url: Option<String>,
    /// The name to show for a new account (default: the user name, or the provider).
    pub label: Option<String>,
    /// Replace the secret of this account (its id) instead of adding one.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub account: Option<CredentialId>,
}

/// A stored password or token (never echoed).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct SavedSecret {
    /// The account's id (what a config's `credential_id` names).
    #[schema(value_type = String, format = Uuid)]
    pub id: CredentialId,
    /// The account's label.
    pub label: String,
    /// The server it lives on, when it has one.
    pub server_url: Option<String>,
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
    let choice = match (input.account, input.label.clone()) {
        (Some(id), _) => AccountChoice::Existing(id),
        (None, label) => AccountChoice::Add { label },
    };
    let server_url = input.server_url.clone();
    let (credential, kind, account) = match input {
        UserSecret {
            username: Some(username),
            password: Some(password),
            token: None,
            ..
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
            ..
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
    let saved = state
        .app()
        .save_user_secret(
            user,
            provider_id(&provider),
            &credential,
            server_url.as_deref(),
            &choice,
        )
        .await?;
    tracing::info!(provider = %saved.provider, %user, account = %saved.id, "stored a {kind} credential");
    Ok(Json(SavedSecret {
        id: saved.id,
        label: saved.label,
        server_url: saved.server_url,
        provider: saved.provider,
        kind: kind.into(),
        account,
    }))
}

/// Whose account.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccountOptions {
    /// The account's owner (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
    /// With `DELETE`: delete it here even when the provider can't be reached to revoke it.
    #[serde(default)]
    pub force: bool,
}

/// A change to an account.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountPatch {
    /// Its new label (unique among the user's accounts of the provider).
    pub label: String,
}

/// The status of the caller's account `id`.
async fn account_status(
    state: &AppState,
    user: UserId,
    id: CredentialId,
) -> ApiResult<CredentialStatus> {
    let account = state.app().account(user, id).await?;
    tokens(state)?
        .status(Some(user))
        .await
        .map_err(|e| ApiError::internal("listing credentials", e))?
        .into_iter()
        .find(|s| s.id == account.id)
        .ok_or_else(|| crate::app::AppError::NotFound(format!("account {id}")).into())
}

/// `GET /auth/accounts/{id}`: one connected account (never its tokens).
#[utoipa::path(operation_id = "getAccount", get, path = "/auth/accounts/{id}", tag = "auth",
    params(("id" = String, Path, format = Uuid), AccountOptions),
    responses((status = 200, body = crate::oauth::CredentialStatus), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CredentialId>,
    ApiQuery(o): ApiQuery<AccountOptions>,
) -> ApiResult<Json<CredentialStatus>> {
    let user = caller.acting_for(o.user)?;
    Ok(Json(account_status(&state, user, id).await?))
}

/// `PATCH /auth/accounts/{id}`: rename an account.
#[utoipa::path(operation_id = "renameAccount", patch, path = "/auth/accounts/{id}", tag = "auth",
    request_body = AccountPatch,
    params(("id" = String, Path, format = Uuid), AccountOptions),
    responses((status = 200, body = crate::oauth::CredentialStatus), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody, description = "the label is empty, too long, or taken")),
    security(("bearer" = [])))]
pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CredentialId>,
    ApiQuery(o): ApiQuery<AccountOptions>,
    ApiJson(patch): ApiJson<AccountPatch>,
) -> ApiResult<Json<CredentialStatus>> {
    let user = caller.acting_for(o.user)?;
    state.app().rename_account(user, id, &patch.label).await?;
    Ok(Json(account_status(&state, user, id).await?))
}

/// `DELETE /auth/accounts/{id}`: revoke at the provider, then delete here (kept when the
/// provider can't be reached, unless `force=true`).
#[utoipa::path(operation_id = "deleteAccount", delete, path = "/auth/accounts/{id}", tag = "auth",
    params(("id" = String, Path, format = Uuid), AccountOptions),
    responses((status = 200, body = Revoked), (status = 404, body = super::error::ErrorBody),
        (status = 502, body = super::error::ErrorBody, description = "the provider could not revoke it; kept")),
    security(("bearer" = [])))]
pub async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<CredentialId>,
    ApiQuery(o): ApiQuery<AccountOptions>,
) -> ApiResult<Json<Revoked>> {
    let user = caller.acting_for(o.user)?;
    let app = state.app();
    let account = app.account(user, id).await?;
    let done = app
        .disconnect(user, &account.provider, Some(id), o.force)
        .await?;
    Ok(Json(Revoked {
        provider: done.provider,
        label: done.label,
        revoked_at_provider: done.revocation == Revocation::Revoked,
        deleted: true,
    }))
}
