//! Every end-to-end test but the log-capturing ones, in one test binary. Each test file links
//! the whole host, so one binary is linked once instead of two dozen times: minutes of build and
//! gigabytes of disk. Each module is one area, and runs alone with `cargo test --test e2e <area>::`.

mod api;
mod approval;
mod blob;
mod box_provider;
mod cli_settings;
mod conformance;
mod data_plane;
mod dropbox;
mod extract;
mod fake_drive;
mod google_drive;
mod guide;
mod hostile;
mod ingest;
mod ingest_store;
mod local_provider;
mod local_roots;
mod onedrive;
mod registry;
mod rekey;
mod sandbox;
mod schedule_store;
mod scope_changes;
mod sdk_http;
mod serve;
mod shipped_components;
mod store;
mod sync_engine;
mod webdav;
mod workflow;
