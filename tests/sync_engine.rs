//! The sync engine end to end with real components: the `local` provider on a real folder and a
//! test provider with per-file failures, against both stores (SQLite and real Postgres).

use p8sync::blob::local::LocalBlobStore;
use p8sync::blob::s3::S3BlobStore;
use p8sync::blob::{BlobStore, ObjectKey};
use p8sync::runtime::{Registry, Runtime};
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, LogStatus, Store, SyncConfig};
use p8sync::sync::{SyncEngine, SyncError, SyncOptions, SyncReport};
use p8sync_e2e::*;
use sha2::Digest;
use std::path::Path;
use std::sync::Arc;

struct Fixture {
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    engine: SyncEngine,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

async fn fixture(postgres: bool) -> Fixture {
    let (store, keep): (Arc<dyn Store>, Box<dyn std::any::Any + Send>) = if postgres {
        let (s, name) = postgres_store().await;
        (s, Box::new(name))
    } else {
        let (s, dir) = sqlite_store().await;
        (s, Box::new(dir))
    };
    let rt = Runtime::new(settings()).unwrap();
    let registry =
        Registry::from_providers([load_local(&rt).await, load_test(&rt, "inline-files").await]);
    // SQLite runs with the local object folder; Postgres with a real S3 server.
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = if postgres {
        Arc::new(S3BlobStore::new(s3_settings().await).await)
    } else {
        Arc::new(LocalBlobStore::new(objects.path()))
    };
    let engine = SyncEngine::new(
        store.clone(),
        blob.clone(),
        Arc::new(registry),
        // The default number of retries, at test speed: a file whose bytes never verify is
        // tried as often as in production without minutes of backoff.
        SyncOptions {
            retry: p8sync::sync::retry::RetryPolicy {
                base: std::time::Duration::from_millis(10),
                max: std::time::Duration::from_millis(50),
                ..Default::default()
            },
            ..SyncOptions::default()
        },
    );
    Fixture {
        store,
        blob,
        engine,
        _keep: vec![keep, Box::new(objects)],
    }
}

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000aa".parse().unwrap()
}

fn local_config(root: &Path) -> SyncConfig {
    let mut c = SyncConfig::new(user(), "local", "folder");
    c.provider_config = serde_json::json!({ "root": root.display().to_string() });
    c
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every synced row has its object, with the right bytes.
async fn check_objects(f: &Fixture, config: &SyncConfig, root: &Path) {
    for file in f.store.files(config.id).await.unwrap() {
        if file.status != FileStatus::Synced {
            continue;
        }
        let key = object_key(config, &file);
        assert_eq!(file.s3_uri.as_deref(), Some(f.blob.uri(&key).as_str()));
        let stored = read_object(f.blob.as_ref(), &key).await;
        let source = std::fs::read(root.join(&file.remote_id)).unwrap();
        assert_eq!(stored, source, "{}", file.remote_id);
        assert_eq!(
            file.local_checksum.as_deref(),
            Some(sha256(&source).as_str())
        );
    }
}

fn object_key(config: &SyncConfig, file: &p8sync::store::SyncFile) -> ObjectKey {
    ObjectKey::for_file(
        config.id,
        file.id,
        file.remote_name.as_deref().unwrap(),
        None,
    )
}

fn counts(r: &SyncReport) -> (u64, u64, u64, u64) {
    (
        r.files_synced,
        r.files_unchanged,
        r.files_failed,
        r.files_deleted,
    )
}

async fn lifecycle(postgres: bool) {
    let f = fixture(postgres).await;
    let tree = make_tree(&[
        ("a.txt", "alpha"),
        ("docs/b.md", "# bravo"),
        ("docs/deep/c.csv", "x,y\n1,2\n"),
        ("same name/a.txt", "another alpha"),
    ]);
    let root = tree.path();
    let config = local_config(root);
    f.store.put_config(&config).await.unwrap();

    // First sync: everything.
    let r = f.engine.run(&config).await.unwrap();
    assert!(r.success, "{r:?}");
    assert_eq!(counts(&r), (4, 0, 0, 0));
    let stored = f.store.config(config.id).await.unwrap().unwrap();
    assert_eq!(
        stored.next_sync_at.unwrap() - stored.last_sync_at.unwrap(),
        chrono::Duration::hours(24),
        "after a success, the interval"
    );
    // A cron schedule replaces the interval: 1 AM in Tokyo is 16:00 UTC.
    let mut config = config;
    config.schedule = Some("0 1 * * *".into());
    config.schedule_timezone = Some("Asia/Tokyo".into());
    f.store.put_config(&config).await.unwrap();
    assert_eq!(r.bytes, 5 + 7 + 8 + 13);
    check_objects(&f, &config, root).await;

    // Nothing changed: nothing transferred.
    let r = f.engine.run(&config).await.unwrap();
    let stored = f.store.config(config.id).await.unwrap().unwrap();
    let next = stored.next_sync_at.unwrap();
    assert_eq!(
        next.format("%H:%M:%S").to_string(),
        "16:00:00",
        "on the schedule"
    );
    assert!(next > stored.last_sync_at.unwrap());
    assert!(next - stored.last_sync_at.unwrap() <= chrono::Duration::hours(24));
    assert_eq!(counts(&r), (0, 4, 0, 0));
    assert_eq!(r.bytes, 0);

    // Modify, add, delete, rename.
    std::fs::write(root.join("a.txt"), "alpha, changed").unwrap();
    std::fs::write(root.join("docs/new.txt"), "new").unwrap();
    std::fs::remove_file(root.join("docs/deep/c.csv")).unwrap();
    std::fs::rename(root.join("docs/b.md"), root.join("docs/b-renamed.md")).unwrap();
    let r = f.engine.run(&config).await.unwrap();
    // a.txt changed, new.txt and b-renamed.md are new; c.csv and b.md are gone.
    assert_eq!(counts(&r), (3, 1, 0, 2), "{r:?}");
    check_objects(&f, &config, root).await;
    let files = f.store.files(config.id).await.unwrap();
    let status = |id: &str| files.iter().find(|x| x.remote_id == id).map(|x| x.status);
    assert_eq!(status("docs/deep/c.csv"), Some(FileStatus::Deleted));
    assert_eq!(status("docs/b.md"), Some(FileStatus::Deleted));
    assert_eq!(status("docs/b-renamed.md"), Some(FileStatus::Synced));
    // A deleted file's object is kept unless the config mirrors deletes.
    let gone = files.iter().find(|x| x.remote_id == "docs/b.md").unwrap();
    assert_eq!(
        f.blob.head(&object_key(&config, gone)).await.unwrap(),
        Some(7)
    );

    // The runs are logged with their counts, and the schedule moved.
    let logs = f.store.logs(Some(config.id), 10).await.unwrap();
    assert_eq!(logs.len(), 3);
    assert!(logs.iter().all(|l| l.status == LogStatus::Success));
    assert_eq!(logs[0].files_synced, 3);
    assert_eq!(logs[0].files_deleted, 2);
    let stored = f.store.config(config.id).await.unwrap().unwrap();
    assert!(stored.last_sync_at.is_some() && stored.next_sync_at > stored.last_sync_at);

    // A root that vanished fails the run and marks nothing deleted.
    let missing = local_config(&root.join("no-such-dir"));
    let err = f
        .engine
        .run(&SyncConfig {
            id: config.id,
            ..missing
        })
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Config { .. }), "{err}");
    let after = f.store.files(config.id).await.unwrap();
    assert_eq!(
        after
            .iter()
            .filter(|x| x.status == FileStatus::Synced)
            .count(),
        4
    );
    assert_eq!(
        f.store.logs(Some(config.id), 1).await.unwrap()[0].status,
        LogStatus::Failed
    );
}

async fn filters(postgres: bool) {
    let f = fixture(postgres).await;
    let tree = make_tree(&[
        ("Work/Reports/q3.pdf", "pdf"),
        ("Work/Reports/draft.tmp", "tmp"),
        ("Work/Other/x.pdf", "other"),
        ("Reports/not-work.pdf", "name matches, path does not"),
        ("Work/Reports/Archive/old.pdf", "old"),
    ]);
    let mut config = local_config(tree.path());
    config.include_folders = vec!["Work/Reports".into()];
    config.exclude_folders = vec!["Work/Reports/Archive".into()];
    config.exclude_file_types = vec![".TMP".into()];
    f.store.put_config(&config).await.unwrap();
    let r = f.engine.run(&config).await.unwrap();
    let ids: Vec<String> = f
        .store
        .files(config.id)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.remote_id)
        .collect();
    assert_eq!(ids, vec!["Work/Reports/q3.pdf"]);
    assert_eq!(r.files_skipped, 4);

    config.include_folders = vec![];
    config.exclude_folders = vec![];
    config.exclude_file_types = vec![];
    config.include_file_types = vec!["tmp".into()];
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(r.files_synced, 1);
    assert_eq!(r.files_unchanged, 0);
}

async fn per_file_failures(postgres: bool) {
    let f = fixture(postgres).await;
    let mut config = SyncConfig::new(user(), "test_inline_files", "inline");
    let files = serde_json::json!([
        {"id": "ok-1", "name": "one.txt", "content": "one"},
        {"id": "forbidden-2", "name": "two.txt", "content": "two"},
        {"id": "corrupt-3", "name": "three.txt", "content": "three", "sha256": "00".repeat(32)},
        {"id": "ok-4", "name": "four.txt", "content": "four", "sha256": sha256(b"four")},
    ]);
    config.provider_config = serde_json::json!({ "files": files.to_string() });
    f.store.put_config(&config).await.unwrap();
    let r = f.engine.run(&config).await.unwrap();
    assert!(!r.success);
    assert_eq!(counts(&r), (2, 0, 2, 0));
    let failed: Vec<&str> = r.failures.iter().map(|x| x.remote_id.as_str()).collect();
    assert_eq!(failed, vec!["corrupt-3", "forbidden-2"]);
    assert!(
        r.failures[0].error.contains("checksum mismatch"),
        "{}",
        r.failures[0].error
    );
    assert!(
        r.failures[1].error.contains("download quota exceeded"),
        "{}",
        r.failures[1].error
    );

    let rows = f.store.files(config.id).await.unwrap();
    let row = |id: &str| rows.iter().find(|x| x.remote_id == id).unwrap();
    assert_eq!(row("forbidden-2").status, FileStatus::Failed);
    assert_eq!(row("forbidden-2").sync_attempts, 1);
    assert_eq!(row("corrupt-3").status, FileStatus::Failed);
    assert!(
        row("corrupt-3").s3_uri.is_none(),
        "no object is kept for bytes that failed verification"
    );
    assert_eq!(row("ok-4").status, FileStatus::Synced);
    let log = &f.store.logs(Some(config.id), 1).await.unwrap()[0];
    assert_eq!(log.status, LogStatus::Partial);
    assert_eq!(log.files_failed, 2);
    let detail = log.detailed_log.as_ref().unwrap().to_string();
    assert!(detail.contains("forbidden-2"), "{detail}");
    // A run with failures is retried in 5 minutes, not at the next daily time.
    let wait = |c: &SyncConfig| (c.next_sync_at.unwrap() - c.last_sync_at.unwrap()).num_seconds();
    let stored = f.store.config(config.id).await.unwrap().unwrap();
    assert_eq!(wait(&stored), 5 * 60);

    // Failed files are retried next time; good ones are not transferred again.
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (0, 2, 2, 0));
    // The second run in a row with failures waits twice as long.
    let stored = f.store.config(config.id).await.unwrap().unwrap();
    assert_eq!(wait(&stored), 10 * 60);
    let rows = f.store.files(config.id).await.unwrap();
    assert_eq!(
        rows.iter()
            .find(|x| x.remote_id == "forbidden-2")
            .unwrap()
            .sync_attempts,
        2
    );
}

async fn unknown_provider(postgres: bool) {
    let f = fixture(postgres).await;
    let config = SyncConfig::new(user(), "google_drve", "typo");
    f.store.put_config(&config).await.unwrap();
    let err = f.engine.run(&config).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("unknown provider `google_drve`"), "{text}");
    assert!(
        text.contains("local") && text.contains("test_inline_files"),
        "{text}"
    );
    let log = &f.store.logs(Some(config.id), 1).await.unwrap()[0];
    assert_eq!(log.status, LogStatus::Failed);
    assert!(
        log.error_message
            .as_deref()
            .unwrap()
            .contains("unknown provider")
    );
}

async fn changes_feed(postgres: bool) {
    let f = fixture(postgres).await;
    let mut config = SyncConfig::new(user(), "test_inline_files", "feed");
    let set = |config: &mut SyncConfig,
               files: serde_json::Value,
               removed: serde_json::Value,
               version: u64,
               oldest: u64| {
        config.provider_config = serde_json::json!({
            "files": files.to_string(),
            "removed": removed.to_string(),
            "version": version.to_string(),
            "oldest": oldest.to_string(),
        });
        // The test provider takes its files from its settings; that is not a change of scope.
        config.cursor_scope = Some(p8sync::sync::plan::scope(config));
    };
    let cursor = |f: &Fixture, id| {
        let store = f.store.clone();
        async move { store.config(id).await.unwrap().unwrap().change_cursor }
    };

    // First sync: a full listing, and the cursor for "now" is saved.
    set(
        &mut config,
        serde_json::json!([
            {"id": "a", "name": "a.txt", "content": "a1", "v": 1},
            {"id": "b", "name": "b.txt", "content": "b1", "v": 1},
        ]),
        serde_json::json!([]),
        1,
        0,
    );
    f.store.put_config(&config).await.unwrap();
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (2, 0, 0, 0));
    assert_eq!(cursor(&f, config.id).await.as_deref(), Some("v1/0"));

    // Later syncs read only the changes (three, over two pages): `a` is not even looked at.
    config.change_cursor = cursor(&f, config.id).await;
    set(
        &mut config,
        serde_json::json!([
            {"id": "a", "name": "a.txt", "content": "a1", "v": 1},
            {"id": "b", "name": "b.txt", "content": "b2!", "v": 2},
            {"id": "c", "name": "c.txt", "content": "c2", "v": 2},
            {"id": "d", "name": "d.txt", "content": "d2", "v": 2},
        ]),
        serde_json::json!([]),
        2,
        0,
    );
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (3, 0, 0, 0), "{r:?}");
    assert_eq!(cursor(&f, config.id).await.as_deref(), Some("v2/0"));

    // A removal in the feed marks the file deleted.
    config.change_cursor = cursor(&f, config.id).await;
    set(
        &mut config,
        serde_json::json!([
            {"id": "b", "name": "b.txt", "content": "b2!", "v": 2},
            {"id": "c", "name": "c.txt", "content": "c2", "v": 2},
            {"id": "d", "name": "d.txt", "content": "d2", "v": 2},
        ]),
        serde_json::json!([{"id": "a", "v": 3}]),
        3,
        0,
    );
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (0, 0, 0, 1), "{r:?}");
    let rows = f.store.files(config.id).await.unwrap();
    assert_eq!(
        rows.iter().find(|x| x.remote_id == "a").unwrap().status,
        FileStatus::Deleted
    );

    // An expired cursor falls back to a full listing, which finds everything unchanged.
    config.change_cursor = cursor(&f, config.id).await;
    set(
        &mut config,
        serde_json::json!([
            {"id": "b", "name": "b.txt", "content": "b2!", "v": 2},
            {"id": "c", "name": "c.txt", "content": "c2", "v": 2},
            {"id": "d", "name": "d.txt", "content": "d2", "v": 2},
        ]),
        serde_json::json!([]),
        10,
        10,
    );
    let r = f.engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (0, 3, 0, 0), "{r:?}");
    assert_eq!(cursor(&f, config.id).await.as_deref(), Some("v10/0"));
}

async fn http_fetch_plans(postgres: bool) {
    let f = fixture(postgres).await;
    let cut_once = std::sync::atomic::AtomicBool::new(false);
    let server = TestServer::start(move |req| {
        let path = req
            .request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_string();
        match path.as_str() {
            "/entries" => (
                200,
                serde_json::json!([
                    {"id": "plain", "name": "plain.txt", "size": 13},
                    {"id": "moved", "name": "moved.txt", "size": 5},
                    {"id": "evil", "name": "evil.txt", "size": 1},
                    {"id": "gone", "name": "gone.txt", "size": 1},
                    {"id": "cut", "name": "cut.txt", "size": 5},
                ])
                .to_string(),
            ),
            "/files/plain" => (200, "plain content".into()),
            "/files/moved" => (302, "/files/new-home".into()),
            "/files/new-home" => (200, "moved".into()),
            "/files/evil" => (302, "http://exfiltrate.example/steal".into()),
            // An error whose body the network cuts off says nothing reliable about the file: it
            // is a dropped connection, to be tried again, not a 403 to give up on.
            "/files/cut" if !cut_once.swap(true, std::sync::atomic::Ordering::SeqCst) => (
                403,
                format!("{{\"error\": \"half an explanation{CUT_SHORT}"),
            ),
            "/files/cut" => (200, "whole".into()),
            _ => (404, "{}".into()),
        }
    })
    .await;
    let rt = Runtime::new(with_api_base(settings(), "test_http_echo", &server.base())).unwrap();
    let registry = Registry::from_providers([load_test(&rt, "http-echo").await]);
    let engine = SyncEngine::new(
        f.store.clone(),
        f.blob.clone(),
        Arc::new(registry),
        SyncOptions {
            retry: p8sync::sync::retry::RetryPolicy {
                retries: 1,
                base: std::time::Duration::from_millis(10),
                max: std::time::Duration::from_millis(20),
                ..p8sync::sync::retry::RetryPolicy::default()
            },
            ..SyncOptions::default()
        },
    );
    let config = SyncConfig::new(user(), "test_http_echo", "http");
    f.store.put_config(&config).await.unwrap();
    let r = engine.run(&config).await.unwrap();
    assert_eq!(counts(&r), (3, 0, 2, 0), "{r:?}");
    let failure = |id: &str| {
        r.failures
            .iter()
            .find(|x| x.remote_id == id)
            .unwrap()
            .error
            .clone()
    };
    let evil = failure("evil");
    assert!(
        evil.contains("refused") && evil.contains("exfiltrate.example"),
        "{evil}"
    );
    assert!(failure("gone").contains("HTTP 404"), "{}", failure("gone"));

    let rows = f.store.files(config.id).await.unwrap();
    for (id, content) in [
        ("plain", "plain content"),
        ("moved", "moved"),
        ("cut", "whole"),
    ] {
        let row = rows.iter().find(|x| x.remote_id == id).unwrap();
        assert_eq!(row.status, FileStatus::Synced);
        assert_eq!(
            read_object(f.blob.as_ref(), &object_key(&config, row)).await,
            content.as_bytes()
        );
    }
    // The redirect was followed on the same host, and nothing went to the undeclared one.
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.request_line.clone())
        .collect();
    assert!(
        paths.iter().any(|p| p.starts_with("GET /files/new-home ")),
        "{paths:?}"
    );
}

/// What `p8sync serve` shows at /metrics after syncs: runs by status, provider call latency as
/// a histogram, provider errors by kind, outbound requests by status class (the component's own
/// API calls and the host's downloads). Other tests in this process record too once the
/// recorder is in, so the numbers checked are lower bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_syncs() {
    // Installed first: what is recorded before goes nowhere.
    p8sync::metrics::handle();
    let f = fixture(false).await;

    let tree = make_tree(&[("a.txt", "alpha"), ("b.txt", "bravo")]);
    let config = local_config(tree.path());
    f.store.put_config(&config).await.unwrap();
    assert!(f.engine.run(&config).await.unwrap().success);

    let mut inline = SyncConfig::new(user(), "test_inline_files", "inline metrics");
    let files = serde_json::json!([
        {"id": "ok-1", "name": "one.txt", "content": "one"},
        {"id": "forbidden-2", "name": "two.txt", "content": "two"},
    ]);
    inline.provider_config = serde_json::json!({ "files": files.to_string() });
    f.store.put_config(&inline).await.unwrap();
    assert_eq!(counts(&f.engine.run(&inline).await.unwrap()), (1, 0, 1, 0));

    let server =
        TestServer::start(
            |req| match req.request_line.split(' ').nth(1).unwrap_or_default() {
                "/entries" => (
                    200,
                    serde_json::json!([
                        {"id": "plain", "name": "plain.txt", "size": 5},
                        {"id": "missing", "name": "missing.txt", "size": 1},
                    ])
                    .to_string(),
                ),
                "/files/plain" => (200, "plain".into()),
                _ => (404, "{}".into()),
            },
        )
        .await;
    let rt = Runtime::new(with_api_base(settings(), "test_http_echo", &server.base())).unwrap();
    let engine = SyncEngine::new(
        f.store.clone(),
        f.blob.clone(),
        Arc::new(Registry::from_providers(
            [load_test(&rt, "http-echo").await],
        )),
        SyncOptions {
            retry: p8sync::sync::retry::RetryPolicy {
                retries: 1,
                base: std::time::Duration::from_millis(10),
                max: std::time::Duration::from_millis(20),
                ..p8sync::sync::retry::RetryPolicy::default()
            },
            ..SyncOptions::default()
        },
    );
    let http = SyncConfig::new(user(), "test_http_echo", "http metrics");
    f.store.put_config(&http).await.unwrap();
    assert_eq!(counts(&engine.run(&http).await.unwrap()), (1, 0, 1, 0));

    let text = p8sync::metrics::render();
    // The value of the one sample line that starts with `series` (name and labels).
    let value = |series: &str| -> f64 {
        let found: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .collect();
        assert_eq!(found.len(), 1, "one `{series}` in\n{text}");
        found[0].parse().unwrap()
    };
    assert!(value(r#"p8sync_syncs_total{provider="local",status="success"}"#) >= 1.0);
    assert!(value(r#"p8sync_syncs_total{provider="test_inline_files",status="partial"}"#) >= 1.0);
    assert!(value(r#"p8sync_sync_files_synced_total{provider="local"}"#) >= 2.0);
    assert!(value(r#"p8sync_sync_bytes_synced_total{provider="local"}"#) >= 10.0);
    assert!(value(r#"p8sync_sync_files_failed_total{provider="test_inline_files"}"#) >= 1.0);
    assert!(text.contains("# TYPE p8sync_provider_call_seconds histogram"));
    assert!(
        value(r#"p8sync_provider_call_seconds_bucket{provider="local",call="list",le="+Inf"}"#)
            >= 1.0
    );
    assert!(value(r#"p8sync_provider_call_seconds_count{provider="local",call="fetch"}"#) >= 2.0);
    assert!(
        value(
            r#"p8sync_provider_errors_total{provider="test_inline_files",call="fetch",kind="forbidden"}"#
        ) >= 1.0
    );
    assert!(
        value(
            r#"p8sync_provider_http_requests_total{provider="test_http_echo",status_class="2xx"}"#
        ) >= 2.0,
        "the listing and one download"
    );
    assert!(
        value(
            r#"p8sync_provider_http_requests_total{provider="test_http_echo",status_class="4xx"}"#
        ) >= 1.0
    );
}

macro_rules! both {
    ($($name:ident),+) => {
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(false).await })+
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(true).await })+
        }
    };
}

both!(
    lifecycle,
    filters,
    per_file_failures,
    unknown_provider,
    changes_feed,
    http_fetch_plans
);

/// A running sync writes its progress to its log row (files done of total, bytes, the file
/// under way) and stops when asked: no new file starts, the run ends `cancelled`, and the
/// next run transfers what it left. A queued run asked to stop never starts.
async fn progress_and_cancel(postgres: bool) {
    use p8sync::store::CancelOutcome;
    let f = fixture(postgres).await;
    let rt = Runtime::new(settings()).unwrap();
    let slow = SyncEngine::new(
        f.store.clone(),
        f.blob.clone(),
        Arc::new(Registry::from_providers([load_local(&rt).await])),
        SyncOptions {
            transfers: 1,
            // Called after each file on the run's task: holds each file for a moment, so the
            // run is still going when the stop arrives.
            progress: Some(Arc::new(|_| {
                std::thread::sleep(std::time::Duration::from_millis(40))
            })),
            ..SyncOptions::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    for i in 0..100 {
        std::fs::write(dir.path().join(format!("f{i:03}.bin")), vec![7u8; 1000]).unwrap();
    }
    let config = local_config(dir.path());
    f.store.put_config(&config).await.unwrap();
    let running = {
        let config = config.clone();
        tokio::spawn(async move { slow.run(&config).await })
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let log = loop {
        let logs = f.store.logs(Some(config.id), 1).await.unwrap();
        if let Some(l) = logs.into_iter().next()
            && l.files_synced > 0
            && l.current_file.is_some()
        {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no progress was recorded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(log.status, LogStatus::Syncing);
    assert_eq!((log.files_total, log.bytes_total), (100, Some(100_000)));
    assert!(log.current_file.as_deref().unwrap().starts_with('f'));
    assert_eq!(
        f.store.cancel_run(log.id).await.unwrap(),
        Some(CancelOutcome::Requested)
    );
    let stopped = running.await.unwrap().unwrap();
    assert!(stopped.cancelled && !stopped.success, "{stopped:?}");
    assert!(stopped.files_synced < 100, "{stopped:?}");
    let ended = f.store.log(log.id).await.unwrap().unwrap();
    assert_eq!(ended.status, LogStatus::Cancelled);
    assert!(
        ended
            .error_message
            .as_deref()
            .unwrap()
            .contains("stopped on request"),
        "{ended:?}"
    );
    assert_eq!(
        f.store.cancel_run(log.id).await.unwrap(),
        Some(CancelOutcome::Ended(LogStatus::Cancelled))
    );
    // The next run transfers what the stopped one left, and nothing twice.
    let rest = f.engine.run(&config).await.unwrap();
    assert!(rest.success, "{rest:?}");
    assert_eq!(rest.files_synced + stopped.files_synced, 100);

    // A queued run asked to stop never starts.
    let queued = f.store.queue_run(config.id).await.unwrap().unwrap();
    assert_eq!(
        f.store.cancel_run(queued).await.unwrap(),
        Some(CancelOutcome::Cancelled)
    );
    assert_eq!(f.store.queued_run(config.id).await.unwrap(), None);
    assert_eq!(
        f.store.log(queued).await.unwrap().unwrap().status,
        LogStatus::Cancelled
    );
    assert_eq!(
        f.store
            .cancel_run(p8sync::store::ids::LogId::new())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_cancel_on_sqlite() {
    progress_and_cancel(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_and_cancel_on_postgres() {
    progress_and_cancel(true).await;
}
