//! The fake drive's state: items, the change log that delta rounds read, delta tokens, and
//! the bookkeeping tests look at (counts, faults, what the download server saw).

use super::oauth::OAuthState;
use super::quickxor::quick_xor_hash;
use super::{Counts, Fault, Target};
use crate::fake_common::faults::Injector;
use base64::Engine as _;
use serde_json::{Value, json};
use sha1::Digest as _;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Personal drive ids are 16 hex digits; item ids are `<drive id>!<number>`.
pub(crate) const DRIVE_ID: &str = "4f2a1c0e9b7d3a21";

pub(crate) struct ItemRec {
    pub id: String,
    pub name: String,
    /// `None` for the root.
    pub parent: Option<String>,
    pub folder: bool,
    pub content: Vec<u8>,
    pub mime: String,
    pub created: String,
    pub modified: String,
    /// Bumped on any change (eTag).
    pub etag: u64,
    /// Bumped on content changes (cTag).
    pub ctag: u64,
    /// The sequence number of the item's last change.
    pub seq: u64,
    pub deleted: bool,
}

pub(crate) struct State {
    pub api_origin: String,
    pub cdn_origin: String,
    pub items: BTreeMap<String, ItemRec>,
    /// (sequence number, item id, the item as delta reports it after that change).
    pub log: Vec<(u64, String, Value)>,
    pub seq: u64,
    next_id: u64,
    /// Delta tokens older than this answer 410 `resyncRequired`.
    pub oldest_valid: u64,
    /// The most items a delta page holds, whatever `$top` asks.
    pub max_page: usize,
    /// Whether delta items carry `parentReference.path` (personal drives) or not (business).
    pub paths_in_delta: bool,
    pub root_id: String,
    pub rules: Injector<Target, Fault>,
    pub counts: Counts,
    /// Ids whose download the CDN always corrupts.
    pub corrupt: HashSet<String>,
    /// Pre-authenticated download tickets: ticket -> item id.
    pub tickets: HashMap<String, String>,
    /// Requests that reached the download server with an Authorization header.
    pub cdn_authorization_seen: u64,
    /// Items a full round names a second time, at its end.
    pub repeat_in_round: Vec<String>,
    pub oauth: OAuthState,
}

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl State {
    pub(crate) fn new(api_origin: String, cdn_origin: String) -> State {
        let root_id = format!("{}!101", DRIVE_ID.to_uppercase());
        let mut s = State {
            api_origin,
            cdn_origin,
            items: BTreeMap::new(),
            log: Vec::new(),
            seq: 0,
            next_id: 102,
            oldest_valid: 0,
            max_page: 200,
            paths_in_delta: false,
            root_id: root_id.clone(),
            rules: Injector::default(),
            counts: Counts::default(),
            corrupt: HashSet::new(),
            tickets: HashMap::new(),
            cdn_authorization_seen: 0,
            repeat_in_round: Vec::new(),
            oauth: OAuthState::default(),
        };
        let t = now();
        s.items.insert(
            root_id.clone(),
            ItemRec {
                id: root_id.clone(),
                name: "root".into(),
                parent: None,
                folder: true,
                content: Vec::new(),
                mime: String::new(),
                created: t.clone(),
                modified: t,
                etag: 1,
                ctag: 1,
                seq: 0,
                deleted: false,
            },
        );
        s
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}!{}", DRIVE_ID.to_uppercase(), self.next_id)
    }

    /// Record a change to `id`: a new sequence number and a log entry with its new state.
    fn touch(&mut self, id: &str) {
        self.seq += 1;
        let seq = self.seq;
        let snapshot = {
            let rec = self.items.get_mut(id).expect("touched item exists");
            rec.seq = seq;
            rec.etag += 1;
            self.item_json(id, self.paths_in_delta)
        };
        self.log.push((seq, id.to_string(), snapshot));
    }

    pub(crate) fn live(&self, id: &str) -> &ItemRec {
        match self.items.get(id) {
            Some(r) if !r.deleted => r,
            _ => panic!("fake onedrive: no live item {id}"),
        }
    }

    pub(crate) fn add(
        &mut self,
        parent: &str,
        name: &str,
        folder: bool,
        mime: &str,
        content: Vec<u8>,
    ) -> String {
        assert!(
            self.live(parent).folder,
            "fake onedrive: {parent} is not a folder"
        );
        let id = self.new_id();
        let t = now();
        self.items.insert(
            id.clone(),
            ItemRec {
                id: id.clone(),
                name: name.to_string(),
                parent: Some(parent.to_string()),
                folder,
                content,
                mime: mime.to_string(),
                created: t.clone(),
                modified: t,
                etag: 0,
                ctag: 1,
                seq: 0,
                deleted: false,
            },
        );
        self.touch(&id);
        id
    }

    pub(crate) fn update_content(&mut self, id: &str, content: Vec<u8>) {
        let rec = self.items.get_mut(id).expect("item");
        assert!(
            !rec.folder && !rec.deleted,
            "fake onedrive: {id} is not a live file"
        );
        rec.content = content;
        rec.ctag += 1;
        rec.modified = now();
        self.touch(id);
    }

    pub(crate) fn rename(&mut self, id: &str, name: &str) {
        self.items.get_mut(id).expect("item").name = name.to_string();
        self.touch(id);
    }

    pub(crate) fn move_to(&mut self, id: &str, parent: &str) {
        assert!(self.live(parent).folder);
        self.items.get_mut(id).expect("item").parent = Some(parent.to_string());
        self.touch(id);
    }

    /// Delete an item and everything under it; each gets a `deleted` entry, children first
    /// (as business drives report it).
    pub(crate) fn delete(&mut self, id: &str) {
        let children: Vec<String> = self
            .items
            .values()
            .filter(|r| !r.deleted && r.parent.as_deref() == Some(id))
            .map(|r| r.id.clone())
            .collect();
        for c in children {
            self.delete(&c);
        }
        self.items.get_mut(id).expect("item").deleted = true;
        self.touch(id);
    }

    /// `/drive/root:/a/b` for the folder holding `id`.
    fn parent_path(&self, id: &str) -> Option<String> {
        let mut names = Vec::new();
        let mut cur = self.items.get(id)?.parent.clone()?;
        while cur != self.root_id {
            let rec = self.items.get(&cur)?;
            names.push(rec.name.clone());
            cur = rec.parent.clone()?;
        }
        names.reverse();
        let mut p = "/drive/root:".to_string();
        for n in names {
            p.push('/');
            p.push_str(&n);
        }
        Some(p)
    }

    /// An item as Graph shows it; `with_path` adds `parentReference.path`.
    pub(crate) fn item_json(&self, id: &str, with_path: bool) -> Value {
        let r = &self.items[id];
        let mut v = json!({
            "id": r.id,
            "eTag": format!("\"{{{}}},{}\"", r.id, r.etag),
            "createdDateTime": r.created,
            "lastModifiedDateTime": r.modified,
        });
        if r.deleted {
            v["deleted"] = json!({"state": "deleted"});
            v["parentReference"] =
                json!({"driveId": DRIVE_ID, "driveType": "personal", "id": r.parent});
            if r.folder {
                v["folder"] = json!({"childCount": 0});
            } else {
                v["file"] = json!({});
            }
            return v;
        }
        v["name"] = json!(r.name);
        v["fileSystemInfo"] =
            json!({"createdDateTime": r.created, "lastModifiedDateTime": r.modified});
        let mut parent = json!({"driveId": DRIVE_ID, "driveType": "personal"});
        if let Some(p) = &r.parent {
            parent["id"] = json!(p);
            if with_path {
                parent["path"] = json!(self.parent_path(id));
            }
        }
        v["parentReference"] = parent;
        if r.parent.is_none() {
            v["root"] = json!({});
        }
        if r.folder {
            let children = self
                .items
                .values()
                .filter(|c| !c.deleted && c.parent.as_deref() == Some(&r.id))
                .count();
            v["folder"] = json!({"childCount": children});
            v["size"] = json!(0);
        } else {
            v["cTag"] = json!(format!("\"c:{{{}}},{}\"", r.id, r.ctag));
            v["size"] = json!(r.content.len());
            v["file"] = json!({
                "mimeType": r.mime,
                "hashes": {
                    "quickXorHash": quick_xor_hash(&r.content),
                    "sha1Hash": hex::encode_upper(sha1::Sha1::digest(&r.content)),
                }
            });
        }
        v
    }

    /// A delta token; real ones are opaque, so these are too (base64 of the round's state).
    pub(crate) fn token(kind: char, n: u64) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{n}"))
    }

    pub(crate) fn parse_token(t: &str) -> Option<(char, u64)> {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (k, n) = text.split_once(':')?;
        Some((k.chars().next()?, n.parse().ok()?))
    }

    pub(crate) fn delta_url(&self, drive_path: &str, token: &str) -> String {
        format!(
            "{}/v1.0{drive_path}/root/delta?token={token}",
            self.api_origin
        )
    }
}
