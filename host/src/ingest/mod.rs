//! Ingestion: what happens to a file after it is synced. Text becomes chunked `Resources`,
//! audio is decoded, split at pauses and transcribed, everything else is recorded as stored.
//!
//! Work goes through a durable queue in the database (see `store::ingest`): a sync enqueues a
//! job in the same transaction that marks a file synced, and workers ([`Ingestor`]) claim jobs
//! with a lease, so a killed worker's job is picked up once its lease runs out.

pub mod audio;
mod audio_job;
pub mod route;
pub mod text;
mod text_job;
mod worker;

pub use audio_job::TRANSCRIPT_CATEGORY;
pub use text_job::DOCUMENT_CATEGORY;
pub use worker::{DrainReport, Ingestor};

use crate::store::StoreError;
use std::path::PathBuf;
use std::time::Duration;

/// Why ingestion as a whole could not go on (one file's failure is recorded on its job).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The queue or a table could not be read or written.
    #[error("ingestion: {0}")]
    Store(#[from] StoreError),
    /// A worker task died.
    #[error("an ingestion worker stopped unexpectedly: {0}")]
    Worker(String),
    /// A setting could not be read.
    #[error("{0}")]
    Setting(String),
}

/// How long to wait before the next attempt of a failed job.
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The wait after the first failure; it doubles after each one.
    pub base: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Backoff {
    /// The wait after attempt `attempt` (1-based) failed.
    pub fn delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        self.base.saturating_mul(1 << doublings).min(self.max)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        }
    }
}

/// How ingestion runs.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Jobs run at a time (`P8_INGEST_WORKERS`, default 2).
    pub workers: usize,
    /// How long a claim lasts without renewal (`P8_INGEST_LEASE_SECS`, default 300); a
    /// worker renews it every third of that while it works.
    pub lease: Duration,
    /// Attempts before a job is set aside as dead (`P8_INGEST_MAX_ATTEMPTS`, default 5).
    pub max_attempts: i32,
    /// Waits between attempts.
    pub backoff: Backoff,
    /// Which pipeline each type goes to (`P8_INGEST_ROUTES`).
    pub routes: route::Routes,
    /// Chunk sizes (`P8_INGEST_CHUNK_CHARS`, default 1000; `P8_INGEST_CHUNK_OVERLAP`, 100).
    pub chunk: text::ChunkOptions,
    /// Limits on text extraction.
    pub extract: text::ExtractOptions,
    /// Caps on what parsing one file may produce or use (characters, seconds of audio,
    /// memory, time): extractors run under them.
    pub limits: crate::extract::ExtractLimits,
    /// Resources kept per file (`P8_INGEST_MAX_RESOURCES`, default 10,000); past it the rest is
    /// dropped and the outcome says so.
    pub max_resources: usize,
    /// Audio chunks cut per file (`P8_INGEST_MAX_AUDIO_CHUNKS`, default 500: over four hours of
    /// speech at 30 s a chunk).
    pub max_audio_chunks: usize,
    /// Speech segmenting rules.
    pub segment: audio::SegmentOptions,
    /// Where scratch files go (default: the system's temp directory).
    pub scratch_dir: Option<PathBuf>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            workers: 2,
            lease: Duration::from_secs(300),
            max_attempts: 5,
            backoff: Backoff::default(),
            routes: route::Routes::default(),
            chunk: text::ChunkOptions::default(),
            extract: text::ExtractOptions::default(),
            limits: crate::extract::ExtractLimits::default(),
            max_resources: 10_000,
            max_audio_chunks: 500,
            segment: audio::SegmentOptions::default(),
            scratch_dir: None,
        }
    }
}

impl IngestOptions {
    /// The defaults, with the `P8_INGEST_*` settings applied.
    pub fn from_env() -> Result<Self, IngestError> {
        // Out-of-range values are clamped below, as before; only unreadable ones are refused.
        fn number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, IngestError> {
            crate::config::env_parsed(name, "expected a whole number", |_: &T| true)
                .map_err(|e| IngestError::Setting(e.to_string()))
        }
        let mut options = IngestOptions {
            routes: route::Routes::from_env().map_err(|e| IngestError::Setting(e.to_string()))?,
            limits: crate::extract::ExtractLimits::from_env()
                .map_err(|e| IngestError::Setting(e.to_string()))?,
            ..IngestOptions::default()
        };
        if let Some(n) = number::<usize>("P8_INGEST_MAX_RESOURCES")? {
            options.max_resources = n.clamp(1, 10_000_000);
        }
        if let Some(n) = number::<usize>("P8_INGEST_MAX_AUDIO_CHUNKS")? {
            options.max_audio_chunks = n.clamp(1, 1_000_000);
        }
        if let Some(n) = number::<usize>("P8_INGEST_WORKERS")? {
            options.workers = n.max(1);
        }
        if let Some(s) = number::<u64>("P8_INGEST_LEASE_SECS")? {
            options.lease = Duration::from_secs(s.max(3));
        }
        if let Some(n) = number::<i32>("P8_INGEST_MAX_ATTEMPTS")? {
            options.max_attempts = n.max(1);
        }
        if let Some(n) = number::<usize>("P8_INGEST_CHUNK_CHARS")? {
            options.chunk.target_chars = n.max(50);
        }
        if let Some(n) = number::<usize>("P8_INGEST_CHUNK_OVERLAP")? {
            options.chunk.overlap_chars = n;
        }
        if let Ok(dir) = std::env::var("P8_INGEST_SCRATCH_DIR")
            && !dir.trim().is_empty()
        {
            options.scratch_dir = Some(dir.into());
        }
        Ok(options)
    }

    /// Where scratch files go.
    pub fn scratch_dir(&self) -> PathBuf {
        self.scratch_dir.clone().unwrap_or_else(std::env::temp_dir)
    }
}
