//! The contract's records as plain Rust (the wit ones exist only in the component build).

use std::fmt;

/// What an extractor produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// Plain text in reading order.
    Text,
    /// Mono 16 kHz signed 16-bit samples.
    Pcm,
}

/// What an extractor says about itself; the host routes files to it by these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// Stable id, lower case (`pdf`, `office`).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// The extractor's own version (semver).
    pub version: String,
    /// What it produces.
    pub output: OutputKind,
    /// Lower-case file extensions it reads, without the dot.
    pub formats: Vec<String>,
    /// MIME types it reads.
    pub mime_types: Vec<String>,
    /// Linear memory it needs for a typical file, in MiB.
    pub memory_mib: u32,
}

/// The limits the host enforces for one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes that may be inflated from compressed data, all streams of the file together.
    pub max_decompressed_bytes: u64,
    /// Characters of text the host keeps.
    pub max_chars: u64,
    /// Seconds of audio the host keeps.
    pub max_audio_seconds: u64,
}

impl Default for Limits {
    /// Generous defaults for tests: 256 MiB decompressed, 10 M characters, 4 hours of audio.
    fn default() -> Self {
        Self {
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_chars: 10_000_000,
            max_audio_seconds: 4 * 3600,
        }
    }
}

/// The file to extract, as the host describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its size in bytes.
    pub size: u64,
    /// The format the host chose: one of the extractor's `formats`.
    pub format: String,
    /// The MIME type the provider reported, if any (untrusted).
    pub mime_type: Option<String>,
    /// The file's name, for hints only (untrusted).
    pub name: String,
    /// What the host enforces.
    pub limits: Limits,
}

impl Request {
    /// A request for `size` bytes of `format` under `limits`, named `file.<format>`.
    pub fn new(format: &str, size: u64, limits: Limits) -> Self {
        Self {
            size,
            format: format.to_ascii_lowercase(),
            mime_type: None,
            name: format!("file.{format}"),
            limits,
        }
    }
}

/// What an extractor reports besides its output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// For audio: the codec (`mp3`, `flac`, `pcm_s16le`, ...).
    pub codec: Option<String>,
    /// For audio: the source's sample rate in Hz (0 when not audio).
    pub source_sample_rate: u32,
    /// For audio: the source's channel count (0 when not audio).
    pub source_channels: u16,
    /// Things a person should know about the result.
    pub notes: Vec<String>,
}

/// Why extraction failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// The file can never yield output (corrupt, encrypted, scanned, empty, not this format).
    NotIngestible(String),
    /// A limit was reached: which one, and where.
    Limit(String),
}

impl ExtractError {
    /// The file can never yield output, for this reason.
    pub fn not_ingestible(reason: impl Into<String>) -> Self {
        Self::NotIngestible(reason.into())
    }

    /// A limit was reached (say which and where).
    pub fn limit(reason: impl Into<String>) -> Self {
        Self::Limit(reason.into())
    }

    /// The reason, whichever the kind.
    pub fn message(&self) -> &str {
        match self {
            Self::NotIngestible(m) | Self::Limit(m) => m,
        }
    }

    /// Whether this is a [`ExtractError::Limit`].
    pub fn is_limit(&self) -> bool {
        matches!(self, Self::Limit(_))
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotIngestible(m) => write!(f, "not ingestible: {m}"),
            Self::Limit(m) => write!(f, "limit reached: {m}"),
        }
    }
}

impl std::error::Error for ExtractError {}
