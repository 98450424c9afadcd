//! The provider's configuration keys, read and checked once per call.

use crate::export::ExportChoices;
use p8sync_provider_sdk::config;
use p8sync_provider_sdk::types::{ConfigKey, ProviderError};
use serde_json::Value;

/// Drive's own ceiling for `pageSize`.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Everything the provider reads from `provider_config`, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API base URL (operator override or the real Drive).
    pub base: String,
    /// List shared drives as well as My Drive.
    pub shared_drives: bool,
    /// Send `acknowledgeAbuse=true` on downloads.
    pub acknowledge_abuse: bool,
    /// The export format of each Workspace type.
    pub exports: ExportChoices,
    /// Folders (paths or ids) that limit the sync; empty means everything.
    pub include_folders: Vec<String>,
    /// `pageSize` for `files.list` and `changes.list`.
    pub page_size: u32,
}

impl Settings {
    /// Read and check the configuration.
    pub fn load() -> Result<Self, ProviderError> {
        let page_size =
            config::get_u32_in("page_size", 1..=MAX_PAGE_SIZE)?.unwrap_or(MAX_PAGE_SIZE);
        Ok(Settings {
            base: config::api_base("https://www.googleapis.com/drive/v3"),
            shared_drives: config::get_bool("include_shared_drives", true)?,
            acknowledge_abuse: config::get_bool("acknowledge_abuse", false)?,
            exports: ExportChoices::parse(config::get("export_formats").as_deref())?,
            include_folders: parse_folders(config::get("include_folders").as_deref())?,
            page_size,
        })
    }
}

/// `include_folders` as the host passes it: a JSON array of strings. A bare string is taken as
/// one folder, so a hand-written `--config include_folders=Work` also works.
fn parse_folders(value: Option<&str>) -> Result<Vec<String>, ProviderError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let items = match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        Ok(Value::String(s)) => vec![Value::String(s)],
        Ok(Value::Null) => Vec::new(),
        Ok(_) => {
            return Err(ProviderError::InvalidConfig(format!(
                "include_folders must be a JSON array of folder paths or ids, not `{text:.80}`"
            )));
        }
        Err(_) if !text.starts_with(['[', '{']) => vec![Value::String(text.to_string())],
        Err(e) => {
            return Err(ProviderError::InvalidConfig(format!(
                "include_folders is not valid JSON: {e}"
            )));
        }
    };
    let mut folders = Vec::new();
    for item in items {
        match item {
            Value::String(s) if !s.trim().trim_matches('/').trim().is_empty() => {
                folders.push(s.trim().to_string())
            }
            Value::String(_) => {
                return Err(ProviderError::InvalidConfig(
                    "include_folders holds an empty folder path; list folders like \
                     \"Work/Reports\" or folder ids"
                        .into(),
                ));
            }
            other => {
                return Err(ProviderError::InvalidConfig(format!(
                    "include_folders must hold strings (folder paths or ids), not `{other}`"
                )));
            }
        }
    }
    Ok(folders)
}

/// The documented configuration keys, for `info()`.
pub fn config_keys() -> Vec<ConfigKey> {
    let key = config::optional_key;
    vec![
        key(
            "include_shared_drives",
            "true (default) or false: also sync every shared drive the account is a member of, \
             under the path \"Shared drives/<drive name>\".",
        ),
        key(
            "export_formats",
            "JSON object choosing the export format of Google Workspace files, keyed by type \
             (document, spreadsheet, presentation, drawing, or the full \
             application/vnd.google-apps.* MIME type) with an export MIME type or short name as \
             the value, e.g. {\"document\": \"md\", \"spreadsheet\": \"csv\"}. Defaults: docx, \
             xlsx, pptx, pdf. Forms, Sites, My Maps and other types without an export are skipped.",
        ),
        key(
            "acknowledge_abuse",
            "true or false (default): download files Google has flagged as malware or spam \
             (sends acknowledgeAbuse=true); without it such files are reported as forbidden.",
        ),
        key(
            "include_folders",
            "JSON array of folders to sync instead of the whole account, each a path such as \
             \"Work/Reports\" (from My Drive, or \"Shared drives/<name>/...\"; names are \
             case-sensitive) or a folder id. Entries keep their full path. Set from the sync \
             config's include_folders.",
        ),
        key(
            "page_size",
            "Items per Drive API page for listings and the change feed, 1 to 1000 (default 1000).",
        ),
    ]
}
