//! Support for p8sync's end-to-end tests: where the built components are, a runtime set up for
//! tests, and a tiny HTTP server that records what reaches it.

use p8sync::config::{ProviderOverrides, RuntimeSettings};
use p8sync::runtime::{Provider, Runtime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn built(dir: &str, name: &str) -> PathBuf {
    let path = workspace()
        .join("target")
        .join(dir)
        .join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "{} is missing: build the components first with scripts/build-components.sh (scripts/test.sh does it)",
        path.display()
    );
    path
}

/// A shipped provider component, e.g. `local-folder`.
pub fn provider_wasm(name: &str) -> PathBuf {
    built("providers", name)
}

/// A test component, e.g. `spin-forever`.
pub fn test_wasm(name: &str) -> PathBuf {
    built("test-components", name)
}

/// The folder of shipped extractors.
pub fn extractors_dir() -> PathBuf {
    workspace().join("target/extractors")
}

/// The folder of shipped providers, each approved in its lock file as the build approves
/// them (once per test process).
pub fn providers_dir() -> PathBuf {
    let dir = workspace().join("target/providers");
    approve_all(&dir);
    dir
}

/// Approve every component in `dir` as it is now (`p8sync provider approve` for each), once per
/// process and folder; the lock is written atomically, so test processes can race on it.
pub fn approve_all(dir: &Path) {
    static DONE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut done = DONE.lock().unwrap_or_else(|p| p.into_inner());
    if done.iter().any(|d| d == dir) {
        return;
    }
    let owned = dir.to_path_buf();
    // A thread of its own: callers may be inside a runtime already.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let runtime = Runtime::new(settings()).unwrap();
            let mut files: Vec<PathBuf> = std::fs::read_dir(&owned)
                .unwrap_or_else(|e| panic!("{}: {e}", owned.display()))
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
                .collect();
            files.sort();
            for f in files {
                p8sync::runtime::lock::approve_file(&runtime, &f, None)
                    .await
                    .unwrap_or_else(|e| panic!("approving {}: {e}", f.display()));
            }
        });
    })
    .join()
    .expect("approving the components");
    done.push(dir.to_path_buf());
}

/// Settings for tests: a cache shared by all test processes (so each component compiles once),
/// a short deadline and a small memory cap.
pub fn settings() -> RuntimeSettings {
    let mut s = RuntimeSettings {
        cache_dir: Some(workspace().join("target/test-cache")),
        ..RuntimeSettings::default()
    };
    s.limits.call_timeout = Duration::from_secs(3);
    s.limits.memory_bytes = 64 * 1024 * 1024;
    s.limits.max_instances = 32;
    s
}

/// Point a provider's API base at a local server. An origin the operator sets explicitly may
/// be a private address; declared names still may not.
pub fn with_api_base(mut s: RuntimeSettings, provider: &str, base: &str) -> RuntimeSettings {
    s.overrides.set(
        provider,
        ProviderOverrides {
            api_base: Some(base.to_string()),
            ..Default::default()
        },
    );
    s
}

/// Load a test component.
pub async fn load_test(runtime: &Runtime, name: &str) -> Provider {
    runtime
        .load_file(&test_wasm(name))
        .await
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// Load the local-folder provider.
pub async fn load_local(runtime: &Runtime) -> Provider {
    runtime
        .load_file(&provider_wasm("local-folder"))
        .await
        .expect("loading local-folder")
}

/// One request as the test server saw it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    /// `GET /path HTTP/1.1`
    pub request_line: String,
    /// Header lines, as sent.
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// A header value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1 that answers every request with `respond` and records
/// what it received (one request per connection).
pub struct TestServer {
    /// The port it listens on.
    pub port: u16,
    /// Requests seen so far.
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
    /// Connections accepted so far (including ones that sent nothing).
    pub connections: Arc<Mutex<usize>>,
}

/// A response: status and body. For a 3xx status the body is the `Location` instead. A body
/// ending in [`CUT_SHORT`] is sent without the marker under a `Content-Length` twice its size,
/// and then the connection is closed: a response the network cut off.
pub type Reply = (u16, String);

/// Ends a [`Reply`] body that the connection drops before it is complete.
pub const CUT_SHORT: &str = "\u{0}<cut short>";

impl TestServer {
    /// Start a server; `respond` decides the reply for each request.
    pub async fn start(respond: impl Fn(&SeenRequest) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding a test port");
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0usize));
        let respond = Arc::new(respond);
        let (seen2, conns2) = (seen.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                *conns2.lock().unwrap() += 1;
                let seen = seen2.clone();
                let respond = respond.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let mut lines = text.split("\r\n");
                    let request_line = lines.next().unwrap_or_default().to_string();
                    let headers = lines
                        .take_while(|l| !l.is_empty())
                        .filter_map(|l| l.split_once(':'))
                        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                        .collect();
                    let req = SeenRequest {
                        request_line,
                        headers,
                    };
                    let (status, body) = respond(&req);
                    seen.lock().unwrap().push(req);
                    let response = if (300..400).contains(&status) {
                        format!(
                            "HTTP/1.1 {status} X\r\nlocation: {body}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        )
                    } else if let Some(part) = body.strip_suffix(CUT_SHORT) {
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{part}",
                            part.len() * 2
                        )
                    } else {
                        format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        TestServer {
            port,
            seen,
            connections,
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.seen.lock().unwrap().clone()
    }
}

/// A folder tree for listing tests: `files` maps relative paths to contents.
pub fn make_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    dir
}

/// A store on a fresh SQLite file (kept alive by the returned temp dir).
pub async fn sqlite_store() -> (Arc<dyn p8sync::store::Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = p8sync::store::sqlite::SqliteStore::open(&dir.path().join("state.db"))
        .await
        .unwrap();
    p8sync::store::Store::migrate(&store).await.unwrap();
    (Arc::new(store), dir)
}

/// A store on a fresh Postgres database (`P8_TEST_PG_URL`, default 127.0.0.1:5432/test),
/// returned with the database's name. scripts/test.sh provides the server.
pub async fn postgres_store() -> (Arc<dyn p8sync::store::Store>, String) {
    let (url, name) = postgres_database().await;
    let store = p8sync::store::postgres::PostgresStore::connect(&url)
        .await
        .unwrap();
    p8sync::store::Store::migrate(&store).await.unwrap();
    (Arc::new(store), name)
}

/// A fresh, empty Postgres database for one test: its URL and its name.
pub async fn postgres_database() -> (String, String) {
    let admin_url = std::env::var("P8_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("p8sync_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!("Postgres at {admin_url} is needed (scripts/test.sh starts one): {e}")
    });
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&name);
    (url.to_string(), name)
}

/// A TCP port free on 127.0.0.1 at the moment of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `p8sync serve` on `127.0.0.1:port` against `database_url`, its data in `data`, with the
/// built providers and extractors, the shared component cache and a one-second tick, and
/// nothing else from this process's environment; stdout discarded, killed when dropped.
pub fn serve_command(database_url: &str, data: &Path, port: u16) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(p8sync_bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env("P8_EXTRACTORS_DIR", extractors_dir())
        .env("P8_CACHE_DIR", workspace().join("target/test-cache"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--tick-secs",
            "1",
        ])
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

/// The `p8sync` binary of the target directory these tests were built in (`cargo test
/// --workspace` builds it; with `-p p8sync-e2e` alone, `cargo build -p p8sync` first), or the
/// one `P8SYNC_TEST_BIN` names.
pub fn p8sync_bin() -> PathBuf {
    // Another build of the binary (a release one, to measure it) when asked.
    if let Some(bin) = std::env::var_os("P8SYNC_TEST_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().unwrap();
    // <target>/debug/deps/<test>-<hash>
    let bin = exe
        .parent()
        .and_then(std::path::Path::parent)
        .map(|d| d.join("p8sync"))
        .filter(|b| b.is_file())
        .unwrap_or_else(|| workspace().join("target/debug/p8sync"));
    assert!(
        bin.is_file(),
        "build the p8sync binary first (cargo build -p p8sync, same target dir)"
    );
    bin
}

/// An S3-compatible server for the tests: the one named by `P8_TEST_S3_ENDPOINT` (with
/// `P8_TEST_S3_ACCESS_KEY`, `P8_TEST_S3_SECRET`; see scripts/test-s3-moto.sh), or else s3s-fs
/// (a real S3 implementation that checks signatures) in this process on a free port. Each call
/// gets its own fresh bucket.
pub async fn s3_settings() -> p8sync::blob::s3::S3Settings {
    match std::env::var("P8_TEST_S3_ENDPOINT") {
        Ok(e) if !e.is_empty() => {
            bucket_on(
                e,
                std::env::var("P8_TEST_S3_ACCESS_KEY").unwrap_or_else(|_| "test".into()),
                std::env::var("P8_TEST_S3_SECRET").unwrap_or_else(|_| "test".into()),
            )
            .await
        }
        _ => s3s_settings().await,
    }
}

/// Like [`s3_settings`], but always on the in-process s3s-fs, which checks request signatures
/// (for tests of credential handling; some S3 servers accept any secret).
pub async fn s3s_settings() -> p8sync::blob::s3::S3Settings {
    let port = start_s3s().await;
    bucket_on(
        format!("http://127.0.0.1:{port}"),
        S3_ACCESS.into(),
        S3_SECRET.into(),
    )
    .await
}

async fn bucket_on(
    endpoint: String,
    access: String,
    secret: String,
) -> p8sync::blob::s3::S3Settings {
    use p8sync::secret::Secret;
    let bucket = format!(
        "p8sync-test-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let settings = p8sync::blob::s3::S3Settings {
        endpoint: Some(endpoint),
        bucket: bucket.clone(),
        region: "us-east-1".into(),
        credentials: Some((Secret::new(access), Secret::new(secret))),
        part_size: 5 * 1024 * 1024,
        parts_in_flight: 3,
    };
    s3_client(&settings)
        .await
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| panic!("creating bucket {bucket}: {e:?}"));
    settings
}

/// A raw S3 client for checking what the store wrote.
pub async fn s3_client(settings: &p8sync::blob::s3::S3Settings) -> aws_sdk_s3::Client {
    let (a, s) = settings.credentials.clone().unwrap();
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(settings.region.clone()))
        .endpoint_url(settings.endpoint.clone().unwrap())
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            a.expose(),
            s.expose(),
            None,
            None,
            "test",
        ))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

const S3_ACCESS: &str = "p8sync-test-access";
const S3_SECRET: &str = "p8sync-test-secret-key";

/// s3s-fs on a free port, serving a temp dir, for the life of the test process.
async fn start_s3s() -> u16 {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let root = tempfile::tempdir().unwrap().keep();
    let fs = s3s_fs::FileSystem::new(&root).unwrap();
    let service = {
        let mut b = s3s::service::S3ServiceBuilder::new(fs);
        b.set_auth(s3s::auth::SimpleAuth::from_single(S3_ACCESS, S3_SECRET));
        b.build()
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Serve from a thread of its own, so the server outlives the test's runtime quirks.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let std_listener = listener.into_std().unwrap();
            let listener = TcpListener::from_std(std_listener).unwrap();
            let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    continue;
                };
                let conn = http
                    .serve_connection(TokioIo::new(socket), service.clone())
                    .into_owned();
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
        });
    });
    port
}

/// The whole content of an object.
pub async fn read_object(
    store: &dyn p8sync::blob::BlobStore,
    key: &p8sync::blob::ObjectKey,
) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut out = Vec::new();
    store
        .read(key)
        .await
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    out
}
pub mod browser;
pub mod conformance_checks;
pub mod drive_sync;
pub mod engine;
pub mod example_api;
pub mod fake_box;
pub mod fake_common;
pub mod fake_drive;
pub mod fake_dropbox;
pub mod fake_onedrive;
pub mod webdav_server;

/// A log writer that keeps everything written to it, for tests that grep the logs.
#[derive(Clone, Default)]
pub struct CapturedLogs(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLogs {
    /// The process's logs from now on, every target at trace level except the code generator's
    /// (which sees wasm, never a credential, and is slow to trace), installed as the global
    /// subscriber on first use. Only a test binary of its own may call this: every test in it
    /// runs under the capture, and all of them share one buffer.
    pub fn global() -> CapturedLogs {
        static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
        LOGS.get_or_init(|| {
            let logs = CapturedLogs::default();
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "trace,cranelift_codegen=info,cranelift_frontend=info,regalloc2=info,\
                     wasmtime_cranelift=info,wasmtime_internal_cranelift=info",
                ))
                .with_writer(logs.clone())
                .with_ansi(false)
                .init();
            logs
        })
        .clone()
    }

    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The tokens of `user`'s only `provider` account, opened (`None`: no account).
// Only these tests use it, on one runtime: no `Send` bound is needed.
#[allow(async_fn_in_trait)]
pub trait Opened {
    async fn opened(
        &self,
        user: p8sync::store::ids::UserId,
        provider: &str,
    ) -> Result<
        Option<(p8sync::secret::Secret, Option<p8sync::secret::Secret>)>,
        p8sync::oauth::TokenError,
    >;
}

impl Opened for p8sync::oauth::TokenManager {
    async fn opened(
        &self,
        user: p8sync::store::ids::UserId,
        provider: &str,
    ) -> Result<
        Option<(p8sync::secret::Secret, Option<p8sync::secret::Secret>)>,
        p8sync::oauth::TokenError,
    > {
        match self.account(user, provider, None).await {
            Ok(account) => self.tokens(&account).map(Some),
            Err(p8sync::oauth::TokenError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
