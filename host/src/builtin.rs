//! Components built into the binary: the providers and extractors this repository ships, so
//! one copied file runs everything. `host/build.rs` collects them and the `p8sync` binary
//! includes them; the library itself embeds nothing, so the test binaries stay small.
//!
//! A built-in component is approved by the build that embedded it (the operator chose the
//! binary). A component of the same id in `P8_PROVIDERS_DIR` / `P8_EXTRACTORS_DIR` overrides it,
//! under the operator's approval like any other file there.

use std::path::PathBuf;

/// One embedded component file.
#[derive(Debug, Clone, Copy)]
pub struct Embedded {
    /// The file name it was built as (`local-folder.wasm`).
    pub file: &'static str,
    /// The component's bytes.
    pub bytes: &'static [u8],
}

impl Embedded {
    /// The name it is reported under: `<built-in>/local-folder.wasm`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(PREFIX).join(self.file)
    }
}

/// The prefix of a built-in component's reported path.
pub const PREFIX: &str = "<built-in>";

/// The built-in components of each kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtins {
    /// Provider components.
    pub providers: &'static [Embedded],
    /// Extractor components.
    pub extractors: &'static [Embedded],
}
