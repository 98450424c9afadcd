//! The Drive API v3 resources this provider reads, and the metadata it keeps on each entry.
//!
//! Every field is optional or defaulted: a response with a missing or oddly typed field must
//! degrade to a skipped entry or a clear error, never a failed deserialisation of a whole page.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// `application/vnd.google-apps.folder`.
pub const FOLDER_MIME: &str = "application/vnd.google-apps.folder";
/// `application/vnd.google-apps.shortcut`.
pub const SHORTCUT_MIME: &str = "application/vnd.google-apps.shortcut";
/// The prefix of every Google Workspace (and Drive-internal) type.
pub const GOOGLE_APPS_PREFIX: &str = "application/vnd.google-apps.";

/// The file fields listing and the change feed ask for.
pub const FILE_FIELDS: &str = "id,name,mimeType,parents,modifiedTime,createdTime,size,md5Checksum,\
sha1Checksum,sha256Checksum,headRevisionId,version,trashed,driveId,shortcutDetails,exportLinks,\
capabilities/canDownload";

/// A Drive file resource (folders and shortcuts are files too).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct File {
    /// The file id.
    pub id: String,
    /// The file's name (not unique within a folder).
    pub name: String,
    /// The MIME type; `application/vnd.google-apps.*` for folders, shortcuts and Workspace files.
    pub mime_type: String,
    /// The parent folder ids the caller can see.
    #[serde(deserialize_with = "string_list")]
    pub parents: Vec<String>,
    /// RFC 3339 content modification time.
    #[serde(deserialize_with = "lenient_string")]
    pub modified_time: Option<String>,
    /// RFC 3339 creation time.
    #[serde(deserialize_with = "lenient_string")]
    pub created_time: Option<String>,
    /// Size in bytes, an int64 sent as a string (absent on Workspace files).
    #[serde(deserialize_with = "lenient_string")]
    pub size: Option<String>,
    /// MD5 of the content, hex (binary files only).
    #[serde(deserialize_with = "lenient_string")]
    pub md5_checksum: Option<String>,
    /// SHA-1 of the content, hex (binary files only).
    #[serde(deserialize_with = "lenient_string")]
    pub sha1_checksum: Option<String>,
    /// SHA-256 of the content, hex (binary files only).
    #[serde(deserialize_with = "lenient_string")]
    pub sha256_checksum: Option<String>,
    /// The id of the current content revision (binary files only).
    #[serde(deserialize_with = "lenient_string")]
    pub head_revision_id: Option<String>,
    /// A number that grows on every change to the file, as a string.
    #[serde(deserialize_with = "lenient_string")]
    pub version: Option<String>,
    /// Whether the file is in the trash.
    #[serde(deserialize_with = "lenient_bool")]
    pub trashed: bool,
    /// The shared drive the file lives in, if any.
    #[serde(deserialize_with = "lenient_string")]
    pub drive_id: Option<String>,
    /// Set on shortcuts.
    #[serde(deserialize_with = "lenient_struct")]
    pub shortcut_details: Option<ShortcutDetails>,
    /// Export MIME type -> URL, on Workspace files.
    #[serde(deserialize_with = "string_map")]
    pub export_links: BTreeMap<String, String>,
    /// What the caller may do with the file.
    #[serde(deserialize_with = "lenient_struct")]
    pub capabilities: Option<Capabilities>,
}

impl File {
    /// Whether this is a folder.
    pub fn is_folder(&self) -> bool {
        self.mime_type == FOLDER_MIME
    }

    /// Whether this is a shortcut.
    pub fn is_shortcut(&self) -> bool {
        self.mime_type == SHORTCUT_MIME
    }

    /// The shortcut's target id, when this is a shortcut that has one.
    pub fn shortcut_target(&self) -> Option<&str> {
        self.shortcut_details
            .as_ref()?
            .target_id
            .as_deref()
            .filter(|t| !t.is_empty())
    }

    /// Whether Drive says the caller may not download (or export) it.
    pub fn download_blocked(&self) -> bool {
        self.capabilities.as_ref().and_then(|c| c.can_download) == Some(false)
    }
}

/// `shortcutDetails` of a shortcut.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ShortcutDetails {
    /// The id of the file or folder the shortcut points to.
    #[serde(deserialize_with = "lenient_string")]
    pub target_id: Option<String>,
    /// The target's MIME type, as recorded when the shortcut was made.
    #[serde(deserialize_with = "lenient_string")]
    pub target_mime_type: Option<String>,
}

/// The `capabilities` fields this provider asks for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Capabilities {
    /// Whether the caller may download the file (owners can forbid it for viewers).
    #[serde(deserialize_with = "lenient_opt_bool")]
    pub can_download: Option<bool>,
}

/// A `files.list` page. Files stay raw so one unreadable file is skipped, not the whole page.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FileList {
    /// The token for the next page; absent on the last page.
    #[serde(deserialize_with = "lenient_string")]
    pub next_page_token: Option<String>,
    /// The files on this page.
    #[serde(deserialize_with = "value_list")]
    pub files: Vec<Value>,
}

/// A `changes.list` page.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ChangeList {
    /// The token for the next page; absent on the last page.
    #[serde(deserialize_with = "lenient_string")]
    pub next_page_token: Option<String>,
    /// The token for future changes; only on the last page.
    #[serde(deserialize_with = "lenient_string")]
    pub new_start_page_token: Option<String>,
    /// The changes on this page, raw for the same reason as [`FileList::files`].
    #[serde(deserialize_with = "value_list")]
    pub changes: Vec<Value>,
}

/// One change of the feed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Change {
    /// `file` or `drive`.
    #[serde(deserialize_with = "lenient_string")]
    pub change_type: Option<String>,
    /// Whether the file was removed (deleted, or access lost).
    #[serde(deserialize_with = "lenient_bool")]
    pub removed: bool,
    /// The changed file's id.
    #[serde(deserialize_with = "lenient_string")]
    pub file_id: Option<String>,
    /// The file as it is now, when it was not removed (raw, parsed like a listed file).
    pub file: Option<Value>,
}

/// A `drives.list` page.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DriveList {
    /// The token for the next page; absent on the last page.
    #[serde(deserialize_with = "lenient_string")]
    pub next_page_token: Option<String>,
    /// The shared drives on this page.
    #[serde(deserialize_with = "lenient_list")]
    pub drives: Vec<Drive>,
}

/// A shared drive.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Drive {
    /// The drive id, which is also the id of its root folder.
    pub id: String,
    /// The drive's name.
    pub name: String,
}

/// `changes.getStartPageToken`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct StartPageToken {
    /// The token for "now".
    #[serde(deserialize_with = "lenient_string")]
    pub start_page_token: Option<String>,
}

/// What the provider stores in an entry's `metadata-json` and reads back in `fetch`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EntryMeta {
    /// The shared drive the file lives in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drive_id: Option<String>,
    /// Drive's `version` of the file (of the target, for a shortcut).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Drive's `headRevisionId` of the content.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_revision_id: Option<String>,
    /// For a shortcut: the id of the file whose bytes are fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// For a Workspace file: the `exportLinks` URL of the chosen format (used past the 10 MB
    /// export cap).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_link: Option<String>,
    /// `false` when the owner has disabled downloads for the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can_download: Option<bool>,
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    lenient_opt_bool(d).map(|b| b.unwrap_or(false))
}

fn lenient_opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) if s == "true" => Some(true),
        Value::String(s) if s == "false" => Some(false),
        _ => None,
    })
}

fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    })
}

fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k, s)),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    })
}

fn value_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items,
        _ => Vec::new(),
    })
}

fn lenient_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(value_list(d)?
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect())
}

fn lenient_struct<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Option<T>, D::Error> {
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

/// Parse one raw file; the error names what was wrong, for a skip reason.
pub fn parse_file(raw: Value) -> Result<File, String> {
    let file: File = serde_json::from_value(raw)
        .map_err(|e| format!("Drive sent file metadata that could not be read: {e}"))?;
    if file.id.is_empty() {
        return Err("Drive sent a file without an id".into());
    }
    Ok(file)
}

/// The id of a raw file, for naming it in a skip reason when it cannot be parsed.
pub fn raw_id(raw: &Value) -> String {
    raw.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("(no id)")
        .to_string()
}
