//! The fake's in-memory Dropbox: a case-insensitive tree keyed by `path_lower`, a change log
//! numbered by sequence, cursors that encode position and sequence, and OAuth tokens.

use super::Counts;
use super::{Fault, Target};
use crate::fake_common::faults::Injector;
use crate::fake_common::ids::opaque;
use crate::fake_common::tokens::AccessTokens;
use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Dropbox's content-hash block size.
pub const BLOCK: usize = 4 * 1024 * 1024;

/// Dropbox's `content_hash`: SHA-256 of the concatenated SHA-256 of each 4 MiB block, hex.
pub fn content_hash(data: &[u8]) -> String {
    let mut outer = Sha256::new();
    for block in data.chunks(BLOCK) {
        outer.update(Sha256::digest(block));
    }
    hex::encode(outer.finalize())
}

/// A file's content and what Dropbox says about it.
#[derive(Clone)]
pub(crate) struct FileData {
    pub data: Bytes,
    pub rev: String,
    pub hash: String,
    pub modified: DateTime<Utc>,
    /// Serve a damaged copy (same length, one byte flipped).
    pub corrupt: bool,
    /// Listed with `is_downloadable: false` (a Paper doc); download answers 409.
    pub cloud_doc: bool,
}

/// A file or folder.
#[derive(Clone)]
pub(crate) struct Node {
    pub id: String,
    pub name: String,
    pub path_display: String,
    pub file: Option<FileData>,
}

/// One entry of the change log: the entry's JSON as it was after the change.
pub(crate) struct Change {
    pub seq: u64,
    pub path_lower: String,
    pub meta: Value,
}

/// What a cursor remembers.
#[derive(Debug, Clone)]
pub(crate) struct Cursor {
    /// The listed folder, lower-cased (`""` for the root).
    pub root: String,
    pub recursive: bool,
    pub include_deleted: bool,
    pub limit: u32,
    /// Cursors made before the last reset are refused with 409 `reset`.
    pub epoch: u64,
    /// `Some(path)` while a listing is under way: the last path handed out.
    pub after: Option<String>,
    /// The sequence the listing started at, or the last change handed out.
    pub since: u64,
    /// Pages handed out with this listing or feed, to vary page sizes.
    pub pages: u64,
}

impl Cursor {
    pub(crate) fn encode(&self) -> String {
        let v = json!({
            "root": self.root, "recursive": self.recursive,
            "include_deleted": self.include_deleted, "limit": self.limit,
            "epoch": self.epoch, "after": self.after, "since": self.since, "pages": self.pages,
        });
        format!("AAH{}", URL_SAFE_NO_PAD.encode(v.to_string()))
    }

    pub(crate) fn decode(text: &str) -> Option<Cursor> {
        let raw = URL_SAFE_NO_PAD.decode(text.strip_prefix("AAH")?).ok()?;
        let v: Value = serde_json::from_slice(&raw).ok()?;
        Some(Cursor {
            root: v["root"].as_str()?.to_string(),
            recursive: v["recursive"].as_bool()?,
            include_deleted: v["include_deleted"].as_bool()?,
            limit: u32::try_from(v["limit"].as_u64()?).ok()?,
            epoch: v["epoch"].as_u64()?,
            after: v["after"].as_str().map(str::to_string),
            since: v["since"].as_u64()?,
            pages: v["pages"].as_u64()?,
        })
    }
}

pub(crate) struct Code {
    pub redirect_uri: Option<String>,
    pub challenge: Option<String>,
    pub offline: bool,
    pub used: bool,
}

/// Everything the fake holds.
pub(crate) struct State {
    pub nodes: BTreeMap<String, Node>,
    pub by_id: HashMap<String, String>,
    pub changes: Vec<Change>,
    pub seq: u64,
    pub epoch: u64,
    next_id: u64,
    next_rev: u64,
    last_time: DateTime<Utc>,
    pub access: AccessTokens,
    pub refresh: HashMap<String, bool>,
    pub codes: HashMap<String, Code>,
    pub lifetime: Duration,
    pub last_authorize: Option<Vec<(String, String)>>,
    pub rules: Injector<Target, Fault>,
    pub counts: Counts,
    next_token: u64,
}

/// The parent of a lower-cased path (`""` for a top-level item).
pub(crate) fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

/// Whether `path` is listed by a listing of `root`.
pub(crate) fn in_scope(path: &str, root: &str, recursive: bool) -> bool {
    if recursive {
        root.is_empty() || path == root || path.starts_with(&format!("{root}/"))
    } else {
        parent_of(path) == root
    }
}

impl State {
    pub(crate) fn new() -> State {
        State {
            nodes: BTreeMap::new(),
            by_id: HashMap::new(),
            changes: Vec::new(),
            seq: 0,
            epoch: 1,
            next_id: 0,
            next_rev: 0x1f0,
            last_time: DateTime::<Utc>::MIN_UTC,
            access: AccessTokens::default(),
            refresh: HashMap::new(),
            codes: HashMap::new(),
            lifetime: Duration::from_secs(14_400),
            last_authorize: None,
            rules: Injector::default(),
            counts: Counts::default(),
            next_token: 0,
        }
    }

    /// Seconds precision, like Dropbox's timestamps.
    fn now(&mut self) -> DateTime<Utc> {
        let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("time");
        self.last_time = self.last_time.max(now);
        self.last_time
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("id:{}", opaque("id", self.next_id, 22))
    }

    fn new_rev(&mut self) -> String {
        self.next_rev += 1;
        format!(
            "{:x}{}",
            self.next_rev,
            &opaque("rev", self.next_rev, 9).to_lowercase()
        )
        .chars()
        .map(|c| if c.is_ascii_hexdigit() { c } else { '0' })
        .collect()
    }

    pub(crate) fn opaque_token(&mut self, kind: &str, len: usize) -> String {
        self.next_token += 1;
        opaque(kind, self.next_token, len)
    }

    /// A path as given (`/A/b.txt`) checked and split into (lower, display).
    fn split(path: &str) -> (String, String) {
        assert!(
            path.starts_with('/'),
            "fake dropbox: paths start with /: {path}"
        );
        let display = path.trim_end_matches('/').to_string();
        (display.to_lowercase(), display)
    }

    /// The node a `path` argument names: a path, `id:...`, or `rev:...` for files.
    pub(crate) fn resolve(&self, arg: &str) -> Option<&str> {
        if arg.starts_with("id:") {
            return self.by_id.get(arg).map(String::as_str);
        }
        if let Some(rev) = arg.strip_prefix("rev:") {
            return self
                .nodes
                .iter()
                .find(|(_, n)| n.file.as_ref().is_some_and(|f| f.rev == rev))
                .map(|(p, _)| p.as_str());
        }
        let lower = arg.to_lowercase();
        self.nodes.get_key_value(&lower).map(|(p, _)| p.as_str())
    }

    pub(crate) fn meta(&self, path_lower: &str) -> Value {
        let n = &self.nodes[path_lower];
        match &n.file {
            None => json!({
                ".tag": "folder",
                "name": n.name,
                "id": n.id,
                "path_lower": path_lower,
                "path_display": n.path_display,
            }),
            Some(f) => {
                let mut m = json!({
                    ".tag": "file",
                    "name": n.name,
                    "id": n.id,
                    "path_lower": path_lower,
                    "path_display": n.path_display,
                    "client_modified": f.modified.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "server_modified": f.modified.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                    "rev": f.rev,
                    "size": f.data.len(),
                    "is_downloadable": !f.cloud_doc,
                    "content_hash": f.hash,
                });
                if f.cloud_doc {
                    m["export_info"] = json!({"export_as": "docx"});
                }
                m
            }
        }
    }

    fn log(&mut self, path_lower: &str, meta: Value) {
        self.seq += 1;
        self.changes.push(Change {
            seq: self.seq,
            path_lower: path_lower.to_string(),
            meta,
        });
    }

    fn log_node(&mut self, path_lower: &str) {
        let meta = self.meta(path_lower);
        self.log(path_lower, meta);
    }

    fn log_deleted(&mut self, path_lower: &str, display: &str, name: &str) {
        self.log(
            path_lower,
            json!({".tag": "deleted", "name": name, "path_lower": path_lower, "path_display": display}),
        );
    }

    /// Create missing parent folders of `display` (a full display path).
    fn ensure_parents(&mut self, display: &str) {
        let mut so_far = String::new();
        let parts: Vec<&str> = display.split('/').filter(|p| !p.is_empty()).collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            so_far.push('/');
            so_far.push_str(part);
            let lower = so_far.to_lowercase();
            match self.nodes.get(&lower) {
                Some(n) => assert!(n.file.is_none(), "fake dropbox: {so_far} is a file"),
                None => {
                    self.insert_node(&lower, so_far.clone(), None);
                    self.log_node(&lower);
                }
            }
        }
    }

    pub(crate) fn add_folder(&mut self, path: &str) -> String {
        let (lower, display) = Self::split(path);
        if let Some(n) = self.nodes.get(&lower) {
            assert!(n.file.is_none(), "fake dropbox: {path} is a file");
            return n.id.clone();
        }
        self.ensure_parents(&display);
        let id = self.insert_node(&lower, display, None);
        self.log_node(&lower);
        id
    }

    /// A new node at `lower` (its display path `display`), under a new id; returns the id.
    fn insert_node(&mut self, lower: &str, display: String, file: Option<FileData>) -> String {
        let id = self.new_id();
        let name = display.rsplit('/').next().unwrap_or_default().to_string();
        self.by_id.insert(id.clone(), lower.to_string());
        self.nodes.insert(
            lower.to_string(),
            Node {
                id: id.clone(),
                name,
                path_display: display,
                file,
            },
        );
        id
    }

    /// Upload in "overwrite" mode: a new file, or new content (and rev) for the same id.
    pub(crate) fn put_file(&mut self, path: &str, data: Vec<u8>) -> String {
        let (lower, display) = Self::split(path);
        self.ensure_parents(&display);
        let data = Bytes::from(data);
        let modified = self.now();
        let rev = self.new_rev();
        let file = FileData {
            hash: content_hash(&data),
            data,
            rev,
            modified,
            corrupt: false,
            cloud_doc: false,
        };
        let id = match self.nodes.get_mut(&lower) {
            Some(n) => {
                assert!(n.file.is_some(), "fake dropbox: {path} is a folder");
                n.file = Some(file);
                n.id.clone()
            }
            None => self.insert_node(&lower, display, Some(file)),
        };
        self.log_node(&lower);
        id
    }

    pub(crate) fn file_mut(&mut self, id: &str) -> &mut FileData {
        let path = self
            .by_id
            .get(id)
            .unwrap_or_else(|| panic!("fake dropbox: no {id}"));
        self.nodes
            .get_mut(path)
            .and_then(|n| n.file.as_mut())
            .unwrap_or_else(|| panic!("fake dropbox: {id} is not a file"))
    }

    /// Paths at or under `lower`, in order.
    fn subtree(&self, lower: &str) -> Vec<String> {
        let below = format!("{lower}/");
        self.nodes
            .range(lower.to_string()..)
            .take_while(|(p, _)| p.as_str() == lower || p.starts_with(&below))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Delete a file or a folder with everything in it: one `deleted` entry, for the path given.
    pub(crate) fn delete(&mut self, id_or_path: &str) {
        let lower = self
            .resolve(id_or_path)
            .unwrap_or_else(|| panic!("fake dropbox: nothing at {id_or_path}"))
            .to_string();
        let (display, name) = {
            let n = &self.nodes[&lower];
            (n.path_display.clone(), n.name.clone())
        };
        for p in self.subtree(&lower) {
            if let Some(n) = self.nodes.remove(&p) {
                self.by_id.remove(&n.id);
            }
        }
        self.log_deleted(&lower, &display, &name);
    }

    /// Move (or rename) a file or folder to `to`; ids stay. The old path is reported deleted
    /// and the node and everything under it are reported at their new paths.
    pub(crate) fn move_to(&mut self, id_or_path: &str, to: &str) {
        let from = self
            .resolve(id_or_path)
            .unwrap_or_else(|| panic!("fake dropbox: nothing at {id_or_path}"))
            .to_string();
        let (to_lower, to_display) = Self::split(to);
        assert!(
            !self.nodes.contains_key(&to_lower),
            "fake dropbox: {to} exists"
        );
        self.ensure_parents(&to_display);
        let (old_display, old_name) = {
            let n = &self.nodes[&from];
            (n.path_display.clone(), n.name.clone())
        };
        let moved = self.subtree(&from);
        let mut new_paths = Vec::new();
        for p in moved {
            let mut n = self.nodes.remove(&p).expect("listed");
            let rest_display = &n.path_display[old_display.len()..];
            let new_display = format!("{to_display}{rest_display}");
            let new_lower = new_display.to_lowercase();
            if p == from {
                n.name = to_display
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
            n.path_display = new_display;
            self.by_id.insert(n.id.clone(), new_lower.clone());
            self.nodes.insert(new_lower.clone(), n);
            new_paths.push(new_lower);
        }
        self.log_deleted(&from, &old_display, &old_name);
        for p in new_paths {
            self.log_node(&p);
        }
    }

    pub(crate) fn issue_tokens(&mut self) -> (String, String) {
        let refresh = self.new_refresh();
        (self.new_access(), refresh)
    }

    pub(crate) fn new_access(&mut self) -> String {
        let token = format!("sl.fake-{}", self.opaque_token("access", 60));
        self.access.issue(token.clone(), self.lifetime, ());
        token
    }

    pub(crate) fn new_refresh(&mut self) -> String {
        let token = format!("fake-refresh-{}", self.opaque_token("refresh", 50));
        self.refresh.insert(token.clone(), true);
        token
    }

    /// `Ok` for a live token; `Err("invalid_access_token" | "expired_access_token")`.
    pub(crate) fn check_access(&self, token: &str) -> Result<(), &'static str> {
        match self.access.live(token) {
            Some(()) => Ok(()),
            None if self.access.known(token) => Err("expired_access_token"),
            None => Err("invalid_access_token"),
        }
    }

    /// The page of a listing or change feed `cursor` points at, and the cursor after it.
    pub(crate) fn page(&self, mut cursor: Cursor) -> (Vec<Value>, Cursor, bool) {
        // Pages vary as Dropbox's do: full, half, and now and then empty before the end.
        let size = match cursor.pages % 3 {
            0 => cursor.limit as usize,
            1 => (cursor.limit as usize / 2).max(1),
            _ => 0,
        };
        cursor.pages += 1;
        let mut out = Vec::new();
        if let Some(after) = cursor.after.clone() {
            let mut iter = self
                .nodes
                .range::<String, _>((
                    std::ops::Bound::Excluded(after.clone()),
                    std::ops::Bound::Unbounded,
                ))
                .filter(|(p, _)| in_scope(p, &cursor.root, cursor.recursive))
                .filter(|(p, _)| cursor.recursive || **p != cursor.root)
                .peekable();
            let mut last = after;
            while out.len() < size {
                let Some((p, _)) = iter.next() else { break };
                out.push(self.meta(p));
                last = p.clone();
            }
            let more = iter.peek().is_some();
            if more {
                cursor.after = Some(last);
                return (out, cursor, true);
            }
            // The listing is complete: from here on the cursor is a change cursor.
            cursor.after = None;
            cursor.pages = 0;
            return (out, cursor, false);
        }
        let start = self.changes.partition_point(|c| c.seq <= cursor.since);
        let mut matching = self.changes[start..]
            .iter()
            .filter(|c| in_scope(&c.path_lower, &cursor.root, cursor.recursive))
            .filter(|c| c.path_lower != cursor.root)
            .peekable();
        while out.len() < size {
            let Some(c) = matching.next() else { break };
            out.push(c.meta.clone());
            cursor.since = c.seq;
        }
        let more = matching.peek().is_some();
        if !more {
            cursor.since = self.seq;
            cursor.pages = 0;
        }
        (out, cursor, more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_of_known_values() {
        // No blocks: the SHA-256 of nothing.
        assert_eq!(
            content_hash(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let one = hex::encode(Sha256::digest(Sha256::digest(b"abc")));
        assert_eq!(content_hash(b"abc"), one);
    }
}
