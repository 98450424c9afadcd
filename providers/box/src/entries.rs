//! Box items as contract entries, and where an item sits below the synced folder.

use crate::model::Item;
use p8sync_provider_sdk::entries::mime_for;
use p8sync_provider_sdk::types::{
    Checksum, ChecksumAlgorithm, Entry, EntryKind, SkippedEntry, Timestamp,
};
use p8sync_provider_sdk::{log, names, time};

/// An item as an entry, or the reason it is left out.
#[derive(Debug)]
pub enum Described {
    /// Listed.
    Entry(Box<Entry>),
    /// Left out, with the reason the host records.
    Skipped(SkippedEntry),
}

/// A name as the contract carries it: Box forbids `/` in names, but a name that has one anyway
/// must not become two path segments, so it is encoded (`‛2F`).
pub fn name_of(item: &Item) -> String {
    names::encode_str(item.display_name())
}

/// A skipped entry for `item`, shown at `path`.
pub fn skipped(item: &Item, path: &[String], reason: impl Into<String>) -> SkippedEntry {
    let mut shown = path.join("/");
    if !shown.is_empty() {
        shown.push('/');
    }
    shown.push_str(&name_of(item));
    SkippedEntry {
        id: item.id.clone(),
        name: shown,
        reason: reason.into(),
    }
}

/// The folder names from the synced folder `root` down to the item's parent, from the item's
/// `path_collection`: `Some(vec![])` for an item directly in `root`, `None` for one that is
/// not below it (or whose path Box did not say).
pub fn path_below(item: &Item, root: &str) -> Option<Vec<String>> {
    let folders = &item.path_collection.as_ref()?.entries;
    let at = folders.iter().position(|f| f.id == root)?;
    Some(
        folders[at + 1..]
            .iter()
            .map(|f| names::encode_str(f.name.as_deref().unwrap_or(&f.id)))
            .collect(),
    )
}

/// Describe a live item whose parent folder is at `path` (below the synced folder).
pub fn describe(item: &Item, path: &[String]) -> Described {
    let skip = |reason: &str| Described::Skipped(skipped(item, path, reason));
    let kind = match item.kind.as_str() {
        "file" => EntryKind::File,
        "folder" => EntryKind::Folder,
        "web_link" => return skip("a web link (a bookmark to a web address) has no file content"),
        other => {
            return skip(&format!(
                "Box reported an item of unknown type `{other:.40}`"
            ));
        }
    };
    if item.is_gone() {
        return skip("the item is in the trash");
    }
    let name = item.name.as_deref().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." {
        return skip(&format!("Box reported an unusable name `{name}`"));
    }
    let size = match item.size {
        Some(n) if n >= 0 => Some(n as u64),
        Some(n) => return skip(&format!("Box reported a negative size ({n})")),
        None => None,
    };
    let mut entry = Entry {
        id: item.id.clone(),
        name: name_of(item),
        path: path.to_vec(),
        parent_ids: item
            .parent
            .as_ref()
            .map(|p| p.id.clone())
            .filter(|id| !id.is_empty())
            .into_iter()
            .collect(),
        kind,
        mime_type: None,
        size: None,
        modified: time_of(
            item,
            item.content_modified_at
                .as_deref()
                .or(item.modified_at.as_deref()),
        ),
        created: time_of(
            item,
            item.content_created_at
                .as_deref()
                .or(item.created_at.as_deref()),
        ),
        checksums: Vec::new(),
        revision: None,
        export_as: None,
        metadata_json: Some(metadata(item)),
    };
    if kind == EntryKind::Folder {
        return Described::Entry(Box::new(entry));
    }
    entry.size = size;
    entry.mime_type = mime_for(name).map(str::to_string);
    let sha1 = item
        .sha1
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty());
    match sha1 {
        Some(s) if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            entry.checksums.push(Checksum {
                algorithm: ChecksumAlgorithm::Sha1,
                value: s.clone(),
            });
            // The content's hash: the same bytes uploaded again are not a change worth a
            // download, and the listing and the events stream agree on it.
            entry.revision = Some(s);
        }
        Some(_) => {
            // A checksum the host cannot match would fail the file on every sync.
            log::warn(format!("ignoring a malformed sha1 on `{}`", item.id));
        }
        None => {}
    }
    if entry.revision.is_none() {
        entry.revision = item
            .file_version
            .as_ref()
            .and_then(|v| v.id.clone())
            .map(|v| format!("version:{v}"))
            .or_else(|| item.etag.clone().map(|e| format!("etag:{e}")));
    }
    Described::Entry(Box::new(entry))
}

fn time_of(item: &Item, value: Option<&str>) -> Option<Timestamp> {
    let value = value?;
    let parsed = time::parse_rfc3339(value);
    if parsed.is_none() {
        log::warn(format!(
            "ignoring an unreadable time `{value:.40}` on `{}`",
            item.id
        ));
    }
    parsed
}

/// What the host stores beside the entry: Box's version and where a person opens the item.
fn metadata(item: &Item) -> String {
    let kind = if item.kind == "folder" {
        "folder"
    } else {
        "file"
    };
    serde_json::json!({
        "file_version": item.file_version.as_ref().and_then(|v| v.id.clone()),
        "etag": item.etag,
        "web_url": format!("https://app.box.com/{kind}/{}", item.id),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn item(v: serde_json::Value) -> Item {
        serde_json::from_value(v).unwrap()
    }

    fn file() -> serde_json::Value {
        json!({
            "type": "file", "id": "11", "name": "q3.pdf", "etag": "2", "sequence_id": "2",
            "size": 5, "sha1": "A9993E364706816ABA3E25717850C26C9CD0D89D",
            "file_version": {"type": "file_version", "id": "901"},
            "content_modified_at": "2024-05-01T10:00:00-07:00",
            "modified_at": "2024-05-02T10:00:00-07:00",
            "parent": {"type": "folder", "id": "7", "name": "Reports"},
            "path_collection": {"total_count": 3, "entries": [
                {"type": "folder", "id": "0", "name": "All Files"},
                {"type": "folder", "id": "5", "name": "Work"},
                {"type": "folder", "id": "7", "name": "Reports"}]}
        })
    }

    #[test]
    fn files_carry_sha1_as_checksum_and_revision() {
        let i = item(file());
        let path = path_below(&i, "0").unwrap();
        assert_eq!(path, vec!["Work".to_string(), "Reports".to_string()]);
        assert_eq!(path_below(&i, "5").unwrap(), vec!["Reports".to_string()]);
        assert_eq!(path_below(&i, "99"), None);
        let Described::Entry(e) = describe(&i, &path) else {
            panic!()
        };
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.parent_ids, vec!["7".to_string()]);
        assert_eq!(e.size, Some(5));
        assert_eq!(e.mime_type.as_deref(), Some("application/pdf"));
        let sha1 = "a9993e364706816aba3e25717850c26c9cd0d89d";
        assert_eq!(e.revision.as_deref(), Some(sha1));
        assert_eq!(e.checksums[0].value, sha1);
        // Content time (as the client said), not Box's own.
        assert_eq!(e.modified.unwrap().seconds, 1_714_582_800);
        assert!(e.metadata_json.unwrap().contains("app.box.com/file/11"));
    }

    #[test]
    fn odd_items_are_skipped_with_reasons() {
        let link = item(json!({"type": "web_link", "id": "3", "name": "Docs"}));
        assert!(
            matches!(describe(&link, &[]), Described::Skipped(s) if s.reason.contains("web link"))
        );
        let mut v = file();
        v["size"] = json!(-4);
        assert!(
            matches!(describe(&item(v), &[]), Described::Skipped(s) if s.reason.contains("negative"))
        );
        let mut v = file();
        v["name"] = json!("..");
        assert!(matches!(describe(&item(v), &[]), Described::Skipped(_)));
        let mut v = file();
        v["item_status"] = json!("trashed");
        assert!(
            matches!(describe(&item(v), &[]), Described::Skipped(s) if s.reason.contains("trash"))
        );
    }

    #[test]
    fn a_slash_in_a_name_stays_one_segment_and_no_sha1_falls_back_to_the_version() {
        let mut v = file();
        v["name"] = json!("a/b.txt");
        v["sha1"] = serde_json::Value::Null;
        let Described::Entry(e) = describe(&item(v), &[]) else {
            panic!()
        };
        assert_eq!(e.name, "a\u{201B}2Fb.txt");
        assert_eq!(e.revision.as_deref(), Some("version:901"));
        assert!(e.checksums.is_empty());
    }
}
