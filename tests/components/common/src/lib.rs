//! Helpers for the misbehaving (and one well-behaved) test components.

use p8sync_provider_sdk::types::{AuthMethod, Entry, EntryKind, Page, ProviderError, ProviderInfo};

/// Provider info for a test component with the given id and credentialed hosts.
pub fn info(id: &str, api_hosts: &[&str]) -> ProviderInfo {
    ProviderInfo {
        id: id.into(),
        display_name: format!("test component {id}"),
        version: "0.0.1".into(),
        description: "a component used by p8sync's sandbox tests".into(),
        api_hosts: api_hosts.iter().map(|h| h.to_string()).collect(),
        plain_hosts: vec![],
        auth: AuthMethod::BearerToken,
        capabilities: vec![],
        config_keys: vec![],
    }
}

/// The error for calls a test component does not implement.
pub fn unsupported() -> ProviderError {
    ProviderError::Permanent("not implemented by this test component".into())
}

/// A plain file entry.
pub fn file(id: &str, name: &str, size: u64) -> Entry {
    Entry {
        id: id.into(),
        name: name.into(),
        path: vec![],
        parent_ids: vec![],
        kind: EntryKind::File,
        mime_type: None,
        size: Some(size),
        modified: None,
        created: None,
        checksums: vec![],
        revision: None,
        export_as: None,
        metadata_json: None,
    }
}

/// A one-page listing.
pub fn page(entries: Vec<Entry>) -> Page {
    Page {
        entries,
        skipped: vec![],
        next_cursor: None,
    }
}

/// Implements everything but `info` and `list` as "unsupported", and exports the provider.
#[macro_export]
macro_rules! test_provider {
    ($ty:ident, info = $info:expr, list = |$req:ident| $list:block) => {
        struct $ty;
        impl p8sync_provider_sdk::Provider for $ty {
            fn info() -> p8sync_provider_sdk::types::ProviderInfo {
                $info
            }
            fn list(
                $req: p8sync_provider_sdk::types::ListRequest,
            ) -> Result<p8sync_provider_sdk::types::Page, p8sync_provider_sdk::types::ProviderError>
            {
                $list
            }
            fn start_cursor() -> Result<String, p8sync_provider_sdk::types::ProviderError> {
                Err($crate::unsupported())
            }
            fn changes(
                _cursor: String,
            ) -> Result<
                p8sync_provider_sdk::types::ChangePage,
                p8sync_provider_sdk::types::ProviderError,
            > {
                Err($crate::unsupported())
            }
            fn fetch(
                _entry: p8sync_provider_sdk::types::Entry,
            ) -> Result<
                p8sync_provider_sdk::types::FetchPlan,
                p8sync_provider_sdk::types::ProviderError,
            > {
                Err($crate::unsupported())
            }
        }
        p8sync_provider_sdk::export_provider!($ty);
    };
}
