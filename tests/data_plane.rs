//! Caps on the data plane, end to end: what comes from outside (a server's body and headers, a
//! provider's listing and change feed) is bounded while it arrives, and whatever a cap stops
//! fails only its own file or run, keeps nothing, and names the setting.

use p8sync::blob::local::LocalBlobStore;
use p8sync::blob::s3::S3BlobStore;
use p8sync::blob::{BlobStore, ObjectKey};
use p8sync::oauth::Keyring;
use p8sync::runtime::{Registry, Runtime};
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, LogStatus, Store, SyncConfig, SyncFile};
use p8sync::sync::retry::RetryPolicy;
use p8sync::sync::{SyncEngine, SyncError, SyncOptions, SyncReport};
use p8sync_e2e::engine::{self, Harness, Setup};
use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000c4".parse().unwrap()
}

/// What the test server sends for one path.
#[derive(Clone)]
enum Answer {
    /// 200 with this body.
    Body(String),
    /// 200 with `length` in `Content-Length`, then one byte every `every`, for ever.
    Trickle { length: usize, every: Duration },
    /// 429 with this `Retry-After`.
    RateLimited(&'static str),
    /// 202 Accepted with `Retry-After: 0` and no body (Box: the file is not ready yet).
    NotReady,
}

/// A server that answers each request by its path, and counts the paths asked for.
struct Server {
    base: String,
    asked: Arc<Mutex<Vec<String>>>,
}

impl Server {
    async fn start(route: impl Fn(&str, usize) -> Answer + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let asked = Arc::new(Mutex::new(Vec::new()));
        let (route, seen) = (Arc::new(route), asked.clone());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let (route, seen) = (route.clone(), seen.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text.split(' ').nth(1).unwrap_or_default().to_string();
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(path.clone());
                        seen.iter().filter(|p| **p == path).count() - 1
                    };
                    let reply = |status: &str, extra: &str, len: usize| {
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {len}\r\nconnection: close\r\n\r\n"
                        )
                    };
                    match route(&path, n) {
                        Answer::Body(body) => {
                            let head = reply("200 OK", "", body.len());
                            let _ = socket.write_all((head + &body).as_bytes()).await;
                        }
                        Answer::RateLimited(after) => {
                            let body = r#"{"error":{"message":"slow down"}}"#;
                            let head = reply(
                                "429 Too Many Requests",
                                &format!("retry-after: {after}\r\n"),
                                body.len(),
                            );
                            let _ = socket.write_all((head + body).as_bytes()).await;
                        }
                        Answer::NotReady => {
                            let head = reply("202 Accepted", "retry-after: 0\r\n", 0);
                            let _ = socket.write_all(head.as_bytes()).await;
                        }
                        Answer::Trickle { length, every } => {
                            let head = reply("200 OK", "", length);
                            if socket.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            loop {
                                if socket.write_all(b"x").await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(every).await;
                            }
                        }
                    }
                    let _ = socket.shutdown().await;
                });
            }
        });
        Server { base, asked }
    }

    fn times(&self, path: &str) -> usize {
        self.asked
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

/// Quick retries, so a test that fails by retrying too much fails fast.
fn options() -> SyncOptions {
    SyncOptions {
        retry: RetryPolicy {
            retries: 2,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..SyncOptions::default()
    }
}

/// The `test_http_echo` provider against `server` (its listing at `/entries`, its files at
/// `/files/<id>`), on SQLite and `blob`.
async fn echo_engine(
    server: &Server,
    blob: Arc<dyn BlobStore>,
    options: SyncOptions,
) -> (SyncEngine, Arc<dyn Store>, tempfile::TempDir) {
    let (store, dir) = sqlite_store().await;
    let rt = Runtime::new(with_api_base(settings(), "test_http_echo", &server.base)).unwrap();
    let registry = Registry::from_providers([load_test(&rt, "http-echo").await]);
    let engine = SyncEngine::new(store.clone(), blob, Arc::new(registry), options);
    (engine, store, dir)
}

async fn rows(store: &Arc<dyn Store>, config: &SyncConfig) -> BTreeMap<String, SyncFile> {
    store
        .files(config.id)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.remote_id.clone(), f))
        .collect()
}

fn failure<'r>(report: &'r SyncReport, id: &str) -> &'r p8sync::sync::FileFailure {
    report
        .failures
        .iter()
        .find(|f| f.remote_id == id)
        .unwrap_or_else(|| panic!("no failure for {id}: {report:?}"))
}

fn key(config: &SyncConfig, row: &SyncFile) -> ObjectKey {
    ObjectKey::for_file(config.id, row.id, row.remote_name.as_deref().unwrap(), None)
}

/// Files in `dir` and below (a local object store's objects and partial writes).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// A body longer than the size the provider listed is stopped while it streams, after the
/// listed bytes: nothing is stored (no object, no partial file), the file fails naming the
/// size, and it is not fetched again and again; the other files are synced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_longer_than_listed_is_stopped_and_nothing_is_kept() {
    let server = Server::start(|path, _| match path {
        "/entries" => Answer::Body(
            serde_json::json!([
                {"id": "long", "name": "long.txt", "size": 10},
                {"id": "ok", "name": "ok.txt", "size": 5},
                {"id": "short", "name": "short.txt", "size": 10},
            ])
            .to_string(),
        ),
        // A MiB for 10 listed bytes: far more than one read.
        "/files/long" => Answer::Body("y".repeat(1 << 20)),
        // Shorter than listed (and its Content-Length agrees): caught when it ends.
        "/files/short" => Answer::Body("four".into()),
        "/files/ok" => Answer::Body("hello".into()),
        _ => Answer::Body(String::new()),
    })
    .await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let (engine, store, _db) = echo_engine(&server, blob.clone(), options()).await;
    let config = SyncConfig::new(user(), "test_http_echo", "longer than listed");
    store.put_config(&config).await.unwrap();

    let report = engine.run(&config).await.unwrap();
    assert_eq!(
        (report.files_synced, report.files_failed),
        (1, 2),
        "{report:?}"
    );
    let short = failure(&report, "short");
    assert!(
        short
            .error
            .contains("size mismatch: the provider reported 10 bytes, 4 arrived"),
        "{}",
        short.error
    );
    // A short body may be a cut one: fetched again, with each retry.
    assert_eq!(server.times("/files/short"), 3);
    let long = failure(&report, "long");
    assert!(
        long.error
            .contains("the server sent more than the 10 bytes it listed"),
        "{}",
        long.error
    );
    assert!(
        !long.retryable,
        "the same body comes back: not worth holding the cursor"
    );
    // Refused once, not fetched again as if the connection had dropped.
    assert_eq!(server.times("/files/long"), 1);

    let rows = rows(&store, &config).await;
    assert_eq!(rows["long"].status, FileStatus::Failed);
    assert!(rows["long"].s3_uri.is_none());
    assert!(
        rows["long"]
            .error_message
            .as_deref()
            .unwrap()
            .contains("nothing was kept")
    );
    assert_eq!(rows["ok"].status, FileStatus::Synced);
    assert_eq!(rows["short"].status, FileStatus::Failed);
    // The one object is ok's: long and short left neither an object nor a partial write.
    let files = files_under(objects.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(
        read_object(blob.as_ref(), &key(&config, &rows["ok"])).await,
        b"hello"
    );
    assert_eq!(blob.head(&key(&config, &rows["long"])).await.unwrap(), None);
}

/// The s3s-fs server's folder for `bucket` (it keeps multipart uploads there, at the top).
fn s3s_root(bucket: &str) -> std::path::PathBuf {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join(bucket).is_dir())
        .unwrap_or_else(|| panic!("no s3s-fs folder holds the bucket {bucket}"))
}

/// On S3, a body past its listed size is stopped half-way through a multipart upload, which is
/// aborted: no object, and no upload left open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_s3_a_multipart_upload_past_the_listed_size_is_aborted() {
    let server = Server::start(|path, _| match path {
        "/entries" => Answer::Body(
            serde_json::json!([{"id": "long", "name": "long.bin", "size": 300}]).to_string(),
        ),
        "/files/long" => Answer::Body("z".repeat(1000)),
        _ => Answer::Body(String::new()),
    })
    .await;
    // Tiny parts, so 300 bytes take several: the upload is multipart when the limit hits.
    let s3 = p8sync::blob::s3::S3Settings {
        part_size: 64,
        parts_in_flight: 1,
        ..s3s_settings().await
    };
    let blob: Arc<dyn BlobStore> = Arc::new(S3BlobStore::new(s3.clone()).await);
    let (engine, store, _db) = echo_engine(&server, blob.clone(), options()).await;
    let config = SyncConfig::new(user(), "test_http_echo", "multipart");
    store.put_config(&config).await.unwrap();

    let report = engine.run(&config).await.unwrap();
    assert_eq!(report.files_failed, 1, "{report:?}");
    assert!(
        failure(&report, "long")
            .error
            .contains("more than the 300 bytes it listed")
    );
    let row = &rows(&store, &config).await["long"];
    assert_eq!(blob.head(&key(&config, row)).await.unwrap(), None);
    let objects = s3_client(&s3)
        .await
        .list_objects_v2()
        .bucket(&s3.bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(objects.contents().len(), 0);
    // s3s-fs keeps an open upload as `.upload-<id>.json` and its parts as `.upload_id-<id>.*`.
    let root = s3s_root(&s3.bucket);
    let open: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".upload"))
        .collect();
    assert!(open.is_empty(), "uploads left open: {open:?}");
}

/// A file whose body trickles past the transfer deadline is abandoned at the deadline: it
/// fails naming the setting, nothing is kept, and the other file is synced meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_past_its_deadline_is_abandoned_and_the_others_go_on() {
    let server = Server::start(|path, _| match path {
        "/entries" => Answer::Body(
            serde_json::json!([
                {"id": "slow", "name": "slow.bin", "size": 100000},
                {"id": "ok", "name": "ok.txt", "size": 5},
            ])
            .to_string(),
        ),
        // A byte every 50 ms: never stalled long enough for the between-bytes timeout.
        "/files/slow" => Answer::Trickle {
            length: 100_000,
            every: Duration::from_millis(50),
        },
        "/files/ok" => Answer::Body("hello".into()),
        _ => Answer::Body(String::new()),
    })
    .await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let mut opts = options();
    opts.limits.transfer_timeout = Duration::from_millis(1500);
    let (engine, store, _db) = echo_engine(&server, blob.clone(), opts).await;
    let config = SyncConfig::new(user(), "test_http_echo", "deadline");
    store.put_config(&config).await.unwrap();

    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), engine.run(&config))
        .await
        .expect("the deadline ends the transfer")
        .unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(
        (report.files_synced, report.files_failed),
        (1, 1),
        "{report:?}"
    );
    let slow = failure(&report, "slow");
    assert!(
        slow.error.contains("did not finish within 1.5s")
            && slow.error.contains("P8_TRANSFER_TIMEOUT_SECS"),
        "{}",
        slow.error
    );
    assert!(slow.retryable, "a slow link may be faster next time");
    // Abandoned, not fetched again within the run.
    assert_eq!(server.times("/files/slow"), 1);
    let rows = rows(&store, &config).await;
    assert_eq!(rows["slow"].status, FileStatus::Failed);
    assert_eq!(rows["ok"].status, FileStatus::Synced);
    let files = files_under(objects.path());
    assert_eq!(
        files.len(),
        1,
        "only ok's object, no partial write: {files:?}"
    );
}

/// The sync engine honours a server's absurd `Retry-After` only up to the cap: a download
/// answered 429 with `Retry-After: 18446744073709551615` (which overflowed, a panic) is retried
/// after `max_retry_after`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_absurd_retry_after_on_a_download_waits_only_the_cap() {
    let server = Server::start(|path, n| match (path, n) {
        ("/entries", _) => {
            Answer::Body(serde_json::json!([{"id": "f", "name": "f.txt", "size": 5}]).to_string())
        }
        ("/files/f", 0) => Answer::RateLimited("18446744073709551615"),
        ("/files/f", _) => Answer::Body("hello".into()),
        _ => Answer::Body(String::new()),
    })
    .await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let mut opts = options();
    opts.retry.max_retry_after = Duration::from_millis(300);
    let (engine, store, _db) = echo_engine(&server, blob, opts).await;
    let config = SyncConfig::new(user(), "test_http_echo", "retry after");
    store.put_config(&config).await.unwrap();

    let started = Instant::now();
    let report = tokio::time::timeout(Duration::from_secs(20), engine.run(&config))
        .await
        .expect("the wait is capped")
        .unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(server.times("/files/f"), 2);
    // It did wait (the cap), not just the 10 ms backoff.
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// A download answered `202 Accepted` ("not ready yet, come back later", as Box does) has no
/// file in its empty body: it is tried again, and the file stored is the one that came after
/// (taking the empty body for the file would fail it as shorter than listed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_answered_202_is_tried_again_not_stored_empty() {
    let server = Server::start(|path, n| match (path, n) {
        ("/entries", _) => {
            Answer::Body(serde_json::json!([{"id": "f", "name": "f.txt", "size": 5}]).to_string())
        }
        ("/files/f", 0) => Answer::NotReady,
        ("/files/f", _) => Answer::Body("hello".into()),
        _ => Answer::Body(String::new()),
    })
    .await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let (engine, store, _db) = echo_engine(&server, blob.clone(), options()).await;
    let config = SyncConfig::new(user(), "test_http_echo", "not ready");
    store.put_config(&config).await.unwrap();
    let report = engine.run(&config).await.unwrap();
    assert!(report.success, "{report:?}");
    assert_eq!(server.times("/files/f"), 2, "asked again after the 202");
    let row = rows(&store, &config).await.remove("f").unwrap();
    assert_eq!(row.local_size, Some(5), "{row:?}");
    assert_eq!(
        read_object(blob.as_ref(), &key(&config, &row)).await,
        b"hello"
    );
}

/// The transcription client takes `Retry-After: 1e30` (finite, but past any Duration; it
/// panicked in `Duration::from_secs_f64`) as "wait the longest allowed".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transcription_client_survives_an_absurd_retry_after() {
    use p8sync::ingest::audio::{RetryPolicy as TranscribeRetry, TranscriptionBackend};
    let server = Server::start(|_, n| match n {
        0 => Answer::RateLimited("1e30"),
        _ => Answer::Body(r#"{"text":" hello "}"#.into()),
    })
    .await;
    let backend = TranscriptionBackend::new(&server.base, None, "m").with_retry(TranscribeRetry {
        retries: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
    });
    let t = tokio::time::timeout(
        Duration::from_secs(10),
        backend.transcribe(b"RIFF....WAVE".to_vec(), "c.wav"),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(t.text, "hello");
    assert_eq!(server.asked.lock().unwrap().len(), 2);
}

/// `test_inline_files` over `files` (ids a..), with its change feed at `version`.
fn inline(config: &mut SyncConfig, files: &[(&str, u64)], removed: &[(&str, u64)], version: u64) {
    let files: Vec<_> = files
        .iter()
        .map(|(id, v)| serde_json::json!({"id": id, "name": format!("{id}.txt"), "content": format!("{id}{v}"), "v": v}))
        .collect();
    let removed: Vec<_> = removed
        .iter()
        .map(|(id, v)| serde_json::json!({"id": id, "v": v}))
        .collect();
    config.provider_config = serde_json::json!({
        "files": serde_json::Value::from(files).to_string(),
        "removed": serde_json::Value::from(removed).to_string(),
        "version": version.to_string(),
    });
    // The test provider takes its files from its settings; that is not a change of scope.
    config.cursor_scope = Some(p8sync::sync::plan::scope(config));
}

async fn stored_cursor(store: &Arc<dyn Store>, config: &SyncConfig) -> Option<String> {
    store
        .config(config.id)
        .await
        .unwrap()
        .unwrap()
        .change_cursor
}

/// A listing or a change feed past the run's caps fails that run with the setting named: no
/// file is marked deleted, the cursor does not move, and the next run within the caps works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_or_feed_past_the_caps_fails_the_run_and_changes_nothing() {
    let (store, _db) = sqlite_store().await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path()));
    let rt = Runtime::new(settings()).unwrap();
    let registry = Arc::new(Registry::from_providers([
        load_test(&rt, "inline-files").await
    ]));
    let engine = |limits: fn(&mut SyncOptions)| {
        let mut o = options();
        limits(&mut o);
        SyncEngine::new(store.clone(), blob.clone(), registry.clone(), o)
    };
    let mut config = SyncConfig::new(user(), "test_inline_files", "caps");
    let five = [("a", 1), ("b", 1), ("c", 1), ("d", 1), ("e", 1)];
    inline(&mut config, &five, &[], 1);
    store.put_config(&config).await.unwrap();

    // A full listing of five entries, with at most four allowed.
    let err = engine(|o| o.limits.listing.max_entries = 4)
        .run(&config)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Listing(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("holds more than 4 entries") && text.contains("P8_MAX_ENTRIES_PER_RUN"),
        "{text}"
    );
    assert!(rows(&store, &config).await.is_empty());
    assert_eq!(stored_cursor(&store, &config).await, None);
    let log = &store.logs(Some(config.id), 1).await.unwrap()[0];
    assert_eq!(log.status, LogStatus::Failed);
    assert!(
        log.error_message
            .as_deref()
            .unwrap()
            .contains("P8_MAX_ENTRIES_PER_RUN")
    );

    // Within the caps, the five are synced and the feed's cursor saved.
    let report = engine(|_| {}).run(&config).await.unwrap();
    assert_eq!(report.files_synced, 5, "{report:?}");
    assert_eq!(
        stored_cursor(&store, &config).await.as_deref(),
        Some("v1/0")
    );

    // The feed then reports five changes (three pages, two a page) and two removals.
    config.change_cursor = stored_cursor(&store, &config).await;
    let changed = [("a", 2), ("b", 2), ("c", 2), ("d", 2), ("e", 2)];
    inline(&mut config, &changed, &[("a", 2), ("b", 2)], 2);
    for (cap, setting, what) in [
        (
            (|o: &mut SyncOptions| o.limits.listing.max_pages = 2) as fn(&mut SyncOptions),
            "P8_MAX_PAGES_PER_RUN",
            "did not end within 2 pages",
        ),
        (
            |o: &mut SyncOptions| o.limits.listing.max_entries = 3,
            "P8_MAX_ENTRIES_PER_RUN",
            "holds more than 3 entries",
        ),
        (
            |o: &mut SyncOptions| o.limits.listing.max_bytes = 10,
            "P8_MAX_LISTING_MB",
            "more than 10 bytes of names, paths and metadata",
        ),
    ] {
        let err = engine(cap).run(&config).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the change feed") && text.contains(what) && text.contains(setting),
            "{text}"
        );
        // Nothing deleted, nothing re-synced, and the cursor where it was.
        let rows = rows(&store, &config).await;
        assert!(
            rows.values().all(|r| r.status == FileStatus::Synced),
            "{rows:?}"
        );
        assert_eq!(
            stored_cursor(&store, &config).await.as_deref(),
            Some("v1/0")
        );
    }

    let report = engine(|_| {}).run(&config).await.unwrap();
    assert_eq!(
        (report.files_synced, report.files_deleted),
        (3, 2),
        "{report:?}"
    );
    assert_eq!(
        stored_cursor(&store, &config).await.as_deref(),
        Some("v2/0")
    );
}

/// An exported Google Doc has no listed size, so `max_file_size` is enforced while it streams:
/// one over it is stopped and recorded as left out (skipped, with the reason), not failed, and
/// nothing of it is stored. Without `max_file_size`, `P8_MAX_EXPORT_BYTES` applies, and a doc
/// over it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_is_capped_while_it_streams() {
    let fake = FakeDrive::start().await;
    let mut config = SyncConfig::new(user(), "google_drive", "exports");
    config.max_file_size = Some(20);
    let h = Harness::start(Setup {
        component: "google-drive",
        settings: engine::runtime_settings("google_drive", fake.overrides()),
        keyring: Arc::new(Keyring::new(&[7; 32], &[])),
        config,
        options: engine::retrying_options(4),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    let root = fake.root_id();
    let small = fake.add_file(&[&root], "small.txt", "text/plain", b"tiny".to_vec());
    let doc = fake.add_workspace(
        &root,
        "Plan",
        "document",
        "a plan far longer than twenty bytes",
    );

    let report = h.sync().await;
    assert_eq!(
        (
            report.files_synced,
            report.files_failed,
            report.files_skipped
        ),
        (1, 0, 1),
        "{report:?}"
    );
    let rows = h.rows().await;
    h.assert_stored(&rows[&small], "small", b"tiny").await;
    assert_eq!(rows[&doc].status, FileStatus::Skipped);
    assert!(rows[&doc].s3_uri.is_none());
    let reason = rows[&doc].error_message.as_deref().unwrap();
    assert!(reason.contains("max_file_size of 20 bytes"), "{reason}");
    assert_eq!(h.objects().await, 1);

    // No max_file_size: the cap for sizes not listed applies, and the doc fails.
    let mut config = h.config().await;
    config.max_file_size = None;
    h.store.put_config(&config).await.unwrap();
    // From a full listing: the doc did not change, so the feed would not bring it back.
    h.store.set_cursor(config.id, None, None).await.unwrap();
    let mut opts = h.options.clone();
    opts.limits.max_unlisted_bytes = 20;
    let report = h.run(opts).await.unwrap();
    assert_eq!(report.files_failed, 1, "{report:?}");
    let failed = failure(&report, &doc);
    assert!(
        failed.error.contains("P8_MAX_EXPORT_BYTES") && !failed.retryable,
        "{}",
        failed.error
    );
    assert_eq!(h.rows().await[&doc].status, FileStatus::Failed);
    assert_eq!(h.objects().await, 1);
}
