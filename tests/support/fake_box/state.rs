//! The fake Box account: items, the content of every file version, the event log the events
//! stream reads, and the bookkeeping tests look at (counts, faults, what the download server
//! saw). Items are Box's JSON built on demand from the records, so every view agrees.

use super::oauth::OAuthState;
use super::{Counts, Fault, Target};
use crate::fake_common::faults::Injector;
use serde_json::{Map, Value, json};
use sha1::Digest as _;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The account's root folder, as at Box.
pub(crate) const ROOT_ID: &str = "0";
/// The one user of the fake account.
pub(crate) const USER_ID: &str = "11111";
/// Box's stream positions outgrow a double; the log starts past 2^53 so a client that reads
/// them as one loses events.
const FIRST_POSITION: u64 = 1_152_922_976_252_290_886;

/// The kinds of item, in the order listings give them (folders first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Folder,
    File,
    WebLink,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Folder => "folder",
            Kind::File => "file",
            Kind::WebLink => "web_link",
        }
    }
}

#[derive(Clone)]
pub(crate) struct ItemRec {
    pub kind: Kind,
    pub name: String,
    /// `None` for the root.
    pub parent: Option<String>,
    /// The current file version's id (files only).
    pub version: String,
    /// Web links only.
    pub url: String,
    pub created: String,
    pub modified: String,
    pub content_modified: String,
    /// Set on the item the test trashed; its descendants are trashed through it.
    pub trashed_at: Option<String>,
    /// Both `etag` and `sequence_id`: bumped on every change.
    pub etag: u64,
}

impl ItemRec {
    fn new(kind: Kind, name: &str, parent: Option<&str>) -> ItemRec {
        let t = now();
        ItemRec {
            kind,
            name: name.to_string(),
            parent: parent.map(str::to_string),
            version: String::new(),
            url: String::new(),
            created: t.clone(),
            modified: t.clone(),
            content_modified: t,
            trashed_at: None,
            etag: 0,
        }
    }
}

/// One entry of the event log, with the position a client continues from after it.
pub(crate) struct Event {
    pub position: u64,
    pub json: Value,
}

pub(crate) struct State {
    pub cdn_origin: String,
    pub items: BTreeMap<String, ItemRec>,
    /// Every file version ever uploaded: version id -> (file id, content).
    pub versions: HashMap<String, (String, Vec<u8>)>,
    next_id: u64,
    next_version: u64,
    pub events: Vec<Event>,
    /// The position of the last event (the start of the log when there is none).
    pub position: u64,
    pub max_page: usize,
    pub max_events: usize,
    pub empty_final_marker: bool,
    pub positions_as_strings: bool,
    pub repeat_events: bool,
    pub shuffle_events: bool,
    /// Files whose next `/content` answers 202.
    pub not_ready: HashSet<String>,
    /// Files whose downloads the download server always corrupts.
    pub corrupt: HashSet<String>,
    pub cdn_authorization_seen: u64,
    pub rules: Injector<Target, Fault>,
    pub counts: Counts,
    pub oauth: OAuthState,
}

/// Box's date format (`2012-12-12T10:53:43-08:00`), in UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S-00:00")
        .to_string()
}

fn user() -> Value {
    json!({"type": "user", "id": USER_ID})
}

impl State {
    pub(crate) fn new(cdn_origin: String) -> State {
        let root = ItemRec::new(Kind::Folder, "All Files", None);
        State {
            cdn_origin,
            items: BTreeMap::from([(ROOT_ID.to_string(), root)]),
            versions: HashMap::new(),
            next_id: 1_000_000,
            next_version: 5_000_000,
            events: Vec::new(),
            position: FIRST_POSITION,
            max_page: 1000,
            max_events: 500,
            empty_final_marker: false,
            positions_as_strings: false,
            repeat_events: false,
            shuffle_events: false,
            not_ready: HashSet::new(),
            corrupt: HashSet::new(),
            cdn_authorization_seen: 0,
            rules: Injector::default(),
            counts: Counts::default(),
            oauth: OAuthState::default(),
        }
    }

    pub(crate) fn get(&self, id: &str) -> &ItemRec {
        self.items
            .get(id)
            .unwrap_or_else(|| panic!("fake box: no item {id}"))
    }

    fn get_mut(&mut self, id: &str) -> &mut ItemRec {
        self.items
            .get_mut(id)
            .unwrap_or_else(|| panic!("fake box: no item {id}"))
    }

    /// Store `content` as a new version of `file` and return its id.
    fn new_version(&mut self, file: &str, content: Vec<u8>) -> String {
        self.next_version += 1;
        let v = self.next_version.to_string();
        self.versions.insert(v.clone(), (file.to_string(), content));
        v
    }

    /// A change to the item itself: new etag, sequence id and modification time.
    fn bump(&mut self, id: &str) {
        let r = self.get_mut(id);
        r.etag += 1;
        r.modified = now();
    }

    /// Append an event with the item as it is now.
    fn log(&mut self, id: &str, event_type: &str) {
        // Box's positions are not consecutive; a client must only hand them back.
        self.position += 7;
        let t = now();
        let json = json!({
            "type": "event",
            "event_id": uuid::Uuid::new_v4().to_string(),
            "event_type": event_type,
            "created_at": t,
            "recorded_at": t,
            "source": self.full(id),
            "created_by": user(),
        });
        self.events.push(Event {
            position: self.position,
            json,
        });
    }

    /// The item's id, then its parent's, and so on up to the root.
    fn ancestry<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::successors(Some(id), |c| self.items.get(*c)?.parent.as_deref())
    }

    /// When the item or the nearest trashed folder above it went to the trash.
    fn trashed_at(&self, id: &str) -> Option<&String> {
        self.ancestry(id)
            .find_map(|a| self.items.get(a)?.trashed_at.as_ref())
    }

    pub(crate) fn is_trashed(&self, id: &str) -> bool {
        self.trashed_at(id).is_some()
    }

    fn live_folder(&self, id: &str) {
        assert!(
            self.get(id).kind == Kind::Folder && !self.is_trashed(id),
            "fake box: {id} is not a live folder"
        );
    }

    pub(crate) fn add(
        &mut self,
        parent: &str,
        name: &str,
        kind: Kind,
        content: Vec<u8>,
        url: &str,
    ) -> String {
        self.live_folder(parent);
        self.next_id += 1;
        let id = self.next_id.to_string();
        let version = match kind {
            Kind::File => self.new_version(&id, content),
            _ => String::new(),
        };
        let rec = ItemRec {
            version,
            url: url.to_string(),
            ..ItemRec::new(kind, name, Some(parent))
        };
        self.items.insert(id.clone(), rec);
        self.log(&id, "ITEM_CREATE");
        if kind == Kind::File {
            self.log(&id, "ITEM_UPLOAD");
        }
        id
    }

    pub(crate) fn update_content(&mut self, id: &str, content: Vec<u8>) {
        assert!(
            self.get(id).kind == Kind::File,
            "fake box: {id} is not a file"
        );
        let v = self.new_version(id, content);
        self.bump(id);
        let r = self.get_mut(id);
        r.version = v;
        r.content_modified = r.modified.clone();
        self.log(id, "ITEM_UPLOAD");
    }

    pub(crate) fn rename(&mut self, id: &str, name: &str) {
        self.get_mut(id).name = name.to_string();
        self.bump(id);
        self.log(id, "ITEM_RENAME");
    }

    pub(crate) fn move_to(&mut self, id: &str, parent: &str) {
        self.live_folder(parent);
        assert!(
            !self.ancestry(parent).any(|a| a == id),
            "fake box: cannot move {id} into itself"
        );
        self.get_mut(id).parent = Some(parent.to_string());
        self.bump(id);
        self.log(id, "ITEM_MOVE");
    }

    /// Trash an item: one event, for it alone; what is below a folder is trashed with it.
    pub(crate) fn trash(&mut self, id: &str) {
        self.get_mut(id).trashed_at = Some(now());
        self.bump(id);
        self.log(id, "ITEM_TRASH");
    }

    /// Take an item out of the trash (with what was trashed with it): one event.
    pub(crate) fn restore(&mut self, id: &str) {
        self.get_mut(id).trashed_at = None;
        self.bump(id);
        self.log(id, "ITEM_UNDELETE_VIA_TRASH");
    }

    /// Copy an item (a folder with its live subtree) under `parent`: new ids and versions,
    /// one `ITEM_COPY` event for the copy.
    pub(crate) fn copy(&mut self, id: &str, parent: &str) -> String {
        self.live_folder(parent);
        assert!(
            !self.ancestry(parent).any(|a| a == id),
            "fake box: cannot copy {id} into itself"
        );
        let new = self.copy_tree(id, parent);
        self.log(&new, "ITEM_COPY");
        new
    }

    fn copy_tree(&mut self, id: &str, parent: &str) -> String {
        let mut rec = self.get(id).clone();
        self.next_id += 1;
        let new = self.next_id.to_string();
        if rec.kind == Kind::File {
            rec.version = self.new_version(&new, self.content(id).to_vec());
        }
        let t = now();
        (rec.created, rec.modified, rec.etag) = (t.clone(), t, 0);
        rec.parent = Some(parent.to_string());
        self.items.insert(new.clone(), rec);
        for child in self.children(id) {
            self.copy_tree(&child, &new);
        }
        new
    }

    pub(crate) fn content(&self, id: &str) -> &[u8] {
        let r = self.get(id);
        assert!(r.kind == Kind::File, "fake box: {id} is not a file");
        &self.versions[&r.version].1
    }

    pub(crate) fn sha1(&self, id: &str) -> String {
        hex::encode(sha1::Sha1::digest(self.content(id)))
    }

    /// A folder's live direct children, as listings order them: folders first, then by name.
    pub(crate) fn children(&self, folder: &str) -> Vec<String> {
        let mut out: Vec<(&ItemRec, &String)> = self
            .items
            .iter()
            .filter(|(_, r)| r.parent.as_deref() == Some(folder) && r.trashed_at.is_none())
            .map(|(id, r)| (r, id))
            .collect();
        out.sort_by(|(a, ai), (b, bi)| (a.kind, &a.name, ai).cmp(&(b.kind, &b.name, bi)));
        out.into_iter().map(|(_, id)| id.clone()).collect()
    }

    /// Bytes: a file's content, a folder's total below it.
    fn size(&self, id: &str) -> usize {
        match self.get(id).kind {
            Kind::File => self.content(id).len(),
            Kind::Folder => self.children(id).iter().map(|c| self.size(c)).sum(),
            Kind::WebLink => 0,
        }
    }

    /// A folder as other items refer to it. The root has no etag or sequence id at Box.
    fn mini_folder(&self, id: &str) -> Value {
        let r = self.get(id);
        let tag = (id != ROOT_ID).then(|| r.etag.to_string());
        json!({"type": "folder", "id": id, "sequence_id": tag, "etag": tag, "name": r.name})
    }

    /// The folders from the root down to the item's parent.
    fn path_collection(&self, id: &str) -> Value {
        let mut entries: Vec<Value> = self
            .ancestry(id)
            .skip(1)
            .map(|p| self.mini_folder(p))
            .collect();
        entries.reverse();
        json!({"total_count": entries.len(), "entries": entries})
    }

    /// The item's standard representation, every field the fake knows.
    pub(crate) fn full(&self, id: &str) -> Value {
        let r = self.get(id);
        let tag = (id != ROOT_ID).then(|| r.etag.to_string());
        let trashed_at = self.trashed_at(id);
        let mut v = json!({
            "type": r.kind.name(),
            "id": id,
            "sequence_id": tag,
            "etag": tag,
            "name": r.name,
            "description": "",
            "created_at": r.created,
            "modified_at": r.modified,
            "content_created_at": r.created,
            "content_modified_at": r.content_modified,
            "trashed_at": trashed_at,
            "path_collection": self.path_collection(id),
            "parent": r.parent.as_ref().map(|p| self.mini_folder(p)),
            "item_status": if trashed_at.is_some() { "trashed" } else { "active" },
            "shared_link": null,
            "created_by": user(),
            "modified_by": user(),
            "owned_by": user(),
        });
        match r.kind {
            Kind::Folder => v["size"] = json!(self.size(id)),
            Kind::File => {
                let sha1 = self.sha1(id);
                v["size"] = json!(self.size(id));
                v["file_version"] = json!({"type": "file_version", "id": r.version, "sha1": sha1});
                v["sha1"] = json!(sha1);
            }
            Kind::WebLink => v["url"] = json!(r.url),
        }
        v
    }

    /// The item as a listing without `fields` shows it: a mini object.
    pub(crate) fn mini(&self, id: &str) -> Value {
        select(
            self.full(id),
            Some(&["sequence_id", "name", "sha1", "file_version", "url"].map(String::from)),
        )
    }
}

/// Keep the `fields` asked for, plus `type`, `id` and `etag` (as Box does); all without them.
pub(crate) fn select(v: Value, fields: Option<&[String]>) -> Value {
    let (Some(fields), Value::Object(m)) = (fields, &v) else {
        return v;
    };
    let kept: Map<String, Value> = m
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "type" | "id" | "etag") || fields.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Value::Object(kept)
}
