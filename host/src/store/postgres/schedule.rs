//! Claiming due configs on Postgres: `FOR UPDATE SKIP LOCKED`, on the database's clock.

use super::{PostgresStore, config_row, get};
use crate::store::ids::{ConfigId, LogId};
use crate::store::schedule::{ConfigLease, ScheduleStore};
use crate::store::{StoreError, query_err};
use std::time::Duration;

#[async_trait::async_trait]
impl ScheduleStore for PostgresStore {
    async fn claim_due_config(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<Option<ConfigLease>, StoreError> {
        let row = sqlx::query(
            r#"WITH next AS (
                 SELECT c.id, c.lease_owner IS NOT NULL AS was_leased FROM p8."SyncConfig" c
                 WHERE c.enabled
                   AND (c.next_sync_at IS NULL
                        OR c.next_sync_at <= (clock_timestamp() AT TIME ZONE 'UTC'))
                   AND (c.lease_owner IS NULL
                        OR c.lease_expires_at < (clock_timestamp() AT TIME ZONE 'UTC'))
                   AND NOT EXISTS (SELECT 1 FROM p8."SyncCredential" k
                                   WHERE (k.id = c.credential_id
                                           OR (c.credential_id IS NULL AND k.userid = c.userid
                                               AND k.provider = c.provider))
                                     AND k.needs_reauth)
                 ORDER BY c.next_sync_at NULLS FIRST, c.id
                 LIMIT 1 FOR UPDATE OF c SKIP LOCKED)
               UPDATE p8."SyncConfig" c SET lease_owner = $1,
                 lease_expires_at = (clock_timestamp() AT TIME ZONE 'UTC')
                   + make_interval(secs => $2)
               FROM next WHERE c.id = next.id
               RETURNING c.*, next.was_leased"#,
        )
        .bind(owner)
        .bind(lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("claiming a due sync config"))?;
        row.map(|row| {
            Ok(ConfigLease {
                config: config_row(&row)?,
                taken_over: get(&row, "was_leased")?,
            })
        })
        .transpose()
    }

    async fn renew_config_lease(
        &self,
        id: ConfigId,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE p8."SyncConfig" SET lease_expires_at =
                 (clock_timestamp() AT TIME ZONE 'UTC') + make_interval(secs => $3)
               WHERE id = $1 AND lease_owner = $2"#,
        )
        .bind(id.0)
        .bind(owner)
        .bind(lease.as_secs_f64())
        .execute(&self.pool)
        .await
        .map_err(query_err("renewing a sync config's lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_config(&self, id: ConfigId, owner: &str) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE p8."SyncConfig" SET lease_owner = NULL, lease_expires_at = NULL
               WHERE id = $1 AND lease_owner = $2"#,
        )
        .bind(id.0)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(query_err("releasing a sync config"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn queue_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError> {
        const DOING: &str = "queuing a sync run";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        // The config's row lock makes concurrent requests agree on one queued run.
        let owner: Option<uuid::Uuid> =
            sqlx::query_scalar(r#"SELECT userid FROM p8."SyncConfig" WHERE id = $1 FOR UPDATE"#)
                .bind(config.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        let Some(owner) = owner else {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let queued: Option<uuid::Uuid> = sqlx::query_scalar(
            r#"SELECT id FROM p8."SyncLog" WHERE config_id = $1 AND status = 'pending'
               ORDER BY started_at LIMIT 1"#,
        )
        .bind(config.0)
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let id = match queued {
            Some(id) => LogId(id),
            None => {
                let id = LogId::new();
                sqlx::query(
                    r#"INSERT INTO p8."SyncLog" (id, config_id, userid, status, started_at)
                       VALUES ($1, $2, $3, 'pending', (clock_timestamp() AT TIME ZONE 'UTC'))"#,
                )
                .bind(id.0)
                .bind(config.0)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
                id
            }
        };
        sqlx::query(
            r#"UPDATE p8."SyncConfig" SET next_sync_at = (clock_timestamp() AT TIME ZONE 'UTC')
               WHERE id = $1"#,
        )
        .bind(config.0)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(id))
    }

    async fn queued_run(&self, config: ConfigId) -> Result<Option<LogId>, StoreError> {
        let id: Option<uuid::Uuid> = sqlx::query_scalar(
            r#"SELECT id FROM p8."SyncLog" WHERE config_id = $1 AND status = 'pending'
               ORDER BY started_at LIMIT 1"#,
        )
        .bind(config.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("looking for a queued sync run"))?;
        Ok(id.map(LogId))
    }

    async fn cancel_runs(&self, config: ConfigId, reason: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            r#"UPDATE p8."SyncLog" SET status = 'cancelled', error_message = $2,
                 completed_at = (clock_timestamp() AT TIME ZONE 'UTC')
               WHERE config_id = $1 AND status = 'syncing'"#,
        )
        .bind(config.0)
        .bind(reason)
        .execute(&self.pool)
        .await
        .map_err(query_err("closing abandoned sync runs"))?;
        Ok(done.rows_affected())
    }

    async fn due_configs(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar(
            r#"SELECT count(*) FROM p8."SyncConfig"
               WHERE enabled AND lease_owner IS NULL
                 AND (next_sync_at IS NULL OR next_sync_at <= (now() AT TIME ZONE 'UTC'))"#,
        )
        .fetch_one(&self.pool)
        .await
        .map_err(query_err("counting due sync configs"))
    }
}
