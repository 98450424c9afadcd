//! The ingestion queue: a config's jobs, queueing them again, and (for admins) the whole
//! queue's depth.

use super::AppState;
use super::auth::Caller;
use super::configs::owned_config;
use super::error::ApiResult;
use super::extract::{ApiQuery, IdPath};
use crate::store::ids::ConfigId;
use crate::store::ingest::{JobInfo, QueueDepth};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

/// A config's ingestion jobs.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct IngestJobs {
    /// One per file that has a job, with where it stands and its last error.
    pub jobs: Vec<JobInfo>,
}

/// How to queue a config's files again.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequeueOptions {
    /// Every synced file, not only those whose ingestion failed, waits, or never ran (after
    /// the routes or the chunk size changed, say).
    #[serde(default)]
    pub all: bool,
}

/// What was queued.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Requeued {
    /// Files queued for ingestion; the service's workers take them.
    pub queued: u64,
}

/// `GET /sync/configs/{id}/ingest`
#[utoipa::path(operation_id = "listIngestJobs", get, path = "/sync/configs/{id}/ingest", tag = "ingest",
    params(("id" = String, Path, format = Uuid)),
    responses((status = 200, body = IngestJobs), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn jobs(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
) -> ApiResult<Json<IngestJobs>> {
    owned_config(&state, &caller, id).await?;
    let jobs = state.app().ingest_jobs(id).await?;
    Ok(Json(IngestJobs { jobs }))
}

/// `POST /sync/configs/{id}/ingest/retry`: queue the config's failed, waiting and
/// never-ingested files again (or every file, with `all`).
#[utoipa::path(operation_id = "requeueIngestion", post, path = "/sync/configs/{id}/ingest/retry", tag = "ingest",
    params(("id" = String, Path, format = Uuid), RequeueOptions),
    responses((status = 202, body = Requeued), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn requeue(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<ConfigId>,
    ApiQuery(options): ApiQuery<RequeueOptions>,
) -> ApiResult<(StatusCode, Json<Requeued>)> {
    owned_config(&state, &caller, id).await?;
    let queued = state.app().requeue_ingestion(id, options.all).await?;
    Ok((StatusCode::ACCEPTED, Json(Requeued { queued })))
}

/// `GET /ingest/queue`: jobs per status across every tenant (admin keys only).
#[utoipa::path(operation_id = "getIngestQueue", get, path = "/ingest/queue", tag = "ingest",
    responses((status = 200, body = QueueDepth), (status = 403, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn queue(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<QueueDepth>> {
    caller.require_admin(
        "the whole queue is for admin keys; see a config's jobs at /sync/configs/{id}/ingest",
    )?;
    Ok(Json(state.store.queue_depth().await?))
}
