//! Extractors: sandboxed WebAssembly components that turn one file's bytes into text or PCM.
//!
//! The parsers of PDF, Office, HTML and audio files are third-party code fed with strangers'
//! bytes, so they run like providers do, in the runtime's sandbox (`wit/extractor`), on a blocking
//! thread, one fresh instance per file:
//! * a memory cap (`P8_EXTRACT_MEMORY_MB`, default 256; an extractor asks for less in its
//!   `info()` and gets the smaller of the two), and a budget for all extractors running at once
//!   (`P8_EXTRACT_MEMORY_BUDGET_MB`, default 512), so many tenants' files can't add up to more;
//! * a deadline per file (`P8_EXTRACT_TIMEOUT_SECS`, default 120), an epoch trap;
//! * no files (the input is served by `read`), no network, no environment;
//! * capped output: characters (`P8_INGEST_MAX_CHARS`) and seconds of audio
//!   (`P8_INGEST_MAX_AUDIO_SECS`), past which the output is cut and the caller told;
//! * a budget of decompressed bytes the extractor enforces itself (`P8_EXTRACT_MAX_DECOMPRESSED_MB`).
//!
//! A trap, an abort, a blown cap or a timeout fails only its own file, with a reason that names
//! the limit. Components are compiled lazily, the first time a file needs one, and cached like
//! providers.

mod bindings;
mod state;

pub use state::PcmSink;

use crate::builtin::Embedded;
use crate::config::SandboxLimits;
use crate::runtime::error::LoadError;
use crate::runtime::provider::{ExportProblem, compile_component, export_version};
use crate::runtime::sandbox::{GuestOutput, GuestStream, MemoryLimiter};
use crate::runtime::{Runtime, RuntimeInner};
use bindings::p8::extractor::types;
use bindings::{ExtractorComponent, ExtractorComponentPre};
use state::{ExtractState, Output};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OnceCell, Semaphore};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Store, Trap};
use wasmtime_wasi::WasiCtxBuilder;

/// The caps every extraction runs under; `Default` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtractLimits {
    /// Deadline per file (`P8_EXTRACT_TIMEOUT_SECS`, default 120).
    pub timeout: Duration,
    /// Memory all running extractors may hold together, in MiB (`P8_EXTRACT_MEMORY_BUDGET_MB`,
    /// default 512). Each extraction reserves the cap it is granted before it starts.
    pub memory_budget_mib: u32,
    /// Bytes an extractor may inflate from one file (`P8_EXTRACT_MAX_DECOMPRESSED_MB`, default 256 MiB).
    pub max_decompressed_bytes: u64,
    /// Characters of text kept per file (`P8_INGEST_MAX_CHARS`, default 10,000,000).
    pub max_chars: u64,
    /// Seconds of audio decoded per file (`P8_INGEST_MAX_AUDIO_SECS`, default 14,400: 4 hours).
    pub max_audio_seconds: u64,
}

impl Default for ExtractLimits {
    fn default() -> Self {
        ExtractLimits {
            timeout: Duration::from_secs(120),
            memory_budget_mib: 512,
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_chars: 10_000_000,
            max_audio_seconds: 4 * 3600,
        }
    }
}

impl ExtractLimits {
    /// The defaults with the `P8_EXTRACT_*` and `P8_INGEST_MAX_*` settings applied (each
    /// clamped to a sane range).
    pub fn from_env() -> Result<Self, crate::config::SettingError> {
        let number = |name: &str| {
            crate::config::env_parsed::<u64>(name, "expected a positive whole number", |n| *n > 0)
        };
        let mut limits = ExtractLimits::default();
        if let Some(s) = number("P8_EXTRACT_TIMEOUT_SECS")? {
            limits.timeout = Duration::from_secs(s.min(24 * 3600));
        }
        if let Some(mb) = number("P8_EXTRACT_MEMORY_BUDGET_MB")? {
            limits.memory_budget_mib = mb.clamp(16, 1 << 20) as u32;
        }
        if let Some(mb) = number("P8_EXTRACT_MAX_DECOMPRESSED_MB")? {
            limits.max_decompressed_bytes = mb.min(1 << 20) * 1024 * 1024;
        }
        if let Some(n) = number("P8_INGEST_MAX_CHARS")? {
            limits.max_chars = n.min(1 << 32);
        }
        if let Some(s) = number("P8_INGEST_MAX_AUDIO_SECS")? {
            limits.max_audio_seconds = s.min(7 * 24 * 3600);
        }
        Ok(limits)
    }
}

/// What an extractor produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Plain text.
    Text,
    /// Mono 16 kHz PCM.
    Pcm,
}

/// What an extractor says about itself, checked.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExtractorInfo {
    /// Stable id (`pdf`, `office`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// What it produces.
    pub output: OutputKind,
    /// Extensions it reads, lower case, without the dot.
    pub formats: Vec<String>,
    /// MIME types it reads, lower case.
    pub mime_types: Vec<String>,
    /// The memory it asked for, in MiB.
    pub memory_mib: u32,
    /// The `.wasm` file.
    pub path: PathBuf,
    /// sha256 of the file.
    pub sha256: String,
}

/// Why one file's extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractFailure {
    /// The file can't yield output (the extractor said why).
    #[error("{0}")]
    NotIngestible(String),
    /// A cap stopped it: memory, time, or decompressed bytes.
    #[error("{0}")]
    Limit(String),
    /// The extractor crashed (trapped, aborted) or broke the contract.
    #[error("{0}")]
    Crashed(String),
    /// Reading the input or writing the output failed on the host: worth retrying.
    #[error("extraction I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Text from one file.
#[derive(Debug)]
pub struct TextOutput {
    /// The text, at most the character cap.
    pub text: String,
    /// Whether the text was cut at the character cap.
    pub truncated: bool,
    /// What the extractor wants a person to know.
    pub notes: Vec<String>,
}

/// What PCM extraction reports, besides the samples it gave the sink.
#[derive(Debug)]
pub struct PcmOutput<S> {
    /// The sink, with everything it was given.
    pub sink: S,
    /// Samples given to the sink.
    pub samples: u64,
    /// Whether the audio was cut at the duration cap.
    pub truncated: bool,
    /// The codec (`mp3`, `flac`, ...).
    pub codec: Option<String>,
    /// The source's sample rate, in Hz.
    pub source_sample_rate: u32,
    /// The source's channel count.
    pub source_channels: u16,
    /// What the extractor wants a person to know.
    pub notes: Vec<String>,
}

/// A loaded extractor.
pub struct Extractor {
    runtime: Arc<RuntimeInner>,
    pre: ExtractorComponentPre<ExtractState>,
    info: ExtractorInfo,
    /// The memory cap this extractor runs with, in bytes.
    memory_bytes: u64,
}

impl std::fmt::Debug for Extractor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extractor")
            .field("id", &self.info.id)
            .finish()
    }
}

/// The built-in extractors and those in a directory, loaded the first time one is needed.
pub struct Extractors {
    runtime: Runtime,
    builtins: &'static [Embedded],
    dir: Option<PathBuf>,
    limits: ExtractLimits,
    budget: Arc<Semaphore>,
    loaded: OnceCell<Loaded>,
}

#[derive(Default)]
struct Loaded {
    by_id: BTreeMap<String, Arc<Extractor>>,
    problems: Vec<String>,
}

impl Extractors {
    /// The extractors in `dir`, if any (nothing is read until one is needed).
    pub fn new(runtime: Runtime, dir: impl Into<Option<PathBuf>>, limits: ExtractLimits) -> Self {
        let budget = Arc::new(Semaphore::new(limits.memory_budget_mib as usize));
        Extractors {
            runtime,
            builtins: &[],
            dir: dir.into(),
            limits,
            budget,
            loaded: OnceCell::new(),
        }
    }

    /// These built-in extractors too; one in the directory with the same id replaces its
    /// built-in.
    pub fn with_builtins(mut self, builtins: &'static [Embedded]) -> Self {
        self.builtins = builtins;
        self
    }

    /// The directory extractors are loaded from besides the built-in ones, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Where extractors come from, for messages: "the built-in extractors and /x".
    pub fn looked_in(&self) -> String {
        match (self.builtins.is_empty(), &self.dir) {
            (false, Some(dir)) => format!("the built-in extractors and {}", dir.display()),
            (false, None) => "the built-in extractors".into(),
            (true, Some(dir)) => dir.display().to_string(),
            (true, None) => "nowhere: none is built in and P8_EXTRACTORS_DIR is not set".into(),
        }
    }

    /// The caps extractions run under.
    pub fn limits(&self) -> &ExtractLimits {
        &self.limits
    }

    async fn loaded(&self) -> &Loaded {
        self.loaded
            .get_or_init(|| async {
                let runtime = self.runtime.inner().clone();
                let dir = self.dir.clone();
                let builtins = self.builtins;
                tokio::task::spawn_blocking(move || load_all(&runtime, builtins, dir.as_deref()))
                    .await
                    .unwrap_or_else(|e| Loaded {
                        problems: vec![format!("loading extractors failed: {e}")],
                        ..Loaded::default()
                    })
            })
            .await
    }

    /// Every extractor that loaded, by id.
    pub async fn all(&self) -> Vec<Arc<Extractor>> {
        self.loaded().await.by_id.values().cloned().collect()
    }

    /// Files in the directory that did not load, with why.
    pub async fn problems(&self) -> Vec<String> {
        self.loaded().await.problems.clone()
    }

    /// The extractor for a file of this `mime` type and these names (extension decides when
    /// the MIME type does not), producing `output`. With several candidates, the lowest id wins,
    /// so the choice never depends on directory order.
    pub async fn find(
        &self,
        output: OutputKind,
        format: Option<&str>,
        mime: Option<&str>,
        names: &[&str],
    ) -> Option<Arc<Extractor>> {
        let loaded = self.loaded().await;
        let of_kind = || {
            loaded
                .by_id
                .values()
                .filter(move |e| e.info.output == output)
        };
        if let Some(format) = format.map(str::to_ascii_lowercase)
            && let Some(e) = of_kind().find(|e| e.info.formats.contains(&format))
        {
            return Some(e.clone());
        }
        if let Some(mime) = mime.map(|m| {
            m.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        }) && let Some(e) = of_kind().find(|e| e.info.mime_types.contains(&mime))
        {
            return Some(e.clone());
        }
        for ext in names
            .iter()
            .filter_map(|n| n.rsplit('/').next()?.rsplit_once('.'))
            .map(|(_, e)| e.to_ascii_lowercase())
        {
            if let Some(e) = of_kind().find(|e| e.info.formats.contains(&ext)) {
                return Some(e.clone());
            }
        }
        None
    }

    /// Extract the text of `file` (a local copy of the object) with `extractor`.
    pub async fn text(
        &self,
        extractor: &Arc<Extractor>,
        file: &Path,
        input: Input,
    ) -> Result<TextOutput, ExtractFailure> {
        let output = Output::Text {
            text: String::new(),
            chars: 0,
            max_chars: self.limits.max_chars,
            truncated: false,
        };
        let (output, summary) = self.run(extractor, file, input, output).await?;
        let Output::Text {
            text, truncated, ..
        } = output
        else {
            unreachable!("a text call returns its text output")
        };
        Ok(TextOutput {
            text,
            truncated,
            notes: summary.notes,
        })
    }

    /// Decode `file` to mono 16 kHz PCM with `extractor`, handing the samples to `sink`.
    pub async fn pcm<S: PcmSink>(
        &self,
        extractor: &Arc<Extractor>,
        file: &Path,
        input: Input,
        sink: S,
    ) -> Result<PcmOutput<S>, ExtractFailure> {
        let output = Output::Pcm {
            sink: Box::new(sink),
            samples: 0,
            max_samples: self.limits.max_audio_seconds.saturating_mul(16_000),
            truncated: false,
        };
        let (output, summary) = self.run(extractor, file, input, output).await?;
        let Output::Pcm {
            sink,
            samples,
            truncated,
            ..
        } = output
        else {
            unreachable!("a PCM call returns its PCM output")
        };
        let sink: Box<dyn std::any::Any> = sink;
        let sink = *sink
            .downcast::<S>()
            .expect("the sink handed in is the sink handed back");
        Ok(PcmOutput {
            sink,
            samples,
            truncated,
            codec: summary.codec,
            source_sample_rate: summary.source_sample_rate,
            source_channels: summary.source_channels,
            notes: summary.notes,
        })
    }

    async fn run(
        &self,
        extractor: &Arc<Extractor>,
        file: &Path,
        input: Input,
        output: Output,
    ) -> Result<(Output, types::Summary), ExtractFailure> {
        let mib = extractor.memory_bytes.div_ceil(1024 * 1024) as u32;
        // Reserve the memory this run may grow to, so the extractors of many tenants running at
        // once can't together hold more than the operator's budget.
        let permit = self
            .budget
            .clone()
            .acquire_many_owned(mib.min(self.limits.memory_budget_mib))
            .await
            .map_err(|_| ExtractFailure::Crashed("the extraction budget was closed".into()))?;
        let handle = std::fs::File::open(file)?;
        let size = handle.metadata()?.len();
        let extractor = extractor.clone();
        let limits = self.limits.clone();
        tokio::task::spawn_blocking(move || {
            let result = extractor.call(handle, size, input, output, &limits);
            drop(permit);
            result
        })
        .await
        .map_err(|e| ExtractFailure::Crashed(format!("the extraction thread failed: {e}")))?
    }
}

/// What the host tells an extractor about the file.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// The format chosen (an extension the extractor declared).
    pub format: String,
    /// The provider's MIME type, if any.
    pub mime_type: Option<String>,
    /// The file's name (hints only).
    pub name: String,
}

impl Extractor {
    /// What it says about itself.
    pub fn info(&self) -> &ExtractorInfo {
        &self.info
    }

    /// The memory cap it runs with, in MiB.
    pub fn memory_mib(&self) -> u64 {
        self.memory_bytes / (1024 * 1024)
    }

    fn store(&self, input: std::fs::File, size: u64, output: Output) -> Store<ExtractState> {
        let label: Arc<str> = format!("extractor:{}", self.info.id).into();
        let log = Arc::new(GuestOutput::default());
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(GuestStream::stdout(label.clone(), log.clone()))
            .stderr(GuestStream::stderr(label.clone(), log.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        let state = ExtractState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                max_bytes: self.memory_bytes,
                used: 0,
                exceeded: None,
            },
            label,
            log,
            input,
            input_size: size,
            output,
            stage: None,
            last_error: None,
            io_error: None,
            misuse: None,
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
    }

    /// Run `extract` on a blocking thread, under the memory cap and the deadline.
    fn call(
        &self,
        file: std::fs::File,
        size: u64,
        input: Input,
        output: Output,
        limits: &ExtractLimits,
    ) -> Result<(Output, types::Summary), ExtractFailure> {
        let mut store = self.store(file, size, output);
        let ticks = (limits.timeout.as_millis() / crate::runtime::EPOCH_TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let request = types::InputInfo {
            size,
            format: input.format,
            mime_type: input.mime_type,
            name: input.name,
            limits: types::Limits {
                max_decompressed_bytes: limits.max_decompressed_bytes,
                max_chars: limits.max_chars,
                max_audio_seconds: limits.max_audio_seconds,
            },
        };
        let result = self.pre.instantiate(&mut store).and_then(|instance| {
            instance
                .p8_extractor_extractor()
                .call_extract(&mut store, &request)
        });
        let state = store.into_data();
        let where_ = state
            .stage
            .as_deref()
            .map(|s| format!(" while reading {s}"))
            .unwrap_or_default();
        if let Some(e) = state.io_error {
            return Err(ExtractFailure::Io(e));
        }
        if let Some(misuse) = state.misuse {
            return Err(ExtractFailure::Crashed(format!(
                "the {} extractor broke its contract: {misuse}",
                self.info.id
            )));
        }
        match result {
            Ok(Ok(summary)) => Ok((state.output, summary)),
            Ok(Err(types::ExtractError::NotIngestible(reason))) => {
                Err(ExtractFailure::NotIngestible(cut(reason)))
            }
            Ok(Err(types::ExtractError::Limit(reason))) => Err(ExtractFailure::Limit(format!(
                "stopped at a limit: {}",
                cut(reason)
            ))),
            Err(e) => {
                if let Some(requested) = state.limiter.exceeded {
                    return Err(ExtractFailure::Limit(format!(
                        "stopped at the {} MiB memory cap{where_} (it asked for {} MiB; \
                         P8_EXTRACT_MEMORY_MB)",
                        self.memory_mib(),
                        requested.div_ceil(1024 * 1024)
                    )));
                }
                if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
                    return Err(ExtractFailure::Limit(format!(
                        "stopped at the {} s time limit{where_} (P8_EXTRACT_TIMEOUT_SECS)",
                        limits.timeout.as_secs()
                    )));
                }
                let message = match e.downcast_ref::<Trap>() {
                    Some(trap) => trap.to_string(),
                    None => format!("{:#}", e.root_cause()),
                };
                let detail = state
                    .log
                    .stderr_tail()
                    .or(state.last_error)
                    .map(|t| format!(": {t}"))
                    .unwrap_or_default();
                Err(ExtractFailure::Crashed(cut(format!(
                    "the {} extractor crashed{where_} ({message}){detail}",
                    self.info.id
                ))))
            }
        }
    }
}

/// Reasons from a guest are cut to a readable length.
fn cut(mut s: String) -> String {
    const MAX: usize = 1000;
    if s.len() > MAX {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

/// A component that can't be used as an extractor.
fn not_an_extractor(path: &Path, problem: ExportProblem) -> String {
    match problem {
        ExportProblem::Missing { exports } => format!(
            "{}: not a p8sync extractor: it does not export `p8:extractor/extractor` (its \
             exports: {exports}); build it against wit/extractor/extractor.wit",
            path.display()
        ),
        ExportProblem::Unsupported { found, supported } => format!(
            "{}: exports p8:extractor/extractor@{found}, but this p8sync supports {supported}",
            path.display()
        ),
    }
}

fn linker(runtime: &RuntimeInner) -> Result<Linker<ExtractState>, String> {
    let mut linker = Linker::new(&runtime.engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| format!("linking WASI for extractors: {e}"))?;
    ExtractorComponent::add_to_linker::<ExtractState, HasSelf<ExtractState>>(&mut linker, |s| s)
        .map_err(|e| format!("linking p8:extractor/host: {e}"))?;
    Ok(linker)
}

/// Load the built-in extractors, then every `*.wasm` in `dir`; a file that fails is a problem,
/// not a failure of the others. Two files claiming one id are both refused; a file with a
/// built-in's id replaces it.
fn load_all(runtime: &Arc<RuntimeInner>, builtins: &[Embedded], dir: Option<&Path>) -> Loaded {
    let mut loaded = Loaded::default();
    let linker = match linker(runtime) {
        Ok(l) => l,
        Err(e) => {
            loaded.problems.push(e);
            return loaded;
        }
    };
    let mut candidates: Vec<Result<Extractor, String>> = builtins
        .iter()
        .map(|b| load_one(runtime, &linker, &b.path(), b.bytes))
        .collect();
    let builtin = claim(&mut loaded.problems, std::mem::take(&mut candidates));
    let Some(dir) = dir else {
        loaded.by_id = builtin;
        return loaded;
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(read) => read
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm") && p.is_file())
            .collect(),
        Err(e) => {
            loaded.problems.push(format!(
                "cannot read the extractors directory {}: {e}; set P8_EXTRACTORS_DIR to a folder \
                 of extractor components",
                dir.display()
            ));
            loaded.by_id = builtin;
            return loaded;
        }
    };
    files.sort();
    for path in files {
        candidates.push(
            std::fs::read(&path)
                .map_err(|source| {
                    LoadError::Read {
                        path: path.clone(),
                        source,
                    }
                    .to_string()
                })
                .and_then(|bytes| load_one(runtime, &linker, &path, &bytes)),
        );
    }
    let from_dir = claim(&mut loaded.problems, candidates);
    loaded.by_id = builtin;
    loaded.by_id.extend(from_dir);
    loaded
}

/// The extractors among `candidates` that are the only one with their id; the rest, and the
/// failures, go to `problems`.
fn claim(
    problems: &mut Vec<String>,
    candidates: Vec<Result<Extractor, String>>,
) -> BTreeMap<String, Arc<Extractor>> {
    let mut by_id = BTreeMap::new();
    let mut duplicated = Vec::new();
    for candidate in candidates {
        match candidate {
            Ok(extractor) => {
                let id = extractor.info.id.clone();
                if duplicated.contains(&id) || by_id.contains_key(&id) {
                    problems.push(format!(
                        "{}: another extractor already has the id `{id}`; both are refused",
                        extractor.info.path.display()
                    ));
                    by_id.remove(&id);
                    duplicated.push(id);
                    continue;
                }
                tracing::debug!(extractor = %id, file = %extractor.info.path.display(), "loaded extractor");
                by_id.insert(id, Arc::new(extractor));
            }
            Err(e) => {
                tracing::warn!("{e}");
                problems.push(e);
            }
        }
    }
    by_id
}

fn load_one(
    runtime: &Arc<RuntimeInner>,
    linker: &Linker<ExtractState>,
    path: &Path,
    bytes: &[u8],
) -> Result<Extractor, String> {
    let (component, sha256, _) =
        compile_component(runtime, path, bytes).map_err(|e| e.to_string())?;
    export_version(
        &runtime.engine,
        &component,
        bindings::EXTRACTOR_INTERFACE,
        bindings::SUPPORTED_VERSIONS,
    )
    .map_err(|p| not_an_extractor(path, p))?;
    let pre = linker
        .instantiate_pre(&component)
        .and_then(ExtractorComponentPre::new)
        .map_err(|e| {
            format!(
                "{}: needs an import p8sync does not provide: {e:#}",
                path.display()
            )
        })?;
    let limits: &SandboxLimits = &runtime.settings.limits;
    let mut extractor = Extractor {
        runtime: runtime.clone(),
        pre,
        info: ExtractorInfo {
            id: String::new(),
            name: String::new(),
            version: String::new(),
            output: OutputKind::Text,
            formats: vec![],
            mime_types: vec![],
            memory_mib: 0,
            path: path.to_path_buf(),
            sha256,
        },
        memory_bytes: 64 * 1024 * 1024,
    };
    // `info()` runs under a small cap and a short deadline like any call.
    let info = {
        let empty = tempfile::tempfile().map_err(|e| format!("{}: {e}", path.display()))?;
        let mut store = extractor.store(
            empty,
            0,
            Output::Text {
                text: String::new(),
                chars: 0,
                max_chars: 0,
                truncated: false,
            },
        );
        store.set_epoch_deadline(500);
        store.epoch_deadline_trap();
        extractor
            .pre
            .instantiate(&mut store)
            .and_then(|i| i.p8_extractor_extractor().call_info(&mut store))
            .map_err(|e| format!("{}: info() failed: {e:#}", path.display()))?
    };
    let info = check_info(info).map_err(|reason| {
        format!(
            "{}: the extractor describes itself wrongly: {reason}",
            path.display()
        )
    })?;
    extractor.memory_bytes =
        (u64::from(info.memory_mib.max(16)) * 1024 * 1024).min(limits.extractor_memory_bytes);
    extractor.info = ExtractorInfo {
        path: extractor.info.path,
        sha256: extractor.info.sha256,
        ..info
    };
    Ok(extractor)
}

/// Check what an extractor says about itself: it is outside data like any other.
fn check_info(info: types::ExtractorInfo) -> Result<ExtractorInfo, String> {
    let word = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.+/".contains(&b))
    };
    if !word(&info.id, 64) || info.id.contains('/') {
        return Err(format!(
            "the id {:?} must be 1-64 characters of a-z, 0-9, - and _",
            cut(info.id)
        ));
    }
    if info.name.len() > 200 || info.version.len() > 64 {
        return Err("the name or version is too long".into());
    }
    if info.formats.len() > 64 || info.mime_types.len() > 64 {
        return Err("more than 64 formats or MIME types".into());
    }
    let formats: Vec<String> = info
        .formats
        .iter()
        .map(|f| f.trim_start_matches('.').to_ascii_lowercase())
        .collect();
    let mime_types: Vec<String> = info
        .mime_types
        .iter()
        .map(|m| m.to_ascii_lowercase())
        .collect();
    if let Some(bad) = formats.iter().find(|f| !word(f, 16) || f.contains('/')) {
        return Err(format!("the format {bad:?} is not a file extension"));
    }
    if let Some(bad) = mime_types
        .iter()
        .find(|m| !word(m, 128) || !m.contains('/'))
    {
        return Err(format!("{bad:?} is not a MIME type"));
    }
    if formats.is_empty() && mime_types.is_empty() {
        return Err("it reads no formats and no MIME types".into());
    }
    Ok(ExtractorInfo {
        id: info.id,
        name: info.name,
        version: info.version,
        output: match info.output {
            types::OutputKind::Text => OutputKind::Text,
            types::OutputKind::Pcm => OutputKind::Pcm,
        },
        formats,
        mime_types,
        memory_mib: info.memory_mib,
        path: PathBuf::new(),
        sha256: String::new(),
    })
}
