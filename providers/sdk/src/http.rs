//! Outbound HTTP through the host's mediated `wasi:http/outgoing-handler`.
//!
//! The host only lets requests through to the hosts the provider declared, adds the
//! `Authorization` header itself, and enforces timeouts. This client uses the raw `wasi:http`
//! bindings and finishes an empty request body without writing to it, which avoids the spurious
//! "connection reset" some higher-level clients hit.
//!
//! Most calls want [`get_json`] / [`post_json`] (from [`crate::json`]): send, map a failed
//! status through [`status_error`], parse the body.

use crate::types::{ProviderError, RateLimit};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

pub use crate::json::{
    get_json, parse_json, parse_json_with, post_json, send_json, send_json_with,
};

/// Responses larger than this are refused: API responses are metadata, never file contents.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// A request to send.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Absolute `http://` or `https://` URL.
    pub url: String,
    /// Request headers (never `Authorization`: the host adds it).
    pub headers: Vec<(String, String)>,
    /// Request body, if any.
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A GET request.
    pub fn get(url: impl Into<String>) -> Self {
        Request {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }

    /// A POST request with a JSON body.
    pub fn post_json(url: impl Into<String>, json: impl Into<String>) -> Self {
        Request {
            method: "POST".into(),
            url: url.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(json.into().into_bytes()),
        }
    }

    /// Add a header.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A response, with its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// Response headers; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `Retry-After` in seconds, when it is given as a number of seconds.
    pub fn retry_after_seconds(&self) -> Option<u32> {
        self.header("retry-after")?.trim().parse().ok()
    }

    /// `Ok(self)` for 2xx, otherwise the contract error that fits the status code.
    pub fn error_for_status(self, what: &str) -> Result<Self, ProviderError> {
        if (200..300).contains(&self.status) {
            return Ok(self);
        }
        Err(status_error(&self, what))
    }
}

/// Map a non-success response onto the contract's error variant; `what` names the call.
pub fn status_error(response: &Response, what: &str) -> ProviderError {
    let status = response.status;
    // Cut on a character boundary: error bodies are often not ASCII, and `String::truncate`
    // inside a character would panic (a trap, for a guest).
    let message = format!(
        "{what}: HTTP {status}: {}",
        crate::error::detail(&response.text())
    );
    match status {
        401 => ProviderError::Unauthorized(message),
        403 => ProviderError::Forbidden(message),
        404 | 410 => ProviderError::NotFound(message),
        408 | 500..=599 => ProviderError::Transient(message),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: response.retry_after_seconds(),
        }),
        _ => ProviderError::Permanent(message),
    }
}

/// Why a request failed before a response arrived.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// What went wrong, including the host's `wasi:http` error code.
    pub message: String,
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for HttpError {}

impl From<HttpError> for ProviderError {
    fn from(e: HttpError) -> Self {
        // Connection failures are worth a retry; a refused destination is reported by the host.
        ProviderError::Transient(e.message)
    }
}

fn err(message: impl Into<String>) -> HttpError {
    HttpError {
        message: message.into(),
    }
}

fn code_err(context: &str, code: ErrorCode) -> HttpError {
    err(format!("{context}: {code:?}"))
}

/// Send a request and read the whole response body.
pub fn send(request: &Request) -> Result<Response, HttpError> {
    let (scheme, rest) = if let Some(rest) = request.url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = request.url.strip_prefix("http://") {
        (Scheme::Http, rest)
    } else {
        return Err(err(format!(
            "unsupported URL `{}`: only http:// and https:// are allowed",
            request.url
        )));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_string()),
    };

    let fields = Fields::new();
    for (name, value) in &request.headers {
        fields
            .append(name, value.as_bytes())
            .map_err(|e| err(format!("header `{name}` was refused: {e:?}")))?;
    }
    let outgoing = OutgoingRequest::new(fields);
    outgoing
        .set_method(&method)
        .map_err(|()| err("invalid method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| err("invalid scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| err(format!("invalid host `{authority}`")))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| err("invalid path"))?;
    let body = outgoing
        .body()
        .map_err(|()| err("request body already taken"))?;

    let future = outgoing_handler::handle(outgoing, None)
        .map_err(|code| code_err("request refused", code))?;

    if let Some(bytes) = &request.body {
        let stream = body
            .write()
            .map_err(|()| err("request body stream already taken"))?;
        for chunk in bytes.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| err(format!("writing the request body failed: {e:?}")))?;
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(|code| code_err("finishing the request", code))?;

    let incoming = loop {
        match future.get() {
            Some(Ok(Ok(response))) => break response,
            Some(Ok(Err(code))) => return Err(code_err("request failed", code)),
            Some(Err(())) => return Err(err("response already taken")),
            None => future.subscribe().block(),
        }
    };
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    let body = incoming
        .consume()
        .map_err(|()| err("response body already taken"))?;
    let stream = body
        .stream()
        .map_err(|()| err("response body stream already taken"))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() > MAX_RESPONSE_BYTES {
                    return Err(err(format!(
                        "response body is larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(err(format!(
                    "reading the response body failed: {}",
                    e.to_debug_string()
                )));
            }
        }
    }
    drop(stream);
    let _trailers = IncomingBody::finish(body);
    drop(incoming);
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_error_body_of_wide_characters_is_cut_without_a_panic() {
        let response = Response {
            status: 429,
            headers: vec![("retry-after".into(), "7".into())],
            body: "é".repeat(1000).into_bytes(),
        };
        match status_error(&response, "files.list") {
            ProviderError::RateLimited(r) => {
                assert_eq!(r.retry_after_seconds, Some(7));
                assert!(
                    r.message.starts_with("files.list: HTTP 429: é"),
                    "{}",
                    r.message
                );
                assert!(r.message.len() < 600, "{}", r.message.len());
            }
            other => panic!("{other:?}"),
        }
    }
}
