//! A loaded provider, and the calls into it.
//!
//! Each call gets a fresh store and instance from the provider's prepared instance, so no state
//! leaks between calls or syncs, and a call that traps poisons nothing but its own store.

use super::bindings::{ProviderComponent, ProviderComponentPre, SUPPORTED_VERSIONS};
use super::cache::{CacheOutcome, sha256_hex};
use super::credentials::CredentialSource;
use super::error::{Call, CallError, LoadError};
use super::http::{HttpHooks, Violations};
use super::policy::NetworkPolicy;
use super::sandbox::{CallState, GuestOutput, GuestStream, MemoryLimiter};
use super::types::{
    Capability, ChangePage, Entry, FetchPlan, ListRequest, Page, ProviderError, ProviderInfo,
};
use super::{RuntimeInner, validate};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wasmtime::Store;
use wasmtime::component::{Component, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

/// Where the granted root of a `local-root` provider appears inside the sandbox.
pub const GUEST_ROOT: &str = "/root";

/// What one call may use: the sync config's values, a credential, and (for `local-root`
/// providers) the folder to grant.
#[derive(Clone, Default)]
pub struct CallContext {
    /// `SyncConfig.provider_config`, flattened to strings (operator settings are added on top).
    pub config: BTreeMap<String, String>,
    /// Source of the `Authorization` header for the provider's API hosts.
    pub credentials: Option<Arc<dyn CredentialSource>>,
    /// The folder granted read-only to a `local-root` provider.
    pub root: Option<PathBuf>,
    /// The folder behind `root`, held open while the context lives: the host's own reads start
    /// from it. When `root` is the path of this descriptor (set both with
    /// [`CallContext::hold_root`]), the provider reads the same folder whatever names change.
    pub held_root: Option<Arc<super::local_root::HeldFolder>>,
    /// The test harness's seat in the HTTP mediation layer (recording, replay, faults).
    pub interceptor: Option<Arc<dyn super::intercept::Interceptor>>,
    /// Where calls report the resources they used (the harness's limits check).
    pub usage: Option<Arc<CallUsage>>,
    /// The server of the account the calls are made for, when it has its own (a user's
    /// WebDAV server): it is the provider's `api_base`, and the only origin the credential
    /// goes to ([`Provider::account_server`]).
    pub account_server: Option<AccountServer>,
}

/// An account's own server, with the allow-list its calls run under.
#[derive(Clone, Debug)]
pub struct AccountServer {
    url: String,
    policy: Arc<NetworkPolicy>,
}

/// The most any call made with one context used, recorded as each call ends.
#[derive(Debug, Default)]
pub struct CallUsage {
    peak_memory: std::sync::atomic::AtomicU64,
}

impl CallUsage {
    /// The largest linear memory one call grew to, in bytes (WebAssembly memory never
    /// shrinks, so a call's final size is its peak).
    pub fn peak_memory_bytes(&self) -> u64 {
        self.peak_memory.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn record(&self, memory: u64) {
        self.peak_memory
            .fetch_max(memory, std::sync::atomic::Ordering::Relaxed);
    }
}

impl CallContext {
    /// A context from a `provider_config` JSON object: strings stay as they are, other values
    /// become their JSON text.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, String> {
        let map = match value {
            serde_json::Value::Null => return Ok(Self::default()),
            serde_json::Value::Object(map) => map,
            other => {
                return Err(format!(
                    "provider_config must be a JSON object, not {}",
                    json_kind(other)
                ));
            }
        };
        let config = map
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .collect();
        Ok(CallContext {
            config,
            ..Self::default()
        })
    }

    /// Grant `folder` as the root, held open: calls read the folder that was opened, whatever
    /// its name points to later.
    pub fn hold_root(&mut self, folder: super::local_root::HeldFolder) {
        self.root = Some(folder.path().to_path_buf());
        self.held_root = Some(Arc::new(folder));
    }
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// How much one run may gather from a listing or a change feed. Everything listed is held in
/// memory until the run is planned, so the run's totals are bounded, not only each page
/// (which [`validate`] bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListLimits {
    /// Most pages (`P8_MAX_PAGES_PER_RUN`).
    pub max_pages: usize,
    /// Most entries, skipped entries and removed ids, together (`P8_MAX_ENTRIES_PER_RUN`).
    pub max_entries: usize,
    /// Most bytes, counted as [`validate::MAX_PAGE_BYTES`] counts a page: text, plus a little
    /// for each string (`P8_MAX_LISTING_MB`).
    pub max_bytes: usize,
}

impl ListLimits {
    /// Default of `max_pages`: enough for a million entries in pages of ten.
    pub const DEFAULT_MAX_PAGES: usize = 100_000;
    /// Default of `max_entries`. An entry is 312 bytes of structure plus its strings (id,
    /// name, path, parents, type, checksums, revision: 600-900 bytes with allocator overhead
    /// for a typical Drive file), and planning holds it once more in a map, so a run at the
    /// cap peaks around 1.5 GiB: the most one run should take on a shared server.
    pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
    /// Default of `max_bytes`: 1 GiB, which a million typical entries stay well under; it
    /// stops a provider that sends fewer, enormous entries (64 KiB of metadata, deep paths).
    pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024 * 1024;
}

impl Default for ListLimits {
    fn default() -> Self {
        ListLimits {
            max_pages: Self::DEFAULT_MAX_PAGES,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

const MIB: usize = 1024 * 1024;

/// What a listing or change feed has gathered so far, against its [`ListLimits`].
#[derive(Debug)]
pub struct ListTally {
    limits: ListLimits,
    what: &'static str,
    pages: usize,
    entries: usize,
    bytes: usize,
}

impl ListTally {
    /// A tally of `what` (`the listing`, `the change feed`) under `limits`.
    pub fn new(limits: ListLimits, what: &'static str) -> Self {
        ListTally {
            limits,
            what,
            pages: 0,
            entries: 0,
            bytes: 0,
        }
    }

    /// Count a page about to be asked for; why not, past the page limit.
    pub fn next_page(&mut self) -> Result<(), String> {
        if self.pages >= self.limits.max_pages {
            return Err(format!(
                "{} did not end within {} pages, the most one run may read (P8_MAX_PAGES_PER_RUN). Raise P8_MAX_PAGES_PER_RUN if the account really needs more pages",
                self.what, self.limits.max_pages
            ));
        }
        self.pages += 1;
        Ok(())
    }

    /// Count a listing page; why not, past a limit.
    pub fn page(&mut self, page: &Page) -> Result<(), String> {
        let bytes = validate::page(page)?;
        self.add(page.entries.len() + page.skipped.len(), bytes)
    }

    /// Count a change page; why not, past a limit.
    pub fn change_page(&mut self, page: &ChangePage) -> Result<(), String> {
        let bytes = validate::change_page(page)?;
        self.add(
            page.changed.len() + page.removed.len() + page.skipped.len(),
            bytes,
        )
    }

    fn add(&mut self, entries: usize, bytes: usize) -> Result<(), String> {
        self.entries = self.entries.saturating_add(entries);
        self.bytes = self.bytes.saturating_add(bytes);
        if self.entries > self.limits.max_entries {
            return Err(format!(
                "{} holds more than {} entries, the most one run may hold in memory (P8_MAX_ENTRIES_PER_RUN). Raise P8_MAX_ENTRIES_PER_RUN (1-2 KiB of memory each), or sync a smaller folder (include_folders)",
                self.what, self.limits.max_entries
            ));
        }
        if self.bytes > self.limits.max_bytes {
            return Err(format!(
                "{} holds more than {} of names, paths and metadata, the most one run may hold in memory (P8_MAX_LISTING_MB). Raise P8_MAX_LISTING_MB, or sync a smaller folder (include_folders)",
                self.what,
                match self.limits.max_bytes {
                    b if b >= MIB && b % MIB == 0 => format!("{} MiB", b / MIB),
                    b => format!("{b} bytes"),
                }
            ));
        }
        Ok(())
    }
}

/// Where a provider came from.
#[derive(Debug, Clone)]
pub struct ComponentSource {
    /// The `.wasm` file.
    pub path: PathBuf,
    /// sha256 of the file.
    pub sha256: String,
    /// The `p8:provider` version the component exports.
    pub wit_version: semver::Version,
    /// Whether it was loaded from the artifact cache.
    pub cache: CacheOutcome,
    /// Whether it is built into the binary (approved by the build) rather than a file.
    pub builtin: bool,
}

/// Marks an error as coming from instantiation rather than from the guest's code.
#[derive(Debug)]
struct InstantiateFailed;

impl std::fmt::Display for InstantiateFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("instantiation failed")
    }
}

/// A component, prepared for instantiation, with what each call needs.
struct Prepared {
    runtime: Arc<RuntimeInner>,
    pre: ProviderComponentPre<CallState>,
    label: Arc<str>,
    policy: Arc<NetworkPolicy>,
    operator_config: BTreeMap<String, String>,
    local_root: bool,
    /// Whether the component imports WASI's preopened folders: only then is the root granted
    /// through WASI too (the host's own root functions need no preopen, and opening one for
    /// every call cost a path lookup and three system calls per file).
    preopens: bool,
    /// The operator's requests-per-second limit, shared by every call of this provider.
    pacer: Option<Arc<super::pace::Pacer>>,
}

/// A loaded provider.
pub struct Provider {
    prepared: Prepared,
    info: ProviderInfo,
    pub(super) source: ComponentSource,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.info.id)
            .field("path", &self.source.path)
            .finish()
    }
}

/// Run one export with a fresh store, under the call's deadline, and explain any failure.
macro_rules! guest_call {
    ($prepared:expr, $cx:expr, $call:expr, |$guest:ident, $store:ident| $body:expr) => {{
        let prepared = $prepared;
        let call = $call;
        match prepared.new_store($cx, call) {
            Err(e) => Err(e),
            Ok(mut store) => {
                let deadline = prepared.runtime.settings.limits.call_timeout;
                let span = tracing::debug_span!("provider_call", provider = %prepared.label, %call);
                let outcome = tokio::time::timeout(
                    deadline,
                    tracing::Instrument::instrument(
                        async {
                            let instance: ProviderComponent = prepared
                                .pre
                                .instantiate_async(&mut store)
                                .await
                                .map_err(|e| e.context(InstantiateFailed))?;
                            let $guest = instance.p8_provider_provider();
                            let $store = &mut store;
                            $body.await
                        },
                        span,
                    ),
                )
                .await;
                prepared.finish(call, store, outcome)
            }
        }
    }};
}

impl Prepared {
    /// The allow-list of calls made with `cx`: the account's server's where it has one.
    fn policy_for<'a>(&'a self, cx: &'a CallContext) -> &'a Arc<NetworkPolicy> {
        cx.account_server
            .as_ref()
            .map_or(&self.policy, |server| &server.policy)
    }

    fn new_store(&self, cx: &CallContext, call: Call) -> Result<Store<CallState>, CallError> {
        let output = Arc::new(GuestOutput::default());
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(GuestStream::stdout(self.label.clone(), output.clone()))
            .stderr(GuestStream::stderr(self.label.clone(), output.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if self.local_root && call != Call::Info {
            let root = cx.root.as_ref().ok_or_else(|| CallError::Usage {
                provider: self.label.to_string(),
                call,
                reason: "this provider reads a local folder, but no root folder was given (pass --root, or set `root` in the sync config)".into(),
            })?;
            if self.preopens {
                // Metadata calls on a local disk take microseconds; sending each through
                // `spawn_blocking` cost ~80 µs per entry and made a 1,000-entry listing 16x
                // slower.
                wasi.allow_blocking_current_thread(true);
                wasi.preopened_dir(root, GUEST_ROOT, FsPerms::ReadOnly)
                    .map_err(|e| CallError::Usage {
                        provider: self.label.to_string(),
                        call,
                        reason: format!("cannot open the root folder {}: {e}", root.display()),
                    })?;
            }
        }
        let mut config = cx.config.clone();
        config.extend(self.operator_config.clone());
        if let Some(server) = &cx.account_server {
            config.insert("api_base".into(), server.url.clone());
        }
        let state = CallState {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: HttpHooks {
                provider: self.label.clone(),
                outbound: self.runtime.outbound.clone(),
                policy: self.policy_for(cx).clone(),
                pacer: self.pacer.clone(),
                credentials: cx.credentials.clone(),
                interceptor: cx.interceptor.clone(),
                violations: Violations::default(),
            },
            limiter: MemoryLimiter {
                max_bytes: self.runtime.settings.limits.memory_bytes,
                used: 0,
                exceeded: None,
            },
            provider: self.label.clone(),
            config: Arc::new(config),
            output,
            usage: cx.usage.clone(),
            root: if self.local_root && call != Call::Info {
                cx.root.clone()
            } else {
                None
            },
        };
        let mut store = Store::new(&self.runtime.engine, state);
        store.limiter(|s| &mut s.limiter);
        // Yield to the async runtime at every epoch tick, so the deadline (a tokio timeout) can
        // fire even while the guest spins.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        Ok(store)
    }

    fn finish<R>(
        &self,
        call: Call,
        store: Store<CallState>,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
    ) -> Result<R, CallError> {
        let state = store.data();
        if let Some(usage) = &state.usage {
            usage.record(state.limiter.exceeded.unwrap_or(state.limiter.used));
        }
        let provider = self.label.to_string();
        let violation = state
            .hooks
            .violations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .first()
            .cloned();
        if state.output.dropped() > 0 {
            tracing::warn!(
                provider,
                "{call}: dropped {} log lines over the per-call budget",
                state.output.dropped()
            );
        }
        match outcome {
            Err(_) => Err(CallError::Deadline {
                provider,
                call,
                limit: self.runtime.settings.limits.call_timeout,
            }),
            Ok(Err(e)) => {
                if let Some(requested) = state.limiter.exceeded {
                    return Err(CallError::MemoryLimit {
                        provider,
                        call,
                        limit_mib: state.limiter.max_bytes / (1024 * 1024),
                        requested_mib: requested.div_ceil(1024 * 1024),
                    });
                }
                if let Some(violation) = violation {
                    return Err(CallError::Sandbox {
                        provider,
                        call,
                        violation,
                    });
                }
                if e.downcast_ref::<InstantiateFailed>().is_some() {
                    return Err(CallError::Instantiate {
                        provider,
                        call,
                        reason: format!("{:#}", e.root_cause()),
                    });
                }
                let message = match e.downcast_ref::<wasmtime::Trap>() {
                    Some(trap) => trap.to_string(),
                    None => e.to_string(),
                };
                Err(CallError::Trap {
                    provider,
                    call,
                    message,
                    detail: state.output.stderr_tail(),
                })
            }
            Ok(Ok(value)) => match violation {
                // Even when the guest carried on, a refused request means it misbehaved.
                Some(violation) => Err(CallError::Sandbox {
                    provider,
                    call,
                    violation,
                }),
                None => Ok(value),
            },
        }
    }

    fn provider_result<T>(
        &self,
        call: Call,
        result: Result<T, ProviderError>,
    ) -> Result<T, CallError> {
        result.map_err(|error| CallError::Provider {
            provider: self.label.to_string(),
            call,
            error,
        })
    }

    fn invalid(&self, call: Call, reason: String) -> CallError {
        CallError::InvalidOutput {
            provider: self.label.to_string(),
            call,
            reason,
        }
    }
}

impl Provider {
    pub(crate) async fn load(
        runtime: Arc<RuntimeInner>,
        path: &Path,
        bytes: &[u8],
    ) -> Result<Provider, LoadError> {
        let path_buf = path.to_path_buf();
        let (component, sha256, cache) = compile_component(&runtime, path, bytes)?;
        let wit_version = exported_version(&runtime, &component, path)?;
        let preopens = component
            .component_type()
            .imports(&runtime.engine)
            .any(|(name, _)| name.starts_with("wasi:filesystem/preopens"));
        let instance_pre =
            runtime
                .linker
                .instantiate_pre(&component)
                .map_err(|e| LoadError::Link {
                    path: path_buf.clone(),
                    reason: format!("{e:#}"),
                })?;
        let pre = ProviderComponentPre::new(instance_pre).map_err(|e| LoadError::Link {
            path: path_buf.clone(),
            reason: format!("{e:#}"),
        })?;
        let file_label: Arc<str> = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .into();
        let mut prepared = Prepared {
            runtime,
            pre,
            label: file_label,
            policy: Arc::new(NetworkPolicy::deny_all()),
            operator_config: BTreeMap::new(),
            local_root: false,
            preopens,
            pacer: None,
        };
        let info = guest_call!(&prepared, &CallContext::default(), Call::Info, |g, s| g
            .call_info(s))
        .map_err(|e| LoadError::Info {
            path: path_buf.clone(),
            source: Box::new(e),
        })?;
        validate::info(&info).map_err(|reason| LoadError::InvalidInfo {
            path: path_buf.clone(),
            reason,
        })?;
        let overrides = prepared.runtime.settings.overrides.get(&info.id);
        prepared.policy = Arc::new(NetworkPolicy::for_provider(&info, &overrides).map_err(
            |reason| LoadError::InvalidInfo {
                path: path_buf.clone(),
                reason,
            },
        )?);
        prepared.operator_config = overrides.as_config();
        prepared.local_root = info.capabilities.contains(&Capability::LocalRoot);
        prepared.pacer = overrides
            .max_rps
            .map(|r| Arc::new(super::pace::Pacer::new(f64::from(r))));
        prepared.label = info.id.as_str().into();
        Ok(Provider {
            prepared,
            info,
            source: ComponentSource {
                path: path_buf,
                sha256,
                wit_version,
                cache,
                builtin: false,
            },
        })
    }

    /// The provider's id.
    pub fn id(&self) -> &str {
        &self.info.id
    }

    /// What the provider said about itself.
    pub fn info(&self) -> &ProviderInfo {
        &self.info
    }

    /// The file it came from.
    pub fn source(&self) -> &ComponentSource {
        &self.source
    }

    /// The operator's overrides for this provider (API base, OAuth endpoints, scopes, hosts).
    pub fn overrides(&self) -> crate::config::ProviderOverrides {
        self.prepared.runtime.settings.overrides.get(&self.info.id)
    }

    /// Whether the operator allows loopback and private addresses for what the component
    /// The calls of an account on its own server `url` (a user's WebDAV server): the server
    /// is the provider's `api_base` and takes the place of the operator's credentialed
    /// origins. Refused for a URL that is not an http(s) origin, or plain http where the
    /// operator does not allow private networks.
    pub fn account_server(&self, url: &str) -> Result<AccountServer, String> {
        let policy = self
            .prepared
            .policy
            .for_account_server(url, self.allows_private_networks())?;
        Ok(AccountServer {
            url: url.to_string(),
            policy: Arc::new(policy),
        })
    }

    /// declared (`P8_ALLOW_PRIVATE_NETWORKS`).
    pub fn allows_private_networks(&self) -> bool {
        self.prepared.runtime.settings.network.allow_private
    }

    /// The provider's effective network allow-list, as text.
    pub fn allowed_hosts(&self) -> String {
        self.prepared.policy.describe()
    }

    /// Whether the provider declares a capability.
    pub fn has(&self, capability: Capability) -> bool {
        self.info.capabilities.contains(&capability)
    }

    /// Instantiate the provider and drop it at once (for benchmarks).
    #[doc(hidden)]
    pub async fn instantiate_only(&self) -> Result<(), CallError> {
        guest_call!(
            &self.prepared,
            &CallContext::default(),
            Call::Info,
            |_g, _s| async { Ok::<(), wasmtime::Error>(()) }
        )
    }

    /// One page of a listing.
    pub async fn list(&self, cx: &CallContext, request: &ListRequest) -> Result<Page, CallError> {
        self.observed(Call::List, async {
            let p = &self.prepared;
            let result = guest_call!(p, cx, Call::List, |g, s| g.call_list(s, request))?;
            let page = p.provider_result(Call::List, result)?;
            validate::page(&page).map_err(|r| p.invalid(Call::List, r))?;
            Ok(page)
        })
        .await
    }

    /// The whole listing of `folder_id`: every page, until the cursor runs out (at most
    /// `max_pages` of them, and the default [`ListLimits`] otherwise).
    pub async fn list_all(
        &self,
        cx: &CallContext,
        folder_id: Option<String>,
        recursive: bool,
        max_pages: usize,
    ) -> Result<Page, CallError> {
        let limits = ListLimits {
            max_pages,
            ..ListLimits::default()
        };
        self.collect_pages(limits, |cursor| {
            let request = ListRequest {
                folder_id: folder_id.clone(),
                recursive,
                cursor,
                page_size_hint: 1000,
            };
            async move { self.list(cx, &request).await }
        })
        .await
    }

    /// Gather the pages `page` returns for each cursor (starting from none) into one, refusing a
    /// cursor seen before (the listing would never end) and anything past `limits`.
    pub async fn collect_pages<F, Fut>(
        &self,
        limits: ListLimits,
        page: F,
    ) -> Result<Page, CallError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<Page, CallError>>,
    {
        let mut all = Page {
            entries: Vec::new(),
            skipped: Vec::new(),
            next_cursor: None,
        };
        self.for_each_page(limits, page, |next| {
            all.entries.extend(next.entries);
            all.skipped.extend(next.skipped);
        })
        .await?;
        Ok(all)
    }

    /// Hand each page `page` returns for each cursor (starting from none) to `each`, as it
    /// arrives, refusing a cursor seen before (the listing would never end) and anything past
    /// `limits`. An error may come after some pages were handed over: only `Ok` means the
    /// listing is complete.
    pub async fn for_each_page<F, Fut>(
        &self,
        limits: ListLimits,
        mut page: F,
        mut each: impl FnMut(Page),
    ) -> Result<(), CallError>
    where
        F: FnMut(Option<String>) -> Fut,
        Fut: Future<Output = Result<Page, CallError>>,
    {
        let mut seen = std::collections::HashSet::new();
        let mut cursor = None;
        let mut tally = ListTally::new(limits, "the listing");
        loop {
            tally
                .next_page()
                .map_err(|r| self.too_large(Call::List, r))?;
            let mut next = page(cursor.take()).await?;
            tally
                .page(&next)
                .map_err(|r| self.too_large(Call::List, r))?;
            let next_cursor = next.next_cursor.take();
            each(next);
            match next_cursor {
                None => return Ok(()),
                Some(next) => {
                    if !seen.insert(next.clone()) {
                        return Err(self.prepared.invalid(
                            Call::List,
                            "it returned a cursor it had already returned, so the listing would never end".into(),
                        ));
                    }
                    cursor = Some(next);
                }
            }
        }
    }

    /// The error for a listing or change feed past the run's [`ListLimits`].
    pub fn too_large(&self, call: Call, reason: String) -> CallError {
        CallError::TooLarge {
            provider: self.info.id.clone(),
            call,
            reason,
        }
    }

    /// The change cursor for "now".
    pub async fn start_cursor(&self, cx: &CallContext) -> Result<String, CallError> {
        let p = &self.prepared;
        self.require(Capability::ChangesFeed, Call::StartCursor)?;
        self.observed(Call::StartCursor, async {
            let result = guest_call!(p, cx, Call::StartCursor, |g, s| g.call_start_cursor(s))?;
            let cursor = p.provider_result(Call::StartCursor, result)?;
            validate::cursor(&cursor).map_err(|r| p.invalid(Call::StartCursor, r))?;
            Ok(cursor)
        })
        .await
    }

    /// Changes since a cursor.
    pub async fn changes(&self, cx: &CallContext, cursor: &str) -> Result<ChangePage, CallError> {
        let p = &self.prepared;
        self.require(Capability::ChangesFeed, Call::Changes)?;
        self.observed(Call::Changes, async {
            let result = guest_call!(p, cx, Call::Changes, |g, s| g.call_changes(s, cursor))?;
            let page = p.provider_result(Call::Changes, result)?;
            validate::change_page(&page).map_err(|r| p.invalid(Call::Changes, r))?;
            Ok(page)
        })
        .await
    }

    /// How to download a file entry. HTTP plans are checked against the allow-list here, before
    /// the host performs them.
    pub async fn fetch(&self, cx: &CallContext, entry: &Entry) -> Result<FetchPlan, CallError> {
        self.observed(Call::Fetch, self.fetch_plan(cx, entry)).await
    }

    async fn fetch_plan(&self, cx: &CallContext, entry: &Entry) -> Result<FetchPlan, CallError> {
        let p = &self.prepared;
        let result = guest_call!(p, cx, Call::Fetch, |g, s| g.call_fetch(s, entry))?;
        let mut plan = p.provider_result(Call::Fetch, result)?;
        match &mut plan {
            FetchPlan::Http(request) => {
                let url = url::Url::parse(&request.url).map_err(|e| {
                    p.invalid(Call::Fetch, format!("the fetch URL is not a URL: {e}"))
                })?;
                if !matches!(request.method.to_ascii_uppercase().as_str(), "GET" | "POST") {
                    return Err(p.invalid(
                        Call::Fetch,
                        format!("a fetch plan must use GET or POST, not {}", request.method),
                    ));
                }
                super::http::check_request(
                    p.policy_for(cx),
                    p.runtime.settings.network.allow_private,
                    &request.method,
                    &url,
                    &mut request.headers.iter().map(|(n, _)| n.as_str()),
                )
                .map_err(|violation| CallError::Sandbox {
                    provider: p.label.to_string(),
                    call: Call::Fetch,
                    violation,
                })?;
            }
            FetchPlan::Inline(bytes) => {
                if bytes.len() > validate::MAX_INLINE_BYTES {
                    return Err(p.invalid(
                        Call::Fetch,
                        format!(
                            "an inline body of {} bytes is over the {} byte limit; return an HTTP plan instead",
                            bytes.len(),
                            validate::MAX_INLINE_BYTES
                        ),
                    ));
                }
            }
            FetchPlan::LocalFile(path) => {
                if !self.has(Capability::LocalRoot) {
                    return Err(p.invalid(
                        Call::Fetch,
                        "a local-file plan from a provider without the local-root capability"
                            .into(),
                    ));
                }
                // Before 0.1.1 the path was plain text; from here on it is in the name
                // encoding, so everything after this point reads one kind of path.
                if self.source.wit_version < super::bindings::NAME_ENCODING_SINCE {
                    *path = super::local_root::encode_plain_path(path);
                }
                super::local_root::check_path(path)
                    .map_err(|e| p.invalid(Call::Fetch, format!("a local-file plan: {e}")))?;
            }
        }
        Ok(plan)
    }

    /// Perform an HTTP fetch plan from this provider (checked again on every redirect hop),
    /// with the call context's credentials for the provider's credentialed hosts.
    pub async fn open_http(
        &self,
        cx: &CallContext,
        plan: &super::types::HttpRequest,
    ) -> Result<super::http::FetchBody, super::http::FetchError> {
        super::http::open_plan(
            self.id(),
            &self.prepared.runtime.outbound,
            self.prepared.policy_for(cx),
            self.prepared.pacer.as_deref(),
            cx.credentials.clone(),
            cx.interceptor.as_ref(),
            plan,
        )
        .await
    }

    /// Run one call's work (the guest call and the checks of its answer), recording how long
    /// it took and, when it failed, what kind of failure it was.
    async fn observed<T>(
        &self,
        call: Call,
        work: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        let started = std::time::Instant::now();
        let result = work.await;
        crate::metrics::provider_call(
            self.id(),
            call.label(),
            started.elapsed(),
            result.as_ref().err().map(CallError::kind),
        );
        result
    }

    fn require(&self, capability: Capability, call: Call) -> Result<(), CallError> {
        if self.has(capability) {
            return Ok(());
        }
        Err(CallError::Usage {
            provider: self.info.id.clone(),
            call,
            reason: format!("the provider does not declare the {capability:?} capability"),
        })
    }
}

/// The `p8:provider/provider` version a component exports, if this host supports it.
/// Check that `bytes` are a WebAssembly component, then load its precompiled artifact from the
/// cache or compile it (and cache the result). Shared by providers and extractors.
pub(crate) fn compile_component(
    runtime: &RuntimeInner,
    path: &Path,
    bytes: &[u8],
) -> Result<(Component, String, CacheOutcome), LoadError> {
    let path_buf = path.to_path_buf();
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => {}
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => {
            return Err(LoadError::CoreModule { path: path_buf });
        }
        Some([0, b'a', b's', b'm', ..]) => {
            return Err(LoadError::Invalid {
                path: path_buf,
                reason: "unknown WebAssembly version or layer".into(),
            });
        }
        _ => return Err(LoadError::NotWasm { path: path_buf }),
    }
    let sha256 = sha256_hex(bytes);
    let cached = runtime
        .cache
        .as_ref()
        .and_then(|c| c.load(&runtime.engine, &sha256));
    let (component, cache) = match cached {
        Some(c) => (c, CacheOutcome::Hit),
        None => {
            let c = Component::new(&runtime.engine, bytes).map_err(|e| LoadError::Invalid {
                path: path_buf.clone(),
                reason: format!("{e:#}"),
            })?;
            if let Some(cache) = &runtime.cache {
                cache.store(&c, &sha256);
            }
            (c, CacheOutcome::Compiled)
        }
    };
    Ok((component, sha256, cache))
}

fn exported_version(
    runtime: &RuntimeInner,
    component: &Component,
    path: &Path,
) -> Result<semver::Version, LoadError> {
    export_version(
        &runtime.engine,
        component,
        super::bindings::PROVIDER_INTERFACE,
        SUPPORTED_VERSIONS,
    )
    .map_err(|problem| match problem {
        ExportProblem::Missing { exports } => LoadError::NotAProvider {
            path: path.to_path_buf(),
            exports,
        },
        ExportProblem::Unsupported { found, supported } => LoadError::UnsupportedVersion {
            path: path.to_path_buf(),
            found,
            supported,
        },
    })
}

/// Why a component's export of an interface can't be used.
pub(crate) enum ExportProblem {
    /// It does not export the interface; `exports` lists what it does export.
    Missing { exports: String },
    /// It exports a version this host can't run.
    Unsupported { found: String, supported: String },
}

/// The version of `interface` (`pkg:name/iface`) that `component` exports, if it is
/// semver-compatible with one of `supported` (for 0.x, the same minor version).
pub(crate) fn export_version(
    engine: &wasmtime::Engine,
    component: &Component,
    interface: &str,
    supported: &[&str],
) -> Result<semver::Version, ExportProblem> {
    let prefix = format!("{interface}@");
    let names: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let Some(found) = names.iter().find_map(|n| n.strip_prefix(&prefix)) else {
        return Err(ExportProblem::Missing {
            exports: if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            },
        });
    };
    let unsupported = || ExportProblem::Unsupported {
        found: found.to_string(),
        supported: supported
            .iter()
            .map(|v| format!("{v} (and compatible)"))
            .collect::<Vec<_>>()
            .join(", "),
    };
    let version = semver::Version::parse(found).map_err(|_| unsupported())?;
    let compatible = supported.iter().any(|s| {
        let s = semver::Version::parse(s).expect("supported versions are valid semver");
        s.major == version.major && (s.major > 0 || s.minor == version.minor)
    });
    if !compatible {
        return Err(unsupported());
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{EntryKind, SkippedEntry};

    fn page(n: usize, name: &str) -> Page {
        Page {
            entries: (0..n)
                .map(|i| Entry {
                    id: i.to_string(),
                    name: name.into(),
                    path: vec![],
                    parent_ids: vec![],
                    kind: EntryKind::File,
                    mime_type: None,
                    size: Some(1),
                    modified: None,
                    created: None,
                    checksums: vec![],
                    revision: None,
                    export_as: None,
                    metadata_json: None,
                })
                .collect(),
            skipped: vec![SkippedEntry {
                id: "s".into(),
                name: "s".into(),
                reason: "r".into(),
            }],
            next_cursor: None,
        }
    }

    #[test]
    fn a_run_gathers_at_most_its_pages_entries_and_bytes() {
        let limits = ListLimits {
            max_pages: 3,
            max_entries: 10,
            max_bytes: 1024 * 1024,
        };
        let mut t = ListTally::new(limits, "the listing");
        for _ in 0..3 {
            t.next_page().unwrap();
        }
        let e = t.next_page().unwrap_err();
        assert!(
            e.contains("within 3 pages") && e.contains("P8_MAX_PAGES_PER_RUN"),
            "{e}"
        );

        // Skipped entries count too: 4 + 1, then 4 + 1, then one more is past 10.
        let mut t = ListTally::new(limits, "the change feed");
        t.page(&page(4, "f")).unwrap();
        t.page(&page(4, "f")).unwrap();
        let e = t.page(&page(0, "f")).unwrap_err();
        assert!(
            e.starts_with("the change feed holds more than 10 entries")
                && e.contains("P8_MAX_ENTRIES_PER_RUN"),
            "{e}"
        );

        let mut t = ListTally::new(
            ListLimits {
                max_bytes: 1024 * 1024,
                ..ListLimits::default()
            },
            "the listing",
        );
        let big = page(200, &"n".repeat(4000));
        t.page(&big).unwrap();
        let e = t.page(&big).unwrap_err();
        assert!(
            e.contains("more than 1 MiB") && e.contains("P8_MAX_LISTING_MB"),
            "{e}"
        );
    }
}
