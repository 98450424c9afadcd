//! The provider runtime: loads provider components and runs them in a sandbox.
//!
//! * One [`wasmtime::Engine`] per [`Runtime`], with epoch interruption driven by a ticker thread
//!   and (where the machine allows it) the pooling allocator.
//! * Components are precompiled once and cached on disk ([`cache`]); each provider keeps one
//!   prepared instance, and every call gets a fresh store and instance ([`provider`]).
//! * Every instance is sandboxed ([`sandbox`]): a memory cap, a deadline per call, no files
//!   (except a read-only root for `local-root` providers), no environment, no sockets, and
//!   outbound HTTP only through the mediated client ([`http`], [`policy`]).

pub mod bindings;
pub mod cache;
pub mod credentials;
pub mod error;
pub mod http;
pub mod intercept;
pub mod local_root;
pub mod lock;
pub mod names;
mod pace;
pub mod policy;
pub mod provider;
pub mod registry;
pub(crate) mod sandbox;
pub mod validate;

pub use credentials::{CredentialError, CredentialErrorKind, CredentialSource, StaticToken};
pub use error::{Call, CallError, LoadError, StartError, UnknownProvider};
pub use provider::{AccountServer, CallContext, CallUsage, ComponentSource, Provider};
pub use registry::Registry;

/// The contract's types (`Entry`, `Page`, `ProviderInfo`, ...), as the host uses them.
pub mod types {
    pub use super::bindings::p8::provider::types::*;
}

use crate::config::RuntimeSettings;
use cache::ArtifactCache;
use sandbox::CallState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; the granularity of deadlines and of yielding to other tasks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// The provider runtime. Cheap to clone; clones share the engine, the cache and the HTTP client.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

pub(crate) struct RuntimeInner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    pub(crate) settings: RuntimeSettings,
    pub(crate) cache: Option<ArtifactCache>,
    pub(crate) outbound: http::Outbound,
    pub(crate) pooling: bool,
    ticker: Ticker,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Relaxed);
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("p8sync-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawning the epoch ticker thread");
        Ticker { stop }
    }
}

impl Runtime {
    /// Build the engine, the linker and the HTTP client.
    pub fn new(settings: RuntimeSettings) -> Result<Self, StartError> {
        let (engine, pooling) = build_engine(&settings)?;
        let mut linker: Linker<CallState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| StartError(format!("linking WASI: {e}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
            .map_err(|e| StartError(format!("linking wasi:http: {e}")))?;
        bindings::ProviderComponent::add_to_linker::<CallState, HasSelf<CallState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| StartError(format!("linking p8:provider/host: {e}")))?;
        let outbound = http::Outbound::new(&settings.network).map_err(StartError)?;
        let cache = settings
            .cache_dir
            .as_ref()
            .and_then(|dir| ArtifactCache::new(dir, &engine));
        let ticker = Ticker::start(&engine);
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                settings,
                cache,
                outbound,
                pooling,
                ticker,
            }),
        })
    }

    /// The engine, linker settings and cache, for the other kinds of component that run in the
    /// same sandbox (extractors).
    pub(crate) fn inner(&self) -> &Arc<RuntimeInner> {
        &self.inner
    }

    /// Whether instances come from the pooling allocator (fast instantiation).
    pub fn uses_pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The settings this runtime runs with.
    pub fn settings(&self) -> &RuntimeSettings {
        &self.inner.settings
    }

    /// Load one component file as a provider: compile (or load from the cache), check the
    /// interface version, prepare it, and ask for its `info()`.
    pub async fn load_file(&self, path: &std::path::Path) -> Result<Provider, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Provider::load(self.inner.clone(), path, &bytes).await
    }

    /// Load a component built into the binary as a provider (approved by the build).
    pub async fn load_builtin(
        &self,
        embedded: &crate::builtin::Embedded,
    ) -> Result<Provider, LoadError> {
        let mut provider =
            Provider::load(self.inner.clone(), &embedded.path(), embedded.bytes).await?;
        provider.source.builtin = true;
        Ok(provider)
    }
}

/// Bytes of a finished instance's linear memory reset in place rather than released (only the
/// pages it wrote; see `build_engine`).
const KEEP_RESIDENT_MEMORY: usize = 2 << 20;

/// Bytes of a finished instance's tables reset in place rather than released.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

fn build_engine(settings: &RuntimeSettings) -> Result<(Engine, bool), StartError> {
    let base = || {
        let mut cfg = Config::new();
        cfg.wasm_component_model(true);
        cfg.epoch_interruption(true);
        if settings.perf_map {
            cfg.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        cfg
    };
    let n = settings.limits.max_instances;
    let pooled = |pool: PoolingAllocationConfig| {
        let mut cfg = base();
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        Engine::new(&cfg)
    };
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(16))
        .total_memories(n.saturating_mul(4))
        .total_tables(n.saturating_mul(8))
        .total_stacks(n)
        .max_memories_per_component(8)
        .max_core_instances_per_component(32)
        // One slot size for every kind of component: the largest cap any of them may be granted.
        .max_memory_size(settings.limits.largest_memory_bytes() as usize);
    // A call's instance is torn down as it ends. By default its memory goes back with
    // `madvise`, which on a multi-threaded host interrupts every other core to flush its TLB,
    // and the next instance faults the same pages in again: with a call per file, that was a
    // tenth of a small file's cost. Where the kernel can say which pages an instance wrote
    // (PAGEMAP_SCAN, Linux 6.7+), only those are reset, in place, up to the limits below;
    // without it, the plain settings (a `memset` of the whole first megabyte would cost more).
    let mut scanned = pool.clone();
    scanned
        .pagemap_scan(wasmtime::Enabled::Yes)
        .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
        .table_keep_resident(KEEP_RESIDENT_TABLE);
    match pooled(scanned).or_else(|_| pooled(pool)) {
        Ok(engine) => Ok((engine, true)),
        Err(e) => {
            // Pooling reserves a lot of address space up front; a machine with a tight
            // RLIMIT_AS cannot give it. Fall back to on-demand allocation, which only costs speed.
            tracing::warn!(
                "the pooling allocator is unavailable ({e}); falling back to on-demand instance allocation"
            );
            Engine::new(&base())
                .map(|engine| (engine, false))
                .map_err(|e| StartError(format!("cannot create the WebAssembly engine: {e}")))
        }
    }
}
