//! `/admin/keys`: users' API keys, for admin keys only: create (shown once), list, revoke.

use super::AppState;
use super::auth::Caller;
use super::error::ApiResult;
use super::extract::{ApiJson, ApiQuery, IdPath};
use crate::app::users::KeyInfo;
use crate::store::ids::UserId;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// A key to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// Who or what will use it.
    pub name: String,
    /// The user it acts as; default: a new user.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
    /// It sees and changes every user's data.
    #[serde(default)]
    pub admin: bool,
}

/// A key just made: the only time `key` is shown.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// The key, for `Authorization: Bearer`; store it now.
    pub key: String,
    /// What listings show of it.
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// Whose keys.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct KeyFilter {
    /// Only this user's.
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

fn admin_only(caller: &Caller) -> ApiResult<()> {
    caller.require_admin("users and keys are managed with an admin key")
}

/// `GET /admin/keys`
#[utoipa::path(operation_id = "listKeys", get, path = "/admin/keys", tag = "admin", params(KeyFilter),
    responses((status = 200, body = [KeyInfo]), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<KeyFilter>,
) -> ApiResult<Json<Vec<KeyInfo>>> {
    admin_only(&caller)?;
    Ok(Json(state.app().keys(filter.user).await?))
}

/// `POST /admin/keys`: a key for a new user (or another key for a user).
#[utoipa::path(operation_id = "createKey", post, path = "/admin/keys", tag = "admin", request_body = NewKey,
    responses((status = 201, body = CreatedKey), (status = 403, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    admin_only(&caller)?;
    let (key, info) = state
        .app()
        .create_key(&input.name, input.user, input.admin)
        .await?;
    tracing::info!(key = %info.id, user = %info.userid, admin = info.is_admin, "an admin created an API key");
    let key = key.expose().to_string();
    Ok((StatusCode::CREATED, Json(CreatedKey { key, info })))
}

/// `DELETE /admin/keys/{id}`: requests with the key fail at once.
#[utoipa::path(operation_id = "revokeKey", delete, path = "/admin/keys/{id}", tag = "admin",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 403, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<uuid::Uuid>,
) -> ApiResult<StatusCode> {
    admin_only(&caller)?;
    state.app().revoke_key(id).await?;
    Ok(StatusCode::NO_CONTENT)
}
