//! Extractors whose rejections answer in the API's error shape instead of axum's plain text.

use super::error::ApiError;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;

/// A JSON body (`Content-Type: application/json`, at most the router's body limit).
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    let message = match &rejection {
        JsonRejection::JsonSyntaxError(_) => {
            format!("the body is not valid JSON: {}", rejection.body_text())
        }
        JsonRejection::JsonDataError(_) => {
            format!(
                "the body does not have the expected fields: {}",
                rejection.body_text()
            )
        }
        JsonRejection::MissingJsonContentType(_) => {
            "send the body as JSON, with `Content-Type: application/json`".into()
        }
        _ if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
            "the body is larger than this server accepts".into()
        }
        _ => format!("the body could not be read: {}", rejection.body_text()),
    };
    ApiError::new(rejection.status(), message)
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!(
        "the query parameters are not valid: {}",
        rejection.body_text()
    ))
}

/// A uuid path segment. A malformed one names nothing, so it is a 404 like an unknown one.
pub struct IdPath<T>(pub T);

impl<S, T> FromRequestParts<S> for IdPath<T>
where
    T: std::str::FromStr + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("such resource"))?;
        text.parse()
            .map(IdPath)
            .map_err(|_| ApiError::not_found(format!("resource with id `{text}`")))
    }
}
