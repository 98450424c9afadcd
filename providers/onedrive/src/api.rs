//! Requests to Microsoft Graph and the one mapping from Graph's errors to the contract's.
//!
//! The host adds `Authorization` to every request on the API host; nothing here sees a token.
//! Delta links carry a change token in their query, so error messages name the call, never the
//! URL.

use crate::model::{DeltaPage, Item};
use crate::settings::Settings;
use p8sync_provider_sdk::http::{self, Request};
use p8sync_provider_sdk::types::{ProviderError, RateLimit};
use p8sync_provider_sdk::{error, log};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Graph error codes that mean "this delta token is no longer valid: enumerate again".
const RESYNC_CODES: &[&str] = &[
    "resyncRequired",
    "resyncChangesApplyDifferences",
    "resyncChangesUploadDifferences",
    "resyncApplyDifferences",
    "resyncUploadDifferences",
];

/// A Graph client for one call.
pub struct Api {
    base: String,
    drive: String,
    /// Requests sent so far in this call.
    pub requests: usize,
}

/// A failed request: the status when there was a response, and the contract error.
pub struct Failure {
    /// The HTTP status, if a response arrived.
    pub status: Option<u16>,
    /// What it means.
    pub error: ProviderError,
}

impl Api {
    /// A client for the configured drive.
    pub fn new(settings: &Settings) -> Self {
        Api {
            base: settings.base.clone(),
            drive: settings.drive.clone(),
            requests: 0,
        }
    }

    /// The first page of a full enumeration.
    pub fn delta_start_url(&self, top: Option<u32>) -> String {
        let mut url = format!("{}{}/root/delta", self.base, self.drive);
        if let Some(top) = top {
            url.push_str(&format!("?$top={top}"));
        }
        url
    }

    /// Whether `url` is on the API's own origin, where delta links must stay.
    pub fn on_api_origin(&self, url: &str) -> bool {
        match (origin(url), origin(&self.base)) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b) && url.len() > a.len(),
            _ => false,
        }
    }

    /// One delta page from `url` (a start URL or a link Graph gave).
    pub fn delta(&mut self, url: &str, what: &str) -> Result<DeltaPage, ProviderError> {
        if !self.on_api_origin(url) {
            return Err(ProviderError::Permanent(format!(
                "{what}: Graph sent a paging link to another server than the API base; refusing \
                 to follow it"
            )));
        }
        self.get_json(url, what).map_err(|f| f.error)
    }

    /// `GET .../root/delta?token=latest`: a delta link for "now", with no items.
    pub fn latest_delta_link(&mut self) -> Result<String, ProviderError> {
        let url = format!("{}{}/root/delta?token=latest", self.base, self.drive);
        let what = "delta (token=latest)";
        let page: DeltaPage = self.get_json(&url, what).map_err(|f| f.error)?;
        let link = page.delta_link.filter(|l| !l.is_empty()).ok_or_else(|| {
            ProviderError::Permanent(format!("{what}: Graph's answer has no @odata.deltaLink"))
        })?;
        if !self.on_api_origin(&link) {
            return Err(ProviderError::Permanent(format!(
                "{what}: Graph's delta link points at another server than the API base"
            )));
        }
        Ok(link)
    }

    /// One item's metadata; `Ok(None)` when Graph says 404.
    pub fn item(&mut self, id: &str) -> Result<Option<Item>, ProviderError> {
        let url = format!(
            "{}{}/items/{}?$select=id,name,parentReference,root,folder,file,deleted",
            self.base,
            self.drive,
            encode(id)
        );
        match self.get_json(&url, &format!("reading folder `{id}`")) {
            Ok(item) => Ok(Some(item)),
            Err(Failure {
                status: Some(404), ..
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// The URL that downloads a file's content (Graph answers 302 to a pre-authenticated URL).
    pub fn content_url(&self, id: &str) -> String {
        format!("{}{}/items/{}/content", self.base, self.drive, encode(id))
    }

    fn get_json<T: DeserializeOwned>(&mut self, url: &str, what: &str) -> Result<T, Failure> {
        self.requests += 1;
        let response = http::send(&Request::get(url).header("accept", "application/json"))
            .map_err(|e| Failure {
                status: None,
                error: ProviderError::Transient(format!("{what}: {e}")),
            })?;
        if !(200..300).contains(&response.status) {
            return Err(Failure {
                status: Some(response.status),
                error: map_error(
                    response.status,
                    response.retry_after_seconds(),
                    &response.text(),
                    what,
                ),
            });
        }
        serde_json::from_slice(&response.body).map_err(|e| Failure {
            status: None,
            error: ProviderError::Permanent(format!(
                "{what}: Graph answered HTTP {} with a body that is not the expected JSON: {e}",
                response.status
            )),
        })
    }
}

/// `scheme://authority` of an absolute URL.
fn origin(url: &str) -> Option<&str> {
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    (end > 0).then(|| &url[..scheme_end + 3 + end])
}

/// Percent-encode an id for a path segment (ids are URL-safe in practice; this keeps it so).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'!') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a Graph error body says: `{"error":{"code","message","innerError":{"code"}}}`.
#[derive(Debug, Default)]
pub struct GraphError {
    /// The error code and any inner codes, outermost first.
    pub codes: Vec<String>,
    /// The message.
    pub message: String,
}

impl GraphError {
    /// Read an error body; anything unreadable gives no codes and the text as the message.
    pub fn parse(body: &str) -> GraphError {
        let mut out = GraphError::default();
        match serde_json::from_str::<Value>(body) {
            Ok(value) => {
                let mut error = value.get("error");
                if let Some(e) = error.and_then(Value::as_str) {
                    // The OAuth envelope: {"error":"invalid_grant","error_description":...}.
                    out.codes.push(e.to_string());
                    out.message = value
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or(e)
                        .to_string();
                }
                if let Some(m) = error.and_then(|e| e.get("message")).and_then(Value::as_str) {
                    out.message = m.to_string();
                }
                let mut depth = 0;
                while let Some(e) = error.filter(|e| e.is_object()) {
                    if let Some(c) = e.get("code").and_then(Value::as_str) {
                        out.codes.push(c.to_string());
                    }
                    error = e.get("innerError").or_else(|| e.get("innererror"));
                    depth += 1;
                    if depth > 8 {
                        break;
                    }
                }
            }
            Err(_) => {
                // Cut short (the host passes at most 8 KiB) or not JSON: pick out the code.
                out.codes = error::quoted_values(body, "code");
                out.message = error::quoted_values(body, "message")
                    .into_iter()
                    .next()
                    .unwrap_or_else(|| body.trim().to_string());
            }
        }
        out.message = error::detail(&out.message);
        out
    }

    /// Whether any code is one of `names` (Graph's codes are case-insensitive in practice).
    pub fn has(&self, names: &[&str]) -> bool {
        self.codes
            .iter()
            .any(|c| names.iter().any(|n| n.eq_ignore_ascii_case(c)))
    }

    fn code(&self) -> &str {
        self.codes.first().map(String::as_str).unwrap_or("")
    }
}

/// The one mapping from a failed Graph response (an API call, or a download the host made)
/// to the contract's error. `what` names the call or file for the message.
pub fn map_error(status: u16, retry_after: Option<u32>, body: &str, what: &str) -> ProviderError {
    let g = GraphError::parse(body);
    let detail = error::http_detail(status, g.code(), &g.message);
    let message = format!("{what}: {detail}");
    if status == 410 || g.has(RESYNC_CODES) {
        return ProviderError::CursorExpired(format!(
            "{message} (Graph no longer accepts this delta token; the drive is enumerated again)"
        ));
    }
    if status == 401 {
        return ProviderError::Unauthorized(format!(
            "{message} (Microsoft rejected the access token)"
        ));
    }
    // 503 and 509 carry Retry-After when they are throttling; 429 always is.
    if status == 429
        || ((status == 503 || status == 509) && retry_after.is_some())
        || g.has(&[
            "activityLimitReached",
            "TooManyRequests",
            "throttledRequest",
        ])
    {
        return ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        });
    }
    if status == 408 || (500..=599).contains(&status) {
        return ProviderError::Transient(message);
    }
    if status == 404 || g.has(&["itemNotFound"]) {
        return ProviderError::NotFound(message);
    }
    if status == 403 {
        if g.has(&["accessDenied"]) {
            return ProviderError::Forbidden(format!(
                "{message} (the account may not read this; p8sync asks for Files.Read.All: \
                 re-authorize if the consent was narrower)"
            ));
        }
        return ProviderError::Forbidden(message);
    }
    if status == 400 && g.has(&["invalidRequest"]) && what.starts_with("delta") {
        // An unreadable token in a saved link reads as a bad request: start over.
        return ProviderError::CursorExpired(message);
    }
    ProviderError::Permanent(message)
}

/// Log the request count at the end of a call, to make slow calls explainable.
pub fn log_requests(api: &Api, call: &str) {
    log::debug(format!("{call}: {} Graph requests", api.requests));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> String {
        format!(
            r#"{{"error":{{"code":"{code}","message":"nope","innerError":{{"code":"inner","date":"x"}}}}}}"#
        )
    }

    #[test]
    fn maps_graph_errors() {
        assert!(matches!(
            map_error(401, None, &body("InvalidAuthenticationToken"), "x"),
            ProviderError::Unauthorized(_)
        ));
        match map_error(403, None, &body("accessDenied"), "x") {
            ProviderError::Forbidden(m) => assert!(m.contains("accessDenied"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(404, None, &body("itemNotFound"), "x"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            map_error(410, None, &body("resyncRequired"), "delta"),
            ProviderError::CursorExpired(_)
        ));
        assert!(matches!(
            map_error(410, None, "", "delta"),
            ProviderError::CursorExpired(_)
        ));
        assert!(matches!(
            map_error(429, Some(3), &body("activityLimitReached"), "x"),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(3),
                ..
            })
        ));
        assert!(matches!(
            map_error(503, Some(5), &body("serviceNotAvailable"), "x"),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(5),
                ..
            })
        ));
        assert!(matches!(
            map_error(503, None, "<html>", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(500, None, &body("generalException"), "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(400, None, &body("invalidRequest"), "x"),
            ProviderError::Permanent(_)
        ));
        // Cut off mid-body: the code still counts.
        let cut = r#"{"error":{"code":"resyncRequired","message":"Resync req"#;
        assert!(matches!(
            map_error(400, None, cut, "delta"),
            ProviderError::CursorExpired(_)
        ));
        let inner =
            r#"{"error":{"code":"generalException","innerError":{"code":"resyncRequired"}}}"#;
        assert!(matches!(
            map_error(400, None, inner, "delta"),
            ProviderError::CursorExpired(_)
        ));
    }

    #[test]
    fn origins_and_encoding() {
        let api = Api {
            base: "https://graph.microsoft.com/v1.0".into(),
            drive: "/me/drive".into(),
            requests: 0,
        };
        assert!(api.on_api_origin("https://graph.microsoft.com/v1.0/me/drive/root/delta?token=x"));
        assert!(api.on_api_origin("https://GRAPH.microsoft.com/v1.0/x"));
        assert!(!api.on_api_origin("https://graph.microsoft.com.evil.example/v1.0/x"));
        assert!(!api.on_api_origin("http://graph.microsoft.com/v1.0/x"));
        assert!(!api.on_api_origin("https://graph.microsoft.com:8443/v1.0/x"));
        assert!(!api.on_api_origin("not a url"));
        assert_eq!(encode("D4648F06C91D9D3D!54927"), "D4648F06C91D9D3D!54927");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}
