//! Claiming due configs: what lets several `p8sync serve` replicas share one database. A
//! replica claims a due config with a lease (`lease_owner`, `lease_expires_at` on
//! `p8."SyncConfig"`), renews it while the sync runs, and lets go when it is done; a crashed
//! replica's lease runs out and another replica takes the config.

use super::ids::{ConfigId, LogId};
use super::{StoreError, SyncConfig};
use std::time::Duration;

/// A config a replica holds.
#[derive(Debug, Clone)]
pub struct ConfigLease {
    /// The config, as claimed.
    pub config: SyncConfig,
    /// The previous holder's lease had run out (it crashed or stalled).
    pub taken_over: bool,
}

/// The scheduling side of the store; every [`super::Store`] implements it.
#[async_trait::async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Claim the config that has been due longest under the token `owner` (unique to this
    /// claim) for `lease`. Due: enabled, never synced or `next_sync_at` passed, not leased (or
    /// its lease ran out), and its credential (if it has one) does not wait for a new login.
    async fn claim_due_config(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<ConfigLease>, StoreError>;
    /// Extend a lease; `false` when it is no longer this holder's.
    async fn renew_config_lease(
        &self,
        id: ConfigId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError>;
    /// Let go of a config (after its run); `false` when it was not this holder's any more.
    async fn release_config(&self, id: ConfigId, owner: &str) -> Result<bool, StoreError>;
    /// Queue a run of `config` now: a `pending` SyncLog that the next sync of the config adopts,
    /// and `next_sync_at` moved to now so a scheduler claims it at its next tick. Queuing again
    /// before that run starts returns the same log. `None` when there is no such config.
    async fn queue_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError>;
    /// The queued run a sync of `config` should adopt, if any.
    async fn queued_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError>;
    /// Close the runs of `config` left `syncing` by a holder that is gone (its lease ran out, or
    /// its sync was stopped at shutdown): they become `cancelled` with `reason`. Only the lease
    /// holder calls this, so no live run is touched. Returns how many there were.
    async fn cancel_runs(&self, config: ConfigId, reason: &str) -> Result<u64, StoreError>;
    /// How many configs are due and waiting for a replica (for the queue-depth metric).
    async fn due_configs(&self) -> Result<i64, StoreError>;
}
