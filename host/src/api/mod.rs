//! The HTTP API of `p8sync serve`. So far the operations endpoints: `GET /healthz` (the
//! process is alive) and `GET /readyz` (the database and the object store answer).

use crate::blob::BlobStore;
use crate::store::Store;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The object store.
    pub blob: Arc<dyn BlobStore>,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 200 when both stores answer, 503 with what failed otherwise (load balancers only look at
/// the status; people read the body).
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
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
