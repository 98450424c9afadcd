//! The parts of Dropbox's JSON this provider reads. Fields are optional and unknown ones are
//! ignored, so a newer API answer still parses.

use serde::Deserialize;

/// One entry of a `list_folder` result: `.tag` is `file`, `folder` or `deleted`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Metadata {
    /// `file`, `folder` or `deleted`.
    #[serde(rename = ".tag", default)]
    pub tag: String,
    /// The last path component, with the user's casing.
    #[serde(default)]
    pub name: String,
    /// `id:...`, stable across renames and moves (absent on deleted entries).
    pub id: Option<String>,
    /// The full path, lower-cased: Dropbox paths are case-insensitive.
    pub path_lower: Option<String>,
    /// The full path with display casing (the parents' casing may be stale).
    pub path_display: Option<String>,
    /// The file's revision; changes with every change of content.
    pub rev: Option<String>,
    /// Size in bytes.
    pub size: Option<u64>,
    /// When the content last changed on Dropbox's servers.
    pub server_modified: Option<String>,
    /// When the client said the content last changed.
    pub client_modified: Option<String>,
    /// Dropbox's content hash (SHA-256 over each 4 MiB block's SHA-256), hex.
    pub content_hash: Option<String>,
    /// `false` for files that must be exported (Paper docs, other cloud documents).
    pub is_downloadable: Option<bool>,
    /// Set on symbolic links.
    pub symlink_info: Option<serde_json::Value>,
}

/// The answer of `list_folder` and `list_folder/continue`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListFolderResult {
    /// Entries of this page (possibly none).
    #[serde(default)]
    pub entries: Vec<Metadata>,
    /// Where to continue.
    pub cursor: String,
    /// Whether more entries are waiting now.
    #[serde(default)]
    pub has_more: bool,
}

/// The answer of `list_folder/get_latest_cursor`.
#[derive(Debug, Clone, Deserialize)]
pub struct LatestCursor {
    /// The cursor for "now".
    pub cursor: String,
}
