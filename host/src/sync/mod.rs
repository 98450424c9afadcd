//! The sync engine, per config: list through the provider, filter and diff against what is
//! recorded ([`plan`]), move new and changed files into the object store with bounded
//! concurrency ([`transfer`]), and record each file's outcome in its own write.
//!
//! A listing that fails ends the run before anything is compared: an outage must never look
//! like an empty folder (that would mark every file deleted).

pub mod auth;
pub mod checksum;
pub mod live;
pub mod local_roots;
pub mod plan;
pub mod retry;
pub mod schedule;
pub mod transfer;
pub mod validate;

use crate::blob::{BlobStore, ObjectKey};
use crate::runtime::provider::{ListLimits, ListTally};
use crate::runtime::types::{Capability, Entry, ListRequest, ProviderError, SkippedEntry};
use crate::runtime::{CallContext, CallError, Provider, Registry, UnknownProvider};
use crate::store::ids::LogId;
use crate::store::ingest::{IngestStatus, Synced, Triage};
use crate::store::{
    FileState, FileStatus, LogStatus, Store, StoreError, SyncConfig, SyncFile, SyncLog,
};
use chrono::Utc;
use futures::StreamExt;
use plan::Action;
use retry::RetryPolicy;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use tokio_util::task::AbortOnDropHandle;

/// Where a sync is, for progress displays.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Files transferred or failed so far.
    pub files_done: u64,
    /// Files to transfer in this run.
    pub files_total: u64,
    /// Bytes transferred so far.
    pub bytes_done: u64,
    /// Bytes to transfer, as far as the provider reported sizes.
    pub bytes_total: u64,
}

/// Called after each file.
pub type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// How a sync runs.
#[derive(Clone)]
pub struct SyncOptions {
    /// Files transferred at once.
    pub transfers: usize,
    /// Retries of transient provider errors.
    pub retry: RetryPolicy,
    /// Plan only: report what would happen, write nothing.
    pub dry_run: bool,
    /// List everything even when a change cursor is saved (`sync --full`).
    pub full: bool,
    /// Told after each file.
    pub progress: Option<ProgressFn>,
    /// What one run may gather and one transfer may take.
    pub limits: SyncLimits,
    /// Which local folders each config's owner may read, checked at the start of every run of
    /// a local-folder config (default: anywhere, as the operator's CLI configs may point).
    pub local_roots: local_roots::LocalRoots,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            transfers: 4,
            retry: RetryPolicy::default(),
            dry_run: false,
            full: false,
            progress: None,
            limits: SyncLimits::default(),
            local_roots: local_roots::LocalRoots::Anywhere,
        }
    }
}

impl SyncOptions {
    /// The defaults, with the operator's limits from the environment:
    /// `P8_MAX_RETRY_AFTER_SECS`, `P8_TRANSFER_TIMEOUT_SECS`, `P8_MAX_EXPORT_BYTES`,
    /// `P8_MAX_ENTRIES_PER_RUN`, `P8_MAX_LISTING_MB` and `P8_MAX_PAGES_PER_RUN`.
    pub fn from_env() -> Result<Self, crate::config::SettingError> {
        let mut options = SyncOptions::default();
        if let Some(secs) = positive::<u64>("P8_MAX_RETRY_AFTER_SECS")? {
            options.retry.max_retry_after = std::time::Duration::from_secs(secs);
        }
        options.limits = SyncLimits::from_env()?;
        Ok(options)
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(
    name: &str,
) -> Result<Option<T>, crate::config::SettingError> {
    crate::config::env_parsed(name, "expected a positive whole number", |n: &T| {
        *n > T::default()
    })
}

/// Bounds on a run's data plane. What a run lists and downloads comes from outside (a
/// provider component, a server), so every amount is bounded: what a run holds from listings
/// and change feeds, and the bytes and time of each file's transfer.
#[derive(Debug, Clone)]
pub struct SyncLimits {
    /// Pages, entries and bytes one run may gather from a listing or a change feed.
    pub listing: ListLimits,
    /// How long one file's transfer may take, from asking for its fetch plan to the stored
    /// object (`P8_TRANSFER_TIMEOUT_SECS`, default an hour). A file listed larger than this
    /// allows at 1 MiB/s gets one second per MiB instead.
    pub transfer_timeout: std::time::Duration,
    /// The most bytes a file whose size was not listed (an export) may have
    /// (`P8_MAX_EXPORT_BYTES`, default 1 GiB); the config's `max_file_size` when lower.
    pub max_unlisted_bytes: u64,
}

impl SyncLimits {
    /// Default of `transfer_timeout`.
    pub const DEFAULT_TRANSFER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3600);
    /// Default of `max_unlisted_bytes`.
    pub const DEFAULT_MAX_UNLISTED_BYTES: u64 = 1024 * 1024 * 1024;

    /// The defaults, with what the environment sets.
    pub fn from_env() -> Result<Self, crate::config::SettingError> {
        let mut limits = SyncLimits::default();
        if let Some(secs) = positive::<u64>("P8_TRANSFER_TIMEOUT_SECS")? {
            limits.transfer_timeout = std::time::Duration::from_secs(secs);
        }
        if let Some(bytes) = positive::<u64>("P8_MAX_EXPORT_BYTES")? {
            limits.max_unlisted_bytes = bytes;
        }
        if let Some(n) = positive::<usize>("P8_MAX_ENTRIES_PER_RUN")? {
            limits.listing.max_entries = n;
        }
        if let Some(mb) = positive::<usize>("P8_MAX_LISTING_MB")? {
            limits.listing.max_bytes = mb.saturating_mul(1024 * 1024);
        }
        if let Some(n) = positive::<usize>("P8_MAX_PAGES_PER_RUN")? {
            limits.listing.max_pages = n;
        }
        Ok(limits)
    }

    /// How long `entry`'s transfer may take: the timeout, or a second per MiB of its listed
    /// size when that is longer (a 1 MiB/s floor for very large files).
    pub fn transfer_timeout_for(&self, entry: &Entry) -> std::time::Duration {
        let by_size = std::time::Duration::from_secs(entry.size.unwrap_or(0) / (1024 * 1024));
        self.transfer_timeout.max(by_size)
    }
}

impl Default for SyncLimits {
    fn default() -> Self {
        SyncLimits {
            listing: ListLimits::default(),
            transfer_timeout: Self::DEFAULT_TRANSFER_TIMEOUT,
            max_unlisted_bytes: Self::DEFAULT_MAX_UNLISTED_BYTES,
        }
    }
}

/// How long past its deadline a transfer's write may take to give up cleanly (abort a
/// multipart upload, remove a partial file) before it is dropped where it stands.
const TRANSFER_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// How many files' whole rows a run reads in one query.
const ROWS_AT_ONCE: usize = 500;

/// What a run will do, decided before anything is transferred.
struct RunPlan {
    /// What to do with each file, one at a time, with what was compared of its record.
    actions: Box<dyn Iterator<Item = Action<FileState>> + Send>,
    /// What the provider skipped on purpose, with why.
    skipped: Vec<SkippedEntry>,
    /// The records of the skipped files, which keep their rows.
    held: HashMap<String, SyncFile>,
    /// The change cursor to save when the run succeeds.
    cursor: Option<String>,
}

/// How one file's transfer ended, when it did not fail.
enum Done {
    /// The object is stored, this many bytes; the file's record is still to be written.
    Stored(Box<SyncFile>, u64),
    /// Left out by the config's `max_file_size`, found out while it streamed.
    Excluded,
}

/// What every file's transfer in a run needs. Each file is transferred on a task of its own,
/// so the run's files are worked on by every core (hashing, signing, the component call),
/// not one after the other by the run's task.
struct Transfers {
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    options: SyncOptions,
    config: SyncConfig,
    provider: Arc<Provider>,
    cx: CallContext,
}

impl Transfers {
    /// Move one file and record the outcome; any error is the file's, never the run's. The
    /// whole attempt (fetch plan, download, retries) runs against the file's deadline.
    async fn one(
        self: Arc<Self>,
        entry: Box<Entry>,
        existing: Option<SyncFile>,
    ) -> Result<Done, FileFailure> {
        let (config, provider, cx) = (&self.config, &*self.provider, &self.cx);
        let mut file = existing.unwrap_or_else(|| SyncFile::new(config, &entry.id));
        describe(&mut file, &entry);
        let now = Utc::now();
        let timeout = self.options.limits.transfer_timeout_for(&entry);
        let limits = transfer::TransferLimits {
            max_file_size: config.max_file_size.and_then(|m| u64::try_from(m).ok()),
            max_unlisted_bytes: self.options.limits.max_unlisted_bytes,
            deadline: tokio::time::Instant::now() + timeout,
            timeout,
        };
        let expired = || Failed::transfer(&transfer::TransferError::Deadline(timeout));
        let attempt = async {
            let fetch_plan = within(
                &limits,
                auth::call(&self.options.retry, cx, || provider.fetch(cx, &entry)),
            )
            .await?
            .map_err(|e| {
                let retryable = !matches!(
                    e.provider_error(),
                    Some(
                        ProviderError::Forbidden(_)
                            | ProviderError::NotFound(_)
                            | ProviderError::Permanent(_)
                    )
                );
                Failed::call(&e, retryable)
            })?;
            let key = ObjectKey::for_file(
                config.id,
                file.id,
                &entry.name,
                entry.export_as.as_ref().map(|e| e.extension.as_str()),
            );
            let mut plan = fetch_plan;
            let mut attempt = 0;
            loop {
                let result = transfer::transfer(
                    plan,
                    &entry,
                    (provider, cx, &self.options.retry),
                    self.blob.as_ref(),
                    &key,
                    &limits,
                )
                .await;
                match result {
                    // A body cut off half-way (or damaged) is worth fetching again, with a
                    // fresh plan: its URL may have been single-use.
                    Err(e) if e.is_interrupted() && attempt < self.options.retry.retries => {
                        let wait = self.options.retry.delay(attempt, None);
                        tracing::info!(file = %entry.id, "{e}; fetching again in {wait:?}");
                        within(&limits, tokio::time::sleep(wait)).await?;
                        attempt += 1;
                        plan = within(
                            &limits,
                            auth::call(&self.options.retry, cx, || provider.fetch(cx, &entry)),
                        )
                        .await?
                        .map_err(|e| Failed::call(&e, true))?;
                    }
                    other => break other.map_err(|e| Failed::transfer(&e)),
                }
            }
        };
        // The download itself stops at the deadline (and keeps nothing); this is for a write
        // that then does not finish giving up.
        let attempt = tokio::time::timeout_at(limits.deadline + TRANSFER_GRACE, attempt)
            .await
            .unwrap_or_else(|_| Err(expired()));
        match attempt {
            Ok(done) => {
                file.status = FileStatus::Synced;
                file.s3_uri = Some(done.object.uri);
                file.local_size = Some(done.object.size as i64);
                file.local_checksum = Some(done.sha256);
                file.local_modified_at = Some(now);
                file.last_sync_at = Some(now);
                file.sync_attempts = 0;
                file.error_message = None;
                file.ingested = false;
                Ok(Done::Stored(Box::new(file), done.object.size))
            }
            Err(Failed {
                message,
                excluded: true,
                ..
            }) => {
                // Like a file listed over `max_file_size`, it is left out, not failed; unlike
                // one, it is recorded, because only its download showed its size. An object
                // synced before is kept, as for other files that stop being synced.
                tracing::info!(file = %entry.id, "left out: {message}");
                file.status = FileStatus::Skipped;
                file.last_sync_at = Some(now);
                file.error_message = Some(message.clone());
                self.store.put_file(&file).await.map_err(|e| FileFailure {
                    remote_id: entry.id.clone(),
                    error: format!("{message}; and recording it failed: {e}"),
                    retryable: true,
                })?;
                Ok(Done::Excluded)
            }
            Err(Failed {
                message: error,
                retryable,
                ..
            }) => {
                let failure = |error: String| FileFailure {
                    remote_id: entry.id.clone(),
                    error,
                    retryable,
                };
                if auth::dead(cx).is_some() {
                    // Not the file's fault: leave its record as it was.
                    return Err(failure(error));
                }
                tracing::warn!(file = %entry.id, "{error}");
                file.status = FileStatus::Failed;
                file.sync_attempts += 1;
                file.last_sync_at = Some(now);
                file.error_message = Some(error.clone());
                if let Err(e) = self.store.put_file(&file).await {
                    return Err(failure(format!("{error}; and recording it failed: {e}")));
                }
                Err(failure(error))
            }
        }
    }
}

/// The most synced files recorded in one transaction.
const RECORD_BATCH: usize = 256;

/// How long a batch of synced files waits for more before it is recorded.
const RECORD_LINGER: std::time::Duration = std::time::Duration::from_millis(20);

/// How one file's attempt failed.
struct Failed {
    message: String,
    retryable: bool,
    excluded: bool,
}

impl Failed {
    fn call(e: &CallError, retryable: bool) -> Self {
        Failed {
            message: e.to_string(),
            retryable,
            excluded: false,
        }
    }

    fn transfer(e: &transfer::TransferError) -> Self {
        Failed {
            message: e.to_string(),
            retryable: e.is_retryable(),
            excluded: e.is_excluded(),
        }
    }
}

/// One file that failed, for the report and `SyncLog.detailed_log`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileFailure {
    /// The provider's id for the file.
    pub remote_id: String,
    /// What went wrong.
    pub error: String,
    /// Whether it may work next time by itself (a timeout, an outage). A file the provider
    /// refuses (abuse flag, not found, not downloadable) does not hold the change cursor back.
    pub retryable: bool,
}

/// What a sync did. Carries the seed's fields (`success`, `log_id`, `files_synced`,
/// `files_failed`, `message`) and more.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SyncReport {
    /// Every file synced (or was unchanged); nothing failed.
    pub success: bool,
    /// The `SyncLog` row (none for a dry run).
    pub log_id: Option<LogId>,
    /// Files transferred (or, in a dry run, that would be).
    pub files_synced: u64,
    /// Files that failed.
    pub files_failed: u64,
    /// Files that needed nothing.
    pub files_unchanged: u64,
    /// Files found deleted at the provider.
    pub files_deleted: u64,
    /// Files left out by filters.
    pub files_skipped: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Someone asked the run to stop, and it stopped before every file was done.
    pub cancelled: bool,
    /// One line for people.
    pub message: String,
    /// The failures.
    pub failures: Vec<FileFailure>,
    /// In a dry run, what would happen to each file and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<plan::Decision>,
}

/// A sync that could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The config names a provider that is not installed.
    #[error("sync config `{config}`: {source}")]
    UnknownProvider {
        /// The config's name.
        config: String,
        /// Which ids exist.
        source: UnknownProvider,
    },
    /// The config is unusable.
    #[error("sync config `{config}` is invalid: {reason}")]
    Config {
        /// The config's name.
        config: String,
        /// What is wrong.
        reason: String,
    },
    /// The credential is unusable (revoked, missing, never granted offline access); the run
    /// stopped and no file was marked failed or deleted because of it.
    #[error("sync config `{config}` stopped: {message}")]
    Credential {
        /// The config's name.
        config: String,
        /// What failed and what to do.
        message: String,
    },
    /// The listing failed; nothing was changed.
    #[error("listing failed, so nothing was changed: {0}")]
    Listing(CallError),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The object store is unusable.
    #[error(transparent)]
    Blob(#[from] crate::blob::BlobError),
}

/// Runs syncs against one store, one object store and the installed providers.
pub struct SyncEngine {
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    registry: Arc<Registry>,
    options: SyncOptions,
    tokens: Option<Arc<crate::oauth::TokenManager>>,
    triage: Option<Arc<dyn Triage>>,
}

impl SyncEngine {
    /// An engine.
    pub fn new(
        store: Arc<dyn Store>,
        blob: Arc<dyn BlobStore>,
        registry: Arc<Registry>,
        options: SyncOptions,
    ) -> Self {
        SyncEngine {
            store,
            blob,
            registry,
            options,
            tokens: None,
            triage: None,
        }
    }

    /// Ask `triage` before queueing a synced file's ingestion.
    pub fn with_triage(mut self, triage: Arc<dyn Triage>) -> Self {
        self.triage = Some(triage);
        self
    }

    /// Use `tokens` for providers that sign in with OAuth2.
    pub fn with_tokens(mut self, tokens: Arc<crate::oauth::TokenManager>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    /// Sync one config. Per-file failures are recorded and reported, not returned as errors.
    pub async fn run(&self, config: &SyncConfig) -> Result<SyncReport, SyncError> {
        let started = Instant::now();
        let mut log = SyncLog::start(config);
        if !self.options.dry_run {
            // A run someone queued (`POST /sync/configs/{id}/run`) is this one: its log id was
            // handed out, so this run writes to it.
            if let Some(queued) = self.store.queued_run(config.id).await? {
                log.id = queued;
            }
            self.store.start_log(&log).await?;
        }
        let live = Arc::new(live::LiveRun::default());
        let _reporting =
            (!self.options.dry_run).then(|| live::report(self.store.clone(), log.id, live.clone()));
        let span = tracing::info_span!("sync", config_id = %config.id, provider = %config.provider);
        let outcome = tracing::Instrument::instrument(self.run_inner(config, &live), span).await;
        let report = match outcome {
            Ok(report) => report,
            Err(e) => {
                if !self.options.dry_run {
                    log.status = LogStatus::Failed;
                    log.completed_at = Some(Utc::now());
                    log.duration_seconds = Some(started.elapsed().as_secs_f64());
                    log.error_message = Some(e.to_string());
                    crate::metrics::sync_finished(&config.provider, &log);
                    let next = self.next_run(config, &log).await;
                    self.store.finish_log(&log, next).await?;
                }
                return Err(e);
            }
        };
        if self.options.dry_run {
            return Ok(report);
        }
        log.status = if report.cancelled {
            LogStatus::Cancelled
        } else if report.files_failed == 0 {
            LogStatus::Success
        } else if report.files_synced + report.files_unchanged > 0 {
            LogStatus::Partial
        } else {
            LogStatus::Failed
        };
        log.completed_at = Some(Utc::now());
        log.duration_seconds = Some(started.elapsed().as_secs_f64());
        log.files_total =
            (report.files_synced + report.files_failed + report.files_unchanged) as i32;
        log.files_synced = report.files_synced as i32;
        log.files_failed = report.files_failed as i32;
        log.files_unchanged = report.files_unchanged as i32;
        log.files_deleted = report.files_deleted as i32;
        log.bytes_synced = report.bytes as i64;
        if report.cancelled {
            log.error_message = Some(format!(
                "stopped on request after {} of the files to transfer",
                report.files_synced + report.files_failed
            ));
        } else if report.files_failed > 0 {
            log.error_message = Some(format!("{} files failed", report.files_failed));
        }
        log.detailed_log = Some(serde_json::json!({
            "failures": report.failures,
            "skipped": report.files_skipped,
        }));
        // Counted as the log records the run (dry runs, which change nothing, are not).
        crate::metrics::sync_finished(&config.provider, &log);
        let next = self.next_run(config, &log).await;
        self.store.finish_log(&log, next).await?;
        Ok(SyncReport {
            log_id: Some(log.id),
            ..report
        })
    }

    /// Replace the root `call_context` named with the folder the config's owner may read:
    /// opened inside the owner's roots at this moment and held for the run, so a symlink
    /// swapped in since the config was saved, or during the run, can't lead elsewhere.
    async fn grant_root(&self, config: &SyncConfig, cx: &mut CallContext) -> Result<(), SyncError> {
        let Some(root) = cx.root.take() else {
            return Ok(());
        };
        let roots = self.options.local_roots.roots_for(config.userid);
        let opened = tokio::task::spawn_blocking(move || {
            let granted = roots.open(&root)?;
            // A root that may be anywhere is still held open for the host's own reads, which
            // then start from the handle instead of a path lookup per file.
            let held = match &granted {
                local_roots::GrantedRoot::Named(path) => {
                    crate::runtime::local_root::HeldFolder::open_inside(path, &[]).ok()
                }
                local_roots::GrantedRoot::Held(_) => None,
            };
            Ok::<_, local_roots::RootRefused>((granted, held))
        })
        .await
        .map_err(|e| SyncError::Config {
            config: config.name.clone(),
            reason: format!("opening the root folder failed: {e}"),
        })?;
        match opened {
            Ok((local_roots::GrantedRoot::Named(path), held)) => {
                cx.root = Some(path);
                cx.held_root = held.map(Arc::new);
            }
            Ok((local_roots::GrantedRoot::Held(folder), _)) => cx.hold_root(folder),
            Err(refused) => {
                return Err(SyncError::Config {
                    config: config.name.clone(),
                    reason: validate::ConfigProblem::from(refused).to_string(),
                });
            }
        }
        Ok(())
    }

    async fn run_inner(
        &self,
        config: &SyncConfig,
        live: &Arc<live::LiveRun>,
    ) -> Result<SyncReport, SyncError> {
        let provider =
            self.registry
                .get(&config.provider)
                .map_err(|source| SyncError::UnknownProvider {
                    config: config.name.clone(),
                    source,
                })?;
        let (mut cx, planned) = call_context(config, &provider)?;
        self.grant_root(config, &mut cx).await?;
        auth::authorize(config, &provider, self.tokens.as_deref(), &mut cx).await?;
        let stopped = |cx: &CallContext| {
            auth::dead(cx).map(|e| SyncError::Credential {
                config: config.name.clone(),
                message: e.to_string(),
            })
        };
        // The scope is the config's as written: planning may hand the included folders to the
        // provider, which then lists only those.
        let scope = plan::scope(config);
        let pushed_includes = if planned.include_folders.is_empty() {
            config.include_folders.clone()
        } else {
            Vec::new()
        };
        let config = &planned;
        if !self.options.dry_run {
            self.blob.check().await?;
            self.blob
                .abandon_incomplete(&ObjectKey::config_prefix(config.id))
                .await?;
        }

        let planned = self
            .plan_run(config, &provider, &cx, &scope, &pushed_includes)
            .await;
        if let Some(stop) = stopped(&cx) {
            return Err(stop);
        }
        let RunPlan {
            mut actions,
            skipped: provider_skips,
            held,
            cursor: next_cursor,
        } = planned?;
        let skipped = provider_skips.len() as u64;
        let mut report = SyncReport {
            success: true,
            log_id: None,
            files_synced: 0,
            files_failed: 0,
            files_unchanged: 0,
            files_deleted: 0,
            files_skipped: skipped,
            bytes: 0,
            cancelled: false,
            message: String::new(),
            failures: Vec::new(),
            decisions: Vec::new(),
        };
        // A dry run explains every file; a real run records what the provider skipped.
        if self.options.dry_run {
            report
                .decisions
                .extend(provider_skips.iter().map(|s| plan::Decision {
                    path: s.name.clone(),
                    remote_id: s.id.clone(),
                    verdict: plan::Verdict::Skipped,
                    reason: Some(s.reason.clone()),
                }));
        } else {
            self.record_skips(config, provider_skips, held).await?;
        }
        let mut transfers = Vec::new();
        loop {
            // A chunk at a time, so that the whole rows of the files acted on are read in a
            // few queries, and never all at once.
            let chunk: Vec<Action<FileState>> = actions.by_ref().take(ROWS_AT_ONCE).collect();
            if chunk.is_empty() {
                break;
            }
            if self.options.dry_run {
                report.decisions.extend(chunk.iter().map(plan::explain));
            }
            let wanted: Vec<String> = chunk
                .iter()
                .filter_map(|a| a.recorded_id().map(str::to_string))
                .collect();
            let mut rows = self.rows_named(config, &wanted).await?;
            for action in chunk.into_iter().filter_map(|a| a.attach(&mut rows)) {
                match action {
                    Action::Unchanged(_) => report.files_unchanged += 1,
                    Action::Moved { entry, mut file } => {
                        report.files_unchanged += 1;
                        if !self.options.dry_run {
                            describe(&mut file, &entry);
                            self.store.put_file(&file).await?;
                        }
                    }
                    Action::Skip { entry, reason } => {
                        tracing::debug!(file = %entry.id, "filtered out: {reason}");
                        report.files_skipped += 1;
                    }
                    Action::Exclude {
                        entry,
                        file,
                        reason,
                    } => {
                        tracing::info!(file = %file.remote_id, "no longer in scope: {reason}");
                        report.files_skipped += 1;
                        if !self.options.dry_run {
                            self.record_excluded(config, entry.map(|e| *e), file, reason)
                                .await?;
                        }
                    }
                    Action::Restore(mut file) => {
                        report.files_unchanged += 1;
                        if !self.options.dry_run {
                            file.status = FileStatus::Synced;
                            file.error_message = None;
                            file.last_sync_at = Some(Utc::now());
                            self.store.put_file(&file).await?;
                        }
                    }
                    Action::Deleted(file) => {
                        report.files_deleted += 1;
                        if !self.options.dry_run {
                            self.record_deleted(config, file).await?;
                        }
                    }
                    Action::Transfer { entry, existing } => transfers.push((entry, existing)),
                }
            }
        }

        if self.options.dry_run {
            report.files_synced = transfers.len() as u64;
            report.bytes = listed_bytes(&transfers);
        } else {
            let mut progress = Progress {
                files_total: transfers.len() as u64,
                bytes_total: listed_bytes(&transfers),
                ..Progress::default()
            };
            let report_progress = |p: Progress| {
                if let Some(f) = &self.options.progress {
                    f(p);
                }
            };
            report_progress(progress);
            live.planned(progress.files_total, progress.bytes_total);
            // Set when a stop was asked for while files were still to start.
            let cut_short = std::sync::atomic::AtomicBool::new(false);
            // Stored objects go to one writer that records them in batches (whatever has
            // arrived while it wrote the last one): a transaction per batch instead of per file.
            // A file counts as synced only once recorded; a crash in between leaves an object
            // without a record, which the next run stores again under the same key.
            let (stored, arrivals) = tokio::sync::mpsc::channel(RECORD_BATCH);
            let transferring = async {
                // Moved in, so that the writer ends when the transfers do.
                let stored = stored;
                let mut outcomes = Vec::new();
                let shared = Arc::new(Transfers {
                    store: self.store.clone(),
                    blob: self.blob.clone(),
                    options: self.options.clone(),
                    config: config.clone(),
                    provider: provider.clone(),
                    cx: cx.clone(),
                });
                // Once a stop is asked for, no new transfer starts; those under way finish.
                let mut stream = futures::stream::iter(transfers)
                    .take_while(|_| {
                        let go = !live.cancelled();
                        if !go {
                            cut_short.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        std::future::ready(go)
                    })
                    .map(|(entry, existing)| {
                        let remote_id = entry.id.clone();
                        live.started(plan::entry_path(&entry));
                        // Aborted with the run: a dropped run leaves no transfer behind.
                        let task = AbortOnDropHandle::new(tokio::spawn(
                            shared.clone().one(entry, existing),
                        ));
                        async move {
                            task.await.unwrap_or_else(|e| {
                                Err(FileFailure {
                                    remote_id,
                                    error: format!("the transfer stopped unexpectedly: {e}"),
                                    retryable: true,
                                })
                            })
                        }
                    })
                    .buffer_unordered(self.options.transfers.max(1));
                while let Some(r) = stream.next().await {
                    progress.files_done += 1;
                    if let Ok(Done::Stored(_, bytes)) = &r {
                        progress.bytes_done = progress.bytes_done.saturating_add(*bytes);
                    }
                    live.ended(match &r {
                        Ok(Done::Stored(_, bytes)) => Some(*bytes),
                        Ok(_) => Some(0),
                        Err(_) => None,
                    });
                    report_progress(progress);
                    match r {
                        Ok(Done::Stored(file, bytes)) => {
                            // The writer only stops when this sender is dropped.
                            let _ = stored.send((file, bytes)).await;
                        }
                        other => outcomes.push(other.map(|_| None)),
                    }
                }
                outcomes
            };
            let (outcomes, recorded) = tokio::join!(transferring, self.record_synced(arrivals));
            for r in outcomes.into_iter().chain(recorded) {
                match r {
                    Ok(Some(bytes)) => {
                        report.files_synced += 1;
                        report.bytes = report.bytes.saturating_add(bytes);
                    }
                    Ok(None) => report.files_skipped += 1,
                    Err(failure) => {
                        report.files_failed += 1;
                        report.failures.push(failure);
                    }
                }
            }
            report
                .failures
                .sort_by(|a, b| a.remote_id.cmp(&b.remote_id));
            report.cancelled = cut_short.into_inner();
            // Files that failed because the grant died were not recorded as failed; the run
            // stops here, before the cursor moves, and the next one picks them up.
            if let Some(stop) = stopped(&cx) {
                return Err(stop);
            }
        }
        // A stopped run did not see every file: it is not a success, and its cursor stays.
        report.success = report.files_failed == 0 && !report.cancelled;
        // Advance the change cursor only when no file failed for a passing reason: such a
        // file is not listed again by the feed, so its changes must be read again next time.
        // Files the provider refuses outright are recorded and do not hold the cursor back
        // (they come back through the feed when they change).
        if !self.options.dry_run
            && !report.cancelled
            && !report.failures.iter().any(|f| f.retryable)
            && let Some(cursor) = &next_cursor
        {
            self.store
                .set_cursor(config.id, Some(cursor), Some(&scope))
                .await?;
        }
        report.message = format!(
            "{} {} files ({}), {} unchanged, {} failed, {} deleted, {} skipped",
            if self.options.dry_run {
                "would sync"
            } else {
                "synced"
            },
            report.files_synced,
            crate::units::human_bytes(report.bytes),
            report.files_unchanged,
            report.files_failed,
            report.files_deleted,
            report.files_skipped,
        );
        Ok(report)
    }

    /// The whole rows of the files of `config` with these remote ids (those recorded), by
    /// remote id, read [`ROWS_AT_ONCE`] at a time.
    async fn rows_named(
        &self,
        config: &SyncConfig,
        remote_ids: &[String],
    ) -> Result<HashMap<String, SyncFile>, SyncError> {
        let mut rows = HashMap::new();
        for chunk in remote_ids.chunks(ROWS_AT_ONCE) {
            let found = self.store.files_named(config.id, chunk).await?;
            rows.extend(found.into_iter().map(|f| (f.remote_id.clone(), f)));
        }
        Ok(rows)
    }

    /// Decide what to do: from the change feed when the provider has one and a cursor is
    /// saved, otherwise from a full listing, planned as its pages arrive.
    async fn plan_run(
        &self,
        config: &SyncConfig,
        provider: &Provider,
        cx: &CallContext,
        scope: &str,
        pushed_includes: &[String],
    ) -> Result<RunPlan, SyncError> {
        let feed = provider.has(Capability::ChangesFeed);
        let cursor = config.change_cursor.as_ref().filter(|_| {
            let same_scope = config.cursor_scope.as_deref() == Some(scope);
            if !same_scope {
                tracing::info!(
                    config = %config.id,
                    "the config's filters or settings changed since its change cursor was saved: \
                     listing everything once"
                );
            }
            same_scope && !self.options.full
        });
        if feed && let Some(cursor) = cursor {
            match self.read_changes(provider, cx, cursor).await {
                Ok((changed, removed, skipped, next)) => {
                    // Only the records the feed names are read: a change feed is read so that
                    // a run need not look at every file.
                    let ids: Vec<String> = changed
                        .iter()
                        .map(|e| &e.id)
                        .chain(&removed)
                        .chain(skipped.iter().map(|s| &s.id))
                        .cloned()
                        .collect::<std::collections::HashSet<_>>()
                        .into_iter()
                        .collect();
                    let recorded = self.rows_named(config, &ids).await?;
                    // What the provider skipped keeps its row (record_skips).
                    let held = skipped
                        .iter()
                        .filter_map(|s| Some((s.id.clone(), recorded.get(&s.id)?.clone())))
                        .collect();
                    let states = recorded.values().map(FileState::of).collect();
                    let actions = plan::plan_changes(config, changed, &removed, states);
                    return Ok(RunPlan {
                        actions: Box::new(actions.into_iter()),
                        skipped,
                        held,
                        cursor: Some(next),
                    });
                }
                Err(e) if cursor_expired(&e) => {
                    tracing::warn!("{e}; falling back to a full listing");
                }
                Err(e) => return Err(SyncError::Listing(e)),
            }
        }
        // The cursor for "now" is taken before listing, so changes made during the listing
        // are read again next time rather than missed.
        let start = if feed {
            Some(
                auth::call(&self.options.retry, cx, || provider.start_cursor(cx))
                    .await
                    .map_err(SyncError::Listing)?,
            )
        } else {
            None
        };
        let recorded = self.store.file_states(config.id).await?;
        let mut planner = plan::Planner::new(config, recorded, pushed_includes);
        let mut skipped = Vec::new();
        let listed = match self
            .list_everything(provider, cx, &mut planner, &mut skipped)
            .await
        {
            // A listing cursor the service no longer accepts: start over, once.
            Err(e) if cursor_expired(&e) => {
                tracing::warn!("{e}; listing again from the start");
                planner.restart();
                skipped.clear();
                self.list_everything(provider, cx, &mut planner, &mut skipped)
                    .await
            }
            other => other,
        };
        // Only a complete listing is planned: a failed one ends the run with nothing changed.
        listed.map_err(SyncError::Listing)?;
        // What the provider skipped on purpose is still there: absent from the entries, but
        // not deleted (record_skips keeps its row).
        let (actions, held_ids) = planner.finish(skipped.iter().map(|s| s.id.as_str()));
        let held = self.rows_named(config, &held_ids).await?;
        Ok(RunPlan {
            actions: Box::new(actions),
            skipped,
            held,
            cursor: start,
        })
    }

    /// The whole listing, page by page, each handed to `planner` as it arrives (and the entries
    /// the provider skipped on purpose to `skipped`); each page has its own retries, so a
    /// fault on page 57 costs one request, not the whole listing.
    async fn list_everything(
        &self,
        provider: &Provider,
        cx: &CallContext,
        planner: &mut plan::Planner,
        skipped: &mut Vec<SkippedEntry>,
    ) -> Result<(), CallError> {
        provider
            .for_each_page(
                self.options.limits.listing,
                |cursor| {
                    let request = ListRequest {
                        folder_id: None,
                        recursive: true,
                        cursor,
                        page_size_hint: 1000,
                    };
                    async move {
                        auth::call(&self.options.retry, cx, || provider.list(cx, &request)).await
                    }
                },
                |page| {
                    for s in &page.skipped {
                        tracing::info!(file = %s.name, "provider skipped: {}", s.reason);
                    }
                    planner.page(page.entries);
                    skipped.extend(page.skipped);
                },
            )
            .await
    }

    /// Record what the provider skipped on purpose, with its reason, so people can see why a
    /// file is not in the object store. Rows that already say the same are left alone.
    async fn record_skips(
        &self,
        config: &SyncConfig,
        skips: Vec<SkippedEntry>,
        mut previous: HashMap<String, SyncFile>,
    ) -> Result<(), SyncError> {
        for skip in skips {
            let existing = previous.remove(&skip.id);
            if existing.as_ref().is_some_and(|f| {
                f.status == FileStatus::Skipped
                    && f.error_message.as_deref() == Some(skip.reason.as_str())
            }) {
                continue;
            }
            let mut file = existing.unwrap_or_else(|| SyncFile::new(config, &skip.id));
            if file.status == FileStatus::Synced {
                // A file synced before and skipped now keeps its object; say why it stopped.
                tracing::info!(file = %skip.id, "no longer synced: {}", skip.reason);
            }
            file.status = FileStatus::Skipped;
            file.remote_path = Some(skip.name.clone());
            file.remote_name = Some(
                skip.name
                    .rsplit('/')
                    .next()
                    .unwrap_or(&skip.name)
                    .to_string(),
            );
            file.error_message = Some(skip.reason);
            file.last_sync_at = Some(Utc::now());
            self.store.put_file(&file).await?;
        }
        Ok(())
    }

    /// Drain the change feed from `cursor`.
    async fn read_changes(
        &self,
        provider: &Provider,
        cx: &CallContext,
        cursor: &str,
    ) -> Result<(Vec<Entry>, Vec<String>, Vec<SkippedEntry>, String), CallError> {
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        let mut skipped = Vec::new();
        let mut cursor = cursor.to_string();
        let mut seen = std::collections::HashSet::new();
        let mut tally = ListTally::new(self.options.limits.listing, "the change feed");
        let too_large = |reason| provider.too_large(crate::runtime::Call::Changes, reason);
        loop {
            tally.next_page().map_err(too_large)?;
            let page =
                auth::call(&self.options.retry, cx, || provider.changes(cx, &cursor)).await?;
            tally.change_page(&page).map_err(too_large)?;
            changed.extend(page.changed);
            removed.extend(page.removed);
            skipped.extend(page.skipped);
            cursor = page.next_cursor;
            if !page.has_more {
                return Ok((changed, removed, skipped, cursor));
            }
            if !seen.insert(cursor.clone()) {
                return Err(CallError::InvalidOutput {
                    provider: provider.id().to_string(),
                    call: crate::runtime::Call::Changes,
                    reason: "it returned a cursor it had already returned, so the feed would never drain".into(),
                });
            }
        }
    }

    /// Record the files `arrivals` brings, with their ingestion (a queued job, or the outcome
    /// settled now), a batch per transaction; each one's result: its bytes, or why its record
    /// could not be written.
    async fn record_synced(
        &self,
        mut arrivals: tokio::sync::mpsc::Receiver<(Box<SyncFile>, u64)>,
    ) -> Vec<Result<Option<u64>, FileFailure>> {
        let mut results = Vec::new();
        let mut arrived = Vec::with_capacity(RECORD_BATCH);
        while arrivals.recv_many(&mut arrived, RECORD_BATCH).await > 0 {
            // Let a batch gather for a moment: the transfers finish files one at a time, and a
            // transaction per file (a commit, a WAL write, thread hand-offs) cost more than
            // the file's upload. A file still counts as synced only once its batch commits.
            let linger = tokio::time::sleep(RECORD_LINGER);
            tokio::pin!(linger);
            while arrived.len() < RECORD_BATCH {
                let room = RECORD_BATCH - arrived.len();
                tokio::select! {
                    n = arrivals.recv_many(&mut arrived, room) => {
                        if n == 0 {
                            break;
                        }
                    }
                    _ = &mut linger => break,
                }
            }
            let mut batch = Vec::with_capacity(arrived.len());
            let mut bytes = Vec::with_capacity(arrived.len());
            for (file, size) in arrived.drain(..) {
                let settled = match (&self.triage, file.ingest_status) {
                    // Only where nothing was made from earlier content and no job is pending.
                    (Some(triage), None | Some(IngestStatus::Stored | IngestStatus::Removed)) => {
                        triage.settled(&file).await
                    }
                    _ => None,
                };
                bytes.push(size);
                batch.push(Synced {
                    file: *file,
                    settled,
                });
            }
            // New content and its ingestion job (or settled outcome) land together: a crash
            // cannot leave a synced file that ingestion never hears of.
            match self.store.put_synced_files(&batch).await {
                Ok(()) => results.extend(bytes.into_iter().map(|b| Ok(Some(b)))),
                Err(e) => {
                    tracing::warn!(files = batch.len(), "recording synced files failed: {e}");
                    results.extend(batch.into_iter().map(|s| {
                        Err(FileFailure {
                            remote_id: s.file.remote_id,
                            error: format!("stored, but recording it failed: {e}"),
                            retryable: true,
                        })
                    }));
                }
            }
        }
        results
    }

    /// Record a file the config's filters now leave out: `excluded`, with why. Its object (and
    /// what ingestion made of it) is kept, unless the config mirrors deletions.
    async fn record_excluded(
        &self,
        config: &SyncConfig,
        entry: Option<Entry>,
        mut file: SyncFile,
        reason: String,
    ) -> Result<(), SyncError> {
        let remove = config.mirror_deletes && file.s3_uri.is_some();
        if remove {
            self.delete_object(config, &mut file).await?;
        }
        file.status = FileStatus::Excluded;
        // Where it is now; its revision and checksum stay those of the object kept, so a file
        // that comes back into scope unchanged is restored without a transfer.
        if let Some(entry) = entry {
            file.remote_path = Some(plan::entry_path(&entry));
            file.remote_name = Some(entry.name);
        }
        file.error_message = Some(reason);
        file.last_sync_at = Some(Utc::now());
        if remove {
            // The job removes what ingestion made of it, as for a deleted file.
            self.store.put_file_and_enqueue(&file).await?;
        } else {
            self.store.put_file(&file).await?;
        }
        Ok(())
    }

    /// Delete a recorded file's object and forget its URI.
    async fn delete_object(
        &self,
        config: &SyncConfig,
        file: &mut SyncFile,
    ) -> Result<(), SyncError> {
        if let Some(uri) = &file.s3_uri {
            let key = ObjectKey::for_file(
                config.id,
                file.id,
                file.remote_name.as_deref().unwrap_or_default(),
                uri.rsplit_once('.')
                    .map(|(_, e)| e)
                    .filter(|e| !e.contains('/')),
            );
            self.blob.delete(&key).await?;
            file.s3_uri = None;
        }
        Ok(())
    }

    async fn record_deleted(
        &self,
        config: &SyncConfig,
        mut file: SyncFile,
    ) -> Result<(), SyncError> {
        if config.mirror_deletes {
            self.delete_object(config, &mut file).await?;
        }
        file.status = FileStatus::Deleted;
        file.last_sync_at = Some(Utc::now());
        // The job removes what ingestion made of it, so search stops finding a deleted file.
        self.store.put_file_and_enqueue(&file).await?;
        Ok(())
    }
}

impl SyncEngine {
    /// When `config` runs next after the run `log` describes: on its schedule after a success,
    /// sooner (backing off) after runs with failures.
    async fn next_run(&self, config: &SyncConfig, log: &SyncLog) -> Option<chrono::DateTime<Utc>> {
        let schedule = schedule::Schedule::new(
            config.schedule.as_deref(),
            config.schedule_timezone.as_deref(),
            config.sync_interval_hours,
        )
        .unwrap_or_else(|e| {
            // Configs are validated when written; one written around that keeps its interval.
            tracing::warn!(config = %config.id, "{e}; using the interval instead");
            schedule::Schedule::Interval {
                hours: config.sync_interval_hours.max(1),
            }
        });
        let mut failures = 0;
        if log.status != LogStatus::Success {
            failures = 1;
            // Earlier runs with failures, back to the last success, lengthen the backoff.
            if let Ok(logs) = self.store.logs(Some(config.id), 12).await {
                failures += logs
                    .iter()
                    .filter(|l| l.id != log.id)
                    .take_while(|l| l.status != LogStatus::Success)
                    .filter(|l| matches!(l.status, LogStatus::Failed | LogStatus::Partial))
                    .count() as u32;
            }
        }
        schedule.next_run(log.completed_at.unwrap_or_else(Utc::now), failures)
    }
}

/// `work` if it finishes before the transfer's deadline. Only for work that stores nothing
/// (asking for a plan, waiting to retry): it is dropped where it stands.
async fn within<T>(
    limits: &transfer::TransferLimits,
    work: impl Future<Output = T>,
) -> Result<T, Failed> {
    tokio::time::timeout_at(limits.deadline, work)
        .await
        .map_err(|_| Failed::transfer(&transfer::TransferError::Deadline(limits.timeout)))
}

/// The bytes the provider listed for `transfers`, summed without overflow (the sizes are the
/// provider's).
fn listed_bytes(transfers: &[(Box<Entry>, Option<SyncFile>)]) -> u64 {
    transfers
        .iter()
        .fold(0u64, |sum, (e, _)| sum.saturating_add(e.size.unwrap_or(0)))
}

/// Copy what the provider says about a file into its record.
fn describe(file: &mut SyncFile, entry: &Entry) {
    file.remote_path = Some(plan::entry_path(entry));
    file.remote_name = Some(entry.name.clone());
    file.remote_type = entry.mime_type.clone();
    file.remote_size = entry.size.map(|s| s as i64);
    file.remote_modified_at = plan::timestamp(entry.modified);
    file.remote_created_at = plan::timestamp(entry.created);
    file.remote_revision = entry.revision.clone();
    file.remote_checksum = plan::provider_checksum(entry);
    file.remote_metadata = entry
        .metadata_json
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok());
}

/// The call context for a config: its provider_config, and the granted root for `local-root`
/// providers (`provider_config.root`). A provider that declares the config key
/// `include_folders` scopes its listing itself (it may take folder ids as well as paths), so it
/// gets the list and the host's own include filter is switched off; the config to plan with is
/// returned alongside.
fn call_context(
    config: &SyncConfig,
    provider: &Provider,
) -> Result<(CallContext, SyncConfig), SyncError> {
    let invalid = |reason: String| SyncError::Config {
        config: config.name.clone(),
        reason,
    };
    let mut cx = CallContext::from_json(&config.provider_config).map_err(invalid)?;
    let mut planned = config.clone();
    if provider
        .info()
        .config_keys
        .iter()
        .any(|k| k.name == INCLUDE_FOLDERS_KEY)
        && !config.include_folders.is_empty()
    {
        cx.config.insert(
            INCLUDE_FOLDERS_KEY.to_string(),
            serde_json::to_string(&config.include_folders).expect("strings serialise"),
        );
        planned.include_folders.clear();
    }
    if provider.has(Capability::LocalRoot) {
        let root =
            cx.config.get("root").cloned().ok_or_else(|| {
                invalid("the local provider needs `root` in provider_config".into())
            })?;
        // Opened and checked by `SyncEngine::grant_root` before anything reads it.
        cx.root = Some(PathBuf::from(root));
    }
    Ok((cx, planned))
}

/// The provider config key through which a provider takes over `include_folders`.
pub const INCLUDE_FOLDERS_KEY: &str = "include_folders";

fn cursor_expired(e: &CallError) -> bool {
    matches!(e.provider_error(), Some(ProviderError::CursorExpired(_)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::EntryKind;

    fn entry(size: Option<u64>) -> Box<Entry> {
        Box::new(Entry {
            id: "f".into(),
            name: "f".into(),
            path: vec![],
            parent_ids: vec![],
            kind: EntryKind::File,
            mime_type: None,
            size,
            modified: None,
            created: None,
            checksums: vec![],
            revision: None,
            export_as: None,
            metadata_json: None,
        })
    }

    #[test]
    fn listed_sizes_add_up_without_overflow() {
        let transfers = vec![
            (entry(Some(u64::MAX)), None),
            (entry(Some(u64::MAX)), None),
            (entry(None), None),
        ];
        assert_eq!(listed_bytes(&transfers), u64::MAX);
        assert_eq!(
            listed_bytes(&[(entry(Some(2)), None), (entry(Some(3)), None)]),
            5
        );
    }

    #[test]
    fn a_transfer_gets_the_timeout_or_a_second_per_listed_mib() {
        let limits = SyncLimits::default();
        let hour = SyncLimits::DEFAULT_TRANSFER_TIMEOUT;
        assert_eq!(limits.transfer_timeout_for(&entry(None)), hour);
        assert_eq!(limits.transfer_timeout_for(&entry(Some(10 << 20))), hour);
        assert_eq!(
            limits.transfer_timeout_for(&entry(Some(10_000 << 20))),
            std::time::Duration::from_secs(10_000)
        );
        // The provider's number cannot overflow it.
        assert!(limits.transfer_timeout_for(&entry(Some(u64::MAX))) > hour);
    }
}
