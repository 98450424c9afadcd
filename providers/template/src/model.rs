//! The example API's JSON, and how its files become the contract's entries.
//! CHANGE ME: this is the part that is different for every service.

use p8sync_provider_sdk::entries;
use p8sync_provider_sdk::time;
use p8sync_provider_sdk::types::Entry;
use serde::Deserialize;

/// One page of `GET /files`.
#[derive(Debug, Deserialize)]
pub struct FileList {
    /// The files on this page.
    #[serde(default)]
    pub files: Vec<File>,
    /// The token for the next page; absent or null on the last one.
    #[serde(default)]
    pub next: Option<String>,
}

/// One file as the API describes it.
#[derive(Debug, Deserialize)]
pub struct File {
    /// Stable id, never reused.
    pub id: String,
    /// The file's name.
    pub name: String,
    /// The folder holding it, `/`-separated, empty at the top.
    #[serde(default)]
    pub folder: String,
    /// Size in bytes.
    pub size: Option<u64>,
    /// SHA-256 of the content, hex.
    pub sha256: Option<String>,
    /// Last modification, RFC 3339.
    pub modified: Option<String>,
}

impl File {
    /// The entry for this file, or why it is skipped: `(id, name, reason)`.
    pub fn into_entry(self) -> Result<Entry, (String, String, String)> {
        let Some(size) = self.size else {
            // The host needs a size (or an export format) to check the bytes it downloads.
            return Err((self.id, self.name, "the API gave no size".into()));
        };
        if self.name.is_empty() || self.name.contains('/') {
            return Err((
                self.id,
                self.name,
                "the name is empty or has a slash".into(),
            ));
        }
        let checksums = self
            .sha256
            .iter()
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(|h| entries::sha256(h))
            .collect();
        Ok(Entry {
            path: entries::path_segments(&self.folder),
            size: Some(size),
            modified: self.modified.as_deref().and_then(time::parse_rfc3339),
            // The revision changes whenever the content does: here the content hash.
            revision: self.sha256.clone(),
            checksums,
            ..entries::file(self.id, self.name)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_becomes_an_entry() {
        let list: FileList = p8sync_provider_sdk::serde_json::from_str(&format!(
            r#"{{"files":[{{"id":"f1","name":"q3.pdf","folder":"Work/Reports","size":3,
                "sha256":"{}","modified":"2024-05-01T12:34:56Z"}}],"next":"t2"}}"#,
            "A".repeat(64)
        ))
        .unwrap();
        assert_eq!(list.next.as_deref(), Some("t2"));
        let e = list.files.into_iter().next().unwrap().into_entry().unwrap();
        assert_eq!(e.path, ["Work", "Reports"]);
        assert_eq!(e.checksums[0].value, "a".repeat(64));
        assert_eq!(e.modified.unwrap().seconds, 1_714_566_896);
    }

    #[test]
    fn a_file_without_a_size_is_skipped() {
        let f = File {
            id: "x".into(),
            name: "x".into(),
            folder: String::new(),
            size: None,
            sha256: None,
            modified: None,
        };
        assert!(f.into_entry().is_err());
    }
}
