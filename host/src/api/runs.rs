//! `/sync/logs` and `/sync/files`: what syncs did, paged and filtered.

use super::AppState;
use super::auth::Caller;
use super::configs::owned_config;
use super::error::{ApiError, ApiResult};
use super::extract::{ApiQuery, IdPath};
use crate::store::ids::{ConfigId, FileId, LogId, UserId};
use crate::store::pages::{FileQuery, LogQuery};
use crate::store::{CancelOutcome, FileStatus, LogStatus, SyncFile, SyncLog};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;

/// The most rows one page returns.
const MAX_PAGE: i64 = 1000;

fn page_size(limit: Option<i64>, default: i64) -> ApiResult<i64> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_PAGE}, not {n}"
        ))),
    }
}

fn parse_status<T>(
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
    valid: &str,
) -> ApiResult<Option<T>> {
    text.map(|s| {
        parse(s)
            .ok_or_else(|| ApiError::bad_request(format!("status `{s}` is not one of: {valid}")))
    })
    .transpose()
}

/// Which runs.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogFilter {
    /// Only this config's.
    #[param(value_type = Option<String>, format = Uuid)]
    pub config_id: Option<ConfigId>,
    /// Only runs with this status: pending, syncing, success, partial, failed, cancelled.
    pub status: Option<String>,
    /// Only this user's (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// `GET /sync/logs`: runs, newest first.
#[utoipa::path(operation_id = "listRuns", get, path = "/sync/logs", tag = "runs", params(LogFilter),
    responses((status = 200, body = [crate::store::SyncLog]), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "no such config")),
    security(("bearer" = [])))]
pub async fn logs(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<LogFilter>,
) -> ApiResult<Json<Vec<SyncLog>>> {
    let user = caller.scope(f.user)?;
    if let Some(config) = f.config_id {
        owned_config(&state, &caller, config).await?;
    }
    let query = LogQuery {
        user,
        config: f.config_id,
        status: parse_status(
            f.status.as_deref(),
            LogStatus::parse,
            "pending, syncing, success, partial, failed, cancelled",
        )?,
        offset: f.offset.unwrap_or(0).max(0),
        limit: page_size(f.limit, 50)?,
    };
    Ok(Json(state.store.log_page(&query).await?))
}

/// `GET /sync/logs/{id}`
#[utoipa::path(operation_id = "getRun", get, path = "/sync/logs/{id}", tag = "runs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = crate::store::SyncLog), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn log(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<LogId>,
) -> ApiResult<Json<SyncLog>> {
    Ok(Json(state.app().run(id, caller.owner()).await?))
}

/// What asking a run to stop did.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CancelledRun {
    /// `cancelled` (it was queued and never runs), `stopping` (it starts no new file and ends
    /// within seconds as `cancelled`), or `ended` (it had ended already; nothing changed).
    pub outcome: String,
    /// The run as it is now.
    pub run: SyncLog,
}

/// `POST /sync/logs/{id}/cancel`: stop a queued or running sync.
#[utoipa::path(operation_id = "cancelRun", post, path = "/sync/logs/{id}/cancel", tag = "runs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 202, body = CancelledRun), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<LogId>,
) -> ApiResult<(axum::http::StatusCode, Json<CancelledRun>)> {
    let (outcome, run) = state.app().cancel_run(id, caller.owner()).await?;
    let outcome = match outcome {
        CancelOutcome::Cancelled => "cancelled",
        CancelOutcome::Requested => "stopping",
        CancelOutcome::Ended(_) => "ended",
    };
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(CancelledRun {
            outcome: outcome.into(),
            run,
        }),
    ))
}

/// The longest a progress stream stays open (a day of one event a second).
const MAX_PROGRESS_EVENTS: u32 = 86_400;

/// `GET /sync/logs/{id}/events`: the run's progress as server-sent events, one a second:
/// `progress` events while it is queued or running (files done of total, bytes, the file
/// under way), then one `end` event with the result, and the stream closes.
#[utoipa::path(operation_id = "followRun", get, path = "/sync/logs/{id}/events", tag = "runs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, content_type = "text/event-stream", body = crate::store::SyncLog,
            description = "`progress` events, then one `end` event; each carries the run"),
        (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<LogId>,
) -> ApiResult<impl axum::response::IntoResponse> {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let (app, owner) = (std::sync::Arc::new(state.app()), caller.owner());
    // Checked up front, so someone else's run is a 404 rather than an empty stream.
    app.run(id, owner).await?;
    let stream = futures::stream::unfold((0u32, false), move |(n, over)| {
        let app = app.clone();
        async move {
            if over || n >= MAX_PROGRESS_EVENTS {
                return None;
            }
            if n > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            let run = app.run(id, owner).await.ok()?;
            let ended = crate::app::runs::ended(run.status);
            let event = Event::default()
                .event(if ended { "end" } else { "progress" })
                .json_data(&run)
                .ok()?;
            Some((Ok::<_, std::convert::Infallible>(event), (n + 1, ended)))
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Which files.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FileFilter {
    /// Only this config's.
    #[param(value_type = Option<String>, format = Uuid)]
    pub config_id: Option<ConfigId>,
    /// Only files with this status: pending, synced, failed, deleted, skipped.
    pub status: Option<String>,
    /// Only this user's (admin keys only).
    #[param(value_type = Option<String>, format = Uuid)]
    pub user: Option<UserId>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<i64>,
    /// The `next` of the previous page.
    #[param(value_type = Option<String>, format = Uuid)]
    pub after: Option<FileId>,
}

/// One page of files.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct FilePage {
    /// The files, ordered by id.
    pub files: Vec<SyncFile>,
    /// Pass as `after` for the next page; absent on the last one.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub next: Option<FileId>,
}

/// `GET /sync/files`: files, one page at a time.
#[utoipa::path(operation_id = "listFiles", get, path = "/sync/files", tag = "runs", params(FileFilter),
    responses((status = 200, body = FilePage), (status = 400, body = super::error::ErrorBody),
        (status = 404, body = super::error::ErrorBody, description = "no such config")),
    security(("bearer" = [])))]
pub async fn files(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(f): ApiQuery<FileFilter>,
) -> ApiResult<Json<FilePage>> {
    let mut user = caller.scope(f.user)?;
    if let Some(config) = f.config_id {
        owned_config(&state, &caller, config).await?;
        // The config already pins the owner; filtering by it too would only cost an index.
        user = None;
    }
    let limit = page_size(f.limit, 100)?;
    let query = FileQuery {
        user,
        config: f.config_id,
        status: parse_status(
            f.status.as_deref(),
            FileStatus::parse,
            "pending, synced, failed, deleted, skipped",
        )?,
        after: f.after,
        limit,
    };
    let files = state.store.file_page(&query).await?;
    let next = (files.len() as i64 == limit)
        .then(|| files.last().map(|f| f.id))
        .flatten();
    Ok(Json(FilePage { files, next }))
}

/// `GET /sync/files/{id}`: one file with what ingestion made of it (its text chunks, or its
/// audio chunks with their transcripts and time ranges).
#[utoipa::path(operation_id = "getFile", get, path = "/sync/files/{id}", tag = "runs",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = crate::app::files::FileView), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn file(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<FileId>,
) -> ApiResult<Json<crate::app::files::FileView>> {
    let app = state.app();
    let file = app.file(id, caller.owner()).await?;
    Ok(Json(app.file_view(file).await?))
}
