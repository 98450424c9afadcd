//! A PROPFIND resource as a contract entry.
//!
//! The id is the decoded path under the configured base (`Docs/a b.txt`), not `oc:fileid`:
//! every RFC 4918 server has a path, but only ownCloud-style servers have a file id (and a
//! proxy may drop it), so ids that switched between the two would make the host see every
//! file deleted and added again. A path is stable while the file stays where it is; a rename
//! is a delete and an add, as with the local-folder provider. The id is also what `fetch`
//! builds the download URL from. `oc:fileid` is kept in the metadata.

use crate::httpdate;
use crate::multistatus::Resource;
use p8sync_provider_sdk::types::{Checksum, ChecksumAlgorithm, Entry, EntryKind};

/// The entry for `resource`, whose id is `id`; `root` is the listing root's id (entry paths
/// are relative to it).
pub fn entry(resource: &Resource, id: &str, root: &str) -> Entry {
    let segments: Vec<&str> = id.split('/').collect();
    let name = segments.last().copied().unwrap_or_default().to_string();
    let parent = &segments[..segments.len() - 1];
    let root_depth = root.split('/').filter(|s| !s.is_empty()).count();
    let path: Vec<String> = parent
        .iter()
        .skip(root_depth)
        .map(|s| s.to_string())
        .collect();
    let kind = if resource.collection {
        EntryKind::Folder
    } else {
        EntryKind::File
    };
    let modified = resource.modified.as_deref().and_then(httpdate::parse);
    let size = match kind {
        EntryKind::File => resource.length,
        EntryKind::Folder => None,
    };
    // The ETag is what RFC 4918 servers change with the content; without one, the time and
    // size stand in.
    let revision = resource.etag.clone().or_else(|| {
        (resource.modified.is_some() || size.is_some()).then(|| {
            format!(
                "{}|{}",
                resource.modified.as_deref().unwrap_or_default(),
                size.map(|s| s.to_string()).unwrap_or_default()
            )
        })
    });
    let mut metadata = serde_json::Map::new();
    metadata.insert("href".into(), resource.href.clone().into());
    if let Some(fileid) = &resource.fileid {
        metadata.insert("fileid".into(), fileid.clone().into());
    }
    if let Some(etag) = &resource.etag {
        metadata.insert("etag".into(), etag.clone().into());
    }
    Entry {
        id: id.to_string(),
        name,
        path,
        parent_ids: if parent.len() > root_depth {
            vec![parent.join("/")]
        } else {
            vec![]
        },
        kind,
        mime_type: match kind {
            EntryKind::Folder => None,
            // `text/plain; charset=utf-8` -> `text/plain`: routing goes by the bare type.
            EntryKind::File => resource
                .content_type
                .as_deref()
                .and_then(|t| t.split(';').next())
                .map(|t| t.trim().to_ascii_lowercase())
                .filter(|t| t.contains('/')),
        },
        size,
        modified,
        created: None,
        checksums: match kind {
            EntryKind::File => checksums(&resource.checksums),
            EntryKind::Folder => vec![],
        },
        revision,
        export_as: None,
        metadata_json: Some(serde_json::Value::Object(metadata).to_string()),
    }
}

/// ownCloud's `oc:checksum` values: `SHA1:<hex> MD5:<hex> ADLER32:<hex>`, space separated.
fn checksums(values: &[String]) -> Vec<Checksum> {
    let mut out = Vec::new();
    for token in values.iter().flat_map(|v| v.split_whitespace()) {
        let Some((algorithm, value)) = token.split_once(':') else {
            continue;
        };
        if value.is_empty() {
            continue;
        }
        let hex = value.to_ascii_lowercase();
        let algorithm = match algorithm.to_ascii_uppercase().as_str() {
            "MD5" => ChecksumAlgorithm::Md5,
            "SHA1" | "SHA-1" => ChecksumAlgorithm::Sha1,
            "SHA256" | "SHA-256" => ChecksumAlgorithm::Sha256,
            other => {
                out.push(Checksum {
                    algorithm: ChecksumAlgorithm::Other(other.to_ascii_lowercase()),
                    value: value.to_string(),
                });
                continue;
            }
        };
        if hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push(Checksum {
                algorithm,
                value: hex,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_folders() {
        let file = Resource {
            href: "/dav/Docs/Work/r%20a.txt".into(),
            length: Some(5),
            modified: Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
            etag: Some("\"e1\"".into()),
            content_type: Some("Text/Plain; charset=utf-8".into()),
            fileid: Some("42".into()),
            checksums: vec!["SHA1:AB12 MD5:cd34 ADLER32:0f".into()],
            ..Resource::default()
        };
        let e = entry(&file, "Docs/Work/r a.txt", "Docs");
        assert_eq!(e.name, "r a.txt");
        assert_eq!(e.path, vec!["Work".to_string()]);
        assert_eq!(e.parent_ids, vec!["Docs/Work".to_string()]);
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.mime_type.as_deref(), Some("text/plain"));
        assert_eq!(e.size, Some(5));
        assert_eq!(e.modified.unwrap().seconds, 784_111_777);
        assert_eq!(e.revision.as_deref(), Some("\"e1\""));
        assert_eq!(e.checksums.len(), 3);
        assert_eq!(e.checksums[0].value, "ab12");
        assert!(e.metadata_json.unwrap().contains("\"fileid\":\"42\""));

        let folder = Resource {
            href: "/dav/Docs/".into(),
            collection: true,
            length: Some(4096),
            ..Resource::default()
        };
        let f = entry(&folder, "Docs", "");
        assert_eq!(f.kind, EntryKind::Folder);
        assert_eq!(f.size, None);
        assert!(f.path.is_empty() && f.parent_ids.is_empty());
    }
}
