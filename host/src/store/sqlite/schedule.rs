//! Claiming due configs on SQLite: the candidate is read and leased under `BEGIN IMMEDIATE`, so
//! two processes on one file never claim the same config. Times are compared as sqlx writes
//! them (RFC 3339 in UTC, which sorts as it reads).

use super::{SqliteStore, config_row, get};
use crate::store::ids::{ConfigId, LogId};
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
                                 WHERE (k.id = c.credential_id
                                         OR (c.credential_id IS NULL AND k.userid = c.userid
                                             AND k.provider = c.provider))
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

    async fn queue_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError> {
        const DOING: &str = "queuing a sync run";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(DOING))?;
        let owner: Option<String> =
            sqlx::query_scalar(r#"SELECT userid FROM "SyncConfig" WHERE id = ?1"#)
                .bind(config.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        let Some(owner) = owner else {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let queued: Option<String> = sqlx::query_scalar(
            r#"SELECT id FROM "SyncLog" WHERE config_id = ?1 AND status = 'pending'
               ORDER BY started_at LIMIT 1"#,
        )
        .bind(config.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let now = Utc::now();
        let id = match queued {
            Some(id) => id.parse().map_err(|_| StoreError::Corrupt {
                table: "SyncLog",
                reason: format!("id `{id}` is not a uuid"),
            })?,
            None => {
                let id = LogId::new();
                sqlx::query(
                    r#"INSERT INTO "SyncLog" (id, config_id, userid, status, started_at)
                       VALUES (?1, ?2, ?3, 'pending', ?4)"#,
                )
                .bind(id.to_string())
                .bind(config.to_string())
                .bind(owner)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
                id
            }
        };
        sqlx::query(r#"UPDATE "SyncConfig" SET next_sync_at = ?2 WHERE id = ?1"#)
            .bind(config.to_string())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(id))
    }

    async fn queued_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError> {
        let id: Option<String> = sqlx::query_scalar(
            r#"SELECT id FROM "SyncLog" WHERE config_id = ?1 AND status = 'pending'
               ORDER BY started_at LIMIT 1"#,
        )
        .bind(config.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("looking for a queued sync run"))?;
        id.map(|id| {
            id.parse().map_err(|_| StoreError::Corrupt {
                table: "SyncLog",
                reason: format!("id `{id}` is not a uuid"),
            })
        })
        .transpose()
    }

    async fn cancel_runs(&self, config: ConfigId, reason: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            r#"UPDATE "SyncLog" SET status = 'cancelled', error_message = ?2, completed_at = ?3
               WHERE config_id = ?1 AND status = 'syncing'"#,
        )
        .bind(config.to_string())
        .bind(reason)
        .bind(Utc::now())
        .execute(&self.pool)
        .await
        .map_err(query_err("closing abandoned sync runs"))?;
        Ok(done.rows_affected())
    }

    async fn due_configs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            r#"SELECT count(*) FROM "SyncConfig"
               WHERE enabled AND lease_owner IS NULL
                 AND (next_sync_at IS NULL OR next_sync_at <= ?1)"#,
        )
        .bind(Utc::now())
        .fetch_one(&self.pool)
        .await
        .map_err(query_err("counting due sync configs"))
    }
}
