//! Entries with every optional field empty, so a provider sets only what its service knows
//! (`Entry { size: Some(n), ..entries::file(id, name) }`), and checksum constructors.

use crate::types::{Checksum, ChecksumAlgorithm, Entry, EntryKind};

/// A file entry with only an id and a name (set `size` or `export_as`: the host needs one).
pub fn file(id: impl Into<String>, name: impl Into<String>) -> Entry {
    empty(id.into(), name.into(), EntryKind::File)
}

/// A folder entry with only an id and a name.
pub fn folder(id: impl Into<String>, name: impl Into<String>) -> Entry {
    empty(id.into(), name.into(), EntryKind::Folder)
}

fn empty(id: String, name: String, kind: EntryKind) -> Entry {
    Entry {
        id,
        name,
        path: Vec::new(),
        parent_ids: Vec::new(),
        kind,
        mime_type: None,
        size: None,
        modified: None,
        created: None,
        checksums: Vec::new(),
        revision: None,
        export_as: None,
        metadata_json: None,
    }
}

/// The folder names of a `/`-separated path (`"Work/Reports"` -> `["Work", "Reports"]`),
/// without empty segments, as `Entry::path` wants them.
pub fn path_segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A SHA-256 checksum (lower-case hex, as the contract wants; the host verifies it).
pub fn sha256(hex: &str) -> Checksum {
    Checksum {
        algorithm: ChecksumAlgorithm::Sha256,
        value: hex.trim().to_ascii_lowercase(),
    }
}

/// An MD5 checksum (lower-case hex).
pub fn md5(hex: &str) -> Checksum {
    Checksum {
        algorithm: ChecksumAlgorithm::Md5,
        value: hex.trim().to_ascii_lowercase(),
    }
}

/// A SHA-1 checksum (lower-case hex).
pub fn sha1(hex: &str) -> Checksum {
    Checksum {
        algorithm: ChecksumAlgorithm::Sha1,
        value: hex.trim().to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_minimal_entries() {
        let e = Entry {
            size: Some(3),
            path: path_segments("/Work//Reports/"),
            checksums: vec![sha256("ABC")],
            ..file("id1", "q3.pdf")
        };
        assert_eq!(e.kind, EntryKind::File);
        assert_eq!(e.path, ["Work", "Reports"]);
        assert_eq!(e.checksums[0].value, "abc");
        assert_eq!(folder("f", "Work").kind, EntryKind::Folder);
    }
}
