//! Ingestion state: the durable job queue (`p8."IngestJob"`), and what ingestion makes of a file,
//! in Percolate's tables (`p8."Resources"`, `p8."AudioFile"`, `p8."AudioChunk"`).
//!
//! A job means "make the derived data of this file match its current state". There is one per
//! file: syncing new content resets it, which also voids the lease of a worker still busy with
//! the old content, so its results are never written.

use super::ids::{AudioChunkId, AudioFileId, ConfigId, FileId, ResourceId, UserId};
use super::{StoreError, SyncFile};
use chrono::{DateTime, Utc};
use std::time::Duration;

string_enum!(
    /// What ingestion made of a file's current content (`SyncFile.ingest_status`).
    IngestStatus {
        /// Waiting for a worker.
        Queued => "queued",
        /// Text extracted into `Resources`.
        Ingested => "ingested",
        /// Audio chunked and transcribed; the transcript is in `Resources`.
        Transcribed => "transcribed",
        /// Audio chunked, but with no transcript (no backend, or every chunk failed).
        Untranscribed => "untranscribed",
        /// Kept in object storage for reference only.
        Stored => "stored",
        /// A text type whose content cannot be read (encrypted, binary, no text layer).
        NotIngestible => "not_ingestible",
        /// The last attempt failed; it is tried again later.
        Retrying => "retrying",
        /// Every attempt failed; set aside with the last error.
        Dead => "dead",
        /// The file is gone, and so is what ingestion made of it.
        Removed => "removed",
    }
);

string_enum!(
    /// Where a job stands (`IngestJob.status`).
    JobStatus {
        /// Waiting until `run_after`.
        Queued => "queued",
        /// Leased by a worker until `lease_expires_at`.
        Running => "running",
        /// Finished.
        Done => "done",
        /// Given up after too many attempts.
        Dead => "dead",
    }
);

string_enum!(
    /// An audio file's progress (`AudioFile.status`, Percolate's values).
    AudioStatus {
        /// Being written to storage.
        Uploading => "uploading",
        /// In storage, not yet processed.
        Uploaded => "uploaded",
        /// Being decoded.
        Processing => "processing",
        /// Being split into chunks.
        Chunking => "chunking",
        /// Chunks being transcribed.
        Transcribing => "transcribing",
        /// Done (see the chunks for each one's transcription status).
        Completed => "completed",
        /// Could not be processed (see `metadata.error`).
        Failed => "failed",
    }
);

string_enum!(
    /// How one chunk's transcription went (`AudioChunk.status`).
    ChunkStatus {
        /// Not transcribed yet.
        Pending => "pending",
        /// Transcribed.
        Transcribed => "transcribed",
        /// The backend failed on it (see `error`).
        Failed => "failed",
        /// No transcription backend is configured (see `error` for how to set one).
        NoBackend => "no_backend",
    }
);

/// A job a worker holds: the file, its lease, and what the worker needs to know.
#[derive(Debug, Clone)]
pub struct IngestJob {
    /// The file, as it is now.
    pub file: SyncFile,
    /// The lease token: results are written only while it is still this job's.
    pub lease: String,
    /// This attempt's number (1 for the first).
    pub attempt: i32,
    /// The previous holder's lease had run out (it crashed or stalled).
    pub taken_over: bool,
}

/// A chunk of text made from a file (`p8."Resources"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Resource {
    /// Derived from (uri, ordinal), as Percolate does.
    pub id: ResourceId,
    /// The file's name.
    pub name: String,
    /// What kind of content (`document`, `audio_transcription`, ...).
    pub category: String,
    /// The chunk's text.
    pub content: String,
    /// A short description.
    pub summary: Option<String>,
    /// The chunk's position in the file.
    pub ordinal: i32,
    /// The object the content came from.
    pub uri: String,
    /// Where it came from and how it was made.
    pub metadata: serde_json::Value,
    /// Graph paths (Percolate's knowledge-graph links); empty here.
    pub graph_paths: Vec<String>,
    /// The content's own time (the file's modified time).
    pub resource_timestamp: Option<DateTime<Utc>>,
    /// The owner.
    pub userid: UserId,
    /// The synced file it was made from.
    pub sync_file_id: FileId,
}

/// An audio file being or having been processed (`p8."AudioFile"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AudioFileRecord {
    /// Derived from the synced file.
    pub id: AudioFileId,
    /// The owner.
    pub userid: UserId,
    /// The sync config's name.
    pub project_name: Option<String>,
    /// The file's name.
    pub filename: String,
    /// Bytes.
    pub file_size: Option<i64>,
    /// The MIME type.
    pub content_type: Option<String>,
    /// Seconds of audio.
    pub duration: Option<f64>,
    /// When the file was synced.
    pub upload_date: Option<DateTime<Utc>>,
    /// Where processing stands.
    pub status: AudioStatus,
    /// The original object.
    pub s3_uri: String,
    /// A summary of the chunks (JSON list of `{ordinal, start, end, s3_uri, status}`).
    pub chunks: serde_json::Value,
    /// Decoder facts and errors.
    pub metadata: serde_json::Value,
    /// The synced file.
    pub sync_file_id: FileId,
}

/// One chunk of an audio file (`p8."AudioChunk"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct AudioChunkRecord {
    /// Derived from (audio file, ordinal).
    pub id: AudioChunkId,
    /// Its audio file.
    pub audio_file_id: AudioFileId,
    /// Its position.
    pub ordinal: i32,
    /// Seconds from the start of the file.
    pub start_time: f64,
    /// Seconds from the start of the file.
    pub end_time: f64,
    /// Seconds.
    pub duration: f64,
    /// The chunk's own WAV object (mono 16 kHz).
    pub s3_uri: String,
    /// The text, once transcribed.
    pub transcription: Option<String>,
    /// The backend's confidence, when it gives one.
    pub confidence: Option<f64>,
    /// The speaker, when known.
    pub speaker_id: Option<String>,
    /// Backend details.
    pub metadata: serde_json::Value,
    /// The owner.
    pub userid: UserId,
    /// How transcription went.
    pub status: ChunkStatus,
    /// Why it failed, or why it was not transcribed.
    pub error: Option<String>,
}

/// How a job ended, written in one transaction with the job's completion.
#[derive(Debug, Clone)]
pub struct IngestOutcome {
    /// What to record on the file.
    pub status: IngestStatus,
    /// A sentence for people (how many chunks, why not ingestible, ...).
    pub message: Option<String>,
    /// The file's resources: they replace all earlier ones.
    pub resources: Vec<Resource>,
}

impl IngestOutcome {
    /// Whether `SyncFile.ingested` is true after it: resources were made from the content.
    pub fn ingested(&self) -> bool {
        matches!(
            self.status,
            IngestStatus::Ingested | IngestStatus::Transcribed
        ) && !self.resources.is_empty()
    }
}

/// Jobs per status, for operators.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct QueueDepth {
    /// Waiting.
    pub queued: i64,
    /// Leased.
    pub running: i64,
    /// Finished.
    pub done: i64,
    /// Given up.
    pub dead: i64,
}

impl QueueDepth {
    /// Count `n` jobs of the stored status `status` (unknown values are ignored).
    pub(crate) fn add(&mut self, status: &str, n: i64) {
        match JobStatus::parse(status) {
            Some(JobStatus::Queued) => self.queued += n,
            Some(JobStatus::Running) => self.running += n,
            Some(JobStatus::Done) => self.done += n,
            Some(JobStatus::Dead) => self.dead += n,
            None => {}
        }
    }
}

/// One job's row, for listings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct JobInfo {
    /// The file.
    pub file_id: FileId,
    /// Its config.
    pub config_id: ConfigId,
    /// Where it stands.
    pub status: JobStatus,
    /// Attempts so far.
    pub attempts: i32,
    /// Not before.
    pub run_after: DateTime<Utc>,
    /// The last failure.
    pub last_error: Option<String>,
}

/// A synced file to record, with ingestion's outcome when it is settled already.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The file's new state.
    pub file: SyncFile,
    /// What ingestion records without a job ([`Triage`]); `None` queues a job.
    pub settled: Option<IngestOutcome>,
}

/// Ingestion's word on a synced file before its job is queued (the sync asks; ingestion
/// answers, without the sync depending on it). A file ingestion would only record ("stored
/// only") is recorded so by the sync itself, in the transaction that saves it, instead of
/// through a job's claim and finish: in a run of many small files of such types, most of the
/// time went to those jobs.
#[async_trait::async_trait]
pub trait Triage: Send + Sync {
    /// The outcome ingestion would record for `file`'s new content without reading it and
    /// without making anything from it; `None` when it has work to do (or can't tell).
    async fn settled(&self, file: &SyncFile) -> Option<IngestOutcome>;
}

/// The ingestion side of the store; every [`super::Store`] implements it.
#[async_trait::async_trait]
pub trait IngestStore: Send + Sync {
    /// Write a file's state and queue its ingestion, in one transaction: a crash leaves
    /// either the old row and no job, or both. A job already there for the file is reset.
    async fn put_file_and_enqueue(&self, file: &SyncFile) -> Result<(), StoreError>;
    /// Write synced files' states with their ingestion, in one transaction: each file's job
    /// is queued (or reset), or, where `settled` says what ingestion would record without a job
    /// (content it only stores, no resources), that outcome is written as a finished job would
    /// leave it and whatever earlier content made is removed.
    async fn put_synced_files(&self, files: &[Synced]) -> Result<(), StoreError>;
    /// Queue (or reset) the jobs of `config`'s synced files that never had one, or whose last
    /// one died, waits for a retry, or left audio untranscribed (a backend may be configured
    /// now); every synced file when `all`. Returns how many.
    async fn enqueue_config(&self, config: ConfigId, all: bool) -> Result<u64, StoreError>;
    /// Claim the next due job under the token `owner` (unique to this claim: it is the lease)
    /// for `lease`, taking over jobs whose lease ran out. A job whose lease ran out with
    /// `max_attempts` attempts spent is set aside as dead instead.
    async fn claim_ingest_job(
        &self,
        owner: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<IngestJob>, StoreError>;
    /// Extend a lease; `false` when it is no longer this holder's.
    async fn renew_ingest_lease(
        &self,
        file: FileId,
        lease: &str,
        extend: Duration,
    ) -> Result<bool, StoreError>;
    /// Record a failed attempt: try again at `retry_at`, or set the job aside as dead when
    /// `None`. `false` when the lease was lost (nothing written).
    async fn fail_ingest_job(
        &self,
        file: FileId,
        lease: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError>;
    /// Finish a job: replace the file's resources with the outcome's, record the outcome on
    /// the file and mark the job done, in one transaction. `false` when the lease was lost
    /// (the file changed, or another worker took over): nothing is written.
    async fn finish_ingest_job(
        &self,
        file: FileId,
        lease: &str,
        outcome: &IngestOutcome,
    ) -> Result<bool, StoreError>;
    /// Insert or replace an audio file's row.
    async fn put_audio_file(&self, audio: &AudioFileRecord) -> Result<(), StoreError>;
    /// Insert or replace a chunk's row.
    async fn put_audio_chunk(&self, chunk: &AudioChunkRecord) -> Result<(), StoreError>;
    /// Remove an audio file's chunks from `from_ordinal` on (left over from older content).
    async fn delete_audio_chunks(
        &self,
        audio: AudioFileId,
        from_ordinal: i32,
    ) -> Result<u64, StoreError>;
    /// Remove the audio rows made from a file (it is gone, or no longer audio).
    async fn delete_audio_for_file(&self, file: FileId) -> Result<u64, StoreError>;
    /// The resources made from a file, in order.
    async fn resources_for_file(&self, file: FileId) -> Result<Vec<Resource>, StoreError>;
    /// The audio row made from a file.
    async fn audio_file_for(&self, file: FileId) -> Result<Option<AudioFileRecord>, StoreError>;
    /// An audio file's chunks, in order.
    async fn audio_chunks(&self, audio: AudioFileId) -> Result<Vec<AudioChunkRecord>, StoreError>;
    /// Jobs, of one config or all, oldest first.
    async fn ingest_jobs(&self, config: Option<ConfigId>) -> Result<Vec<JobInfo>, StoreError>;
    /// Jobs per status.
    async fn queue_depth(&self) -> Result<QueueDepth, StoreError>;
}

/// A lease's end, `now + lease`.
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::hours(1))
}

/// The message a dead job gets when its worker vanished every time.
pub(crate) fn vanished_message(attempts: i32) -> String {
    format!(
        "the worker ingesting this file stopped without finishing {attempts} times (a crash, or \
         a kill while it ran); set aside so it cannot take every worker down. `p8sync ingest \
         retry` queues it again"
    )
}
