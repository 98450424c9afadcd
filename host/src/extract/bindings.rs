//! Host bindings for `wit/extractor/extractor.wit` (`p8:extractor@0.1.0`).
//!
//! Extractors are called synchronously on a blocking thread: a call is CPU work on one file, and
//! its deadline is an epoch trap rather than an async timeout.

wasmtime::component::bindgen!({
    path: "../wit/extractor",
    world: "extractor-component",
});

/// The interface name of the extractor export.
pub const EXTRACTOR_INTERFACE: &str = "p8:extractor/extractor";

/// Versions of `p8:extractor` this host can run (semver-compatible ones too).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0"];
