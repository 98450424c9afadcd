//! What a sync covers: the whole account, or only the folders in `include_folders`.

use crate::api::Api;
use crate::tree::{Place, SHARED_DRIVES, Top, Tree};
use p8sync_provider_sdk::error;
use p8sync_provider_sdk::types::ProviderError;

/// A folder the walk starts from.
#[derive(Debug, Clone)]
pub struct Root {
    /// The folder id.
    pub id: String,
    /// The `path` of entries directly inside it (its full path from My Drive or a shared drive).
    pub path: Vec<String>,
    /// Folder ids from the top down to the folder itself.
    pub chain: Vec<String>,
}

impl Root {
    fn from_place(id: &str, place: Place) -> Self {
        Root {
            id: id.to_string(),
            path: place.path,
            chain: place.chain,
        }
    }
}

/// Resolve every `include_folders` value into a root; values that name nothing, or more than
/// one folder, are configuration errors. Nested roots are dropped: their parent covers them.
pub fn include_roots(
    api: &mut Api,
    tree: &mut Tree,
    folders: &[String],
    shared_drives: bool,
) -> Result<Vec<Root>, ProviderError> {
    let mut roots: Vec<Root> = Vec::new();
    for value in folders {
        let root = resolve(api, tree, value, shared_drives)?;
        if !roots.iter().any(|r| r.id == root.id) {
            roots.push(root);
        }
    }
    let ids: Vec<String> = roots.iter().map(|r| r.id.clone()).collect();
    roots.retain(|r| {
        !r.chain[..r.chain.len().saturating_sub(1)]
            .iter()
            .any(|c| ids.contains(c))
    });
    Ok(roots)
}

/// A folder by id, for `list` with a `folder-id`.
pub fn folder_root(api: &mut Api, tree: &mut Tree, id: &str) -> Result<Root, ProviderError> {
    match by_id(api, tree, id)? {
        Some(root) => Ok(root),
        None => Err(ProviderError::NotFound(format!(
            "there is no folder with the id `{id}`"
        ))),
    }
}

fn resolve(
    api: &mut Api,
    tree: &mut Tree,
    value: &str,
    shared_drives: bool,
) -> Result<Root, ProviderError> {
    let segments: Vec<&str> = value
        .split('/')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if segments.len() == 1 && looks_like_id(segments[0]) {
        match by_id(api, tree, segments[0]) {
            Ok(Some(root)) => return Ok(root),
            // Drive answers 400 to some strings that cannot be ids; they may still be a path.
            Ok(None) | Err(ProviderError::Permanent(_)) => {}
            Err(ProviderError::InvalidConfig(m)) => {
                return Err(ProviderError::InvalidConfig(format!(
                    "include_folders: {m}"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    by_path(api, tree, value, &segments, shared_drives)
}

/// Drive ids are long runs of letters, digits, `-` and `_`; anything else is surely a path.
fn looks_like_id(s: &str) -> bool {
    s == "root"
        || (s.len() >= 10
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn by_id(api: &mut Api, tree: &mut Tree, id: &str) -> Result<Option<Root>, ProviderError> {
    let Some(file) = api.get_file(id)? else {
        return Ok(None);
    };
    if file.trashed {
        return Ok(None);
    }
    if !file.is_folder() {
        return Err(ProviderError::InvalidConfig(format!(
            "`{id}` is a file (`{}`), not a folder",
            file.name
        )));
    }
    tree.seed(&file);
    let place = tree.places(api, &file.id)?.into_iter().next();
    Ok(place.map(|p| Root::from_place(&file.id, p)))
}

fn by_path(
    api: &mut Api,
    tree: &mut Tree,
    value: &str,
    segments: &[&str],
    shared_drives: bool,
) -> Result<Root, ProviderError> {
    let invalid = |m: String| ProviderError::InvalidConfig(format!("include_folders: {m}"));
    let (mut place, rest) = if segments.first() == Some(&SHARED_DRIVES) {
        if !shared_drives {
            return Err(invalid(format!(
                "`{value}` is in a shared drive, but include_shared_drives is false"
            )));
        }
        let Some(name) = segments.get(1) else {
            return Err(invalid(format!(
                "`{value}` names no shared drive; use \"{SHARED_DRIVES}/<drive name>/...\""
            )));
        };
        let matches: Vec<String> = tree
            .drives(api)?
            .iter()
            .filter(|(_, n)| n.as_str() == *name)
            .map(|(id, _)| id.clone())
            .collect();
        let drive = match matches.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(invalid(format!(
                    "`{value}`: there is no shared drive named `{name}` (names are case-sensitive)"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "`{value}`: {} shared drives are named `{name}`; use the folder id instead",
                    matches.len()
                )));
            }
        };
        let place = Place {
            top: Top::SharedDrive,
            chain: vec![drive],
            names: vec![name.to_string()],
            path: vec![SHARED_DRIVES.to_string(), name.to_string()],
        };
        (place, &segments[2..])
    } else {
        let root = tree.root_id(api)?;
        let place = Place {
            top: Top::MyDrive,
            chain: vec![root],
            names: vec![String::new()],
            path: Vec::new(),
        };
        (place, segments)
    };
    for (i, name) in rest.iter().enumerate() {
        let parent = place.chain.last().cloned().unwrap_or_default();
        let found = api
            .child_folders_named(&parent, name)
            .map_err(|e| match e {
                ProviderError::NotFound(_) => invalid(format!(
                    "`{value}`: the folder `{}` disappeared while resolving the path ({})",
                    place.path.join("/"),
                    error::message(&e)
                )),
                other => other,
            })?;
        let within = if place.path.is_empty() {
            "My Drive".to_string()
        } else {
            format!("`{}`", place.path.join("/"))
        };
        let folder = match found.as_slice() {
            [one] => one,
            [] => {
                return Err(invalid(format!(
                    "`{value}`: there is no folder named `{name}` in {within} (names are \
                     case-sensitive)"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "`{value}` is ambiguous: {} folders are named `{name}` in {within}; use the \
                     folder id instead",
                    found.len()
                )));
            }
        };
        tree.seed(folder);
        place.chain.push(folder.id.clone());
        place.names.push(name.to_string());
        place.path.push(name.to_string());
        if i + 1 == rest.len() {
            return Ok(Root::from_place(&folder.id, place));
        }
    }
    // The path named only a top: all of My Drive, or a whole shared drive.
    let id = place.chain.last().cloned().unwrap_or_default();
    Ok(Root::from_place(&id, place))
}

/// Whether entries at a place belong to the sync.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The include roots; empty means the whole account.
    pub roots: Vec<Root>,
    /// Whether shared drives are synced.
    pub shared_drives: bool,
}

impl Scope {
    /// Whether entries directly inside the folder at `place` are synced.
    pub fn contains(&self, place: &Place) -> bool {
        if self.roots.is_empty() {
            return match place.top {
                Top::MyDrive => true,
                Top::SharedDrive => self.shared_drives,
                Top::Floating => false,
            };
        }
        self.roots.iter().any(|r| place.chain.contains(&r.id))
    }
}
