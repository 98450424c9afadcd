//! Claiming due configs on SQLite: the candidate is read and leased under `BEGIN IMMEDIATE`, so
//! two processes on one file never claim the same config. Times are compared as sqlx writes
//! them (RFC 3339 in UTC, which sorts as it reads).

use super::{SqliteStore, config_row, get};
use crate::store::ids::ConfigId;
use crate::store::ingest::lease_end;
use crate::store::schedule::{ConfigLease, ScheduleStore};
use crate::store::{StoreError, query_err};
use chrono::Utc;
use std::time::Duration;

#[async_trait::async_trait]
impl ScheduleStore for SqliteStore {
    async fn claim_due_config(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<ConfigLease>, StoreError> {
        const DOING: &str = "claiming a due sync config";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(DOING))?;
        let now = Utc::now();
        let next = sqlx::query(
            r#"SELECT c.id, c.lease_owner IS NOT NULL AS was_leased FROM "SyncConfig" c
               WHERE c.enabled
                 AND (c.next_sync_at IS NULL OR c.next_sync_at <= ?1)
                 AND (c.lease_owner IS NULL OR c.lease_expires_at < ?1)
                 AND NOT EXISTS (SELECT 1 FROM "SyncCredential" k
                                 WHERE k.userid = c.userid AND k.provider = c.provider
                                   AND k.needs_reauth)
               ORDER BY c.next_sync_at IS NOT NULL, c.next_sync_at, c.id LIMIT 1"#,
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let Some(next) = next else {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let id: String = get(&next, "id")?;
        let taken_over: bool = get(&next, "was_leased")?;
        let row = sqlx::query(
            r#"UPDATE "SyncConfig" SET lease_owner = ?2, lease_expires_at = ?3 WHERE id = ?1
               RETURNING *"#,
        )
        .bind(&id)
        .bind(owner)
        .bind(lease_end(now, lease))
        .fetch_one(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let config = config_row(&row)?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(ConfigLease { config, taken_over }))
    }

    async fn renew_config_lease(
        &self,
        id: ConfigId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE "SyncConfig" SET lease_expires_at = ?3 WHERE id = ?1 AND lease_owner = ?2"#,
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(lease_end(Utc::now(), lease))
        .execute(&self.pool)
        .await
        .map_err(query_err("renewing a sync config's lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_config(&self, id: ConfigId, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE "SyncConfig" SET lease_owner = NULL, lease_expires_at = NULL
               WHERE id = ?1 AND lease_owner = ?2"#,
        )
        .bind(id.to_string())
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(query_err("releasing a sync config"))?;
        Ok(done.rows_affected() == 1)
    }
}
