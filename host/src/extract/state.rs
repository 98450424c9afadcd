//! The state of one extraction: WASI with nothing granted, the input file behind `read`, the
//! capped output behind `emit-text`/`emit-pcm`, and the memory limiter.

use super::bindings::p8::extractor::{host, types};
use crate::runtime::sandbox::{GuestOutput, MemoryLimiter};
use std::any::Any;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Most bytes one `read` call returns, whatever the guest asks for.
pub(super) const MAX_READ: u32 = 4 * 1024 * 1024;
/// Longest `stage` kept, in bytes.
const MAX_STAGE: usize = 200;

/// Where PCM samples go: the audio pipeline's scratch file and energy profile.
pub trait PcmSink: Any + Send {
    /// Take the next samples (mono, 16 kHz).
    fn write(&mut self, samples: &[i16]) -> std::io::Result<()>;
}

/// The output of one call, with its cap.
pub(super) enum Output {
    Text {
        text: String,
        chars: u64,
        max_chars: u64,
        truncated: bool,
    },
    Pcm {
        sink: Box<dyn PcmSink>,
        samples: u64,
        max_samples: u64,
        truncated: bool,
    },
}

/// Everything a store holds for one extraction.
pub(super) struct ExtractState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limiter: MemoryLimiter,
    pub(super) label: Arc<str>,
    pub(super) log: Arc<GuestOutput>,
    pub(super) input: File,
    pub(super) input_size: u64,
    pub(super) output: Output,
    /// What the guest last said it was working on.
    pub(super) stage: Option<String>,
    /// The guest's last error-level log line (a panic hook's message), for a crash report.
    pub(super) last_error: Option<String>,
    /// A host-side failure (reading the input, writing PCM) that ends the call.
    pub(super) io_error: Option<std::io::Error>,
    /// The guest used the wrong kind of output for what it declared.
    pub(super) misuse: Option<String>,
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

impl WasiView for ExtractState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for ExtractState {}

impl host::Host for ExtractState {
    fn log(&mut self, level: host::LogLevel, message: String) {
        use crate::runtime::bindings::p8::provider::host::LogLevel as L;
        if matches!(level, host::LogLevel::Error) {
            self.last_error = Some(cut(&message, MAX_STAGE * 2));
        }
        let level = match level {
            host::LogLevel::Trace => L::Trace,
            host::LogLevel::Debug => L::Debug,
            host::LogLevel::Info => L::Info,
            host::LogLevel::Warn => L::Warn,
            host::LogLevel::Error => L::Error,
        };
        self.log.log(&self.label, level, &message);
    }

    fn stage(&mut self, what: String) {
        self.stage = Some(cut(&what, MAX_STAGE));
    }

    fn read(&mut self, offset: u64, len: u32) -> Vec<u8> {
        if offset >= self.input_size || self.io_error.is_some() {
            return Vec::new();
        }
        let want = u64::from(len.min(MAX_READ)).min(self.input_size - offset) as usize;
        let mut buf = vec![0u8; want];
        let mut filled = 0;
        while filled < want {
            match self
                .input
                .read_at(&mut buf[filled..], offset + filled as u64)
            {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.io_error = Some(e);
                    break;
                }
            }
        }
        buf.truncate(filled);
        buf
    }

    fn emit_text(&mut self, piece: String) -> bool {
        let Output::Text {
            text,
            chars,
            max_chars,
            truncated,
        } = &mut self.output
        else {
            self.misuse = Some("it sent text, but it declared PCM output".into());
            return false;
        };
        if *truncated {
            return false;
        }
        let room = max_chars.saturating_sub(*chars);
        let n = piece.chars().count() as u64;
        if n <= room {
            text.push_str(&piece);
            *chars += n;
            // Exactly at the cap is not yet past it: only more text is cut.
            return true;
        }
        let cut = piece
            .char_indices()
            .nth(room as usize)
            .map_or(piece.len(), |(i, _)| i);
        text.push_str(&piece[..cut]);
        *chars += room;
        *truncated = true;
        false
    }

    fn emit_pcm(&mut self, samples: Vec<i16>) -> bool {
        let Output::Pcm {
            sink,
            samples: count,
            max_samples,
            truncated,
        } = &mut self.output
        else {
            self.misuse = Some("it sent PCM, but it declared text output".into());
            return false;
        };
        if *truncated || self.io_error.is_some() {
            return false;
        }
        let room = max_samples.saturating_sub(*count);
        let take = (samples.len() as u64).min(room) as usize;
        if let Err(e) = sink.write(&samples[..take]) {
            self.io_error = Some(e);
            return false;
        }
        *count += take as u64;
        if take < samples.len() {
            *truncated = true;
            return false;
        }
        true
    }
}
