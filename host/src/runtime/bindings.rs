//! Host bindings for `wit/provider.wit` (`p8:provider@0.1.0`).
//!
//! The newest supported interface version is the canonical one: its generated types are the
//! types the rest of the host uses. When a new version arrives, older ones get their own
//! module here and are mapped onto the newest.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "provider-component",
    exports: { default: async },
    additional_derives: [serde::Serialize, PartialEq],
});

/// The interface name and version of the provider export this host understands best.
pub const PROVIDER_INTERFACE: &str = "p8:provider/provider";

/// Versions of `p8:provider` this host can run. A component is accepted when its version is
/// semver-compatible with one of these (for 0.x, the same minor version).
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.0"];
