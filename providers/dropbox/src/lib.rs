//! The `dropbox` provider: a Dropbox account, or one folder of it, read through the Dropbox
//! API v2.
//!
//! * Listing is `files/list_folder` (recursive) and `files/list_folder/continue`.
//! * The change feed is the same cursor: `start-cursor` is `files/list_folder/get_latest_cursor`
//!   and `changes` continues from it. Dropbox reports a deletion by *path* only (a deleted
//!   entry has no `id`), while entries, and so the host's records, are keyed by Dropbox's `id`
//!   (stable across renames and moves). The change cursor therefore carries a map from
//!   `path_lower` to `id` for every file under the root, built when the cursor is made and kept
//!   up to date by each `changes` call, so a deleted path (or a deleted folder: everything
//!   under it) is reported as the ids that were there. Removals are held back until the feed
//!   is drained, so a file that was moved (deleted at the old path, listed at the new one) is
//!   not reported removed. An account too large for the map to fit in a cursor gets a cursor
//!   without it; a deletion then answers `cursor-expired`, and the host finds what is gone by
//!   listing everything again (correct, just slower).
//! * Downloads are `files/download` plans with the id in `Dropbox-API-Arg`; the host verifies
//!   the bytes against `content_hash`.
//! * `api_base` (the operator's `P8_DROPBOX_API_BASE`) replaces *both* `https://api.dropboxapi.com`
//!   and `https://content.dropboxapi.com`: a test server serves the RPC and content endpoints
//!   on one origin. It is the origin only (`http://127.0.0.1:8080`); a trailing `/2` is ignored.
//!
//! Modules: `api` (requests and the one error mapping), `listing`, `changes` (the feed and its
//! path map), `fetch` (download plans, failure consultation, header escaping), `entries`
//! (Dropbox metadata as entries), `model` (the API's JSON), `settings` (config keys).

mod api;
mod changes;
mod entries;
mod fetch;
mod listing;
mod model;
mod settings;

use p8sync_provider_sdk::Provider;
use p8sync_provider_sdk::types::{AuthMethod, Capability, ChangePage, Entry, FetchPlan};
use p8sync_provider_sdk::types::{ListRequest, Oauth2Spec, Page, ProviderError, ProviderInfo};
use settings::Settings;

/// The scopes this provider asks for: read metadata and content, and the account's name.
pub const SCOPES: [&str; 3] = [
    "files.metadata.read",
    "files.content.read",
    "account_info.read",
];

struct Dropbox;

impl Provider for Dropbox {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "dropbox".into(),
            display_name: "Dropbox".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files in a Dropbox account, or in one folder of it, kept up to date \
                          through Dropbox's list_folder cursor."
                .into(),
            api_hosts: vec!["api.dropboxapi.com".into(), "content.dropboxapi.com".into()],
            plain_hosts: vec![],
            auth: AuthMethod::Oauth2(Oauth2Spec {
                authorize_url: "https://www.dropbox.com/oauth2/authorize".into(),
                token_url: "https://api.dropboxapi.com/oauth2/token".into(),
                // Dropbox revokes with an authenticated RPC call, not RFC 7009.
                revoke_url: None,
                scopes: SCOPES.iter().map(|s| s.to_string()).collect(),
                // Dropbox only issues a refresh token for offline access.
                extra_authorize_params: vec![("token_access_type".into(), "offline".into())],
            }),
            capabilities: vec![Capability::ChangesFeed, Capability::RangedFetch],
            config_keys: settings::config_keys(),
        }
    }

    fn list(request: ListRequest) -> Result<Page, ProviderError> {
        let settings = Settings::load()?;
        listing::list(&request, &settings)
    }

    fn start_cursor() -> Result<String, ProviderError> {
        let settings = Settings::load()?;
        changes::start_cursor(&settings)
    }

    fn changes(cursor: String) -> Result<ChangePage, ProviderError> {
        let settings = Settings::load()?;
        changes::changes(&cursor, &settings)
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let settings = Settings::load()?;
        let failure = p8sync_provider_sdk::fetch::consultation(&entry);
        fetch::plan(&entry, &settings, failure)
    }
}

p8sync_provider_sdk::export_provider!(Dropbox);
