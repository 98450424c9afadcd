//! Box's JSON: items (files, folders, web links), folder pages and events, read leniently
//! (every field optional), so that one odd item is left out with a reason instead of losing
//! its page.

use serde::Deserialize;
use serde_json::Value;

/// The fields the provider asks Box for on the items of a folder listing (Box returns only
/// what is asked, plus `type`, `id` and `etag`). The walk knows each folder's path, so the
/// listing leaves out `path_collection`, which would repeat it on every item.
pub const LIST_FIELDS: &str = "type,id,name,etag,sequence_id,size,sha1,file_version,item_status,\
                               created_at,modified_at,content_created_at,content_modified_at,\
                               parent";
/// The fields asked for when one item is looked up: the listing's and where the item is.
pub const ITEM_FIELDS: &str = "type,id,name,etag,sequence_id,size,sha1,file_version,item_status,\
                               created_at,modified_at,content_created_at,content_modified_at,\
                               parent,path_collection";

/// A file, folder or web link.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Item {
    /// `file`, `folder` or `web_link`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The id, a decimal number in a string.
    #[serde(default)]
    pub id: String,
    /// The name.
    pub name: Option<String>,
    /// Changes with every change to the item.
    pub etag: Option<String>,
    /// Grows with every change to the item (Box's order of its versions).
    pub sequence_id: Option<String>,
    /// Bytes (a folder's is the total below it).
    pub size: Option<i64>,
    /// SHA-1 of the current version's content, hex.
    pub sha1: Option<String>,
    /// The current version.
    pub file_version: Option<FileVersion>,
    /// `active`, `trashed` or `deleted`.
    pub item_status: Option<String>,
    /// When the item was created at Box.
    pub created_at: Option<String>,
    /// When the item last changed at Box.
    pub modified_at: Option<String>,
    /// When the content was created, as the uploading client said.
    pub content_created_at: Option<String>,
    /// When the content last changed, as the uploading client said.
    pub content_modified_at: Option<String>,
    /// The folder that holds the item.
    pub parent: Option<Mini>,
    /// The folders from the account's root down to the parent.
    pub path_collection: Option<PathCollection>,
}

impl Item {
    /// The name, or the id when there is none.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }

    /// Whether Box says the item is in the trash or gone.
    pub fn is_gone(&self) -> bool {
        matches!(self.item_status.as_deref(), Some("trashed" | "deleted"))
    }

    /// The sequence id as a number, when it is one.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence_id.as_deref()?.trim().parse().ok()
    }
}

/// A folder as other items refer to it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Mini {
    /// The id.
    #[serde(default)]
    pub id: String,
    /// The name.
    pub name: Option<String>,
}

/// `path_collection`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PathCollection {
    /// The folders, root first.
    #[serde(default)]
    pub entries: Vec<Mini>,
}

/// `file_version`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileVersion {
    /// The version's id.
    pub id: Option<String>,
}

/// One page of a folder's items (marker paging).
#[derive(Debug, Default, Deserialize)]
pub struct ItemsPage {
    /// Items, each kept as JSON so one unreadable item does not lose the page.
    #[serde(default)]
    pub entries: Vec<Value>,
    /// The marker for the next page; absent or empty on the last one.
    pub next_marker: Option<Value>,
}

impl ItemsPage {
    /// The next marker, when there is one.
    pub fn next(&self) -> Option<String> {
        match &self.next_marker {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// One page of the events stream.
#[derive(Debug, Default, Deserialize)]
pub struct EventsPage {
    /// Events, each kept as JSON so one unreadable event does not lose the page.
    #[serde(default)]
    pub entries: Vec<Value>,
    /// Where to continue from: a number or a string of digits (larger than a double holds).
    pub next_stream_position: Option<Value>,
}

/// One event.
#[derive(Debug, Default, Deserialize)]
pub struct Event {
    /// Unique per event; a repeated event has the same one.
    pub event_id: Option<String>,
    /// `ITEM_UPLOAD`, `ITEM_TRASH`, ...
    #[serde(default)]
    pub event_type: String,
    /// The item the event is about, as it was then.
    pub source: Option<Value>,
}

/// A stream position as digits: Box's positions outgrow a double, so they are never parsed as
/// one. `None` for anything but a non-negative integer.
pub fn position(value: &Value) -> Option<String> {
    let text = match value {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_digit()))
        .then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn positions_keep_every_digit() {
        let page: EventsPage =
            serde_json::from_str(r#"{"next_stream_position": 1152922976252290886}"#).unwrap();
        assert_eq!(
            position(page.next_stream_position.as_ref().unwrap()).as_deref(),
            Some("1152922976252290886")
        );
        assert_eq!(
            position(&json!("1152922976252290887")).as_deref(),
            Some("1152922976252290887")
        );
        for bad in [json!(-1), json!(1.5), json!("12a"), json!(""), json!(null)] {
            assert_eq!(position(&bad), None, "{bad}");
        }
    }

    #[test]
    fn markers() {
        let page: ItemsPage =
            serde_json::from_value(json!({"entries": [], "next_marker": ""})).unwrap();
        assert_eq!(page.next(), None);
        let page: ItemsPage =
            serde_json::from_value(json!({"entries": [], "next_marker": "JV9IRGZm"})).unwrap();
        assert_eq!(page.next().as_deref(), Some("JV9IRGZm"));
    }
}
