//! Runs: one run as its owner sees it, and stopping it.

use super::{App, AppError};
use crate::store::ids::{LogId, UserId};
use crate::store::{CancelOutcome, LogStatus, SyncLog};

/// Whether a run has ended (nothing about it changes any more).
pub fn ended(status: LogStatus) -> bool {
    !matches!(status, LogStatus::Pending | LogStatus::Syncing)
}

impl App {
    /// The run `id`, if `owner` may see it (`None`: anyone's); someone else's is not found.
    pub async fn run(&self, id: LogId, owner: Option<UserId>) -> Result<SyncLog, AppError> {
        match self.store.log(id).await? {
            Some(l) if owner.is_none_or(|u| u == l.userid) => Ok(l),
            _ => Err(AppError::NotFound(format!("sync log {id}"))),
        }
    }

    /// Ask the run `id` to stop: a queued run is cancelled at once, a running one starts no
    /// new file and ends within a few seconds as `cancelled`; an ended run is left alone.
    pub async fn cancel_run(
        &self,
        id: LogId,
        owner: Option<UserId>,
    ) -> Result<(CancelOutcome, SyncLog), AppError> {
        self.run(id, owner).await?;
        let outcome = self
            .store
            .cancel_run(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("sync log {id}")))?;
        Ok((outcome, self.run(id, owner).await?))
    }
}
