//! The production store: Postgres, shared by every replica. Tables live in Percolate's `p8`
//! schema with its names and columns.

use super::ids::{ConfigId, CredentialId, FileId, LogId, UserId};
use super::ingest::IngestStatus;
use super::{
    CredentialRecord, CredentialUpdate, FileState, FileStatus, Keyed, LogStatus, Store, StoreError,
    SyncConfig, SyncFile, SyncLog, query_err, string_list,
};
use crate::store::{CancelOutcome, RunProgress};
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{PgPool, Row};

mod access;
mod ingest;
mod pages;
mod schedule;

/// The Postgres store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect with a `postgres://` URL.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url.parse().map_err(|source| StoreError::Connect {
            target: redact_url(url),
            source,
        })?;
        Self::connect_with(options, &redact_url(url)).await
    }

    /// Connect with options (for example from Percolate's `P8_PG_*` variables).
    pub async fn connect_with(options: PgConnectOptions, target: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                target: target.to_string(),
                source,
            })?;
        Ok(PostgresStore { pool })
    }

    /// A config's files as `read` makes them of the `columns` selected, in pages (see
    /// [`super::files_in_pages`]).
    async fn pages_of<T>(
        &self,
        config: ConfigId,
        columns: &str,
        read: fn(&PgRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Keyed,
    {
        // Two statements, so each can walk the (config_id, remote_id) index.
        let first = format!(
            r#"SELECT {columns} FROM p8."SyncFile" WHERE config_id = $1 AND $2 = ''
               ORDER BY remote_id LIMIT $3"#
        );
        let next = format!(
            r#"SELECT {columns} FROM p8."SyncFile" WHERE config_id = $1 AND remote_id > $2
               ORDER BY remote_id LIMIT $3"#
        );
        super::files_in_pages(|after| {
            let (sql, after) = match after {
                None => (first.clone(), String::new()),
                Some(after) => (next.clone(), after),
            };
            async move {
                // Only the column list is spliced in, and it is one of ours.
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(config.0)
                    .bind(after)
                    .bind(super::FILE_PAGE)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(query_err("listing synced files"))?
                    .iter()
                    .map(read)
                    .collect()
            }
        })
        .await
    }
}

/// A database URL with its password replaced, for messages.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("****"));
            }
            u.to_string()
        }
        Err(_) => "(unparseable database URL)".into(),
    }
}

fn ts(row: &PgRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let t: Option<chrono::NaiveDateTime> = row.try_get(col).map_err(query_err("reading a row"))?;
    Ok(t.map(|t| t.and_utc()))
}

fn naive(t: Option<DateTime<Utc>>) -> Option<chrono::NaiveDateTime> {
    t.map(|t| t.naive_utc())
}

fn uuid_col<T: From<uuid::Uuid>>(row: &PgRow, col: &str) -> Result<T, StoreError> {
    let id: uuid::Uuid = row.try_get(col).map_err(query_err("reading a row"))?;
    Ok(T::from(id))
}

fn opt_uuid_col<T: From<uuid::Uuid>>(row: &PgRow, col: &str) -> Result<Option<T>, StoreError> {
    let id: Option<uuid::Uuid> = row.try_get(col).map_err(query_err("reading a row"))?;
    Ok(id.map(T::from))
}

fn json_col(row: &PgRow, col: &str) -> Result<Option<serde_json::Value>, StoreError> {
    let v: Option<Json<serde_json::Value>> =
        row.try_get(col).map_err(query_err("reading a row"))?;
    Ok(v.map(|j| j.0))
}

fn get<'r, T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(
    row: &'r PgRow,
    col: &str,
) -> Result<T, StoreError> {
    row.try_get(col).map_err(query_err("reading a row"))
}

fn list_json(list: &[String]) -> Json<&[String]> {
    Json(list)
}

fn config_row(row: &PgRow) -> Result<SyncConfig, StoreError> {
    const T: &str = "SyncConfig";
    Ok(SyncConfig {
        id: uuid_col(row, "id")?,
        name: get(row, "name")?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid")?,
        credential_id: opt_uuid_col(row, "credential_id")?,
        enabled: get::<Option<bool>>(row, "enabled")?.unwrap_or(true),
        sync_interval_hours: get::<Option<i32>>(row, "sync_interval_hours")?.unwrap_or(24),
        last_sync_at: ts(row, "last_sync_at")?,
        next_sync_at: ts(row, "next_sync_at")?,
        include_folders: string_list(T, json_col(row, "include_folders")?)?,
        exclude_folders: string_list(T, json_col(row, "exclude_folders")?)?,
        include_file_types: string_list(T, json_col(row, "include_file_types")?)?,
        exclude_file_types: string_list(T, json_col(row, "exclude_file_types")?)?,
        provider_config: json_col(row, "provider_config")?
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        change_cursor: get(row, "change_cursor")?,
        cursor_scope: get(row, "cursor_scope")?,
        mirror_deletes: get(row, "mirror_deletes")?,
        max_file_size: get(row, "max_file_size")?,
        schedule: get(row, "schedule")?,
        schedule_timezone: get(row, "schedule_timezone")?,
    })
}

fn file_state_row(row: &PgRow) -> Result<FileState, StoreError> {
    let status: String = get(row, "status")?;
    Ok(FileState {
        remote_id: get(row, "remote_id")?,
        remote_path: get(row, "remote_path")?,
        remote_name: get(row, "remote_name")?,
        remote_size: get(row, "remote_size")?,
        remote_modified_at: ts(row, "remote_modified_at")?,
        remote_revision: get(row, "remote_revision")?,
        remote_checksum: get(row, "remote_checksum")?,
        status: super::parse_enum("SyncFile", "status", &status, FileStatus::parse)?,
        error_message: get(row, "error_message")?,
        has_object: get(row, "has_object")?,
    })
}

fn file_row(row: &PgRow) -> Result<SyncFile, StoreError> {
    const T: &str = "SyncFile";
    let status: String = get(row, "status")?;
    Ok(SyncFile {
        id: uuid_col::<FileId>(row, "id")?,
        config_id: uuid_col(row, "config_id")?,
        userid: uuid_col(row, "userid")?,
        remote_id: get(row, "remote_id")?,
        remote_path: get(row, "remote_path")?,
        remote_name: get(row, "remote_name")?,
        remote_type: get(row, "remote_type")?,
        remote_size: get(row, "remote_size")?,
        remote_modified_at: ts(row, "remote_modified_at")?,
        remote_created_at: ts(row, "remote_created_at")?,
        remote_metadata: json_col(row, "remote_metadata")?,
        remote_revision: get(row, "remote_revision")?,
        remote_checksum: get(row, "remote_checksum")?,
        s3_uri: get(row, "s3_uri")?,
        local_size: get(row, "local_size")?,
        local_modified_at: ts(row, "local_modified_at")?,
        local_checksum: get(row, "local_checksum")?,
        status: FileStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown status `{status}`"),
        })?,
        last_sync_at: ts(row, "last_sync_at")?,
        sync_attempts: get(row, "sync_attempts")?,
        error_message: get(row, "error_message")?,
        ingested: get(row, "ingested")?,
        resource_id: get(row, "resource_id")?,
        ingest_status: ingest_status(row)?,
        ingest_message: get(row, "ingest_message")?,
    })
}

fn ingest_status(row: &PgRow) -> Result<Option<IngestStatus>, StoreError> {
    let status: Option<String> = get(row, "ingest_status")?;
    status
        .map(|s| super::parse_enum("SyncFile", "ingest_status", &s, IngestStatus::parse))
        .transpose()
}

fn credential_row(row: &PgRow) -> Result<CredentialRecord, StoreError> {
    Ok(CredentialRecord {
        id: uuid_col(row, "id")?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid")?,
        label: get(row, "label")?,
        server_url: get(row, "server_url")?,
        access_token: get(row, "access_token")?,
        refresh_token: get(row, "refresh_token")?,
        token_expiry: ts(row, "token_expiry")?,
        provider_user_id: get(row, "provider_user_id")?,
        provider_metadata: json_col(row, "provider_metadata")?,
        key_id: get(row, "key_id")?,
        scopes: get(row, "scopes")?,
        needs_reauth: get(row, "needs_reauth")?,
        reauth_reason: get(row, "reauth_reason")?,
        refreshed_at: ts(row, "refreshed_at")?,
        created_at: ts(row, "created_at")?,
        updated_at: ts(row, "updated_at")?,
    })
}

const PUT_CREDENTIAL: &str = r#"INSERT INTO p8."SyncCredential" (id, provider, userid,
      access_token, refresh_token, token_expiry, provider_user_id, provider_metadata, key_id,
      scopes, needs_reauth, reauth_reason, refreshed_at, label, server_url)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
    ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, userid = excluded.userid,
      access_token = excluded.access_token, refresh_token = excluded.refresh_token,
      token_expiry = excluded.token_expiry, provider_user_id = excluded.provider_user_id,
      provider_metadata = excluded.provider_metadata, key_id = excluded.key_id,
      scopes = excluded.scopes, needs_reauth = excluded.needs_reauth,
      reauth_reason = excluded.reauth_reason, refreshed_at = excluded.refreshed_at,
      label = excluded.label, server_url = excluded.server_url,
      updated_at = CURRENT_TIMESTAMP"#;

async fn put_credential<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    c: &CredentialRecord,
) -> Result<(), StoreError> {
    sqlx::query(PUT_CREDENTIAL)
        .bind(c.id.0)
        .bind(&c.provider)
        .bind(c.userid.0)
        .bind(&c.access_token)
        .bind(&c.refresh_token)
        .bind(naive(c.token_expiry))
        .bind(&c.provider_user_id)
        .bind(c.provider_metadata.as_ref().map(Json))
        .bind(&c.key_id)
        .bind(&c.scopes)
        .bind(c.needs_reauth)
        .bind(&c.reauth_reason)
        .bind(naive(c.refreshed_at))
        .bind(&c.label)
        .bind(&c.server_url)
        .execute(executor)
        .await
        .map_err(query_err("saving a credential"))?;
    Ok(())
}

fn log_row(row: &PgRow) -> Result<SyncLog, StoreError> {
    const T: &str = "SyncLog";
    let status: String = get(row, "status")?;
    Ok(SyncLog {
        id: uuid_col::<LogId>(row, "id")?,
        config_id: uuid_col(row, "config_id")?,
        userid: uuid_col(row, "userid")?,
        status: LogStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown status `{status}`"),
        })?,
        started_at: ts(row, "started_at")?,
        completed_at: ts(row, "completed_at")?,
        duration_seconds: get(row, "duration_seconds")?,
        files_total: get(row, "files_total")?,
        files_synced: get(row, "files_synced")?,
        files_failed: get(row, "files_failed")?,
        files_unchanged: get(row, "files_unchanged")?,
        files_deleted: get(row, "files_deleted")?,
        bytes_synced: get(row, "bytes_synced")?,
        error_message: get(row, "error_message")?,
        detailed_log: json_col(row, "detailed_log")?,
        bytes_total: get(row, "bytes_total")?,
        current_file: get(row, "current_file")?,
        cancel_requested: get(row, "cancel_requested")?,
    })
}

/// Insert or replace a file's state; ingestion's columns are kept on an existing row.
async fn put_file<'e>(executor: impl sqlx::PgExecutor<'e>, f: &SyncFile) -> Result<(), StoreError> {
    sqlx::query(
        r#"INSERT INTO p8."SyncFile" (id, config_id, userid, remote_id, remote_path, remote_name,
             remote_type, remote_size, remote_modified_at, remote_created_at, remote_metadata,
             remote_revision, remote_checksum, s3_uri, local_size, local_modified_at,
             local_checksum, status, last_sync_at, sync_attempts, error_message, ingested,
             resource_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
             $18, $19, $20, $21, $22, $23)
           ON CONFLICT (id) DO UPDATE SET remote_path = excluded.remote_path,
             remote_name = excluded.remote_name, remote_type = excluded.remote_type,
             remote_size = excluded.remote_size, remote_modified_at = excluded.remote_modified_at,
             remote_created_at = excluded.remote_created_at,
             remote_metadata = excluded.remote_metadata, remote_revision = excluded.remote_revision,
             remote_checksum = excluded.remote_checksum, s3_uri = excluded.s3_uri,
             local_size = excluded.local_size, local_modified_at = excluded.local_modified_at,
             local_checksum = excluded.local_checksum, status = excluded.status,
             last_sync_at = excluded.last_sync_at, sync_attempts = excluded.sync_attempts,
             error_message = excluded.error_message, updated_at = CURRENT_TIMESTAMP"#,
    )
    .bind(f.id.0)
    .bind(f.config_id.0)
    .bind(f.userid.0)
    .bind(&f.remote_id)
    .bind(&f.remote_path)
    .bind(&f.remote_name)
    .bind(&f.remote_type)
    .bind(f.remote_size)
    .bind(naive(f.remote_modified_at))
    .bind(naive(f.remote_created_at))
    .bind(f.remote_metadata.as_ref().map(Json))
    .bind(&f.remote_revision)
    .bind(&f.remote_checksum)
    .bind(&f.s3_uri)
    .bind(f.local_size)
    .bind(naive(f.local_modified_at))
    .bind(&f.local_checksum)
    .bind(f.status.as_str())
    .bind(naive(f.last_sync_at))
    .bind(f.sync_attempts)
    .bind(&f.error_message)
    .bind(f.ingested)
    .bind(f.resource_id)
    .execute(executor)
    .await
    .map_err(query_err("saving a file's state"))?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_config(&self, c: &SyncConfig) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO p8."SyncConfig" (id, name, provider, userid, enabled, sync_interval_hours,
                 last_sync_at, next_sync_at, include_folders, exclude_folders, include_file_types,
                 exclude_file_types, provider_config, change_cursor, mirror_deletes, max_file_size,
                 schedule, schedule_timezone, cursor_scope, credential_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                 $17, $18, $19, $20)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider,
                 userid = excluded.userid, enabled = excluded.enabled,
                 sync_interval_hours = excluded.sync_interval_hours,
                 last_sync_at = excluded.last_sync_at, next_sync_at = excluded.next_sync_at,
                 include_folders = excluded.include_folders, exclude_folders = excluded.exclude_folders,
                 include_file_types = excluded.include_file_types,
                 exclude_file_types = excluded.exclude_file_types,
                 provider_config = excluded.provider_config, change_cursor = excluded.change_cursor,
                 cursor_scope = excluded.cursor_scope,
                 mirror_deletes = excluded.mirror_deletes, max_file_size = excluded.max_file_size,
                 schedule = excluded.schedule, schedule_timezone = excluded.schedule_timezone,
                 credential_id = excluded.credential_id,
                 updated_at = CURRENT_TIMESTAMP"#,
        )
        .bind(c.id.0)
        .bind(&c.name)
        .bind(&c.provider)
        .bind(c.userid.0)
        .bind(c.enabled)
        .bind(c.sync_interval_hours)
        .bind(naive(c.last_sync_at))
        .bind(naive(c.next_sync_at))
        .bind(list_json(&c.include_folders))
        .bind(list_json(&c.exclude_folders))
        .bind(list_json(&c.include_file_types))
        .bind(list_json(&c.exclude_file_types))
        .bind(Json(&c.provider_config))
        .bind(&c.change_cursor)
        .bind(c.mirror_deletes)
        .bind(c.max_file_size)
        .bind(&c.schedule)
        .bind(&c.schedule_timezone)
        .bind(&c.cursor_scope)
        .bind(c.credential_id.map(|id| id.0))
        .execute(&self.pool)
        .await
        .map_err(query_err("saving a sync config"))?;
        Ok(())
    }

    async fn config(&self, id: ConfigId) -> Result<Option<SyncConfig>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncConfig" WHERE id = $1"#)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a sync config"))?
            .as_ref()
            .map(config_row)
            .transpose()
    }

    async fn configs(&self, user: Option<UserId>) -> Result<Vec<SyncConfig>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncConfig" WHERE $1::uuid IS NULL OR userid = $1 ORDER BY name, id"#)
            .bind(user.map(|u| u.0))
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing sync configs"))?
            .iter()
            .map(config_row)
            .collect()
    }

    async fn delete_config(&self, id: ConfigId) -> Result<bool, StoreError> {
        const DOING: &str = "deleting a sync config";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        // What ingestion made of the config's files has no foreign key to them (the tables
        // are Percolate's): remove it here, with the config, files and jobs in one go.
        for derived in [
            r#"DELETE FROM p8."AudioChunk" WHERE audio_file_id IN
                 (SELECT id FROM p8."AudioFile" WHERE sync_file_id IN (SELECT id FROM p8."SyncFile" WHERE config_id = $1))"#,
            r#"DELETE FROM p8."AudioFile" WHERE sync_file_id IN (SELECT id FROM p8."SyncFile" WHERE config_id = $1)"#,
            r#"DELETE FROM p8."Resources" WHERE sync_file_id IN (SELECT id FROM p8."SyncFile" WHERE config_id = $1)"#,
        ] {
            sqlx::query(derived)
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        }
        let done = sqlx::query(r#"DELETE FROM p8."SyncConfig" WHERE id = $1"#)
            .bind(id.0)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(done.rows_affected() > 0)
    }

    async fn set_cursor(
        &self,
        id: ConfigId,
        cursor: Option<&str>,
        scope: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(r#"UPDATE p8."SyncConfig" SET change_cursor = $2, cursor_scope = $3, updated_at = CURRENT_TIMESTAMP WHERE id = $1"#)
            .bind(id.0)
            .bind(cursor)
            .bind(scope)
            .execute(&self.pool)
            .await
            .map_err(query_err("saving a change cursor"))?;
        Ok(())
    }

    async fn files(&self, config: ConfigId) -> Result<Vec<SyncFile>, StoreError> {
        self.pages_of(config, "*", file_row).await
    }

    async fn file_states(&self, config: ConfigId) -> Result<Vec<FileState>, StoreError> {
        self.pages_of(config, super::FILE_STATE_COLUMNS, file_state_row)
            .await
    }

    async fn files_named(
        &self,
        config: ConfigId,
        remote_ids: &[String],
    ) -> Result<Vec<SyncFile>, StoreError> {
        if remote_ids.is_empty() {
            return Ok(Vec::new());
        }
        sqlx::query(r#"SELECT * FROM p8."SyncFile" WHERE config_id = $1 AND remote_id = ANY($2)"#)
            .bind(config.0)
            .bind(remote_ids)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("reading synced files"))?
            .iter()
            .map(file_row)
            .collect()
    }

    async fn put_file(&self, f: &SyncFile) -> Result<(), StoreError> {
        put_file(&self.pool, f).await
    }

    async fn start_log(&self, l: &SyncLog) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO p8."SyncLog" (id, config_id, userid, status, started_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 started_at = excluded.started_at"#,
        )
        .bind(l.id.0)
        .bind(l.config_id.0)
        .bind(l.userid.0)
        .bind(l.status.as_str())
        .bind(naive(l.started_at))
        .execute(&self.pool)
        .await
        .map_err(query_err("starting a sync log"))?;
        Ok(())
    }

    async fn run_progress(&self, id: LogId, p: &RunProgress) -> Result<bool, StoreError> {
        let requested: Option<bool> = sqlx::query_scalar(
            r#"UPDATE p8."SyncLog" SET files_total = $2, files_synced = $3, files_failed = $4,
                 bytes_total = $5, bytes_synced = $6, current_file = $7,
                 progress_at = (now() AT TIME ZONE 'UTC')
               WHERE id = $1 AND status = 'syncing'
               RETURNING cancel_requested"#,
        )
        .bind(id.0)
        .bind(i32::try_from(p.files_total).unwrap_or(i32::MAX))
        .bind(i32::try_from(p.files_synced).unwrap_or(i32::MAX))
        .bind(i32::try_from(p.files_failed).unwrap_or(i32::MAX))
        .bind(p.bytes_total)
        .bind(p.bytes_done)
        .bind(&p.current_file)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("recording a run's progress"))?;
        Ok(requested.unwrap_or(false))
    }

    async fn cancel_run(&self, id: LogId) -> Result<Option<CancelOutcome>, StoreError> {
        const DOING: &str = "cancelling a run";
        // One statement, so a run that ends meanwhile is seen as ended: a queued run is
        // cancelled, a running one is asked to stop, an ended one is left alone.
        let row: Option<(String, bool)> = sqlx::query_as(
            r#"WITH old AS (SELECT status FROM p8."SyncLog" WHERE id = $1 FOR UPDATE)
               UPDATE p8."SyncLog" l SET
                 status = CASE WHEN old.status = 'pending' THEN 'cancelled' ELSE l.status END,
                 completed_at = CASE WHEN old.status = 'pending'
                   THEN (now() AT TIME ZONE 'UTC') ELSE l.completed_at END,
                 error_message = CASE WHEN old.status = 'pending'
                   THEN 'cancelled before it started' ELSE l.error_message END,
                 cancel_requested = l.cancel_requested OR old.status = 'syncing'
               FROM old WHERE l.id = $1
               RETURNING old.status, l.cancel_requested"#,
        )
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        let Some((status, _)) = row else {
            return Ok(None);
        };
        let status = super::parse_enum("SyncLog", "status", &status, LogStatus::parse)?;
        Ok(Some(CancelOutcome::of(status)))
    }

    async fn finish_log(&self, l: &SyncLog, next: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("finishing a sync log"))?;
        sqlx::query(
            r#"UPDATE p8."SyncLog" SET status = $2, completed_at = $3, duration_seconds = $4,
                 files_total = $5, files_synced = $6, files_failed = $7, files_unchanged = $8,
                 files_deleted = $9, bytes_synced = $10, error_message = $11, detailed_log = $12
               WHERE id = $1"#,
        )
        .bind(l.id.0)
        .bind(l.status.as_str())
        .bind(naive(l.completed_at))
        .bind(l.duration_seconds)
        .bind(l.files_total)
        .bind(l.files_synced)
        .bind(l.files_failed)
        .bind(l.files_unchanged)
        .bind(l.files_deleted)
        .bind(l.bytes_synced)
        .bind(&l.error_message)
        .bind(l.detailed_log.as_ref().map(Json))
        .execute(&mut *tx)
        .await
        .map_err(query_err("finishing a sync log"))?;
        sqlx::query(
            // A run queued while this one ran is due at once, whatever the schedule says.
            r#"UPDATE p8."SyncConfig" SET last_sync_at = $2,
                 next_sync_at = CASE WHEN EXISTS (SELECT 1 FROM p8."SyncLog"
                     WHERE config_id = $1 AND status = 'pending') THEN $2 ELSE $3 END,
                 updated_at = CURRENT_TIMESTAMP WHERE id = $1"#,
        )
        .bind(l.config_id.0)
        .bind(naive(l.completed_at))
        .bind(naive(next))
        .execute(&mut *tx)
        .await
        .map_err(query_err("finishing a sync log"))?;
        tx.commit()
            .await
            .map_err(query_err("finishing a sync log"))?;
        Ok(())
    }

    async fn logs(&self, config: Option<ConfigId>, limit: i64) -> Result<Vec<SyncLog>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM p8."SyncLog" WHERE $1::uuid IS NULL OR config_id = $1
               ORDER BY started_at DESC, id LIMIT $2"#,
        )
        .bind(config.map(|c| c.0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing sync logs"))?
        .iter()
        .map(log_row)
        .collect()
    }

    async fn put_credential(&self, c: &CredentialRecord) -> Result<(), StoreError> {
        put_credential(&self.pool, c).await
    }

    async fn credential(&self, id: CredentialId) -> Result<Option<CredentialRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncCredential" WHERE id = $1"#)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a credential"))?
            .as_ref()
            .map(credential_row)
            .transpose()
    }

    async fn credentials(&self, user: Option<UserId>) -> Result<Vec<CredentialRecord>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM p8."SyncCredential" WHERE $1::uuid IS NULL OR userid = $1
               ORDER BY provider, userid, label"#,
        )
        .bind(user.map(|u| u.0))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing credentials"))?
        .iter()
        .map(credential_row)
        .collect()
    }

    async fn delete_credential(&self, id: CredentialId) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM p8."SyncCredential" WHERE id = $1"#)
            .bind(id.0)
            .execute(&self.pool)
            .await
            .map_err(query_err("deleting a credential"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn update_credential_locked(
        &self,
        id: CredentialId,
        update: CredentialUpdate<'_>,
    ) -> Result<Option<CredentialRecord>, StoreError> {
        const DOING: &str = "updating a credential under its row lock";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        // The row lock is what serialises refreshes across replicas; the caller re-reads
        // the row it is handed, so a refresh another replica just made is seen, not repeated.
        let Some(row) =
            sqlx::query(r#"SELECT * FROM p8."SyncCredential" WHERE id = $1 FOR UPDATE"#)
                .bind(id.0)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err(DOING))?
        else {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let current = credential_row(&row)?;
        let result = match update(current.clone()).await {
            Some(new) => {
                put_credential(&mut *tx, &new).await?;
                new
            }
            None => current,
        };
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(result))
    }
}
