//! Folder paths from parent ids.
//!
//! Graph leaves `parentReference.path` out of delta responses on some drive types (and a
//! folder rename reports only the folder), so paths are built from ids: the folders seen in
//! the enumeration so far, and, for a parent not seen (yet), its own metadata fetched by id.

use crate::api::Api;
use crate::model::Item;
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::types::ProviderError;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Folders deeper than this are taken for a cycle in the data.
const MAX_DEPTH: usize = 256;
/// Folder lookups one call may spend; past it, paths come from `parentReference.path`.
const MAX_LOOKUPS: usize = 200;

/// The folders known so far: id -> (parent id, name), and the root's id.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Tree {
    #[serde(default, rename = "f", skip_serializing_if = "BTreeMap::is_empty")]
    folders: BTreeMap<String, (String, String)>,
    #[serde(default, rename = "r", skip_serializing_if = "Option::is_none")]
    root: Option<String>,
    /// Paths worked out in this call.
    #[serde(skip)]
    paths: HashMap<String, Vec<String>>,
    #[serde(skip)]
    lookups: usize,
}

impl Tree {
    /// Take note of a folder (or the root) seen in a delta page or a lookup.
    pub fn learn(&mut self, item: &Item) {
        if item.root.is_some() {
            self.root = Some(item.id.clone());
            return;
        }
        if !item.is_folder() || item.deleted.is_some() {
            return;
        }
        let Some(parent) = item.parent_id() else {
            return;
        };
        if let Some(path) = &item.parent_reference.as_ref().and_then(|p| p.path.clone())
            && is_root_path(path)
        {
            self.root.get_or_insert_with(|| parent.to_string());
        }
        let entry = (parent.to_string(), item.display_name().to_string());
        if self.folders.get(&item.id) != Some(&entry) {
            // A move or rename: anything worked out below it is stale.
            self.paths.clear();
            self.folders.insert(item.id.clone(), entry);
        }
    }

    /// Forget a folder that was deleted.
    pub fn forget(&mut self, id: &str) {
        if self.folders.remove(id).is_some() {
            self.paths.clear();
        }
    }

    /// Whether `id` is the drive's root.
    pub fn is_root(&self, id: &str) -> bool {
        self.root.as_deref() == Some(id)
    }

    /// Forget everything but the root, to keep a cursor small (lookups refill it).
    pub fn shrink(&mut self) {
        self.folders.clear();
        self.paths.clear();
    }

    /// Folders known.
    pub fn len(&self) -> usize {
        self.folders.len()
    }

    /// The names from the root down to `item`'s parent, or `None` when its place cannot be
    /// found (its folder is gone).
    pub fn parent_path(
        &mut self,
        api: &mut Api,
        item: &Item,
    ) -> Result<Option<Vec<String>>, ProviderError> {
        let reference = item.parent_reference.as_ref();
        let stated = reference.and_then(|p| p.path.as_deref());
        let Some(parent) = item.parent_id() else {
            return Ok(stated.and_then(path_from_reference));
        };
        if let Some(p) = stated
            && is_root_path(p)
        {
            self.root.get_or_insert_with(|| parent.to_string());
            if self.is_root(parent) {
                return Ok(Some(Vec::new()));
            }
        }
        match self.folder_path(api, parent)? {
            Some(path) => Ok(Some(path)),
            None => Ok(stated.and_then(path_from_reference)),
        }
    }

    /// The names from the root down to folder `id` itself.
    fn folder_path(
        &mut self,
        api: &mut Api,
        id: &str,
    ) -> Result<Option<Vec<String>>, ProviderError> {
        let mut names = Vec::new();
        let mut current = id.to_string();
        let mut base: Vec<String> = Vec::new();
        for _ in 0..MAX_DEPTH {
            if self.is_root(&current) {
                break;
            }
            if let Some(known) = self.paths.get(&current) {
                base = known.clone();
                break;
            }
            if let Some((parent, name)) = self.folders.get(&current) {
                names.push(name.clone());
                current = parent.clone();
                continue;
            }
            if self.lookups >= MAX_LOOKUPS {
                return Ok(None);
            }
            self.lookups += 1;
            match api.item(&current)? {
                None => {
                    log::debug(format!(
                        "folder `{current}` is gone; its items have no place"
                    ));
                    return Ok(None);
                }
                Some(folder) if folder.root.is_some() => {
                    self.root = Some(current.clone());
                    break;
                }
                Some(folder) => {
                    if folder.parent_id().is_none() || !folder.is_folder() {
                        return Ok(None);
                    }
                    self.learn(&folder);
                    if !self.folders.contains_key(&current) {
                        return Ok(None);
                    }
                }
            }
        }
        if !self.is_root(&current) && !self.paths.contains_key(&current) {
            log::warn(format!(
                "the folders above `{id}` are nested more than {MAX_DEPTH} deep or in a cycle"
            ));
            return Ok(None);
        }
        names.reverse();
        base.extend(names);
        self.paths.insert(id.to_string(), base.clone());
        Ok(Some(base))
    }
}

/// Whether a `parentReference.path` names the drive's root itself (`/drive/root:`).
fn is_root_path(path: &str) -> bool {
    path.strip_suffix(':')
        .is_some_and(|p| p == "/drive/root" || p.ends_with("/root"))
        || path.ends_with("/root:/")
}

/// The folder names in a `parentReference.path` (`/drive/root:/a/b` -> `[a, b]`). Business
/// drives percent-encode it; decoding is only a fallback, names from ids are preferred.
pub fn path_from_reference(path: &str) -> Option<Vec<String>> {
    let (_, rest) = path.split_once("root:")?;
    Some(
        rest.split('/')
            .filter(|s| !s.is_empty())
            .map(percent_decode)
            .collect(),
    )
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(h) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(h, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_paths() {
        assert_eq!(path_from_reference("/drive/root:"), Some(vec![]));
        assert_eq!(
            path_from_reference("/drive/root:/Work/Q3 plans"),
            Some(vec!["Work".to_string(), "Q3 plans".to_string()])
        );
        assert_eq!(
            path_from_reference("/drives/b!x/root:/a%20b/%E6%97%A5"),
            Some(vec!["a b".to_string(), "日".to_string()])
        );
        assert_eq!(path_from_reference("/drive/items/abc"), None);
        assert!(is_root_path("/drive/root:"));
        assert!(is_root_path("/drives/b!abc/root:"));
        assert!(!is_root_path("/drive/root:/a"));
    }

    fn folder(id: &str, parent: &str, name: &str) -> Item {
        serde_json::from_value(serde_json::json!({
            "id": id, "name": name, "folder": {"childCount": 0},
            "parentReference": {"id": parent}
        }))
        .unwrap()
    }

    #[test]
    fn learns_folders_and_renames_invalidate() {
        let mut t = Tree::default();
        t.learn(
            &serde_json::from_value(serde_json::json!({"id": "R", "name": "root", "root": {}}))
                .unwrap(),
        );
        assert!(t.is_root("R"));
        t.learn(&folder("A", "R", "a"));
        t.learn(&folder("B", "A", "b"));
        let round: Tree = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert!(round.is_root("R"));
        assert_eq!(round.len(), 2);
        t.paths.insert("B".into(), vec!["a".into(), "b".into()]);
        t.learn(&folder("A", "R", "renamed"));
        assert!(t.paths.is_empty(), "a rename drops worked-out paths");
    }
}
