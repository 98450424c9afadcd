//! The Drive API v3 routes: files.list/get/export, the exportLinks stand-in, changes,
//! drives and about.

use super::faults::{
    Kind, Reply, auth_error, fault_reply, finish, google_error, google_error_at, invalid_param,
    json_reply, not_found, pick,
};
use super::fields::{self, Selector};
use super::query;
use super::state::{Body, EXPORT_CAP, FileRec, State, rfc3339};
use super::{Fault, oauth};
use axum::Router;
use axum::extract::{Path, RawQuery, State as Axum};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) type Shared = Arc<Mutex<State>>;

/// A panic in a test's population call must not wedge the server for the rest of the test.
pub(crate) fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|e| e.into_inner())
}

const LIST_FIELDS: &str =
    "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType,resourceKey)";
const FILE_FIELDS: &str = "kind,id,name,mimeType,resourceKey";
const CHANGE_FIELDS: &str = "kind,nextPageToken,newStartPageToken,changes(kind,changeType,removed,fileId,time,driveId,file(kind,id,name,mimeType,resourceKey))";
const DRIVE_LIST_FIELDS: &str = "kind,nextPageToken,drives(kind,id,name)";
const DRIVE_FIELDS: &str = "kind,id,name";

pub(crate) use crate::fake_common::params::Params;

/// Drive's own readings of parameters.
impl Params {
    fn flag(&self, name: &str, default: bool) -> Result<bool, Reply> {
        match self.get(name) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(v) => Err(invalid_param(name, &format!("'{v}' is not a boolean"))),
        }
    }

    fn page_size(&self, default: u32, max: u32) -> Result<u32, Reply> {
        match self.get("pageSize") {
            None => Ok(default),
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(invalid_param(
                    "pageSize",
                    &format!("'{v}'. Values must be within the range: [1, {max}]"),
                )),
            },
        }
    }

    fn selector(&self, default: &str) -> Result<Selector, Reply> {
        let raw = self.get("fields").unwrap_or(default);
        fields::parse(raw).map_err(|e| {
            let message = format!("Invalid field selection {raw}: {e}");
            google_error_at(
                400,
                "global",
                "invalidParameter",
                &message,
                Some(("parameter", "fields")),
            )
        })
    }
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn try_reply(r: Result<Reply, Reply>) -> Reply {
    r.unwrap_or_else(|e| e)
}

/// Count, check the bearer token, apply faults, then answer with `body`.
async fn api(
    shared: &Shared,
    kind: Kind,
    headers: &HeaderMap,
    body: impl FnOnce(&mut State) -> Result<Reply, Reply>,
) -> Response {
    let (reply, fault): (Reply, Option<Fault>) = {
        let mut s = lock(shared);
        kind.count(&mut s.counts);
        if !bearer(headers).is_some_and(|t| s.access_ok(t)) {
            (auth_error(), None)
        } else {
            let fault = pick(&mut s.rules, kind);
            match fault.as_ref().and_then(fault_reply) {
                Some(r) => (r, None),
                None => (try_reply(body(&mut s)), fault),
            }
        }
    };
    finish(reply, fault).await
}

pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/drive/v3/files", get(list_files))
        .route("/drive/v3/files/{id}", get(get_file))
        .route("/drive/v3/files/{id}/export", get(export))
        .route("/drive/v3/changes", get(list_changes))
        .route("/drive/v3/changes/startPageToken", get(start_page_token))
        .route("/drive/v3/drives", get(list_drives))
        .route("/drive/v3/drives/{id}", get(get_drive))
        .route("/drive/v3/about", get(about))
        .route("/export-links/{id}", get(export_link))
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route("/token", post(oauth::token))
        .route("/revoke", post(oauth::revoke))
        .route("/oauth2/v3/userinfo", get(oauth::userinfo))
        .fallback(|| async {
            finish(google_error(404, "global", "notFound", "Not Found"), None).await
        })
        .with_state(shared)
}

async fn list_files(Axum(s): Axum<Shared>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::List, &h, |s| s.list_files(&p)).await
}

async fn get_file(
    Axum(s): Axum<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Response {
    let p = Params::parse(q.as_deref());
    let kind = if p.get("alt") == Some("media") {
        Kind::Media
    } else {
        Kind::Get
    };
    api(&s, kind, &h, |s| s.get_file(&id, &p, &h)).await
}

async fn export(
    Axum(s): Axum<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::Export, &h, |s| s.export(&id, &p, true)).await
}

async fn export_link(
    Axum(s): Axum<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::ExportLink, &h, |s| s.export(&id, &p, false)).await
}

async fn start_page_token(Axum(s): Axum<Shared>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::StartPageToken, &h, |s| s.start_page_token(&p)).await
}

async fn list_changes(Axum(s): Axum<Shared>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::Changes, &h, |s| s.list_changes(&p)).await
}

async fn list_drives(Axum(s): Axum<Shared>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::Drives, &h, |s| s.list_drives(&p)).await
}

async fn get_drive(
    Axum(s): Axum<Shared>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    h: HeaderMap,
) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::Drives, &h, |s| {
        let sel = p.selector(DRIVE_FIELDS)?;
        let d = s
            .drives
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| drive_not_found(&id))?;
        Ok(json_reply(200, &sel.apply(&s.drive_json(d))))
    })
    .await
}

async fn about(Axum(s): Axum<Shared>, RawQuery(q): RawQuery, h: HeaderMap) -> Response {
    let p = Params::parse(q.as_deref());
    api(&s, Kind::About, &h, |s| {
        if p.get("fields").is_none() {
            return Err(google_error_at(
                400,
                "global",
                "required",
                "The 'fields' parameter is required for this method.",
                Some(("parameter", "fields")),
            ));
        }
        let sel = p.selector("")?;
        let used: usize = s
            .files
            .values()
            .filter_map(|f| match &f.body {
                Body::Binary { data, .. } => Some(data.len()),
                _ => None,
            })
            .sum();
        let about = json!({
            "kind": "drive#about",
            "user": {
                "kind": "drive#user",
                "displayName": "Fake User",
                "emailAddress": "user@example.com",
                "permissionId": "1234",
                "me": true,
            },
            "storageQuota": {
                "limit": "16106127360",
                "usage": used.to_string(),
                "usageInDrive": used.to_string(),
                "usageInDriveTrash": "0",
            },
        });
        Ok(json_reply(200, &sel.apply(&about)))
    })
    .await
}

fn drive_not_found(id: &str) -> Reply {
    google_error_at(
        404,
        "global",
        "notFound",
        &format!("Shared drive not found: {id}"),
        Some(("parameter", "driveId")),
    )
}

/// Which items a files.list may see.
enum Corpus {
    User,
    AllDrives,
    Drive(String),
}

/// A `bytes=` range against a body of `len` bytes.
enum RangeReq {
    Whole,
    Part(usize, usize),
    Unsatisfiable,
}

/// Syntax that is not understood means "the whole body", as RFC 9110 says.
fn parse_range(h: Option<&str>, len: usize) -> RangeReq {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeReq::Whole;
    };
    if spec.contains(',') {
        return RangeReq::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeReq::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<usize>() {
            Ok(0) => RangeReq::Unsatisfiable,
            Ok(_) if len == 0 => RangeReq::Unsatisfiable,
            Ok(n) => RangeReq::Part(len.saturating_sub(n), len - 1),
            Err(_) => RangeReq::Whole,
        };
    }
    let Ok(start) = a.parse::<usize>() else {
        return RangeReq::Whole;
    };
    let end = if b.is_empty() {
        usize::MAX
    } else {
        match b.parse::<usize>() {
            Ok(e) if e >= start => e,
            _ => return RangeReq::Whole,
        }
    };
    if start >= len {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Part(start, end.min(len - 1))
}

impl State {
    fn list_files(&mut self, p: &Params) -> Result<Reply, Reply> {
        let page_size = p.page_size(100, 1000)? as usize;
        let sel = p.selector(LIST_FIELDS)?;
        let shared_ok =
            p.flag("supportsAllDrives", false)? && p.flag("includeItemsFromAllDrives", false)?;
        let drive_id = p.get("driveId");
        let corpus = match (p.get("corpora").unwrap_or("user"), drive_id) {
            ("drive", Some(d)) => {
                if !self.drives.iter().any(|x| x.id == d) {
                    return Err(drive_not_found(d));
                }
                Corpus::Drive(d.to_string())
            }
            ("drive", None) | (_, Some(_)) => {
                return Err(google_error_at(
                    400,
                    "global",
                    "badRequest",
                    "The driveId parameter must be specified if and only if corpora is set to drive.",
                    Some(("parameter", "driveId")),
                ));
            }
            ("user" | "domain", None) => Corpus::User,
            ("allDrives", None) => Corpus::AllDrives,
            (other, None) => return Err(invalid_param("corpora", &format!("'{other}'"))),
        };
        let mut in_drive_space = true;
        if let Some(spaces) = p.get("spaces") {
            in_drive_space = false;
            for sp in spaces.split(',').map(str::trim) {
                match sp {
                    "drive" => in_drive_space = true,
                    "appDataFolder" => {}
                    _ => return Err(invalid_param("spaces", &format!("'{sp}'"))),
                }
            }
        }
        let expr = match p.get("q") {
            Some(q) if !q.trim().is_empty() => {
                let mut e = query::parse(q).map_err(|e| invalid_param("q", &e))?;
                e.resolve_root(&self.root_id);
                Some(e)
            }
            _ => None,
        };
        let mut h = DefaultHasher::new();
        (
            p.get("q"),
            p.get("corpora"),
            drive_id,
            shared_ok,
            p.get("spaces"),
        )
            .hash(&mut h);
        let signature = h.finish();
        let (after, page) = match p.get("pageToken") {
            None => (0, 1),
            Some(t) => match self.cursors.get(t) {
                Some(c) if c.signature == signature => (c.after_seq, c.page + 1),
                _ => return Err(invalid_param("pageToken", "")),
            },
        };
        // Pages run full, half, empty, full...: Drive may end a page early, even with nothing.
        let quota = match page % 3 {
            1 => page_size,
            2 => (page_size / 2).max(1),
            _ => 0,
        };
        let visible = |f: &FileRec| {
            !f.is_root
                && match (&f.drive_id, &corpus) {
                    (None, Corpus::User | Corpus::AllDrives) => true,
                    (None, Corpus::Drive(_)) => false,
                    (Some(_), Corpus::User) => false,
                    (Some(_), Corpus::AllDrives) => shared_ok,
                    (Some(d), Corpus::Drive(want)) => shared_ok && d == want,
                }
        };
        // The iterator borrows the files; finish with it before minting a token.
        let (files, last, more) = {
            let candidates: Box<dyn Iterator<Item = &FileRec>> =
                match expr.as_ref().and_then(|e| e.candidate_parents()) {
                    _ if !in_drive_space => Box::new(std::iter::empty()),
                    None => Box::new(self.files.range(after + 1..).map(|(_, f)| f)),
                    Some(parents) => {
                        let mut seqs: Vec<u64> = parents
                            .iter()
                            .filter_map(|p| self.children.get(*p))
                            .flat_map(|c| c.range(after + 1..).copied())
                            .collect();
                        if parents.len() > 1 {
                            seqs.sort_unstable();
                            seqs.dedup();
                        }
                        Box::new(seqs.into_iter().map(|s| &self.files[&s]))
                    }
                };
            let mut hits = candidates
                .filter(|f| visible(f) && expr.as_ref().is_none_or(|e| e.matches(f)))
                .take(quota + 1);
            let page_files: Vec<&FileRec> = hits.by_ref().take(quota).collect();
            let more = hits.next().is_some();
            let files: Vec<Value> = page_files.iter().map(|f| self.file_json(f)).collect();
            let last = page_files.last().map_or(after, |f| f.seq);
            (files, last, more)
        };
        let mut body = json!({"kind": "drive#fileList", "incompleteSearch": false, "files": files});
        if more {
            let token = format!("~!!~{}", self.opaque("pagetoken", 100));
            self.cursors.insert(
                token.clone(),
                super::state::Cursor {
                    signature,
                    after_seq: last,
                    page,
                },
            );
            body["nextPageToken"] = json!(token);
        }
        Ok(json_reply(200, &sel.apply(&body)))
    }

    fn get_file(&mut self, id: &str, p: &Params, h: &HeaderMap) -> Result<Reply, Reply> {
        let supports = p.flag("supportsAllDrives", false)?;
        let ack = p.flag("acknowledgeAbuse", false)?;
        let f = self
            .get(id)
            .filter(|f| f.drive_id.is_none() || supports)
            .ok_or_else(|| not_found(id))?;
        match p.get("alt") {
            None | Some("json") => {
                let sel = p.selector(FILE_FIELDS)?;
                Ok(json_reply(200, &sel.apply(&self.file_json(f))))
            }
            Some("media") => {
                let Body::Binary { data, .. } = &f.body else {
                    return Err(google_error_at(
                        403,
                        "global",
                        "fileNotDownloadable",
                        "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
                        Some(("parameter", "alt")),
                    ));
                };
                if f.abusive && !ack {
                    return Err(google_error_at(
                        403,
                        "global",
                        "cannotDownloadAbusiveFile",
                        "This file has been identified as malware or spam and cannot be downloaded.",
                        Some(("parameter", "acknowledgeAbuse")),
                    ));
                }
                if f.quota_exceeded {
                    return Err(google_error(
                        403,
                        "global",
                        "downloadQuotaExceeded",
                        "The download quota for this file has been exceeded.",
                    ));
                }
                let range = h.get("range").and_then(|v| v.to_str().ok());
                let len = data.len();
                Ok(match parse_range(range, len) {
                    RangeReq::Whole => Reply::bytes(200, &f.mime, data.clone()),
                    RangeReq::Part(a, b) => Reply::bytes(206, &f.mime, data.slice(a..=b))
                        .header("content-range", format!("bytes {a}-{b}/{len}")),
                    RangeReq::Unsatisfiable => google_error(
                        416,
                        "global",
                        "requestedRangeNotSatisfiable",
                        "Request range not satisfiable",
                    )
                    .header("content-range", format!("bytes */{len}")),
                })
            }
            Some(other) => Err(invalid_param("alt", &format!("'{other}'"))),
        }
    }

    /// files.export (`capped`) or an exportLinks URL (no size cap).
    fn export(&mut self, id: &str, p: &Params, capped: bool) -> Result<Reply, Reply> {
        let Some(mime) = p.get("mimeType") else {
            return Err(google_error_at(
                400,
                "global",
                "required",
                "Required parameter: mimeType",
                Some(("parameter", "mimeType")),
            ));
        };
        let f = self.get(id).ok_or_else(|| not_found(id))?;
        let kind = match &f.body {
            Body::Workspace { kind, .. } if !kind.exports().is_empty() => *kind,
            _ => {
                return Err(google_error(
                    403,
                    "global",
                    "fileNotExportable",
                    "Export only supports Docs Editors files.",
                ));
            }
        };
        if !kind.exports().contains(&mime) {
            return Err(google_error_at(
                400,
                "global",
                "badRequest",
                "The requested conversion is not supported.",
                Some(("parameter", "mimeType")),
            ));
        }
        let bytes = self.export_bytes(&f.id, mime);
        if capped && (f.oversized || bytes.len() > EXPORT_CAP) {
            return Err(google_error(
                403,
                "global",
                "exportSizeLimitExceeded",
                "This file is too large to be exported.",
            ));
        }
        Ok(Reply::bytes(200, mime, bytes))
    }

    fn check_drive_param(&self, p: &Params) -> Result<Option<String>, Reply> {
        match p.get("driveId") {
            Some(d) if !self.drives.iter().any(|x| x.id == d) => Err(drive_not_found(d)),
            d => Ok(d.map(str::to_string)),
        }
    }

    fn start_page_token(&mut self, p: &Params) -> Result<Reply, Reply> {
        p.flag("supportsAllDrives", false)?;
        self.check_drive_param(p)?;
        let sel = p.selector("kind,startPageToken")?;
        let body = json!({
            "kind": "drive#startPageToken",
            "startPageToken": (self.changes.len() + 1).to_string(),
        });
        Ok(json_reply(200, &sel.apply(&body)))
    }

    fn list_changes(&mut self, p: &Params) -> Result<Reply, Reply> {
        let Some(token) = p.get("pageToken") else {
            return Err(google_error_at(
                400,
                "global",
                "required",
                "Required parameter: pageToken",
                Some(("parameter", "pageToken")),
            ));
        };
        // Every integer up to the current start token was once a start token this server gave.
        let start = match token.parse::<usize>() {
            Ok(n) if (1..=self.changes.len() + 1).contains(&n) => n - 1,
            _ => return Err(invalid_param("pageToken", "")),
        };
        let page_size = p.page_size(100, 1000)? as usize;
        let include_removed = p.flag("includeRemoved", true)?;
        let shared_ok =
            p.flag("supportsAllDrives", false)? && p.flag("includeItemsFromAllDrives", false)?;
        let my_drive_only = p.flag("restrictToMyDrive", false)?;
        let drive_id = self.check_drive_param(p)?;
        let sel = p.selector(CHANGE_FIELDS)?;
        let mut out = Vec::new();
        let mut next = None;
        for (i, c) in self.changes.iter().enumerate().skip(start) {
            // Drive reports a file once per range, as its latest state.
            if self.latest_change.get(&c.file_id) != Some(&i) || (c.removed && !include_removed) {
                continue;
            }
            let wanted = match (&c.drive_id, &drive_id) {
                (Some(d), want) => {
                    shared_ok && !my_drive_only && want.as_ref().is_none_or(|w| w == d)
                }
                (None, Some(_)) => false,
                (None, None) => true,
            };
            if !wanted {
                continue;
            }
            if out.len() == page_size {
                next = Some(i + 1);
                break;
            }
            let file = (!c.removed).then(|| self.get(&c.file_id)).flatten();
            let mut change = json!({
                "kind": "drive#change",
                "changeType": "file",
                "removed": file.is_none(),
                "fileId": c.file_id,
                "time": rfc3339(c.time),
            });
            if let Some(d) = &c.drive_id {
                change["driveId"] = json!(d);
            }
            if let Some(f) = file {
                change["file"] = self.file_json(f);
            }
            out.push(change);
        }
        let mut body = json!({"kind": "drive#changeList", "changes": out});
        match next {
            Some(n) => body["nextPageToken"] = json!(n.to_string()),
            None => body["newStartPageToken"] = json!((self.changes.len() + 1).to_string()),
        }
        Ok(json_reply(200, &sel.apply(&body)))
    }

    fn list_drives(&mut self, p: &Params) -> Result<Reply, Reply> {
        let page_size = p.page_size(10, 100)? as usize;
        let sel = p.selector(DRIVE_LIST_FIELDS)?;
        let after = match p.get("pageToken") {
            None => 0,
            Some(t) => match self.cursors.get(t) {
                Some(c) if c.signature == 0 => c.after_seq as usize,
                _ => return Err(invalid_param("pageToken", "")),
            },
        };
        let drives: Vec<Value> = self
            .drives
            .iter()
            .skip(after)
            .take(page_size)
            .map(|d| self.drive_json(d))
            .collect();
        let end = after + drives.len();
        let mut body = json!({"kind": "drive#driveList", "drives": drives});
        if end < self.drives.len() {
            let token = self.opaque("drivetoken", 60);
            self.cursors.insert(
                token.clone(),
                super::state::Cursor {
                    signature: 0,
                    after_seq: end as u64,
                    page: 0,
                },
            );
            body["nextPageToken"] = json!(token);
        }
        Ok(json_reply(200, &sel.apply(&body)))
    }
}
