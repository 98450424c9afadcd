//! The provider's configuration keys, read and checked once per call.

use p8sync_provider_sdk::config;
use p8sync_provider_sdk::types::{ConfigKey, ProviderError};

/// Graph's v1.0 endpoint, used unless the operator sets `P8_ONEDRIVE_API_BASE`.
pub const DEFAULT_BASE: &str = "https://graph.microsoft.com/v1.0";
/// Most items asked for per delta page (`$top`); Graph may return fewer.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Everything the provider reads from its configuration, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API base URL without a trailing slash.
    pub base: String,
    /// The drive's path below the base: `/me/drive` or `/drives/{id}`.
    pub drive: String,
    /// `$top` for delta pages, when the configuration sets one.
    pub page_size: Option<u32>,
}

impl Settings {
    /// Read and check the configuration.
    pub fn load() -> Result<Self, ProviderError> {
        let drive = match config::get("drive_id").map(|d| d.trim().to_string()) {
            None => "/me/drive".to_string(),
            Some(id) if valid_drive_id(&id) => format!("/drives/{id}"),
            Some(id) => {
                return Err(ProviderError::InvalidConfig(format!(
                    "drive_id must be a Graph drive id (letters, digits, `!`, `-`, `_`), not \
                     `{id:.60}`; leave it out to sync the signed-in user's own OneDrive"
                )));
            }
        };
        let page_size = config::get_u32_in("page_size", 1..=MAX_PAGE_SIZE)?;
        Ok(Settings {
            base: config::api_base(DEFAULT_BASE),
            drive,
            page_size,
        })
    }
}

/// Drive ids are opaque but URL-safe (`b!` plus base64url for business drives, hex for
/// personal ones); anything else would change the request path.
fn valid_drive_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'!' | b'-' | b'_'))
}

/// The documented configuration keys, for `info()`.
pub fn config_keys() -> Vec<ConfigKey> {
    vec![
        config::optional_key(
            "drive_id",
            "The Graph id of the drive to sync (a SharePoint document library or another drive \
             the account can read). Default: the signed-in user's own OneDrive (/me/drive).",
        ),
        config::optional_key(
            "page_size",
            "Items per delta page ($top), 1 to 1000. Default: the host's page size hint.",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drive_ids() {
        assert!(valid_drive_id(
            "b!k1Gww4c-DkSAccxcKscnG4u5nMfgLoRGoR0DLjxtEAepix2YOnQqS7olNC6DibFg"
        ));
        assert!(valid_drive_id("0123456789abcdef"));
        for bad in ["", "a/b", "x?y", "../me", "a b"] {
            assert!(!valid_drive_id(bad), "{bad}");
        }
    }
}
