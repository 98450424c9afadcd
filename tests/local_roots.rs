//! Per-tenant local roots, through a real `p8sync serve` with `P8_LOCAL_ROOTS=<tmp>`: each API
//! user may sync folders only inside `<tmp>/<their user id>`. Saving a config outside them fails
//! with one message whether the folder exists or not; a saved config whose folder is swapped for
//! a symlink into another user's folder is refused when it runs, and nothing of that folder is
//! stored; the ordinary case syncs, and the other user's runs carry on.

use p8sync::store::Store;
use p8sync::store::access::ApiKeyRecord;
use p8sync::store::ids::UserId;
use p8sync::store::postgres::PostgresStore;
use p8sync_e2e::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One API user: the id, the key, and the folder `P8_LOCAL_ROOTS` gives them.
struct Tenant {
    user: UserId,
    key: String,
    root: PathBuf,
}

async fn tenant(store: &dyn Store, name: &str, roots: &Path) -> Tenant {
    let user = UserId(uuid::Uuid::new_v4());
    let (key, record) = ApiKeyRecord::mint(user, name, false);
    store.put_api_key(&record).await.unwrap();
    let root = roots.join(user.to_string());
    std::fs::create_dir(&root).unwrap();
    Tenant {
        user,
        key: key.expose().to_string(),
        root,
    }
}

struct Server {
    base: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

impl Server {
    /// `POST /sync/configs` of a local config on `root`: the status and the body.
    async fn create(&self, t: &Tenant, name: &str, root: &Path) -> (StatusCode, Value) {
        let r = self
            .http
            .post(format!("{}/sync/configs", self.base))
            .bearer_auth(&t.key)
            .json(&json!({"name": name, "provider": "local", "provider_config": {"root": root}}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// The error message of a refused create (asserting it was refused as invalid).
    async fn refused(&self, t: &Tenant, root: &Path) -> String {
        let (status, body) = self.create(t, "refused", root).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            root.display()
        );
        body["error"]["message"].as_str().unwrap().to_string()
    }

    async fn get(&self, t: &Tenant, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        r.json().await.unwrap()
    }

    /// Queue a run through the API and wait for it to end; its log.
    async fn run(&self, t: &Tenant, config: &str) -> Value {
        let r = self
            .http
            .post(format!("{}/sync/configs/{config}/run", self.base))
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        let queued: Value = r.json().await.unwrap();
        let log = queued["log_id"].as_str().unwrap();
        let started = Instant::now();
        loop {
            let l = self.get(t, &format!("/sync/logs/{log}")).await;
            if !matches!(l["status"].as_str(), Some("pending" | "syncing")) {
                return l;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the run never ended: {l}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The names of the files recorded for `config`.
    async fn files(&self, t: &Tenant, config: &str) -> Vec<String> {
        let page = self
            .get(t, &format!("/sync/files?config_id={config}"))
            .await;
        let mut names: Vec<String> = page["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["remote_path"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    }
}

async fn serve(url: &str, data: &Path, roots: &Path) -> Server {
    let port = free_port();
    let mut c = serve_command(url, data, port);
    c.env("P8_ENCRYPTION_KEY", hex::encode([3u8; 32]))
        .env("P8_LOCAL_ROOTS", roots);
    let child = c.spawn().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let started = Instant::now();
    while http.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "p8sync serve did not start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Server {
        base,
        http,
        _child: child,
    }
}

/// Every file under `dir`, read whole.
fn contents(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                todo.push(e.path());
            } else if kind.is_file() {
                out.push((e.path(), std::fs::read(e.path()).unwrap_or_default()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_sync_only_inside_their_own_roots_checked_again_at_each_run() {
    let (url, _name) = postgres_database().await;
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let roots = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let alice = tenant(&pg, "alice", roots.path()).await;
    let bob = tenant(&pg, "bob", roots.path()).await;
    let secret = format!("bob's secret {}", uuid::Uuid::new_v4());
    std::fs::write(bob.root.join("secret.txt"), &secret).unwrap();
    let docs = alice.root.join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("a.txt"), "alpha").unwrap();
    std::fs::create_dir(docs.join("sub")).unwrap();
    std::fs::write(docs.join("sub/b.txt"), "bravo").unwrap();
    std::os::unix::fs::symlink(&bob.root, alice.root.join("to-bob")).unwrap();
    std::os::unix::fs::symlink(format!("../{}", bob.user), alice.root.join("up-to-bob")).unwrap();
    let s = serve(&url, data.path(), roots.path()).await;

    // Outside her roots, by every route, and a folder that does not exist: one message.
    let missing = s.refused(&alice, &alice.root.join("no-such-folder")).await;
    for root in [
        bob.root.clone(),
        alice.root.join(format!("../{}", bob.user)),
        alice.root.join("docs/../../").join(bob.user.to_string()),
        alice.root.join("to-bob"),
        alice.root.join("up-to-bob"),
        roots.path().to_path_buf(),
        PathBuf::from("/etc"),
        PathBuf::from("/no/such/folder"),
        docs.join("a.txt"),
        PathBuf::from(format!("{}/docs", alice.user)),
    ] {
        let said = s.refused(&alice, &root).await;
        assert_eq!(said, missing, "{}", root.display());
    }
    assert!(missing.contains("provider_config.root"), "{missing}");
    assert!(missing.contains("P8_LOCAL_ROOTS"), "{missing}");
    assert!(
        missing.contains(&alice.root.display().to_string()),
        "{missing}"
    );
    assert!(!missing.contains(&bob.user.to_string()), "{missing}");
    // Bob is held to his own the same way.
    let bobs_missing = s.refused(&bob, &bob.root.join("no-such-folder")).await;
    assert_eq!(s.refused(&bob, &docs).await, bobs_missing);
    assert!(!bobs_missing.contains(&alice.user.to_string()));

    // The ordinary case: a folder inside her root syncs.
    let (status, body) = s.create(&alice, "docs", &docs).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let hers = body["id"].as_str().unwrap().to_string();
    let log = s.run(&alice, &hers).await;
    assert_eq!(log["status"], "success", "{log}");
    assert_eq!(s.files(&alice, &hers).await, ["a.txt", "sub/b.txt"]);

    // Her folder is swapped for a link to Bob's after it was saved: the run is refused with
    // the same message, and nothing of Bob's is recorded or stored.
    std::fs::rename(&docs, alice.root.join("old-docs")).unwrap();
    std::os::unix::fs::symlink(&bob.root, &docs).unwrap();
    let log = s.run(&alice, &hers).await;
    assert_eq!(log["status"], "failed", "{log}");
    let error = log["error_message"].as_str().unwrap();
    assert!(error.ends_with(&missing), "{error}\nvs {missing}");
    // A relative link that climbs out is refused too.
    std::fs::remove_file(&docs).unwrap();
    std::os::unix::fs::symlink(format!("../{}", bob.user), &docs).unwrap();
    let log = s.run(&alice, &hers).await;
    assert_eq!(log["status"], "failed", "{log}");
    assert_eq!(s.files(&alice, &hers).await, ["a.txt", "sub/b.txt"]);
    for (path, bytes) in contents(data.path()) {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds Bob's file",
            path.display()
        );
    }

    // Bob's own config runs while hers fails.
    let (status, body) = s.create(&bob, "mine", &bob.root).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let his = body["id"].as_str().unwrap().to_string();
    let log = s.run(&bob, &his).await;
    assert_eq!(log["status"], "success", "{log}");
    assert_eq!(s.files(&bob, &his).await, ["secret.txt"]);
}
