//! The `webdav` provider: files on any RFC 4918 WebDAV server (Nextcloud, ownCloud, Apache
//! mod_dav, nginx, rclone), signed in with HTTP Basic (a username and an app password the user
//! stores with `p8sync auth set webdav`).
//!
//! The server is the operator's choice (`P8_WEBDAV_API_BASE`), so the provider declares no API
//! host of its own: the host puts that base on the credentialed allow-list. There is no change
//! feed in plain WebDAV; each sync lists the tree again and the host diffs by ETag, which also
//! notices deletions.
//!
//! Modules: `listing` (the breadth-first PROPFIND walk and its cursor), `fetch` (download
//! plans and failures), `api` (PROPFIND and the one error mapping), `multistatus` (the 207
//! XML), `entries` (resources as entries), `paths` (hrefs and ids), `httpdate` (dates),
//! `settings` (config keys).

mod api;
mod entries;
mod fetch;
mod httpdate;
mod listing;
mod multistatus;
mod paths;
mod settings;

use p8sync_provider_sdk::Provider;
use p8sync_provider_sdk::types::{AuthMethod, Capability, ChangePage, Entry, FetchPlan};
use p8sync_provider_sdk::types::{ListRequest, Page, ProviderError, ProviderInfo};
use settings::Settings;

struct WebDav;

impl Provider for WebDav {
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: "webdav".into(),
            display_name: "WebDAV".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files on a WebDAV server (Nextcloud, ownCloud or any RFC 4918 \
                          server) at the address the operator sets with P8_WEBDAV_API_BASE."
                .into(),
            // The server is the operator's P8_WEBDAV_API_BASE, which the host allows (with the
            // credential) on its own; there is no fixed host to declare.
            api_hosts: vec![],
            plain_hosts: vec![],
            auth: AuthMethod::Basic,
            // Range: RFC 4918 servers serve GET as ordinary HTTP resources, and the common
            // ones (Apache, nginx, SabreDAV, rclone) answer it with 206.
            capabilities: vec![Capability::RangedFetch],
            config_keys: settings::config_keys(),
        }
    }

    fn list(request: ListRequest) -> Result<Page, ProviderError> {
        let settings = Settings::load()?;
        listing::list(&request, &settings)
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Err(no_feed())
    }

    fn changes(_cursor: String) -> Result<ChangePage, ProviderError> {
        Err(no_feed())
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let settings = Settings::load()?;
        let failure = p8sync_provider_sdk::fetch::consultation(&entry);
        fetch::plan(&entry, &settings, failure)
    }
}

fn no_feed() -> ProviderError {
    ProviderError::Permanent(
        "WebDAV has no change feed; the host lists the tree again instead (the provider does \
         not declare changes-feed)"
            .into(),
    )
}

p8sync_provider_sdk::export_provider!(WebDav);
