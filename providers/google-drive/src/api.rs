//! Requests to the Drive API v3 and the one mapping from Drive's errors to the contract's.
//!
//! The host adds `Authorization` to every request on `www.googleapis.com`; nothing here ever
//! sees a token, and error messages carry Drive's own words plus which call failed, never a URL.

use crate::model::{
    ChangeList, DriveList, FILE_FIELDS, FOLDER_MIME, File, FileList, StartPageToken,
};
use crate::settings::Settings;
use p8sync_provider_sdk::http::{self, Request};
use p8sync_provider_sdk::types::{ProviderError, RateLimit};
use p8sync_provider_sdk::{error, log, url};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The scope this provider asks for, named in permission errors.
pub const SCOPE: &str = "https://www.googleapis.com/auth/drive.readonly";

/// A Drive API client for one call.
pub struct Api {
    base: String,
    shared_drives: bool,
    page_size: u32,
    /// Requests sent so far in this call, to keep each call's work bounded.
    pub requests: usize,
}

impl Api {
    /// A client configured from the settings.
    pub fn new(settings: &Settings) -> Self {
        Api {
            base: settings.base.clone(),
            shared_drives: settings.shared_drives,
            page_size: settings.page_size,
            requests: 0,
        }
    }

    /// `GET {base}{path}?{query}` and parse the JSON answer; errors go through [`map_error`].
    fn get_json<T: DeserializeOwned>(
        &mut self,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<T, Failure> {
        let url = format!("{}{path}{}", self.base, url::query(query));
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
                "{what}: Drive answered HTTP {} with a body that is not the expected JSON: {e}",
                response.status
            )),
        })
    }

    /// `files.get` with the full listing fields; `Ok(None)` when Drive says 404.
    pub fn get_file(&mut self, id: &str) -> Result<Option<File>, ProviderError> {
        self.get_file_fields(id, FILE_FIELDS)
    }

    /// `files.get` with the given `fields`; `Ok(None)` when Drive says 404.
    pub fn get_file_fields(
        &mut self,
        id: &str,
        fields: &str,
    ) -> Result<Option<File>, ProviderError> {
        let what = format!("files.get `{id}`");
        let path = format!("/files/{}", url::encode(id));
        let raw: Value = match self.get_json(
            &path,
            &[("supportsAllDrives", "true"), ("fields", fields)],
            &what,
        ) {
            Ok(raw) => raw,
            Err(Failure {
                status: Some(404), ..
            }) => return Ok(None),
            Err(f) => return Err(f.error),
        };
        crate::model::parse_file(raw)
            .map(Some)
            .map_err(|e| ProviderError::Permanent(format!("{what}: {e}")))
    }

    /// One `files.list` page of the children of `parents` (not trashed). A rejected page token
    /// means the listing has to start over.
    pub fn list_children(
        &mut self,
        parents: &[String],
        page_token: Option<&str>,
    ) -> Result<FileList, ProviderError> {
        let q = format!("({}) and trashed = false", parents_clause(parents));
        let fields = format!("nextPageToken,files({FILE_FIELDS})");
        self.list_files(&q, &fields, page_token, "files.list")
    }

    /// Folders named exactly `name` (case-sensitive) directly in `parent`.
    pub fn child_folders_named(
        &mut self,
        parent: &str,
        name: &str,
    ) -> Result<Vec<File>, ProviderError> {
        let q = format!(
            "'{}' in parents and name = '{}' and mimeType = '{FOLDER_MIME}' and trashed = false",
            quote(parent),
            quote(name)
        );
        let fields = "nextPageToken,files(id,name,mimeType,parents,trashed,driveId)";
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_SMALL_PAGES {
            let page =
                self.list_files(&q, fields, token.as_deref(), "files.list (folder by name)")?;
            // Drive matches names case-insensitively; paths here are case-sensitive.
            found.extend(
                page.files
                    .into_iter()
                    .filter_map(|raw| crate::model::parse_file(raw).ok())
                    .filter(|f| f.is_folder() && !f.trashed && f.name == name),
            );
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(found),
            }
        }
        Err(too_many_pages("files.list (folder by name)"))
    }

    /// Every shortcut the account can see (not trashed), for finding what points where.
    pub fn all_shortcuts(&mut self) -> Result<Vec<File>, ProviderError> {
        let q = format!(
            "mimeType = '{}' and trashed = false",
            crate::model::SHORTCUT_MIME
        );
        let fields =
            "nextPageToken,files(id,name,mimeType,parents,trashed,driveId,shortcutDetails)";
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_SMALL_PAGES {
            let page = self.list_files(&q, fields, token.as_deref(), "files.list (shortcuts)")?;
            found.extend(
                page.files
                    .into_iter()
                    .filter_map(|raw| crate::model::parse_file(raw).ok())
                    .filter(|f| f.is_shortcut() && !f.trashed),
            );
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(found),
            }
        }
        Err(too_many_pages("files.list (shortcuts)"))
    }

    fn list_files(
        &mut self,
        q: &str,
        fields: &str,
        page_token: Option<&str>,
        what: &str,
    ) -> Result<FileList, ProviderError> {
        let page_size = self.page_size.to_string();
        let mut query = vec![
            ("q", q),
            ("fields", fields),
            ("pageSize", page_size.as_str()),
            ("supportsAllDrives", "true"),
            ("includeItemsFromAllDrives", "true"),
            (
                "corpora",
                if self.shared_drives {
                    "allDrives"
                } else {
                    "user"
                },
            ),
        ];
        if let Some(t) = page_token {
            query.push(("pageToken", t));
        }
        self.get_json("/files", &query, what)
            .map_err(|f| f.token_rejected_if(page_token.is_some(), &[400]))
    }

    /// One `drives.list` page.
    pub fn list_drives(&mut self, page_token: Option<&str>) -> Result<DriveList, ProviderError> {
        let mut query = vec![
            ("pageSize", "100"),
            ("fields", "nextPageToken,drives(id,name)"),
        ];
        if let Some(t) = page_token {
            query.push(("pageToken", t));
        }
        self.get_json("/drives", &query, "drives.list")
            .map_err(|f| f.token_rejected_if(page_token.is_some(), &[400]))
    }

    /// Every shared drive, all pages.
    pub fn all_drives(&mut self) -> Result<Vec<crate::model::Drive>, ProviderError> {
        let mut drives = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_SMALL_PAGES {
            let page = self.list_drives(token.as_deref())?;
            drives.extend(page.drives.into_iter().filter(|d| !d.id.is_empty()));
            match page.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(drives),
            }
        }
        Err(too_many_pages("drives.list"))
    }

    /// `changes.getStartPageToken`.
    pub fn start_page_token(&mut self) -> Result<String, ProviderError> {
        let answer: StartPageToken = self
            .get_json(
                "/changes/startPageToken",
                &[("supportsAllDrives", "true")],
                "changes.getStartPageToken",
            )
            .map_err(|f| f.error)?;
        answer
            .start_page_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ProviderError::Permanent(
                    "changes.getStartPageToken: Drive's answer has no startPageToken".into(),
                )
            })
    }

    /// One `changes.list` page from `token`; a token Drive rejects is an expired cursor.
    pub fn list_changes(&mut self, token: &str) -> Result<ChangeList, ProviderError> {
        let page_size = self.page_size.to_string();
        let fields = format!(
            "nextPageToken,newStartPageToken,changes(changeType,removed,fileId,time,driveId,\
             file({FILE_FIELDS}))"
        );
        let mut query = vec![
            ("pageToken", token),
            ("pageSize", page_size.as_str()),
            ("includeRemoved", "true"),
        ];
        if self.shared_drives {
            query.push(("supportsAllDrives", "true"));
            query.push(("includeItemsFromAllDrives", "true"));
        }
        query.push(("fields", &fields));
        self.get_json("/changes", &query, "changes.list")
            .map_err(|f| f.token_rejected_if(true, &[400, 404]))
    }

    /// The URL that downloads a binary file's content.
    pub fn media_url(&self, id: &str, acknowledge_abuse: bool) -> String {
        let mut query = vec![("alt", "media"), ("supportsAllDrives", "true")];
        if acknowledge_abuse {
            query.push(("acknowledgeAbuse", "true"));
        }
        format!(
            "{}/files/{}{}",
            self.base,
            url::encode(id),
            url::query(&query)
        )
    }

    /// The URL that exports a Workspace file to `mime_type`.
    pub fn export_url(&self, id: &str, mime_type: &str) -> String {
        format!(
            "{}/files/{}/export{}",
            self.base,
            url::encode(id),
            url::query(&[("mimeType", mime_type)])
        )
    }
}

/// Small helper listings (drives, folders by name, shortcuts) stop after this many pages.
const MAX_SMALL_PAGES: usize = 50;

fn too_many_pages(what: &str) -> ProviderError {
    ProviderError::Permanent(format!(
        "{what}: Drive kept returning more pages after {MAX_SMALL_PAGES}; giving up"
    ))
}

/// A failed request, with the HTTP status when there was a response.
struct Failure {
    status: Option<u16>,
    error: ProviderError,
}

impl Failure {
    /// `cursor-expired` when a page token was sent and Drive answered one of `statuses`: the
    /// token was rejected and the caller has to start over.
    fn token_rejected_if(self, had_token: bool, statuses: &[u16]) -> ProviderError {
        match self.status {
            Some(s) if had_token && statuses.contains(&s) => ProviderError::CursorExpired(format!(
                "Drive rejected the page token ({})",
                error::message(&self.error)
            )),
            _ => self.error,
        }
    }
}

/// `'a' in parents or 'b' in parents ...`, quoted for a Drive query.
fn parents_clause(parents: &[String]) -> String {
    parents
        .iter()
        .map(|p| format!("'{}' in parents", quote(p)))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Escape a value for a single-quoted Drive query string.
pub fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\'', "\\'")
}

/// What Drive's error envelope says: the first reason, all reasons, and the message.
#[derive(Debug, Default)]
pub struct GoogleError {
    /// Every `errors[].reason` (and `error.status`), in order.
    pub reasons: Vec<String>,
    /// `error.message`, else the first `errors[].message`, else the body's start.
    pub message: String,
}

impl GoogleError {
    /// Read `{"error":{"code","message","errors":[{"domain","reason","message"}]}}` leniently.
    pub fn parse(body: &str) -> Self {
        let mut out = GoogleError::default();
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let error = value.get("error");
        if let Some(error) = error.filter(|e| e.is_object()) {
            if let Some(items) = error.get("errors").and_then(Value::as_array) {
                for item in items {
                    if let Some(r) = item.get("reason").and_then(Value::as_str) {
                        out.reasons.push(r.to_string());
                    }
                    if out.message.is_empty()
                        && let Some(m) = item.get("message").and_then(Value::as_str)
                    {
                        out.message = m.to_string();
                    }
                }
            }
            if let Some(s) = error.get("status").and_then(Value::as_str) {
                out.reasons.push(s.to_string());
            }
            if let Some(m) = error.get("message").and_then(Value::as_str) {
                out.message = m.to_string();
            }
        } else if let Some(e) = error.and_then(Value::as_str) {
            // OAuth-style `{"error":"invalid_grant","error_description":"..."}`.
            out.reasons.push(e.to_string());
            out.message = value
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or(e)
                .to_string();
        } else {
            // Not JSON, or cut short (the host passes at most 8 KiB, and a connection can drop
            // mid-body): pick out what the envelope would have said.
            out.reasons = error::quoted_values(body, "reason");
            out.message = error::quoted_values(body, "message")
                .into_iter()
                .next()
                .unwrap_or_else(|| body.trim().to_string());
        }
        out.message = error::detail(&out.message);
        out
    }

    /// Whether any reason is one of `names`.
    pub fn has(&self, names: &[&str]) -> bool {
        self.reasons.iter().any(|r| names.contains(&r.as_str()))
    }

    /// The first reason, for messages.
    pub fn reason(&self) -> &str {
        self.reasons.first().map(String::as_str).unwrap_or("")
    }
}

/// The one mapping from a failed Drive response (an API call, or a download the host made) to
/// the contract's error. `what` names the call or file for the message.
pub fn map_error(status: u16, retry_after: Option<u32>, body: &str, what: &str) -> ProviderError {
    let g = GoogleError::parse(body);
    let detail = error::http_detail(status, g.reason(), &g.message);
    let message = format!("{what}: {detail}");
    if status == 401 {
        return ProviderError::Unauthorized(format!(
            "{message} (Google rejected the access token)"
        ));
    }
    if status == 429
        || (status == 403
            && g.has(&[
                "userRateLimitExceeded",
                "rateLimitExceeded",
                "RESOURCE_EXHAUSTED",
            ]))
    {
        return ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        });
    }
    if status == 408 || (500..=599).contains(&status) {
        return ProviderError::Transient(message);
    }
    if status == 404 || status == 410 {
        return ProviderError::NotFound(message);
    }
    if status == 403 {
        if g.has(&["accessNotConfigured", "SERVICE_DISABLED"]) {
            return ProviderError::Permanent(format!(
                "{what}: the Google Drive API is not enabled for this OAuth client's Cloud \
                 project; enable it in the Google Cloud console (APIs & Services > Library > \
                 Google Drive API) ({detail})"
            ));
        }
        if g.has(&[
            "insufficientPermissions",
            "insufficientFilePermissions",
            "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        ]) {
            return ProviderError::Forbidden(format!(
                "{message} (the credential's scope does not allow this; p8sync needs {SCOPE}: \
                 re-authorize the account and grant Drive read access)"
            ));
        }
        if g.has(&["cannotDownloadAbusiveFile"]) {
            return ProviderError::Forbidden(format!(
                "{what}: Google flagged this file as abusive; set \
                 provider_config.acknowledge_abuse=true to download it anyway ({detail})"
            ));
        }
        if g.has(&["downloadQuotaExceeded"]) {
            return ProviderError::Forbidden(format!(
                "{what}: the file's download quota is exceeded (Google limits how often one \
                 file is downloaded; it usually lifts within 24 hours) ({detail})"
            ));
        }
        if g.has(&["fileNotDownloadable"]) {
            return ProviderError::Forbidden(format!(
                "{what}: Google says this file cannot be downloaded (only files with binary \
                 content can; Google Workspace files must be exported) ({detail})"
            ));
        }
        if g.has(&["exportSizeLimitExceeded"]) {
            return ProviderError::Forbidden(format!(
                "{what}: the export is over Google's 10 MB export limit ({detail})"
            ));
        }
        return ProviderError::Forbidden(message);
    }
    ProviderError::Permanent(message)
}

/// Log a request count at the end of a call, to make slow calls explainable.
pub fn log_requests(api: &Api, call: &str) {
    log::debug(format!("{call}: {} Drive API requests", api.requests));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_query_values() {
        assert_eq!(quote(r"it's a\b"), r"it\'s a\\b");
        // What a `q` value looks like on the wire (the cassettes hold these bytes).
        assert_eq!(
            url::query(&[("q", "'x' in parents"), ("pageSize", "1000")]),
            "?q=%27x%27%20in%20parents&pageSize=1000"
        );
    }

    #[test]
    fn maps_google_errors() {
        let body = |reason: &str| {
            format!(
                r#"{{"error":{{"code":403,"message":"nope","errors":[{{"domain":"usageLimits","reason":"{reason}","message":"nope"}}]}}}}"#
            )
        };
        assert!(matches!(
            map_error(403, Some(7), &body("userRateLimitExceeded"), "x"),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(7),
                ..
            })
        ));
        assert!(matches!(
            map_error(429, None, "", "x"),
            ProviderError::RateLimited(_)
        ));
        match map_error(403, None, &body("accessNotConfigured"), "x") {
            ProviderError::Permanent(m) => assert!(m.contains("not enabled"), "{m}"),
            other => panic!("{other:?}"),
        }
        match map_error(403, None, &body("insufficientPermissions"), "x") {
            ProviderError::Forbidden(m) => assert!(m.contains(SCOPE), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            map_error(401, None, &body("authError"), "x"),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            map_error(503, None, "<html>", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(404, None, "", "x"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            map_error(400, None, &body("badRequest"), "x"),
            ProviderError::Permanent(_)
        ));
        assert!(matches!(
            map_error(403, None, "{}", "x"),
            ProviderError::Forbidden(_)
        ));
        // Cut off mid-body: the reason still counts.
        let cut = r#"{"error": {"code": 403, "errors": [{"domain": "usageLimits", "reason": "userRateLimitExceeded", "message": "Rate"#;
        assert!(matches!(
            map_error(403, None, cut, "x"),
            ProviderError::RateLimited(_)
        ));
    }
}
