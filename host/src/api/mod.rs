//! The HTTP API of `p8sync serve` (axum): sync configs, runs and files, providers,
//! credentials and the browser login, behind Bearer API keys; plus `/healthz`, `/readyz`,
//! `/metrics` and `/openapi.json` for operators. Every error answers [`error::ErrorBody`].

pub mod auth;
pub mod configs;
pub mod credentials;
pub mod error;
pub mod extract;
pub mod ingest;
pub mod login;
pub mod openapi;
pub mod providers;
pub mod runs;
pub mod session;
pub mod settings;
pub mod users;

use crate::blob::BlobStore;
use crate::oauth::TokenManager;
use crate::runtime::Registry;
use crate::store::Store;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use error::ApiError;
pub use settings::ApiSettings;
use std::sync::Arc;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The object store.
    pub blob: Arc<dyn BlobStore>,
    /// The installed providers.
    pub registry: Arc<Registry>,
    /// Credentials (absent when no encryption key is configured).
    pub tokens: Option<Arc<TokenManager>>,
    /// The operator's settings.
    pub settings: Arc<ApiSettings>,
}

impl AppState {
    /// The application layer the handlers call.
    pub fn app(&self) -> crate::app::App {
        crate::app::App {
            store: self.store.clone(),
            registry: self.registry.clone(),
            tokens: self.tokens.clone(),
            local_roots: self.settings.local_roots.clone(),
        }
    }
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi::document))
        .route("/providers", get(providers::list))
        .route("/sync/configs", get(configs::list).post(configs::create))
        .route(
            "/sync/configs/{id}",
            get(configs::get)
                .patch(configs::patch)
                .delete(configs::delete),
        )
        .route("/sync/configs/{id}/run", post(configs::run))
        .route("/schedule/next", get(configs::next_runs))
        .route("/sync/configs/{id}/ingest", get(ingest::jobs))
        .route("/sync/configs/{id}/ingest/retry", post(ingest::requeue))
        .route("/ingest/queue", get(ingest::queue))
        .route("/admin/keys", get(users::list).post(users::create))
        .route("/admin/keys/{id}", delete(users::revoke))
        .route("/sync/logs", get(runs::logs))
        .route("/sync/logs/{id}", get(runs::log))
        .route("/sync/logs/{id}/cancel", post(runs::cancel))
        .route("/sync/logs/{id}/events", get(runs::events))
        .route("/sync/files", get(runs::files))
        .route("/sync/files/{id}", get(runs::file))
        .route("/auth/credentials", get(credentials::list))
        .route(
            "/auth/credentials/{provider}",
            delete(credentials::revoke).put(credentials::save),
        )
        .route(
            "/auth/accounts/{id}",
            get(credentials::account)
                .patch(credentials::rename)
                .delete(credentials::delete_account),
        )
        .route(
            "/auth/{provider}/login",
            get(login::login).post(login::login_json),
        )
        .route("/auth/{provider}/callback", get(login::callback))
        .merge(crate::console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("such endpoint; GET /openapi.json lists them")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint does not take that method; GET /openapi.json lists them",
    )
}

/// `GET /healthz`: the process is alive.
#[utoipa::path(operation_id = "healthz", get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /metrics`: Prometheus text. The queue depths are read from the database now; the rest
/// is what this replica recorded since it started.
#[utoipa::path(operation_id = "metrics", get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4")))]
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    // Gauges set before the recorder exists go nowhere (serve installs it at start).
    crate::metrics::handle();
    match (
        state.store.due_configs().await,
        state.store.queue_depth().await,
    ) {
        (Ok(due), Ok(ingest)) => crate::metrics::queue_depths(due, &ingest),
        // The rest of the page is still worth having; the gauges keep their last values.
        (Err(e), _) | (_, Err(e)) => tracing::warn!("reading queue depths for /metrics: {e}"),
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
}

/// `GET /readyz`: 200 when both stores answer, 503 with what failed otherwise (load balancers
/// only look at the status; people read the body).
#[utoipa::path(operation_id = "readyz", get, path = "/readyz", tag = "operations",
    responses((status = 200), (status = 503, description = "the database or the object store is unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let database = state.store.queue_depth().await.err().map(|e| e.to_string());
    let objects = state.blob.check().await.err().map(|e| e.to_string());
    let ready = database.is_none() && objects.is_none();
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database.unwrap_or_else(|| "ok".into()),
        "objects": objects.unwrap_or_else(|| "ok".into()),
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}
