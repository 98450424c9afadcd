//! The component side (wasm32 only): the host's `read` as a buffered [`HostReader`], batched
//! [`TextOut`] / [`PcmOut`], and the glue behind [`crate::export!`].

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Once;

use crate::p8::extractor::host;
use crate::p8::extractor::types as wit;
use crate::{Extract, Input, Limits, OutputKind, PcmSink, Request, SAMPLE_RATE, TextSink};

/// The wit `extractor-info`.
pub type WitInfo = wit::ExtractorInfo;
/// The wit `input-info`.
pub type WitInput = wit::InputInfo;
/// The wit `summary`.
pub type WitSummary = wit::Summary;
/// The wit `extract-error`.
pub type WitError = wit::ExtractError;
/// What `extract` returns.
pub type WitResult = Result<WitSummary, WitError>;

/// Bytes asked of the host per `read` (it serves at most 4 MiB).
const WINDOW: usize = 256 * 1024;
/// Text is sent to the host in pieces of about this many bytes.
const TEXT_BATCH: usize = 64 * 1024;
/// PCM is sent to the host in pieces of this many samples (one second).
const PCM_BATCH: usize = SAMPLE_RATE as usize;

/// The input file through `host.read`, a 256 KiB window at a time; reads bigger than the
/// window go to the host directly.
#[derive(Debug)]
pub struct HostReader {
    size: u64,
    pos: u64,
    window: Vec<u8>,
    window_start: u64,
}

impl HostReader {
    /// The host's input of `size` bytes.
    pub fn new(size: u64) -> Self {
        Self {
            size,
            pos: 0,
            window: Vec::new(),
            window_start: 0,
        }
    }
}

impl Read for HostReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.pos >= self.size {
            return Ok(0);
        }
        let in_window = self.pos >= self.window_start
            && self.pos < self.window_start + self.window.len() as u64;
        if !in_window {
            if buf.len() >= WINDOW {
                let len = buf.len().min(4 * 1024 * 1024) as u32;
                let bytes = host::read(self.pos, len);
                let n = bytes.len().min(buf.len());
                buf[..n].copy_from_slice(&bytes[..n]);
                self.pos += n as u64;
                return Ok(n);
            }
            self.window = host::read(self.pos, WINDOW as u32);
            self.window_start = self.pos;
            if self.window.is_empty() {
                return Ok(0);
            }
        }
        let at = (self.pos - self.window_start) as usize;
        let n = (self.window.len() - at).min(buf.len());
        buf[..n].copy_from_slice(&self.window[at..at + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for HostReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the input",
            )),
        }
    }
}

/// Text to `host.emit-text`, in batches of about 64 KiB; remembers when the host said stop, and
/// stops by itself at `max-chars` (the host cuts there anyway).
#[derive(Debug)]
pub struct TextOut {
    buf: String,
    chars: u64,
    max_chars: u64,
    stopped: bool,
}

impl TextOut {
    /// Output capped at `max_chars` characters.
    pub fn new(max_chars: u64) -> Self {
        Self {
            buf: String::new(),
            chars: 0,
            max_chars,
            stopped: false,
        }
    }

    /// Send what is batched; false if the host said stop.
    pub fn flush(&mut self) -> bool {
        if !self.buf.is_empty() {
            let piece = std::mem::take(&mut self.buf);
            if !host::emit_text(&piece) {
                self.stopped = true;
            }
        }
        !self.stopped
    }
}

impl TextSink for TextOut {
    fn text(&mut self, text: &str) -> bool {
        if self.stopped {
            return false;
        }
        let room = self.max_chars.saturating_sub(self.chars);
        let n = text.chars().count() as u64;
        if n > room {
            let cut = text
                .char_indices()
                .nth(room as usize)
                .map_or(text.len(), |(i, _)| i);
            self.buf.push_str(&text[..cut]);
            // One more character than allowed, so the host knows the text was cut.
            if let Some(c) = text[cut..].chars().next() {
                self.buf.push(c);
            }
            self.chars = self.max_chars;
            self.flush();
            self.stopped = true;
            return false;
        }
        self.chars += n;
        self.buf.push_str(text);
        if self.buf.len() >= TEXT_BATCH {
            return self.flush();
        }
        true
    }
}

/// Samples to `host.emit-pcm`, one second at a time; remembers when the host said stop, and
/// stops by itself at `max-audio-seconds`.
#[derive(Debug)]
pub struct PcmOut {
    buf: Vec<i16>,
    samples: u64,
    max_samples: u64,
    stopped: bool,
}

impl PcmOut {
    /// Output capped at `max_seconds` seconds.
    pub fn new(max_seconds: u64) -> Self {
        Self {
            buf: Vec::with_capacity(PCM_BATCH),
            samples: 0,
            max_samples: max_seconds.saturating_mul(u64::from(SAMPLE_RATE)),
            stopped: false,
        }
    }

    /// Send what is batched; false if the host said stop.
    pub fn flush(&mut self) -> bool {
        if !self.buf.is_empty() {
            if !host::emit_pcm(&self.buf) {
                self.stopped = true;
            }
            self.buf.clear();
        }
        !self.stopped
    }
}

impl PcmSink for PcmOut {
    fn pcm(&mut self, samples: &[i16]) -> bool {
        if self.stopped {
            return false;
        }
        let room = self.max_samples.saturating_sub(self.samples);
        // One sample past the cap, so the host knows the audio was cut.
        let cut = samples.len() as u64 > room;
        let take = if cut {
            room as usize + 1
        } else {
            samples.len()
        };
        let mut rest = &samples[..take];
        while !rest.is_empty() {
            let n = (PCM_BATCH - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.buf.len() >= PCM_BATCH && !self.flush() {
                return false;
            }
        }
        self.samples += take as u64;
        if cut {
            self.flush();
            self.stopped = true;
            return false;
        }
        true
    }
}

/// Both outputs to the host.
#[derive(Debug)]
pub struct HostOut {
    /// Text output.
    pub text: TextOut,
    /// PCM output.
    pub pcm: PcmOut,
}

impl HostOut {
    /// Outputs capped by `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            text: TextOut::new(limits.max_chars),
            pcm: PcmOut::new(limits.max_audio_seconds),
        }
    }

    /// Send everything still batched.
    pub fn finish(&mut self) {
        self.text.flush();
        self.pcm.flush();
    }
}

impl TextSink for HostOut {
    fn text(&mut self, text: &str) -> bool {
        self.text.text(text)
    }
}

impl PcmSink for HostOut {
    fn pcm(&mut self, samples: &[i16]) -> bool {
        self.pcm.pcm(samples)
    }
}

/// `info()` of an [`Extract`] as the wit record.
pub fn info<E: Extract>() -> WitInfo {
    let info = E::info();
    WitInfo {
        id: info.id,
        name: info.name,
        version: info.version,
        output: match info.output {
            OutputKind::Text => wit::OutputKind::Text,
            OutputKind::Pcm => wit::OutputKind::Pcm,
        },
        formats: info.formats,
        mime_types: info.mime_types,
        memory_mib: info.memory_mib,
    }
}

/// `extract()` of an [`Extract`] over the host's input and outputs.
pub fn extract<E: Extract>(input: WitInput) -> WitResult {
    static HOOK: Once = Once::new();
    // A panic traps the instance (wasm has no unwinding); say why before it does.
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|panic| {
            host::log(
                host::LogLevel::Error,
                &format!("extractor panicked: {panic}"),
            );
        }))
    });
    let limits = Limits {
        max_decompressed_bytes: input.limits.max_decompressed_bytes,
        max_chars: input.limits.max_chars,
        max_audio_seconds: input.limits.max_audio_seconds,
    };
    let request = Request {
        size: input.size,
        format: input.format.to_ascii_lowercase(),
        mime_type: input.mime_type,
        name: input.name,
        limits,
    };
    let source = Input::new(HostReader::new(request.size), request.size);
    let mut out = HostOut::new(&limits);
    let result = E::extract(source, &request, &mut out);
    out.finish();
    match result {
        Ok(s) => Ok(WitSummary {
            codec: s.codec,
            source_sample_rate: s.source_sample_rate,
            source_channels: s.source_channels,
            notes: s.notes,
        }),
        Err(crate::ExtractError::NotIngestible(m)) => Err(WitError::NotIngestible(m)),
        Err(crate::ExtractError::Limit(m)) => Err(WitError::Limit(m)),
    }
}
