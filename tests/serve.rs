//! `p8sync serve` as operators run it: two replicas on one Postgres share the due configs, each
//! config is synced exactly once per due time and its files ingested, the health endpoints
//! answer, and SIGTERM stops both cleanly.

use p8sync::store::Store;
use p8sync::store::ingest::IngestStore;
use p8sync::store::postgres::PostgresStore;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync_e2e::*;
use std::time::{Duration, Instant};

const CONFIGS: usize = 12;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_due_configs_and_stop_on_sigterm() {
    let (url, _name) = postgres_database().await;
    let store = PostgresStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut folders = Vec::new();
    let user = "5c1b2f3e-0000-4000-8000-000000000001".parse().unwrap();
    for i in 0..CONFIGS {
        let tree = make_tree(&[
            (
                &format!("notes-{i}.md"),
                &format!("# Notes {i}\n\nSomething to remember."),
            ),
            ("todo.txt", "water the plants"),
        ]);
        let mut c = SyncConfig::new(user, "local", &format!("folder {i}"));
        c.provider_config = serde_json::json!({ "root": tree.path() });
        store.put_config(&c).await.unwrap();
        folders.push(tree);
    }
    let env = |c: &mut tokio::process::Command| {
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("P8_DATA_DIR", data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .env("P8_INGEST_LEASE_SECS", "10");
    };
    // Compile the component once, before the replicas race to cache it.
    let mut warm = tokio::process::Command::new(p8sync_bin());
    env(&mut warm);
    assert!(warm.arg("providers").status().await.unwrap().success());

    let ports = [free_port(), free_port()];
    let mut replicas = Vec::new();
    for port in ports {
        let mut c = tokio::process::Command::new(p8sync_bin());
        env(&mut c);
        c.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tick-secs",
            "1",
            "--lease-secs",
            "10",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
        replicas.push(c.spawn().unwrap());
    }

    // Every config synced and every file ingested.
    let started = Instant::now();
    loop {
        let configs = store.configs(None).await.unwrap();
        let depth = store.queue_depth().await.unwrap();
        if configs.iter().all(|c| c.last_sync_at.is_some()) && depth.done == 2 * CONFIGS as i64 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "not done after 90 s: {depth:?}, {} of {CONFIGS} configs synced",
            configs.iter().filter(|c| c.last_sync_at.is_some()).count()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    let http = reqwest::Client::new();
    for port in ports {
        for path in ["healthz", "readyz"] {
            let r = http
                .get(format!("http://127.0.0.1:{port}/{path}"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path} on {port}");
        }
    }

    // Exactly once per due time: one run each, and none due again for a day.
    for c in store.configs(None).await.unwrap() {
        let logs = store.logs(Some(c.id), 10).await.unwrap();
        assert_eq!(logs.len(), 1, "{}: {logs:?}", c.name);
        assert!(c.next_sync_at.unwrap() > chrono::Utc::now() + chrono::Duration::hours(23));
        for f in store.files(c.id).await.unwrap() {
            assert_eq!(f.status, FileStatus::Synced);
            assert!(f.ingested, "{}: {:?}", f.remote_id, f.ingest_message);
        }
    }

    // SIGTERM: both stop on their own, successfully.
    for r in &replicas {
        let pid = r.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    }
    for r in replicas {
        let out = tokio::time::timeout(Duration::from_secs(30), r.wait_with_output())
            .await
            .expect("a replica did not stop within 30 s of SIGTERM")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("p8sync serve: stopped"), "{stderr}");
    }
}
