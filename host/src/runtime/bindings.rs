//! Host bindings for `wit/provider.wit` (`p8:provider@0.1.1`).
//!
//! The newest supported interface version is the canonical one: its generated types are the
//! types the rest of the host uses. When a new version arrives, older ones get their own
//! module here and are mapped onto the newest.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "provider-component",
    // The local-root reads run on the blocking pool, off the async workers.
    imports: {
        "p8:provider/host.read-root-dir": async,
        "p8:provider/host.stat-root-path": async,
    },
    exports: { default: async },
    additional_derives: [serde::Serialize, PartialEq],
});

/// The interface name and version of the provider export this host understands best.
pub const PROVIDER_INTERFACE: &str = "p8:provider/provider";

/// Versions of `p8:provider` this host can run. A component is accepted when its version is
/// semver-compatible with one of these (for 0.x, the same minor version): a 0.1.0 component
/// links against the 0.1.1 interfaces, which only add to 0.1.0.
pub const SUPPORTED_VERSIONS: &[&str] = &["0.1.1"];

/// The first version whose `local-file` plans and local-root names use the name encoding
/// (`runtime::names`); plans from older components are plain paths.
pub const NAME_ENCODING_SINCE: semver::Version = semver::Version::new(0, 1, 1);
