//! The HTTP API of `p8sync serve`, in process against a real Postgres, the real provider
//! components and the fake Drive: configs, runs, files, credentials, the browser login (over
//! plain HTTP and in a real headless Chromium), API keys and tenant isolation.

use p8sync::api::{ApiSettings, AppState};
use p8sync::blob::BlobStore;
use p8sync::blob::local::LocalBlobStore;
use p8sync::oauth::{Keyring, TokenManager};
use p8sync::runtime::{Registry, Runtime};
use p8sync::store::access::{ApiKeyRecord, LoginStateRecord, hash_key};
use p8sync::store::ids::{ConfigId, CredentialId, LogId, UserId};
use p8sync::store::{LogStatus, Store, SyncConfig};
use p8sync::sync::validate::LocalRoots;
use p8sync::sync::{SyncEngine, SyncOptions};
use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::Arc;

/// An API key and the user it acts as.
#[derive(Clone)]
struct Key {
    user: UserId,
    key: String,
}

/// One API server with its world: three callers (two users and an admin), an allowed local
/// folder and one outside it.
struct Api {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn Store>,
    blob: Arc<dyn BlobStore>,
    registry: Arc<Registry>,
    tokens: Arc<TokenManager>,
    fake: FakeDrive,
    alice: Key,
    bob: Key,
    admin: Key,
    allowed: tempfile::TempDir,
    outside: tempfile::TempDir,
    _keep: Vec<Box<dyn std::any::Any + Send>>,
}

/// The app host a login may send the browser back to.
const APP_HOST: &str = "app.example.test";

async fn key(store: &dyn Store, name: &str, admin: bool) -> Key {
    let user = UserId(uuid::Uuid::new_v4());
    let (key, record) = ApiKeyRecord::mint(user, name, admin);
    store.put_api_key(&record).await.unwrap();
    Key {
        user,
        key: key.expose().to_string(),
    }
}

async fn api() -> Api {
    let fake = FakeDrive::start().await;
    let (store, db) = postgres_store().await;
    let objects = tempfile::tempdir().unwrap();
    let blob: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::new(objects.path().to_path_buf()));
    let mut settings = settings();
    settings.limits.call_timeout = std::time::Duration::from_secs(30);
    settings.overrides.set("google_drive", fake.overrides());
    let runtime = Runtime::new(settings).unwrap();
    let drive = runtime
        .load_file(&provider_wasm("google-drive"))
        .await
        .expect("google-drive.wasm (scripts/build-components.sh builds it)");
    let webdav = runtime.load_file(&provider_wasm("webdav")).await.unwrap();
    let registry = Arc::new(Registry::from_providers([
        load_local(&runtime).await,
        drive,
        webdav,
    ]));
    let tokens = Arc::new(TokenManager::new(
        store.clone(),
        Arc::new(Keyring::new(&[7; 32], &[])),
    ));
    let allowed = make_tree(&[
        ("a.txt", "alpha"),
        ("b.txt", "bravo"),
        ("c.txt", "charlie"),
        ("d/e.txt", "echo"),
        ("d/f.txt", "foxtrot"),
    ]);
    let outside = make_tree(&[("secret.txt", "the server's own file")]);
    let alice = key(store.as_ref(), "alice", false).await;
    let bob = key(store.as_ref(), "bob", false).await;
    let admin = key(store.as_ref(), "ops", true).await;
    // Both users may sync the allowed folder (each user's own roots: tests/local_roots.rs).
    let local_roots = LocalRoots::parse(&format!(
        "{}={path},{}={path}",
        alice.user,
        bob.user,
        path = allowed.path().display()
    ))
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let state = AppState {
        store: store.clone(),
        blob: blob.clone(),
        registry: registry.clone(),
        tokens: Some(tokens.clone()),
        settings: Arc::new(ApiSettings {
            public_url: base.clone(),
            redirect_hosts: vec![APP_HOST.into()],
            local_roots,
            body_limit: 64 * 1024,
        }),
    };
    let server = tokio::spawn(async move {
        axum::serve(listener, p8sync::api::router(state))
            .await
            .unwrap()
    });
    Api {
        base,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        store,
        blob,
        registry,
        tokens,
        fake,
        alice,
        bob,
        admin,
        allowed,
        outside,
        _keep: vec![
            Box::new(db),
            Box::new(objects),
            Box::new(AbortOnDrop(server)),
        ],
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response: status, headers and the body as JSON (`Null` when it is not JSON).
struct Reply {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&Key>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = key {
            request = request.bearer_auth(&k.key);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        reply(request.send().await.unwrap()).await
    }

    async fn get(&self, path: &str, key: &Key) -> Reply {
        self.send(Method::GET, path, Some(key), None).await
    }

    /// `DELETE path` as `key`.
    async fn delete(&self, path: &str, key: &Key) -> Reply {
        self.send(Method::DELETE, path, Some(key), None).await
    }

    /// `POST /sync/configs/{id}/run` as `key`.
    async fn run_now(&self, id: ConfigId, key: &Key) -> Reply {
        let path = format!("/sync/configs/{id}/run");
        self.send(Method::POST, &path, Some(key), None).await
    }

    fn local_config(&self, name: &str) -> Value {
        json!({
            "name": name,
            "provider": "local",
            "provider_config": {"root": self.allowed.path()},
        })
    }

    async fn create(&self, key: &Key, body: Value) -> ConfigId {
        let r = self
            .send(Method::POST, "/sync/configs", Some(key), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body["id"].as_str().unwrap().parse().unwrap()
    }

    fn engine(&self) -> SyncEngine {
        SyncEngine::new(
            self.store.clone(),
            self.blob.clone(),
            self.registry.clone(),
            SyncOptions::default(),
        )
        .with_tokens(self.tokens.clone())
    }

    async fn credential_for(&self, user: UserId) {
        self.tokens
            .save_grant(
                user,
                "google_drive",
                &self.fake.grant(),
                Some("alice@example.com".into()),
                &p8sync::oauth::AccountChoice::default(),
            )
            .await
            .unwrap();
    }
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// One string field of every object in a JSON list.
fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap())
        .collect()
}

/// Every error has the documented shape, with a code that matches its status.
fn assert_error(r: &Reply, status: StatusCode, code: &str, mentions: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.body["error"]["code"], code, "{}", r.text);
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.to_lowercase().contains(&mentions.to_lowercase()),
        "expected {mentions:?} in {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configs_are_validated_before_they_are_stored() {
    let a = api().await;
    let id = a.create(&a.alice, a.local_config("docs")).await;
    let r = a.get(&format!("/sync/configs/{id}"), &a.alice).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["userid"], a.alice.user.to_string());
    assert_eq!(r.body["sync_interval_hours"], 24);

    // The same name and provider again: a conflict, not a silent overwrite.
    let r = a
        .send(
            Method::POST,
            "/sync/configs",
            Some(&a.alice),
            Some(a.local_config("docs")),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "conflict", "exists already");

    // Malformed JSON, the wrong content type, an oversized body.
    let raw = |body: &'static str, content_type: &'static str| {
        a.http
            .post(format!("{}/sync/configs", a.base))
            .bearer_auth(&a.alice.key)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = reply(raw("{\"name\": ", "application/json").await.unwrap()).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request", "not valid JSON");
    let r = reply(
        raw("name=x", "application/x-www-form-urlencoded")
            .await
            .unwrap(),
    )
    .await;
    assert_error(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "application/json",
    );
    let big = json!({"name": "x".repeat(100 * 1024), "provider": "local"});
    let r = a
        .send(Method::POST, "/sync/configs", Some(&a.alice), Some(big))
        .await;
    assert_error(
        &r,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "larger",
    );

    // Well-formed but wrong: each names the field and what would be right.
    let cases = [
        (json!({"name": "x", "provider": "dropbax"}), "dropbax"),
        (
            json!({"name": "x", "provider": "local", "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"name": "x", "provider": "local", "sync_interval_hours": -1, "provider_config": {"root": a.allowed.path()}}),
            "sync_interval_hours",
        ),
        (
            json!({"name": "x", "provider": "local", "schedule": "every tuesday", "provider_config": {"root": a.allowed.path()}}),
            "schedule",
        ),
        (
            json!({"name": "x", "provider": "local", "schedule": "0 1 * * *", "schedule_timezone": "Mars/Olympus", "provider_config": {"root": a.allowed.path()}}),
            "schedule_timezone",
        ),
        (
            json!({"name": "x", "provider": "local", "include_file_types": ["pdf/../x"], "provider_config": {"root": a.allowed.path()}}),
            "include_file_types",
        ),
        (
            json!({"name": "x", "provider": "local"}),
            "provider_config.root",
        ),
        (
            json!({"name": "x", "provider": "local", "provider_config": {"root": a.outside.path()}}),
            "inside your local roots",
        ),
        (
            json!({"name": "x", "provider": "local", "provider_config": {"root": "/nonexistent/p8sync"}}),
            "inside your local roots",
        ),
        (
            json!({"name": "x", "provider": "google_drive", "provider_config": {"export_formatz": {}}}),
            "provider_config.export_formatz",
        ),
        (
            json!({"name": "", "provider": "local", "provider_config": {"root": a.allowed.path()}}),
            "name",
        ),
        (
            json!({"name": "x", "provider": "local", "provider_config": ["root"]}),
            "provider_config",
        ),
    ];
    for (body, mentions) in cases {
        let r = a
            .send(
                Method::POST,
                "/sync/configs",
                Some(&a.alice),
                Some(body.clone()),
            )
            .await;
        assert!(
            r.status == StatusCode::UNPROCESSABLE_ENTITY,
            "{body} gave {}: {}",
            r.status,
            r.text
        );
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", mentions);
    }
    // Nothing of that was stored.
    assert_eq!(a.store.configs(Some(a.alice.user)).await.unwrap().len(), 1);

    // `google` is the seed's name for Google Drive; a cron schedule replaces the interval.
    let r = a
        .send(
            Method::POST,
            "/sync/configs",
            Some(&a.alice),
            Some(json!({
                "name": "drive", "provider": "google", "schedule": "0 1 * * *",
                "schedule_timezone": "Europe/Berlin", "provider_config": {"export_formats": {}},
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["provider"], "google_drive");
    let location = r.headers["location"].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/sync/configs/{}", r.body["id"].as_str().unwrap())
    );

    // PATCH changes only what it names; null clears; the id-making fields can't change.
    let r = a
        .send(Method::PATCH, &location, Some(&a.alice), Some(json!({"schedule": null, "schedule_timezone": null, "sync_interval_hours": 6, "enabled": false})))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["schedule"], Value::Null);
    assert_eq!(r.body["sync_interval_hours"], 6);
    assert_eq!(r.body["enabled"], false);
    assert_eq!(r.body["provider_config"], json!({"export_formats": {}}));
    let r = a
        .send(
            Method::PATCH,
            &location,
            Some(&a.alice),
            Some(json!({"name": "renamed"})),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "unknown field `name`",
    );
    let r = a
        .send(
            Method::PATCH,
            &location,
            Some(&a.alice),
            Some(json!({"sync_interval_hours": 0})),
        )
        .await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "sync_interval_hours",
    );

    let r = a.get("/sync/configs", &a.alice).await;
    let names = strings(&r.body, "name");
    assert_eq!(names, ["docs", "drive"]);

    let r = a.delete(&location, &a.alice).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = a.get(&location, &a.alice).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "sync config");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_required_and_errors_have_one_shape() {
    let a = api().await;
    let r = a.send(Method::GET, "/sync/configs", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized", "Bearer");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    let wrong = Key {
        user: a.alice.user,
        key: "p8s_not-a-key".into(),
    };
    let r = a.get("/sync/configs", &wrong).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized", "not valid");
    // A deleted key stops working at once.
    let gone = key(a.store.as_ref(), "temp", false).await;
    assert_eq!(a.get("/sync/configs", &gone).await.status, StatusCode::OK);
    let id = a.store.api_keys(Some(gone.user)).await.unwrap()[0].id;
    assert!(a.store.delete_api_key(id).await.unwrap());
    assert_eq!(
        a.get("/sync/configs", &gone).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Only the hash is stored.
    let stored = a.store.api_keys(Some(a.alice.user)).await.unwrap();
    assert_eq!(stored[0].key_hash, hash_key(&a.alice.key));
    assert!(!stored[0].key_hash.contains(&a.alice.key));

    let r = a
        .send(Method::GET, "/no/such/thing", Some(&a.alice), None)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "endpoint");
    let r = a
        .send(Method::PUT, "/sync/configs", Some(&a.alice), None)
        .await;
    assert_error(
        &r,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "method",
    );
    let r = a.get("/sync/files?limit=0", &a.alice).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request", "limit");
    let r = a.get("/sync/files?status=lost", &a.alice).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request", "synced");
    let r = a.get("/sync/files?colour=red", &a.alice).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "bad_request", "colour");

    // Operations endpoints need no key.
    assert_eq!(
        a.send(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    let r = a.send(Method::GET, "/readyz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Metrics, with the shared queues read at scrape time.
    let r = a.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        r.text
            .contains("p8sync_queue_depth{queue=\"sync\",state=\"due\"} 0"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("# TYPE p8sync_queue_depth gauge"),
        "{}",
        r.text
    );
    let doc = a.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    for (path, method) in [
        ("/sync/configs", "post"),
        ("/sync/configs/{id}", "patch"),
        ("/sync/configs/{id}/run", "post"),
        ("/sync/logs/{id}", "get"),
        ("/sync/files", "get"),
        ("/providers", "get"),
        ("/auth/credentials", "get"),
        ("/auth/credentials/{provider}", "delete"),
        ("/auth/{provider}/login", "get"),
        ("/auth/{provider}/callback", "get"),
    ] {
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path} is not documented"
        );
    }
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    assert!(
        doc.body["components"]["schemas"]["BindingCookie"].is_object(),
        "the login's binding cookie is documented for apps"
    );
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());

    let r = a.get("/providers", &a.alice).await;
    let ids = strings(&r.body, "id");
    assert_eq!(ids, ["google_drive", "local", "webdav"]);
    assert_eq!(r.body[0]["auth"], "oauth2");
    assert_eq!(r.body[0]["login_path"], "/auth/google_drive/login");
    assert_eq!(r.body[2]["auth"], "basic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_users_data_is_not_found_and_admins_see_everything() {
    let a = api().await;
    let config = a.create(&a.alice, a.local_config("alice's docs")).await;
    let report = a
        .engine()
        .run(&a.store.config(config).await.unwrap().unwrap())
        .await
        .unwrap();
    let log = report.log_id.unwrap();
    a.credential_for(a.alice.user).await;
    let file = a.store.files(config).await.unwrap()[0].id;
    let b = &a.bob;

    // Each endpoint, with Bob's key on Alice's things: 404, and nothing of hers in the body.
    let probes = [
        (Method::GET, format!("/sync/configs/{config}"), None),
        (
            Method::PATCH,
            format!("/sync/configs/{config}"),
            Some(json!({"enabled": false})),
        ),
        (Method::DELETE, format!("/sync/configs/{config}"), None),
        (Method::POST, format!("/sync/configs/{config}/run"), None),
        (Method::GET, format!("/sync/logs/{log}"), None),
        (Method::GET, format!("/sync/logs?config_id={config}"), None),
        (Method::GET, format!("/sync/files?config_id={config}"), None),
        (
            Method::DELETE,
            "/auth/credentials/google_drive".to_string(),
            None,
        ),
    ];
    for (method, path, body) in probes {
        let r = a.send(method.clone(), &path, Some(b), body).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {path}: {}",
            r.text
        );
        assert_eq!(r.body["error"]["code"], "not_found");
        assert!(
            !r.text.contains("alice"),
            "{method} {path} leaked: {}",
            r.text
        );
        assert!(
            !r.text.contains(&a.alice.user.to_string()),
            "{method} {path} leaked: {}",
            r.text
        );
    }
    // Her things are untouched.
    let c = a.store.config(config).await.unwrap().unwrap();
    assert!(c.enabled);
    assert!(
        a.store
            .credential(CredentialId::derive(a.alice.user, "google_drive"))
            .await
            .unwrap()
            .is_some()
    );
    // Bob's listings hold nothing of hers, and asking for her by id is refused.
    for path in ["/sync/configs", "/sync/logs", "/auth/credentials"] {
        let r = a.get(path, b).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, json!([]), "{path}");
    }
    let r = a.get("/sync/files", b).await;
    assert_eq!(r.body["files"], json!([]));
    let r = a
        .get(&format!("/sync/configs?user={}", a.alice.user), b)
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden", "admin");
    let r = a
        .send(Method::POST, "/sync/configs", Some(b), Some(json!({"name": "x", "provider": "local", "userid": a.alice.user, "provider_config": {"root": a.allowed.path()}})))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden", "admin");
    let r = a.get(&format!("/sync/files?after={file}"), b).await;
    assert_eq!(r.body["files"], json!([]));

    // Alice sees her own; the admin sees everyone's, or one user's.
    assert_eq!(
        a.get(&format!("/sync/logs/{log}"), &a.alice).await.status,
        StatusCode::OK
    );
    let r = a.get("/auth/credentials", &a.alice).await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["account"], "alice@example.com");
    assert!(r.body[0].get("access_token").is_none());
    let bobs = a.create(b, a.local_config("bob's docs")).await;
    let r = a.get("/sync/configs", &a.admin).await;
    assert_eq!(r.body.as_array().unwrap().len(), 2);
    let r = a
        .get(&format!("/sync/configs?user={}", b.user), &a.admin)
        .await;
    assert_eq!(r.body[0]["id"], bobs.to_string());
    assert_eq!(
        a.get(&format!("/sync/configs/{config}"), &a.admin)
            .await
            .status,
        StatusCode::OK
    );
    let r = a
        .get(&format!("/sync/files?config_id={config}"), &a.admin)
        .await;
    assert_eq!(r.body["files"].as_array().unwrap().len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_run_is_the_run_that_happens_and_files_page_by_id() {
    let a = api().await;
    let id = a.create(&a.alice, a.local_config("docs")).await;
    let r = a.run_now(id, &a.alice).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let queued: LogId = r.body["log_id"].as_str().unwrap().parse().unwrap();
    // Asking twice before it starts queues one run, not two.
    let again = a.run_now(id, &a.alice).await;
    assert_eq!(again.body["log_id"], r.body["log_id"]);
    let r = a.get(&format!("/sync/logs/{queued}"), &a.alice).await;
    assert_eq!(r.body["status"], "pending");
    // It is due now, whatever the schedule says.
    let config = a.store.config(id).await.unwrap().unwrap();
    assert!(config.next_sync_at.unwrap() <= chrono::Utc::now());

    // A replica's next sync of the config is that run.
    let report = a.engine().run(&config).await.unwrap();
    assert_eq!(report.log_id, Some(queued));
    let r = a.get(&format!("/sync/logs/{queued}"), &a.alice).await;
    assert_eq!(r.body["status"], "success", "{}", r.text);
    assert_eq!(r.body["files_synced"], 5);
    let r = a
        .get(
            &format!("/sync/logs?config_id={id}&status=success"),
            &a.alice,
        )
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    // After it, the schedule decides again.
    let config = a.store.config(id).await.unwrap().unwrap();
    assert!(config.next_sync_at.unwrap() > chrono::Utc::now() + chrono::Duration::hours(23));

    // Pages of two, following `next`, give every file once.
    let mut seen = Vec::new();
    let mut path = format!("/sync/files?config_id={id}&limit=2");
    loop {
        let r = a.get(&path, &a.alice).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for f in r.body["files"].as_array().unwrap() {
            seen.push(f["remote_path"].as_str().unwrap().to_string());
        }
        match r.body["next"].as_str() {
            Some(next) => path = format!("/sync/files?config_id={id}&limit=2&after={next}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a.txt", "b.txt", "c.txt", "d/e.txt", "d/f.txt"]);

    // One file with what ingestion made of it: its text, for its owner and an admin only.
    let scratch = tempfile::tempdir().unwrap();
    let ingestor = p8sync::ingest::Ingestor::new(
        a.store.clone(),
        a.blob.clone(),
        p8sync::ingest::IngestOptions {
            scratch_dir: Some(scratch.path().to_path_buf()),
            ..Default::default()
        },
    );
    ingestor.drain().await.unwrap();
    let r = a
        .get(&format!("/sync/files?config_id={id}&limit=1000"), &a.alice)
        .await;
    let echo = r.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["remote_path"] == "d/e.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/sync/files/{echo}");
    let r = a.get(&path, &a.alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["file"]["remote_path"], "d/e.txt");
    assert_eq!(r.body["resources"][0]["content"], "echo", "{}", r.text);
    assert_eq!(r.body["audio"], Value::Null);
    assert_eq!(a.get(&path, &a.admin).await.status, StatusCode::OK);
    let r = a.get(&path, &a.bob).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "synced file");
    let r = a
        .get(&format!("/sync/files/{}", uuid::Uuid::new_v4()), &a.alice)
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "synced file");

    // The config's ingestion jobs, and queueing them again; the whole queue is an admin's.
    let jobs = format!("/sync/configs/{id}/ingest");
    let r = a.get(&jobs, &a.alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let statuses: Vec<&str> = r.body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["done"; 5], "{}", r.text);
    assert_error(
        &a.get(&jobs, &a.bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
        "sync config",
    );
    let retry = |all: bool| format!("/sync/configs/{id}/ingest/retry?all={all}");
    let r = a
        .send(Method::POST, &retry(false), Some(&a.alice), None)
        .await;
    assert_eq!(
        (r.status, r.body["queued"].clone()),
        (StatusCode::ACCEPTED, json!(0)),
        "{}",
        r.text
    );
    let r = a
        .send(Method::POST, &retry(true), Some(&a.alice), None)
        .await;
    assert_eq!(r.body["queued"], 5, "{}", r.text);
    let r = a
        .send(
            Method::POST,
            &format!("/sync/configs/{id}/ingest/retry"),
            Some(&a.bob),
            None,
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "sync config");
    assert_error(
        &a.get("/ingest/queue", &a.alice).await,
        StatusCode::FORBIDDEN,
        "forbidden",
        "admin",
    );
    let r = a.get("/ingest/queue", &a.admin).await;
    assert_eq!(r.body["queued"], 5, "{}", r.text);
    let r = a.get("/sync/files?status=failed", &a.alice).await;
    assert_eq!(r.body["files"], json!([]));
    let r = a
        .get("/sync/files?status=synced&limit=1000", &a.alice)
        .await;
    assert_eq!(r.body["files"].as_array().unwrap().len(), 5);

    // A disabled config is not run behind the user's back.
    a.send(
        Method::PATCH,
        &format!("/sync/configs/{id}"),
        Some(&a.alice),
        Some(json!({"enabled": false})),
    )
    .await;
    let r = a.run_now(id, &a.alice).await;
    assert_error(&r, StatusCode::CONFLICT, "conflict", "disabled");
    let status = a.store.log(queued).await.unwrap().unwrap().status;
    assert_eq!(status, LogStatus::Success);
}

/// A login followed through the provider's consent: where the provider sends the browser
/// back, and the login cookie the starting browser holds (`name=value`).
struct Consented {
    callback: String,
    cookie: String,
}

impl Consented {
    /// The callback, as the browser that started the login makes it.
    async fn back(&self, a: &Api) -> Reply {
        reply(
            a.http
                .get(&self.callback)
                .header("cookie", &self.cookie)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

/// Start a login as `key` at `path` and follow it as a browser would, over plain HTTP:
/// p8sync's login, then the fake's consent (which approves at once).
async fn consent(a: &Api, key: &Key, path: &str) -> Consented {
    let r = a.send(Method::GET, path, Some(key), None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let set_cookie = r.headers["set-cookie"].to_str().unwrap().to_string();
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("p8sync_login_"), "{cookie}");
    let consent = r.headers["location"].to_str().unwrap().to_string();
    assert!(consent.starts_with(&a.fake.auth_url()), "{consent}");
    let consent_url = url::Url::parse(&consent).unwrap();
    let param = |k: &str| {
        consent_url
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("access_type").as_deref(), Some("offline"));
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    let back = a.http.get(&consent).send().await.unwrap();
    assert_eq!(back.status(), StatusCode::FOUND);
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    assert!(callback.starts_with(&a.base), "{callback}");
    Consented { callback, cookie }
}

/// A whole login: [`consent`], then the callback's reply in the same browser.
async fn log_in(a: &Api, key: &Key, path: &str) -> Reply {
    consent(a, key, path).await.back(a).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_login_stores_the_credential_sealed_and_is_single_use() {
    let a = api().await;
    let r = log_in(&a, &a.alice, "/auth/google/login?sync_files=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Connected google_drive"), "{}", r.text);
    // The seed's spelling comes back to the seed's callback path.
    let params = a.fake.last_authorize_params().unwrap();
    let redirect = params
        .iter()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .clone();
    assert_eq!(redirect, format!("{}/auth/google/callback", a.base));

    let stored = a
        .store
        .credential(CredentialId::derive(a.alice.user, "google_drive"))
        .await
        .unwrap()
        .expect("the credential is stored for the user who started the login");
    assert!(stored.key_id.is_some(), "sealed");
    assert!(stored.refresh_token.is_some());
    assert_eq!(stored.provider_user_id.as_deref(), Some("user@example.com"));
    let (access, _) = a
        .tokens
        .opened(a.alice.user, "google_drive")
        .await
        .unwrap()
        .unwrap();
    assert!(
        !stored.access_token.contains(access.expose()),
        "the row holds ciphertext"
    );
    // sync_files=true made a config, due at once.
    let config = a
        .store
        .config(SyncConfig::new(a.alice.user, "google_drive", "default").id)
        .await
        .unwrap()
        .expect("a default config");
    assert!(config.enabled && config.next_sync_at.is_none());
    // Nothing was stored for anyone else.
    assert!(
        a.store
            .credentials(Some(a.bob.user))
            .await
            .unwrap()
            .is_empty()
    );

    // With an allowed app redirect, the browser goes there afterwards.
    let r = log_in(
        &a,
        &a.bob,
        &format!("/auth/google_drive/login?redirect_uri=https%3A%2F%2F{APP_HOST}%2Fsettings"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        r.headers["location"],
        format!("https://{APP_HOST}/settings?connected=google_drive").as_str()
    );
    assert!(a.store.credentials(Some(a.bob.user)).await.unwrap().len() == 1);
    // sync_files absent: no config.
    assert!(a.store.configs(Some(a.bob.user)).await.unwrap().is_empty());
    // Any other host is refused before the login starts: no open redirect.
    let r = a
        .get(
            "/auth/google/login?redirect_uri=https%3A%2F%2Fevil.example%2F",
            &a.alice,
        )
        .await;
    assert_error(
        &r,
        StatusCode::BAD_REQUEST,
        "bad_request",
        "not one this server may send",
    );
    // Logins need a key; the JSON form hands the consent URL to apps.
    let r = a.send(Method::GET, "/auth/google/login", None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = a
        .send(Method::POST, "/auth/google/login", Some(&a.alice), None)
        .await;
    assert!(
        r.body["authorize_url"]
            .as_str()
            .unwrap()
            .starts_with(&a.fake.auth_url())
    );
    let r = a.get("/auth/local/login", &a.alice).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "OAuth2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callback_refuses_missing_reused_expired_and_forged_states() {
    let a = api().await;
    // A real login, whose callback URL is then replayed.
    let login = consent(&a, &a.alice, "/auth/google/login").await;
    let first = login.back(&a).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    // The binding cookie is cleared once used.
    assert!(
        first.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let replay = login.back(&a).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.text.contains("already used"), "{}", replay.text);

    // A consent link handed on: the callback in a browser without the login's cookie (or
    // with another login's) is refused, uses the login up, and stores nothing.
    let before = a.store.credentials(Some(a.bob.user)).await.unwrap();
    let other = consent(&a, &a.bob, "/auth/google/login").await;
    let other_value = other.cookie.split_once('=').unwrap().1.to_string();
    for with_other_cookie in [false, true] {
        let handed_on = consent(&a, &a.bob, "/auth/google/login").await;
        let mut request = a.http.get(&handed_on.callback);
        if with_other_cookie {
            let name = handed_on.cookie.split_once('=').unwrap().0;
            request = request.header("cookie", format!("{name}={other_value}"));
        }
        let r = reply(request.send().await.unwrap()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert!(r.text.contains("started in another browser"), "{}", r.text);
        // Used up: not even the right browser can finish it now.
        let r = handed_on.back(&a).await;
        assert!(r.text.contains("already used"), "{}", r.text);
    }
    assert!(a.store.credentials(Some(a.bob.user)).await.unwrap() == before);

    let callback = login.callback.clone();
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let attempt = |query: String| {
        let url = format!("{}/auth/google/callback?{query}", a.base);
        let http = a.http.clone();
        async move { reply(http.get(url).send().await.unwrap()).await }
    };
    let r = attempt(format!("code={code}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("no state"), "{}", r.text);
    let r = attempt(format!("code={code}&state=forged")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.text.contains("not one p8sync is waiting for"),
        "{}",
        r.text
    );
    assert!(!r.text.contains(&code), "the page never echoes the code");

    // An expired login.
    let state = "expired-state-0123456789";
    a.store
        .put_login_state(&LoginStateRecord {
            state_hash: hash_key(state),
            provider: "google_drive".into(),
            userid: a.bob.user,
            verifier: "sealed".into(),
            key_id: None,
            callback_url: format!("{}/auth/google/callback", a.base),
            app_redirect: None,
            sync_files: false,
            credential_id: None,
            label: None,
            expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
            binding_hash: None,
        })
        .await
        .unwrap();
    let r = attempt(format!("code={code}&state={state}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("expired"), "{}", r.text);
    // A declined consent.
    let r = a.get("/auth/google/login", &a.alice).await;
    let consent = url::Url::parse(r.headers["location"].to_str().unwrap()).unwrap();
    let state = consent
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let cookie = r.headers["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let url = format!(
        "{}/auth/google/callback?error=access_denied&state={state}",
        a.base
    );
    let r = reply(
        a.http
            .get(url)
            .header("cookie", cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text.contains("access_denied"), "{}", r.text);
    // None of that stored a credential for Bob.
    assert!(
        a.store
            .credentials(Some(a.bob.user))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnecting_revokes_at_the_provider_first() {
    let a = api().await;
    a.credential_for(a.alice.user).await;
    let before = a.fake.counts().revoke;
    let r = a.delete("/auth/credentials/google", &a.alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revoked_at_provider"], true);
    assert_eq!(a.fake.counts().revoke, before + 1);
    assert!(
        a.store
            .credentials(Some(a.alice.user))
            .await
            .unwrap()
            .is_empty()
    );
    let r = a.delete("/auth/credentials/google_drive", &a.alice).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "credential");
}

/// A whole login in one browser: open `start`, approve on the consent page (at `auth_url`),
/// and the text of the page it ends on, once it says `ends_with`.
async fn sign_in(
    browser: &p8sync_e2e::browser::Browser,
    start: &str,
    auth_url: &str,
    ends_with: &str,
) -> String {
    let wait = std::time::Duration::from_secs(20);
    browser.goto(start).await;
    browser
        .wait_until(wait, |url, text| {
            url.starts_with(auth_url) && text.contains("Allow")
        })
        .await;
    browser.click("#allow").await;
    browser
        .wait_until(wait, |_, text| text.contains(ends_with))
        .await
        .1
}

/// Login CSRF, in two real browsers: Alice's browser starts a login and its consent page is
/// handed to Bob's browser, where Bob approves. The callback refuses it (Bob's browser has no
/// cookie from Alice's login), nothing is stored and Alice's connected account is unchanged. A
/// login to another account is never attached over the connected one, and the ordinary login
/// in one browser still works end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_a_consent_page_handed_to_another_browser_is_refused() {
    let a = api().await;
    a.fake.set_consent_page(true);
    a.credential_for(a.alice.user).await;
    let id = CredentialId::derive(a.alice.user, "google_drive");
    let alices_row = a.store.credential(id).await.unwrap().unwrap();
    let alice = p8sync_e2e::browser::Browser::start().await;
    let bearer = format!("Bearer {}", a.alice.key);
    alice
        .set_extra_headers(&[("Authorization", bearer.as_str())])
        .await;
    let wait = std::time::Duration::from_secs(20);
    let start = format!("{}/auth/google/login?sync_files=true", a.base);
    let auth_url = a.fake.auth_url();
    alice.goto(&start).await;
    let (consent_url, _) = alice
        .wait_until(wait, |url, text| {
            url.starts_with(&auth_url) && text.contains("Allow")
        })
        .await;

    let bob = p8sync_e2e::browser::Browser::start().await;
    bob.goto(&consent_url).await;
    bob.wait_until(wait, |_, text| text.contains("Allow")).await;
    bob.click("#allow").await;
    let (url, text) = bob
        .wait_until(wait, |_, text| text.contains("Sign-in failed"))
        .await;
    assert!(url.contains("/auth/google/callback"), "{url}");
    assert!(text.contains("started in another browser"), "{text}");
    assert!(text.contains("nothing was stored"), "{text}");
    assert!(a.store.credential(id).await.unwrap().unwrap() == alices_row);
    assert!(
        a.store
            .config(SyncConfig::new(a.alice.user, "google_drive", "default").id)
            .await
            .unwrap()
            .is_none(),
        "no config made"
    );

    // Alice, in her own browser, reconnects her account but signs in to another Google
    // account: refused, not swapped in silently.
    let reconnect = format!("{}/auth/google/login?account={id}", a.base);
    let text = sign_in(&alice, &reconnect, &auth_url, "Sign-in failed").await;
    assert!(
        text.contains("user@example.com") && text.contains("reconnect alice@example.com"),
        "{text}"
    );
    assert!(a.store.credential(id).await.unwrap().unwrap() == alices_row);

    // The same login started as a new connection adds a second account beside the first,
    // named after its email, and its own default config syncs it.
    let text = sign_in(&alice, &start, &auth_url, "Connected").await;
    assert!(
        text.contains("Connected google_drive as user@example.com"),
        "{text}"
    );
    assert!(a.store.credential(id).await.unwrap().unwrap() == alices_row);
    let accounts = a.store.credentials(Some(a.alice.user)).await.unwrap();
    assert_eq!(accounts.len(), 2, "{accounts:?}");
    let second = accounts.iter().find(|c| c.id != id).unwrap();
    assert_eq!(second.label, "user@example.com");
    assert_eq!(second.provider_user_id.as_deref(), Some("user@example.com"));
    let config = a
        .store
        .config(SyncConfig::new(a.alice.user, "google_drive", "default: user@example.com").id)
        .await
        .unwrap()
        .expect("the second account's default config");
    assert_eq!(config.credential_id, Some(second.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_connects_google_drive_through_the_seeds_login_url() {
    let a = api().await;
    let browser = p8sync_e2e::browser::Browser::start().await;
    // A browser can't add a Bearer header to a navigation by itself; the app in front of
    // p8sync would (or it would use POST /auth/{provider}/login). DevTools stands in for it.
    let bearer = format!("Bearer {}", a.alice.key);
    browser
        .set_extra_headers(&[("Authorization", bearer.as_str())])
        .await;
    browser
        .goto(&format!("{}/auth/google/login?sync_files=true", a.base))
        .await;
    let (url, text) = browser
        .wait_until(std::time::Duration::from_secs(20), |url, text| {
            url.contains("/auth/google/callback") && text.contains("Connected")
        })
        .await;
    assert!(
        text.contains("Connected google_drive as user@example.com"),
        "{url}: {text}"
    );
    let stored = a
        .store
        .credential(CredentialId::derive(a.alice.user, "google_drive"))
        .await
        .unwrap()
        .expect("stored");
    assert!(stored.key_id.is_some());

    // The same callback URL, reloaded with a tampered state, is refused.
    let mut tampered = url::Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    browser.goto(tampered.as_str()).await;
    let (_, text) = browser
        .wait_until(std::time::Duration::from_secs(10), |_, text| {
            text.contains("Sign-in failed")
        })
        .await;
    assert!(text.contains("not one p8sync is waiting for"), "{text}");
}

/// A stored password is not a grant: disconnecting it deletes it here, with nothing to revoke
/// at the provider (and no 502 for a revocation endpoint it doesn't have).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_is_stored_through_the_api_and_disconnecting_deletes_it_without_a_revocation() {
    let a = api().await;
    let put = |key: &Key, provider: &str, body: Value| {
        let (a, path, key) = (&a, format!("/auth/credentials/{provider}"), key.clone());
        async move { a.send(Method::PUT, &path, Some(&key), Some(body)).await }
    };
    let password = json!({"username": "alice", "password": "hunter2-but-longer"});
    let r = put(&a.alice, "webdav", password.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        (&r.body["provider"], &r.body["kind"], &r.body["account"]),
        (&json!("webdav"), &json!("basic"), &json!("alice"))
    );
    // The account is named after its user name, and has the id Percolate derives for a
    // user's (first) account of a provider.
    assert_eq!(r.body["label"], "alice");
    assert_eq!(
        r.body["id"],
        json!(CredentialId::derive(a.alice.user, "webdav").to_string())
    );
    // Sealed at rest: the row holds no trace of the password.
    let row = a
        .store
        .credential(CredentialId::derive(a.alice.user, "webdav"))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.access_token.contains("hunter2"), "stored in the clear");
    // The wrong kind for the provider, a mix of kinds, an unknown provider: refused, with why.
    let r = put(&a.alice, "webdav", json!({"token": "t0ken-t0ken"})).await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "signs in with",
    );
    let r = put(&a.alice, "google_drive", password.clone()).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "OAuth2");
    let r = put(&a.alice, "webdav", json!({"username": "a", "token": "t"})).await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "token` alone",
    );
    let huge = json!({"username": "alice", "password": "p".repeat(9000)});
    let r = put(&a.alice, "webdav", huge).await;
    assert_error(
        &r,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid",
        "longer than 8192 bytes",
    );
    let r = put(&a.alice, "sharefile", password.clone()).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "provider");
    // Only an admin stores one for someone else.
    let r = put(
        &a.alice,
        &format!("webdav?user={}", a.bob.user),
        password.clone(),
    )
    .await;
    assert_error(&r, StatusCode::FORBIDDEN, "forbidden", "admin");

    let r = a.get("/auth/credentials", &a.alice).await;
    assert!(r.text.contains("webdav"), "{}", r.text);
    assert!(!r.text.contains("hunter2"), "{}", r.text);
    // Bob can't see or remove it.
    let r = a.delete("/auth/credentials/webdav", &a.bob).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = a.delete("/auth/credentials/webdav", &a.alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["revoked_at_provider"], false);
    assert_eq!(r.body["deleted"], true);
    let r = a.get("/auth/credentials", &a.alice).await;
    assert!(!r.text.contains("webdav"), "{}", r.text);
}

/// Runs `program` with `args`, the OpenAPI tools' folder first on `PATH`; its exit status and
/// everything it printed.
fn run_tool(tools: &std::path::Path, program: &str, args: &[&std::ffi::OsStr]) -> (bool, String) {
    let path = format!(
        "{}:{}",
        tools.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(tools.join(program))
        .args(args)
        .env("PATH", path)
        .output()
        .unwrap_or_else(|e| {
            panic!("{program}: {e} (scripts/install-openapi-tools.sh installs it)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// `/openapi.json` is a valid OpenAPI document (openapi-spec-validator); a standard generator
/// (openapi-python-client) makes a client of every operation from it, without a warning; and
/// that client, used as an app would, works against this server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_generated_from_the_document_covers_every_operation_and_works() {
    let a = api().await;
    let id = a.create(&a.alice, a.local_config("docs")).await;
    let doc = a.send(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, StatusCode::OK);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, &doc.text).unwrap();
    let tools = workspace().join("target/tools/openapi/bin");

    let (ok, out) = run_tool(&tools, "openapi-spec-validator", &[spec.as_os_str()]);
    assert!(ok && out.contains("OK"), "{out}");

    let client = dir.path().join("p8sync_client");
    let (ok, out) = run_tool(
        &tools,
        "openapi-python-client",
        &[
            "generate".as_ref(),
            "--path".as_ref(),
            spec.as_os_str(),
            "--output-path".as_ref(),
            client.as_os_str(),
            "--meta".as_ref(),
            "none".as_ref(),
        ],
    );
    assert!(ok, "{out}");
    let lower = out.to_lowercase();
    assert!(
        !lower.contains("warning")
            && !lower.contains("will not be generated")
            && !lower.contains("error"),
        "the generator warned:\n{out}"
    );
    // Every operation, with an id of its own, is a module of the client.
    let mut ids = Vec::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(op["tags"][0].is_string(), "{method} {path} has no tag");
            ids.push(id.to_string());
        }
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids repeat: {ids:?}");
    let modules: Vec<String> = walk(&client.join("api"))
        .into_iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    for id in &ids {
        let snake: String = id
            .chars()
            .flat_map(|c| {
                let lower = c.to_ascii_lowercase();
                if c.is_ascii_uppercase() {
                    vec!['_', lower]
                } else {
                    vec![lower]
                }
            })
            .collect();
        assert!(
            modules.contains(&snake),
            "no module for {id} in {modules:?}"
        );
    }

    // Used as an app would: list the caller's configs, read one, and meet the error schema.
    let script = format!(
        r#"
import sys, uuid
sys.path.insert(0, {dir:?})
from p8sync_client import AuthenticatedClient
from p8sync_client.api.configs import list_configs, get_config
from p8sync_client.models import ErrorBody
c = AuthenticatedClient(base_url={base:?}, token={key:?})
configs = list_configs.sync(client=c)
print("configs", [x.name for x in configs])
one = get_config.sync(client=c, id={id:?})
print("one", one.name, one.provider)
missing = get_config.sync_detailed(client=c, id=str(uuid.uuid4()))
print("missing", int(missing.status_code), isinstance(missing.parsed, ErrorBody))
"#,
        dir = dir.path().display().to_string(),
        base = a.base,
        key = a.alice.key,
        id = id.to_string(),
    );
    let script_path = dir.path().join("use_client.py");
    std::fs::write(&script_path, script).unwrap();
    let python = tools.join("python");
    let out = tokio::process::Command::new(&python)
        .arg(&script_path)
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("configs ['docs']"), "{printed}");
    assert!(printed.contains("one docs local"), "{printed}");
    assert!(printed.contains("missing 404 True"), "{printed}");
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// An admin key manages users' keys through the API: a new key is shown once and works at
/// once, listings never show a key or its hash, a revoked key fails at once; other keys may
/// do none of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_list_and_revoke_keys() {
    let a = api().await;
    let r = a
        .send(
            Method::POST,
            "/admin/keys",
            Some(&a.admin),
            Some(json!({"name": "carol's laptop"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let carol = Key {
        user: r.body["userid"].as_str().unwrap().parse().unwrap(),
        key: r.body["key"].as_str().unwrap().to_string(),
    };
    let key_id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["is_admin"], false);
    // It works at once, as a new user with nothing yet.
    let r = a.get("/sync/configs", &carol).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!([])));

    let r = a
        .get(&format!("/admin/keys?user={}", carol.user), &a.admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["name"], "carol's laptop");
    assert!(!r.text.contains(&carol.key), "a listing showed the key");
    assert!(r.body[0].get("key").is_none() && r.body[0].get("key_hash").is_none());
    let all = a.get("/admin/keys", &a.admin).await;
    assert_eq!(all.body.as_array().unwrap().len(), 4, "{}", all.text);

    // Bad input is refused with the reason; non-admins may do nothing here.
    let r = a
        .send(
            Method::POST,
            "/admin/keys",
            Some(&a.admin),
            Some(json!({"name": " "})),
        )
        .await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid", "name");
    for (method, path) in [
        (Method::GET, "/admin/keys".to_string()),
        (Method::POST, "/admin/keys".to_string()),
        (Method::DELETE, format!("/admin/keys/{key_id}")),
    ] {
        let body = (method == Method::POST).then(|| json!({"name": "x", "admin": true}));
        let r = a.send(method.clone(), &path, Some(&a.alice), body).await;
        assert_error(&r, StatusCode::FORBIDDEN, "forbidden", "admin key");
    }

    let r = a.delete(&format!("/admin/keys/{key_id}"), &a.admin).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        a.get("/sync/configs", &carol).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = a.delete(&format!("/admin/keys/{key_id}"), &a.admin).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found", "API key");
}

/// Several accounts of one provider: each `PUT` of a new user name adds an account with its
/// own id and label; they are listed, renamed and disconnected by id; a config must say which
/// one it syncs once there are several, and can't name someone else's; another tenant's
/// account is not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_holds_several_accounts_of_a_provider_and_configs_name_theirs() {
    let a = api().await;
    let add = |username: &str, server: &str| json!({"username": username, "password": "a-long-app-password", "server_url": server});
    let mut ids = Vec::new();
    for (name, server) in [
        ("alice", "https://home.example.com/dav/"),
        (
            "alice.work",
            "https://work.example.com/remote.php/dav/files/alice/",
        ),
    ] {
        let r = a
            .send(
                Method::PUT,
                "/auth/credentials/webdav",
                Some(&a.alice),
                Some(add(name, server)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["label"], name);
        assert_eq!(r.body["server_url"], server);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1]);
    // A label two accounts would share is refused.
    let mut taken = add("alice.other", "https://other.example.com/");
    taken["label"] = json!("alice");
    let r = a
        .send(
            Method::PUT,
            "/auth/credentials/webdav",
            Some(&a.alice),
            Some(taken),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // A server URL with a password in it is refused, and not echoed.
    let r = a
        .send(
            Method::PUT,
            "/auth/credentials/webdav",
            Some(&a.alice),
            Some(add("x", "https://x:hunter2@evil.example.com/")),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(!r.text.contains("hunter2"), "{}", r.text);

    let r = a
        .send(Method::GET, "/auth/credentials", Some(&a.alice), None)
        .await;
    let labels: Vec<_> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].clone())
        .collect();
    assert_eq!(labels, [json!("alice"), json!("alice.work")]);

    // Renamed by id.
    let path = format!("/auth/accounts/{}", ids[1]);
    let r = a
        .send(
            Method::PATCH,
            &path,
            Some(&a.alice),
            Some(json!({"label": "work"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["label"], "work");
    // Bob sees neither account.
    let r = a.send(Method::GET, &path, Some(&a.bob), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // A config must name its account now; it can't name Bob's.
    let config = |extra: Value| {
        let mut body = json!({"name": "dav", "provider": "webdav"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let r = a
        .send(
            Method::POST,
            "/sync/configs",
            Some(&a.alice),
            Some(config(json!({}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("credential_id") && r.text.contains("work"),
        "{}",
        r.text
    );
    let r = a
        .send(
            Method::PUT,
            "/auth/credentials/webdav",
            Some(&a.bob),
            Some(add("bob", "https://bob.example.com/")),
        )
        .await;
    let bobs = r.body["id"].as_str().unwrap().to_string();
    let r = a
        .send(
            Method::POST,
            "/sync/configs",
            Some(&a.alice),
            Some(config(json!({"credential_id": bobs}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = a
        .send(
            Method::POST,
            "/sync/configs",
            Some(&a.alice),
            Some(config(json!({"credential_id": ids[1]}))),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["credential_id"], json!(ids[1]));
    let config_path = format!("/sync/configs/{}", r.body["id"].as_str().unwrap());

    // Disconnected by id: the other account stays.
    let r = a.send(Method::DELETE, &path, Some(&a.alice), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["label"], "work");
    let r = a
        .send(Method::GET, "/auth/credentials", Some(&a.alice), None)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(r.body[0]["id"], json!(ids[0]));
    // The config of the disconnected account can still be changed (here, switched off), and
    // keeps naming that account rather than falling back to the other one.
    let r = a
        .send(
            Method::PATCH,
            &config_path,
            Some(&a.alice),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["credential_id"], json!(ids[1]));
}

/// A run followed as server-sent events: `progress` while it waits, then, once it is
/// cancelled, one `end` event with the result, and the stream closes. Cancelling is the
/// owner's: another tenant's request is "not found", and an ended run is left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_followed_as_events_and_cancelled() {
    let a = api().await;
    let id = a.create(&a.alice, a.local_config("followed")).await;
    let r = a.run_now(id, &a.alice).await;
    let queued = r.body["log_id"].as_str().unwrap().to_string();
    let events = reqwest::Client::new()
        .get(format!("{}/sync/logs/{queued}/events", a.base))
        .bearer_auth(&a.alice.key)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), StatusCode::OK);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let reading = tokio::spawn(events.text());

    let cancel = format!("/sync/logs/{queued}/cancel");
    let r = a.send(Method::POST, &cancel, Some(&a.bob), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = a.get(&format!("/sync/logs/{queued}/events"), &a.bob).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = a.send(Method::POST, &cancel, Some(&a.alice), None).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["outcome"], "cancelled");
    assert_eq!(r.body["run"]["status"], "cancelled");

    let text = tokio::time::timeout(std::time::Duration::from_secs(10), reading)
        .await
        .expect("the stream closes once the run has ended")
        .unwrap()
        .unwrap();
    let first_progress = text.find("event: progress").expect(&text);
    let end = text.find("event: end").expect(&text);
    assert!(first_progress < end, "{text}");
    assert!(text[end..].contains("\"status\":\"cancelled\""), "{text}");
    assert_eq!(text.matches("event: end").count(), 1, "{text}");

    let r = a.send(Method::POST, &cancel, Some(&a.alice), None).await;
    assert_eq!(r.body["outcome"], "ended", "{}", r.text);
}

/// The console's sign-in: a key is exchanged for an HttpOnly, SameSite=Lax, expiring session
/// cookie through a form that carries a CSRF token; the overview shows the signed-in user's
/// own configs only; the JSON API takes the session for reading, and for a change only with
/// the session's CSRF token; revoking the key ends the session, and signing out ends it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_overview_and_sessions() {
    let a = api().await;
    let mine = a.create(&a.alice, a.local_config("alices-docs")).await;
    a.create(&a.bob, a.local_config("bobs-secret-docs")).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie_of = |r: &reqwest::Response, name: &str| -> Option<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(str::to_string)
    };
    let value_of = |set_cookie: &str| -> String {
        set_cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_string()
    };

    // Not signed in: the overview sends the browser to the sign-in page.
    let r = browser.get(format!("{}/", a.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/signin");
    let r = browser
        .get(format!("{}/signin", a.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let csrf = value_of(&cookie_of(&r, "p8sync_signin").expect("the form's CSRF cookie"));
    let form = r.text().await.unwrap();
    assert!(
        form.contains(&format!(r#"name="csrf" value="{csrf}""#)),
        "{form}"
    );
    assert!(form.contains(r#"<label for="key">"#), "{form}");

    let sign_in = |key: &str, csrf_field: &str, csrf_cookie: &str| {
        browser
            .post(format!("{}/signin", a.base))
            .header("cookie", format!("p8sync_signin={csrf_cookie}"))
            .form(&[("key", key), ("csrf", csrf_field)])
            .send()
    };
    // A wrong key, and a form from elsewhere (no matching CSRF), start no session.
    let r = sign_in("p8s_wrong", &csrf, &csrf).await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_of(&r, "p8sync_session").is_none());
    let r = sign_in(&a.alice.key, "forged", &csrf).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(cookie_of(&r, "p8sync_session").is_none());

    let r = sign_in(&a.alice.key, &csrf, &csrf).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/");
    let set = cookie_of(&r, "p8sync_session").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=43200", "Path=/"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains(&a.alice.key), "the cookie is not the key");
    let session = format!("p8sync_session={}", value_of(&set));

    // The overview: Alice's config, never Bob's.
    let r = browser
        .get(format!("{}/", a.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let overview = r.text().await.unwrap();
    assert!(
        overview.contains("alices-docs") && overview.contains("never run"),
        "{overview}"
    );
    assert!(!overview.contains("bobs-secret-docs"), "{overview}");
    let page_csrf = form_csrf(&overview);

    // The API with the session: reads work; a change needs the CSRF token.
    let r = browser
        .get(format!("{}/sync/configs", a.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let listed: Value = r.json().await.unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let run = format!("{}/sync/configs/{mine}/run", a.base);
    let r = browser
        .post(&run)
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = browser
        .post(&run)
        .header("cookie", &session)
        .header("x-csrf-token", &page_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);

    // Sign out: a forged form changes nothing; the page's form ends the session.
    let sign_out = |csrf: &str| {
        browser
            .post(format!("{}/signout", a.base))
            .header("cookie", &session)
            .form(&[("csrf", csrf)])
            .send()
    };
    let r = sign_out("forged").await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = sign_out(&page_csrf).await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        cookie_of(&r, "p8sync_session")
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = browser
        .get(format!("{}/", a.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the session is over");

    // Revoking the key ends every session signed in with it.
    let r = browser
        .get(format!("{}/signin", a.base))
        .send()
        .await
        .unwrap();
    let csrf = value_of(&cookie_of(&r, "p8sync_signin").unwrap());
    let r = sign_in(&a.alice.key, &csrf, &csrf).await.unwrap();
    let session = format!(
        "p8sync_session={}",
        value_of(&cookie_of(&r, "p8sync_session").unwrap())
    );
    let record = a
        .store
        .api_key_by_hash(&p8sync::store::access::hash_key(&a.alice.key))
        .await
        .unwrap()
        .unwrap();
    assert!(a.store.delete_api_key(record.id).await.unwrap());
    let r = browser
        .get(format!("{}/sync/configs", a.base))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// The text of a console page, fetched with the session `cookie`.
async fn console_get(browser: &reqwest::Client, url: String, cookie: &str) -> String {
    browser
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The CSRF token in the first form of a console page.
fn form_csrf(page: &str) -> String {
    page.split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no form with a CSRF token in: {page}"))
        .to_string()
}

/// A console session for `key`: the `Cookie` header value.
async fn console_session(browser: &reqwest::Client, base: &str, key: &str) -> String {
    let value = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.strip_prefix(&format!("{name}=")).map(str::to_string))
            .and_then(|c| c.split(';').next().map(str::to_string))
            .unwrap()
    };
    let r = browser.get(format!("{base}/signin")).send().await.unwrap();
    let csrf = value(&r, "p8sync_signin");
    let r = browser
        .post(format!("{base}/signin"))
        .header("cookie", format!("p8sync_signin={csrf}"))
        .form(&[("key", key), ("csrf", &csrf)])
        .send()
        .await
        .unwrap();
    format!("p8sync_session={}", value(&r, "p8sync_session"))
}

/// The console's connect and config pages: a WebDAV account is added from its tile (with the
/// CSRF token), a config's page runs it now, shows the queued run's live panel and stops it;
/// another user's config page is not found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_connects_an_account_and_runs_and_stops_a_config() {
    let a = api().await;
    let mine = a.create(&a.alice, a.local_config("console-docs")).await;
    let bobs = a.create(&a.bob, a.local_config("bob-docs")).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Signed in as Alice (the flow itself is tested above).
    let session = console_session(&browser, &a.base, &a.alice.key).await;
    let get = |path: String| {
        browser
            .get(format!("{}{path}", a.base))
            .header("cookie", &session)
            .send()
    };
    let post = |path: String, form: Vec<(&'static str, String)>| {
        browser
            .post(format!("{}{path}", a.base))
            .header("cookie", &session)
            .form(&form)
            .send()
    };

    let page = get("/connect".into()).await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"action="/connect/webdav""#), "{page}");
    assert!(
        page.contains(r#"action="/auth/google_drive/login""#),
        "{page}"
    );
    let csrf = form_csrf(&page);
    let r = post(
        "/connect/webdav".into(),
        vec![
            ("csrf", csrf.clone()),
            ("server_url", "https://cloud.example.com/dav/".into()),
            ("username", "alice".into()),
            ("password", "an-app-password".into()),
            ("label", "home cloud".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let accounts = a.store.credentials(Some(a.alice.user)).await.unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].label, "home cloud");
    assert_eq!(
        accounts[0].server_url.as_deref(),
        Some("https://cloud.example.com/dav/")
    );
    // Without the token, nothing is stored.
    let r = post(
        "/connect/webdav".into(),
        vec![
            ("csrf", "forged".into()),
            ("username", "x".into()),
            ("password", "y".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        a.store.credentials(Some(a.alice.user)).await.unwrap().len(),
        1
    );

    let page = get(format!("/configs/{mine}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("No runs yet") && page.contains("Run now"),
        "{page}"
    );
    assert!(page.contains("<p>Then: "), "the next runs: {page}");
    let page = get(format!("/configs/{mine}?status=failed"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<option value="failed" selected>"#) && page.contains("No files here"),
        "{page}"
    );
    let r = get(format!("/configs/{mine}?status=bogus")).await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = post(format!("/configs/{mine}/run"), vec![("csrf", csrf.clone())])
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get(format!("/configs/{mine}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let log = page
        .split(r#"id="live" data-log=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the live panel of the queued run")
        .to_string();
    assert!(page.contains(r#"src="/console/app.js""#), "{page}");
    let r = post(
        format!("/runs/{log}/cancel"),
        vec![("csrf", csrf.clone()), ("back", mine.to_string())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], format!("/configs/{mine}"));
    let page = get(format!("/configs/{mine}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cancelled before it started"), "{page}");

    let r = get(format!("/configs/{bobs}")).await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains("bob-docs"));
    let r = get("/console/app.js".into()).await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    // The account is renamed and disconnected from the overview's forms; another user's
    // browser can't touch it.
    let account = a.store.credentials(Some(a.alice.user)).await.unwrap()[0].id;
    let bob = console_session(&browser, &a.base, &a.bob.key).await;
    let bobs_page = console_get(&browser, format!("{}/", a.base), &bob).await;
    let bobs_csrf = form_csrf(&bobs_page);
    let r = browser
        .post(format!("{}/accounts/{account}/rename", a.base))
        .header("cookie", &bob)
        .form(&[("csrf", bobs_csrf.as_str()), ("label", "taken over")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = post(
        format!("/accounts/{account}/rename"),
        vec![("csrf", csrf.clone()), ("label", "nas".into())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let page = get("/".into()).await.unwrap().text().await.unwrap();
    assert!(page.contains(">nas<"), "{page}");
    let r = post(
        format!("/accounts/{account}/disconnect"),
        vec![("csrf", csrf.clone())],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(
        a.store
            .credentials(Some(a.alice.user))
            .await
            .unwrap()
            .is_empty()
    );
}

/// In real Chromium, on the console: sign in with a key (redirected from `/` to the sign-in
/// page), connect two Google Drive accounts through the provider's consent screen, each with
/// its label, and find both on the overview, named and working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_console_signs_in_and_connects_two_drive_accounts() {
    let a = api().await;
    a.fake.set_consent_page(true);
    let b = p8sync_e2e::browser::Browser::start().await;
    let wait = std::time::Duration::from_secs(20);
    b.goto(&format!("{}/", a.base)).await;
    b.wait_until(wait, |url, text| {
        url.ends_with("/signin") && text.contains("API key")
    })
    .await;
    b.fill("#key", &a.alice.key).await;
    b.click("button[type=submit]").await;
    b.wait_until(wait, |_, text| {
        text.contains("Needs attention") && text.contains("No accounts are connected yet")
    })
    .await;
    let auth_url = a.fake.auth_url();
    for (email, label) in [("work@example.com", "work"), ("me@example.com", "personal")] {
        a.fake.set_signed_in_email(email);
        b.goto(&format!("{}/connect", a.base)).await;
        b.wait_until(wait, |_, text| text.contains("Google Drive"))
            .await;
        b.fill("#label-google_drive", label).await;
        b.click(r#"form[action="/auth/google_drive/login"] button"#)
            .await;
        b.wait_until(wait, |url, text| {
            url.starts_with(&auth_url) && text.contains("Allow")
        })
        .await;
        b.click("#allow").await;
        b.wait_until(wait, |_, text| {
            text.contains(&format!("Connected google_drive as {email}"))
        })
        .await;
    }
    b.goto(&format!("{}/", a.base)).await;
    let (_, text) = b
        .wait_until(wait, |_, text| text.contains("personal"))
        .await;
    for seen in ["work", "work@example.com", "personal", "me@example.com"] {
        assert!(text.contains(seen), "{seen}: {text}");
    }
    assert!(!text.contains("needs a new sign-in"), "{text}");
    let mut labels: Vec<_> = a
        .store
        .credentials(Some(a.alice.user))
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.label, c.provider_user_id.unwrap()))
        .collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            ("personal".to_string(), "me@example.com".to_string()),
            ("work".to_string(), "work@example.com".to_string())
        ]
    );
}

/// The console's admin page: refused to a user's key; for an admin it makes a key (shown once,
/// and it works), lists keys without their secrets, lists providers, and revokes a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_admin_makes_lists_and_revokes_keys() {
    let a = api().await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let alice = console_session(&browser, &a.base, &a.alice.key).await;
    let r = browser
        .get(format!("{}/admin", a.base))
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let overview = console_get(&browser, format!("{}/", a.base), &alice).await;
    assert!(
        !overview.contains("Ingestion queue"),
        "every tenant's queue is for admins"
    );

    let admin = console_session(&browser, &a.base, &a.admin.key).await;
    let overview = console_get(&browser, format!("{}/", a.base), &admin).await;
    assert!(
        overview.contains("Ingestion queue") && overview.contains("waiting"),
        "{overview}"
    );
    let page = console_get(&browser, format!("{}/admin", a.base), &admin).await;
    assert!(
        page.contains("Google Drive") && page.contains("OAuth2"),
        "{page}"
    );
    assert!(!page.contains(&a.alice.key), "a listing never shows a key");
    let csrf = form_csrf(&page);
    let r = browser
        .post(format!("{}/admin/key/new", a.base))
        .header("cookie", &admin)
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "carol's laptop"),
            ("user", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let shown = r.text().await.unwrap();
    let key = shown
        .split(r#"id="new-key" type="text" readonly value=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the new key, shown once")
        .to_string();
    assert!(shown.contains("carol&#39;s laptop"), "{shown}");
    let r = a
        .send(
            Method::GET,
            "/sync/configs",
            Some(&Key {
                user: a.alice.user,
                key: key.clone(),
            }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "the new key works: {}", r.text);
    let page = console_get(&browser, format!("{}/admin", a.base), &admin).await;
    assert!(
        page.contains("carol&#39;s laptop") && !page.contains(&key),
        "{page}"
    );
    let id = a
        .store
        .api_key_by_hash(&p8sync::store::access::hash_key(&key))
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = browser
        .post(format!("{}/admin/key/{id}/revoke", a.base))
        .header("cookie", &admin)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let r = a
        .send(
            Method::GET,
            "/sync/configs",
            Some(&Key {
                user: a.alice.user,
                key,
            }),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

/// The schedule preview an editor shows: the next runs of a cron expression in its zone, or of
/// an interval; a zone that does not exist is a 422 naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_next_runs_of_a_schedule_are_previewed_in_its_zone() {
    let a = api().await;
    let r = a
        .get(
            "/schedule/next?schedule=0%201%20*%20*%20*&timezone=Europe/Berlin",
            &a.alice,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let runs = r.body.as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let at =
        |i: usize| chrono::DateTime::parse_from_rfc3339(runs[i]["at"].as_str().unwrap()).unwrap();
    for (i, run) in runs.iter().enumerate() {
        let local = run["local"].as_str().unwrap();
        assert!(local.contains("01:00 CE"), "{local}");
        if i > 0 {
            assert_eq!(at(i) - at(i - 1), chrono::Duration::hours(24));
        }
    }
    assert!(at(0) > chrono::Utc::now());
    let r = a
        .get("/schedule/next?interval_hours=6&count=50", &a.alice)
        .await;
    assert_eq!(r.body.as_array().unwrap().len(), 10, "at most ten");
    let r = a
        .get(
            "/schedule/next?schedule=0%201%20*%20*%20*&timezone=Mars/Olympus",
            &a.alice,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("Mars/Olympus"), "{}", r.text);
}
