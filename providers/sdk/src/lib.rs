//! The p8sync provider SDK: everything a provider component needs besides its own logic.
//!
//! A provider implements [`Provider`] (the `p8:provider/provider` interface of
//! `wit/provider.wit`) and exports it with [`export_provider!`]. Every call runs in a fresh
//! instance, so state between pages lives in cursors. `docs/writing-a-provider.md` walks
//! through writing one, starting from `providers/template`.
//!
//! | module | what it gives a provider |
//! | --- | --- |
//! | [`types`] | the contract's records: `ProviderInfo`, `Entry`, `Page`, `ChangePage`, `FetchPlan`, `ProviderError`, ... |
//! | [`http`] | requests through the host's mediated `wasi:http` ([`http::send`]); JSON calls [`http::get_json`], [`http::post_json`], [`http::send_json`]; [`http::status_error`] maps a failed status (401, 403, 404, 429 + `Retry-After`, 5xx, ...) onto `ProviderError` |
//! | [`url`] | percent-encoding, query strings, `base/segment/segment?query` |
//! | [`page`] | [`page::PageBuilder`] (entries, skipped entries, then the cursor), [`page::Paginator`] (a service's "next" token as a tagged cursor), [`page::page_size`] |
//! | [`cursor`] | carrying state in cursors: [`cursor::encode_state`]/[`cursor::decode_state`] for serde values, [`cursor::encode`]/[`cursor::decode`] for string lists |
//! | [`entries`] | [`entries::file`]/[`entries::folder`] with empty optional fields, checksum constructors, path segments, [`entries::mime_for`] |
//! | [`fetch`] | [`fetch::http_get`] plans, [`fetch::only_files`], and [`fetch::consultation`]/[`fetch::failure`]: why the host's download failed, when it consults the provider ([`fetch::FetchFailure::explain`] maps it) |
//! | [`config`] | `SyncConfig.provider_config` and operator settings: [`config::get`], [`config::require`], [`config::get_bool`], [`config::get_parsed`], [`config::get_u32_in`], [`config::optional_key`] for `info()`, [`config::api_base`] |
//! | [`time`] | timestamps from RFC 3339 text, Unix milliseconds or a `SystemTime` |
//! | [`error`] | the message and kind of any `ProviderError`; a service's error body in a message ([`error::detail`], [`error::http_detail`], [`error::quoted_values`]) |
//! | [`log`] | log lines (the host tags them with the provider and the sync; never log a secret) |
//! | [`names`] | the contract's lossless name encoding (names that are not UTF-8, `/`, NUL as `‛` + hex): [`names::encode`], [`names::decode`], [`names::display`] |
//! | [`local_root`] | the granted local root as the host reads it, every name encoded: [`local_root::read_dir`], [`local_root::stat`] |
//!
//! ```text
//! struct MyProvider;
//! impl p8sync_provider_sdk::Provider for MyProvider { /* info, list, start_cursor, changes, fetch */ }
//! p8sync_provider_sdk::export_provider!(MyProvider);
//! ```
//!
//! The host owns every credential: it adds `Authorization` to requests for the provider's
//! declared `api-hosts`, so a provider never sets it (the request is refused) and never sees a
//! token.

wit_bindgen::generate!({
    path: "../../wit",
    world: "provider-component",
    pub_export_macro: true,
    export_macro_name: "export_provider",
    default_bindings_module: "p8sync_provider_sdk",
});

pub mod config;
pub mod cursor;
pub mod entries;
pub mod error;
pub mod fetch;
pub mod http;
pub mod json;
pub mod local_root;
pub mod log;
pub mod names;
pub mod page;
pub mod time;
pub mod url;

/// The trait a provider implements (the `p8:provider/provider` interface).
pub use exports::p8::provider::provider::Guest as Provider;

/// The contract's types: entries, pages, errors and provider info.
pub mod types {
    pub use crate::p8::provider::types::*;
}

/// serde and serde_json as the SDK uses them, so a provider's model types match its helpers.
pub use serde;
/// serde_json, re-exported for providers that parse answers themselves.
pub use serde_json;
