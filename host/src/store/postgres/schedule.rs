//! Claiming due configs on Postgres: `FOR UPDATE SKIP LOCKED`, on the database's clock.

use super::{PostgresStore, config_row, get};
use crate::store::ids::ConfigId;
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
                                   WHERE k.userid = c.userid AND k.provider = c.provider
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
}
