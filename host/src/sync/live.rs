//! A run as others see it while it goes: its progress, written to its log row about once a
//! second, and a request to stop it, read back from that row in the same statement. The
//! transfers start no new file once a stop was asked for; those under way finish.

use crate::store::ids::LogId;
use crate::store::{RunProgress, Store};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::task::AbortOnDropHandle;

/// How often a running sync writes its progress (and reads a request to stop).
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// The counters a run updates as it goes, and the flag a request to stop sets.
#[derive(Debug, Default)]
pub struct LiveRun {
    files_total: AtomicU64,
    files_synced: AtomicU64,
    files_failed: AtomicU64,
    bytes_total: AtomicU64,
    bytes_done: AtomicU64,
    current: Mutex<Option<String>>,
    cancelled: AtomicBool,
}

fn signed(n: &AtomicU64) -> i64 {
    i64::try_from(n.load(Ordering::Relaxed)).unwrap_or(i64::MAX)
}

impl LiveRun {
    /// What the run has done so far.
    pub fn snapshot(&self) -> RunProgress {
        RunProgress {
            files_total: signed(&self.files_total),
            files_synced: signed(&self.files_synced),
            files_failed: signed(&self.files_failed),
            bytes_total: signed(&self.bytes_total),
            bytes_done: signed(&self.bytes_done),
            current_file: self
                .current
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Whether someone asked the run to stop.
    pub fn cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Ask the run to stop (what a request read from the store does).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// The transfers planned.
    pub(super) fn planned(&self, files: u64, bytes: u64) {
        self.files_total.store(files, Ordering::Relaxed);
        self.bytes_total.store(bytes, Ordering::Relaxed);
    }

    /// A transfer of the file at `path` started.
    pub(super) fn started(&self, path: String) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(path);
    }

    /// A transfer ended: stored with `bytes`, or failed (`None`).
    pub(super) fn ended(&self, stored: Option<u64>) {
        match stored {
            Some(bytes) => {
                self.files_synced.fetch_add(1, Ordering::Relaxed);
                self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
            }
            None => {
                self.files_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// Write `live`'s progress to the log row `log` every second until the handle is dropped,
/// and pass on a request to stop. A store that fails now and then only delays a report.
pub(super) fn report(
    store: Arc<dyn Store>,
    log: LogId,
    live: Arc<LiveRun>,
) -> AbortOnDropHandle<()> {
    AbortOnDropHandle::new(tokio::spawn(async move {
        let mut tick = tokio::time::interval(REPORT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tick.tick().await;
            match store.run_progress(log, &live.snapshot()).await {
                Ok(true) if !live.cancelled() => {
                    tracing::info!(%log, "a stop was asked for: no new files start");
                    live.cancel();
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(%log, "could not record the run's progress: {e}"),
            }
        }
    }))
}
