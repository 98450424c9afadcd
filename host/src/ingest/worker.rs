//! The ingestion worker: claims jobs from the durable queue, keeps their lease alive while it
//! works, routes each file to its pipeline, and records the outcome (or the failure, with
//! backoff, until the job is set aside as dead).

use super::route::{Route, Routes};
use super::{IngestError, IngestOptions, audio_job, text_job};
use crate::blob::{BlobStore, ObjectKey};
use crate::extract::{Extractors, OutputKind};
use crate::ingest::audio::TranscriptionBackend;
use crate::store::ingest::{IngestJob, IngestOutcome, IngestStatus};
use crate::store::{FileStatus, Store, StoreError, SyncFile};
use chrono::Utc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt;

/// Runs ingestion jobs.
#[derive(Clone)]
pub struct Ingestor {
    pub(super) store: Arc<dyn Store>,
    pub(super) blob: Arc<dyn BlobStore>,
    pub(super) options: Arc<IngestOptions>,
    pub(super) transcriber: Option<Arc<TranscriptionBackend>>,
    /// The sandboxed parsers of documents and audio (none: only plain text is read).
    pub(super) extractors: Option<Arc<Extractors>>,
    routes: Arc<Routes>,
    owner: String,
    claims: Arc<AtomicU64>,
}

/// What one drain did, job by job outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// Text files made into resources.
    pub ingested: u64,
    /// Audio files transcribed.
    pub transcribed: u64,
    /// Audio files chunked without a transcript.
    pub untranscribed: u64,
    /// Files kept as stored only.
    pub stored: u64,
    /// Files whose content could not be read.
    pub not_ingestible: u64,
    /// Files whose derived data was removed (the file is gone).
    pub removed: u64,
    /// Attempts that failed and will be tried again.
    pub retrying: u64,
    /// Jobs set aside after their last attempt.
    pub dead: u64,
    /// Jobs whose file changed (or whose lease another worker took) while they ran.
    pub superseded: u64,
    /// Jobs taken over from a worker whose lease ran out.
    pub taken_over: u64,
}

impl DrainReport {
    fn count(&mut self, status: IngestStatus) {
        match status {
            IngestStatus::Ingested => self.ingested += 1,
            IngestStatus::Transcribed => self.transcribed += 1,
            IngestStatus::Untranscribed => self.untranscribed += 1,
            IngestStatus::Stored => self.stored += 1,
            IngestStatus::NotIngestible => self.not_ingestible += 1,
            IngestStatus::Removed => self.removed += 1,
            IngestStatus::Retrying => self.retrying += 1,
            IngestStatus::Dead => self.dead += 1,
            IngestStatus::Queued => {}
        }
    }

    fn merge(&mut self, other: &DrainReport) {
        self.ingested += other.ingested;
        self.transcribed += other.transcribed;
        self.untranscribed += other.untranscribed;
        self.stored += other.stored;
        self.not_ingestible += other.not_ingestible;
        self.removed += other.removed;
        self.retrying += other.retrying;
        self.dead += other.dead;
        self.superseded += other.superseded;
        self.taken_over += other.taken_over;
    }

    /// Jobs that reached an end this drain.
    pub fn finished(&self) -> u64 {
        self.ingested
            + self.transcribed
            + self.untranscribed
            + self.stored
            + self.not_ingestible
            + self.removed
            + self.dead
    }
}

/// How one job ended, for the report.
enum Ended {
    Outcome(IngestStatus),
    Superseded,
}

impl Ingestor {
    /// An ingestor over `store` and `blob`; the transcription backend comes from the
    /// environment (none is fine: audio is still chunked, and says why it has no transcript).
    pub fn new(store: Arc<dyn Store>, blob: Arc<dyn BlobStore>, options: IngestOptions) -> Self {
        let routes = Arc::new(options.routes.clone());
        Ingestor {
            store,
            blob,
            options: Arc::new(options),
            transcriber: TranscriptionBackend::from_env().map(Arc::new),
            extractors: None,
            routes,
            owner: crate::config::replica_name(),
            claims: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many jobs it runs at a time (`P8_INGEST_WORKERS`).
    pub fn workers(&self) -> usize {
        self.options.workers.max(1)
    }

    /// Parse documents and audio with these extractors.
    pub fn with_extractors(mut self, extractors: Arc<Extractors>) -> Self {
        self.extractors = Some(extractors);
        self
    }

    /// Use this transcription backend (or none) instead of the environment's.
    pub fn with_transcriber(mut self, backend: Option<TranscriptionBackend>) -> Self {
        self.transcriber = backend.map(Arc::new);
        self
    }

    /// Run jobs until none is due, with `options.workers` at a time. Jobs waiting for a retry
    /// later are left for a later drain.
    pub async fn drain(&self) -> Result<DrainReport, IngestError> {
        let workers = self.options.workers.max(1);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers {
            let me = self.clone();
            tasks.spawn(async move {
                let mut report = DrainReport::default();
                while me.run_one(&mut report).await? {}
                Ok::<_, IngestError>(report)
            });
        }
        let mut total = DrainReport::default();
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(report)) => total.merge(&report),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(IngestError::Worker(e.to_string()));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }

    /// Claim and run one job; `false` when none was due.
    pub async fn run_one(&self, report: &mut DrainReport) -> Result<bool, IngestError> {
        let lease = format!(
            "{}/{}/{}",
            self.owner,
            self.claims.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4()
        );
        let Some(job) = self
            .store
            .claim_ingest_job(&lease, self.options.lease, self.options.max_attempts)
            .await?
        else {
            return Ok(false);
        };
        if job.taken_over {
            report.taken_over += 1;
            crate::metrics::lease_taken_over(crate::metrics::LeaseKind::Ingest);
            tracing::warn!(file = %job.file.id, attempt = job.attempt, "took over an ingestion job whose worker stopped");
        }
        // The one place every attempt ends (an error here is the store's, not the job's).
        match self.run_leased(&job).await? {
            Ended::Outcome(status) => {
                report.count(status);
                crate::metrics::ingest_job_finished(status);
            }
            Ended::Superseded => {
                report.superseded += 1;
                crate::metrics::ingest_job_superseded();
            }
        }
        Ok(true)
    }

    /// Run a claimed job while a heartbeat renews its lease; losing the lease stops the work.
    async fn run_leased(&self, job: &IngestJob) -> Result<Ended, IngestError> {
        let what = format!("ingestion job {}", job.file.id);
        let heartbeat = crate::store::hold_lease(self.options.lease, &what, || {
            self.store
                .renew_ingest_lease(job.file.id, &job.lease, self.options.lease)
        });
        let span = tracing::info_span!("ingest", file = %job.file.id, config = %job.file.config_id);
        let work = tracing::Instrument::instrument(self.process(job), span);
        let result = tokio::select! {
            result = work => result,
            () = heartbeat => {
                tracing::info!(file = %job.file.id, "the file changed or another worker took the job; stopped");
                return Ok(Ended::Superseded);
            }
        };
        match result {
            Ok(outcome) => {
                let status = outcome.status;
                if self
                    .store
                    .finish_ingest_job(job.file.id, &job.lease, &outcome)
                    .await?
                {
                    tracing::debug!(
                        file = %job.file.id,
                        status = %status,
                        resources = outcome.resources.len(),
                        "ingested"
                    );
                    Ok(Ended::Outcome(status))
                } else {
                    Ok(Ended::Superseded)
                }
            }
            Err(failure) => self.record_failure(job, failure).await,
        }
    }

    async fn record_failure(
        &self,
        job: &IngestJob,
        failure: Failure,
    ) -> Result<Ended, IngestError> {
        let last = job.attempt >= self.options.max_attempts || !failure.retryable;
        let message = if last && failure.retryable {
            format!(
                "{} (gave up after {} attempts; `p8sync ingest retry` queues it again)",
                failure.message, job.attempt
            )
        } else {
            failure.message.clone()
        };
        let retry_at = (!last).then(|| {
            let wait = self.options.backoff.delay(job.attempt);
            Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
        });
        tracing::warn!(file = %job.file.id, attempt = job.attempt, "ingestion failed: {message}");
        if self
            .store
            .fail_ingest_job(job.file.id, &job.lease, &message, retry_at)
            .await?
        {
            Ok(Ended::Outcome(if last {
                IngestStatus::Dead
            } else {
                IngestStatus::Retrying
            }))
        } else {
            Ok(Ended::Superseded)
        }
    }

    /// Bring what ingestion made of the file in line with the file as it is now.
    async fn process(&self, job: &IngestJob) -> Result<IngestOutcome, Failure> {
        let file = &job.file;
        let uri = match (&file.status, &file.s3_uri) {
            (FileStatus::Synced, Some(uri)) => uri.clone(),
            _ => return self.remove(job).await,
        };
        let key = ObjectKey::from_uri(&uri).ok_or_else(|| Failure {
            message: format!("the object URI {uri} is not one p8sync wrote"),
            retryable: false,
        })?;
        let route = self.route(file, &key).await;
        if route != Route::Audio {
            // It may have been audio before it changed.
            self.forget_audio(job).await?;
        }
        match route {
            Route::Store => Ok(stored_only(file)),
            Route::Text(format) => {
                text_job::ingest(self, job, &key, text_job::Source::Builtin(format)).await
            }
            Route::Extractor => {
                text_job::ingest(self, job, &key, text_job::Source::Discovered).await
            }
            Route::Audio => audio_job::ingest(self, job, &key).await,
        }
    }

    /// Where `file`, stored as `key`, goes: by the routing rules, else by the installed
    /// extractors.
    async fn route(&self, file: &SyncFile, key: &ObjectKey) -> Route {
        let names: Vec<&str> = [file.remote_name.as_deref(), Some(key.as_str())]
            .into_iter()
            .flatten()
            .collect();
        match self.routes.matched(file.remote_type.as_deref(), &names) {
            Some(route) => route,
            // No rule knows the type: an installed extractor may (a third party's EPUB reader).
            None => {
                self.extractor_route(file.remote_type.as_deref(), &names)
                    .await
            }
        }
    }

    /// Where a file no routing rule knows goes: to text or audio ingestion when an installed
    /// extractor reads its type, else to storage only.
    async fn extractor_route(&self, mime: Option<&str>, names: &[&str]) -> Route {
        let Some(extractors) = &self.extractors else {
            return Route::Store;
        };
        if extractors
            .find(OutputKind::Text, None, mime, names)
            .await
            .is_some()
        {
            Route::Extractor
        } else if extractors
            .find(OutputKind::Pcm, None, mime, names)
            .await
            .is_some()
        {
            Route::Audio
        } else {
            Route::Store
        }
    }

    /// The file is gone (or no longer synced): remove what was made from it.
    async fn remove(&self, job: &IngestJob) -> Result<IngestOutcome, Failure> {
        self.forget_audio(job).await?;
        Ok(IngestOutcome {
            status: IngestStatus::Removed,
            message: Some(format!(
                "the file is {}; its resources were removed",
                job.file.status
            )),
            resources: vec![],
        })
    }

    /// Remove the audio rows and chunk objects made from the file, if any.
    async fn forget_audio(&self, job: &IngestJob) -> Result<(), Failure> {
        let Some(audio) = self.store.audio_file_for(job.file.id).await? else {
            return Ok(());
        };
        let chunks = self.store.audio_chunks(audio.id).await?;
        self.delete_objects(chunks.iter().map(|c| c.s3_uri.as_str()))
            .await?;
        self.store.delete_audio_for_file(job.file.id).await?;
        Ok(())
    }

    /// Remove objects this host wrote (derived ones, like audio chunks) by their URIs.
    pub(super) async fn delete_objects(
        &self,
        uris: impl Iterator<Item = &str>,
    ) -> Result<(), Failure> {
        for uri in uris {
            if let Some(key) = ObjectKey::from_uri(uri) {
                self.blob.delete(&key).await.map_err(Failure::retry)?;
            }
        }
        Ok(())
    }

    /// Copy the object at `key` into a scratch file: the pipelines read files, and memory
    /// must not grow with the object.
    pub(super) async fn download(&self, key: &ObjectKey) -> Result<tempfile::TempPath, Failure> {
        let dir = self.options.scratch_dir();
        std::fs::create_dir_all(&dir).map_err(|e| Failure {
            message: format!("cannot create the scratch directory {}: {e}", dir.display()),
            retryable: true,
        })?;
        let path = tempfile::Builder::new()
            .prefix("p8sync-ingest-")
            .tempfile_in(&dir)
            .map_err(|e| Failure::retry(format!("cannot create a scratch file: {e}")))?
            .into_temp_path();
        let mut reader = self.blob.read(key).await.map_err(Failure::retry)?;
        let mut out = tokio::fs::File::create(&path)
            .await
            .map_err(|e| Failure::retry(format!("cannot write a scratch file: {e}")))?;
        tokio::io::copy(&mut reader, &mut out)
            .await
            .map_err(|e| Failure::retry(format!("reading the stored object {key}: {e}")))?;
        out.flush()
            .await
            .map_err(|e| Failure::retry(format!("writing a scratch file: {e}")))?;
        Ok(path)
    }
}

/// Why an attempt failed, and whether another may work.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) message: String,
    pub(super) retryable: bool,
}

impl Failure {
    /// A failure worth another attempt later.
    pub(super) fn retry(message: impl std::fmt::Display) -> Self {
        Failure {
            message: message.to_string(),
            retryable: true,
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::retry(e)
    }
}

/// What ingestion records for a file it only stores.
fn stored_only(file: &SyncFile) -> IngestOutcome {
    IngestOutcome {
        status: IngestStatus::Stored,
        message: Some(format!(
            "stored only: {} is not routed to text or audio ingestion",
            file.remote_type.as_deref().unwrap_or("this type")
        )),
        resources: vec![],
    }
}

#[async_trait::async_trait]
impl crate::store::ingest::Triage for Ingestor {
    async fn settled(&self, file: &SyncFile) -> Option<IngestOutcome> {
        if file.status != FileStatus::Synced {
            return None;
        }
        let key = ObjectKey::from_uri(file.s3_uri.as_deref()?)?;
        (self.route(file, &key).await == Route::Store).then(|| stored_only(file))
    }
}
