//! The service's loops: claim due configs and sync them, and run ingestion jobs, until told to
//! stop. Every replica runs the same loops against one database; leases (see
//! `store::schedule` and `store::ingest`) make sure each config and each job has one holder,
//! and a crashed replica's work passes to another once its lease runs out.

use crate::ingest::Ingestor;
use crate::store::Store;
use crate::sync::SyncEngine;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How often to look for due configs when idle.
    pub tick: Duration,
    /// How long a claim lasts without renewal; renewed every third of it while a sync runs.
    pub lease: Duration,
    /// Configs synced at once by this replica.
    pub concurrency: usize,
    /// After a stop, how long syncs under way may take to finish before they are cut off
    /// (their configs stay due, so another replica or the next start runs them again).
    pub grace: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            tick: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            concurrency: 2,
            grace: Duration::from_secs(30),
        }
    }
}

/// Runs due syncs on this replica.
pub struct Scheduler {
    store: Arc<dyn Store>,
    engine: Arc<SyncEngine>,
    options: SchedulerOptions,
    owner: String,
}

impl Scheduler {
    /// A scheduler that syncs with `engine`.
    pub fn new(store: Arc<dyn Store>, engine: Arc<SyncEngine>, options: SchedulerOptions) -> Self {
        Scheduler {
            store,
            engine,
            options,
            owner: crate::config::replica_name(),
        }
    }

    /// Claim and sync due configs until `stop` is cancelled; then finish the syncs under way
    /// (a drain) and return.
    pub async fn run(&self, stop: CancellationToken) {
        let slots = Arc::new(tokio::sync::Semaphore::new(self.options.concurrency.max(1)));
        // Cancelled when the grace period after `stop` runs out.
        let cut_off = CancellationToken::new();
        let mut running = tokio::task::JoinSet::new();
        loop {
            let permit = tokio::select! {
                () = stop.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let token = format!("{}/{}", self.owner, uuid::Uuid::new_v4());
            match self
                .store
                .claim_due_config(&token, self.options.lease)
                .await
            {
                Ok(Some(lease)) => {
                    if lease.taken_over {
                        crate::metrics::lease_taken_over(crate::metrics::LeaseKind::Config);
                        tracing::warn!(config = %lease.config.id, "took over a config whose replica stopped");
                        // The run that replica left `syncing` will never finish.
                        if let Err(e) = self
                            .store
                            .cancel_runs(lease.config.id, "the replica running this sync stopped (its lease ran out); another replica ran the config again")
                            .await
                        {
                            tracing::warn!(config = %lease.config.id, "closing the abandoned run: {e}");
                        }
                    }
                    let leased = Leased {
                        store: self.store.clone(),
                        engine: self.engine.clone(),
                        token,
                        lease: self.options.lease,
                        cut_off: cut_off.clone(),
                    };
                    running.spawn(async move {
                        leased.sync(lease.config).await;
                        drop(permit);
                    });
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!("looking for due configs: {e}"),
            }
            drop(permit);
            // Reap finished syncs so the set does not grow, then wait for the next tick.
            while running.try_join_next().is_some() {}
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(self.options.tick) => {}
            }
        }
        if !running.is_empty() {
            tracing::info!(
                "stopping: waiting up to {:?} for {} syncs to finish",
                self.options.grace,
                running.len()
            );
        }
        let drain = async { while running.join_next().await.is_some() {} };
        if tokio::time::timeout(self.options.grace, drain)
            .await
            .is_err()
        {
            tracing::warn!("the grace period is over: stopping the syncs still running");
            cut_off.cancel();
            while running.join_next().await.is_some() {}
        }
    }
}

/// One claimed config's sync and what it needs.
struct Leased {
    store: Arc<dyn Store>,
    engine: Arc<SyncEngine>,
    token: String,
    lease: Duration,
    cut_off: CancellationToken,
}

/// Sync `config`, which the claim `token` holds, renewing its lease while the sync runs, and
/// let go after. `None` when the lease was lost: another replica holds the config now, and its
/// run records the outcome. What `serve` does with each config it claims, and `sync --all-due`.
pub async fn sync_held(
    store: &Arc<dyn Store>,
    engine: &SyncEngine,
    config: &crate::store::SyncConfig,
    token: &str,
    lease: Duration,
) -> Option<Result<crate::sync::SyncReport, crate::sync::SyncError>> {
    let what = format!("config {}", config.id);
    let heartbeat = crate::store::hold_lease(lease, &what, || {
        store.renew_config_lease(config.id, token, lease)
    });
    let outcome = tokio::select! {
        result = engine.run(config) => Some(result),
        () = heartbeat => None,
    };
    if let Err(e) = store.release_config(config.id, token).await {
        tracing::warn!(config = %config.id, "releasing the config: {e}");
    }
    outcome
}

impl Leased {
    /// Sync the config, renewing its lease while the sync runs, and let go after.
    async fn sync(self, config: crate::store::SyncConfig) {
        tokio::select! {
            outcome = sync_held(&self.store, &self.engine, &config, &self.token, self.lease) => {
                match outcome {
                    Some(Ok(report)) => tracing::info!(config = %config.id, "{}", report.message),
                    Some(Err(e)) => tracing::warn!(config = %config.id, "sync failed: {e}"),
                    // Another replica holds it now; its run will record the outcome.
                    None => tracing::warn!(config = %config.id, "lost the lease; stopped this sync"),
                }
                return;
            }
            () = self.cut_off.cancelled() => {
                // Still this replica's: close the run it leaves behind. The config stays due,
                // so it runs again (here or on another replica) and resumes from its records.
                if let Err(e) = self
                    .store
                    .cancel_runs(config.id, "stopped at shutdown after the grace period; it runs again at the next start")
                    .await
                {
                    tracing::warn!(config = %config.id, "closing the stopped run: {e}");
                }
            }
        }
        if let Err(e) = self.store.release_config(config.id, &self.token).await {
            tracing::warn!(config = %config.id, "releasing the config: {e}");
        }
    }
}

/// Run ingestion jobs until `stop` is cancelled, looking again every `poll` when idle; a job
/// under way is finished first.
pub async fn run_ingestion(ingestor: Ingestor, poll: Duration, stop: CancellationToken) {
    let mut report = crate::ingest::DrainReport::default();
    loop {
        if stop.is_cancelled() {
            return;
        }
        match ingestor.run_one(&mut report).await {
            Ok(true) => continue,
            Ok(false) => {}
            Err(e) => tracing::error!("ingestion: {e}"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
        }
    }
}
