//! `p8sync serve` as operators run it: three replicas on one Postgres, a real S3 server and the
//! fake Drive share 30 due configs. Each config is synced exactly once per due time and its
//! files ingested; a replica killed with SIGKILL mid-sync loses nothing (its configs complete
//! on the others once its leases run out, with no duplicate objects, rows or resources); the
//! health endpoints answer; SIGTERM stops the rest cleanly.

use p8sync::oauth::{Keyring, TokenManager};
use p8sync::store::ids::UserId;
use p8sync::store::postgres::PostgresStore;
use p8sync::store::{FileStatus, LogStatus, Store, SyncConfig};
use p8sync_e2e::fake_drive::{FakeDrive, Fault, Target};
use p8sync_e2e::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONFIGS: usize = 30;
const FILES_PER_CONFIG: usize = 2;
const REPLICAS: usize = 3;
const KEY: [u8; 32] = [9; 32];

/// Only what a `p8sync serve` of these tests needs in its environment: the database, a data
/// folder, the providers, the key and the fake's endpoints.
fn server_env<'c>(
    c: &'c mut tokio::process::Command,
    url: &str,
    data: &std::path::Path,
    fake: &FakeDrive,
) -> &'c mut tokio::process::Command {
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env("P8_ENCRYPTION_KEY", hex::encode(KEY))
        .envs(fake.env())
}

fn sigterm(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().unwrap().to_string();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_due_configs_survive_a_sigkill_and_stop_on_sigterm() {
    let (url, _name) = postgres_database().await;
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(pg);
    let s3 = s3_settings().await;
    let fake = FakeDrive::start().await;
    let user: UserId = "5c1b2f3e-0000-4000-8000-000000000001".parse().unwrap();

    // One Drive account, one folder per config.
    let tokens = TokenManager::new(store.clone(), Arc::new(Keyring::new(&KEY, &[])));
    tokens
        .save_grant(
            user,
            "google_drive",
            &fake.grant(),
            Some("user@example.com".into()),
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    for i in 0..CONFIGS {
        let folder = fake.add_folder(&fake.root_id(), &format!("Folder {i}"));
        for j in 0..FILES_PER_CONFIG {
            fake.add_file(
                &[&folder],
                &format!("note-{j}.md"),
                "text/markdown",
                format!("# Note {i}.{j}\n\nSomething to remember about folder {i}."),
            );
        }
        let mut c = SyncConfig::new(user, "google_drive", &format!("folder {i}"));
        c.include_folders = vec![format!("Folder {i}")];
        store.put_config(&c).await.unwrap();
    }
    // Slow downloads, so that a sync is under way long enough to be killed in the middle.
    fake.inject(
        Target::Media,
        Fault::Slow(Duration::from_millis(300)),
        1,
        None,
    );

    let data = tempfile::tempdir().unwrap();
    let (s3_access, s3_secret) = s3.credentials.clone().unwrap();
    let env = |c: &mut tokio::process::Command| {
        server_env(c, &url, data.path(), &fake)
            .env("S3_URL", s3.endpoint.clone().unwrap())
            .env("P8_S3_BUCKET", &s3.bucket)
            .env("S3_ACCESS_KEY", s3_access.expose())
            .env("S3_SECRET", s3_secret.expose())
            .env("P8_INGEST_LEASE_SECS", "5")
            .env("P8_LOG_FORMAT", "text");
    };
    // Compile the component once, before the replicas race to cache it.
    let mut warm = tokio::process::Command::new(p8sync_bin());
    env(&mut warm);
    assert!(warm.arg("providers").status().await.unwrap().success());

    let ports: Vec<u16> = (0..REPLICAS).map(|_| free_port()).collect();
    let mut replicas = Vec::new();
    for port in &ports {
        let mut c = tokio::process::Command::new(p8sync_bin());
        env(&mut c);
        c.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tick-secs",
            "1",
            "--lease-secs",
            "4",
            "--concurrency",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        replicas.push(c.spawn().unwrap());
    }

    // SIGKILL the first replica while it holds a config mid-sync.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let victim = replicas.remove(0);
    let victim_pid = victim.id().unwrap();
    let started = Instant::now();
    let held = loop {
        // Held, with its run started (and so, given the slow downloads, far from done).
        let held: Vec<String> = sqlx::query_scalar(
            r#"SELECT c.id::text FROM p8."SyncConfig" c WHERE c.lease_owner LIKE $1
                 AND EXISTS (SELECT 1 FROM p8."SyncLog" l
                             WHERE l.config_id = c.id AND l.status = 'syncing')"#,
        )
        .bind(format!("%/{victim_pid}/%"))
        .fetch_all(&pool)
        .await
        .unwrap();
        if !held.is_empty() {
            break held;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first replica never claimed a config"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    sigterm(&victim, "-KILL");
    let out = victim.wait_with_output().await.unwrap();
    assert!(!out.status.success(), "SIGKILL ends the process");

    // Every config synced and every file ingested, by the two that are left.
    let started = Instant::now();
    loop {
        let configs = store.configs(None).await.unwrap();
        let depth = store.queue_depth().await.unwrap();
        let synced = configs.iter().filter(|c| c.last_sync_at.is_some()).count();
        if synced == CONFIGS && depth.done == (CONFIGS * FILES_PER_CONFIG) as i64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "not done after 120 s: {depth:?}, {synced} of {CONFIGS} configs synced"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let http = reqwest::Client::new();
    for port in &ports[1..] {
        for path in ["healthz", "readyz"] {
            let r = http
                .get(format!("http://127.0.0.1:{port}/{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path} on {port}");
        }
    }

    // Exactly once per due time: one successful run each, none due again for a day. The
    // killed replica's runs were closed as cancelled by the replica that took over.
    let mut cancelled = 0;
    for c in store.configs(None).await.unwrap() {
        let logs = store.logs(Some(c.id), 10).await.unwrap();
        cancelled += logs
            .iter()
            .filter(|l| l.status == LogStatus::Cancelled)
            .count();
        let ok = logs
            .iter()
            .filter(|l| l.status == LogStatus::Success)
            .count();
        assert_eq!(ok, 1, "{}: {logs:?}", c.name);
        // Any other run is one the killed replica left, closed by the one that took over.
        for l in logs.iter().filter(|l| l.status != LogStatus::Success) {
            assert_eq!(l.status, LogStatus::Cancelled, "{}: {l:?}", c.name);
            assert!(
                l.error_message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("lease ran out"),
                "{l:?}"
            );
        }
        assert!(c.next_sync_at.unwrap() > chrono::Utc::now() + chrono::Duration::hours(23));
        let files = store.files(c.id).await.unwrap();
        assert_eq!(files.len(), FILES_PER_CONFIG, "{}", c.name);
        for f in files {
            assert_eq!(f.status, FileStatus::Synced);
            assert!(f.ingested, "{}: {:?}", f.remote_id, f.ingest_message);
        }
    }
    // No duplicate objects: one per file, and every row's object is among them.
    let client = s3_client(&s3).await;
    let mut keys = HashSet::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(&s3.bucket)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for o in page.unwrap().contents() {
            keys.insert(o.key().unwrap().to_string());
        }
    }
    assert_eq!(keys.len(), CONFIGS * FILES_PER_CONFIG, "{keys:?}");
    // No duplicate resources: each file's text became exactly one chunk.
    let per_file: Vec<(uuid::Uuid, i64)> = sqlx::query_as(
        r#"SELECT sync_file_id, count(*) FROM p8."Resources" GROUP BY sync_file_id"#,
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let per_file: HashMap<_, _> = per_file.into_iter().collect();
    assert_eq!(per_file.len(), CONFIGS * FILES_PER_CONFIG);
    assert!(per_file.values().all(|n| *n == 1), "{per_file:?}");

    // The takeover shows in the survivors' metrics.
    let mut takeovers = 0.0;
    for port in &ports[1..] {
        let text = http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        takeovers += text
            .lines()
            .filter(|l| l.starts_with("p8sync_lease_takeovers_total{kind=\"config\"}"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>();
    }
    assert!(
        cancelled >= 1,
        "the killed replica's run was never taken over: {held:?}"
    );
    assert!(
        takeovers >= cancelled as f64,
        "{takeovers} takeovers, {cancelled} runs taken over"
    );

    // SIGTERM: the others stop on their own, successfully.
    for r in &replicas {
        sigterm(r, "-TERM");
    }
    for r in replicas {
        let out = tokio::time::timeout(Duration::from_secs(40), r.wait_with_output())
            .await
            .expect("a replica did not stop within 40 s of SIGTERM")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("p8sync serve: stopped"), "{stderr}");
    }
}

/// A sync that outlasts the grace period after SIGTERM is stopped: the process still exits 0,
/// the run is closed as cancelled with the reason, the lease is released and the config stays
/// due, so the next start (or another replica) runs it again at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_past_the_grace_period_closes_the_run_and_releases_the_lease() {
    let (url, _name) = postgres_database().await;
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(pg);
    let fake = FakeDrive::start().await;
    let user: UserId = "5c1b2f3e-0000-4000-8000-000000000002".parse().unwrap();
    TokenManager::new(store.clone(), Arc::new(Keyring::new(&KEY, &[])))
        .save_grant(
            user,
            "google_drive",
            &fake.grant(),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    fake.add_file(&[&fake.root_id()], "slow.txt", "text/plain", "slow");
    let config = SyncConfig::new(user, "google_drive", "slow");
    store.put_config(&config).await.unwrap();
    // A download that takes far longer than the grace period.
    fake.inject(Target::Media, Fault::Slow(Duration::from_secs(60)), 1, None);

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut c = tokio::process::Command::new(p8sync_bin());
    server_env(&mut c, &url, data.path(), &fake)
        .env("P8_LOG_FORMAT", "text")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--tick-secs", "1", "--grace-secs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let serve = c.spawn().unwrap();

    let started = Instant::now();
    loop {
        let logs = store.logs(Some(config.id), 5).await.unwrap();
        if logs.iter().any(|l| l.status == LogStatus::Syncing) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the sync never started: {logs:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sigterm(&serve, "-TERM");
    let out = tokio::time::timeout(Duration::from_secs(30), serve.wait_with_output())
        .await
        .expect("serve did not stop after its grace period")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("grace period is over"), "{stderr}");

    let logs = store.logs(Some(config.id), 5).await.unwrap();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0].status, LogStatus::Cancelled, "{logs:?}");
    assert!(
        logs[0]
            .error_message
            .as_deref()
            .unwrap_or_default()
            .contains("grace period"),
        "{logs:?}"
    );
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let owner: Option<String> =
        sqlx::query_scalar(r#"SELECT lease_owner FROM p8."SyncConfig" WHERE id = $1"#)
            .bind(config.id.0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(owner, None, "the lease was kept");
    let after = store.config(config.id).await.unwrap().unwrap();
    assert!(
        after.next_sync_at.is_none_or(|t| t <= chrono::Utc::now()),
        "the config is no longer due: {after:?}"
    );
}

/// `p8sync sync --all-due` from cron next to `p8sync serve` on one Postgres, both started over
/// 20 due configs: each config runs exactly once, because both take the same leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_all_due_and_serve_run_each_config_once() {
    const DUE: usize = 20;
    let (url, _name) = postgres_database().await;
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(pg);
    let user: UserId = "5c1b2f3e-0000-4000-8000-000000000002".parse().unwrap();
    let roots = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for i in 0..DUE {
        let root = roots.path().join(format!("r{i}"));
        std::fs::create_dir(&root).unwrap();
        for j in 0..3 {
            std::fs::write(root.join(format!("f{j}.txt")), format!("{i}.{j}")).unwrap();
        }
        let mut c = SyncConfig::new(user, "local", &format!("due {i}"));
        c.provider_config = serde_json::json!({"root": root});
        store.put_config(&c).await.unwrap();
        ids.push(c.id);
    }
    let data = tempfile::tempdir().unwrap();
    let env = |c: &mut tokio::process::Command| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("P8_DATA_DIR", data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .env("P8_ENCRYPTION_KEY", hex::encode(KEY));
    };
    let mut warm = tokio::process::Command::new(p8sync_bin());
    env(&mut warm);
    assert!(warm.arg("providers").status().await.unwrap().success());

    let mut serve = tokio::process::Command::new(p8sync_bin());
    env(&mut serve);
    let port = free_port();
    let mut serve = serve
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tick-secs",
            "1",
            "--concurrency",
            "2",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut cron = tokio::process::Command::new(p8sync_bin());
    env(&mut cron);
    let cron = cron
        .args(["sync", "--all-due", "--no-ingest", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        cron.status.success(),
        "{}",
        String::from_utf8_lossy(&cron.stderr)
    );

    // Wait for every config to have run once, then a little longer for any second run.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let runs = || async {
        let rows: Vec<(uuid::Uuid, i64)> =
            sqlx::query_as(r#"SELECT config_id, count(*) FROM p8."SyncLog" GROUP BY config_id"#)
                .fetch_all(&pool)
                .await
                .unwrap();
        rows.into_iter().collect::<HashMap<_, _>>()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while runs().await.len() < DUE {
        assert!(
            Instant::now() < deadline,
            "not every config ran: {:?}",
            runs().await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    sigterm(&serve, "-TERM");
    serve.wait().await.unwrap();
    let runs = runs().await;
    for id in &ids {
        assert_eq!(
            runs.get(&id.0),
            Some(&1),
            "config {id} ran {:?} times",
            runs.get(&id.0)
        );
    }
}
