//! The state of one sandboxed call: WASI with nothing granted, mediated HTTP, a memory limiter,
//! guest output routed to `tracing`, and the `p8:provider/host` imports.

use super::bindings::p8::provider::{host, types};
use super::http::HttpHooks;
use super::local_root::{self, LocalPathError};
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Longest log line or output line kept; longer ones are cut.
const MAX_LINE: usize = 4096;
/// Log lines (from `log` and from stdout/stderr together) per call before the rest are dropped.
const MAX_LINES_PER_CALL: usize = 10_000;
/// How many of the last stderr lines are kept for a crash report.
const TAIL_LINES: usize = 6;

/// Everything a store holds for one call.
pub(crate) struct CallState {
    pub(crate) wasi: WasiCtx,
    pub(crate) http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: HttpHooks,
    pub(crate) limiter: MemoryLimiter,
    pub(crate) provider: Arc<str>,
    pub(crate) config: Arc<BTreeMap<String, String>>,
    pub(crate) output: Arc<GuestOutput>,
    /// Where the call's resource use is reported, if anyone asked.
    pub(crate) usage: Option<Arc<super::provider::CallUsage>>,
    /// The folder granted to a `local-root` provider for this call (`host.read-root-dir`).
    pub(crate) root: Option<std::path::PathBuf>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for CallState {}

impl host::Host for CallState {
    fn log(&mut self, level: host::LogLevel, message: String) {
        self.output.log(&self.provider, level, &message);
    }

    fn config_get(&mut self, key: String) -> Option<String> {
        self.config.get(&key).cloned()
    }

    fn config_entries(&mut self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    async fn read_root_dir(
        &mut self,
        path: String,
        after: Option<String>,
        limit: u32,
    ) -> Result<Vec<host::RootItem>, types::ProviderError> {
        let root = self.granted_root()?;
        local_root::read_dir_async(root, path, after, limit)
            .await
            .map_err(root_error)
    }

    async fn stat_root_path(
        &mut self,
        path: String,
    ) -> Result<host::RootItem, types::ProviderError> {
        let root = self.granted_root()?;
        local_root::stat_async(root, path).await.map_err(root_error)
    }
}

impl CallState {
    fn granted_root(&self) -> Result<std::path::PathBuf, types::ProviderError> {
        self.root.clone().ok_or_else(|| {
            types::ProviderError::Permanent(
                "no local root is granted to this call (only `local-root` providers get one, and not in `info`)".into(),
            )
        })
    }
}

/// A local-root failure as the contract's error (see `read-root-dir`).
fn root_error(e: LocalPathError) -> types::ProviderError {
    use std::io::ErrorKind;
    let message = e.to_string();
    match &e {
        LocalPathError::NotRelative(_)
        | LocalPathError::NotEncoded(..)
        | LocalPathError::NotAFolder(_)
        | LocalPathError::NotAFile { .. } => types::ProviderError::InvalidConfig(message),
        LocalPathError::Escapes(_) | LocalPathError::Loop(_) => {
            types::ProviderError::Forbidden(message)
        }
        LocalPathError::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => types::ProviderError::NotFound(message),
            ErrorKind::PermissionDenied => types::ProviderError::Forbidden(message),
            ErrorKind::NotADirectory => types::ProviderError::InvalidConfig(message),
            _ => types::ProviderError::Permanent(message),
        },
    }
}

/// Caps the linear memory of a whole instance (all its memories together) and records an
/// attempt to exceed the cap, so the trap can be explained.
pub(crate) struct MemoryLimiter {
    pub(crate) max_bytes: u64,
    pub(crate) used: u64,
    pub(crate) exceeded: Option<u64>,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.used + (desired.saturating_sub(current)) as u64;
        if total > self.max_bytes {
            self.exceeded = Some(total);
            return Err(wasmtime::Error::msg(format!(
                "memory limit of {} bytes exceeded",
                self.max_bytes
            )));
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn memories(&self) -> usize {
        // Rust components use one; leave room for adapters and shims.
        8
    }
}

/// Where a call's log lines and stdout/stderr go: `tracing`, tagged with the provider id, with a
/// budget per call and the last stderr lines kept for crash reports.
#[derive(Default)]
pub(crate) struct GuestOutput {
    state: Mutex<OutputState>,
}

#[derive(Default)]
struct OutputState {
    lines: usize,
    dropped: usize,
    stderr_tail: Vec<String>,
}

impl GuestOutput {
    fn admit(&self, stderr_line: Option<&str>) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(line) = stderr_line {
            if s.stderr_tail.len() == TAIL_LINES {
                s.stderr_tail.remove(0);
            }
            s.stderr_tail.push(line.to_string());
        }
        if s.lines >= MAX_LINES_PER_CALL {
            s.dropped += 1;
            return false;
        }
        s.lines += 1;
        true
    }

    pub(crate) fn log(&self, provider: &str, level: host::LogLevel, message: &str) {
        if !self.admit(None) {
            return;
        }
        let message = cut(message);
        match level {
            host::LogLevel::Trace => {
                tracing::trace!(target: "p8sync::provider", provider, "{message}")
            }
            host::LogLevel::Debug => {
                tracing::debug!(target: "p8sync::provider", provider, "{message}")
            }
            host::LogLevel::Info => {
                tracing::info!(target: "p8sync::provider", provider, "{message}")
            }
            host::LogLevel::Warn => {
                tracing::warn!(target: "p8sync::provider", provider, "{message}")
            }
            host::LogLevel::Error => {
                tracing::error!(target: "p8sync::provider", provider, "{message}")
            }
        }
    }

    fn output_line(&self, provider: &str, stream: Stream, line: &str) {
        let line = cut(line.trim_end_matches('\r'));
        let tail = matches!(stream, Stream::Stderr).then_some(line);
        if !self.admit(tail) {
            return;
        }
        match stream {
            Stream::Stdout => {
                tracing::info!(target: "p8sync::provider::stdout", provider, "{line}")
            }
            Stream::Stderr => {
                tracing::warn!(target: "p8sync::provider::stderr", provider, "{line}")
            }
        }
    }

    /// The last stderr lines, joined, for a crash report.
    pub(crate) fn stderr_tail(&self) -> Option<String> {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let text = s
            .stderr_tail
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
            .collect::<Vec<_>>()
            .join(" | ");
        (!text.is_empty()).then_some(text)
    }

    /// How many lines were dropped because the call went over its budget.
    pub(crate) fn dropped(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).dropped
    }
}

fn cut(s: &str) -> &str {
    if s.len() <= MAX_LINE {
        return s;
    }
    let mut end = MAX_LINE;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
}

/// The guest's stdout or stderr.
pub(crate) struct GuestStream {
    provider: Arc<str>,
    output: Arc<GuestOutput>,
    stream: Stream,
}

impl GuestStream {
    pub(crate) fn stdout(provider: Arc<str>, output: Arc<GuestOutput>) -> Self {
        GuestStream {
            provider,
            output,
            stream: Stream::Stdout,
        }
    }

    pub(crate) fn stderr(provider: Arc<str>, output: Arc<GuestOutput>) -> Self {
        GuestStream {
            provider,
            output,
            stream: Stream::Stderr,
        }
    }
}

impl IsTerminal for GuestStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestStream {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(LineWriter {
            provider: self.provider.clone(),
            output: self.output.clone(),
            stream: self.stream,
            pending: Vec::new(),
        })
    }
}

/// Splits what the guest writes into lines and hands each to [`GuestOutput`].
struct LineWriter {
    provider: Arc<str>,
    output: Arc<GuestOutput>,
    stream: Stream,
    pending: Vec<u8>,
}

impl LineWriter {
    fn emit(&mut self, upto: usize) {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        let text = String::from_utf8_lossy(&line);
        self.output
            .output_line(&self.provider, self.stream, text.trim_end_matches('\n'));
    }
}

impl AsyncWrite for LineWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending.extend_from_slice(buf);
        while let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
            self.emit(pos + 1);
        }
        if self.pending.len() > MAX_LINE {
            let len = self.pending.len();
            self.emit(len);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.pending.is_empty() {
            let len = self.pending.len();
            self.emit(len);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let len = self.pending.len();
            self.emit(len);
        }
    }
}
