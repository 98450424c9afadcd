//! What the extraction benchmarks share: the built extractors in the host's sandbox, and each
//! extractor's parser run natively, so one run measures both.

use p8sync::config::RuntimeSettings;
use p8sync::extract::{ExtractLimits, Extractor, Extractors, Input, OutputKind};
use p8sync_extractor_sdk::{Collector, Extract, Limits, Request};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The built extractors (`scripts/build-components.sh`), loaded in a release-build sandbox with
/// the default caps, and a runtime to call them from.
pub struct Sandbox {
    /// Where calls run.
    pub tokio: tokio::runtime::Runtime,
    /// The extractors.
    pub extractors: Extractors,
}

impl Sandbox {
    /// Load them (compiling each once into `target/bench-cache`).
    pub fn new() -> Self {
        let dir = workspace().join("target/extractors");
        assert!(
            dir.join("pdf.wasm").is_file(),
            "build the extractors first: scripts/build-components.sh"
        );
        let settings = RuntimeSettings {
            cache_dir: Some(workspace().join("target/bench-cache")),
            // `P8_PERF_MAP=1 perf record cargo bench ...` names the components' functions.
            perf_map: std::env::var_os("P8_PERF_MAP").is_some(),
            ..RuntimeSettings::default()
        };
        let runtime = p8sync::runtime::Runtime::new(settings).expect("runtime");
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        let extractors = Extractors::new(runtime, dir, ExtractLimits::default());
        Sandbox { tokio, extractors }
    }

    /// The extractor producing `output` for files of `format`.
    pub fn extractor(&self, output: OutputKind, format: &str) -> Arc<Extractor> {
        self.tokio
            .block_on(self.extractors.find(output, Some(format), None, &[]))
            .unwrap_or_else(|| panic!("no extractor for {format}"))
    }

    /// Extract the text of `path` in the sandbox.
    pub fn text(&self, extractor: &Arc<Extractor>, format: &str, path: &Path) -> String {
        let input = Input {
            format: format.into(),
            mime_type: None,
            name: format!("input.{format}"),
        };
        let out = self
            .tokio
            .block_on(self.extractors.text(extractor, path, input))
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        out.text
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// Run extractor `E` natively on `bytes` with the host's default caps; characters of text.
pub fn native<E: Extract>(format: &str, bytes: &[u8]) -> usize {
    let limits = Limits::default();
    let request = Request::new(format, bytes.len() as u64, limits);
    let mut out = Collector::new(&limits);
    E::extract(
        p8sync_extractor_sdk::Input::from_bytes(bytes.to_vec()),
        &request,
        &mut out,
    )
    .unwrap_or_else(|e| panic!("{format}: {e:?}"));
    out.chars as usize
}
