//! The API's one error shape: every 4xx and 5xx answers
//! `{"error": {"code": "not_found", "message": "..."}}`, with a `code` a program can branch on
//! and a `message` that says what failed and what to do.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The body of every error response.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `bad_request`, `unauthorized`, `forbidden`, `not_found`,
    /// `method_not_allowed`, `conflict`, `payload_too_large`, `unsupported_media_type`,
    /// `invalid`, `bad_gateway`, `unavailable`, `internal`.
    pub code: String,
    /// For people: what failed and what to do.
    pub message: String,
}

/// An error answered to a client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: there is no such thing (or it is someone else's: the answer is the same, so
    /// nothing leaks about other users' data).
    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("no {what}"))
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 422: well-formed, but not acceptable.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }

    /// 500, logged with the cause; the client learns only what the server was doing.
    pub fn internal(doing: &str, cause: impl std::fmt::Display) -> Self {
        tracing::error!("{doing}: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the server failed while {doing}; the server log has the details"),
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

/// The `code` of a status.
fn code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        409 => "conflict",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        422 => "invalid",
        502 => "bad_gateway",
        503 => "unavailable",
        _ if status.is_server_error() => "internal",
        _ => "bad_request",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: code(self.status).to_string(),
                message: self.message,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Connect { .. } => {
                tracing::error!("{e}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database is unreachable; try again shortly",
                )
            }
            other => Self::internal("using the database", other),
        }
    }
}

impl From<crate::app::AppError> for ApiError {
    fn from(e: crate::app::AppError) -> Self {
        use crate::app::AppError;
        match e {
            AppError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            AppError::Invalid(m) => Self::invalid(m),
            AppError::Conflict(m) => Self::conflict(m),
            AppError::Unavailable(m) => Self::new(StatusCode::SERVICE_UNAVAILABLE, m),
            AppError::Provider(m) => Self::new(StatusCode::BAD_GATEWAY, m),
            AppError::Store(e) => e.into(),
        }
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
