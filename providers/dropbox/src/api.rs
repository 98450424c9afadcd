//! Requests to the Dropbox API v2 and the one mapping from Dropbox's errors to the contract's.
//!
//! The host adds `Authorization` to requests for `api.dropboxapi.com` and
//! `content.dropboxapi.com`; nothing here sees a token, and messages name the call, never a URL.

use crate::model::{LatestCursor, ListFolderResult};
use crate::settings::Settings;
use p8sync_provider_sdk::error;
use p8sync_provider_sdk::http::{self, Request};
use p8sync_provider_sdk::types::{ProviderError, RateLimit};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// A Dropbox RPC client for one call.
pub struct Api {
    rpc: String,
    content: String,
    root: String,
    page_size: u32,
    /// Requests sent so far in this call.
    pub requests: usize,
}

impl Api {
    /// A client configured from the settings.
    pub fn new(settings: &Settings) -> Self {
        Api {
            rpc: settings.rpc_origin.clone(),
            content: settings.content_origin.clone(),
            root: settings.root_path.clone(),
            page_size: settings.page_size,
            requests: 0,
        }
    }

    /// POST a JSON argument to an RPC endpoint and parse the JSON answer. A non-2xx answer
    /// becomes the contract error (see [`map_error`]); `on_409` may claim endpoint errors.
    fn rpc<T: DeserializeOwned>(
        &mut self,
        endpoint: &str,
        arg: &Value,
        what: &str,
    ) -> Result<T, ProviderError> {
        let url = format!("{}/2/{endpoint}", self.rpc);
        self.requests += 1;
        let response = http::send(&Request::post_json(url, arg.to_string()))
            .map_err(|e| ProviderError::Transient(format!("{what}: {e}")))?;
        if !(200..300).contains(&response.status) {
            return Err(map_error(
                response.status,
                response.retry_after_seconds(),
                &response.text(),
                what,
            ));
        }
        serde_json::from_slice(&response.body).map_err(|e| {
            ProviderError::Permanent(format!(
                "{what}: Dropbox answered HTTP {} with a body that is not the expected JSON: {e}",
                response.status
            ))
        })
    }

    /// The first page of a listing of `path` (the configured root when `None`).
    pub fn list_folder(
        &mut self,
        path: Option<&str>,
        recursive: bool,
    ) -> Result<ListFolderResult, ProviderError> {
        let path = path.unwrap_or(&self.root).to_string();
        let arg = json!({
            "path": path,
            "recursive": recursive,
            "include_deleted": false,
            "limit": self.page_size,
        });
        self.rpc("files/list_folder", &arg, "files/list_folder")
            .map_err(|e| root_problem(e, &path))
    }

    /// The next page of a listing or of the change feed.
    pub fn list_continue(&mut self, cursor: &str) -> Result<ListFolderResult, ProviderError> {
        self.rpc(
            "files/list_folder/continue",
            &json!({ "cursor": cursor }),
            "files/list_folder/continue",
        )
    }

    /// A cursor for "now" over the whole tree under the root, deletions included.
    pub fn latest_cursor(&mut self) -> Result<String, ProviderError> {
        let path = self.root.clone();
        let arg = json!({
            "path": path,
            "recursive": true,
            "include_deleted": true,
            "limit": self.page_size,
        });
        let answer: LatestCursor = self
            .rpc(
                "files/list_folder/get_latest_cursor",
                &arg,
                "files/list_folder/get_latest_cursor",
            )
            .map_err(|e| root_problem(e, &path))?;
        if answer.cursor.is_empty() {
            return Err(ProviderError::Permanent(
                "files/list_folder/get_latest_cursor: Dropbox's answer has no cursor".into(),
            ));
        }
        Ok(answer.cursor)
    }

    /// The URL of the download endpoint.
    pub fn download_url(&self) -> String {
        format!("{}/2/files/download", self.content)
    }
}

/// A listing of the configured root that Dropbox says is missing is a configuration error.
fn root_problem(e: ProviderError, path: &str) -> ProviderError {
    match e {
        ProviderError::NotFound(m) => ProviderError::InvalidConfig(format!(
            "root_path `{path}` does not exist in this Dropbox account ({m}); set root_path to \
             an existing folder, or leave it empty for the whole account"
        )),
        ProviderError::Permanent(m) if m.contains("not_folder") => ProviderError::InvalidConfig(
            format!("root_path `{path}` is a file, not a folder ({m})"),
        ),
        other => other,
    }
}

/// What a Dropbox error body says: the tags of `error_summary` (`path/not_found/..` gives
/// `["path", "not_found"]`), and `retry_after` of a rate-limit body.
#[derive(Debug, Default)]
pub struct DropboxError {
    /// The summary's tags, outermost first.
    pub tags: Vec<String>,
    /// The full summary, for messages.
    pub summary: String,
    /// Seconds to wait, from a 429 body.
    pub retry_after: Option<u32>,
}

impl DropboxError {
    /// Read an error body; anything that is not Dropbox's JSON gives no tags.
    pub fn parse(body: &str) -> Self {
        let Ok(value) = serde_json::from_str::<Value>(body) else {
            return DropboxError::default();
        };
        let summary = value["error_summary"].as_str().unwrap_or("").to_string();
        let mut tags: Vec<String> = summary
            .split('/')
            .map(str::trim)
            .filter(|t| !t.is_empty() && !t.starts_with(".."))
            .map(str::to_string)
            .collect();
        if tags.is_empty() {
            // No summary: follow the `.tag` chain of `error`.
            let mut node = &value["error"];
            while let Some(tag) = node[".tag"].as_str() {
                tags.push(tag.to_string());
                node = &node[tag];
            }
            if tags.is_empty()
                && let Some(reason) = value["error"]["reason"][".tag"].as_str()
            {
                tags.push(reason.to_string());
            }
        }
        let retry_after = value["error"]["retry_after"]
            .as_u64()
            .map(|s| u32::try_from(s).unwrap_or(u32::MAX));
        DropboxError {
            tags,
            summary,
            retry_after,
        }
    }

    /// Whether any tag is one of `names`.
    pub fn has(&self, names: &[&str]) -> bool {
        self.tags.iter().any(|t| names.contains(&t.as_str()))
    }
}

/// The one mapping from a failed Dropbox response (an API call, or a download the host made)
/// to the contract's error. `what` names the call or file for the message.
pub fn map_error(status: u16, retry_after: Option<u32>, body: &str, what: &str) -> ProviderError {
    let e = DropboxError::parse(body);
    let detail = if !e.summary.is_empty() {
        format!("HTTP {status} {}", error::detail(&e.summary))
    } else if !e.tags.is_empty() {
        format!("HTTP {status} {}", e.tags.join("/"))
    } else if body.trim().is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {}", error::detail(body))
    };
    let message = format!("{what}: {detail}");
    match status {
        401 if e.has(&["missing_scope"]) => ProviderError::Permanent(format!(
            "{message} (the credential lacks a scope p8sync needs: {}; sign in again with \
             p8sync auth login --provider dropbox and grant them)",
            crate::SCOPES.join(", ")
        )),
        401 => {
            ProviderError::Unauthorized(format!("{message} (Dropbox rejected the access token)"))
        }
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after.or(e.retry_after),
        }),
        // Dropbox's 503 may say when to come back; honour it like a rate limit.
        503 if retry_after.is_some() => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        408 | 500..=599 => ProviderError::Transient(message),
        409 if e.tags.first().is_some_and(|t| t == "reset") => ProviderError::CursorExpired(
            format!("{message} (Dropbox reset the cursor; everything is listed again)"),
        ),
        409 if e.has(&["not_found"]) => ProviderError::NotFound(message),
        409 if e.has(&["restricted_content"]) => ProviderError::Forbidden(format!(
            "{message} (Dropbox restricts this file, e.g. after a copyright claim, and will not \
             serve it)"
        )),
        409 if e.has(&["unsupported_file", "no_permission", "not_downloadable"]) => {
            ProviderError::Forbidden(message)
        }
        403 => ProviderError::Forbidden(message),
        404 | 410 => ProviderError::NotFound(message),
        _ => ProviderError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(s: &str, error: &str) -> String {
        format!(r#"{{"error_summary": "{s}", "error": {error}}}"#)
    }

    #[test]
    fn maps_dropbox_errors() {
        let expired = summary(
            "expired_access_token/..",
            r#"{".tag": "expired_access_token"}"#,
        );
        assert!(matches!(
            map_error(401, None, &expired, "x"),
            ProviderError::Unauthorized(_)
        ));
        let scope = summary(
            "missing_scope/..",
            r#"{".tag": "missing_scope", "required_scope": "files.content.read"}"#,
        );
        match map_error(401, None, &scope, "x") {
            ProviderError::Permanent(m) => assert!(m.contains("files.content.read"), "{m}"),
            other => panic!("{other:?}"),
        }
        let reset = summary("reset/..", r#"{".tag": "reset"}"#);
        assert!(matches!(
            map_error(409, None, &reset, "x"),
            ProviderError::CursorExpired(_)
        ));
        let missing = summary(
            "path/not_found/...",
            r#"{".tag": "path", "path": {".tag": "not_found"}}"#,
        );
        assert!(matches!(
            map_error(409, None, &missing, "x"),
            ProviderError::NotFound(_)
        ));
        // No summary: the `.tag` chain says the same.
        let chain = r#"{"error": {".tag": "path", "path": {".tag": "not_found"}}}"#;
        assert!(matches!(
            map_error(409, None, chain, "x"),
            ProviderError::NotFound(_)
        ));
        let restricted = summary(
            "path/restricted_content/.",
            r#"{".tag": "path", "path": {".tag": "restricted_content"}}"#,
        );
        assert!(matches!(
            map_error(409, None, &restricted, "x"),
            ProviderError::Forbidden(_)
        ));
        let limited = summary(
            "too_many_requests/..",
            r#"{"reason": {".tag": "too_many_requests"}, "retry_after": 7}"#,
        );
        match map_error(429, None, &limited, "x") {
            ProviderError::RateLimited(r) => assert_eq!(r.retry_after_seconds, Some(7)),
            other => panic!("{other:?}"),
        }
        match map_error(429, Some(3), &limited, "x") {
            ProviderError::RateLimited(r) => assert_eq!(r.retry_after_seconds, Some(3)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(500, None, "", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(503, Some(2), "", "x"),
            ProviderError::RateLimited(_)
        ));
        let bad =
            "Error in call to API function \"files/list_folder\": request body: unknown field";
        match map_error(400, None, bad, "files/list_folder") {
            ProviderError::Permanent(m) => assert!(m.contains("unknown field"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A body cut off mid-way is still an error of the status's kind.
        assert!(matches!(
            map_error(409, None, r#"{"error_summary": "path/not_fo"#, "x"),
            ProviderError::Permanent(_)
        ));
    }

    #[test]
    fn a_missing_root_is_a_config_error() {
        let e = root_problem(ProviderError::NotFound("gone".into()), "/Nope");
        match e {
            ProviderError::InvalidConfig(m) => assert!(m.contains("/Nope"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
