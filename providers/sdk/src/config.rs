//! Configuration values: `SyncConfig.provider_config` plus operator settings (which win).

use crate::p8::provider::host;
use crate::types::{ConfigKey, ProviderError};

/// One value, or `None` when it is not set. Non-string JSON values arrive as JSON text.
pub fn get(key: &str) -> Option<String> {
    host::config_get(key)
}

/// A value that must be set; the error names the key.
pub fn require(key: &str) -> Result<String, ProviderError> {
    get(key).ok_or_else(|| {
        ProviderError::InvalidConfig(format!("the provider_config key `{key}` is required"))
    })
}

/// A boolean value (`true`/`false`), or `default` when the key is not set.
pub fn get_bool(key: &str, default: bool) -> Result<bool, ProviderError> {
    match get(key).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ProviderError::InvalidConfig(format!(
            "the provider_config key `{key}` must be true or false, not `{other}`"
        ))),
    }
}

/// A value parsed with `FromStr` (numbers, mostly), or `None` when it is not set; a value that
/// does not parse is `invalid-config` naming the key and the expected kind.
pub fn get_parsed<T: std::str::FromStr>(key: &str, kind: &str) -> Result<Option<T>, ProviderError> {
    match get(key) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            ProviderError::InvalidConfig(format!(
                "the provider_config key `{key}` must be {kind}, not `{text}`"
            ))
        }),
    }
}

/// A whole number within `range` (a page size, mostly), or `None` when the key is not set; any
/// other value is `invalid-config` naming the key and the range.
pub fn get_u32_in(
    key: &str,
    range: std::ops::RangeInclusive<u32>,
) -> Result<Option<u32>, ProviderError> {
    let Some(text) = get(key) else {
        return Ok(None);
    };
    match text.trim().parse::<u32>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(ProviderError::InvalidConfig(format!(
            "{key} must be a whole number from {} to {}, not `{text:.40}`",
            range.start(),
            range.end()
        ))),
    }
}

/// The API base URL: the operator's override (`P8_<PROVIDER>_API_BASE`) or `default`.
pub fn api_base(default: &str) -> String {
    get("api_base")
        .unwrap_or_else(|| default.to_string())
        .trim_end_matches('/')
        .to_string()
}

/// A documented key a sync config may leave out, for `info().config_keys`.
pub fn optional_key(name: &str, description: impl Into<String>) -> ConfigKey {
    ConfigKey {
        name: name.into(),
        description: description.into(),
        required: false,
    }
}

/// All values, sorted by key.
pub fn entries() -> Vec<(String, String)> {
    host::config_entries()
}
