//! The WebDAV provider end to end against a real WebDAV server (`rclone serve webdav`, started
//! per test on a free port; scripts/install-rclone.sh installs it), a real Postgres and a real
//! S3 server; and the host's stored Basic/bearer credentials on both store backends.

use p8sync::oauth::{Keyring, StaticCredential, StaticKind, TokenManager};
use p8sync::runtime::CredentialSource;
use p8sync::secret::Secret;
use p8sync::store::ids::{CredentialId, UserId};
use p8sync::store::{FileStatus, LogStatus, Store, SyncConfig};
use p8sync::sync::retry::RetryPolicy;
use p8sync::sync::{Progress, SyncError, SyncOptions};
use p8sync_e2e::engine::{Harness, Setup};
use p8sync_e2e::webdav_server::Rclone;
use p8sync_e2e::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PROVIDER: &str = "webdav";
const USERNAME: &str = "dav-user";
const PASSWORD: &str = "s3cret-Pässwörd-7781";

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-00000000da71".parse().unwrap()
}

fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new(&[77; 32], &[]))
}

/// The tree every engine test starts from: nested folders, spaces, unicode, `%`, `+`, `#`,
/// an empty file and a 3 MiB binary file.
fn tree() -> Vec<(String, Vec<u8>)> {
    let mut big = Vec::with_capacity(3 << 20);
    let mut x: u32 = 12345;
    while big.len() < 3 << 20 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        big.push((x >> 16) as u8);
    }
    vec![
        ("top.txt".into(), b"at the top\n".to_vec()),
        ("Work/report q3.txt".into(), b"quarterly numbers".to_vec()),
        (
            "Work/Reports 2024/résumé 日本語 ✓.txt".into(),
            "ünïcödé".as_bytes().to_vec(),
        ),
        (
            "Work/Reports 2024/100% done + more #1.md".into(),
            b"# done".to_vec(),
        ),
        (
            "Work/Reports 2024/deep/er/still.csv".into(),
            b"a,b\n1,2\n".to_vec(),
        ),
        ("Personal/empty.txt".into(), Vec::new()),
        ("Personal/blob.bin".into(), big),
    ]
}

fn write_tree(dir: &Path, files: &[(String, Vec<u8>)]) {
    for (path, bytes) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    }
}

/// Everything one engine test needs: the server, its folder and the shared engine harness.
struct Dav {
    server: Rclone,
    h: Harness,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Dav {
    type Target = Harness;
    fn deref(&self) -> &Harness {
        &self.h
    }
}

async fn dav() -> Dav {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    write_tree(&files, &tree());
    let server = Rclone::start(&files, USERNAME, PASSWORD);
    let mut s = with_api_base(settings(), PROVIDER, &server.base());
    s.limits.call_timeout = Duration::from_secs(30);
    let h = Harness::start(Setup {
        component: "webdav",
        settings: s,
        keyring: keyring(),
        config: SyncConfig::new(user(), PROVIDER, "my dav"),
        options: options(),
    })
    .await;
    h.tokens
        .save_static(
            user(),
            PROVIDER,
            &basic(PASSWORD),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    Dav {
        server,
        h,
        _dir: dir,
    }
}

fn basic(password: &str) -> StaticCredential {
    StaticCredential::Basic {
        username: USERNAME.into(),
        password: Secret::new(password),
    }
}

fn options() -> SyncOptions {
    SyncOptions {
        transfers: 4,
        retry: RetryPolicy {
            retries: 2,
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..SyncOptions::default()
    }
}

impl Dav {
    /// Every file in `expected` is synced with exactly these bytes in the object store.
    async fn check(&self, expected: &[(String, Vec<u8>)]) {
        let rows = self.rows().await;
        for (path, bytes) in expected {
            let f = rows
                .get(path)
                .unwrap_or_else(|| panic!("{path} has no SyncFile row: {:?}", rows.keys()));
            self.assert_stored(f, path, bytes).await;
            assert_eq!(f.remote_path.as_deref(), Some(path.as_str()));
            assert!(
                f.remote_revision.is_some(),
                "{path}: the ETag is the revision"
            );
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.server.dir.join(rel)
    }
}

fn no_deleted(rows: &BTreeMap<String, p8sync::store::SyncFile>) {
    for (id, f) in rows {
        assert_ne!(f.status, FileStatus::Deleted, "{id} was marked deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_is_byte_for_byte_and_a_resync_transfers_nothing() {
    let d = dav().await;
    let files = tree();
    let report = d.sync().await;
    assert!(report.success, "{report:?}");
    assert_eq!(
        report.files_synced,
        files.len() as u64,
        "{}",
        report.message
    );
    assert_eq!(report.files_failed, 0);
    assert_eq!(report.files_deleted, 0);
    d.check(&files).await;
    let rows = d.rows().await;
    let names: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert!(
        rows.values().all(|f| f.status == FileStatus::Synced),
        "{names:?}"
    );

    let again = d.sync().await;
    assert!(again.success);
    assert_eq!(again.files_synced, 0, "nothing changed: {}", again.message);
    assert_eq!(again.bytes, 0);
    assert_eq!(again.files_unchanged, files.len() as u64);
    assert_eq!(again.files_deleted, 0);
    d.check(&files).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modified_added_and_deleted_files_are_noticed_by_relisting() {
    let d = dav().await;
    let mut files = tree();
    d.sync().await;

    // Modified (another size, so the ETag changes), added in a new folder, deleted.
    let modified = "Work/report q3.txt";
    let new_bytes = b"quarterly numbers, revised and longer".to_vec();
    std::fs::write(d.path(modified), &new_bytes).unwrap();
    let added = "New folder/added ü.txt";
    std::fs::create_dir_all(d.path("New folder")).unwrap();
    std::fs::write(d.path(added), b"fresh").unwrap();
    let deleted = "Work/Reports 2024/deep/er/still.csv";
    std::fs::remove_file(d.path(deleted)).unwrap();

    let report = d.sync().await;
    assert!(report.success, "{report:?}");
    assert_eq!(report.files_synced, 2, "{}", report.message);
    assert_eq!(report.files_deleted, 1, "{}", report.message);
    assert_eq!(report.files_unchanged, files.len() as u64 - 2);

    files.retain(|(p, _)| p != deleted && p != modified);
    files.push((modified.into(), new_bytes));
    files.push((added.into(), b"fresh".to_vec()));
    d.check(&files).await;
    let rows = d.rows().await;
    assert_eq!(rows[deleted].status, FileStatus::Deleted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_stops_the_sync_with_a_clear_error_and_loses_nothing() {
    let d = dav().await;
    let files = tree();
    d.sync().await;
    let before = d.rows().await;

    let wrong = "not-the-password-31337";
    d.tokens
        .save_static(
            user(),
            PROVIDER,
            &basic(wrong),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    let err = d
        .run(options())
        .await
        .expect_err("a rejected password must fail");
    let text = err.to_string();
    assert!(matches!(err, SyncError::Credential { .. }), "{text}");
    assert!(text.contains("rejected"), "{text}");
    assert!(text.contains("p8sync auth set webdav"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(PASSWORD), "{text}");
    // Nothing was marked deleted or failed, and the objects are still there.
    let after = d.rows().await;
    no_deleted(&after);
    for (id, f) in &before {
        assert_eq!(after[id].status, f.status, "{id}");
    }
    d.check(&files).await;
    let logs = d.store.logs(Some(d.config.id), 1).await.unwrap();
    assert_eq!(logs[0].status, LogStatus::Failed);
    // Marked, so nothing retries it (a locked-out account helps no one) until it is set again.
    let row = d
        .store
        .credential(CredentialId::derive(user(), PROVIDER))
        .await
        .unwrap()
        .unwrap();
    assert!(row.needs_reauth);
    let again = d.run(options()).await.expect_err("still rejected");
    assert!(again.to_string().contains("set it again"), "{again}");

    // Set right, it works again and finds nothing to do.
    d.tokens
        .save_static(
            user(),
            PROVIDER,
            &basic(PASSWORD),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    let ok = d.sync().await;
    assert!(ok.success);
    assert_eq!(ok.files_synced, 0);

    // No credential at all: says which command stores one.
    let account = d.tokens.account(user(), PROVIDER, None).await.unwrap();
    d.tokens.delete(account.id).await.unwrap();
    let missing = d.run(options()).await.expect_err("no credential");
    assert!(
        missing
            .to_string()
            .contains("p8sync auth set webdav --username"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_fails_the_run_and_marks_nothing_deleted() {
    let mut d = dav().await;
    d.sync().await;
    d.server.stop();
    let err = d.run(options()).await.expect_err("the server is gone");
    assert!(matches!(err, SyncError::Listing(_)), "{err}");
    let rows = d.rows().await;
    no_deleted(&rows);
    assert!(rows.values().all(|f| f.status == FileStatus::Synced));
    let logs = d.store.logs(Some(d.config.id), 1).await.unwrap();
    assert_eq!(logs[0].status, LogStatus::Failed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stopped_mid_sync_fails_the_run_and_marks_nothing_deleted() {
    let d = dav().await;
    // The server is killed once the first file is in, while the others wait their turn.
    let server = Arc::new(Mutex::new(None::<Rclone>));
    let Dav {
        server: original,
        h,
        _dir,
    } = d;
    *server.lock().unwrap() = Some(original);
    let killer = server.clone();
    let engine = h.engine(SyncOptions {
        transfers: 1,
        progress: Some(Arc::new(move |p: Progress| {
            if p.files_done >= 1
                && let Some(mut s) = killer.lock().unwrap().take()
            {
                s.stop();
            }
        })),
        ..options()
    });
    let report = engine.run(&h.config).await.expect("the listing worked");
    assert!(!report.success, "{report:?}");
    assert!(report.files_synced >= 1, "{}", report.message);
    assert!(report.files_failed >= 1, "{}", report.message);
    assert_eq!(report.files_deleted, 0);
    let rows: Vec<_> = h.store.files(h.config.id).await.unwrap();
    assert!(rows.iter().all(|f| f.status != FileStatus::Deleted));
    let logs = h.store.logs(Some(h.config.id), 1).await.unwrap();
    assert_ne!(logs[0].status, LogStatus::Success);
}

/// Why `tokens` gives no credential source of `kind` for the test user (it must give none).
async fn refusal(tokens: &TokenManager, kind: StaticKind) -> String {
    tokens
        .static_source(user(), PROVIDER, None, kind)
        .await
        .err()
        .unwrap()
        .to_string()
}

/// The stored-credential rules, on either store backend.
async fn stored_credentials(store: Arc<dyn Store>) {
    let tokens = TokenManager::new(store.clone(), keyring());
    let id = CredentialId::derive(user(), PROVIDER);

    // Missing: the error names the command.
    let err = refusal(&tokens, StaticKind::Basic).await;
    assert!(err.contains("p8sync auth set webdav --username"), "{err}");

    tokens
        .save_static(
            user(),
            PROVIDER,
            &basic(PASSWORD),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    let row = store.credential(id).await.unwrap().unwrap();
    assert!(!row.access_token.contains(PASSWORD), "sealed at rest");
    assert!(row.key_id.is_some());
    assert_eq!(row.provider_user_id.as_deref(), Some(USERNAME));
    let status = tokens.status(Some(user())).await.unwrap();
    assert_eq!(status[0].kind, "basic");
    assert_eq!(status[0].account.as_deref(), Some(USERNAME));
    assert!(!format!("{status:?}").contains(PASSWORD));

    let source = tokens
        .static_source(user(), PROVIDER, None, StaticKind::Basic)
        .await
        .unwrap();
    use base64::Engine as _;
    let header = source.authorization().await.unwrap().unwrap();
    let want = base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"));
    assert_eq!(header.expose(), format!("Basic {want}"));
    // The wrong kind for the provider is refused.
    let err = refusal(&tokens, StaticKind::Bearer).await;
    assert!(err.contains("is a basic credential"), "{err}");

    // A rejection is final: no retry, the source is dead and the row is marked.
    assert!(source.rejected(source.generation()).await.is_err());
    let fatal = source.fatal().unwrap().to_string();
    assert!(
        fatal.contains("rejected") && fatal.contains("auth set webdav"),
        "{fatal}"
    );
    assert!(source.authorization().await.is_err());
    assert!(store.credential(id).await.unwrap().unwrap().needs_reauth);
    let err = refusal(&tokens, StaticKind::Basic).await;
    assert!(err.contains("was rejected"), "{err}");

    // Setting it again clears the mark.
    tokens
        .save_static(
            user(),
            PROVIDER,
            &basic("another-one"),
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    assert!(!store.credential(id).await.unwrap().unwrap().needs_reauth);

    // Bearer tokens, for another provider id.
    tokens
        .save_static(
            user(),
            "some_api",
            &StaticCredential::Bearer {
                token: Secret::new("tok-123"),
            },
            None,
            &p8sync::oauth::AccountChoice::default(),
        )
        .await
        .unwrap();
    let bearer = tokens
        .static_source(user(), "some_api", None, StaticKind::Bearer)
        .await
        .unwrap();
    assert_eq!(
        bearer.authorization().await.unwrap().unwrap().expose(),
        "Bearer tok-123"
    );

    // Values that cannot work are refused with a reason.
    for bad in [
        StaticCredential::Basic {
            username: "a:b".into(),
            password: Secret::new("x"),
        },
        StaticCredential::Basic {
            username: "a".into(),
            password: Secret::new(""),
        },
        StaticCredential::Bearer {
            token: Secret::new("two words"),
        },
    ] {
        assert!(
            tokens
                .save_static(
                    user(),
                    PROVIDER,
                    &bad,
                    None,
                    &p8sync::oauth::AccountChoice::default()
                )
                .await
                .is_err()
        );
    }

    assert!(tokens.delete(id).await.unwrap());
    assert!(store.credential(id).await.unwrap().is_none());
}

#[tokio::test]
async fn stored_credentials_on_sqlite() {
    let (store, _dir) = sqlite_store().await;
    stored_credentials(store).await;
}

#[tokio::test]
async fn stored_credentials_on_postgres() {
    let (store, _db) = postgres_store().await;
    stored_credentials(store).await;
}

fn cli(data: &Path, server: &Rclone) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(p8sync_bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env("P8_WEBDAV_API_BASE", server.base())
        .env("RUST_LOG", "debug")
        .kill_on_drop(true);
    c
}

/// Run a command with `input` on stdin; returns (success, stdout, stderr).
async fn run_cli(mut c: tokio::process::Command, input: &str) -> (bool, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut child = c
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_auth_set_then_sync_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    write_tree(&files, &tree()[..5]);
    let server = Rclone::start(&files, USERNAME, PASSWORD);
    let data = dir.path().join("data");
    let mut seen = String::new();

    // The wrong kind for the provider: refused before anything is read or stored.
    let mut c = cli(&data, &server);
    c.args(["auth", "set", "webdav", "--token-stdin"]);
    let (ok, out, err) = run_cli(c, "some-token\n").await;
    assert!(!ok);
    assert!(err.contains("username and password"), "{err}");
    seen.push_str(&out);
    seen.push_str(&err);

    let mut c = cli(&data, &server);
    c.args([
        "auth",
        "set",
        "webdav",
        "--username",
        USERNAME,
        "--password-stdin",
    ]);
    let (ok, out, err) = run_cli(c, &format!("{PASSWORD}\n")).await;
    assert!(ok, "{err}");
    seen.push_str(&out);
    seen.push_str(&err);

    let mut c = cli(&data, &server);
    c.args(["auth", "status", "--json"]);
    let (ok, out, err) = run_cli(c, "").await;
    assert!(ok, "{err}");
    let row: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(row["provider"], "webdav");
    assert_eq!(row["kind"], "basic");
    assert_eq!(row["account"], USERNAME);
    assert_eq!(row["encrypted"], true);
    seen.push_str(&out);
    seen.push_str(&err);

    let mut c = cli(&data, &server);
    c.args(["config", "add", "--provider", "webdav", "--name", "dav"]);
    let (ok, out, err) = run_cli(c, "").await;
    assert!(ok, "{err}");
    let config_id = out.trim().to_string();
    seen.push_str(&err);

    let mut c = cli(&data, &server);
    c.args(["sync", "--config", &config_id, "--json", "--no-ingest"]);
    let (ok, out, err) = run_cli(c, "").await;
    assert!(ok, "sync failed: {err}");
    let report: serde_json::Value =
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(report["files_synced"], 5, "{out}");
    assert!(!err.is_empty(), "debug logs were written to stderr");
    seen.push_str(&out);
    seen.push_str(&err);

    // Neither the password nor the Basic header value went anywhere visible.
    use base64::Engine as _;
    let header = base64::engine::general_purpose::STANDARD.encode(format!("{USERNAME}:{PASSWORD}"));
    assert!(!seen.contains(PASSWORD), "the password was printed");
    assert!(
        !seen.contains(&header),
        "the Authorization value was printed"
    );
    // Nor is it in the database in clear.
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(PASSWORD) && !text.contains(&header),
                "{} holds the password in clear",
                path.display()
            );
        }
    }

    let mut c = cli(&data, &server);
    c.args(["auth", "delete", "webdav"]);
    let (ok, _, err) = run_cli(c, "").await;
    assert!(ok, "{err}");
    let mut c = cli(&data, &server);
    c.args(["sync", "--config", &config_id, "--no-ingest"]);
    let (ok, _, err) = run_cli(c, "").await;
    assert!(!ok);
    assert!(err.contains("p8sync auth set webdav"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_tree_and_a_big_folder_span_several_pages_without_gaps_or_repeats() {
    let d = dav().await;
    // 120 files in one folder (more than a page of 50 holds, so it is split) and 30 folders
    // (more than one call visits), beside the usual tree.
    for i in 0..120 {
        let path = d.path(&format!("big/file {i:04}.txt"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, format!("{i}")).unwrap();
    }
    for f in 0..30 {
        for i in 0..2 {
            let path = d.path(&format!("wide/f{f:02}/n{i}.txt"));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, format!("{f}/{i}")).unwrap();
        }
    }
    let report = d
        .run(SyncOptions {
            dry_run: true,
            ..options()
        })
        .await
        .unwrap();
    let expected = tree().len() as u64 + 120 + 60;
    assert_eq!(report.files_synced, expected, "{}", report.message);
    assert_eq!(report.files_skipped, 0, "{}", report.message);

    // The listing the host collects has every file once.
    let provider = d.registry.get(PROVIDER).unwrap();
    let cx = p8sync::runtime::CallContext {
        credentials: Some(
            d.tokens
                .static_source(user(), PROVIDER, None, StaticKind::Basic)
                .await
                .unwrap(),
        ),
        ..Default::default()
    };
    let mut cursor = None;
    let mut pages = 0;
    let mut ids = std::collections::HashSet::new();
    loop {
        let page = provider
            .list(
                &cx,
                &p8sync::runtime::types::ListRequest {
                    folder_id: None,
                    recursive: true,
                    cursor: cursor.clone(),
                    page_size_hint: 50,
                },
            )
            .await
            .unwrap();
        pages += 1;
        assert!(page.entries.len() <= 50, "{} entries", page.entries.len());
        for e in page.entries {
            assert!(ids.insert(e.id.clone()), "{} listed twice", e.id);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages >= 5, "{pages} pages");
    assert!(ids.contains("big/file 0119.txt") && ids.contains("wide/f29/n1.txt"));
    // Files plus folders: big, wide, wide/f00..f29, Work, Work/Reports 2024, deep, deep/er,
    // Personal.
    assert_eq!(ids.len() as u64, expected + 2 + 30 + 5);
}

/// Two users sync their own WebDAV servers through one p8sync, with no server configured by
/// the operator: each account's server is its syncs' `api_base` and the only origin its
/// password goes to. Without the operator's leave for private networks, an account's server
/// on a private address (and over plain http) is refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_user_syncs_their_own_webdav_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tree = tree();
    let mut configs = Vec::new();
    let users = [
        (
            "7a6154f2-0000-4000-8000-0000000000a1",
            "alice",
            "alice-pass-1",
            2,
        ),
        (
            "7a6154f2-0000-4000-8000-0000000000b2",
            "bob",
            "bob-pass-2",
            4,
        ),
    ];
    let mut servers = Vec::new();
    for (user, name, pass, files) in users {
        let root = dir.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        write_tree(&root, &tree[..files]);
        let server = Rclone::start(&root, name, pass);
        let own = |server: &Rclone| {
            let mut c = cli(&data, server);
            c.env_remove("P8_WEBDAV_API_BASE")
                .env("P8_ALLOW_PRIVATE_NETWORKS", "true");
            c
        };
        let mut c = own(&server);
        c.args(["auth", "set", "webdav", "--user", user, "--username", name])
            .args(["--password-stdin", "--label", "home", "--server-url"])
            .arg(server.base());
        let (ok, _, err) = run_cli(c, pass).await;
        assert!(ok, "{err}");
        let mut c = own(&server);
        c.args(["config", "add", "--provider", "webdav", "--name", "mine"])
            .args(["--user", user, "--account", "home"]);
        let (ok, out, err) = run_cli(c, "").await;
        assert!(ok, "{err}");
        let id = out.trim().to_string();
        let mut c = own(&server);
        c.args(["sync", "--config", &id, "--no-ingest"]);
        let (ok, out, err) = run_cli(c, "").await;
        assert!(ok, "{err}");
        assert!(
            out.contains(&format!("synced {files} files")),
            "{name} syncs the {files} files of their own server: {out}"
        );
        configs.push(id);
        servers.push(server);
    }

    // The operator has not allowed private networks: a user's server on one is refused.
    let mut c = cli(&data, &servers[0]);
    c.env_remove("P8_WEBDAV_API_BASE");
    c.args(["sync", "--config", &configs[0], "--no-ingest"]);
    let (ok, _, err) = run_cli(c, "").await;
    assert!(!ok);
    assert!(err.contains("plain http") && err.contains("https"), "{err}");
    assert!(!err.contains("alice-pass-1"), "{err}");
}
