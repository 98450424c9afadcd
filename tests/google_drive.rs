//! The Google Drive provider end to end: the real component in the sandbox, a fake Drive that
//! behaves as the reference says (pagination, fields, shared drives, exports, faults, OAuth),
//! a real Postgres and a real S3 server, and the host's token lifecycle.

use p8sync::oauth::TokenManager;
use p8sync::store::ids::CredentialId;
use p8sync::store::{FileStatus, LogStatus, SyncConfig};
use p8sync::sync::{SyncEngine, SyncError};
use p8sync_e2e::drive_sync::*;
use p8sync_e2e::fake_drive::{FakeDrive, Fault, Target};
use p8sync_e2e::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_resync_and_changes() {
    let d = drive().await;
    // Small pages, so that a drive of some hundred files is listed over many of them (full,
    // half and empty ones, as Drive sends them): paging is what this test is about, not volume
    // (the benchmarks measure that).
    let mut config = d.store.config(d.config.id).await.unwrap().unwrap();
    config.provider_config = serde_json::json!({ "page_size": 40 });
    d.store.put_config(&config).await.unwrap();
    let e = populate(&d.fake, 12);
    assert!(
        e.synced.len() >= 600,
        "the drive has {} files",
        e.synced.len()
    );

    let report = d.sync().await;
    let listed = d.fake.counts().list;
    assert!(listed >= 15, "the listing took {listed} pages");
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    assert_eq!(
        report.files_failed, 1,
        "only the abusive file fails: {:?}",
        report.failures
    );
    assert!(!report.success);
    let log = d.store.logs(Some(d.config.id), 1).await.unwrap().remove(0);
    assert_eq!(
        log.status,
        LogStatus::Partial,
        "partial success, not failure"
    );
    check(&d, &e).await;

    // An unchanged drive: no download, a handful of calls.
    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(again.files_synced, 0, "{}", again.message);
    let counts = d.fake.counts();
    assert_eq!(
        counts.media + counts.export + counts.export_link,
        0,
        "{counts:?}"
    );
    assert!(
        counts.total_api <= 3,
        "an unchanged re-sync made {} API calls: {counts:?}",
        counts.total_api
    );
    check(&d, &e).await;

    // Modify, add, trash and delete: exactly those move.
    let mut e = e;
    let ids: Vec<String> = e
        .synced
        .iter()
        .filter(|(_, (p, _))| p.starts_with("Top 1/Sub 1/"))
        .map(|(id, _)| id.clone())
        .take(4)
        .collect();
    let (modified, trashed, deleted) = (&ids[0], &ids[1], &ids[2]);
    d.fake.update_content(modified, b"new content".to_vec());
    e.synced.get_mut(modified).unwrap().1 = b"new content".to_vec();
    let sub1 = d.fake.metadata(modified).unwrap()["parents"][0]
        .as_str()
        .unwrap()
        .to_string();
    e.file(
        &d.fake,
        &[&sub1],
        "Top 1/Sub 1/added.txt",
        b"added".to_vec(),
    );
    d.fake.trash(trashed);
    d.fake.delete(deleted);
    let trashed_row = e.synced.remove(trashed).unwrap();
    let deleted_row = e.synced.remove(deleted).unwrap();
    d.fake.reset_counts();
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 2, "{}", changed.message);
    assert_eq!(changed.files_deleted, 2, "{}", changed.message);
    let counts = d.fake.counts();
    assert_eq!(
        counts.media, 2,
        "exactly the modified and the added file: {counts:?}"
    );
    assert_eq!(counts.list, 0, "the change feed, not a listing: {counts:?}");
    let files = d.store.files(d.config.id).await.unwrap();
    for id in [trashed, deleted] {
        let f = files.iter().find(|f| &f.remote_id == id).unwrap();
        assert_eq!(f.status, FileStatus::Deleted, "{id}");
    }
    // The deleted ones keep their rows, marked; nothing else moved.
    assert!(trashed_row.0.starts_with("Top 1/") && deleted_row.0.starts_with("Top 1/"));
    let live: Vec<_> = files
        .iter()
        .filter(|f| f.status != FileStatus::Deleted)
        .collect();
    assert_eq!(
        live.len(),
        e.synced.len() + e.skipped.len() + e.failed.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_do_not_change_the_result() {
    let d = drive().await;
    let e = populate(&d.fake, 6);
    d.fake.inject(Target::List, Fault::Status500, 3, None);
    d.fake.inject(
        Target::List,
        Fault::RateLimit403 { retry_after: None },
        5,
        None,
    );
    d.fake.inject(Target::Get, Fault::Status503, 2, Some(4));
    d.fake.inject(
        Target::Media,
        Fault::RateLimit429 {
            retry_after: Some(1),
        },
        17,
        Some(2),
    );
    d.fake.inject(Target::Media, Fault::Status500, 7, None);
    d.fake.inject(
        Target::Media,
        Fault::RateLimit403 { retry_after: None },
        11,
        Some(5),
    );
    d.fake
        .inject(Target::Media, Fault::DropMidDownload, 5, Some(10));
    d.fake.inject(Target::Export, Fault::Status503, 2, Some(2));
    d.fake.inject(Target::Drives, Fault::Status500, 1, Some(1));
    d.fake
        .inject(Target::StartPageToken, Fault::Status503, 1, Some(1));
    d.fake.inject(
        Target::AnyApi,
        Fault::Slow(Duration::from_millis(150)),
        13,
        Some(10),
    );
    let report = d.sync().await;
    assert_eq!(
        report.files_failed, 1,
        "only the abusive file: {:?}",
        report.failures
    );
    check(&d, &e).await;

    // The change feed under faults too.
    let (id, _) = e
        .synced
        .iter()
        .find(|(_, (p, _))| p.starts_with("Top 2/"))
        .unwrap();
    d.fake.update_content(id, b"changed under faults".to_vec());
    d.fake.inject(Target::Changes, Fault::Status500, 1, Some(2));
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 1, "{}", changed.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiring_mid_sync_is_refreshed_once() {
    let d = drive().await;
    let e = populate(&d.fake, 4);
    let fake = d.fake.clone();
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut opts = options();
    opts.progress = Some(Arc::new(move |p: p8sync::sync::Progress| {
        if p.files_done >= 20 && !fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            fake.expire_access_tokens();
        }
    }));
    d.fake.reset_counts();
    let report = d.engine(opts).run(&d.config().await).await.unwrap();
    assert_eq!(report.files_failed, 1, "{:?}", report.failures);
    assert_eq!(
        d.fake.counts().token_refresh,
        1,
        "one refresh for all the 401s"
    );
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_sharing_a_credential_refresh_once() {
    let d = drive().await;
    populate(&d.fake, 2);
    // The stored token is about to expire, so both syncs want a refresh before they start.
    let id = CredentialId::derive(user(), PROVIDER);
    let mut row = d.store.credential(id).await.unwrap().unwrap();
    row.token_expiry = Some(chrono::Utc::now() + chrono::Duration::seconds(30));
    d.store.put_credential(&row).await.unwrap();
    let mut second = SyncConfig::new(user(), PROVIDER, "second config");
    second.provider_config = serde_json::json!({ "include_shared_drives": false });
    d.store.put_config(&second).await.unwrap();
    // Two token managers, as two replicas would have: only the database lock serialises them.
    let other_tokens = Arc::new(TokenManager::new(d.store.clone(), keyring()));
    let other = SyncEngine::new(
        d.store.clone(),
        d.blob.clone(),
        d.registry.clone(),
        options(),
    )
    .with_tokens(other_tokens);
    d.fake.reset_counts();
    let first_config = d.config().await;
    let first = d.engine(options());
    let (a, b) = tokio::join!(first.run(&first_config), other.run(&second));
    a.unwrap();
    b.unwrap();
    assert_eq!(
        d.fake.counts().token_refresh,
        1,
        "exactly one refresh across both"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_grant_stops_with_a_clear_error_and_loses_nothing() {
    let d = drive().await;
    populate(&d.fake, 2);
    d.sync().await;
    let before = d.store.files(d.config.id).await.unwrap();
    d.fake.revoke_refresh_tokens();
    d.fake.expire_access_tokens();
    // Something changed, so the sync has work to do when the token is refused.
    let (id, _) = before
        .iter()
        .map(|f| (&f.remote_id, ()))
        .find(|(id, _)| d.fake.metadata(id).is_some())
        .unwrap();
    d.fake
        .update_content(id, b"changed after revocation".to_vec());
    let err = d
        .engine(options())
        .run(&d.config().await)
        .await
        .unwrap_err();
    assert!(matches!(err, SyncError::Credential { .. }), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("p8sync auth login --provider google_drive"),
        "{message}"
    );
    let row = d
        .store
        .credential(CredentialId::derive(user(), PROVIDER))
        .await
        .unwrap()
        .unwrap();
    assert!(row.needs_reauth, "flagged for a new login");
    let log = d.store.logs(Some(d.config.id), 1).await.unwrap().remove(0);
    assert_eq!(log.status, LogStatus::Failed);
    assert!(log.error_message.unwrap().contains("auth login"));
    // Nothing was marked failed or deleted because of it.
    let after = d.store.files(d.config.id).await.unwrap();
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b.status, a.status, "{}", a.remote_id);
    }
    // The next run refuses at once, without asking the token endpoint again.
    d.fake.reset_counts();
    let again = d
        .engine(options())
        .run(&d.config().await)
        .await
        .unwrap_err();
    assert!(again.to_string().contains("needs a new login"), "{again}");
    assert_eq!(d.fake.counts().token_refresh, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_folders_by_path_and_by_id() {
    let d = drive().await;
    let e = populate(&d.fake, 2);
    let mut config = d.config().await;
    let top3 = e
        .synced
        .iter()
        .find(|(_, (p, _))| p.starts_with("Top 3/Sub 2/"))
        .map(|(id, _)| {
            d.fake.metadata(id).unwrap()["parents"][0]
                .as_str()
                .unwrap()
                .to_string()
        })
        .unwrap();
    config.include_folders = vec!["Top 1/Sub 4".into(), top3];
    d.store.put_config(&config).await.unwrap();
    let report = d.engine(options()).run(&config).await.unwrap();
    let files = d.store.files(config.id).await.unwrap();
    assert!(!files.is_empty());
    for f in &files {
        let path = f.remote_path.as_deref().unwrap();
        assert!(
            path.starts_with("Top 1/Sub 4/") || path.starts_with("Top 3/Sub 2/"),
            "{path} is outside the included folders"
        );
    }
    assert_eq!(report.files_synced as usize, files.len());
}

fn cli(fake: &FakeDrive, data: &std::path::Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(p8sync_bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .envs(fake.env())
        .kill_on_drop(true);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_status_and_revoke() {
    use tokio::io::AsyncBufReadExt;
    let fake = FakeDrive::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut login = cli(&fake, data.path());
    login
        .args([
            "auth",
            "login",
            "--provider",
            "google_drive",
            "--timeout-seconds",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = login.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .next_line()
        .await
        .unwrap()
        .expect("the login URL on stdout");
    // The consent page asks for offline access, with PKCE and a state.
    let parsed = url::Url::parse(&url).unwrap();
    let q: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
    assert_eq!(q.get("access_type").map(String::as_str), Some("offline"));
    assert_eq!(q.get("prompt").map(String::as_str), Some("consent"));
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(
        q.get("redirect_uri")
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    assert!(q.get("scope").unwrap().contains("drive.readonly"));
    let state = q.get("state").unwrap().clone();
    assert!(state.len() >= 32);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // A redirect with a forged state is refused, and the login fails safe.
    let consent = http.get(&url).send().await.unwrap();
    assert_eq!(consent.status().as_u16(), 302);
    let back = consent.headers()["location"].to_str().unwrap().to_string();
    assert!(back.contains(&format!("state={state}")));
    let done = http.get(&back).send().await.unwrap();
    assert_eq!(
        done.status().as_u16(),
        200,
        "{}",
        done.text().await.unwrap()
    );
    let status = child.wait().await.unwrap();
    assert!(status.success(), "auth login failed");
    // The key file was generated, private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.path().join("encryption.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let out = cli(&fake, data.path())
        .args(["auth", "status", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(row["provider"], "google_drive");
    assert_eq!(row["account"], "user@example.com");
    assert_eq!(row["has_refresh_token"], true);
    assert_eq!(row["needs_reauth"], false);
    assert_eq!(row["encrypted"], true);

    let out = cli(&fake, data.path())
        .args(["auth", "revoke", "--provider", "google_drive"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.counts().revoke, 1);
    let out = cli(&fake, data.path())
        .args(["auth", "status", "--json"])
        .output()
        .await
        .unwrap();
    assert!(out.stdout.is_empty(), "the credential is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_refuses_a_forged_state() {
    use tokio::io::AsyncBufReadExt;
    let fake = FakeDrive::start().await;
    let data = tempfile::tempdir().unwrap();
    let mut child = cli(&fake, data.path())
        .args([
            "auth",
            "login",
            "--provider",
            "google_drive",
            "--timeout-seconds",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap();
    let q: HashMap<String, String> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let redirect = q.get("redirect_uri").unwrap();
    let forged = reqwest::get(format!("{redirect}?code=stolen&state=not-the-state"))
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
    let out = child.wait_with_output().await.unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("state"), "{err}");
    assert_eq!(fake.counts().token_code, 0, "no code was exchanged");
}

/// Names Drive allows and disks would not, or would only with care: a `/` inside a name, a file
/// and a folder named literally `..`, a backslash, a newline, a tab, spaces at both ends, a
/// 255-character name, names that differ only in case, and the local name encoding's own quote
/// `‛` (which nobody decodes for Drive). All synced byte for byte, each under its own key, their
/// paths as Drive gives them; a re-sync downloads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_names_sync_byte_for_byte() {
    let d = drive().await;
    let root = d.fake.root_id();
    let odd = d.fake.add_folder(&root, "Odd");
    let dots = d.fake.add_folder(&odd, "..");
    let slashed = d.fake.add_folder(&odd, "a/b");
    let long = format!("{}.txt", "é".repeat(251));
    assert_eq!(long.chars().count(), 255);
    let mut e = Expect::default();
    let mut add = |parent: &str, folder: &str, name: &str, bytes: &[u8]| {
        let id = d
            .fake
            .add_file(&[parent], name, "text/plain", bytes.to_vec());
        e.synced
            .insert(id, (format!("{folder}/{name}"), bytes.to_vec()));
    };
    add(&odd, "Odd", "x/y.txt", b"a slash in the name");
    add(&odd, "Odd", "..", b"a file named dot dot");
    add(
        &dots,
        "Odd/..",
        "inside dot dot.txt",
        b"under a folder named ..",
    );
    add(&slashed, "Odd/a/b", "c.txt", b"under a folder with a slash");
    add(&odd, "Odd", "back\\slash.txt", b"backslash");
    add(&odd, "Odd", "new\nline.txt", b"newline");
    add(&odd, "Odd", "tab\there.txt", b"tab");
    add(&odd, "Odd", "  spaces at both ends  ", b"spaces");
    add(&odd, "Odd", &long, b"255 characters");
    add(&odd, "Odd", "Case.txt", b"upper");
    add(&odd, "Odd", "case.txt", b"lower");
    add(&odd, "Odd", "CASE.TXT", b"all upper");
    add(&odd, "Odd", "quote‛E9.txt", b"not an escape on Drive");

    let report = d.sync().await;
    assert_eq!(
        (report.files_synced as usize, report.files_failed),
        (e.synced.len(), 0),
        "{}: {:?}",
        report.message,
        report.failures
    );
    check(&d, &e).await;
    // Thirteen files, thirteen objects: no two names landed on one key.
    assert_eq!(d.objects().await, e.synced.len());

    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(
        (again.files_synced, again.files_failed),
        (0, 0),
        "{}",
        again.message
    );
    assert_eq!(d.fake.counts().media, 0, "{:?}", d.fake.counts());
    check(&d, &e).await;
}
