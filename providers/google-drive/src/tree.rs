//! Where a folder sits: its chains of ancestors up to My Drive, a shared drive, or a folder whose
//! parents the account cannot see ("floating", such as a folder shared with the user).
//!
//! Drive only stores parent ids, so every step up is a `files.get`; answers are cached for the
//! rest of the call.

use crate::api::Api;
use crate::model::File;
use p8sync_provider_sdk::types::ProviderError;
use std::collections::HashMap;

/// Fields needed to walk up.
const NODE_FIELDS: &str = "id,name,mimeType,parents,trashed,driveId";
/// Deeper than this is treated as a cycle in the data.
const MAX_DEPTH: usize = 64;
/// Multiple parents can multiply the chains; a handful is plenty to choose from.
const MAX_PLACES: usize = 8;
/// The path segment shared drives live under.
pub const SHARED_DRIVES: &str = "Shared drives";

/// What a chain of ancestors ends at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Top {
    /// The account's My Drive root.
    MyDrive,
    /// A shared drive's root.
    SharedDrive,
    /// A folder with no visible parent that is neither of the above.
    Floating,
}

/// One way down from a top to a folder.
#[derive(Debug, Clone)]
pub struct Place {
    /// What the chain starts at.
    pub top: Top,
    /// Folder ids from the top down to the folder itself.
    pub chain: Vec<String>,
    /// The name of each folder in `chain` (the drive's name for a shared drive's root, empty for
    /// My Drive's root).
    pub names: Vec<String>,
    /// The `path` of entries directly inside the folder.
    pub path: Vec<String>,
}

/// A folder (or file) as far as walking up needs.
#[derive(Debug, Clone)]
struct Node {
    name: String,
    parents: Vec<String>,
    drive_id: Option<String>,
}

/// Cached ancestry lookups for one call.
#[derive(Default)]
pub struct Tree {
    nodes: HashMap<String, Option<Node>>,
    root_id: Option<String>,
    drives: Option<HashMap<String, String>>,
}

impl Tree {
    /// Remember a file already fetched, so walking through it costs no request.
    pub fn seed(&mut self, file: &File) {
        if file.trashed {
            return;
        }
        self.nodes.insert(
            file.id.clone(),
            Some(Node {
                name: file.name.clone(),
                parents: file.parents.clone(),
                drive_id: file.drive_id.clone(),
            }),
        );
    }

    /// The id of the My Drive root folder (Drive's alias `root` resolved once).
    pub fn root_id(&mut self, api: &mut Api) -> Result<String, ProviderError> {
        if let Some(id) = &self.root_id {
            return Ok(id.clone());
        }
        let root = api.get_file_fields("root", NODE_FIELDS)?.ok_or_else(|| {
            ProviderError::NotFound("files.get `root`: Drive says My Drive does not exist".into())
        })?;
        self.root_id = Some(root.id.clone());
        Ok(root.id)
    }

    /// The My Drive root id, if this call has resolved it.
    pub fn known_root_id(&self) -> Option<String> {
        self.root_id.clone()
    }

    /// Reuse a My Drive root id resolved by an earlier call.
    pub fn set_root_id(&mut self, id: &str) {
        self.root_id = Some(id.to_string());
    }

    /// Shared drive names by id, fetched once.
    pub fn drives(&mut self, api: &mut Api) -> Result<&HashMap<String, String>, ProviderError> {
        if self.drives.is_none() {
            let list = api.all_drives()?;
            self.drives = Some(list.into_iter().map(|d| (d.id, d.name)).collect());
        }
        Ok(self.drives.get_or_insert_with(HashMap::new))
    }

    fn node(&mut self, api: &mut Api, id: &str) -> Result<Option<Node>, ProviderError> {
        if let Some(n) = self.nodes.get(id) {
            return Ok(n.clone());
        }
        // A folder the account may not read is as good as absent: the chain ends below it.
        let found = match api.get_file_fields(id, NODE_FIELDS) {
            Err(ProviderError::Forbidden(_)) => None,
            other => other?,
        };
        let node = found.filter(|f| !f.trashed).map(|f| Node {
            name: f.name,
            parents: f.parents,
            drive_id: f.drive_id,
        });
        self.nodes.insert(id.to_string(), node.clone());
        Ok(node)
    }

    fn drive_name(&mut self, api: &mut Api, id: &str) -> Result<String, ProviderError> {
        Ok(self
            .drives(api)?
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string()))
    }

    /// Every way (up to a few) from a top down to folder `id`; empty when it does not exist.
    /// My Drive and shared-drive places come first.
    pub fn places(&mut self, api: &mut Api, id: &str) -> Result<Vec<Place>, ProviderError> {
        let root = self.root_id(api)?;
        let mut seen = Vec::new();
        let mut places = self.up(api, id, &root, &mut seen)?;
        places.sort_by_key(|p| p.top == Top::Floating);
        Ok(places)
    }

    fn up(
        &mut self,
        api: &mut Api,
        id: &str,
        root: &str,
        seen: &mut Vec<String>,
    ) -> Result<Vec<Place>, ProviderError> {
        if id == root {
            return Ok(vec![Place {
                top: Top::MyDrive,
                chain: vec![id.to_string()],
                names: vec![String::new()],
                path: Vec::new(),
            }]);
        }
        if seen.len() >= MAX_DEPTH || seen.iter().any(|s| s == id) {
            return Ok(Vec::new());
        }
        let Some(node) = self.node(api, id)? else {
            return Ok(Vec::new());
        };
        if node.drive_id.as_deref() == Some(id) {
            return Ok(vec![self.drive_place(api, id)?]);
        }
        seen.push(id.to_string());
        let mut places = Vec::new();
        for parent in &node.parents {
            if places.len() >= MAX_PLACES {
                break;
            }
            let above = if node.drive_id.as_deref() == Some(parent.as_str()) {
                // The shared drive's root folder: no need to fetch it.
                vec![self.drive_place(api, parent)?]
            } else {
                self.up(api, parent, root, seen)?
            };
            for mut place in above {
                place.chain.push(id.to_string());
                place.names.push(node.name.clone());
                place.path.push(node.name.clone());
                places.push(place);
            }
        }
        seen.pop();
        if places.is_empty() {
            // No visible parent leads anywhere: the folder is a top of its own.
            places.push(Place {
                top: Top::Floating,
                chain: vec![id.to_string()],
                names: vec![node.name.clone()],
                path: vec![node.name.clone()],
            });
        }
        places.truncate(MAX_PLACES);
        Ok(places)
    }

    fn drive_place(&mut self, api: &mut Api, id: &str) -> Result<Place, ProviderError> {
        let name = self.drive_name(api, id)?;
        Ok(Place {
            top: Top::SharedDrive,
            chain: vec![id.to_string()],
            names: vec![name.clone()],
            path: vec![SHARED_DRIVES.to_string(), name],
        })
    }
}
