//! The ingestion queue and ingestion's tables on SQLite. SQLite has no row locks, so every
//! queue transition runs under `BEGIN IMMEDIATE` (the database's write lock, which other
//! processes on the same file respect): the same one-holder-per-job guarantee as Postgres'
//! `FOR UPDATE SKIP LOCKED`. Job times are integer milliseconds.

use super::{
    FILE_UPSERT, SETTLED_FILE_UPSERT, SqliteStore, bind_file, file_row, get, json_col, list_json,
    sqlite_ts, uuid_col,
};
use crate::store::ids::{AudioFileId, ConfigId, FileId};
use crate::store::ingest::{
    AudioChunkRecord, AudioFileRecord, AudioStatus, ChunkStatus, IngestJob, IngestOutcome,
    IngestStatus, IngestStore, JobInfo, JobStatus, QueueDepth, Resource, Synced, lease_end,
    vanished_message,
};
use crate::store::{StoreError, SyncFile, parse_enum, query_err};
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};
use std::sync::LazyLock;
use std::time::Duration;

const RESET_JOB: &str = r#"ON CONFLICT (file_id) DO UPDATE SET status = excluded.status, attempts = 0,
      run_after = excluded.run_after, lease_owner = NULL, lease_expires_at = NULL,
      last_error = NULL, updated_at = CURRENT_TIMESTAMP"#;

fn millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn resource_row(row: &SqliteRow) -> Result<Resource, StoreError> {
    const T: &str = "Resources";
    let paths = json_col(row, "graph_paths", T)?;
    Ok(Resource {
        id: uuid_col(row, "id", T)?,
        name: get::<Option<String>>(row, "name")?.unwrap_or_default(),
        category: get::<Option<String>>(row, "category")?.unwrap_or_default(),
        content: get::<Option<String>>(row, "content")?.unwrap_or_default(),
        summary: get(row, "summary")?,
        ordinal: get::<Option<i32>>(row, "ordinal")?.unwrap_or(0),
        uri: get::<Option<String>>(row, "uri")?.unwrap_or_default(),
        metadata: json_col(row, "metadata", T)?.unwrap_or(serde_json::Value::Null),
        graph_paths: crate::store::string_list(T, paths)?,
        resource_timestamp: sqlite_ts(row, "resource_timestamp")?,
        userid: uuid_col(row, "userid", T)?,
        sync_file_id: uuid_col(row, "sync_file_id", T)?,
    })
}

fn audio_row(row: &SqliteRow) -> Result<AudioFileRecord, StoreError> {
    const T: &str = "AudioFile";
    let status: String = get(row, "status")?;
    Ok(AudioFileRecord {
        id: uuid_col(row, "id", T)?,
        userid: uuid_col(row, "userid", T)?,
        project_name: get(row, "project_name")?,
        filename: get::<Option<String>>(row, "filename")?.unwrap_or_default(),
        file_size: get(row, "file_size")?,
        content_type: get(row, "content_type")?,
        duration: get(row, "duration")?,
        upload_date: sqlite_ts(row, "upload_date")?,
        status: parse_enum(T, "status", &status, AudioStatus::parse)?,
        s3_uri: get::<Option<String>>(row, "s3_uri")?.unwrap_or_default(),
        chunks: json_col(row, "chunks", T)?.unwrap_or(serde_json::Value::Null),
        metadata: json_col(row, "metadata", T)?.unwrap_or(serde_json::Value::Null),
        sync_file_id: uuid_col(row, "sync_file_id", T)?,
    })
}

fn chunk_row(row: &SqliteRow) -> Result<AudioChunkRecord, StoreError> {
    const T: &str = "AudioChunk";
    let status: String = get(row, "status")?;
    Ok(AudioChunkRecord {
        id: uuid_col(row, "id", T)?,
        audio_file_id: uuid_col(row, "audio_file_id", T)?,
        ordinal: get::<Option<i32>>(row, "ordinal")?.unwrap_or(0),
        start_time: get(row, "start_time")?,
        end_time: get(row, "end_time")?,
        duration: get(row, "duration")?,
        s3_uri: get::<Option<String>>(row, "s3_uri")?.unwrap_or_default(),
        transcription: get(row, "transcription")?,
        confidence: get(row, "confidence")?,
        speaker_id: get(row, "speaker_id")?,
        metadata: json_col(row, "metadata", T)?.unwrap_or(serde_json::Value::Null),
        userid: uuid_col(row, "userid", T)?,
        status: parse_enum(T, "status", &status, ChunkStatus::parse)?,
        error: get(row, "error")?,
    })
}

fn job_row(row: &SqliteRow) -> Result<JobInfo, StoreError> {
    const T: &str = "IngestJob";
    let status: String = get(row, "status")?;
    Ok(JobInfo {
        file_id: uuid_col(row, "file_id", T)?,
        config_id: uuid_col(row, "config_id", T)?,
        status: parse_enum(T, "status", &status, JobStatus::parse)?,
        attempts: get(row, "attempts")?,
        run_after: from_millis(get(row, "run_after")?),
        last_error: get(row, "last_error")?,
    })
}

/// Milliseconds since the epoch by SQLite's clock (the system clock), for statements that
/// cannot take the time as a parameter (see [`QUEUED_FILE`]).
const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";

/// A file's state with its ingestion job queued (or reset), as one multi-statement query: one
/// round trip to SQLite's worker thread per file instead of three. The file's values are `?1`
/// to `?23` ([`bind_file`]). Every statement numbers its parameters from `?1` without gaps:
/// sqlx binds a gap as a positional parameter and, past the values it has, stops binding the
/// statement; so the job's time comes from SQLite's clock.
static QUEUED_FILE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"{FILE_UPSERT};
        INSERT INTO "IngestJob" (file_id, config_id, userid, status, attempts, run_after)
          VALUES (?1, ?2, ?3, 'queued', 0, {NOW_MS}) {RESET_JOB};
        UPDATE "SyncFile" SET ingest_status = 'queued', ingest_message = NULL,
          ingested = FALSE WHERE id = ?1"#
    )
});

/// A file's state with the outcome ingestion settled without a job (`?24` status, `?25`
/// message): its job done, earlier resources gone. See [`QUEUED_FILE`].
static SETTLED_FILE: LazyLock<String> = LazyLock::new(|| {
    format!(
        r#"{SETTLED_FILE_UPSERT};
        INSERT INTO "IngestJob" (file_id, config_id, userid, status, attempts, run_after)
          VALUES (?1, ?2, ?3, 'done', 0, {NOW_MS}) {RESET_JOB};
        DELETE FROM "Resources" WHERE sync_file_id = ?1"#
    )
});

impl SqliteStore {
    async fn write_tx(
        &self,
        doing: &'static str,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(query_err(doing))
    }
}

#[async_trait::async_trait]
impl IngestStore for SqliteStore {
    async fn put_file_and_enqueue(&self, file: &SyncFile) -> Result<(), StoreError> {
        const DOING: &str = "saving a file's state with its ingestion job";
        let mut tx = self.write_tx(DOING).await?;
        bind_file(sqlx::query(QUEUED_FILE.as_str()), file)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))
    }

    async fn put_synced_files(&self, files: &[Synced]) -> Result<(), StoreError> {
        const DOING: &str = "saving synced files' states with their ingestion";
        let mut tx = self.write_tx(DOING).await?;
        for synced in files {
            let query = match &synced.settled {
                None => bind_file(sqlx::query(QUEUED_FILE.as_str()), &synced.file),
                Some(outcome) => bind_file(sqlx::query(SETTLED_FILE.as_str()), &synced.file)
                    .bind(outcome.status.as_str())
                    .bind(&outcome.message),
            };
            query.execute(&mut *tx).await.map_err(query_err(DOING))?;
        }
        tx.commit().await.map_err(query_err(DOING))
    }

    async fn enqueue_config(&self, config: ConfigId, all: bool) -> Result<u64, StoreError> {
        const DOING: &str = "queueing a config's files for ingestion";
        let mut tx = self.write_tx(DOING).await?;
        let picked = r#"config_id = ?1 AND status = 'synced'
              AND (?2 OR ingest_status IS NULL OR ingest_status IN ('dead', 'retrying', 'untranscribed'))"#;
        // `WHERE true` lets SQLite parse the upsert after a SELECT.
        let queued = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"INSERT INTO "IngestJob" (file_id, config_id, userid, status, attempts, run_after)
               SELECT id, config_id, userid, 'queued', 0, ?3 FROM "SyncFile"
               WHERE true AND {picked} {RESET_JOB}"#
        )))
        .bind(config.to_string())
        .bind(all)
        .bind(millis(Utc::now()))
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?
        .rows_affected();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"UPDATE "SyncFile" SET ingest_status = 'queued', ingest_message = NULL
               WHERE {picked}"#
        )))
        .bind(config.to_string())
        .bind(all)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(queued)
    }

    async fn claim_ingest_job(
        &self,
        owner: &str,
        lease: Duration,
        max_attempts: i32,
    ) -> Result<Option<IngestJob>, StoreError> {
        const DOING: &str = "claiming an ingestion job";
        let mut tx = self.write_tx(DOING).await?;
        // Read the clock once the write lock is held: a claim that waited must not date its
        // lease from before the wait.
        let now = Utc::now();
        let message = vanished_message(max_attempts);
        let dead: Vec<String> = sqlx::query_scalar(
            r#"UPDATE "IngestJob" SET status = 'dead', lease_owner = NULL,
                 lease_expires_at = NULL, last_error = ?3, updated_at = CURRENT_TIMESTAMP
               WHERE status = 'running' AND lease_expires_at < ?1 AND attempts >= ?2
               RETURNING file_id"#,
        )
        .bind(millis(now))
        .bind(max_attempts)
        .bind(&message)
        .fetch_all(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        for file in &dead {
            sqlx::query(
                r#"UPDATE "SyncFile" SET ingest_status = 'dead', ingest_message = ?2 WHERE id = ?1"#,
            )
            .bind(file)
            .bind(&message)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        }
        let next = sqlx::query(
            r#"SELECT file_id, status FROM "IngestJob"
               WHERE (status = 'queued' AND run_after <= ?1)
                  OR (status = 'running' AND lease_expires_at < ?1)
               ORDER BY run_after, file_id LIMIT 1"#,
        )
        .bind(millis(now))
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let Some(next) = next else {
            tx.commit().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let file_id: String = get(&next, "file_id")?;
        let was: String = get(&next, "status")?;
        let attempt: i32 = sqlx::query_scalar(
            r#"UPDATE "IngestJob" SET status = 'running', lease_owner = ?2, lease_expires_at = ?3,
                 attempts = attempts + 1, updated_at = CURRENT_TIMESTAMP
               WHERE file_id = ?1 RETURNING attempts"#,
        )
        .bind(&file_id)
        .bind(owner)
        .bind(millis(lease_end(now, lease)))
        .fetch_one(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let row = sqlx::query(r#"SELECT * FROM "SyncFile" WHERE id = ?1"#)
            .bind(&file_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        let file = file_row(&row)?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(Some(IngestJob {
            file,
            lease: owner.to_string(),
            attempt,
            taken_over: was == JobStatus::Running.as_str(),
        }))
    }

    async fn renew_ingest_lease(
        &self,
        file: FileId,
        lease: &str,
        extend: Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE "IngestJob" SET lease_expires_at = ?3
               WHERE file_id = ?1 AND lease_owner = ?2 AND status = 'running'"#,
        )
        .bind(file.to_string())
        .bind(lease)
        .bind(millis(lease_end(Utc::now(), extend)))
        .execute(&self.pool)
        .await
        .map_err(query_err("renewing an ingestion lease"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn fail_ingest_job(
        &self,
        file: FileId,
        lease: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<bool, StoreError> {
        const DOING: &str = "recording a failed ingestion";
        let (job, shown) = match retry_at {
            Some(_) => (JobStatus::Queued, IngestStatus::Retrying),
            None => (JobStatus::Dead, IngestStatus::Dead),
        };
        let mut tx = self.write_tx(DOING).await?;
        let done = sqlx::query(
            r#"UPDATE "IngestJob" SET status = ?3, run_after = COALESCE(?4, run_after),
                 lease_owner = NULL, lease_expires_at = NULL, last_error = ?5,
                 updated_at = CURRENT_TIMESTAMP
               WHERE file_id = ?1 AND lease_owner = ?2 AND status = 'running'"#,
        )
        .bind(file.to_string())
        .bind(lease)
        .bind(job.as_str())
        .bind(retry_at.map(millis))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(false);
        }
        sqlx::query(
            r#"UPDATE "SyncFile" SET ingest_status = ?2, ingest_message = ?3, ingested = FALSE
               WHERE id = ?1"#,
        )
        .bind(file.to_string())
        .bind(shown.as_str())
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(true)
    }

    async fn finish_ingest_job(
        &self,
        file: FileId,
        lease: &str,
        outcome: &IngestOutcome,
    ) -> Result<bool, StoreError> {
        const DOING: &str = "recording an ingestion's results";
        let mut tx = self.write_tx(DOING).await?;
        let held = sqlx::query(
            r#"SELECT 1 FROM "IngestJob"
               WHERE file_id = ?1 AND lease_owner = ?2 AND status = 'running'"#,
        )
        .bind(file.to_string())
        .bind(lease)
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        if held.is_none() {
            // Roll back now, not when the pool next hands out the connection: a row the
            // lock waited for and then did not match can stay locked until then, and claims
            // would skip it.
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(false);
        }
        sqlx::query(r#"DELETE FROM "Resources" WHERE sync_file_id = ?1"#)
            .bind(file.to_string())
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        for batch in outcome.resources.chunks(500) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                r#"INSERT INTO "Resources" (id, name, category, content, summary, ordinal, uri,
                     metadata, graph_paths, resource_timestamp, userid, sync_file_id) "#,
            );
            insert.push_values(batch, |mut row, r| {
                row.push_bind(r.id.to_string())
                    .push_bind(r.name.clone())
                    .push_bind(r.category.clone())
                    .push_bind(r.content.clone())
                    .push_bind(r.summary.clone())
                    .push_bind(r.ordinal)
                    .push_bind(r.uri.clone())
                    .push_bind(r.metadata.to_string())
                    .push_bind(list_json(&r.graph_paths))
                    .push_bind(r.resource_timestamp)
                    .push_bind(r.userid.to_string())
                    .push_bind(r.sync_file_id.to_string());
            });
            insert.push(
                r#" ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                     category = excluded.category, content = excluded.content,
                     summary = excluded.summary, ordinal = excluded.ordinal, uri = excluded.uri,
                     metadata = excluded.metadata, graph_paths = excluded.graph_paths,
                     resource_timestamp = excluded.resource_timestamp, userid = excluded.userid,
                     sync_file_id = excluded.sync_file_id, updated_at = CURRENT_TIMESTAMP"#,
            );
            insert
                .build()
                .execute(&mut *tx)
                .await
                .map_err(query_err(DOING))?;
        }
        sqlx::query(
            r#"UPDATE "SyncFile" SET ingested = ?2, resource_id = ?3, ingest_status = ?4,
                 ingest_message = ?5 WHERE id = ?1"#,
        )
        .bind(file.to_string())
        .bind(outcome.ingested())
        .bind(outcome.resources.first().map(|r| r.id.to_string()))
        .bind(outcome.status.as_str())
        .bind(&outcome.message)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        sqlx::query(
            r#"UPDATE "IngestJob" SET status = 'done', lease_owner = NULL,
                 lease_expires_at = NULL, last_error = NULL, updated_at = CURRENT_TIMESTAMP
               WHERE file_id = ?1"#,
        )
        .bind(file.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(true)
    }

    async fn put_audio_file(&self, a: &AudioFileRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO "AudioFile" (id, userid, project_name, filename, file_size,
                 content_type, duration, upload_date, status, s3_uri, chunks, metadata, sync_file_id)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
               ON CONFLICT (id) DO UPDATE SET userid = excluded.userid,
                 project_name = excluded.project_name, filename = excluded.filename,
                 file_size = excluded.file_size, content_type = excluded.content_type,
                 duration = excluded.duration, upload_date = excluded.upload_date,
                 status = excluded.status, s3_uri = excluded.s3_uri, chunks = excluded.chunks,
                 metadata = excluded.metadata, sync_file_id = excluded.sync_file_id,
                 updated_at = CURRENT_TIMESTAMP"#,
        )
        .bind(a.id.to_string())
        .bind(a.userid.to_string())
        .bind(&a.project_name)
        .bind(&a.filename)
        .bind(a.file_size)
        .bind(&a.content_type)
        .bind(a.duration)
        .bind(a.upload_date)
        .bind(a.status.as_str())
        .bind(&a.s3_uri)
        .bind(a.chunks.to_string())
        .bind(a.metadata.to_string())
        .bind(a.sync_file_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(query_err("saving an audio file"))?;
        Ok(())
    }

    async fn put_audio_chunk(&self, c: &AudioChunkRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO "AudioChunk" (id, audio_file_id, start_time, end_time, duration,
                 s3_uri, transcription, confidence, speaker_id, metadata, userid, ordinal, status,
                 error)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
               ON CONFLICT (id) DO UPDATE SET audio_file_id = excluded.audio_file_id,
                 start_time = excluded.start_time, end_time = excluded.end_time,
                 duration = excluded.duration, s3_uri = excluded.s3_uri,
                 transcription = excluded.transcription, confidence = excluded.confidence,
                 speaker_id = excluded.speaker_id, metadata = excluded.metadata,
                 userid = excluded.userid, ordinal = excluded.ordinal, status = excluded.status,
                 error = excluded.error, updated_at = CURRENT_TIMESTAMP"#,
        )
        .bind(c.id.to_string())
        .bind(c.audio_file_id.to_string())
        .bind(c.start_time)
        .bind(c.end_time)
        .bind(c.duration)
        .bind(&c.s3_uri)
        .bind(&c.transcription)
        .bind(c.confidence)
        .bind(&c.speaker_id)
        .bind(c.metadata.to_string())
        .bind(c.userid.to_string())
        .bind(c.ordinal)
        .bind(c.status.as_str())
        .bind(&c.error)
        .execute(&self.pool)
        .await
        .map_err(query_err("saving an audio chunk"))?;
        Ok(())
    }

    async fn delete_audio_chunks(
        &self,
        audio: AudioFileId,
        from_ordinal: i32,
    ) -> Result<u64, StoreError> {
        let done =
            sqlx::query(r#"DELETE FROM "AudioChunk" WHERE audio_file_id = ?1 AND ordinal >= ?2"#)
                .bind(audio.to_string())
                .bind(from_ordinal)
                .execute(&self.pool)
                .await
                .map_err(query_err("removing stale audio chunks"))?;
        Ok(done.rows_affected())
    }

    async fn delete_audio_for_file(&self, file: FileId) -> Result<u64, StoreError> {
        const DOING: &str = "removing a file's audio rows";
        let mut tx = self.write_tx(DOING).await?;
        sqlx::query(
            r#"DELETE FROM "AudioChunk" WHERE audio_file_id IN
                 (SELECT id FROM "AudioFile" WHERE sync_file_id = ?1)"#,
        )
        .bind(file.to_string())
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let done = sqlx::query(r#"DELETE FROM "AudioFile" WHERE sync_file_id = ?1"#)
            .bind(file.to_string())
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(done.rows_affected())
    }

    async fn resources_for_file(&self, file: FileId) -> Result<Vec<Resource>, StoreError> {
        sqlx::query(r#"SELECT * FROM "Resources" WHERE sync_file_id = ?1 ORDER BY ordinal, id"#)
            .bind(file.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing a file's resources"))?
            .iter()
            .map(resource_row)
            .collect()
    }

    async fn audio_file_for(&self, file: FileId) -> Result<Option<AudioFileRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM "AudioFile" WHERE sync_file_id = ?1"#)
            .bind(file.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading an audio file"))?
            .as_ref()
            .map(audio_row)
            .transpose()
    }

    async fn audio_chunks(&self, audio: AudioFileId) -> Result<Vec<AudioChunkRecord>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM "AudioChunk" WHERE audio_file_id = ?1 ORDER BY ordinal, start_time"#,
        )
        .bind(audio.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing audio chunks"))?
        .iter()
        .map(chunk_row)
        .collect()
    }

    async fn ingest_jobs(&self, config: Option<ConfigId>) -> Result<Vec<JobInfo>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM "IngestJob" WHERE ?1 IS NULL OR config_id = ?1
               ORDER BY created_at, file_id"#,
        )
        .bind(config.map(|c| c.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing ingestion jobs"))?
        .iter()
        .map(job_row)
        .collect()
    }

    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let rows = sqlx::query(r#"SELECT status, count(*) AS n FROM "IngestJob" GROUP BY status"#)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("counting ingestion jobs"))?;
        let mut depth = QueueDepth::default();
        for row in &rows {
            let status: String = row.try_get("status").map_err(query_err("reading a row"))?;
            let n: i64 = row.try_get("n").map_err(query_err("reading a row"))?;
            depth.add(&status, n);
        }
        Ok(depth)
    }
}
