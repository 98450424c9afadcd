//! Errors of the provider runtime. Each says what failed, in which provider or file, and what to do.

use super::bindings::exports::p8::provider::provider::ProviderError;
use super::policy::Violation;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which provider function was being called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `info()`
    Info,
    /// `list()`
    List,
    /// `start-cursor()`
    StartCursor,
    /// `changes()`
    Changes,
    /// `fetch()`
    Fetch,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Info => "info()",
            Call::List => "list()",
            Call::StartCursor => "start-cursor()",
            Call::Changes => "changes()",
            Call::Fetch => "fetch()",
        })
    }
}

impl Call {
    /// The call as a metric label value (`list`, `start_cursor`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Call::Info => "info",
            Call::List => "list",
            Call::StartCursor => "start_cursor",
            Call::Changes => "changes",
            Call::Fetch => "fetch",
        }
    }
}

/// Human-readable form of a provider's own error.
pub fn describe_provider_error(e: &ProviderError) -> String {
    match e {
        ProviderError::Unauthorized(m) => format!("unauthorized: {m}"),
        ProviderError::RateLimited(r) => match r.retry_after_seconds {
            Some(s) => format!("rate limited (retry after {s} s): {}", r.message),
            None => format!("rate limited: {}", r.message),
        },
        ProviderError::NotFound(m) => format!("not found: {m}"),
        ProviderError::Forbidden(m) => format!("forbidden: {m}"),
        ProviderError::Transient(m) => format!("temporary failure: {m}"),
        ProviderError::CursorExpired(m) => format!("change cursor expired: {m}"),
        ProviderError::InvalidConfig(m) => format!("invalid configuration: {m}"),
        ProviderError::Permanent(m) => m.clone(),
    }
}

/// A call into a provider that did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The provider answered with an error of its own.
    #[error("provider `{provider}` {call} failed: {}", describe_provider_error(.error))]
    Provider {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// What the provider said.
        error: ProviderError,
    },
    /// The call ran past its deadline and was stopped.
    #[error(
        "provider `{provider}` {call} was stopped after {limit:?}: it did not finish within its deadline (a loop, or a very slow API); raise P8_PROVIDER_TIMEOUT_SECS if it is only slow"
    )]
    Deadline {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// The deadline.
        limit: Duration,
    },
    /// The instance tried to grow its memory past the cap.
    #[error(
        "provider `{provider}` {call} was stopped: it tried to use {requested_mib} MiB of memory, over its limit of {limit_mib} MiB; raise P8_PROVIDER_MEMORY_MB if the provider really needs more"
    )]
    MemoryLimit {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// The cap.
        limit_mib: u64,
        /// What it asked for.
        requested_mib: u64,
    },
    /// The sandbox refused something the provider tried.
    #[error("provider `{provider}` {call} was refused: it {violation}")]
    Sandbox {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// What it tried.
        violation: Violation,
    },
    /// The provider crashed (a WebAssembly trap, usually a panic).
    #[error("provider `{provider}` {call} crashed: {message}{}", detail.as_deref().map(|d| format!(" (its last output: {d})")).unwrap_or_default())]
    Trap {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// The trap.
        message: String,
        /// The end of what the guest wrote to stderr (a panic message, usually).
        detail: Option<String>,
    },
    /// The provider returned something that breaks the contract or the host's limits.
    #[error("provider `{provider}` {call} returned invalid data: {reason}")]
    InvalidOutput {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// What is wrong with it.
        reason: String,
    },
    /// A listing or change feed went past what one run may gather.
    #[error("provider `{provider}` {call}: {reason}")]
    TooLarge {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// Which limit, and the setting that raises it.
        reason: String,
    },
    /// The call cannot be made as asked.
    #[error("provider `{provider}` {call}: {reason}")]
    Usage {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// What is wrong.
        reason: String,
    },
    /// The host could not set up the instance.
    #[error("provider `{provider}` {call}: could not start an instance: {reason}")]
    Instantiate {
        /// Provider id.
        provider: String,
        /// The call.
        call: Call,
        /// Why.
        reason: String,
    },
}

impl CallError {
    /// What kind of failure this is, as a metric label value: the provider's own error
    /// (`unauthorized`, `rate_limited`, `transient`, ...), or what the host stopped or refused
    /// (`timeout`, `memory_limit`, `sandbox`, `trap`, `invalid_output`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::Provider { error, .. } => match error {
                ProviderError::Unauthorized(_) => "unauthorized",
                ProviderError::RateLimited(_) => "rate_limited",
                ProviderError::NotFound(_) => "not_found",
                ProviderError::Forbidden(_) => "forbidden",
                ProviderError::Transient(_) => "transient",
                ProviderError::CursorExpired(_) => "cursor_expired",
                ProviderError::InvalidConfig(_) => "invalid_config",
                ProviderError::Permanent(_) => "permanent",
            },
            CallError::Deadline { .. } => "timeout",
            CallError::MemoryLimit { .. } => "memory_limit",
            CallError::Sandbox { .. } => "sandbox",
            CallError::Trap { .. } => "trap",
            CallError::InvalidOutput { .. } => "invalid_output",
            CallError::TooLarge { .. } => "too_large",
            CallError::Usage { .. } => "usage",
            CallError::Instantiate { .. } => "instantiate",
        }
    }

    /// The provider's own error, when that is what this is.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            CallError::Provider { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A component file that could not be loaded as a provider.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read the file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not WebAssembly at all.
    #[error(
        "{}: not a WebAssembly component (the file does not start with the `\\0asm` header); providers are .wasm components built for the wasm32-wasip2 target",
        path.display()
    )]
    NotWasm {
        /// The file.
        path: PathBuf,
    },
    /// The file is a core module, not a component.
    #[error(
        "{}: a core WebAssembly module, not a component; build the provider for the wasm32-wasip2 target (or wrap it with `wasm-tools component new`)",
        path.display()
    )]
    CoreModule {
        /// The file.
        path: PathBuf,
    },
    /// The component does not validate or compile.
    #[error("{}: the component is corrupt or invalid: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the validator said.
        reason: String,
    },
    /// The component does not export the provider interface at all.
    #[error(
        "{}: not a p8sync provider: it does not export `p8:provider/provider` (its exports: {exports}); build it against wit/provider.wit",
        path.display()
    )]
    NotAProvider {
        /// The file.
        path: PathBuf,
        /// What it does export.
        exports: String,
    },
    /// The component exports a version of the interface this host cannot run.
    #[error(
        "{}: exports p8:provider/provider@{found}, but this p8sync supports {supported}; rebuild the provider against a supported wit/provider.wit",
        path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version it exports.
        found: String,
        /// The versions the host supports.
        supported: String,
    },
    /// The component imports something the host does not provide.
    #[error("{}: needs an import p8sync does not provide: {reason}", path.display())]
    Link {
        /// The file.
        path: PathBuf,
        /// What the linker said.
        reason: String,
    },
    /// `info()` failed.
    #[error("{}: {source}", path.display())]
    Info {
        /// The file.
        path: PathBuf,
        /// The failure.
        source: Box<CallError>,
    },
    /// `info()` answered with something unusable.
    #[error("{}: info() is invalid: {reason}", path.display())]
    InvalidInfo {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Two files claim the same provider id; neither is loaded.
    #[error(
        "{} and {} both claim the provider id `{id}`, so neither is loaded; remove one of them from the providers directory",
        first.display(), second.display()
    )]
    DuplicateId {
        /// The id.
        id: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The component is not in the operator's lock file.
    #[error(
        "{}: the provider `{id}` is not approved by this operator, so it was not loaded; review what it asks for and approve it with `p8sync provider approve {}`",
        path.display(), path.display()
    )]
    NotApproved {
        /// The id the component gives itself.
        id: String,
        /// The file.
        path: PathBuf,
    },
    /// The component, or what it declares, differs from what was approved.
    #[error(
        "{}: the provider `{id}` differs from what this operator approved, so it was not loaded: {}; if that is what you want, approve it again with `p8sync provider approve {}`",
        path.display(), differences.join("; "), path.display()
    )]
    ApprovalChanged {
        /// The id.
        id: String,
        /// The file.
        path: PathBuf,
        /// What differs, one line each.
        differences: Vec<String>,
    },
    /// The lock file can't be read.
    #[error(transparent)]
    Lock(#[from] super::lock::LockError),
    /// The providers directory could not be read.
    #[error("cannot read the providers directory {}: {source}; set P8_PROVIDERS_DIR or --providers-dir to a folder of .wasm components", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A provider id that no loaded component has.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown provider `{id}`; available providers: {}", if available.is_empty() { "none (is the providers directory empty? set P8_PROVIDERS_DIR)".to_string() } else { available.join(", ") })]
pub struct UnknownProvider {
    /// The id asked for.
    pub id: String,
    /// The ids that are loaded.
    pub available: Vec<String>,
}

/// The runtime itself could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the provider runtime: {0}")]
pub struct StartError(pub String);
