//! Requests to the example API and the one mapping from its errors to the contract's.
//!
//! The host adds `Authorization` to every request on the declared API host: nothing here ever
//! sees a token. Error messages name the call, never a URL (a URL may carry a signature).

use crate::model::FileList;
use p8sync_provider_sdk::http::{self, Request, Response};
use p8sync_provider_sdk::page::{self, PageBuilder, Paginator};
use p8sync_provider_sdk::types::{ListRequest, Page, ProviderError, RateLimit};
use p8sync_provider_sdk::{config, url};

/// The config key that caps the page size.
pub const MAX_PAGE_SIZE_KEY: &str = "max_page_size";

/// CHANGE ME: the most items the service returns per request.
pub const SERVICE_MAX_PAGE_SIZE: u32 = 1000;

/// CHANGE ME: the cursor format; bump the version whenever what the cursor carries changes, so
/// an old cursor is refused (the host then lists from the start) instead of misread.
const LIST_CURSOR: Paginator = Paginator::new("example.list.v1");

/// The API, for one call.
pub struct Api {
    base: String,
    max_page_size: u32,
}

impl Api {
    /// The API at the operator's base URL (`P8_<ID>_API_BASE`), or at `default_base`.
    pub fn new(default_base: &str) -> Result<Self, ProviderError> {
        let max_page_size = config::get_parsed::<u32>(MAX_PAGE_SIZE_KEY, "a whole number")?
            .unwrap_or(SERVICE_MAX_PAGE_SIZE)
            .clamp(1, SERVICE_MAX_PAGE_SIZE);
        Ok(Api {
            base: config::api_base(default_base),
            max_page_size,
        })
    }

    /// One page of the listing: one API request, its files as entries, its `next` token in
    /// the cursor.
    pub fn list(&self, request: &ListRequest) -> Result<Page, ProviderError> {
        let token = LIST_CURSOR.token(request.cursor.as_deref())?;
        let limit = page::page_size(request.page_size_hint, self.max_page_size).to_string();
        let mut query = vec![("limit", limit.as_str())];
        if let Some(t) = &token {
            query.push(("cursor", t));
        }
        if let Some(folder) = &request.folder_id {
            query.push(("folder", folder));
            query.push((
                "recursive",
                if request.recursive { "true" } else { "false" },
            ));
        }
        let url = url::with_path(&self.base, &["files"], &query);
        let list: FileList =
            http::send_json_with(&Request::get(url), "listing files", |r, what| {
                // A token the service no longer accepts means "start over", not "fail the sync".
                if token.is_some() && r.status == 400 {
                    return ProviderError::CursorExpired(format!(
                        "{what}: the API refused the page token ({})",
                        detail(&r.text())
                    ));
                }
                map_response(r, what)
            })?;
        let mut out = PageBuilder::new();
        for file in list.files {
            match file.into_entry() {
                Ok(entry) => out.push(entry),
                // One odd file must not fail the listing: report it and carry on.
                Err((id, name, why)) => out.skip(id, name, why),
            }
        }
        Ok(LIST_CURSOR.page(out, list.next))
    }

    /// The URL that downloads a file's bytes.
    pub fn content_url(&self, id: &str) -> String {
        url::with_path(&self.base, &["files", id, "content"], &[])
    }
}

/// The one error mapping, for an API response.
fn map_response(response: &Response, what: &str) -> ProviderError {
    map_status(
        response.status,
        response.retry_after_seconds(),
        &response.text(),
        what,
    )
}

/// The one error mapping: a failed status (of an API call, or of a download the host made) as
/// the contract's error. CHANGE ME: services often say more in the body (a quota reason in a
/// 403); `http::status_error` is the default this starts from.
pub fn map_status(status: u16, retry_after: Option<u32>, body: &str, what: &str) -> ProviderError {
    let message = format!("{what}: HTTP {status}: {}", detail(body));
    match status {
        401 => ProviderError::Unauthorized(format!(
            "{message} (the API rejected the token; set it again with `p8sync auth set`)"
        )),
        403 => ProviderError::Forbidden(message),
        404 | 410 => ProviderError::NotFound(message),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        408 | 500..=599 => ProviderError::Transient(message),
        _ => ProviderError::Permanent(message),
    }
}

/// The API's own words from `{"error": {"message": ...}}`, else the start of the body.
fn detail(body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Envelope {
        error: Inner,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        message: String,
    }
    let text = match p8sync_provider_sdk::serde_json::from_str::<Envelope>(body) {
        Ok(e) => e.error.message,
        Err(_) => body.trim().to_string(),
    };
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_statuses() {
        let body = r#"{"error":{"code":429,"message":"slow down"}}"#;
        match map_status(429, Some(3), body, "listing files") {
            ProviderError::RateLimited(r) => {
                assert_eq!(r.retry_after_seconds, Some(3));
                assert_eq!(r.message, "listing files: HTTP 429: slow down");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_status(401, None, "", "x"),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            map_status(403, None, "", "x"),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(
            map_status(404, None, "", "x"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            map_status(503, None, "<html>", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_status(400, None, "", "x"),
            ProviderError::Permanent(_)
        ));
    }
}
