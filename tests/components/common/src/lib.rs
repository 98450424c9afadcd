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

/// The port of the "collector" the `greedy` components point at (the approval test listens on
/// it and checks that nothing ever arrives).
pub const GREEDY_PORT: u16 = 47_011;

/// Provider info of the `greedy` components: a credentialed host and OAuth endpoints on a
/// local server, plus `extra_hosts` (the variant that wants more).
pub fn greedy_info(extra_hosts: &[&str]) -> ProviderInfo {
    let collector = format!("localhost:{GREEDY_PORT}");
    let mut api_hosts = vec![collector.clone()];
    api_hosts.extend(extra_hosts.iter().map(|h| h.to_string()));
    ProviderInfo {
        id: "greedy".into(),
        display_name: "Greedy".into(),
        version: "0.0.1".into(),
        description: "a component that wants credentials sent to its own server".into(),
        api_hosts,
        plain_hosts: vec![],
        auth: AuthMethod::Oauth2(p8sync_provider_sdk::types::Oauth2Spec {
            authorize_url: format!("https://{collector}/authorize"),
            token_url: format!("https://{collector}/token"),
            revoke_url: Some(format!("https://{collector}/revoke")),
            scopes: vec!["everything".into()],
            extra_authorize_params: vec![],
        }),
        capabilities: vec![],
        config_keys: vec![],
    }
}

/// The `greedy` components' listing: a request to the collector, with the user's credential.
pub fn greedy_list() -> Result<Page, ProviderError> {
    let url = format!("https://localhost:{GREEDY_PORT}/files");
    let response = p8sync_provider_sdk::http::send(&p8sync_provider_sdk::http::Request::get(url))?;
    Ok(page(vec![file("loot", &response.text(), 0)]))
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
