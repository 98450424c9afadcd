//! The provider's configuration keys, read and checked once per call.

use p8sync_provider_sdk::config;
use p8sync_provider_sdk::types::{ConfigKey, ProviderError};

/// Dropbox's ceiling for `limit` in `files/list_folder`.
pub const MAX_PAGE_SIZE: u32 = 2000;

/// The real RPC endpoint origin.
const RPC_ORIGIN: &str = "https://api.dropboxapi.com";
/// The real content (download) endpoint origin.
const CONTENT_ORIGIN: &str = "https://content.dropboxapi.com";

/// Everything the provider reads from its configuration, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Origin of the RPC endpoints (`/2/files/list_folder`, ...).
    pub rpc_origin: String,
    /// Origin of the content endpoints (`/2/files/download`).
    pub content_origin: String,
    /// The folder to sync, as Dropbox takes it: `""` for the whole account, else `/Folder/Sub`.
    pub root_path: String,
    /// `limit` for list_folder pages.
    pub page_size: u32,
}

impl Settings {
    /// Read and check the configuration.
    pub fn load() -> Result<Self, ProviderError> {
        let page_size =
            config::get_u32_in("page_size", 1..=MAX_PAGE_SIZE)?.unwrap_or(MAX_PAGE_SIZE);
        let (rpc_origin, content_origin) = origins(config::get("api_base").as_deref());
        Ok(Settings {
            rpc_origin,
            content_origin,
            root_path: root_path(config::get("root_path").as_deref())?,
            page_size,
        })
    }
}

/// The RPC and content origins: the real ones, or the operator's one origin for both.
pub fn origins(api_base: Option<&str>) -> (String, String) {
    match api_base.map(str::trim).filter(|b| !b.is_empty()) {
        None => (RPC_ORIGIN.to_string(), CONTENT_ORIGIN.to_string()),
        Some(base) => {
            let base = base.trim_end_matches('/');
            // Paths here start with `/2/`; tolerate an override that already ends with it.
            let base = base.strip_suffix("/2").unwrap_or(base).to_string();
            (base.clone(), base)
        }
    }
}

/// `root_path` as Dropbox takes it: `""` for the whole account, else `/A/B` (no trailing `/`).
pub fn root_path(value: Option<&str>) -> Result<String, ProviderError> {
    let Some(text) = value.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(String::new());
    };
    if text.starts_with("id:") || text.starts_with("ns:") {
        // Dropbox accepts a folder id (or namespace) wherever it takes a path.
        return Ok(text.to_string());
    }
    let parts: Vec<&str> = text.split('/').filter(|p| !p.is_empty()).collect();
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(ProviderError::InvalidConfig(format!(
            "root_path `{text:.200}` may not contain `.` or `..`; give a folder path like /Work/Reports"
        )));
    }
    if parts.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("/{}", parts.join("/")))
}

/// The documented configuration keys, for `info()`.
pub fn config_keys() -> Vec<ConfigKey> {
    let key = config::optional_key;
    vec![
        key(
            "root_path",
            "The Dropbox folder to sync, e.g. \"/Work/Reports\" (case-insensitive, as in Dropbox), \
             or a folder id (\"id:...\"); empty or unset syncs the whole account. Entry paths \
             are relative to it.",
        ),
        key(
            "page_size",
            "Entries per list_folder page (Dropbox's `limit`), 1 to 2000 (default 2000). \
             Dropbox may return fewer.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_paths_are_normalised() {
        assert_eq!(root_path(None).unwrap(), "");
        assert_eq!(root_path(Some("  ")).unwrap(), "");
        assert_eq!(root_path(Some("/")).unwrap(), "");
        assert_eq!(root_path(Some("Work/Reports/")).unwrap(), "/Work/Reports");
        assert_eq!(root_path(Some("//Work//x")).unwrap(), "/Work/x");
        assert_eq!(root_path(Some("id:abc")).unwrap(), "id:abc");
        assert!(matches!(
            root_path(Some("/a/../b")),
            Err(ProviderError::InvalidConfig(_))
        ));
    }

    #[test]
    fn one_override_serves_both_origins() {
        let (rpc, content) = origins(None);
        assert_eq!(rpc, "https://api.dropboxapi.com");
        assert_eq!(content, "https://content.dropboxapi.com");
        for base in [
            "http://127.0.0.1:9/",
            "http://127.0.0.1:9/2",
            "http://127.0.0.1:9",
        ] {
            assert_eq!(
                origins(Some(base)),
                ("http://127.0.0.1:9".into(), "http://127.0.0.1:9".into())
            );
        }
    }
}
