//! The store conformance suite, run against both backends: SQLite (a temp file) and Postgres
//! (a fresh database per test on `P8_TEST_PG_URL`, default the local server on 127.0.0.1:5432;
//! scripts/test.sh starts a throwaway cluster when there is none).

use chrono::{Duration, TimeZone, Utc};
use p8sync::store::ids::UserId;
use p8sync::store::{FileState, FileStatus, LogStatus, Store, SyncConfig, SyncFile, SyncLog};
use p8sync_e2e::{postgres_store, sqlite_store};
use std::sync::Arc;

async fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    sqlite_store().await
}

async fn postgres() -> (Arc<dyn Store>, String) {
    let (store, name) = postgres_store().await;
    // Running the migrations twice is harmless.
    store.migrate().await.unwrap();
    (store, name)
}

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-000000000001".parse().unwrap()
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_764_000_000 + secs, 0).unwrap()
}

async fn configs_round_trip(store: Arc<dyn Store>) {
    let mut c = SyncConfig::new(user(), "local", "docs");
    c.include_folders = vec!["Work/Reports".into()];
    c.exclude_file_types = vec!["tmp".into()];
    c.provider_config = serde_json::json!({"root": "/data", "depth": 3});
    c.next_sync_at = Some(at(60));
    store.put_config(&c).await.unwrap();
    assert_eq!(store.config(c.id).await.unwrap().as_ref(), Some(&c));

    // Upsert by id.
    c.enabled = false;
    c.sync_interval_hours = 6;
    c.schedule = Some("0 1 * * *".into());
    c.schedule_timezone = Some("Europe/Berlin".into());
    store.put_config(&c).await.unwrap();
    assert_eq!(store.config(c.id).await.unwrap().unwrap(), c);

    let other = SyncConfig::new(
        "5c1b2f3e-0000-4000-8000-000000000002".parse().unwrap(),
        "local",
        "a",
    );
    store.put_config(&other).await.unwrap();
    assert_eq!(store.configs(None).await.unwrap().len(), 2);
    let mine = store.configs(Some(user())).await.unwrap();
    assert_eq!(mine, vec![c.clone()]);

    store
        .set_cursor(c.id, Some("cursor-42"), Some("scope-1"))
        .await
        .unwrap();
    let saved = store.config(c.id).await.unwrap().unwrap();
    assert_eq!(saved.change_cursor.as_deref(), Some("cursor-42"));
    assert_eq!(saved.cursor_scope.as_deref(), Some("scope-1"));
    store.set_cursor(c.id, None, None).await.unwrap();
    let cleared = store.config(c.id).await.unwrap().unwrap();
    assert_eq!((cleared.change_cursor, cleared.cursor_scope), (None, None));

    assert!(store.delete_config(c.id).await.unwrap());
    assert!(!store.delete_config(c.id).await.unwrap());
    assert_eq!(store.config(c.id).await.unwrap(), None);
}

async fn files_upsert_and_cascade(store: Arc<dyn Store>) {
    let c = SyncConfig::new(user(), "local", "docs");
    store.put_config(&c).await.unwrap();
    let mut f = SyncFile::new(&c, "notes/été.txt");
    f.remote_name = Some("été.txt".into());
    f.remote_size = Some(12);
    f.remote_modified_at = Some(at(5));
    f.remote_metadata = Some(serde_json::json!({"k": "v"}));
    store.put_file(&f).await.unwrap();
    f.status = FileStatus::Synced;
    f.s3_uri = Some("s3://bucket/key".into());
    f.local_checksum = Some("ab".repeat(32));
    f.local_size = Some(12);
    // Ingestion owns `resource_id` and `ingested` on an existing row: a sync's upsert does not
    // change them (tests/ingest_store.rs covers what does).
    let stale = SyncFile {
        resource_id: Some(uuid::Uuid::new_v4()),
        ingested: true,
        ..f.clone()
    };
    store.put_file(&stale).await.unwrap();
    let mut g = SyncFile::new(&c, "a.txt");
    g.status = FileStatus::Failed;
    g.error_message = Some("forbidden".into());
    g.sync_attempts = 2;
    store.put_file(&g).await.unwrap();

    let files = store.files(c.id).await.unwrap();
    assert_eq!(files, vec![g.clone(), f.clone()]);

    // Deleting the config takes its files along.
    store.delete_config(c.id).await.unwrap();
    assert!(store.files(c.id).await.unwrap().is_empty());
}

/// A config's files come back whole, once each and in order, when there are more than the
/// store reads in one page (5,000).
async fn files_come_back_whole_past_a_page(store: Arc<dyn Store>) {
    let c = SyncConfig::new(user(), "local", "many");
    store.put_config(&c).await.unwrap();
    let n = 5_003usize;
    // Written out of order, so the order read back is the store's doing.
    let files: Vec<_> = (0..n)
        .map(|i| SyncFile::new(&c, &format!("f{:05}", (i * 7919) % n)))
        .collect();
    for batch in files.chunks(256) {
        let synced: Vec<_> = batch
            .iter()
            .map(|f| p8sync::store::ingest::Synced {
                file: f.clone(),
                settled: None,
            })
            .collect();
        store.put_synced_files(&synced).await.unwrap();
    }
    let read = store.files(c.id).await.unwrap();
    assert_eq!(read.len(), n);
    assert!(read.windows(2).all(|w| w[0].remote_id < w[1].remote_id));
    assert_eq!(read.first().unwrap().remote_id, "f00000");
    assert_eq!(read.last().unwrap().remote_id, format!("f{:05}", n - 1));
}

/// A sync compares a few columns of every file, then reads whole rows only for the files it
/// acts on: both reads agree with what was written, and only the named rows of that config
/// come back.
async fn a_sync_reads_states_then_the_rows_it_names(store: Arc<dyn Store>) {
    let c = SyncConfig::new(user(), "local", "states");
    let other = SyncConfig::new(user(), "local", "other");
    store.put_config(&c).await.unwrap();
    store.put_config(&other).await.unwrap();
    let mut a = SyncFile::new(&c, "a");
    a.status = FileStatus::Synced;
    a.remote_path = Some("Docs/a.txt".into());
    a.remote_name = Some("a.txt".into());
    a.remote_size = Some(12);
    a.remote_modified_at = Some(at(5));
    a.remote_revision = Some("r1".into());
    a.remote_checksum = Some("md5:00ff".into());
    a.s3_uri = Some("s3://b/a".into());
    let mut b = SyncFile::new(&c, "b");
    b.status = FileStatus::Excluded;
    b.error_message = Some("file type `tmp` is excluded".into());
    for f in [&a, &b, &SyncFile::new(&other, "a")] {
        store.put_file(f).await.unwrap();
    }
    let states = store.file_states(c.id).await.unwrap();
    assert_eq!(states, [FileState::of(&a), FileState::of(&b)]);
    assert!(states[0].has_object && !states[1].has_object);

    let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut rows = store
        .files_named(c.id, &ids(&["b", "a", "nope"]))
        .await
        .unwrap();
    rows.sort_by(|x, y| x.remote_id.cmp(&y.remote_id));
    assert_eq!(rows, [a.clone(), b.clone()]);
    assert!(store.files_named(c.id, &[]).await.unwrap().is_empty());
    let theirs = store.files_named(other.id, &ids(&["a"])).await.unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].config_id, other.id);
}

async fn logs_finish_moves_the_schedule(store: Arc<dyn Store>) {
    let c = SyncConfig::new(user(), "local", "docs");
    store.put_config(&c).await.unwrap();
    let mut first = SyncLog::start(&c);
    first.started_at = Some(at(0));
    store.start_log(&first).await.unwrap();
    first.status = LogStatus::Partial;
    first.completed_at = Some(at(3));
    first.duration_seconds = Some(3.0);
    first.files_total = 10;
    first.files_synced = 8;
    first.files_failed = 1;
    first.files_unchanged = 1;
    first.bytes_synced = 12345;
    first.error_message = Some("1 file failed".into());
    first.detailed_log = Some(serde_json::json!({"errors": [{"file": "a", "error": "x"}]}));
    store
        .finish_log(&first, Some(at(3) + Duration::hours(24)))
        .await
        .unwrap();

    let mut second = SyncLog::start(&c);
    second.started_at = Some(at(100));
    store.start_log(&second).await.unwrap();

    let logs = store.logs(Some(c.id), 10).await.unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0].id, second.id, "newest first");
    assert_eq!(logs[0].status, LogStatus::Syncing);
    assert_eq!(logs[1], first);
    assert_eq!(store.logs(None, 1).await.unwrap().len(), 1);

    let c = store.config(c.id).await.unwrap().unwrap();
    assert_eq!(c.last_sync_at, Some(at(3)));
    assert_eq!(c.next_sync_at, Some(at(3) + Duration::hours(24)));
}

macro_rules! conformance {
    ($($name:ident),+) => {
        mod on_sqlite {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _dir) = sqlite().await;
                    super::$name(store).await;
                }
            )+
        }
        mod on_postgres {
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, _db) = postgres().await;
                    super::$name(store).await;
                }
            )+
        }
    };
}

conformance!(
    configs_round_trip,
    files_upsert_and_cascade,
    files_come_back_whole_past_a_page,
    a_sync_reads_states_then_the_rows_it_names,
    logs_finish_moves_the_schedule
);

/// Migration 0007 rebuilds SQLite's `SyncFile` to allow `excluded`: on a database written by
/// the migrations before it, every file row and the ingestion job that references one survive
/// (dropping the old table must not cascade), and the new status is accepted.
#[tokio::test]
async fn sqlite_upgrade_keeps_files_and_their_jobs() {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true),
    )
    .await
    .unwrap();
    let migrations = p8sync_e2e::workspace().join("migrations/sqlite");
    let migrator = sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .unwrap();
    migrator.run_to(6, &pool).await.unwrap();
    let config = SyncConfig::new(user(), "local", "before the upgrade");
    let (id, userid) = (config.id.to_string(), config.userid.to_string());
    let file_id = "00000000-0000-4000-8000-0000000000f1";
    sqlx::query(
        r#"INSERT INTO "SyncConfig" (id, name, provider, userid, change_cursor)
           VALUES (?1, 'old', 'local', ?2, 'cursor-1')"#,
    )
    .bind(&id)
    .bind(&userid)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO "SyncFile" (id, config_id, userid, remote_id, remote_path, status, s3_uri,
             remote_revision, ingest_status)
           VALUES (?1, ?2, ?3, 'r1', 'a/b.txt', 'synced', 's3://bucket/key', 'rev-7', 'ingested')"#,
    )
    .bind(file_id)
    .bind(&id)
    .bind(&userid)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO "IngestJob" (file_id, config_id, userid, run_after) VALUES (?1, ?2, ?3, 0)"#,
    )
    .bind(file_id)
    .bind(&id)
    .bind(&userid)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = p8sync::store::sqlite::SqliteStore::open(&path)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let stored = store.config(config.id).await.unwrap().unwrap();
    assert_eq!(stored.change_cursor.as_deref(), Some("cursor-1"));
    assert_eq!(
        stored.cursor_scope, None,
        "an old cursor has no scope: one full listing"
    );
    let mut files = store.files(config.id).await.unwrap();
    assert_eq!(files.len(), 1);
    let mut file = files.remove(0);
    assert_eq!(
        (
            file.remote_path.as_deref(),
            file.s3_uri.as_deref(),
            file.remote_revision.as_deref()
        ),
        (Some("a/b.txt"), Some("s3://bucket/key"), Some("rev-7"))
    );
    assert_eq!(file.status, FileStatus::Synced);
    let pool = sqlx::SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar(r#"SELECT count(*) FROM "IngestJob""#)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "the ingestion job outlived the rebuild");
    file.status = FileStatus::Excluded;
    store.put_file(&file).await.unwrap();
    assert_eq!(
        store.files(config.id).await.unwrap()[0].status,
        FileStatus::Excluded
    );
}

/// Migration 0009 (several accounts per provider) on a database the migrations before it
/// wrote: the credential is kept with its id, named after its account, the config is bound to
/// it, and a second account of the same provider can then be stored beside it.
async fn accounts_upgrade_keeps_the_credential(
    store: &dyn Store,
    config: &SyncConfig,
    credential: p8sync::store::ids::CredentialId,
) {
    store.migrate().await.unwrap();
    let kept = store.credential(credential).await.unwrap().unwrap();
    assert_eq!(kept.label, "me@example.com");
    assert_eq!(kept.access_token, "sealed-before");
    assert_eq!(kept.server_url, None);
    let bound = store.config(config.id).await.unwrap().unwrap();
    assert_eq!(bound.credential_id, Some(credential));
    assert_eq!(bound.change_cursor.as_deref(), Some("cursor-1"));
    let mut second = kept.clone();
    second.id = uuid::Uuid::new_v4().into();
    second.label = "work".into();
    store.put_credential(&second).await.unwrap();
    assert_eq!(store.credentials(Some(user())).await.unwrap().len(), 2);
    // Two accounts of one user and provider may not share a label.
    let mut twin = second.clone();
    twin.id = uuid::Uuid::new_v4().into();
    assert!(store.put_credential(&twin).await.is_err());
}

#[tokio::test]
async fn sqlite_accounts_upgrade_keeps_the_credential_and_binds_its_configs() {
    use sqlx::sqlite::SqliteConnectOptions;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let pool = sqlx::SqlitePool::connect_with(
        SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    let migrations = p8sync_e2e::workspace().join("migrations/sqlite");
    sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .unwrap()
        .run_to(8, &pool)
        .await
        .unwrap();
    let config = SyncConfig::new(user(), "google_drive", "drive");
    let credential = p8sync::store::ids::CredentialId::derive(user(), "google_drive");
    sqlx::query(
        r#"INSERT INTO "SyncConfig" (id, name, provider, userid, change_cursor)
           VALUES (?1, 'drive', 'google_drive', ?2, 'cursor-1')"#,
    )
    .bind(config.id.to_string())
    .bind(user().to_string())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO "SyncCredential" (id, provider, userid, access_token, provider_user_id)
           VALUES (?1, 'google_drive', ?2, 'sealed-before', 'me@example.com')"#,
    )
    .bind(credential.to_string())
    .bind(user().to_string())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = p8sync::store::sqlite::SqliteStore::open(&path)
        .await
        .unwrap();
    accounts_upgrade_keeps_the_credential(&store, &config, credential).await;
}

#[tokio::test]
async fn postgres_accounts_upgrade_keeps_the_credential_and_binds_its_configs() {
    let (url, _) = p8sync_e2e::postgres_database().await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let migrations = p8sync_e2e::workspace().join("migrations/postgres");
    sqlx::migrate::Migrator::new(migrations.as_path())
        .await
        .unwrap()
        .run_to(8, &pool)
        .await
        .unwrap();
    let config = SyncConfig::new(user(), "google_drive", "drive");
    let credential = p8sync::store::ids::CredentialId::derive(user(), "google_drive");
    sqlx::query(
        r#"INSERT INTO p8."SyncConfig" (id, name, provider, userid, change_cursor)
           VALUES ($1::uuid, 'drive', 'google_drive', $2::uuid, 'cursor-1')"#,
    )
    .bind(config.id.to_string())
    .bind(user().to_string())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        r#"INSERT INTO p8."SyncCredential" (id, provider, userid, access_token, provider_user_id)
           VALUES ($1::uuid, 'google_drive', $2::uuid, 'sealed-before', 'me@example.com')"#,
    )
    .bind(credential.to_string())
    .bind(user().to_string())
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let store = p8sync::store::postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    accounts_upgrade_keeps_the_credential(&store, &config, credential).await;
}
