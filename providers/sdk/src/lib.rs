//! The p8sync provider SDK: everything a provider component needs besides its own logic.
//!
//! * [`Provider`] is the trait a provider implements; [`export_provider!`] exports it.
//! * [`types`] re-exports the contract's records (`Entry`, `Page`, `ProviderError`, ...).
//! * [`http`] sends requests through the host's mediated `wasi:http` (the host adds credentials).
//! * [`config`] reads `SyncConfig.provider_config` and operator settings; [`log`] writes log lines.
//!
//! ```text
//! struct MyProvider;
//! impl p8sync_provider_sdk::Provider for MyProvider { /* info, list, ... */ }
//! p8sync_provider_sdk::export_provider!(MyProvider);
//! ```

wit_bindgen::generate!({
    path: "../../wit",
    world: "provider-component",
    pub_export_macro: true,
    export_macro_name: "export_provider",
    default_bindings_module: "p8sync_provider_sdk",
});

pub mod config;
pub mod cursor;
pub mod fetch;
pub mod http;
pub mod log;
pub mod time;

/// The trait a provider implements (the `p8:provider/provider` interface).
pub use exports::p8::provider::provider::Guest as Provider;

/// The contract's types: entries, pages, errors and provider info.
pub mod types {
    pub use crate::p8::provider::types::*;
}
