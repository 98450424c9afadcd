//! The embedded store: one SQLite file, nothing to install. Uuids and timestamps are TEXT,
//! JSON is TEXT; the tables and columns are the Postgres ones.

use super::ids::{ConfigId, CredentialId, FileId, LogId, UserId};
use super::ingest::IngestStatus;
use super::{
    CredentialRecord, CredentialUpdate, FileState, FileStatus, Keyed, LogStatus, Store, StoreError,
    SyncConfig, SyncFile, SyncLog, query_err, string_list,
};
use crate::store::{CancelOutcome, RunProgress};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::str::FromStr;

mod access;
mod ingest;
mod pages;
mod schedule;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL keeps the database consistent through any crash and only risks
            // the last commits on power loss; FULL would fsync once per file outcome.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Connect {
                target: path.display().to_string(),
                source,
            })?;
        Ok(SqliteStore { pool })
    }

    /// A config's files as `read` makes them of the `columns` selected, in pages (see
    /// [`super::files_in_pages`]).
    async fn pages_of<T>(
        &self,
        config: ConfigId,
        columns: &str,
        read: fn(&SqliteRow) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Keyed,
    {
        // Two statements, so each can walk the (config_id, remote_id) index.
        let first = format!(
            r#"SELECT {columns} FROM "SyncFile" WHERE config_id = ?1 AND ?2 = ''
               ORDER BY remote_id LIMIT ?3"#
        );
        let next = format!(
            r#"SELECT {columns} FROM "SyncFile" WHERE config_id = ?1 AND remote_id > ?2
               ORDER BY remote_id LIMIT ?3"#
        );
        super::files_in_pages(|after| {
            let (sql, after) = match after {
                None => (first.clone(), String::new()),
                Some(after) => (next.clone(), after),
            };
            async move {
                // Only the column list is spliced in, and it is one of ours.
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(config.to_string())
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

fn uuid_col<T: FromStr>(row: &SqliteRow, col: &str, table: &'static str) -> Result<T, StoreError> {
    let text: String = row.try_get(col).map_err(query_err("reading a row"))?;
    text.parse().map_err(|_| StoreError::Corrupt {
        table,
        reason: format!("{col} `{text}` is not a uuid"),
    })
}

pub(super) fn opt_uuid_col<T: FromStr>(
    row: &SqliteRow,
    col: &str,
    table: &'static str,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = row.try_get(col).map_err(query_err("reading a row"))?;
    text.map(|text| {
        text.parse().map_err(|_| StoreError::Corrupt {
            table,
            reason: format!("{col} `{text}` is not a uuid"),
        })
    })
    .transpose()
}

fn json_col(
    row: &SqliteRow,
    col: &str,
    table: &'static str,
) -> Result<Option<serde_json::Value>, StoreError> {
    let text: Option<String> = row.try_get(col).map_err(query_err("reading a row"))?;
    text.map(|t| {
        serde_json::from_str(&t).map_err(|e| StoreError::Corrupt {
            table,
            reason: format!("{col} is not JSON: {e}"),
        })
    })
    .transpose()
}

fn get<'r, T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> Result<T, StoreError> {
    row.try_get(col).map_err(query_err("reading a row"))
}

fn list_json(list: &[String]) -> String {
    serde_json::to_string(list).expect("a list of strings serialises")
}

fn config_row(row: &SqliteRow) -> Result<SyncConfig, StoreError> {
    const T: &str = "SyncConfig";
    Ok(SyncConfig {
        id: uuid_col(row, "id", T)?,
        name: get(row, "name")?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid", T)?,
        credential_id: opt_uuid_col(row, "credential_id", T)?,
        enabled: get::<Option<bool>>(row, "enabled")?.unwrap_or(true),
        sync_interval_hours: get::<Option<i32>>(row, "sync_interval_hours")?.unwrap_or(24),
        last_sync_at: get(row, "last_sync_at")?,
        next_sync_at: get(row, "next_sync_at")?,
        include_folders: string_list(T, json_col(row, "include_folders", T)?)?,
        exclude_folders: string_list(T, json_col(row, "exclude_folders", T)?)?,
        include_file_types: string_list(T, json_col(row, "include_file_types", T)?)?,
        exclude_file_types: string_list(T, json_col(row, "exclude_file_types", T)?)?,
        provider_config: json_col(row, "provider_config", T)?
            .unwrap_or_else(|| serde_json::Value::Object(Default::default())),
        change_cursor: get(row, "change_cursor")?,
        cursor_scope: get(row, "cursor_scope")?,
        mirror_deletes: get(row, "mirror_deletes")?,
        max_file_size: get(row, "max_file_size")?,
        schedule: get(row, "schedule")?,
        schedule_timezone: get(row, "schedule_timezone")?,
    })
}

fn file_state_row(row: &SqliteRow) -> Result<FileState, StoreError> {
    let status: String = get(row, "status")?;
    Ok(FileState {
        remote_id: get(row, "remote_id")?,
        remote_path: get(row, "remote_path")?,
        remote_name: get(row, "remote_name")?,
        remote_size: get(row, "remote_size")?,
        remote_modified_at: get(row, "remote_modified_at")?,
        remote_revision: get(row, "remote_revision")?,
        remote_checksum: get(row, "remote_checksum")?,
        status: super::parse_enum("SyncFile", "status", &status, FileStatus::parse)?,
        error_message: get(row, "error_message")?,
        has_object: get(row, "has_object")?,
    })
}

fn file_row(row: &SqliteRow) -> Result<SyncFile, StoreError> {
    const T: &str = "SyncFile";
    let status: String = get(row, "status")?;
    let resource: Option<String> = get(row, "resource_id")?;
    Ok(SyncFile {
        id: uuid_col::<FileId>(row, "id", T)?,
        config_id: uuid_col(row, "config_id", T)?,
        userid: uuid_col(row, "userid", T)?,
        remote_id: get(row, "remote_id")?,
        remote_path: get(row, "remote_path")?,
        remote_name: get(row, "remote_name")?,
        remote_type: get(row, "remote_type")?,
        remote_size: get(row, "remote_size")?,
        remote_modified_at: get(row, "remote_modified_at")?,
        remote_created_at: get(row, "remote_created_at")?,
        remote_metadata: json_col(row, "remote_metadata", T)?,
        remote_revision: get(row, "remote_revision")?,
        remote_checksum: get(row, "remote_checksum")?,
        s3_uri: get(row, "s3_uri")?,
        local_size: get(row, "local_size")?,
        local_modified_at: get(row, "local_modified_at")?,
        local_checksum: get(row, "local_checksum")?,
        status: FileStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown status `{status}`"),
        })?,
        last_sync_at: get(row, "last_sync_at")?,
        sync_attempts: get(row, "sync_attempts")?,
        error_message: get(row, "error_message")?,
        ingested: get(row, "ingested")?,
        resource_id: resource
            .map(|r| {
                r.parse().map_err(|_| StoreError::Corrupt {
                    table: T,
                    reason: format!("resource_id `{r}` is not a uuid"),
                })
            })
            .transpose()?,
        ingest_status: ingest_status(row)?,
        ingest_message: get(row, "ingest_message")?,
    })
}

fn ingest_status(row: &SqliteRow) -> Result<Option<IngestStatus>, StoreError> {
    let status: Option<String> = get(row, "ingest_status")?;
    status
        .map(|s| super::parse_enum("SyncFile", "ingest_status", &s, IngestStatus::parse))
        .transpose()
}

/// A timestamp SQLite wrote itself (`CURRENT_TIMESTAMP`, no zone) or one sqlx wrote (RFC 3339).
fn sqlite_ts(row: &SqliteRow, col: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<String> = get(row, col)?;
    Ok(text.and_then(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%d %H:%M:%S%.f")
                    .ok()
                    .map(|n| n.and_utc())
            })
    }))
}

fn credential_row(row: &SqliteRow) -> Result<CredentialRecord, StoreError> {
    const T: &str = "SyncCredential";
    Ok(CredentialRecord {
        id: uuid_col(row, "id", T)?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid", T)?,
        label: get(row, "label")?,
        server_url: get(row, "server_url")?,
        access_token: get(row, "access_token")?,
        refresh_token: get(row, "refresh_token")?,
        token_expiry: sqlite_ts(row, "token_expiry")?,
        provider_user_id: get(row, "provider_user_id")?,
        provider_metadata: json_col(row, "provider_metadata", T)?,
        key_id: get(row, "key_id")?,
        scopes: get(row, "scopes")?,
        needs_reauth: get(row, "needs_reauth")?,
        reauth_reason: get(row, "reauth_reason")?,
        refreshed_at: sqlite_ts(row, "refreshed_at")?,
        created_at: sqlite_ts(row, "created_at")?,
        updated_at: sqlite_ts(row, "updated_at")?,
    })
}

async fn put_credential<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    c: &CredentialRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        r#"INSERT INTO "SyncCredential" (id, provider, userid, access_token, refresh_token,
             token_expiry, provider_user_id, provider_metadata, key_id, scopes, needs_reauth,
             reauth_reason, refreshed_at, label, server_url)
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
           ON CONFLICT (id) DO UPDATE SET provider = excluded.provider, userid = excluded.userid,
             access_token = excluded.access_token, refresh_token = excluded.refresh_token,
             token_expiry = excluded.token_expiry, provider_user_id = excluded.provider_user_id,
             provider_metadata = excluded.provider_metadata, key_id = excluded.key_id,
             scopes = excluded.scopes, needs_reauth = excluded.needs_reauth,
             reauth_reason = excluded.reauth_reason, refreshed_at = excluded.refreshed_at,
             label = excluded.label, server_url = excluded.server_url,
             updated_at = CURRENT_TIMESTAMP"#,
    )
    .bind(c.id.to_string())
    .bind(&c.provider)
    .bind(c.userid.to_string())
    .bind(&c.access_token)
    .bind(&c.refresh_token)
    .bind(c.token_expiry.map(|t| t.to_rfc3339()))
    .bind(&c.provider_user_id)
    .bind(c.provider_metadata.as_ref().map(|m| m.to_string()))
    .bind(&c.key_id)
    .bind(&c.scopes)
    .bind(c.needs_reauth)
    .bind(&c.reauth_reason)
    .bind(c.refreshed_at.map(|t| t.to_rfc3339()))
    .bind(&c.label)
    .bind(&c.server_url)
    .execute(executor)
    .await
    .map_err(query_err("saving a credential"))?;
    Ok(())
}

fn log_row(row: &SqliteRow) -> Result<SyncLog, StoreError> {
    const T: &str = "SyncLog";
    let status: String = get(row, "status")?;
    Ok(SyncLog {
        id: uuid_col::<LogId>(row, "id", T)?,
        config_id: uuid_col(row, "config_id", T)?,
        userid: uuid_col(row, "userid", T)?,
        status: LogStatus::parse(&status).ok_or_else(|| StoreError::Corrupt {
            table: T,
            reason: format!("unknown status `{status}`"),
        })?,
        started_at: get(row, "started_at")?,
        completed_at: get(row, "completed_at")?,
        duration_seconds: get(row, "duration_seconds")?,
        files_total: get(row, "files_total")?,
        files_synced: get(row, "files_synced")?,
        files_failed: get(row, "files_failed")?,
        files_unchanged: get(row, "files_unchanged")?,
        files_deleted: get(row, "files_deleted")?,
        bytes_synced: get(row, "bytes_synced")?,
        error_message: get(row, "error_message")?,
        detailed_log: json_col(row, "detailed_log", T)?,
        bytes_total: get(row, "bytes_total")?,
        current_file: get(row, "current_file")?,
        cancel_requested: get(row, "cancel_requested")?,
    })
}

/// The `SyncFile` upsert: values `?1` to `?23` (see [`bind_file`]), then any `$columns` with
/// their `$values` (numbered on from `?24`) and `$set` assignments for a row already there.
macro_rules! file_upsert {
    ($columns:literal, $values:literal, $set:literal) => {
        concat!(
            r#"INSERT INTO "SyncFile" (id, config_id, userid, remote_id, remote_path, remote_name,
             remote_type, remote_size, remote_modified_at, remote_created_at, remote_metadata,
             remote_revision, remote_checksum, s3_uri, local_size, local_modified_at,
             local_checksum, status, last_sync_at, sync_attempts, error_message, ingested,
             resource_id"#, $columns, r#")
           VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?18, ?19, ?20, ?21, ?22, ?23"#, $values, r#")
           ON CONFLICT (id) DO UPDATE SET remote_path = excluded.remote_path,
             remote_name = excluded.remote_name, remote_type = excluded.remote_type,
             remote_size = excluded.remote_size, remote_modified_at = excluded.remote_modified_at,
             remote_created_at = excluded.remote_created_at,
             remote_metadata = excluded.remote_metadata, remote_revision = excluded.remote_revision,
             remote_checksum = excluded.remote_checksum, s3_uri = excluded.s3_uri,
             local_size = excluded.local_size, local_modified_at = excluded.local_modified_at,
             local_checksum = excluded.local_checksum, status = excluded.status,
             last_sync_at = excluded.last_sync_at, sync_attempts = excluded.sync_attempts,
             error_message = excluded.error_message, updated_at = CURRENT_TIMESTAMP"#, $set
        )
    };
}

/// Insert or update a `SyncFile` row; its values are `?1` to `?23` (see [`bind_file`]), so it
/// can lead a multi-statement query whose later statements use the same numbers.
pub(super) const FILE_UPSERT: &str = file_upsert!("", "", "");

/// [`FILE_UPSERT`] for a file ingestion has settled without a job: also records its ingestion
/// status (`?24`) and message (`?25`), and drops what earlier content made of it.
pub(super) const SETTLED_FILE_UPSERT: &str = file_upsert!(
    ", ingest_status, ingest_message",
    ", ?24, ?25",
    r#", ingested = FALSE, resource_id = NULL, ingest_status = excluded.ingest_status,
      ingest_message = excluded.ingest_message"#
);

/// Bind `f`'s columns as `?1` (its id) to `?23`, in [`FILE_UPSERT`]'s order.
pub(super) fn bind_file<'q>(
    query: sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>,
    f: &'q SyncFile,
) -> sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    query
        .bind(f.id.to_string())
        .bind(f.config_id.to_string())
        .bind(f.userid.to_string())
        .bind(&f.remote_id)
        .bind(&f.remote_path)
        .bind(&f.remote_name)
        .bind(&f.remote_type)
        .bind(f.remote_size)
        .bind(f.remote_modified_at)
        .bind(f.remote_created_at)
        .bind(f.remote_metadata.as_ref().map(|m| m.to_string()))
        .bind(&f.remote_revision)
        .bind(&f.remote_checksum)
        .bind(&f.s3_uri)
        .bind(f.local_size)
        .bind(f.local_modified_at)
        .bind(&f.local_checksum)
        .bind(f.status.as_str())
        .bind(f.last_sync_at)
        .bind(f.sync_attempts)
        .bind(&f.error_message)
        .bind(f.ingested)
        .bind(f.resource_id.map(|r| r.to_string()))
}

/// Insert or replace a file's state; ingestion's columns are kept on an existing row.
async fn put_file<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    f: &SyncFile,
) -> Result<(), StoreError> {
    bind_file(sqlx::query(FILE_UPSERT), f)
        .execute(executor)
        .await
        .map_err(query_err("saving a file's state"))?;
    Ok(())
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("../migrations/sqlite")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_config(&self, c: &SyncConfig) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO "SyncConfig" (id, name, provider, userid, enabled, sync_interval_hours,
                 last_sync_at, next_sync_at, include_folders, exclude_folders, include_file_types,
                 exclude_file_types, provider_config, change_cursor, mirror_deletes, max_file_size,
                 schedule, schedule_timezone, cursor_scope, credential_id)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                 ?17, ?18, ?19, ?20)
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
        .bind(c.id.to_string())
        .bind(&c.name)
        .bind(&c.provider)
        .bind(c.userid.to_string())
        .bind(c.enabled)
        .bind(c.sync_interval_hours)
        .bind(c.last_sync_at)
        .bind(c.next_sync_at)
        .bind(list_json(&c.include_folders))
        .bind(list_json(&c.exclude_folders))
        .bind(list_json(&c.include_file_types))
        .bind(list_json(&c.exclude_file_types))
        .bind(c.provider_config.to_string())
        .bind(&c.change_cursor)
        .bind(c.mirror_deletes)
        .bind(c.max_file_size)
        .bind(&c.schedule)
        .bind(&c.schedule_timezone)
        .bind(&c.cursor_scope)
        .bind(c.credential_id.map(|id| id.to_string()))
        .execute(&self.pool)
        .await
        .map_err(query_err("saving a sync config"))?;
        Ok(())
    }

    async fn config(&self, id: ConfigId) -> Result<Option<SyncConfig>, StoreError> {
        sqlx::query(r#"SELECT * FROM "SyncConfig" WHERE id = ?1"#)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a sync config"))?
            .as_ref()
            .map(config_row)
            .transpose()
    }

    async fn configs(&self, user: Option<UserId>) -> Result<Vec<SyncConfig>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM "SyncConfig" WHERE ?1 IS NULL OR userid = ?1 ORDER BY name, id"#,
        )
        .bind(user.map(|u| u.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing sync configs"))?
        .iter()
        .map(config_row)
        .collect()
    }

    async fn delete_config(&self, id: ConfigId) -> Result<bool, StoreError> {
        const DOING: &str = "deleting a sync config";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(DOING))?;
        // What ingestion made of the config's files has no foreign key to them (the tables
        // are Percolate's): remove it here, with the config, files and jobs in one go.
        for derived in [
            r#"DELETE FROM "AudioChunk" WHERE audio_file_id IN
                 (SELECT id FROM "AudioFile" WHERE sync_file_id IN (SELECT id FROM "SyncFile" WHERE config_id = ?1))"#,
            r#"DELETE FROM "AudioFile" WHERE sync_file_id IN (SELECT id FROM "SyncFile" WHERE config_id = ?1)"#,
            r#"DELETE FROM "Resources" WHERE sync_file_id IN (SELECT id FROM "SyncFile" WHERE config_id = ?1)"#,
        ] {
            sqlx::query(derived)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        }
        let done = sqlx::query(r#"DELETE FROM "SyncConfig" WHERE id = ?1"#)
            .bind(id.to_string())
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
        sqlx::query(r#"UPDATE "SyncConfig" SET change_cursor = ?2, cursor_scope = ?3, updated_at = CURRENT_TIMESTAMP WHERE id = ?1"#)
            .bind(id.to_string())
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
        sqlx::query(
            r#"SELECT * FROM "SyncFile" WHERE config_id = ?1
            AND remote_id IN (SELECT value FROM json_each(?2))"#,
        )
        .bind(config.to_string())
        .bind(list_json(remote_ids))
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
            r#"INSERT INTO "SyncLog" (id, config_id, userid, status, started_at)
               VALUES (?1, ?2, ?3, ?4, ?5)
               ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                 started_at = excluded.started_at"#,
        )
        .bind(l.id.to_string())
        .bind(l.config_id.to_string())
        .bind(l.userid.to_string())
        .bind(l.status.as_str())
        .bind(l.started_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("starting a sync log"))?;
        Ok(())
    }

    async fn run_progress(&self, id: LogId, p: &RunProgress) -> Result<bool, StoreError> {
        let requested: Option<bool> = sqlx::query_scalar(
            r#"UPDATE "SyncLog" SET files_total = ?2, files_synced = ?3, files_failed = ?4,
                 bytes_total = ?5, bytes_synced = ?6, current_file = ?7, progress_at = ?8
               WHERE id = ?1 AND status = 'syncing'
               RETURNING cancel_requested"#,
        )
        .bind(id.to_string())
        .bind(p.files_total)
        .bind(p.files_synced)
        .bind(p.files_failed)
        .bind(p.bytes_total)
        .bind(p.bytes_done)
        .bind(&p.current_file)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("recording a run's progress"))?;
        Ok(requested.unwrap_or(false))
    }

    async fn cancel_run(&self, id: LogId) -> Result<Option<CancelOutcome>, StoreError> {
        const DOING: &str = "cancelling a run";
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(DOING))?;
        let status: Option<String> =
            sqlx::query_scalar(r#"SELECT status FROM "SyncLog" WHERE id = ?1"#)
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        let Some(status) = status else {
            return Ok(None);
        };
        let status = super::parse_enum("SyncLog", "status", &status, LogStatus::parse)?;
        let outcome = CancelOutcome::of(status);
        match outcome {
            CancelOutcome::Cancelled => {
                sqlx::query(
                    r#"UPDATE "SyncLog" SET status = 'cancelled', completed_at = ?2,
                         error_message = 'cancelled before it started' WHERE id = ?1"#,
                )
                .bind(id.to_string())
                .bind(Utc::now())
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
            }
            CancelOutcome::Requested => {
                sqlx::query(r#"UPDATE "SyncLog" SET cancel_requested = 1 WHERE id = ?1"#)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await
                    .map_err(query_err(DOING))?;
            }
            CancelOutcome::Ended(_) => {}
        }
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(outcome))
    }

    async fn finish_log(&self, l: &SyncLog, next: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(query_err("finishing a sync log"))?;
        sqlx::query(
            r#"UPDATE "SyncLog" SET status = ?2, completed_at = ?3, duration_seconds = ?4,
                 files_total = ?5, files_synced = ?6, files_failed = ?7, files_unchanged = ?8,
                 files_deleted = ?9, bytes_synced = ?10, error_message = ?11, detailed_log = ?12
               WHERE id = ?1"#,
        )
        .bind(l.id.to_string())
        .bind(l.status.as_str())
        .bind(l.completed_at)
        .bind(l.duration_seconds)
        .bind(l.files_total)
        .bind(l.files_synced)
        .bind(l.files_failed)
        .bind(l.files_unchanged)
        .bind(l.files_deleted)
        .bind(l.bytes_synced)
        .bind(&l.error_message)
        .bind(l.detailed_log.as_ref().map(|d| d.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(query_err("finishing a sync log"))?;
        sqlx::query(
            // A run queued while this one ran is due at once, whatever the schedule says.
            r#"UPDATE "SyncConfig" SET last_sync_at = ?2,
                 next_sync_at = CASE WHEN EXISTS (SELECT 1 FROM "SyncLog"
                     WHERE config_id = ?1 AND status = 'pending') THEN ?2 ELSE ?3 END,
                 updated_at = CURRENT_TIMESTAMP WHERE id = ?1"#,
        )
        .bind(l.config_id.to_string())
        .bind(l.completed_at)
        .bind(next)
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
            r#"SELECT * FROM "SyncLog" WHERE ?1 IS NULL OR config_id = ?1
               ORDER BY started_at DESC, id LIMIT ?2"#,
        )
        .bind(config.map(|c| c.to_string()))
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
        sqlx::query(r#"SELECT * FROM "SyncCredential" WHERE id = ?1"#)
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a credential"))?
            .as_ref()
            .map(credential_row)
            .transpose()
    }

    async fn credentials(&self, user: Option<UserId>) -> Result<Vec<CredentialRecord>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM "SyncCredential" WHERE ?1 IS NULL OR userid = ?1
               ORDER BY provider, userid, label"#,
        )
        .bind(user.map(|u| u.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing credentials"))?
        .iter()
        .map(credential_row)
        .collect()
    }

    async fn delete_credential(&self, id: CredentialId) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM "SyncCredential" WHERE id = ?1"#)
            .bind(id.to_string())
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
        const DOING: &str = "updating a credential under the database write lock";
        // BEGIN IMMEDIATE takes SQLite's write lock up front, which other processes on the
        // same file respect: the embedded equivalent of Postgres' row lock.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(DOING))?;
        let Some(row) = sqlx::query(r#"SELECT * FROM "SyncCredential" WHERE id = ?1"#)
            .bind(id.to_string())
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
