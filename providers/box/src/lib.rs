//! The `box` provider: the files of a Box account (or of one folder in it), listed folder by
//! folder and kept current through Box's events stream.
//!
//! Modules: `listing` (the full listing) and `walk` (the folder walk it and the change feed
//! share), `events` (the change feed), `entries` (items as entries), `fetch` (download plans
//! and failure consultation), `api` (requests and the one error mapping), `model` (Box's
//! JSON), `settings` (config keys).

mod api;
mod entries;
mod events;
mod fetch;
mod listing;
mod model;
mod settings;
mod walk;

use p8sync_provider_sdk::Provider;
use p8sync_provider_sdk::types::{AuthMethod, Capability, ChangePage, Entry, FetchPlan};
use p8sync_provider_sdk::types::{ListRequest, Oauth2Spec, Page, ProviderError, ProviderInfo};
use settings::Settings;

struct BoxProvider;

impl Provider for BoxProvider {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "box".into(),
            display_name: "Box".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files in a Box account, or in one folder of it, kept current through \
                          Box's events stream."
                .into(),
            api_hosts: vec!["api.box.com".into()],
            // `/files/{id}/content` answers 302 to a pre-authenticated URL on
            // `dl.boxcloud.com` (regional and public variants are other `*.boxcloud.com`
            // names); it is fetched without Authorization.
            plain_hosts: vec!["*.boxcloud.com".into()],
            auth: AuthMethod::Oauth2(Oauth2Spec {
                authorize_url: "https://account.box.com/api/oauth2/authorize".into(),
                token_url: "https://api.box.com/oauth2/token".into(),
                revoke_url: Some("https://api.box.com/oauth2/revoke".into()),
                // Box grants the scopes set on the app in its developer console; asking for
                // read-only access to everything keeps the consent to what a sync needs.
                scopes: vec!["root_readonly".into()],
                extra_authorize_params: vec![],
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
        events::start_cursor(&settings)
    }

    fn changes(cursor: String) -> Result<ChangePage, ProviderError> {
        let settings = Settings::load()?;
        events::changes(&cursor, &settings)
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let settings = Settings::load()?;
        let failure = p8sync_provider_sdk::fetch::consultation(&entry);
        fetch::plan(&entry, &settings, failure)
    }
}

p8sync_provider_sdk::export_provider!(BoxProvider);
