//! The ingestion queue and ingestion's tables on Postgres. Jobs are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease that runs on the database's clock, so replicas whose
//! clocks disagree still agree on when a lease ran out.

use super::{PostgresStore, file_row, get, json_col, naive, put_file, ts, uuid_col};
use crate::store::ids::{AudioFileId, ConfigId, FileId};
use crate::store::ingest::{
    AudioChunkRecord, AudioFileRecord, AudioStatus, ChunkStatus, IngestJob, IngestOutcome,
    IngestStatus, IngestStore, JobInfo, JobStatus, QueueDepth, Resource, Synced, vanished_message,
};
use crate::store::{StoreError, SyncFile, parse_enum, query_err};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Row};
use std::time::Duration;

/// The database's "now", as the naive UTC the TIMESTAMP columns hold.
/// `clock_timestamp`, not `now`: a claim that waited for a lock must not date its lease from
/// before the wait.
const NOW: &str = "(clock_timestamp() AT TIME ZONE 'UTC')";

const RESET_JOB: &str = r#"ON CONFLICT (file_id) DO UPDATE SET status = excluded.status, attempts = 0,
      run_after = excluded.run_after, lease_owner = NULL, lease_expires_at = NULL,
      last_error = NULL, updated_at = CURRENT_TIMESTAMP"#;

fn resource_row(row: &PgRow) -> Result<Resource, StoreError> {
    Ok(Resource {
        id: uuid_col(row, "id")?,
        name: get::<Option<String>>(row, "name")?.unwrap_or_default(),
        category: get::<Option<String>>(row, "category")?.unwrap_or_default(),
        content: get::<Option<String>>(row, "content")?.unwrap_or_default(),
        summary: get(row, "summary")?,
        ordinal: get::<Option<i32>>(row, "ordinal")?.unwrap_or(0),
        uri: get::<Option<String>>(row, "uri")?.unwrap_or_default(),
        metadata: json_col(row, "metadata")?.unwrap_or(serde_json::Value::Null),
        graph_paths: get::<Option<Vec<String>>>(row, "graph_paths")?.unwrap_or_default(),
        resource_timestamp: ts(row, "resource_timestamp")?,
        userid: uuid_col(row, "userid")?,
        sync_file_id: uuid_col(row, "sync_file_id")?,
    })
}

fn audio_row(row: &PgRow) -> Result<AudioFileRecord, StoreError> {
    let status: String = get(row, "status")?;
    Ok(AudioFileRecord {
        id: uuid_col(row, "id")?,
        userid: uuid_col(row, "userid")?,
        project_name: get(row, "project_name")?,
        filename: get::<Option<String>>(row, "filename")?.unwrap_or_default(),
        file_size: get(row, "file_size")?,
        content_type: get(row, "content_type")?,
        duration: get(row, "duration")?,
        upload_date: ts(row, "upload_date")?,
        status: parse_enum("AudioFile", "status", &status, AudioStatus::parse)?,
        s3_uri: get::<Option<String>>(row, "s3_uri")?.unwrap_or_default(),
        chunks: json_col(row, "chunks")?.unwrap_or(serde_json::Value::Null),
        metadata: json_col(row, "metadata")?.unwrap_or(serde_json::Value::Null),
        sync_file_id: uuid_col(row, "sync_file_id")?,
    })
}

fn chunk_row(row: &PgRow) -> Result<AudioChunkRecord, StoreError> {
    let status: String = get(row, "status")?;
    Ok(AudioChunkRecord {
        id: uuid_col(row, "id")?,
        audio_file_id: uuid_col(row, "audio_file_id")?,
        ordinal: get::<Option<i32>>(row, "ordinal")?.unwrap_or(0),
        start_time: get(row, "start_time")?,
        end_time: get(row, "end_time")?,
        duration: get(row, "duration")?,
        s3_uri: get::<Option<String>>(row, "s3_uri")?.unwrap_or_default(),
        transcription: get(row, "transcription")?,
        confidence: get(row, "confidence")?,
        speaker_id: get(row, "speaker_id")?,
        metadata: json_col(row, "metadata")?.unwrap_or(serde_json::Value::Null),
        userid: uuid_col(row, "userid")?,
        status: parse_enum("AudioChunk", "status", &status, ChunkStatus::parse)?,
        error: get(row, "error")?,
    })
}

fn job_row(row: &PgRow) -> Result<JobInfo, StoreError> {
    let status: String = get(row, "status")?;
    Ok(JobInfo {
        file_id: uuid_col(row, "file_id")?,
        config_id: uuid_col(row, "config_id")?,
        status: parse_enum("IngestJob", "status", &status, JobStatus::parse)?,
        attempts: get(row, "attempts")?,
        run_after: ts(row, "run_after")?.unwrap_or_default(),
        last_error: get(row, "last_error")?,
    })
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Write a file's row in `tx`, its job's row locked first: every path that touches both rows
/// locks the job first, then the file; taking them the other way round deadlocked against a
/// worker finishing the same file.
async fn lock_job_then_put_file(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    file: &SyncFile,
    doing: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(r#"SELECT 1 FROM p8."IngestJob" WHERE file_id = $1 FOR UPDATE"#)
        .bind(file.id.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(query_err(doing))?;
    put_file(&mut **tx, file).await
}

/// Insert `file`'s job as `status`, or reset the one there to it (no attempts, no lease).
async fn put_job(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    file: &SyncFile,
    status: JobStatus,
    doing: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        r#"INSERT INTO p8."IngestJob" (file_id, config_id, userid, status, attempts, run_after)
           VALUES ($1, $2, $3, $4, 0, {NOW}) {RESET_JOB}"#
    )))
    .bind(file.id.0)
    .bind(file.config_id.0)
    .bind(file.userid.0)
    .bind(status.as_str())
    .execute(&mut **tx)
    .await
    .map_err(query_err(doing))?;
    Ok(())
}

/// Queue (or reset) `file`'s ingestion job in `tx` (its job row locked already).
async fn enqueue(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    file: &SyncFile,
    doing: &'static str,
) -> Result<(), StoreError> {
    put_job(tx, file, JobStatus::Queued, doing).await?;
    sqlx::query(
        r#"UPDATE p8."SyncFile" SET ingest_status = 'queued', ingest_message = NULL,
             ingested = FALSE WHERE id = $1"#,
    )
    .bind(file.id.0)
    .execute(&mut **tx)
    .await
    .map_err(query_err(doing))?;
    Ok(())
}

/// Write in `tx` what a finished job with `outcome` (no resources) leaves for `file` (its job
/// row locked already).
async fn settle(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    file: &SyncFile,
    outcome: &IngestOutcome,
    doing: &'static str,
) -> Result<(), StoreError> {
    put_job(tx, file, JobStatus::Done, doing).await?;
    sqlx::query(r#"DELETE FROM p8."Resources" WHERE sync_file_id = $1"#)
        .bind(file.id.0)
        .execute(&mut **tx)
        .await
        .map_err(query_err(doing))?;
    sqlx::query(
        r#"UPDATE p8."SyncFile" SET ingested = FALSE, resource_id = NULL, ingest_status = $2,
             ingest_message = $3 WHERE id = $1"#,
    )
    .bind(file.id.0)
    .bind(outcome.status.as_str())
    .bind(&outcome.message)
    .execute(&mut **tx)
    .await
    .map_err(query_err(doing))?;
    Ok(())
}

#[async_trait::async_trait]
impl IngestStore for PostgresStore {
    async fn put_file_and_enqueue(&self, file: &SyncFile) -> Result<(), StoreError> {
        const DOING: &str = "saving a file's state with its ingestion job";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        lock_job_then_put_file(&mut tx, file, DOING).await?;
        enqueue(&mut tx, file, DOING).await?;
        tx.commit().await.map_err(query_err(DOING))
    }

    async fn put_synced_files(&self, files: &[Synced]) -> Result<(), StoreError> {
        const DOING: &str = "saving synced files' states with their ingestion";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        // In id order, so two writers of overlapping batches could not lock crosswise.
        let mut ordered: Vec<&Synced> = files.iter().collect();
        ordered.sort_by_key(|s| s.file.id.0);
        for synced in ordered {
            lock_job_then_put_file(&mut tx, &synced.file, DOING).await?;
            match &synced.settled {
                None => enqueue(&mut tx, &synced.file, DOING).await?,
                Some(outcome) => settle(&mut tx, &synced.file, outcome, DOING).await?,
            }
        }
        tx.commit().await.map_err(query_err(DOING))
    }

    async fn enqueue_config(&self, config: ConfigId, all: bool) -> Result<u64, StoreError> {
        const DOING: &str = "queueing a config's files for ingestion";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        let picked = r#"config_id = $1 AND status = 'synced'
              AND ($2 OR ingest_status IS NULL OR ingest_status IN ('dead', 'retrying', 'untranscribed'))"#;
        let queued = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"INSERT INTO p8."IngestJob" (file_id, config_id, userid, status, attempts, run_after)
               SELECT id, config_id, userid, 'queued', 0, {NOW} FROM p8."SyncFile" WHERE {picked}
               {RESET_JOB}"#
        )))
        .bind(config.0)
        .bind(all)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?
        .rows_affected();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"UPDATE p8."SyncFile" SET ingest_status = 'queued', ingest_message = NULL
               WHERE {picked}"#
        )))
        .bind(config.0)
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
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        // A job whose worker vanished max_attempts times is likely what killed it: set aside.
        let message = vanished_message(max_attempts);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"WITH dead AS (
                 UPDATE p8."IngestJob" SET status = 'dead', lease_owner = NULL,
                   lease_expires_at = NULL, last_error = $2, updated_at = CURRENT_TIMESTAMP
                 WHERE status = 'running' AND lease_expires_at < {NOW} AND attempts >= $1
                 RETURNING file_id)
               UPDATE p8."SyncFile" SET ingest_status = 'dead', ingest_message = $2
               WHERE id IN (SELECT file_id FROM dead)"#
        )))
        .bind(max_attempts)
        .bind(&message)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let claimed = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"WITH next AS (
                 SELECT file_id, status AS was FROM p8."IngestJob"
                 WHERE (status = 'queued' AND run_after <= {NOW})
                    OR (status = 'running' AND lease_expires_at < {NOW})
                 ORDER BY run_after, file_id LIMIT 1 FOR UPDATE SKIP LOCKED)
               UPDATE p8."IngestJob" j SET status = 'running', lease_owner = $1,
                 lease_expires_at = {NOW} + make_interval(secs => $2),
                 attempts = j.attempts + 1, updated_at = CURRENT_TIMESTAMP
               FROM next WHERE j.file_id = next.file_id
               RETURNING j.file_id, j.attempts, next.was"#
        )))
        .bind(owner)
        .bind(seconds(lease))
        .fetch_optional(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let Some(claimed) = claimed else {
            tx.commit().await.map_err(query_err(DOING))?;
            return Ok(None);
        };
        let file_id: uuid::Uuid = get(&claimed, "file_id")?;
        let attempt: i32 = get(&claimed, "attempts")?;
        let was: String = get(&claimed, "was")?;
        let row = sqlx::query(r#"SELECT * FROM p8."SyncFile" WHERE id = $1"#)
            .bind(file_id)
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
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            r#"UPDATE p8."IngestJob" SET lease_expires_at = {NOW} + make_interval(secs => $3)
               WHERE file_id = $1 AND lease_owner = $2 AND status = 'running'"#
        )))
        .bind(file.0)
        .bind(lease)
        .bind(seconds(extend))
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
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        let done = sqlx::query(
            r#"UPDATE p8."IngestJob" SET status = $3, run_after = COALESCE($4, run_after),
                 lease_owner = NULL, lease_expires_at = NULL, last_error = $5,
                 updated_at = CURRENT_TIMESTAMP
               WHERE file_id = $1 AND lease_owner = $2 AND status = 'running'"#,
        )
        .bind(file.0)
        .bind(lease)
        .bind(job.as_str())
        .bind(naive(retry_at))
        .bind(error)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        if done.rows_affected() != 1 {
            tx.rollback().await.map_err(query_err(DOING))?;
            return Ok(false);
        }
        sqlx::query(
            r#"UPDATE p8."SyncFile" SET ingest_status = $2, ingest_message = $3, ingested = FALSE
               WHERE id = $1"#,
        )
        .bind(file.0)
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
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        let held = sqlx::query(
            r#"SELECT 1 FROM p8."IngestJob"
               WHERE file_id = $1 AND lease_owner = $2 AND status = 'running' FOR UPDATE"#,
        )
        .bind(file.0)
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
        sqlx::query(r#"DELETE FROM p8."Resources" WHERE sync_file_id = $1"#)
            .bind(file.0)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        for batch in outcome.resources.chunks(500) {
            let mut insert = QueryBuilder::<Postgres>::new(
                r#"INSERT INTO p8."Resources" (id, name, category, content, summary, ordinal, uri,
                     metadata, graph_paths, resource_timestamp, userid, sync_file_id) "#,
            );
            insert.push_values(batch, |mut row, r| {
                row.push_bind(r.id.0)
                    .push_bind(&r.name)
                    .push_bind(&r.category)
                    .push_bind(&r.content)
                    .push_bind(&r.summary)
                    .push_bind(r.ordinal)
                    .push_bind(&r.uri)
                    .push_bind(Json(&r.metadata))
                    .push_bind(&r.graph_paths)
                    .push_bind(naive(r.resource_timestamp))
                    .push_bind(r.userid.0)
                    .push_bind(r.sync_file_id.0);
            });
            // Ids come from (uri, ordinal): content another file once had at this uri is this
            // file's now.
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
            r#"UPDATE p8."SyncFile" SET ingested = $2, resource_id = $3, ingest_status = $4,
                 ingest_message = $5 WHERE id = $1"#,
        )
        .bind(file.0)
        .bind(outcome.ingested())
        .bind(outcome.resources.first().map(|r| r.id.0))
        .bind(outcome.status.as_str())
        .bind(&outcome.message)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        sqlx::query(
            r#"UPDATE p8."IngestJob" SET status = 'done', lease_owner = NULL,
                 lease_expires_at = NULL, last_error = NULL, updated_at = CURRENT_TIMESTAMP
               WHERE file_id = $1"#,
        )
        .bind(file.0)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(true)
    }

    async fn put_audio_file(&self, a: &AudioFileRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO p8."AudioFile" (id, userid, project_name, filename, file_size,
                 content_type, duration, upload_date, status, s3_uri, chunks, metadata, sync_file_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ON CONFLICT (id) DO UPDATE SET userid = excluded.userid,
                 project_name = excluded.project_name, filename = excluded.filename,
                 file_size = excluded.file_size, content_type = excluded.content_type,
                 duration = excluded.duration, upload_date = excluded.upload_date,
                 status = excluded.status, s3_uri = excluded.s3_uri, chunks = excluded.chunks,
                 metadata = excluded.metadata, sync_file_id = excluded.sync_file_id,
                 updated_at = CURRENT_TIMESTAMP"#,
        )
        .bind(a.id.0)
        .bind(a.userid.0)
        .bind(&a.project_name)
        .bind(&a.filename)
        .bind(a.file_size)
        .bind(&a.content_type)
        .bind(a.duration)
        .bind(naive(a.upload_date))
        .bind(a.status.as_str())
        .bind(&a.s3_uri)
        .bind(Json(&a.chunks))
        .bind(Json(&a.metadata))
        .bind(a.sync_file_id.0)
        .execute(&self.pool)
        .await
        .map_err(query_err("saving an audio file"))?;
        Ok(())
    }

    async fn put_audio_chunk(&self, c: &AudioChunkRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO p8."AudioChunk" (id, audio_file_id, start_time, end_time, duration,
                 s3_uri, transcription, confidence, speaker_id, metadata, userid, ordinal, status,
                 error)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
               ON CONFLICT (id) DO UPDATE SET audio_file_id = excluded.audio_file_id,
                 start_time = excluded.start_time, end_time = excluded.end_time,
                 duration = excluded.duration, s3_uri = excluded.s3_uri,
                 transcription = excluded.transcription, confidence = excluded.confidence,
                 speaker_id = excluded.speaker_id, metadata = excluded.metadata,
                 userid = excluded.userid, ordinal = excluded.ordinal, status = excluded.status,
                 error = excluded.error, updated_at = CURRENT_TIMESTAMP"#,
        )
        .bind(c.id.0)
        .bind(c.audio_file_id.0)
        .bind(c.start_time)
        .bind(c.end_time)
        .bind(c.duration)
        .bind(&c.s3_uri)
        .bind(&c.transcription)
        .bind(c.confidence)
        .bind(&c.speaker_id)
        .bind(Json(&c.metadata))
        .bind(c.userid.0)
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
        let done = sqlx::query(
            r#"DELETE FROM p8."AudioChunk" WHERE audio_file_id = $1 AND ordinal >= $2"#,
        )
        .bind(audio.0)
        .bind(from_ordinal)
        .execute(&self.pool)
        .await
        .map_err(query_err("removing stale audio chunks"))?;
        Ok(done.rows_affected())
    }

    async fn delete_audio_for_file(&self, file: FileId) -> Result<u64, StoreError> {
        const DOING: &str = "removing a file's audio rows";
        let mut tx = self.pool.begin().await.map_err(query_err(DOING))?;
        sqlx::query(
            r#"DELETE FROM p8."AudioChunk" WHERE audio_file_id IN
                 (SELECT id FROM p8."AudioFile" WHERE sync_file_id = $1)"#,
        )
        .bind(file.0)
        .execute(&mut *tx)
        .await
        .map_err(query_err(DOING))?;
        let done = sqlx::query(r#"DELETE FROM p8."AudioFile" WHERE sync_file_id = $1"#)
            .bind(file.0)
            .execute(&mut *tx)
            .await
            .map_err(query_err(DOING))?;
        tx.commit().await.map_err(query_err(DOING))?;
        Ok(done.rows_affected())
    }

    async fn resources_for_file(&self, file: FileId) -> Result<Vec<Resource>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."Resources" WHERE sync_file_id = $1 ORDER BY ordinal, id"#)
            .bind(file.0)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing a file's resources"))?
            .iter()
            .map(resource_row)
            .collect()
    }

    async fn audio_file_for(&self, file: FileId) -> Result<Option<AudioFileRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."AudioFile" WHERE sync_file_id = $1"#)
            .bind(file.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading an audio file"))?
            .as_ref()
            .map(audio_row)
            .transpose()
    }

    async fn audio_chunks(&self, audio: AudioFileId) -> Result<Vec<AudioChunkRecord>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM p8."AudioChunk" WHERE audio_file_id = $1 ORDER BY ordinal, start_time"#,
        )
        .bind(audio.0)
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing audio chunks"))?
        .iter()
        .map(chunk_row)
        .collect()
    }

    async fn ingest_jobs(&self, config: Option<ConfigId>) -> Result<Vec<JobInfo>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM p8."IngestJob" WHERE $1::uuid IS NULL OR config_id = $1
               ORDER BY created_at, file_id"#,
        )
        .bind(config.map(|c| c.0))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing ingestion jobs"))?
        .iter()
        .map(job_row)
        .collect()
    }

    async fn queue_depth(&self) -> Result<QueueDepth, StoreError> {
        let rows =
            sqlx::query(r#"SELECT status, count(*) AS n FROM p8."IngestJob" GROUP BY status"#)
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
