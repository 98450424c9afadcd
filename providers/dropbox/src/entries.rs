//! Dropbox metadata as the contract's entries.

use crate::model::Metadata;
use p8sync_provider_sdk::types::{Checksum, ChecksumAlgorithm, Entry, EntryKind, SkippedEntry};
use p8sync_provider_sdk::{entries, time};

/// What one listed item becomes.
#[derive(Debug)]
pub enum Item {
    /// A file or folder to report.
    Entry(Box<Entry>),
    /// Left out on purpose, with the reason.
    Skipped(SkippedEntry),
    /// A deletion (only in the change feed): the lower-cased path that is gone.
    Deleted(String),
    /// Nothing to report (the root folder itself, an unknown tag).
    Nothing,
}

/// Convert one `list_folder` entry. `root` is the configured root path (`""` for the account).
pub fn convert(meta: Metadata, root: &str) -> Item {
    let display = meta
        .path_display
        .clone()
        .or_else(|| meta.path_lower.clone())
        .unwrap_or_else(|| format!("/{}", meta.name));
    match meta.tag.as_str() {
        "deleted" => match meta.path_lower {
            Some(p) => Item::Deleted(p),
            None => Item::Nothing,
        },
        "file" | "folder" => {
            let Some(id) = meta.id.clone().filter(|i| !i.is_empty()) else {
                return Item::Skipped(SkippedEntry {
                    id: meta.path_lower.clone().unwrap_or_else(|| display.clone()),
                    name: display,
                    reason: "Dropbox listed it without an id".into(),
                });
            };
            let folders = parent_folders(&display, root);
            if meta.tag == "folder" {
                // The listing root appears as an entry of its own listing; it is no child.
                if meta.path_lower.as_deref() == Some(root.to_lowercase().as_str()) {
                    return Item::Nothing;
                }
                return Item::Entry(Box::new(entry(meta, id, folders, EntryKind::Folder)));
            }
            if meta.symlink_info.is_some() {
                return Item::Skipped(SkippedEntry {
                    id,
                    name: display,
                    reason: "a symbolic link; its target is synced where it lives, if it is \
                             under the root"
                        .into(),
                });
            }
            if meta.is_downloadable == Some(false) {
                return Item::Skipped(SkippedEntry {
                    id,
                    name: display,
                    reason: "not downloadable: a Dropbox Paper or other cloud document, which \
                             Dropbox only exports"
                        .into(),
                });
            }
            Item::Entry(Box::new(entry(meta, id, folders, EntryKind::File)))
        }
        _ => Item::Nothing,
    }
}

fn entry(meta: Metadata, id: String, path: Vec<String>, kind: EntryKind) -> Entry {
    let checksums = meta
        .content_hash
        .iter()
        .filter(|h| !h.is_empty())
        .map(|h| Checksum {
            algorithm: ChecksumAlgorithm::DropboxContentHash,
            value: h.to_ascii_lowercase(),
        })
        .collect();
    let metadata = serde_json::json!({
        "path_lower": meta.path_lower,
        "path_display": meta.path_display,
        "client_modified": meta.client_modified,
    });
    Entry {
        id,
        mime_type: (kind == EntryKind::File)
            .then(|| entries::mime_for(&meta.name))
            .flatten()
            .map(str::to_string),
        name: meta.name,
        path,
        parent_ids: Vec::new(),
        kind,
        size: meta.size.filter(|_| kind == EntryKind::File),
        modified: meta
            .server_modified
            .as_deref()
            .and_then(time::parse_rfc3339),
        created: None,
        checksums,
        revision: meta.rev,
        export_as: None,
        metadata_json: Some(metadata.to_string()),
    }
}

/// The folder names between the root and the item: `/Work/Reports/q3.pdf` under root `/Work`
/// gives `["Reports"]`. Compared case-insensitively, as Dropbox paths are; names keep the
/// display casing.
pub fn parent_folders(path_display: &str, root: &str) -> Vec<String> {
    let parts: Vec<&str> = path_display.split('/').filter(|p| !p.is_empty()).collect();
    let Some((_, parents)) = parts.split_last() else {
        return Vec::new();
    };
    let root_parts: Vec<String> = if root.starts_with('/') {
        root.split('/')
            .filter(|p| !p.is_empty())
            .map(str::to_lowercase)
            .collect()
    } else {
        // A root given by id: its path is unknown here, so paths are the full Dropbox paths.
        Vec::new()
    };
    let under_root = root_parts.len() <= parents.len()
        && parents
            .iter()
            .zip(&root_parts)
            .all(|(p, r)| p.to_lowercase() == *r);
    let skip = if under_root { root_parts.len() } else { 0 };
    parents[skip..].iter().map(|p| p.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_root() {
        assert_eq!(parent_folders("/a.txt", ""), Vec::<String>::new());
        assert_eq!(
            parent_folders("/Work/Reports/q3.pdf", ""),
            ["Work", "Reports"]
        );
        assert_eq!(parent_folders("/Work/Reports/q3.pdf", "/work"), ["Reports"]);
        assert_eq!(
            parent_folders("/WORK/q3.pdf", "/Work"),
            Vec::<String>::new()
        );
        assert_eq!(parent_folders("/Work/a/b/c.txt", "/Work/a"), ["b"]);
        assert_eq!(parent_folders("/Work/x.txt", "id:abc"), ["Work"]);
    }

    fn file(name: &str, path: &str) -> Metadata {
        Metadata {
            tag: "file".into(),
            name: name.into(),
            id: Some("id:1".into()),
            path_lower: Some(path.to_lowercase()),
            path_display: Some(path.into()),
            rev: Some("015".into()),
            size: Some(3),
            server_modified: Some("2020-01-01T00:00:00Z".into()),
            content_hash: Some("AB".into()),
            ..Metadata::default()
        }
    }

    #[test]
    fn files_become_entries() {
        let Item::Entry(e) = convert(file("résumé.txt", "/Docs/résumé.txt"), "") else {
            panic!("not an entry");
        };
        assert_eq!(e.id, "id:1");
        assert_eq!(e.name, "résumé.txt");
        assert_eq!(e.path, ["Docs"]);
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.size, Some(3));
        assert_eq!(e.revision.as_deref(), Some("015"));
        assert_eq!(e.mime_type.as_deref(), Some("text/plain"));
        assert_eq!(e.checksums[0].value, "ab");
        assert!(matches!(
            e.checksums[0].algorithm,
            ChecksumAlgorithm::DropboxContentHash
        ));
        assert_eq!(e.modified.unwrap().seconds, 1_577_836_800);
    }

    #[test]
    fn special_items() {
        let mut paper = file("Notes.paper", "/Notes.paper");
        paper.is_downloadable = Some(false);
        assert!(matches!(convert(paper, ""), Item::Skipped(s) if s.reason.contains("Paper")));
        let deleted = Metadata {
            tag: "deleted".into(),
            name: "Old".into(),
            path_lower: Some("/old".into()),
            ..Metadata::default()
        };
        assert!(matches!(convert(deleted, ""), Item::Deleted(p) if p == "/old"));
        let root = Metadata {
            tag: "folder".into(),
            name: "Work".into(),
            id: Some("id:w".into()),
            path_lower: Some("/work".into()),
            path_display: Some("/Work".into()),
            ..Metadata::default()
        };
        assert!(matches!(convert(root, "/Work"), Item::Nothing));
    }
}
