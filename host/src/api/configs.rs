//! `/sync/configs`: create, read, change and delete sync configs, and queue a run now.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiJson, ApiQuery, IdPath};
use crate::store::SyncConfig;
use crate::store::ids::{ConfigId, CredentialId, LogId, UserId};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Deserializer};

/// A new sync config. Unknown fields are refused, so a typo can't silently do nothing.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewConfig {
    /// A name, unique per user and provider.
    pub name: String,
    /// The provider id (`GET /providers`); `google` means `google_drive`.
    pub provider: String,
    /// The owner; only an admin key may name another user.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub userid: Option<UserId>,
    /// Whether scheduled syncs run (default true).
    pub enabled: Option<bool>,
    /// Hours between syncs (default 24), unless `schedule` is set.
    pub sync_interval_hours: Option<i32>,
    /// A five-field cron expression, like `0 1 * * *` (every day at 1 AM).
    pub schedule: Option<String>,
    /// The IANA time zone `schedule` is read in (default UTC).
    pub schedule_timezone: Option<String>,
    /// Folder paths to sync (empty: all).
    #[serde(default)]
    pub include_folders: Vec<String>,
    /// Folder paths to leave out.
    #[serde(default)]
    pub exclude_folders: Vec<String>,
    /// File extensions to sync (empty: all).
    #[serde(default)]
    pub include_file_types: Vec<String>,
    /// File extensions to leave out.
    #[serde(default)]
    pub exclude_file_types: Vec<String>,
    /// The provider's own settings; keys must be ones the provider declares.
    #[schema(value_type = Option<Object>)]
    pub provider_config: Option<serde_json::Value>,
    /// Remove objects when their remote file is deleted.
    #[serde(default)]
    pub mirror_deletes: bool,
    /// Skip files larger than this many bytes.
    pub max_file_size: Option<i64>,
    /// The account to sync (`GET /auth/credentials`); needed when the user has several of the
    /// provider, and taken to be the only one otherwise.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub credential_id: Option<CredentialId>,
}

/// Changes to a sync config: only the fields given change; `null` clears a nullable field.
/// The name and provider make up the config's id and can't change.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigPatch {
    /// Whether scheduled syncs run.
    pub enabled: Option<bool>,
    /// Hours between syncs.
    pub sync_interval_hours: Option<i32>,
    /// A cron expression, or `null` to go back to the interval.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub schedule: Option<Option<String>>,
    /// The time zone of `schedule`, or `null` for UTC.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub schedule_timezone: Option<Option<String>>,
    /// Folder paths to sync.
    pub include_folders: Option<Vec<String>>,
    /// Folder paths to leave out.
    pub exclude_folders: Option<Vec<String>>,
    /// File extensions to sync.
    pub include_file_types: Option<Vec<String>>,
    /// File extensions to leave out.
    pub exclude_file_types: Option<Vec<String>>,
    /// The provider's settings (replaced whole).
    #[schema(value_type = Option<Object>)]
    pub provider_config: Option<serde_json::Value>,
    /// Remove objects when their remote file is deleted.
    pub mirror_deletes: Option<bool>,
    /// The size limit, or `null` for none.
    #[serde(default, deserialize_with = "nullable")]
    pub max_file_size: Option<Option<i64>>,
    /// Sync another of the user's accounts of the provider (the next run lists it whole).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub credential_id: Option<CredentialId>,
}

/// A present field that may be `null`: `Some(None)`; an absent one stays `None`.
fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Which configs to list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ConfigFilter {
    /// Only this user's (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
}

/// How to run a config now.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunOptions {
    /// List everything instead of reading the change feed (forgets the saved change cursor).
    #[serde(default)]
    pub full: bool,
}

/// A queued run.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct QueuedRun {
    /// The run's log id: follow it at `GET /sync/logs/{id}`.
    #[schema(value_type = String, format = Uuid)]
    pub log_id: LogId,
    /// `pending` until a replica starts it.
    pub status: String,
}

/// The provider id that an alias in a path or body stands for.
pub(super) fn provider_id(name: &str) -> &str {
    // The seed's routes say `google` (`/auth/google/login?sync_files=true`).
    match name {
        "google" => "google_drive",
        other => other,
    }
}

/// The config `id`, if the caller may see it; someone else's is "not found" too.
pub(super) async fn owned_config(
    state: &AppState,
    caller: &Caller,
    id: ConfigId,
) -> ApiResult<SyncConfig> {
    Ok(state.app().config(id, caller.owner()).await?)
}

/// `GET /sync/configs`
#[utoipa::path(operation_id = "listConfigs", get, path = "/sync/configs", tag = "configs", params(ConfigFilter),
    responses((status = 200, body = [crate::store::SyncConfig]), (status = 401, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(filter): ApiQuery<ConfigFilter>,
) -> ApiResult<Json<Vec<SyncConfig>>> {
    let user = caller.scope(filter.user)?;
    Ok(Json(state.store.configs(user).await?))
}

/// `POST /sync/configs`
#[utoipa::path(operation_id = "createConfig", post, path = "/sync/configs", tag = "configs", request_body = NewConfig,
    responses((status = 201, body = crate::store::SyncConfig),
        (status = 409, body = super::error::ErrorBody, description = "a config with this name and provider exists"),
        (status = 422, body = super::error::ErrorBody, description = "the config is not valid")),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewConfig>,
) -> ApiResult<impl IntoResponse> {
    let user = caller.acting_for(input.userid)?;
    let mut c = SyncConfig::new(user, provider_id(&input.provider), input.name.trim());
    c.enabled = input.enabled.unwrap_or(true);
    c.sync_interval_hours = input.sync_interval_hours.unwrap_or(24);
    c.schedule = input.schedule;
    c.schedule_timezone = input.schedule_timezone;
    c.include_folders = input.include_folders;
    c.exclude_folders = input.exclude_folders;
    c.include_file_types = input.include_file_types;
    c.exclude_file_types = input.exclude_file_types;
    c.provider_config = input
        .provider_config
        .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
    c.mirror_deletes = input.mirror_deletes;
    c.max_file_size = input.max_file_size;
    c.credential_id = input.credential_id;
    let c = state.app().create_config(c).await.map_err(|e| match e {
        crate::app::AppError::Conflict(m) => {
            ApiError::conflict(format!("{m}; change it with PATCH /sync/configs/{{id}}"))
        }
        other => other.into(),
    })?;
    let location = format!("/sync/configs/{}", c.id);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(c)))
}

/// `GET /sync/configs/{id}`
#[utoipa::path(operation_id = "getConfig", get, path = "/sync/configs/{id}", tag = "configs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = crate::store::SyncConfig), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
) -> ApiResult<Json<SyncConfig>> {
    Ok(Json(owned_config(&state, &caller, id).await?))
}

/// `PATCH /sync/configs/{id}`
#[utoipa::path(operation_id = "updateConfig", patch, path = "/sync/configs/{id}", tag = "configs", request_body = ConfigPatch,
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = crate::store::SyncConfig), (status = 404, body = super::error::ErrorBody),
        (status = 422, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn patch(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
    ApiJson(p): ApiJson<ConfigPatch>,
) -> ApiResult<Json<SyncConfig>> {
    let mut c = owned_config(&state, &caller, id).await?;
    if let Some(v) = p.enabled {
        c.enabled = v;
    }
    if let Some(v) = p.credential_id
        && c.credential_id != Some(v)
    {
        // Another account's change feed: its cursor means nothing here.
        c.credential_id = Some(v);
        c.change_cursor = None;
        c.cursor_scope = None;
    }
    if let Some(v) = p.sync_interval_hours {
        c.sync_interval_hours = v;
    }
    if let Some(v) = p.schedule {
        c.schedule = v;
    }
    if let Some(v) = p.schedule_timezone {
        c.schedule_timezone = v;
    }
    if let Some(v) = p.include_folders {
        c.include_folders = v;
    }
    if let Some(v) = p.exclude_folders {
        c.exclude_folders = v;
    }
    if let Some(v) = p.include_file_types {
        c.include_file_types = v;
    }
    if let Some(v) = p.exclude_file_types {
        c.exclude_file_types = v;
    }
    if let Some(v) = p.provider_config {
        c.provider_config = v;
    }
    if let Some(v) = p.mirror_deletes {
        c.mirror_deletes = v;
    }
    if let Some(v) = p.max_file_size {
        c.max_file_size = v;
    }
    Ok(Json(state.app().put_config(c).await?))
}

/// `DELETE /sync/configs/{id}`: the config with its file records and logs; stored objects
/// are kept.
#[utoipa::path(operation_id = "deleteConfig", delete, path = "/sync/configs/{id}", tag = "configs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 204), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
) -> ApiResult<StatusCode> {
    owned_config(&state, &caller, id).await?;
    state.store.delete_config(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /sync/configs/{id}/run`: queue a run now; a replica starts it at its next tick.
#[utoipa::path(operation_id = "runConfig", post, path = "/sync/configs/{id}/run", tag = "configs",
    params(("id" = String, Path, format = Uuid), RunOptions),
    responses((status = 202, body = QueuedRun), (status = 404, body = super::error::ErrorBody),
        (status = 409, body = super::error::ErrorBody, description = "disabled, or the credential needs a new login")),
    security(("bearer" = [])))]
pub async fn run(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
    ApiQuery(options): ApiQuery<RunOptions>,
) -> ApiResult<(StatusCode, Json<QueuedRun>)> {
    let config = owned_config(&state, &caller, id).await?;
    let log_id = state.app().queue_run(&config, options.full).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(QueuedRun {
            log_id,
            status: "pending".into(),
        }),
    ))
}

/// A schedule to preview.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SchedulePreview {
    /// A five-field cron expression; without it, the interval.
    pub schedule: Option<String>,
    /// The IANA time zone the expression is read in (default UTC).
    pub timezone: Option<String>,
    /// Hours between runs when there is no expression (default 24).
    pub interval_hours: Option<i32>,
    /// How many times (default 3, at most 10).
    pub count: Option<usize>,
}

/// `GET /schedule/next`: the next times a schedule fires, in UTC and in its zone, so an editor
/// can show them before the config is saved.
#[utoipa::path(operation_id = "previewSchedule", get, path = "/schedule/next", tag = "configs",
    params(SchedulePreview),
    responses((status = 200, body = [crate::app::configs::NextRun]),
        (status = 422, body = super::error::ErrorBody, description = "the expression, zone or interval is not valid")),
    security(("bearer" = [])))]
pub async fn next_runs(
    State(state): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<SchedulePreview>,
) -> ApiResult<Json<Vec<crate::app::configs::NextRun>>> {
    Ok(Json(state.app().next_runs(
        q.schedule.as_deref(),
        q.timezone.as_deref(),
        q.interval_hours.unwrap_or(24),
        q.count.unwrap_or(3),
    )?))
}
