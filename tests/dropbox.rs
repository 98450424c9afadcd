//! The Dropbox provider end to end: the real component in the sandbox, a fake Dropbox that
//! behaves as the reference says (cursors, paging, deletions by path, Dropbox-API-Arg,
//! content_hash, faults, OAuth), a real Postgres and a real S3 server, and the host's token
//! lifecycle.

use p8sync::blob::ObjectKey;
use p8sync::oauth::Keyring;
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync::sync::SyncOptions;
use p8sync_e2e::engine::{self, Harness, Setup, WithFake};
use p8sync_e2e::fake_dropbox::{FakeDropbox, Fault, Target, content_hash};
use p8sync_e2e::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const PROVIDER: &str = "dropbox";

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000db".parse().unwrap()
}

/// Everything one test needs: the fake and the shared engine harness.
type Dbx = WithFake<FakeDropbox>;

async fn dropbox(provider_config: serde_json::Value) -> Dbx {
    let fake = FakeDropbox::start().await;
    let mut config = SyncConfig::new(user(), PROVIDER, "my dropbox");
    config.provider_config = provider_config;
    let h = Harness::start(Setup {
        component: "dropbox",
        settings: engine::runtime_settings(PROVIDER, fake.overrides()),
        keyring: Arc::new(Keyring::new(&[7; 32], &[])),
        config,
        options: options(),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    Dbx { fake, h }
}

fn options() -> SyncOptions {
    engine::retrying_options(6)
}

/// What the account holds and what each file should become.
#[derive(Default)]
struct Expect {
    /// remote id -> (path relative to the root, bytes)
    synced: HashMap<String, (String, Vec<u8>)>,
    /// remote id -> (marked deleted at, ...) ids that must be recorded as deleted
    deleted: Vec<String>,
    /// remote id -> a fragment of the skip reason
    skipped: HashMap<String, &'static str>,
}

impl Expect {
    fn file(&mut self, fake: &FakeDropbox, path: &str, bytes: Vec<u8>) -> String {
        let id = fake.add_file(path, bytes.clone());
        self.synced.insert(
            id.clone(),
            (path.trim_start_matches('/').to_string(), bytes),
        );
        id
    }
}

/// A few hundred files in nested folders, with the awkward cases: unicode, an empty file, a
/// file over one 4 MiB content-hash block, two names differing only in case in different
/// folders, and a cloud document that cannot be downloaded.
fn populate(fake: &FakeDropbox, per_folder: usize) -> Expect {
    let mut e = Expect::default();
    for top in 0..4 {
        for sub in 0..5 {
            let dir = if sub % 2 == 0 {
                format!("/Top {top}/Sub {sub}/deep")
            } else {
                format!("/Top {top}/Sub {sub}")
            };
            for i in 0..per_folder {
                let bytes = format!("file {i} of {dir}\n")
                    .repeat(1 + i % 4)
                    .into_bytes();
                e.file(fake, &format!("{dir}/f{i:03}.txt"), bytes);
            }
        }
    }
    e.file(
        fake,
        "/Work/résumé 日本語 ✓.txt",
        "ünïcödé 😀".as_bytes().to_vec(),
    );
    e.file(fake, "/Work/empty.txt", Vec::new());
    e.file(fake, "/Work/README.md", b"upper".to_vec());
    e.file(fake, "/Personal/readme.md", b"lower, elsewhere".to_vec());
    // Two and a bit content-hash blocks, not all one byte value.
    let big: Vec<u8> = (0..(9 * 1024 * 1024 + 123))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    e.file(fake, "/Media/big.bin", big);
    let paper = fake.add_cloud_doc("/Work/Notes.paper");
    e.skipped.insert(paper, "not downloadable");
    e
}

/// Check every row and object against what the account should have produced.
async fn check(d: &Dbx, e: &Expect) {
    let files = d.rows().await;
    for (id, (path, bytes)) in &e.synced {
        let f = files
            .get(id)
            .unwrap_or_else(|| panic!("{path} ({id}) has no SyncFile row"));
        d.assert_stored(f, path, bytes).await;
        assert_eq!(f.remote_path.as_deref(), Some(path.as_str()), "{id}");
        assert_eq!(
            f.remote_checksum.as_deref(),
            Some(format!("dropbox:{}", content_hash(bytes)).as_str()),
            "{path}"
        );
        assert!(
            f.remote_revision.is_some(),
            "{path}: Dropbox's rev is recorded"
        );
    }
    for id in &e.deleted {
        let f = files
            .get(id)
            .unwrap_or_else(|| panic!("deleted {id} has no row"));
        assert_eq!(f.status, FileStatus::Deleted, "{id}");
    }
    for (id, reason) in &e.skipped {
        let f = files
            .get(id)
            .unwrap_or_else(|| panic!("skipped {id} has no row"));
        assert_eq!(f.status, FileStatus::Skipped, "{id}");
        let message = f.error_message.as_deref().unwrap_or_default();
        assert!(
            message.contains(reason),
            "{id}: {message:?} should mention {reason}"
        );
        assert!(f.s3_uri.is_none());
    }
    assert_eq!(
        files.len(),
        e.synced.len() + e.deleted.len() + e.skipped.len(),
        "one row per file, each once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_resync_and_changes() {
    // Small pages, so listings and the feed span many of them.
    let d = dropbox(serde_json::json!({ "page_size": 37 })).await;
    let mut e = populate(&d.fake, 12);
    let total = e.synced.len();
    assert!(total >= 240, "{total} files");

    let report = d.sync().await;
    assert_eq!(report.files_synced as usize, total, "{}", report.message);
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    assert!(report.success);
    check(&d, &e).await;
    assert!(
        d.fake.counts().download as usize >= total,
        "every file was downloaded"
    );

    // Nothing changed: no download, one call on the feed.
    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(again.files_synced, 0, "{}", again.message);
    let counts = d.fake.counts();
    assert_eq!(counts.download, 0, "{counts:?}");
    assert_eq!(counts.list_folder, 0, "the feed, not a listing: {counts:?}");
    assert!(counts.total_api <= 3, "{counts:?}");
    check(&d, &e).await;

    // Modify, add, delete a file, delete a folder, move a file: through the feed only.
    let in_folder = |prefix: &str, e: &Expect| -> Vec<String> {
        let mut ids: Vec<String> = e
            .synced
            .iter()
            .filter(|(_, (p, _))| p.starts_with(prefix))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    };
    let sub1 = in_folder("Top 1/Sub 1/", &e);
    let (modified, deleted, moved) = (&sub1[0], &sub1[1], &sub1[2]);
    d.fake.update(modified, b"new content".to_vec());
    e.synced.get_mut(modified).unwrap().1 = b"new content".to_vec();
    e.file(&d.fake, "/Top 1/Sub 1/added.txt", b"added".to_vec());
    d.fake.delete(deleted);
    e.synced.remove(deleted);
    e.deleted.push(deleted.clone());
    let gone_folder = in_folder("Top 2/Sub 3/", &e);
    assert!(!gone_folder.is_empty());
    d.fake.delete("/Top 2/Sub 3");
    for id in &gone_folder {
        e.synced.remove(id);
        e.deleted.push(id.clone());
    }
    // A move keeps the id: the file is neither deleted nor downloaded again.
    let moved_bytes = e.synced[moved].1.clone();
    d.fake.move_to(moved, "/Elsewhere/moved.txt");
    d.fake.reset_counts();
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 2, "{}", changed.message);
    assert_eq!(
        changed.files_deleted as usize,
        1 + gone_folder.len(),
        "{}",
        changed.message
    );
    let counts = d.fake.counts();
    assert_eq!(
        counts.download, 2,
        "the modified and the added file: {counts:?}"
    );
    assert_eq!(counts.list_folder, 0, "the feed, not a listing: {counts:?}");
    let files = d.rows().await;
    assert_eq!(
        files[moved].status,
        FileStatus::Synced,
        "a move is no deletion"
    );
    let key = ObjectKey::from_uri(files[moved].s3_uri.as_deref().unwrap()).unwrap();
    assert_eq!(read_object(d.blob.as_ref(), &key).await, moved_bytes);
    // The moved file's row keeps whatever path the host records for unchanged content.
    let moved_row = e.synced.remove(moved).unwrap();
    check_without(&d, &e, moved, moved_row).await;

    // Deleting the moved file at its new path is reported through the feed too.
    d.fake.delete("/Elsewhere/moved.txt");
    let after = d.sync().await;
    assert_eq!(after.files_deleted, 1, "{}", after.message);
    assert_eq!(d.rows().await[moved].status, FileStatus::Deleted);
}

/// [`check`], with one synced file set aside (its row is checked by the caller).
async fn check_without(d: &Dbx, e: &Expect, id: &str, row: (String, Vec<u8>)) {
    let files = d.rows().await;
    assert!(files.contains_key(id));
    let mut e2 = Expect {
        synced: e.synced.clone(),
        deleted: e.deleted.clone(),
        skipped: e.skipped.clone(),
    };
    // Count the set-aside row as expected without checking its path.
    e2.synced.insert(
        id.to_string(),
        (files[id].remote_path.clone().unwrap(), row.1),
    );
    check(d, &e2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_cursor_means_a_full_listing_with_the_same_result() {
    let d = dropbox(serde_json::json!({ "page_size": 50 })).await;
    let mut e = populate(&d.fake, 5);
    d.sync().await;
    check(&d, &e).await;

    // Dropbox resets every cursor; meanwhile one file changed and one was deleted.
    let ids: Vec<String> = {
        let mut v: Vec<String> = e.synced.keys().cloned().collect();
        v.sort();
        v
    };
    d.fake.update(&ids[0], b"changed while reset".to_vec());
    e.synced.get_mut(&ids[0]).unwrap().1 = b"changed while reset".to_vec();
    d.fake.delete(&ids[1]);
    e.synced.remove(&ids[1]);
    e.deleted.push(ids[1].clone());
    d.fake.reset_cursors();
    d.fake.reset_counts();
    let report = d.sync().await;
    assert_eq!(report.files_synced, 1, "{}", report.message);
    assert_eq!(report.files_deleted, 1, "{}", report.message);
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    let counts = d.fake.counts();
    assert!(counts.list_folder >= 1, "listed again: {counts:?}");
    assert_eq!(counts.download, 1, "{counts:?}");
    check(&d, &e).await;

    // The new cursor works: the next change comes through the feed again.
    d.fake.update(&ids[2], b"after the reset".to_vec());
    e.synced.get_mut(&ids[2]).unwrap().1 = b"after the reset".to_vec();
    d.fake.reset_counts();
    let next = d.sync().await;
    assert_eq!(next.files_synced, 1, "{}", next.message);
    assert_eq!(d.fake.counts().list_folder, 0);
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_do_not_change_the_result() {
    let d = dropbox(serde_json::json!({ "page_size": 40 })).await;
    let mut e = populate(&d.fake, 6);
    d.fake
        .inject(Target::ListFolder, Fault::Status500, 1, Some(1));
    d.fake
        .inject(Target::Continue, Fault::Status503, 3, Some(3));
    d.fake.inject(
        Target::Continue,
        Fault::RateLimit429 { retry_after: 1 },
        4,
        Some(1),
    );
    // A listing whose cursor Dropbox resets half-way: the host lists again from the start.
    d.fake.inject(Target::Continue, Fault::Reset, 2, Some(1));
    d.fake
        .inject(Target::LatestCursor, Fault::Status503, 1, Some(1));
    d.fake.inject(
        Target::Download,
        Fault::RateLimit429 { retry_after: 1 },
        17,
        Some(2),
    );
    d.fake
        .inject(Target::Download, Fault::Status500, 7, Some(6));
    d.fake
        .inject(Target::Download, Fault::Status503, 11, Some(3));
    d.fake.inject(
        Target::AnyApi,
        Fault::Slow(Duration::from_millis(100)),
        13,
        Some(8),
    );
    let report = d.sync().await;
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    check(&d, &e).await;

    // The change feed under faults too.
    let id = e.synced.keys().min().unwrap().clone();
    d.fake.update(&id, b"changed under faults".to_vec());
    e.synced.get_mut(&id).unwrap().1 = b"changed under faults".to_vec();
    d.fake
        .inject(Target::Continue, Fault::Status500, 1, Some(2));
    d.fake.inject(
        Target::Continue,
        Fault::RateLimit429 { retry_after: 1 },
        1,
        Some(1),
    );
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 1, "{}", changed.message);
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_download_fails_the_content_hash_and_keeps_no_bytes() {
    let d = dropbox(serde_json::json!({})).await;
    let mut e = populate(&d.fake, 2);
    let (bad, _) = e
        .synced
        .iter()
        .find(|(_, (p, _))| p == "Media/big.bin")
        .map(|(id, row)| (id.clone(), row.clone()))
        .unwrap();
    let (small_bad, _) = e
        .synced
        .iter()
        .find(|(_, (p, _))| p == "Work/README.md")
        .map(|(id, row)| (id.clone(), row.clone()))
        .unwrap();
    d.fake.corrupt_downloads(&bad, true);
    d.fake.corrupt_downloads(&small_bad, true);
    let report = d.sync().await;
    assert_eq!(report.files_failed, 2, "{:?}", report.failures);
    assert!(!report.success);
    let files = d.rows().await;
    for id in [&bad, &small_bad] {
        let f = &files[id];
        assert_eq!(f.status, FileStatus::Failed, "{id}");
        let error = f.error_message.as_deref().unwrap_or_default();
        assert!(error.contains("checksum"), "{error}");
        assert!(f.s3_uri.is_none(), "no object recorded for damaged bytes");
        // Nothing left in the object store under the key it would have had.
        let key = ObjectKey::for_file(d.config.id, f.id, f.remote_name.as_deref().unwrap(), None);
        assert_eq!(
            d.blob.head(&key).await.unwrap(),
            None,
            "{id}: bad bytes kept"
        );
    }
    // Once Dropbox serves the right bytes, the next sync picks the failed files up.
    d.fake.corrupt_downloads(&bad, false);
    d.fake.corrupt_downloads(&small_bad, false);
    let again = d.sync().await;
    assert_eq!(again.files_synced, 2, "{}", again.message);
    e.deleted.clear();
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiring_mid_sync_is_refreshed_once() {
    let d = dropbox(serde_json::json!({ "page_size": 25 })).await;
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
    let config = d.store.config(d.config.id).await.unwrap().unwrap();
    let report = d.engine(opts).run(&config).await.unwrap();
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    assert_eq!(
        d.fake.counts().token_refresh,
        1,
        "one refresh for all the 401s"
    );
    check(&d, &e).await;

    // Expired between syncs: the feed call gets 401 expired_access_token, one refresh.
    d.fake.expire_access_tokens();
    let id = e.synced.keys().min().unwrap().clone();
    d.fake.update(&id, b"after expiry".to_vec());
    let next = d.sync().await;
    assert_eq!(next.files_synced, 1, "{}", next.message);
    assert_eq!(d.fake.counts().token_refresh, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_path_scopes_the_sync_and_paths_are_relative_to_it() {
    let d = dropbox(serde_json::json!({ "root_path": "/top 1" })).await;
    let all = populate(&d.fake, 3);
    let report = d.sync().await;
    let expected: Vec<&String> = all
        .synced
        .values()
        .map(|(p, _)| p)
        .filter(|p| p.starts_with("Top 1/"))
        .collect();
    assert_eq!(
        report.files_synced as usize,
        expected.len(),
        "{}",
        report.message
    );
    for f in d.rows().await.values() {
        let path = f.remote_path.as_deref().unwrap();
        assert!(
            path.starts_with("Sub "),
            "{path} should be relative to /Top 1"
        );
        assert!(all.synced.contains_key(&f.remote_id));
    }
    // A change outside the root is not this config's business.
    d.fake.add_file("/Top 2/outside.txt", b"x".to_vec());
    d.fake.add_file("/Top 1/inside.txt", b"y".to_vec());
    let next = d.sync().await;
    assert_eq!(next.files_synced, 1, "{}", next.message);

    // A root that does not exist fails the run with a clear configuration error.
    let mut wrong = SyncConfig::new(user(), PROVIDER, "wrong root");
    wrong.provider_config = serde_json::json!({ "root_path": "/No Such Folder" });
    d.store.put_config(&wrong).await.unwrap();
    let err = d
        .engine(options())
        .run(&wrong)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("root_path") && err.contains("does not exist"),
        "{err}"
    );
}

/// The fake itself answers like Dropbox where providers usually go wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fake_behaves_like_dropbox() {
    let fake = FakeDropbox::start().await;
    let id = fake.add_file("/Docs/Ünï.txt", b"0123456789".to_vec());
    let (token, _) = fake.issue_tokens();
    let http = reqwest::Client::new();
    let rpc = |endpoint: &str, body: serde_json::Value| {
        http.post(format!("{}/2/{endpoint}", fake.origin()))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    // The root is "", never "/".
    let r = rpc("files/list_folder", serde_json::json!({"path": "/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("empty string"));
    // A missing folder is a 409 with a path/not_found summary.
    let r = rpc("files/list_folder", serde_json::json!({"path": "/nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error_summary"]
            .as_str()
            .unwrap()
            .starts_with("path/not_found/")
    );
    // Downloads take an ASCII JSON header, honour Range and describe the file in a header.
    let r = http
        .post(format!("{}/2/files/download", fake.origin()))
        .bearer_auth(&token)
        .header("Dropbox-API-Arg", r#"{"path": "/docs/\u00dcn\u00ef.txt"}"#)
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 206);
    let result = r.headers()["dropbox-api-result"]
        .to_str()
        .unwrap()
        .to_string();
    let meta: serde_json::Value = serde_json::from_str(&result).unwrap();
    assert_eq!(meta["id"], id.as_str());
    assert_eq!(meta["name"], "Ünï.txt");
    assert_eq!(meta["content_hash"], content_hash(b"0123456789").as_str());
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"2345");
    // An expired token gets Dropbox's 401 body.
    fake.expire_access_tokens();
    let r = rpc("files/list_folder", serde_json::json!({"path": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"][".tag"], "expired_access_token");
}

#[test]
fn content_hash_is_blockwise() {
    use sha2::{Digest, Sha256};
    let block = 4 * 1024 * 1024;
    let data: Vec<u8> = (0..block * 2 + 5).map(|i| (i % 251) as u8).collect();
    let mut outer = Sha256::new();
    outer.update(Sha256::digest(&data[..block]));
    outer.update(Sha256::digest(&data[block..2 * block]));
    outer.update(Sha256::digest(&data[2 * block..]));
    assert_eq!(content_hash(&data), hex::encode(outer.finalize()));
    assert_ne!(content_hash(&data), hex::encode(Sha256::digest(&data)));
}
