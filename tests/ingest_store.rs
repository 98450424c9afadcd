//! The ingestion queue and ingestion's tables (`IngestJob`, `Resources`, `AudioFile`,
//! `AudioChunk`), end to end on both store backends: SQLite (a temp file) and Postgres (a fresh
//! database per test on `P8_TEST_PG_URL`, default the local server on 127.0.0.1:5432).
//!
//! Each scenario is an `async fn(Arc<dyn Store>)`; `both!` runs it as `on_sqlite::<name>` and
//! `on_postgres::<name>`. Leases that must run out are 50 ms long and the tests sleep well past
//! them: Postgres times leases on the database's clock, SQLite on this process's, and both are
//! this machine's.

use chrono::{DateTime, TimeZone, Utc};
use p8sync::store::ids::{AudioChunkId, AudioFileId, FileId, ResourceId, UserId};
use p8sync::store::ingest::{
    AudioChunkRecord, AudioFileRecord, AudioStatus, ChunkStatus, IngestOutcome, IngestStatus,
    JobInfo, JobStatus, QueueDepth, Resource, Synced,
};
use p8sync::store::{FileStatus, Store, SyncConfig, SyncFile};
use p8sync_e2e::{postgres_store, sqlite_store};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A lease nothing in a test outlives.
const LONG: Duration = Duration::from_secs(600);
/// A lease that runs out during the test.
const SHORT: Duration = Duration::from_millis(50);
/// Sleeping this long lets a [`SHORT`] lease run out, with room for scheduling noise.
const PAST_SHORT: Duration = Duration::from_millis(400);
/// Attempts allowed when a test does not care.
const MAX: i32 = 5;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    sqlite_store().await
}

async fn postgres() -> (Arc<dyn Store>, String) {
    postgres_store().await
}

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-000000000001".parse().unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_764_000_000 + secs, 0).unwrap()
}

async fn config(store: &dyn Store, name: &str) -> SyncConfig {
    let c = SyncConfig::new(user(), "local", name);
    store.put_config(&c).await.unwrap();
    c
}

/// A file as a sync leaves it after transferring it.
fn synced(c: &SyncConfig, remote_id: &str) -> SyncFile {
    let mut f = SyncFile::new(c, remote_id);
    f.status = FileStatus::Synced;
    f.remote_path = Some(remote_id.to_string());
    f.remote_name = Some(remote_id.rsplit('/').next().unwrap().to_string());
    f.remote_type = Some("text/plain".into());
    f.remote_size = Some(12);
    f.remote_modified_at = Some(at(5));
    f.remote_revision = Some("r1".into());
    f.s3_uri = Some(format!("s3://bucket/{}/{remote_id}", c.name));
    f.local_size = Some(12);
    f.local_checksum = Some("ab".repeat(32));
    f.last_sync_at = Some(at(10));
    f
}

/// The file as stored now.
async fn stored(store: &dyn Store, f: &SyncFile) -> SyncFile {
    store
        .files(f.config_id)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.id == f.id)
        .unwrap_or_else(|| panic!("file {} is not stored", f.remote_id))
}

/// The file's job as stored now.
async fn job(store: &dyn Store, file: FileId) -> JobInfo {
    store
        .ingest_jobs(None)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.file_id == file)
        .unwrap_or_else(|| panic!("no job for file {file}"))
}

/// Chunk `ordinal` of a file's text.
fn resource(f: &SyncFile, ordinal: i32, content: &str) -> Resource {
    let uri = f.s3_uri.clone().unwrap();
    Resource {
        id: ResourceId::derive(&uri, ordinal),
        name: f.remote_name.clone().unwrap(),
        category: "document".into(),
        content: content.into(),
        summary: (ordinal % 2 == 0).then(|| format!("part {ordinal}")),
        ordinal,
        uri,
        metadata: serde_json::json!({
            "source": "ingest_store test",
            "chunk": ordinal,
            "nested": {"list": [1, 2.5, "été"], "none": null},
        }),
        graph_paths: vec![format!("docs/{ordinal}"), "unicode/été ☃".into()],
        resource_timestamp: Some(at(5)),
        userid: f.userid,
        sync_file_id: f.id,
    }
}

fn outcome(status: IngestStatus, message: &str, resources: Vec<Resource>) -> IngestOutcome {
    IngestOutcome {
        status,
        message: Some(message.into()),
        resources,
    }
}

fn depth(queued: i64, running: i64, done: i64, dead: i64) -> QueueDepth {
    QueueDepth {
        queued,
        running,
        done,
        dead,
    }
}

fn assert_near(actual: DateTime<Utc>, expected: DateTime<Utc>, what: &str) {
    let off = (actual - expected).num_milliseconds().abs();
    assert!(
        off < 5_000,
        "{what}: {actual} is {off} ms away from {expected}"
    );
}

/// 1. `put_file_and_enqueue` writes the row and a queued job together.
async fn enqueue_writes_file_and_job(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let other = config(s, "other").await;
    assert_eq!(s.queue_depth().await.unwrap(), QueueDepth::default());

    let f = synced(&c, "notes/a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();
    let mut want = f.clone();
    want.ingest_status = Some(IngestStatus::Queued);
    assert_eq!(
        stored(s, &f).await,
        want,
        "the row is written, marked queued"
    );

    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 0, 0));
    let jobs = s.ingest_jobs(Some(c.id)).await.unwrap();
    assert_eq!(jobs.len(), 1);
    let j = &jobs[0];
    assert_eq!(j.file_id, f.id);
    assert_eq!(j.config_id, c.id);
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(j.attempts, 0);
    assert_eq!(j.last_error, None);
    assert_near(j.run_after, Utc::now(), "a new job is due now");
    assert!(s.ingest_jobs(Some(other.id)).await.unwrap().is_empty());

    // Enqueueing the same file again resets its job; it does not add one.
    s.put_file_and_enqueue(&f).await.unwrap();
    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 0, 0));

    // What the caller's copy says about ingestion does not survive: the content is queued.
    let mut g = synced(&c, "notes/b.txt");
    g.ingested = true;
    g.ingest_status = Some(IngestStatus::Ingested);
    g.ingest_message = Some("old".into());
    s.put_file_and_enqueue(&g).await.unwrap();
    let now = stored(s, &g).await;
    assert!(!now.ingested);
    assert_eq!(now.ingest_status, Some(IngestStatus::Queued));
    assert_eq!(now.ingest_message, None);

    let h = synced(&other, "c.txt");
    s.put_file_and_enqueue(&h).await.unwrap();
    assert_eq!(s.queue_depth().await.unwrap(), depth(3, 0, 0, 0));
    assert_eq!(s.ingest_jobs(None).await.unwrap().len(), 3);
    assert_eq!(s.ingest_jobs(Some(c.id)).await.unwrap().len(), 2);
    assert_eq!(s.ingest_jobs(Some(other.id)).await.unwrap().len(), 1);
}

/// 2. A claim leases the job to one holder; nothing else is due meanwhile.
async fn claim_leases_one_job(store: Arc<dyn Store>) {
    let s = &*store;
    assert!(s.claim_ingest_job("w0", LONG, MAX).await.unwrap().is_none());
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();

    let got = s.claim_ingest_job("w1", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(
        got.file,
        stored(s, &f).await,
        "the job carries the file row"
    );
    assert_eq!(got.file.ingest_status, Some(IngestStatus::Queued));
    assert_eq!(got.lease, "w1");
    assert_eq!(got.attempt, 1);
    assert!(!got.taken_over);
    let j = job(s, f.id).await;
    assert_eq!(j.status, JobStatus::Running);
    assert_eq!(j.attempts, 1);
    assert_eq!(s.queue_depth().await.unwrap(), depth(0, 1, 0, 0));

    assert!(
        s.claim_ingest_job("w2", LONG, MAX).await.unwrap().is_none(),
        "a live lease is not taken over"
    );
    assert!(s.renew_ingest_lease(f.id, "w1", LONG).await.unwrap());
    assert!(!s.renew_ingest_lease(f.id, "w2", LONG).await.unwrap());
    assert_eq!(job(s, f.id).await.attempts, 1, "renewing is not an attempt");
}

/// 3. A lease that ran out is taken over; the first holder can no longer write.
async fn expired_lease_is_taken_over(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();

    let a = s.claim_ingest_job("a", SHORT, MAX).await.unwrap().unwrap();
    assert_eq!((a.attempt, a.taken_over), (1, false));
    tokio::time::sleep(PAST_SHORT).await;
    let b = s.claim_ingest_job("b", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(b.file.id, f.id);
    assert_eq!(b.lease, "b");
    assert_eq!(b.attempt, 2);
    assert!(b.taken_over);

    let late = outcome(
        IngestStatus::Ingested,
        "1 chunk",
        vec![resource(&f, 0, "late")],
    );
    assert!(
        !s.finish_ingest_job(f.id, "a", &late).await.unwrap(),
        "the first holder lost its lease"
    );
    assert!(s.resources_for_file(f.id).await.unwrap().is_empty());
    let now = stored(s, &f).await;
    assert!(!now.ingested);
    assert_eq!(now.resource_id, None);
    assert_eq!(now.ingest_status, Some(IngestStatus::Queued));
    let j = job(s, f.id).await;
    assert_eq!((j.status, j.attempts), (JobStatus::Running, 2));

    assert!(!s.renew_ingest_lease(f.id, "a", LONG).await.unwrap());
    assert!(s.renew_ingest_lease(f.id, "b", LONG).await.unwrap());
    assert!(
        !s.fail_ingest_job(f.id, "a", "late failure", None)
            .await
            .unwrap()
    );
    assert_eq!(job(s, f.id).await.status, JobStatus::Running);

    let done = outcome(
        IngestStatus::Ingested,
        "1 chunk",
        vec![resource(&f, 0, "b")],
    );
    assert!(s.finish_ingest_job(f.id, "b", &done).await.unwrap());
    assert_eq!(job(s, f.id).await.status, JobStatus::Done);
    assert_eq!(s.resources_for_file(f.id).await.unwrap()[0].content, "b");
}

/// 4. A worker that vanished `max_attempts` times gets the job set aside as dead.
async fn vanished_worker_makes_job_dead(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();

    let a = s.claim_ingest_job("a", SHORT, 2).await.unwrap().unwrap();
    assert_eq!(a.attempt, 1);
    tokio::time::sleep(PAST_SHORT).await;
    let b = s.claim_ingest_job("b", SHORT, 2).await.unwrap().unwrap();
    assert_eq!((b.attempt, b.taken_over), (2, true));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(s.claim_ingest_job("c", LONG, 2).await.unwrap().is_none());

    let j = job(s, f.id).await;
    assert_eq!(j.status, JobStatus::Dead);
    assert_eq!(j.attempts, 2);
    let error = j.last_error.expect("a dead job says why");
    assert!(
        error.contains("stopped without finishing"),
        "unexpected last_error: {error}"
    );
    let now = stored(s, &f).await;
    assert_eq!(now.ingest_status, Some(IngestStatus::Dead));
    assert_eq!(now.ingest_message.as_deref(), Some(error.as_str()));
    assert_eq!(s.queue_depth().await.unwrap(), depth(0, 0, 0, 1));

    let late = outcome(IngestStatus::Ingested, "x", vec![resource(&f, 0, "x")]);
    assert!(!s.finish_ingest_job(f.id, "b", &late).await.unwrap());
    assert!(s.resources_for_file(f.id).await.unwrap().is_empty());

    // `ingest retry` (enqueue_config) brings it back with a fresh count.
    assert_eq!(s.enqueue_config(c.id, false).await.unwrap(), 1);
    let again = s.claim_ingest_job("d", LONG, 2).await.unwrap().unwrap();
    assert_eq!((again.attempt, again.taken_over), (1, false));
}

/// 5. A failed attempt is retried at the time given, or set aside when there is none.
async fn failed_attempts_retry_or_die(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();
    s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();

    // A wrong lease writes nothing.
    let later = Utc::now() + chrono::Duration::hours(1);
    assert!(
        !s.fail_ingest_job(f.id, "not-a", "boom", Some(later))
            .await
            .unwrap()
    );
    let j = job(s, f.id).await;
    assert_eq!(
        (j.status, j.attempts, j.last_error),
        (JobStatus::Running, 1, None)
    );
    assert_eq!(
        stored(s, &f).await.ingest_status,
        Some(IngestStatus::Queued)
    );

    // Retry later: queued, but not due.
    assert!(
        s.fail_ingest_job(f.id, "a", "timeout talking to the extractor", Some(later))
            .await
            .unwrap()
    );
    let j = job(s, f.id).await;
    assert_eq!(j.status, JobStatus::Queued);
    assert_eq!(
        j.last_error.as_deref(),
        Some("timeout talking to the extractor")
    );
    assert_near(j.run_after, later, "run_after is the retry time");
    let now = stored(s, &f).await;
    assert_eq!(now.ingest_status, Some(IngestStatus::Retrying));
    assert_eq!(
        now.ingest_message.as_deref(),
        Some("timeout talking to the extractor")
    );
    assert!(!now.ingested);
    assert!(s.claim_ingest_job("b", LONG, MAX).await.unwrap().is_none());
    assert!(
        !s.fail_ingest_job(f.id, "a", "again", None).await.unwrap(),
        "the lease ended with the failure"
    );
    assert_eq!(job(s, f.id).await.status, JobStatus::Queued);

    // Retry at a time already past: due again, as the next attempt.
    let g = synced(&c, "b.txt");
    s.put_file_and_enqueue(&g).await.unwrap();
    let first = s.claim_ingest_job("c", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(first.file.id, g.id, "the job retried later is not due");
    let past = Utc::now() - chrono::Duration::seconds(10);
    assert!(
        s.fail_ingest_job(g.id, "c", "flaky", Some(past))
            .await
            .unwrap()
    );
    let second = s.claim_ingest_job("d", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(second.file.id, g.id);
    assert_eq!((second.attempt, second.taken_over), (2, false));
    assert_eq!(
        second.file.ingest_status,
        Some(IngestStatus::Retrying),
        "the claimed row shows the last failure"
    );

    // No retry: dead.
    assert!(
        s.fail_ingest_job(g.id, "d", "fatal: corrupt", None)
            .await
            .unwrap()
    );
    let j = job(s, g.id).await;
    assert_eq!(j.status, JobStatus::Dead);
    assert_eq!(j.last_error.as_deref(), Some("fatal: corrupt"));
    let now = stored(s, &g).await;
    assert_eq!(now.ingest_status, Some(IngestStatus::Dead));
    assert_eq!(now.ingest_message.as_deref(), Some("fatal: corrupt"));
    assert!(s.claim_ingest_job("e", LONG, MAX).await.unwrap().is_none());
    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 0, 1));
}

/// 6. Finishing replaces the file's resources with the outcome's and records it on the file.
async fn finish_replaces_resources(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "report.txt");
    // Another file's resources must not be touched by f's.
    let h = synced(&c, "other.txt");
    s.put_file_and_enqueue(&h).await.unwrap();
    let hj = s.claim_ingest_job("h", LONG, MAX).await.unwrap().unwrap();
    let h_res = vec![resource(&h, 0, "other text")];
    let h_done = outcome(IngestStatus::Ingested, "1 chunk", h_res.clone());
    assert!(s.finish_ingest_job(h.id, &hj.lease, &h_done).await.unwrap());

    s.put_file_and_enqueue(&f).await.unwrap();
    let a = s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(a.file.id, f.id);
    let first = vec![
        resource(&f, 0, "zero"),
        resource(&f, 1, "one: été ☃ \"quoted\" \\ back"),
        resource(&f, 2, "two"),
    ];
    let done = outcome(IngestStatus::Ingested, "3 chunks", first.clone());
    assert!(s.finish_ingest_job(f.id, "a", &done).await.unwrap());

    assert_eq!(s.resources_for_file(f.id).await.unwrap(), first);
    let now = stored(s, &f).await;
    assert!(now.ingested);
    assert_eq!(now.resource_id, Some(first[0].id.0));
    assert_eq!(now.ingest_status, Some(IngestStatus::Ingested));
    assert_eq!(now.ingest_message.as_deref(), Some("3 chunks"));
    let j = job(s, f.id).await;
    assert_eq!((j.status, j.last_error), (JobStatus::Done, None));
    assert_eq!(s.queue_depth().await.unwrap(), depth(0, 0, 2, 0));

    // New content, fewer chunks: only the new ones remain, under the same derived ids.
    let mut f2 = f.clone();
    f2.remote_revision = Some("r2".into());
    f2.remote_size = Some(7);
    s.put_file_and_enqueue(&f2).await.unwrap();
    let now = stored(s, &f2).await;
    assert!(!now.ingested, "new content is not ingested yet");
    assert_eq!(now.ingest_status, Some(IngestStatus::Queued));
    let b = s.claim_ingest_job("b", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(b.attempt, 1);
    assert_eq!(b.file.remote_revision.as_deref(), Some("r2"));
    // Listed out of order: reading them back puts them in order.
    let second = vec![resource(&f2, 1, "new one"), resource(&f2, 0, "new zero")];
    let done = outcome(IngestStatus::Transcribed, "2 chunks", second.clone());
    assert!(s.finish_ingest_job(f.id, "b", &done).await.unwrap());
    let back = s.resources_for_file(f.id).await.unwrap();
    assert_eq!(back, vec![second[1].clone(), second[0].clone()]);
    let uri = f.s3_uri.as_deref().unwrap();
    assert_eq!(
        back.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![ResourceId::derive(uri, 0), ResourceId::derive(uri, 1)]
    );
    assert_eq!(first[0].id, ResourceId::derive(uri, 0), "ids are stable");
    let now = stored(s, &f).await;
    assert!(now.ingested);
    assert!(now.resource_id.is_some());
    assert_eq!(now.ingest_status, Some(IngestStatus::Transcribed));
    assert_eq!(now.ingest_message.as_deref(), Some("2 chunks"));

    // Stored for reference only: no resources, not ingested.
    s.put_file_and_enqueue(&f2).await.unwrap();
    s.claim_ingest_job("c", LONG, MAX).await.unwrap().unwrap();
    let kept = outcome(IngestStatus::Stored, "kept for reference", vec![]);
    assert!(s.finish_ingest_job(f.id, "c", &kept).await.unwrap());
    assert!(s.resources_for_file(f.id).await.unwrap().is_empty());
    let now = stored(s, &f).await;
    assert!(!now.ingested);
    assert_eq!(now.resource_id, None);
    assert_eq!(now.ingest_status, Some(IngestStatus::Stored));
    assert_eq!(now.ingest_message.as_deref(), Some("kept for reference"));
    assert_eq!(job(s, f.id).await.status, JobStatus::Done);

    // "Ingested" with nothing made is not ingested.
    s.put_file_and_enqueue(&f2).await.unwrap();
    s.claim_ingest_job("d", LONG, MAX).await.unwrap().unwrap();
    let empty = outcome(IngestStatus::Ingested, "0 chunks", vec![]);
    assert!(s.finish_ingest_job(f.id, "d", &empty).await.unwrap());
    assert!(!stored(s, &f).await.ingested);

    assert_eq!(s.resources_for_file(h.id).await.unwrap(), h_res);
    assert!(stored(s, &h).await.ingested);
}

/// 7. Re-enqueueing a file voids the lease of a worker busy with the old content.
async fn reenqueue_voids_running_lease(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();
    let a = s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(a.file.remote_revision.as_deref(), Some("r1"));

    let mut f2 = f.clone();
    f2.remote_revision = Some("r2".into());
    s.put_file_and_enqueue(&f2).await.unwrap();
    let j = job(s, f.id).await;
    assert_eq!(
        (j.status, j.attempts, j.last_error),
        (JobStatus::Queued, 0, None)
    );

    let stale = outcome(IngestStatus::Ingested, "old", vec![resource(&f, 0, "old")]);
    assert!(
        !s.finish_ingest_job(f.id, "a", &stale).await.unwrap(),
        "results of the old content are not written"
    );
    assert!(s.resources_for_file(f.id).await.unwrap().is_empty());
    let now = stored(s, &f).await;
    assert_eq!(now.remote_revision.as_deref(), Some("r2"));
    assert!(!now.ingested);
    assert_eq!(now.ingest_status, Some(IngestStatus::Queued));
    assert!(!s.renew_ingest_lease(f.id, "a", LONG).await.unwrap());
    assert!(!s.fail_ingest_job(f.id, "a", "x", None).await.unwrap());
    assert_eq!(job(s, f.id).await.status, JobStatus::Queued);

    let b = s.claim_ingest_job("b", LONG, MAX).await.unwrap().unwrap();
    assert_eq!((b.attempt, b.taken_over), (1, false));
    assert_eq!(b.file.remote_revision.as_deref(), Some("r2"));
    let fresh = outcome(IngestStatus::Ingested, "new", vec![resource(&f2, 0, "new")]);
    assert!(s.finish_ingest_job(f.id, "b", &fresh).await.unwrap());
    assert_eq!(s.resources_for_file(f.id).await.unwrap()[0].content, "new");
}

/// 8. A plain `put_file` (a sync holding an older copy) leaves ingestion's columns alone.
async fn put_file_keeps_ingestion_columns(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "a.txt");
    s.put_file_and_enqueue(&f).await.unwrap();
    s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    let r = resource(&f, 0, "text");
    let done = outcome(IngestStatus::Ingested, "1 chunk", vec![r.clone()]);
    assert!(s.finish_ingest_job(f.id, "a", &done).await.unwrap());

    let mut copy = f.clone();
    copy.ingested = false;
    copy.resource_id = None;
    copy.ingest_status = None;
    copy.ingest_message = None;
    copy.last_sync_at = Some(at(100));
    s.put_file(&copy).await.unwrap();
    let now = stored(s, &f).await;
    assert_eq!(now.last_sync_at, Some(at(100)), "the sync's write happened");
    assert!(now.ingested);
    assert_eq!(now.resource_id, Some(r.id.0));
    assert_eq!(now.ingest_status, Some(IngestStatus::Ingested));
    assert_eq!(now.ingest_message.as_deref(), Some("1 chunk"));
    assert_eq!(job(s, f.id).await.status, JobStatus::Done, "not re-queued");
    assert_eq!(s.resources_for_file(f.id).await.unwrap(), vec![r]);

    // Nor does a copy claiming more than is true upgrade a queued row.
    let g = synced(&c, "b.txt");
    s.put_file_and_enqueue(&g).await.unwrap();
    let mut copy = g.clone();
    copy.ingested = true;
    copy.resource_id = Some(uuid::Uuid::new_v4());
    copy.ingest_status = Some(IngestStatus::Ingested);
    copy.ingest_message = Some("made up".into());
    s.put_file(&copy).await.unwrap();
    let now = stored(s, &g).await;
    assert!(!now.ingested);
    assert_eq!(now.resource_id, None);
    assert_eq!(now.ingest_status, Some(IngestStatus::Queued));
    assert_eq!(now.ingest_message, None);
}

/// 9. Concurrent workers take every job exactly once.
async fn concurrent_claimers_take_each_job_once(store: Arc<dyn Store>) {
    const FILES: usize = 20;
    const WORKERS: usize = 4;
    let c = config(&*store, "docs").await;
    let mut files = BTreeSet::new();
    for i in 0..FILES {
        let f = synced(&c, &format!("f{i:02}.txt"));
        store.put_file_and_enqueue(&f).await.unwrap();
        files.insert(f.id);
    }
    let claimed = Arc::new(Mutex::new(Vec::new()));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let store = store.clone();
        let claimed = claimed.clone();
        workers.push(tokio::spawn(async move {
            for n in 0.. {
                let owner = format!("worker{w}-claim{n}");
                let Some(job) = store.claim_ingest_job(&owner, LONG, MAX).await.unwrap() else {
                    break;
                };
                assert_eq!(job.lease, owner);
                assert_eq!(job.attempt, 1, "{} claimed twice", job.file.remote_id);
                claimed.lock().unwrap().push(job.file.id);
                let done = outcome(
                    IngestStatus::Ingested,
                    "1 chunk",
                    vec![resource(&job.file, 0, &owner)],
                );
                assert!(
                    store
                        .finish_ingest_job(job.file.id, &owner, &done)
                        .await
                        .unwrap(),
                    "{owner} lost a lease nobody else should have had"
                );
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let claimed = claimed.lock().unwrap().clone();
    let unique: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), FILES, "each job claimed once: {claimed:?}");
    assert_eq!(unique, files, "every job claimed");
    assert_eq!(
        store.queue_depth().await.unwrap(),
        depth(0, 0, FILES as i64, 0)
    );
    for f in store.files(c.id).await.unwrap() {
        assert!(f.ingested, "{} not ingested", f.remote_id);
        assert_eq!(
            store.resources_for_file(f.id).await.unwrap().len(),
            1,
            "{}",
            f.remote_id
        );
    }
}

/// 9b. Many claimers racing for one job: one gets it.
async fn racing_claimers_one_winner(store: Arc<dyn Store>) {
    let c = config(&*store, "docs").await;
    let f = synced(&c, "only.txt");
    store.put_file_and_enqueue(&f).await.unwrap();
    let claims = (0..8).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .claim_ingest_job(&format!("racer{i}"), LONG, MAX)
                .await
                .unwrap()
        })
    });
    let mut winners = Vec::new();
    for claim in claims.collect::<Vec<_>>() {
        if let Some(job) = claim.await.unwrap() {
            winners.push(job.lease);
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    let j = job(&*store, f.id).await;
    assert_eq!((j.status, j.attempts), (JobStatus::Running, 1));
}

/// 7b. A sync re-enqueueing a file while its worker finishes: whichever wins, neither fails,
/// and the new content ends up queued.
///
/// Postgres deadlocked here while `put_file_and_enqueue` locked the file row before the job
/// row and a finishing worker locked them the other way round; every path now takes the job
/// row first. It also caught a losing `finish` leaving its transaction to the pool's lazy
/// rollback: the row its lock had waited for stayed locked, and the next claim skipped it.
async fn reenqueue_races_finish(store: Arc<dyn Store>) {
    const ROUNDS: usize = 25;
    let c = config(&*store, "docs").await;
    let f = synced(&c, "busy.txt");
    store.put_file_and_enqueue(&f).await.unwrap();
    let mut errors = Vec::new();
    for round in 0..ROUNDS {
        let owner = format!("w{round}");
        let claimed = store.claim_ingest_job(&owner, LONG, MAX).await.unwrap();
        let Some(claimed) = claimed else {
            let j = job(&*store, f.id).await;
            panic!(
                "round {round}: nothing to claim: {j:?} now {:?}",
                Utc::now()
            );
        };
        assert_eq!(claimed.attempt, 1, "round {round}");
        let resources = (0..20)
            .map(|i| resource(&f, i, &format!("round {round} chunk {i}")))
            .collect();
        let done = outcome(IngestStatus::Ingested, "20 chunks", resources);
        let mut next = f.clone();
        next.remote_revision = Some(format!("r{}", round + 2));
        let (finish, enqueue) = tokio::join!(
            store.finish_ingest_job(f.id, &owner, &done),
            store.put_file_and_enqueue(&next)
        );
        if let Err(e) = &finish {
            errors.push(format!("round {round}: finish_ingest_job: {e}"));
        }
        if let Err(e) = &enqueue {
            errors.push(format!("round {round}: put_file_and_enqueue: {e}"));
            // Leave the queue as the sync's retry would.
            store.put_file_and_enqueue(&next).await.unwrap();
        }
        let j = job(&*store, f.id).await;
        assert_eq!(
            (j.status, j.attempts),
            (JobStatus::Queued, 0),
            "round {round}"
        );
        let now = stored(&*store, &f).await;
        assert_eq!(now.remote_revision, next.remote_revision, "round {round}");
        assert!(
            !now.ingested,
            "round {round}: the new content is not ingested"
        );
        assert_eq!(
            now.ingest_status,
            Some(IngestStatus::Queued),
            "round {round}"
        );
    }
    assert!(
        errors.is_empty(),
        "{} of {ROUNDS} rounds failed:\n{}",
        errors.len(),
        errors.join("\n")
    );
}

fn audio_record(f: &SyncFile, status: AudioStatus) -> AudioFileRecord {
    AudioFileRecord {
        id: AudioFileId::derive(f.id),
        userid: f.userid,
        project_name: Some("docs".into()),
        filename: "talk.mp3".into(),
        file_size: Some(3_456_789),
        content_type: Some("audio/mpeg".into()),
        duration: Some(754.125),
        upload_date: Some(at(20)),
        status,
        s3_uri: f.s3_uri.clone().unwrap(),
        chunks: serde_json::json!([{"ordinal": 0, "start": 0.0, "end": 300.0}]),
        metadata: serde_json::json!({"codec": "mp3", "sample_rate": 44100}),
        sync_file_id: f.id,
    }
}

fn chunk(audio: &AudioFileRecord, ordinal: i32, status: ChunkStatus) -> AudioChunkRecord {
    let start = f64::from(ordinal) * 300.0;
    AudioChunkRecord {
        id: AudioChunkId::derive(audio.id, ordinal),
        audio_file_id: audio.id,
        ordinal,
        start_time: start,
        end_time: start + 299.5,
        duration: 299.5,
        s3_uri: format!("{}.chunk{ordinal}.wav", audio.s3_uri),
        transcription: (status == ChunkStatus::Transcribed).then(|| format!("words {ordinal}")),
        confidence: (status == ChunkStatus::Transcribed).then_some(0.875),
        speaker_id: (ordinal == 1).then(|| "speaker-1".into()),
        metadata: serde_json::json!({"backend": "test", "ordinal": ordinal}),
        userid: audio.userid,
        status,
        error: (status == ChunkStatus::Failed).then(|| "backend said 500".into()),
    }
}

/// 10. Audio rows: written, read back in order, trimmed and removed.
async fn audio_rows_round_trip(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let mut f = synced(&c, "talk.mp3");
    f.remote_type = Some("audio/mpeg".into());
    s.put_file(&f).await.unwrap();
    assert_eq!(s.audio_file_for(f.id).await.unwrap(), None);

    let mut audio = audio_record(&f, AudioStatus::Chunking);
    s.put_audio_file(&audio).await.unwrap();
    assert_eq!(s.audio_file_for(f.id).await.unwrap().as_ref(), Some(&audio));
    // Upsert by id.
    audio.status = AudioStatus::Completed;
    audio.metadata = serde_json::json!({"codec": "mp3", "chunks": 3});
    s.put_audio_file(&audio).await.unwrap();
    assert_eq!(s.audio_file_for(f.id).await.unwrap().as_ref(), Some(&audio));

    // Written out of order, read in order.
    let chunks = vec![
        chunk(&audio, 0, ChunkStatus::Transcribed),
        chunk(&audio, 1, ChunkStatus::Failed),
        chunk(&audio, 2, ChunkStatus::NoBackend),
    ];
    for ch in chunks.iter().rev() {
        s.put_audio_chunk(ch).await.unwrap();
    }
    assert_eq!(s.audio_chunks(audio.id).await.unwrap(), chunks);
    let mut retried = chunks[1].clone();
    retried.status = ChunkStatus::Pending;
    retried.error = None;
    s.put_audio_chunk(&retried).await.unwrap();
    assert_eq!(s.audio_chunks(audio.id).await.unwrap()[1], retried);

    assert_eq!(s.delete_audio_chunks(audio.id, 2).await.unwrap(), 1);
    let left = s.audio_chunks(audio.id).await.unwrap();
    assert_eq!(left.iter().map(|c| c.ordinal).collect::<Vec<_>>(), [0, 1]);

    // Another file's audio is untouched by removing this one's.
    let g = synced(&c, "other.mp3");
    let other = audio_record(&g, AudioStatus::Uploaded);
    s.put_audio_file(&other).await.unwrap();
    s.put_audio_chunk(&chunk(&other, 0, ChunkStatus::Pending))
        .await
        .unwrap();

    assert_eq!(s.delete_audio_for_file(f.id).await.unwrap(), 1);
    assert_eq!(s.audio_file_for(f.id).await.unwrap(), None);
    assert!(s.audio_chunks(audio.id).await.unwrap().is_empty());
    assert_eq!(s.audio_file_for(g.id).await.unwrap(), Some(other.clone()));
    assert_eq!(s.audio_chunks(other.id).await.unwrap().len(), 1);
    assert_eq!(s.delete_audio_for_file(f.id).await.unwrap(), 0);

    // Every status value survives the round trip.
    for status in [
        AudioStatus::Uploading,
        AudioStatus::Uploaded,
        AudioStatus::Processing,
        AudioStatus::Chunking,
        AudioStatus::Transcribing,
        AudioStatus::Completed,
        AudioStatus::Failed,
    ] {
        let a = audio_record(&g, status);
        s.put_audio_file(&a).await.unwrap();
        assert_eq!(
            s.audio_file_for(g.id).await.unwrap().unwrap().status,
            status
        );
    }
    for status in [
        ChunkStatus::Pending,
        ChunkStatus::Transcribed,
        ChunkStatus::Failed,
        ChunkStatus::NoBackend,
    ] {
        let ch = chunk(&other, 0, status);
        s.put_audio_chunk(&ch).await.unwrap();
        assert_eq!(s.audio_chunks(other.id).await.unwrap(), vec![ch]);
    }
}

/// Every `IngestStatus` a finish records reads back as itself.
async fn ingest_status_values_round_trip(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    for status in [
        IngestStatus::Queued,
        IngestStatus::Ingested,
        IngestStatus::Transcribed,
        IngestStatus::Untranscribed,
        IngestStatus::Stored,
        IngestStatus::NotIngestible,
        IngestStatus::Retrying,
        IngestStatus::Dead,
        IngestStatus::Removed,
    ] {
        let f = synced(&c, &format!("{status}.txt"));
        s.put_file_and_enqueue(&f).await.unwrap();
        let j = s.claim_ingest_job("w", LONG, MAX).await.unwrap().unwrap();
        assert_eq!(j.file.id, f.id);
        let o = outcome(status, status.as_str(), vec![]);
        assert!(s.finish_ingest_job(f.id, "w", &o).await.unwrap());
        let now = stored(s, &f).await;
        assert_eq!(now.ingest_status, Some(status));
        assert_eq!(now.ingest_message.as_deref(), Some(status.as_str()));
    }
}

/// 11. `enqueue_config` queues the synced files that need ingestion (or all synced ones).
async fn enqueue_config_picks_what_needs_ingestion(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let other = config(s, "other").await;

    // Synced, never queued (written by a plain put_file, e.g. before ingestion existed).
    let never = synced(&c, "never.txt");
    s.put_file(&never).await.unwrap();
    assert_eq!(stored(s, &never).await.ingest_status, None);
    // Synced, dead.
    let dead = synced(&c, "dead.txt");
    s.put_file_and_enqueue(&dead).await.unwrap();
    s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    assert!(
        s.fail_ingest_job(dead.id, "a", "fatal", None)
            .await
            .unwrap()
    );
    // Synced, ingested.
    let ingested = synced(&c, "ingested.txt");
    s.put_file_and_enqueue(&ingested).await.unwrap();
    s.claim_ingest_job("b", LONG, MAX).await.unwrap().unwrap();
    let done = outcome(
        IngestStatus::Ingested,
        "1 chunk",
        vec![resource(&ingested, 0, "t")],
    );
    assert!(s.finish_ingest_job(ingested.id, "b", &done).await.unwrap());
    // Synced, already queued.
    let queued = synced(&c, "queued.txt");
    s.put_file_and_enqueue(&queued).await.unwrap();
    // Not synced: never queued by enqueue_config.
    let mut not_synced = Vec::new();
    for (name, status) in [
        ("failed.txt", FileStatus::Failed),
        ("deleted.txt", FileStatus::Deleted),
        ("skipped.txt", FileStatus::Skipped),
        ("pending.txt", FileStatus::Pending),
    ] {
        let mut f = synced(&c, name);
        f.status = status;
        s.put_file(&f).await.unwrap();
        not_synced.push(f);
    }
    // Another config's never-queued file.
    let elsewhere = synced(&other, "elsewhere.txt");
    s.put_file(&elsewhere).await.unwrap();
    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 1, 1));

    assert_eq!(s.enqueue_config(c.id, false).await.unwrap(), 2);
    let j = job(s, never.id).await;
    assert_eq!((j.status, j.attempts), (JobStatus::Queued, 0));
    let j = job(s, dead.id).await;
    assert_eq!(
        (j.status, j.attempts, j.last_error),
        (JobStatus::Queued, 0, None)
    );
    assert_eq!(job(s, ingested.id).await.status, JobStatus::Done);
    for f in [&never, &dead] {
        let now = stored(s, f).await;
        assert_eq!(
            now.ingest_status,
            Some(IngestStatus::Queued),
            "{}",
            f.remote_id
        );
        assert_eq!(now.ingest_message, None, "{}", f.remote_id);
    }
    let now = stored(s, &ingested).await;
    assert_eq!(now.ingest_status, Some(IngestStatus::Ingested));
    assert!(now.ingested);
    assert_eq!(s.queue_depth().await.unwrap(), depth(3, 0, 1, 0));
    // Nothing left that needs it.
    assert_eq!(s.enqueue_config(c.id, false).await.unwrap(), 0);

    // All: every synced file, ingested or not.
    assert_eq!(s.enqueue_config(c.id, true).await.unwrap(), 4);
    assert_eq!(job(s, ingested.id).await.status, JobStatus::Queued);
    assert_eq!(
        stored(s, &ingested).await.ingest_status,
        Some(IngestStatus::Queued)
    );
    assert_eq!(s.queue_depth().await.unwrap(), depth(4, 0, 0, 0));

    let jobs: BTreeSet<FileId> = s
        .ingest_jobs(None)
        .await
        .unwrap()
        .iter()
        .map(|j| j.file_id)
        .collect();
    for f in not_synced.iter().chain([&elsewhere]) {
        assert!(!jobs.contains(&f.id), "{} was queued", f.remote_id);
        assert_eq!(stored(s, f).await.ingest_status, None, "{}", f.remote_id);
    }
    assert_eq!(s.enqueue_config(other.id, false).await.unwrap(), 1);
}

/// Deleting a config takes its files' jobs along, and only those.
async fn delete_config_cascades_to_jobs(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let other = config(s, "other").await;
    // A file of another config, ingested before anything else is queued.
    let kept = synced(&other, "kept.txt");
    s.put_file_and_enqueue(&kept).await.unwrap();
    let kept_job = s.claim_ingest_job("k", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(kept_job.file.id, kept.id);
    let kept_outcome = outcome(IngestStatus::Ingested, "1", vec![resource(&kept, 0, "k")]);
    assert!(
        s.finish_ingest_job(kept.id, "k", &kept_outcome)
            .await
            .unwrap()
    );
    for i in 0..3 {
        s.put_file_and_enqueue(&synced(&c, &format!("{i}.txt")))
            .await
            .unwrap();
    }
    let running = s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    let done = s.claim_ingest_job("b", LONG, MAX).await.unwrap().unwrap();
    let o = outcome(
        IngestStatus::Ingested,
        "1",
        vec![resource(&done.file, 0, "x")],
    );
    assert!(s.finish_ingest_job(done.file.id, "b", &o).await.unwrap());
    let audio = audio_record(&done.file, AudioStatus::Completed);
    s.put_audio_file(&audio).await.unwrap();
    s.put_audio_chunk(&chunk(&audio, 0, ChunkStatus::Transcribed))
        .await
        .unwrap();
    s.put_file_and_enqueue(&kept).await.unwrap();
    assert_eq!(s.queue_depth().await.unwrap(), depth(2, 1, 1, 0));

    assert!(s.delete_config(c.id).await.unwrap());
    // What ingestion made of the config's files goes with it; the other config's stays.
    assert!(s.resources_for_file(done.file.id).await.unwrap().is_empty());
    assert!(s.audio_file_for(done.file.id).await.unwrap().is_none());
    assert!(s.audio_chunks(audio.id).await.unwrap().is_empty());
    assert_eq!(s.resources_for_file(kept.id).await.unwrap().len(), 1);
    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 0, 0));
    assert!(s.ingest_jobs(Some(c.id)).await.unwrap().is_empty());
    assert_eq!(s.ingest_jobs(None).await.unwrap()[0].file_id, kept.id);
    assert!(
        !s.renew_ingest_lease(running.file.id, "a", LONG)
            .await
            .unwrap()
    );
    let next = s.claim_ingest_job("c", LONG, MAX).await.unwrap().unwrap();
    assert_eq!(next.file.id, kept.id);
    assert!(s.claim_ingest_job("d", LONG, MAX).await.unwrap().is_none());
}

/// 12. A file whose outcome is settled at sync time gets, in one write, the rows a finished
///     job leaves: no job to claim, earlier resources gone; its next content queues as usual.
async fn settled_file_needs_no_job(store: Arc<dyn Store>) {
    let s = &*store;
    let c = config(s, "docs").await;
    let f = synced(&c, "photo.bin");
    // Earlier content had made a resource.
    s.put_file_and_enqueue(&f).await.unwrap();
    s.claim_ingest_job("a", LONG, MAX).await.unwrap().unwrap();
    let made = outcome(
        IngestStatus::Ingested,
        "1 chunk",
        vec![resource(&f, 0, "old")],
    );
    assert!(s.finish_ingest_job(f.id, "a", &made).await.unwrap());

    let mut f2 = f.clone();
    f2.remote_revision = Some("r2".into());
    let kept = outcome(IngestStatus::Stored, "stored only: image/png", vec![]);
    let settled = |file: &SyncFile| Synced {
        file: file.clone(),
        settled: Some(kept.clone()),
    };
    s.put_synced_files(&[settled(&f2)]).await.unwrap();
    let now = stored(s, &f).await;
    assert_eq!(now.remote_revision.as_deref(), Some("r2"));
    assert_eq!(now.ingest_status, Some(IngestStatus::Stored));
    assert_eq!(
        now.ingest_message.as_deref(),
        Some("stored only: image/png")
    );
    assert!(!now.ingested);
    assert_eq!(now.resource_id, None);
    assert!(s.resources_for_file(f.id).await.unwrap().is_empty());
    assert_eq!(job(s, f.id).await.status, JobStatus::Done);
    assert_eq!(job(s, f.id).await.attempts, 0);
    assert!(s.claim_ingest_job("b", LONG, MAX).await.unwrap().is_none());
    assert_eq!(s.queue_depth().await.unwrap(), depth(0, 0, 1, 0));

    // A file new to the store, settled at once.
    let g = synced(&c, "song.bin");
    // With another file queued in the same write.
    let h = synced(&c, "notes.txt");
    s.put_synced_files(&[
        settled(&g),
        Synced {
            file: h.clone(),
            settled: None,
        },
    ])
    .await
    .unwrap();
    assert_eq!(
        stored(s, &h).await.ingest_status,
        Some(IngestStatus::Queued)
    );
    assert_eq!(
        stored(s, &g).await.ingest_status,
        Some(IngestStatus::Stored)
    );
    assert_eq!(s.queue_depth().await.unwrap(), depth(1, 0, 2, 0));

    // Its next content goes through the queue like any other.
    s.put_file_and_enqueue(&f2).await.unwrap();
    assert_eq!(job(s, f.id).await.status, JobStatus::Queued);
    assert_eq!(
        stored(s, &f).await.ingest_status,
        Some(IngestStatus::Queued)
    );
}

macro_rules! both {
    ($($name:ident),+ $(,)?) => {
        mod on_sqlite {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _dir) = sqlite().await;
                    super::$name(store).await;
                }
            )+
        }
        mod on_postgres {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _db) = postgres().await;
                    super::$name(store).await;
                }
            )+
        }
    };
}

both!(
    enqueue_writes_file_and_job,
    claim_leases_one_job,
    expired_lease_is_taken_over,
    vanished_worker_makes_job_dead,
    failed_attempts_retry_or_die,
    finish_replaces_resources,
    reenqueue_voids_running_lease,
    reenqueue_races_finish,
    put_file_keeps_ingestion_columns,
    concurrent_claimers_take_each_job_once,
    racing_claimers_one_winner,
    audio_rows_round_trip,
    ingest_status_values_round_trip,
    enqueue_config_picks_what_needs_ingestion,
    delete_config_cascades_to_jobs,
    settled_file_needs_no_job,
);
