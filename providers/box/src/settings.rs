//! The provider's configuration keys, read and checked once per call.

use p8sync_provider_sdk::config;
use p8sync_provider_sdk::types::{ConfigKey, ProviderError};

/// Box's API 2.0, used unless the operator sets `P8_BOX_API_BASE`.
pub const DEFAULT_BASE: &str = "https://api.box.com/2.0";
/// Box's most items per folder page (`limit`).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Box's most events per events page (`limit`).
pub const MAX_EVENTS: u32 = 500;
/// The id of the account's root folder ("All Files").
pub const ROOT_ID: &str = "0";

/// Everything the provider reads from its configuration, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API base URL without a trailing slash.
    pub base: String,
    /// The folder whose tree is synced (`0`, the whole account, by default).
    pub root: String,
    /// Items per folder page, when the configuration sets it.
    pub page_size: Option<u32>,
}

impl Settings {
    /// Read and check the configuration.
    pub fn load() -> Result<Self, ProviderError> {
        let root = match config::get("folder_id").map(|f| f.trim().to_string()) {
            None => ROOT_ID.to_string(),
            Some(id) if valid_id(&id) => id,
            Some(id) => {
                return Err(ProviderError::InvalidConfig(format!(
                    "folder_id must be a Box folder id (digits, as in the folder's web address \
                     app.box.com/folder/<id>), not `{id:.60}`; leave it out to sync the whole \
                     account"
                )));
            }
        };
        Ok(Settings {
            base: config::api_base(DEFAULT_BASE),
            root,
            page_size: config::get_u32_in("page_size", 1..=MAX_PAGE_SIZE)?,
        })
    }
}

/// Box ids are decimal numbers in strings; anything else would change the request path.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 40 && id.bytes().all(|b| b.is_ascii_digit())
}

/// The documented configuration keys, for `info()`.
pub fn config_keys() -> Vec<ConfigKey> {
    vec![
        config::optional_key(
            "folder_id",
            "The id of the Box folder to sync with everything below it (the number at the end \
             of its web address, app.box.com/folder/<id>). Default: 0, the whole account.",
        ),
        config::optional_key(
            "page_size",
            "Items per folder page, 1 to 1000. Default: the host's page size hint.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(valid_id("0"));
        assert!(valid_id("123456789012"));
        for bad in ["", "a1", "1/2", "../0", " 1", "1".repeat(41).as_str()] {
            assert!(!valid_id(bad), "{bad}");
        }
    }
}
