//! The ingestion queue as a user sees it: a config's jobs, and queueing them again.

use super::{App, AppError};
use crate::store::ids::ConfigId;
use crate::store::ingest::JobInfo;

impl App {
    /// The ingestion jobs of `config`'s files, with each one's last error.
    pub async fn ingest_jobs(&self, config: ConfigId) -> Result<Vec<JobInfo>, AppError> {
        Ok(self.store.ingest_jobs(Some(config)).await?)
    }

    /// Queue `config`'s files for ingestion again: those that never had a job, or whose last
    /// one died, waits for a retry, or left audio untranscribed; every synced file when `all`.
    /// The workers (`p8sync serve`, `p8sync ingest run`) take them; returns how many.
    pub async fn requeue_ingestion(&self, config: ConfigId, all: bool) -> Result<u64, AppError> {
        Ok(self.store.enqueue_config(config, all).await?)
    }
}
