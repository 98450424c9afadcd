//! The `example` provider: the template a new provider starts from.
//!
//! It syncs a tiny JSON files API, the shape most storage APIs share:
//!
//! * `GET {api_base}/files?limit=N[&cursor=C][&folder=PATH&recursive=BOOL]` answers
//!   `{"files": [{"id", "name", "folder", "size", "sha256", "modified"}], "next": "C2" | null}`;
//! * `GET {api_base}/files/{id}/content` answers the file's bytes;
//! * errors are `{"error": {"code", "message"}}` with the usual statuses (401 for a bad token,
//!   404, 429 with `Retry-After`, 5xx).
//!
//! To write your own provider, copy this crate and change, in this order: `ID` and the other
//! constants below, `info()`, `model.rs` (your service's JSON and how it becomes entries) and
//! `api.rs` (your service's requests and its error mapping). `docs/writing-a-provider.md` walks
//! through it.
//!
//! Modules: `api` (requests and the one error mapping), `model` (the API's JSON as entries).

mod api;
mod model;

use p8sync_provider_sdk::types::{
    AuthMethod, ChangePage, Entry, FetchPlan, ListRequest, Page, ProviderError, ProviderInfo,
};
use p8sync_provider_sdk::{Provider, config, fetch};

/// CHANGE ME: the provider's id, lower-case `[a-z0-9_]`. Sync configs name it, and the operator
/// overrides its API base with `P8_<ID>_API_BASE` (here `P8_EXAMPLE_API_BASE`).
const ID: &str = "example";

/// CHANGE ME: the service's API host; the host adds the user's token to requests to it.
const API_HOST: &str = "api.example.com";

/// CHANGE ME: the API's base URL (an operator may override it, for example with a local fake).
const DEFAULT_API_BASE: &str = "https://api.example.com/v1";

struct Example;

impl Provider for Example {
    /// Describe the provider: cheap, deterministic, no network.
    fn info() -> ProviderInfo {
        ProviderInfo {
            id: ID.into(),
            display_name: "Example files API".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Files of the example JSON files API (the p8sync provider template)."
                .into(),
            // Requests to these hosts carry the user's credential, added by the host.
            api_hosts: vec![API_HOST.into()],
            // Hosts reached without credentials, for example a CDN serving signed download URLs.
            plain_hosts: vec![],
            // CHANGE ME: `Oauth2(..)` for OAuth services, `Basic` for username and password.
            auth: AuthMethod::BearerToken,
            // Add `Capability::ChangesFeed` once start_cursor and changes are implemented.
            capabilities: vec![],
            config_keys: vec![config::optional_key(
                api::MAX_PAGE_SIZE_KEY,
                format!(
                    "The most files asked for per request (1-{}, default {}).",
                    api::SERVICE_MAX_PAGE_SIZE,
                    api::SERVICE_MAX_PAGE_SIZE
                ),
            )],
        }
    }

    /// One page of files. The cursor carries the API's `next` token; nothing else survives
    /// between calls (each runs in a fresh instance).
    fn list(request: ListRequest) -> Result<Page, ProviderError> {
        api::Api::new(DEFAULT_API_BASE)?.list(&request)
    }

    /// The example API has no change feed, so `info` does not declare `changes-feed` and the
    /// host never calls this. A service with one returns its "now" token here.
    fn start_cursor() -> Result<String, ProviderError> {
        Err(no_change_feed())
    }

    /// See `start_cursor`: one page of changes since the cursor, with `has_more`.
    fn changes(_cursor: String) -> Result<ChangePage, ProviderError> {
        Err(no_change_feed())
    }

    /// How the host downloads a file: a GET it performs itself, streaming the body into object
    /// storage and checking it against the entry's size and sha256.
    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        fetch::only_files(&entry, &entry.id)?;
        // When the host's download failed, it asks again and says why: map that onto an error
        // (or return another plan, if the service offers one).
        if let Some(failure) = fetch::consultation(&entry) {
            let what = format!("downloading `{}`", entry.id);
            return Err(failure.explain(&what, api::map_status));
        }
        Ok(fetch::http_get(
            api::Api::new(DEFAULT_API_BASE)?.content_url(&entry.id),
        ))
    }
}

fn no_change_feed() -> ProviderError {
    ProviderError::Permanent(format!("the `{ID}` provider has no change feed"))
}

p8sync_provider_sdk::export_provider!(Example);
