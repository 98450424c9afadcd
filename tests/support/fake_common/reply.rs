//! A fake's response, built while its state is locked and sent after the lock is released.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

/// Status, headers and body of a response not sent yet.
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// Headers in the order they are sent.
    pub headers: Vec<(&'static str, String)>,
    /// The whole body.
    pub body: Bytes,
}

impl Reply {
    /// A body of `content_type`.
    pub fn bytes(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type", content_type.to_string())],
            body: body.into(),
        }
    }

    /// The same reply with one more header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// The response, with the whole body.
    pub fn into_response(self) -> Response {
        let body = Body::from(self.body);
        respond(self.status, self.headers, body)
    }
}

/// A response of `status` and `headers` around a body the caller built (it may be a stream).
pub fn respond(status: u16, headers: Vec<(&'static str, String)>, body: Body) -> Response {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).expect("status");
    let h = resp.headers_mut();
    for (name, value) in headers {
        h.append(name, HeaderValue::from_str(&value).expect("header value"));
    }
    resp
}
