//! Entries with every optional field empty, so a provider sets only what its service knows
//! (`Entry { size: Some(n), ..entries::file(id, name) }`), checksum constructors, and MIME types
//! by extension.

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

/// A MIME type from the file name's extension, for the common types ingestion routes; for
/// services that report none.
pub fn mime_for(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "txt" | "text" | "log" => "text/plain",
        "md" | "markdown" => "text/markdown",
        "csv" => "text/csv",
        "tsv" => "text/tab-separated-values",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "wav" => "audio/wav",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" => "audio/ogg",
        "flac" => "audio/flac",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_common_types_by_extension() {
        assert_eq!(mime_for("Q3 Report.PDF"), Some("application/pdf"));
        assert_eq!(mime_for("notes.tar.md"), Some("text/markdown"));
        assert_eq!(mime_for("README"), None);
        assert_eq!(mime_for("archive.7z"), None);
    }

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
