//! p8sync: keeps files from storage providers synced into object storage.
//!
//! Providers are sandboxed WebAssembly components ([`runtime`]); the host owns credentials,
//! storage and the network. See `DESIGN.md`-level notes in each module.

pub mod api;
pub mod app;
pub mod blob;
pub mod builtin;
pub mod cli;
pub mod config;
pub mod conformance;
pub mod console;
pub mod extract;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod oauth;
pub mod runtime;
pub mod scheduler;
pub mod secret;
pub mod store;
pub mod sync;
pub mod units;
