//! Everything the fake knows: files, shared drives, the change log, OAuth grants, fault rules
//! and request counts. Lives behind one std mutex that is never held across an await.

use super::Counts;
use super::oauth::OAuthState;
use super::{Fault, Target};
use crate::fake_common::faults::Injector;
use crate::fake_common::ids::opaque;
use axum::body::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use sha1::Digest as _;
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) const FOLDER: &str = "application/vnd.google-apps.folder";
pub(crate) const SHORTCUT: &str = "application/vnd.google-apps.shortcut";
/// Drive refuses to export anything larger.
pub(crate) const EXPORT_CAP: usize = 10 * 1024 * 1024;

pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A Google Workspace type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsKind {
    Document,
    Spreadsheet,
    Presentation,
    Drawing,
    Form,
    Site,
    Map,
}

impl WsKind {
    pub(crate) fn parse(kind: &str) -> Option<WsKind> {
        Some(match kind {
            "document" => WsKind::Document,
            "spreadsheet" => WsKind::Spreadsheet,
            "presentation" => WsKind::Presentation,
            "drawing" => WsKind::Drawing,
            "form" => WsKind::Form,
            "site" => WsKind::Site,
            "map" => WsKind::Map,
            _ => return None,
        })
    }

    pub(crate) fn mime(self) -> &'static str {
        match self {
            WsKind::Document => "application/vnd.google-apps.document",
            WsKind::Spreadsheet => "application/vnd.google-apps.spreadsheet",
            WsKind::Presentation => "application/vnd.google-apps.presentation",
            WsKind::Drawing => "application/vnd.google-apps.drawing",
            WsKind::Form => "application/vnd.google-apps.form",
            WsKind::Site => "application/vnd.google-apps.site",
            WsKind::Map => "application/vnd.google-apps.map",
        }
    }

    /// The export formats Drive offers for this type (empty: not exportable at all).
    pub(crate) fn exports(self) -> &'static [&'static str] {
        match self {
            WsKind::Document => &[
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "application/vnd.oasis.opendocument.text",
                "application/rtf",
                "application/pdf",
                "text/plain",
                "text/html",
                "application/zip",
                "application/epub+zip",
                "text/markdown",
            ],
            WsKind::Spreadsheet => &[
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "application/x-vnd.oasis.opendocument.spreadsheet",
                "application/vnd.oasis.opendocument.spreadsheet",
                "application/pdf",
                "application/zip",
                "text/csv",
                "text/tab-separated-values",
            ],
            WsKind::Presentation => &[
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
                "application/vnd.oasis.opendocument.presentation",
                "application/pdf",
                "text/plain",
                "image/jpeg",
                "image/png",
                "image/svg+xml",
            ],
            WsKind::Drawing => &[
                "application/pdf",
                "image/jpeg",
                "image/png",
                "image/svg+xml",
            ],
            WsKind::Form | WsKind::Site | WsKind::Map => &[],
        }
    }
}

/// What a file holds.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Folder,
    Binary {
        data: Bytes,
        md5: String,
        sha1: String,
        sha256: String,
        head_revision: String,
    },
    Workspace {
        kind: WsKind,
        text: String,
    },
    Shortcut {
        target_id: String,
        target_mime: Option<String>,
    },
}

/// One file or folder.
#[derive(Debug, Clone)]
pub(crate) struct FileRec {
    pub id: String,
    pub seq: u64,
    pub name: String,
    pub name_lower: String,
    pub mime: String,
    pub parents: Vec<String>,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
    pub body: Body,
    pub version: u64,
    pub trashed: bool,
    pub explicitly_trashed: bool,
    pub drive_id: Option<String>,
    /// My Drive's root or a shared drive's root: gettable, never listed.
    pub is_root: bool,
    pub oversized: bool,
    pub abusive: bool,
    pub quota_exceeded: bool,
}

pub(crate) struct DriveRec {
    pub id: String,
    pub name: String,
    pub created: DateTime<Utc>,
}

pub(crate) struct ChangeRec {
    pub file_id: String,
    pub removed: bool,
    pub drive_id: Option<String>,
    pub time: DateTime<Utc>,
}

/// Where a files.list or drives.list page token points.
pub(crate) struct Cursor {
    /// Hash of the parameters that define the result set; a token is only good for those.
    pub signature: u64,
    pub after_seq: u64,
    pub page: u32,
}

pub(crate) struct State {
    pub port: u16,
    pub root_id: String,
    pub files: BTreeMap<u64, FileRec>,
    pub ids: HashMap<String, u64>,
    /// Parent id -> children's seqs, so `'x' in parents` does not scan every file.
    pub children: HashMap<String, BTreeSet<u64>>,
    pub drives: Vec<DriveRec>,
    next_seq: u64,
    next_opaque: u64,
    /// changes[i] has page token i + 1.
    pub changes: Vec<ChangeRec>,
    /// File id -> index of its latest change, to collapse a range to one change per file.
    pub latest_change: HashMap<String, usize>,
    last_time: DateTime<Utc>,
    pub cursors: HashMap<String, Cursor>,
    pub oauth: OAuthState,
    pub rules: Injector<Target, Fault>,
    pub counts: Counts,
}

fn digests(data: &[u8]) -> (String, String, String) {
    (
        format!("{:x}", md5::compute(data)),
        hex::encode(sha1::Sha1::digest(data)),
        hex::encode(sha2::Sha256::digest(data)),
    )
}

impl State {
    pub(crate) fn new(port: u16) -> State {
        let mut s = State {
            port,
            root_id: String::new(),
            files: BTreeMap::new(),
            ids: HashMap::new(),
            children: HashMap::new(),
            drives: Vec::new(),
            next_seq: 1,
            next_opaque: 1,
            changes: Vec::new(),
            latest_change: HashMap::new(),
            last_time: DateTime::<Utc>::MIN_UTC,
            cursors: HashMap::new(),
            oauth: OAuthState::default(),
            rules: Injector::default(),
            counts: Counts::default(),
        };
        let root = format!("0A{}", s.opaque("root", 17));
        s.root_id = root.clone();
        let now = s.now();
        s.insert(FileRec {
            id: root,
            seq: 0,
            name: "My Drive".into(),
            name_lower: "my drive".into(),
            mime: FOLDER.into(),
            parents: Vec::new(),
            created: now,
            modified: now,
            body: Body::Folder,
            version: 1,
            trashed: false,
            explicitly_trashed: false,
            drive_id: None,
            is_root: true,
            oversized: false,
            abusive: false,
            quota_exceeded: false,
        });
        s
    }

    /// A fresh opaque string of `len` characters.
    pub(crate) fn opaque(&mut self, kind: &str, len: usize) -> String {
        self.next_opaque += 1;
        opaque(kind, self.next_opaque, len)
    }

    /// The current time at millisecond precision, never before the last one handed out.
    /// Equal timestamps are allowed (as at Google); running ahead of the wall clock is not,
    /// since tests compare with it.
    pub(crate) fn now(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let ms = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        self.last_time = self.last_time.max(ms);
        self.last_time
    }

    pub(crate) fn resolve<'a>(&'a self, id: &'a str) -> &'a str {
        if id == "root" { &self.root_id } else { id }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&FileRec> {
        self.ids
            .get(self.resolve(id))
            .and_then(|s| self.files.get(s))
    }

    fn get_mut(&mut self, id: &str) -> &mut FileRec {
        let seq = *self
            .ids
            .get(id)
            .unwrap_or_else(|| panic!("fake drive: no file {id}"));
        self.files.get_mut(&seq).expect("indexed")
    }

    fn insert(&mut self, mut f: FileRec) {
        f.seq = self.next_seq;
        self.next_seq += 1;
        for p in &f.parents {
            self.children.entry(p.clone()).or_default().insert(f.seq);
        }
        self.ids.insert(f.id.clone(), f.seq);
        self.files.insert(f.seq, f);
    }

    fn record(
        &mut self,
        file_id: &str,
        removed: bool,
        drive_id: Option<String>,
        time: DateTime<Utc>,
    ) {
        self.changes.push(ChangeRec {
            file_id: file_id.to_string(),
            removed,
            drive_id,
            time,
        });
        self.latest_change
            .insert(file_id.to_string(), self.changes.len() - 1);
    }

    fn record_file(&mut self, id: &str) {
        let f = self.get(id).expect("recorded file exists");
        let (drive, time) = (f.drive_id.clone(), self.last_time);
        self.record(id, false, drive, time);
    }

    /// Add an item under `parents` and log its creation.
    pub(crate) fn add(&mut self, parents: &[&str], name: &str, mime: &str, body: Body) -> String {
        assert!(!parents.is_empty(), "fake drive: an item needs a parent");
        let parents: Vec<String> = parents
            .iter()
            .map(|p| self.resolve(p).to_string())
            .collect();
        let drive_id = {
            let first = self
                .get(&parents[0])
                .unwrap_or_else(|| panic!("fake drive: no parent {}", parents[0]));
            assert_eq!(
                first.mime, FOLDER,
                "fake drive: parent {} is not a folder",
                first.id
            );
            first.drive_id.clone()
        };
        for p in &parents[1..] {
            assert!(self.get(p).is_some(), "fake drive: no parent {p}");
        }
        let id = format!("1{}", self.opaque("file", 32));
        let now = self.now();
        self.insert(FileRec {
            id: id.clone(),
            seq: 0,
            name: name.to_string(),
            name_lower: name.to_lowercase(),
            mime: mime.to_string(),
            parents,
            created: now,
            modified: now,
            body,
            version: 1,
            trashed: false,
            explicitly_trashed: false,
            drive_id,
            is_root: false,
            oversized: false,
            abusive: false,
            quota_exceeded: false,
        });
        self.record_file(&id);
        id
    }

    pub(crate) fn binary_body(&mut self, data: Vec<u8>) -> Body {
        let (md5, sha1, sha256) = digests(&data);
        Body::Binary {
            data: Bytes::from(data),
            md5,
            sha1,
            sha256,
            head_revision: format!("0B{}", self.opaque("revision", 49)),
        }
    }

    pub(crate) fn add_shared_drive(&mut self, name: &str) -> String {
        // Real shared drive ids are 19 characters starting with 0A, unlike file ids.
        let id = format!("0A{}", self.opaque("drive", 17));
        let now = self.now();
        self.drives.push(DriveRec {
            id: id.clone(),
            name: name.to_string(),
            created: now,
        });
        self.insert(FileRec {
            id: id.clone(),
            seq: 0,
            name: name.to_string(),
            name_lower: name.to_lowercase(),
            mime: FOLDER.into(),
            parents: Vec::new(),
            created: now,
            modified: now,
            body: Body::Folder,
            version: 1,
            trashed: false,
            explicitly_trashed: false,
            drive_id: Some(id.clone()),
            is_root: true,
            oversized: false,
            abusive: false,
            quota_exceeded: false,
        });
        id
    }

    /// Apply `edit` to a file, bump its version and log the change.
    pub(crate) fn mutate(
        &mut self,
        id: &str,
        touch_modified: bool,
        edit: impl FnOnce(&mut FileRec),
    ) {
        let id = self.resolve(id).to_string();
        let now = self.now();
        let f = self.get_mut(&id);
        edit(f);
        f.version += 1;
        if touch_modified {
            f.modified = now;
        }
        self.record_file(&id);
    }

    pub(crate) fn set_parents(&mut self, id: &str, parents: &[&str]) {
        assert!(!parents.is_empty(), "fake drive: an item needs a parent");
        let new: Vec<String> = parents
            .iter()
            .map(|p| self.resolve(p).to_string())
            .collect();
        for p in &new {
            assert!(self.get(p).is_some(), "fake drive: no parent {p}");
        }
        let drive_id = self.get(&new[0]).and_then(|p| p.drive_id.clone());
        let f = self
            .get(id)
            .unwrap_or_else(|| panic!("fake drive: no file {id}"));
        let (seq, old) = (f.seq, f.parents.clone());
        for p in &old {
            if let Some(c) = self.children.get_mut(p) {
                c.remove(&seq);
            }
        }
        for p in &new {
            self.children.entry(p.clone()).or_default().insert(seq);
        }
        // A move across drives carries the whole subtree along.
        let mut stack = vec![seq];
        while let Some(s) = stack.pop() {
            let f = self.files.get_mut(&s).expect("indexed");
            f.drive_id = drive_id.clone();
            if let Some(kids) = self.children.get(&f.id) {
                stack.extend(kids.iter().copied());
            }
        }
        self.mutate(id, false, |f| f.parents = new);
    }

    /// Trash an item; descendants all of whose parents are trashed go along, implicitly.
    pub(crate) fn trash(&mut self, id: &str) {
        self.mutate(id, false, |f| {
            f.trashed = true;
            f.explicitly_trashed = true;
        });
        let mut stack = vec![self.resolve(id).to_string()];
        while let Some(parent) = stack.pop() {
            let kids: Vec<u64> = self
                .children
                .get(&parent)
                .map(|c| c.iter().copied().collect())
                .unwrap_or_default();
            for k in kids {
                let f = &self.files[&k];
                let all_trashed = f
                    .parents
                    .iter()
                    .all(|p| self.get(p).is_some_and(|p| p.trashed));
                if !f.trashed && all_trashed {
                    let kid = f.id.clone();
                    self.mutate(&kid, false, |f| f.trashed = true);
                    stack.push(kid);
                }
            }
        }
    }

    /// Delete an item for good, with every descendant that has no other parent left.
    pub(crate) fn delete(&mut self, id: &str) {
        let id = self.resolve(id).to_string();
        assert!(self.get(&id).is_some(), "fake drive: no file {id}");
        let mut gone: BTreeSet<String> = BTreeSet::new();
        let mut order = vec![id.clone()];
        gone.insert(id);
        let mut i = 0;
        while i < order.len() {
            let kids: Vec<u64> = self
                .children
                .get(&order[i])
                .map(|c| c.iter().copied().collect())
                .unwrap_or_default();
            for k in kids {
                let f = &self.files[&k];
                if !gone.contains(&f.id) && f.parents.iter().all(|p| gone.contains(p)) {
                    gone.insert(f.id.clone());
                    order.push(f.id.clone());
                }
            }
            i += 1;
        }
        let mut survivors = BTreeSet::new();
        for gid in &order {
            if let Some(kids) = self.children.remove(gid) {
                for k in kids {
                    let kid = &self.files[&k].id;
                    if !gone.contains(kid) {
                        survivors.insert(kid.clone());
                    }
                }
            }
        }
        for gid in &order {
            let seq = self.ids.remove(gid).expect("indexed");
            let f = self.files.remove(&seq).expect("indexed");
            for p in &f.parents {
                if let Some(c) = self.children.get_mut(p) {
                    c.remove(&seq);
                }
            }
            let now = self.now();
            self.record(gid, true, f.drive_id.clone(), now);
        }
        for s in survivors {
            self.mutate(&s, false, |f| f.parents.retain(|p| !gone.contains(p)));
        }
    }

    /// The bytes an export of `id` to `mime` returns.
    pub(crate) fn export_bytes(&self, id: &str, mime: &str) -> Vec<u8> {
        match self.get(id).map(|f| &f.body) {
            Some(Body::Workspace { text, .. }) => format!("EXPORT {mime}\n{text}").into_bytes(),
            _ => panic!("fake drive: {id} is not a Google Workspace file"),
        }
    }

    /// The complete resource, before any `fields` selection.
    pub(crate) fn file_json(&self, f: &FileRec) -> Value {
        let mut m = Map::new();
        m.insert("kind".into(), json!("drive#file"));
        m.insert("id".into(), json!(f.id));
        m.insert("name".into(), json!(f.name));
        m.insert("mimeType".into(), json!(f.mime));
        if !f.parents.is_empty() {
            m.insert("parents".into(), json!(f.parents));
        }
        m.insert("createdTime".into(), json!(rfc3339(f.created)));
        m.insert("modifiedTime".into(), json!(rfc3339(f.modified)));
        m.insert("version".into(), json!(f.version.to_string()));
        m.insert("trashed".into(), json!(f.trashed));
        m.insert("explicitlyTrashed".into(), json!(f.explicitly_trashed));
        m.insert("starred".into(), json!(false));
        m.insert("spaces".into(), json!(["drive"]));
        match &f.drive_id {
            Some(d) => {
                m.insert("driveId".into(), json!(d));
            }
            None => {
                m.insert("ownedByMe".into(), json!(true));
            }
        }
        m.insert(
            "capabilities".into(),
            json!({"canDownload": true, "canListChildren": f.mime == FOLDER, "canEdit": true}),
        );
        match &f.body {
            Body::Folder => {}
            Body::Binary {
                data,
                md5,
                sha1,
                sha256,
                head_revision,
            } => {
                m.insert("size".into(), json!(data.len().to_string()));
                m.insert("quotaBytesUsed".into(), json!(data.len().to_string()));
                m.insert("md5Checksum".into(), json!(md5));
                m.insert("sha1Checksum".into(), json!(sha1));
                m.insert("sha256Checksum".into(), json!(sha256));
                m.insert("headRevisionId".into(), json!(head_revision));
                m.insert("originalFilename".into(), json!(f.name));
                if let Some((_, ext)) = f.name.rsplit_once('.') {
                    m.insert("fileExtension".into(), json!(ext));
                }
            }
            Body::Workspace { kind, .. } => {
                let links: Map<String, Value> = kind
                    .exports()
                    .iter()
                    .map(|mime| {
                        let enc: String =
                            url::form_urlencoded::byte_serialize(mime.as_bytes()).collect();
                        let url = format!(
                            "http://127.0.0.1:{}/export-links/{}?mimeType={enc}",
                            self.port, f.id
                        );
                        (mime.to_string(), json!(url))
                    })
                    .collect();
                if !links.is_empty() {
                    m.insert("exportLinks".into(), Value::Object(links));
                }
            }
            Body::Shortcut {
                target_id,
                target_mime,
            } => {
                let mut d = Map::new();
                d.insert("targetId".into(), json!(target_id));
                if let Some(t) = target_mime {
                    d.insert("targetMimeType".into(), json!(t));
                }
                m.insert("shortcutDetails".into(), Value::Object(d));
            }
        }
        Value::Object(m)
    }

    pub(crate) fn drive_json(&self, d: &DriveRec) -> Value {
        json!({
            "kind": "drive#drive",
            "id": d.id,
            "name": d.name,
            "createdTime": rfc3339(d.created),
            "hidden": false,
            "capabilities": {"canDownload": true, "canListChildren": true},
        })
    }
}
