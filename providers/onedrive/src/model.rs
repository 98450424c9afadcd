//! Microsoft Graph's JSON: drive items and delta pages, read leniently (every field optional).

use serde::Deserialize;
use serde_json::Value;

/// A `driveItem`, with the fields this provider reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// The item id, unique within the drive.
    #[serde(default)]
    pub id: String,
    /// The name; deleted items in business drives may come without one.
    pub name: Option<String>,
    /// Changes on any change to the item.
    pub e_tag: Option<String>,
    /// Changes when the content changes (files only).
    pub c_tag: Option<String>,
    /// Bytes.
    pub size: Option<i64>,
    /// Server-side creation time, RFC 3339.
    pub created_date_time: Option<String>,
    /// Server-side modification time, RFC 3339.
    pub last_modified_date_time: Option<String>,
    /// Where the item is.
    pub parent_reference: Option<ParentReference>,
    /// Times as the client that wrote the file reported them.
    pub file_system_info: Option<FileSystemInfo>,
    /// Present on files.
    pub file: Option<FileFacet>,
    /// Present on folders.
    pub folder: Option<Value>,
    /// Present on the drive's root folder.
    pub root: Option<Value>,
    /// Present on items that were deleted (delta only).
    pub deleted: Option<Value>,
    /// Present on packages such as OneNote notebooks.
    pub package: Option<Value>,
    /// Present on items that live in another drive (shared with the user and added here).
    pub remote_item: Option<Value>,
}

impl Item {
    /// Whether this is a folder (the root included).
    pub fn is_folder(&self) -> bool {
        self.folder.is_some() || self.root.is_some()
    }

    /// The parent folder's id.
    pub fn parent_id(&self) -> Option<&str> {
        self.parent_reference
            .as_ref()
            .and_then(|p| p.id.as_deref())
            .filter(|id| !id.is_empty())
    }

    /// The name, or the id when there is none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// `parentReference`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// The parent's id.
    pub id: Option<String>,
    /// The drive's id.
    pub drive_id: Option<String>,
    /// `/drive/root:/a/b` (absent in delta responses on some drive types).
    pub path: Option<String>,
}

/// `fileSystemInfo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSystemInfo {
    /// Creation time as the client reported it.
    pub created_date_time: Option<String>,
    /// Modification time as the client reported it.
    pub last_modified_date_time: Option<String>,
}

/// The `file` facet.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileFacet {
    /// The MIME type Graph assigned.
    pub mime_type: Option<String>,
    /// Content hashes.
    pub hashes: Option<Hashes>,
}

/// `file.hashes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hashes {
    /// quickXorHash, base64 (all drive types).
    pub quick_xor_hash: Option<String>,
    /// SHA-1, hex (personal drives).
    pub sha1_hash: Option<String>,
    /// SHA-256, hex (some drives).
    pub sha256_hash: Option<String>,
}

/// One page of a delta query.
#[derive(Debug, Default, Deserialize)]
pub struct DeltaPage {
    /// Items, each kept as JSON so one unreadable item does not lose the page.
    #[serde(default)]
    pub value: Vec<Value>,
    /// The next page of this round.
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// The link for changes after this round (on the last page only).
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}
