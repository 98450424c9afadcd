//! Requests to Box's API and the one mapping from Box's errors to the contract's.
//!
//! The host adds `Authorization` to every request on the API host; nothing here sees a token.
//! Error messages name the call, never the URL.

use crate::model::{EventsPage, ITEM_FIELDS, Item, ItemsPage, LIST_FIELDS};
use crate::settings::Settings;
use p8sync_provider_sdk::http::{self, Request};
use p8sync_provider_sdk::types::{ProviderError, RateLimit};
use p8sync_provider_sdk::{error, log, url};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A Box client for one call.
pub struct Api {
    base: String,
    /// Requests sent so far in this call.
    pub requests: usize,
}

/// What a request is, for the error mapping: a stream position Box refuses means "start
/// over", a refused folder listing does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Listing a folder's items.
    Items,
    /// Reading one item.
    Item,
    /// Reading the events stream.
    Events,
    /// A download (the host made it; the provider explains its failure).
    Download,
}

impl Api {
    /// A client for the configured API.
    pub fn new(settings: &Settings) -> Self {
        Api {
            base: settings.base.clone(),
            requests: 0,
        }
    }

    /// One page of a folder's items, marker paged; `Ok(None)` when Box says the folder is not
    /// there (404).
    pub fn items(
        &mut self,
        folder: &str,
        marker: Option<&str>,
        limit: u32,
        what: &str,
    ) -> Result<Option<ItemsPage>, ProviderError> {
        let limit = limit.to_string();
        let mut query = vec![
            ("fields", LIST_FIELDS),
            ("usemarker", "true"),
            ("limit", limit.as_str()),
        ];
        if let Some(m) = marker {
            query.push(("marker", m));
        }
        let url = url::with_path(&self.base, &["folders", folder, "items"], &query);
        self.get_json(&url, what, Call::Items)
    }

    /// One file or folder's metadata; `Ok(None)` when Box says 404 (gone or trashed).
    pub fn item(&mut self, kind: &str, id: &str) -> Result<Option<Item>, ProviderError> {
        let collection = if kind == "folder" { "folders" } else { "files" };
        let url = url::with_path(&self.base, &[collection, id], &[("fields", ITEM_FIELDS)]);
        self.get_json(&url, &format!("reading the {kind} `{id}`"), Call::Item)
    }

    /// One page of the `changes` events stream from `position` (`now` for the current end).
    pub fn events(&mut self, position: &str, limit: u32) -> Result<EventsPage, ProviderError> {
        let limit = limit.to_string();
        let url = url::with_path(
            &self.base,
            &["events"],
            &[
                ("stream_type", "changes"),
                ("stream_position", position),
                ("limit", limit.as_str()),
            ],
        );
        self.get_json(&url, "reading the events stream", Call::Events)?
            .ok_or_else(|| {
                ProviderError::Permanent(
                    "reading the events stream: HTTP 404 (the events API is not there; check \
                     P8_BOX_API_BASE)"
                        .into(),
                )
            })
    }

    /// The URL that downloads a file (Box answers 302 to a pre-authenticated download URL).
    pub fn content_url(&self, id: &str) -> String {
        url::with_path(&self.base, &["files", id, "content"], &[])
    }

    fn get_json<T: DeserializeOwned>(
        &mut self,
        url: &str,
        what: &str,
        call: Call,
    ) -> Result<Option<T>, ProviderError> {
        self.requests += 1;
        let response = http::send(&Request::get(url).header("accept", "application/json"))
            .map_err(|e| ProviderError::Transient(format!("{what}: {}", e.message)))?;
        if response.status == 404 && call != Call::Events {
            log::debug(format!("{what}: HTTP 404"));
            return Ok(None);
        }
        if !(200..300).contains(&response.status) {
            return Err(map_error(
                response.status,
                response.retry_after_seconds(),
                &response.text(),
                what,
                call,
            ));
        }
        serde_json::from_slice(&response.body)
            .map(Some)
            .map_err(|e| {
                ProviderError::Permanent(format!(
                    "{what}: Box answered HTTP {} with a body that is not the expected JSON: {e}",
                    response.status
                ))
            })
    }
}

/// What a Box error body says: `{"type":"error","status":..,"code":"..","message":".."}`, or
/// the OAuth shape `{"error":"..","error_description":".."}`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BoxError {
    /// The error code (`not_found`, `rate_limit_exceeded`, ...).
    pub code: String,
    /// The message.
    pub message: String,
}

impl BoxError {
    /// Read an error body; anything unreadable (cut short, HTML) gives what can be picked out.
    pub fn parse(body: &str) -> BoxError {
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
        let (code, message) = match serde_json::from_str::<Value>(body) {
            Ok(v) => (
                text(&v, "code").or_else(|| text(&v, "error")),
                text(&v, "message").or_else(|| text(&v, "error_description")),
            ),
            Err(_) => (
                error::quoted_values(body, "code").into_iter().next(),
                error::quoted_values(body, "message").into_iter().next(),
            ),
        };
        BoxError {
            code: code.unwrap_or_default(),
            message: error::detail(&message.unwrap_or_default()),
        }
    }
}

/// The one mapping from a failed Box response (an API call, or a download the host made) to
/// the contract's error. `what` names the call or file for the message.
pub fn map_error(
    status: u16,
    retry_after: Option<u32>,
    body: &str,
    what: &str,
    call: Call,
) -> ProviderError {
    let e = BoxError::parse(body);
    let message = format!(
        "{what}: {}",
        error::http_detail(status, &e.code, &e.message)
    );
    match status {
        401 => ProviderError::Unauthorized(format!("{message} (Box rejected the access token)")),
        // 202 on a download: Box is still preparing the file; it says when to come back.
        202 => ProviderError::RateLimited(RateLimit {
            message: format!("{message} (Box is still preparing the file for download)"),
            retry_after_seconds: retry_after.or(Some(1)),
        }),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        503 if retry_after.is_some() => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        408 | 500..=599 => ProviderError::Transient(message),
        404 => ProviderError::NotFound(message),
        403 => ProviderError::Forbidden(format!(
            "{message} (the account may not read this; the Box app needs the \"Read all files \
             and folders stored in Box\" scope)"
        )),
        // A stream position Box no longer accepts: read the account again.
        400 if call == Call::Events => ProviderError::CursorExpired(format!(
            "{message} (Box refused the saved stream position; the account is listed again)"
        )),
        _ => ProviderError::Permanent(message),
    }
}

/// Log the request count at the end of a call, to make slow calls explainable.
pub fn log_requests(api: &Api, call: &str) {
    log::debug(format!("{call}: {} Box requests", api.requests));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(status: u16, code: &str) -> String {
        format!(
            r#"{{"type":"error","status":{status},"code":"{code}","message":"nope","request_id":"abc"}}"#
        )
    }

    #[test]
    fn maps_box_errors() {
        let m = |s, r, b: &str, c| map_error(s, r, b, "x", c);
        assert!(matches!(
            m(401, None, "", Call::Items),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            m(429, Some(7), &body(429, "rate_limit_exceeded"), Call::Items),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(7),
                ..
            })
        ));
        assert!(matches!(
            m(202, None, "", Call::Download),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(1),
                ..
            })
        ));
        assert!(matches!(
            m(503, None, "<html>", Call::Items),
            ProviderError::Transient(_)
        ));
        match m(404, None, &body(404, "trashed"), Call::Download) {
            ProviderError::NotFound(msg) => assert!(msg.contains("trashed: nope"), "{msg}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            m(
                403,
                None,
                &body(403, "access_denied_insufficient_permissions"),
                Call::Item
            ),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(
            m(400, None, &body(400, "bad_request"), Call::Events),
            ProviderError::CursorExpired(_)
        ));
        assert!(matches!(
            m(400, None, &body(400, "bad_request"), Call::Items),
            ProviderError::Permanent(_)
        ));
    }

    #[test]
    fn reads_error_bodies_cut_short() {
        let cut = r#"{"type":"error","status":404,"code":"not_found","message":"Not fo"#;
        assert_eq!(BoxError::parse(cut).code, "not_found");
        let oauth = r#"{"error":"invalid_grant","error_description":"Refresh token has expired"}"#;
        assert_eq!(
            BoxError::parse(oauth),
            BoxError {
                code: "invalid_grant".into(),
                message: "Refresh token has expired".into()
            }
        );
    }
}
