//! The `onedrive` provider: a OneDrive (personal or business) or SharePoint document library,
//! read through Microsoft Graph's delta query.
//!
//! Modules: `delta` (the listing and the change feed, both delta rounds), `tree` (folder paths
//! from parent ids), `entries` (drive items as entries), `fetch` (download plans and failure
//! consultation), `api` (requests and the one error mapping), `model` (Graph's JSON),
//! `settings` (config keys).

mod api;
mod delta;
mod entries;
mod fetch;
mod model;
mod settings;
mod tree;

use p8sync_provider_sdk::Provider;
use p8sync_provider_sdk::types::{AuthMethod, Capability, ChangePage, Entry, FetchPlan};
use p8sync_provider_sdk::types::{ListRequest, Oauth2Spec, Page, ProviderError, ProviderInfo};
use settings::Settings;

struct OneDrive;

impl Provider for OneDrive {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "onedrive".into(),
            display_name: "OneDrive".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files in a OneDrive (personal or work/school) or a SharePoint document \
                          library, through Microsoft Graph."
                .into(),
            api_hosts: vec!["graph.microsoft.com".into()],
            // `/content` answers 302 to a short-lived pre-authenticated URL, fetched without
            // Authorization (one that keeps it gets 401 there: OneDrive/onedrive-api-docs#1901):
            // work/school drives and SharePoint serve from `<tenant>[-my].sharepoint.com`
            // (`_layouts/15/download.aspx?tempauth=...`); personal drives from
            // `my.microsoftpersonalcontent.com` (since 2024) and before that from
            // `*.files.1drv.com` (also seen as other `*.1drv.com` names) and the older
            // `*.livefilestore.com`.
            plain_hosts: vec![
                "*.sharepoint.com".into(),
                "my.microsoftpersonalcontent.com".into(),
                "*.1drv.com".into(),
                "*.livefilestore.com".into(),
            ],
            auth: AuthMethod::Oauth2(Oauth2Spec {
                authorize_url: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize"
                    .into(),
                token_url: "https://login.microsoftonline.com/common/oauth2/v2.0/token".into(),
                // The Microsoft identity platform has no RFC 7009 revocation endpoint.
                revoke_url: None,
                // offline_access is what makes the token endpoint return a refresh token.
                scopes: vec![
                    "offline_access".into(),
                    "Files.Read.All".into(),
                    "User.Read".into(),
                ],
                extra_authorize_params: vec![],
            }),
            capabilities: vec![Capability::ChangesFeed, Capability::RangedFetch],
            config_keys: settings::config_keys(),
        }
    }

    fn list(request: ListRequest) -> Result<Page, ProviderError> {
        let settings = Settings::load()?;
        delta::list(&request, &settings)
    }

    fn start_cursor() -> Result<String, ProviderError> {
        let settings = Settings::load()?;
        delta::start_cursor(&settings)
    }

    fn changes(cursor: String) -> Result<ChangePage, ProviderError> {
        let settings = Settings::load()?;
        delta::changes(&cursor, &settings)
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let settings = Settings::load()?;
        let failure = p8sync_provider_sdk::fetch::consultation(&entry);
        fetch::plan(&entry, &settings, failure)
    }
}

p8sync_provider_sdk::export_provider!(OneDrive);
