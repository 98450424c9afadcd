//! The `google_drive` provider: My Drive and every shared drive, read through the Drive API v3.
//!
//! Google Workspace files (Docs, Sheets, Slides, Drawings) are exported to the formats chosen in
//! `export_formats`; types without an export (Forms, Sites, ...) are skipped with a reason.
//! Shortcuts are followed: a shortcut to a file becomes an entry at the shortcut's place, and
//! a shortcut to a folder is walked there unless that folder is already part of the listing.
//!
//! Modules: `listing` (the batched breadth-first walk and its cursor), `changes` (the change
//! feed), `fetch` (download and export plans, and failure consultation), `api` (requests and
//! the one error mapping), `entries` (Drive files as entries), `export` (formats), `scope` and
//! `tree` (include folders and ancestry), `model` (the API's JSON), `settings` (config keys).

mod api;
mod changes;
mod entries;
mod export;
mod fetch;
mod listing;
mod model;
mod scope;
mod settings;
mod tree;

use p8sync_provider_sdk::Provider;
use p8sync_provider_sdk::types::{AuthMethod, Capability, ChangePage, Entry, FetchPlan};
use p8sync_provider_sdk::types::{ListRequest, Oauth2Spec, Page, ProviderError, ProviderInfo};
use settings::Settings;

struct GoogleDrive;

impl Provider for GoogleDrive {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "google_drive".into(),
            display_name: "Google Drive".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files in My Drive and shared drives; Google Docs, Sheets, Slides and \
                          Drawings are exported to Office, PDF or text formats."
                .into(),
            // Export links (used past the 10 MB export cap) are on docs.google.com.
            api_hosts: vec!["www.googleapis.com".into(), "docs.google.com".into()],
            plain_hosts: vec![],
            auth: AuthMethod::Oauth2(Oauth2Spec {
                authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
                token_url: "https://oauth2.googleapis.com/token".into(),
                revoke_url: Some("https://oauth2.googleapis.com/revoke".into()),
                scopes: vec![api::SCOPE.into()],
                // Without offline access and a consent screen Google issues no refresh token.
                extra_authorize_params: vec![
                    ("access_type".into(), "offline".into()),
                    ("prompt".into(), "consent".into()),
                    ("include_granted_scopes".into(), "true".into()),
                ],
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
        let mut api = api::Api::new(&settings);
        api.start_page_token()
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

p8sync_provider_sdk::export_provider!(GoogleDrive);
