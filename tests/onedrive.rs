//! The OneDrive provider end to end: the real component in the sandbox, a fake Microsoft Graph
//! that behaves as the reference says (delta paging, change tokens, 410 resync, 302 to a
//! download server, quickXorHash, faults, OAuth), a real Postgres and a real S3 server.

use p8sync::oauth::Keyring;
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync::sync::SyncOptions;
use p8sync_e2e::engine::{self, Harness, Setup, WithFake};
use p8sync_e2e::fake_onedrive::{FakeOneDrive, Fault, Target, quick_xor_hash};
use std::collections::HashMap;
use std::sync::Arc;

const PROVIDER: &str = "onedrive";

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000e1".parse().unwrap()
}

/// Everything one test needs: the fake and the shared engine harness.
type Drive = WithFake<FakeOneDrive>;

async fn drive() -> Drive {
    let fake = FakeOneDrive::start().await;
    // Small pages, so every listing spans many.
    fake.set_max_page(40);
    let h = Harness::start(Setup {
        component: "onedrive",
        settings: engine::runtime_settings(PROVIDER, fake.overrides()),
        keyring: Arc::new(Keyring::new(&[42; 32], &[])),
        config: SyncConfig::new(user(), PROVIDER, "my onedrive"),
        options: options(),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    Drive { fake, h }
}

fn options() -> SyncOptions {
    engine::retrying_options(8)
}

/// What the drive holds and what each file should become.
#[derive(Default)]
struct Expect {
    /// remote id -> (remote path, bytes)
    synced: HashMap<String, (String, Vec<u8>)>,
    /// remote id -> a fragment of the error
    failed: HashMap<String, &'static str>,
    /// remote id -> path of files recorded and then deleted remotely
    deleted: HashMap<String, String>,
}

impl Expect {
    fn file(&mut self, fake: &FakeOneDrive, parent: &str, path: &str, bytes: Vec<u8>) -> String {
        let name = path.rsplit('/').next().unwrap();
        let id = fake.add_file(parent, name, bytes.clone());
        self.synced.insert(id.clone(), (path.to_string(), bytes));
        id
    }

    /// Give some file under `prefix` new content, at the fake and in what is expected.
    fn change_one(&mut self, fake: &FakeOneDrive, prefix: &str, bytes: &[u8]) {
        let (id, expected) = self
            .synced
            .iter_mut()
            .find(|(_, (p, _))| p.starts_with(prefix))
            .unwrap_or_else(|| panic!("no file under {prefix}"));
        fake.update_content(id, bytes.to_vec());
        expected.1 = bytes.to_vec();
    }
}

/// A drive of `5 * 6 * per_folder` files in nested folders plus the awkward cases.
fn populate(fake: &FakeOneDrive, per_folder: usize) -> Expect {
    let mut e = Expect::default();
    let root = fake.root_id();
    for top in 0..5 {
        let t = format!("Top {top}");
        let tid = fake.add_folder(&root, &t);
        for sub in 0..6 {
            let s = format!("Sub {sub}");
            let sid = fake.add_folder(&tid, &s);
            let (pid, ppath) = if sub % 3 == 0 {
                (fake.add_folder(&sid, "deep"), format!("{t}/{s}/deep"))
            } else {
                (sid, format!("{t}/{s}"))
            };
            for i in 0..per_folder {
                let bytes = format!("file {i} of {ppath}\n")
                    .repeat(1 + i % 7)
                    .into_bytes();
                e.file(fake, &pid, &format!("{ppath}/f{i:03}.txt"), bytes);
            }
        }
    }
    let work = fake.add_folder(&root, "Work");
    // Two files with one name in one folder: both synced, each under its own id.
    e.file(fake, &work, "Work/dup.txt", b"first dup".to_vec());
    e.file(fake, &work, "Work/dup.txt", b"second dup".to_vec());
    e.file(
        fake,
        &work,
        "Work/résumé 日本語 ✓.txt",
        "ünïcödé".as_bytes().to_vec(),
    );
    e.file(fake, &work, "Work/empty.txt", Vec::new());
    // Bigger than one 160-bit round of quickXorHash many times over, and not a multiple of it.
    let big: Vec<u8> = (0..3_000_001u32).map(|i| (i * 7 + i / 251) as u8).collect();
    e.file(fake, &work, "Work/big.bin", big);
    // A folder renamed after its files were made: in the full round its files come before it.
    let old = fake.add_folder(&root, "Old name");
    let inner = fake.add_folder(&old, "inner");
    for i in 0..3 {
        e.file(
            fake,
            &inner,
            &format!("Renamed/inner/r{i}.txt"),
            format!("renamed {i}").into_bytes(),
        );
    }
    fake.rename(&old, "Renamed");
    // A file moved, and a file changed twice, before the first sync.
    let target = first_folder_at(fake, &e, "Top 0/Sub 1/");
    let moved = e.file(fake, &work, "Top 0/Sub 1/moved.txt", b"moved".to_vec());
    fake.move_to(&moved, &target);
    let twice = e.file(fake, &work, "Work/twice.txt", b"one".to_vec());
    fake.update_content(&twice, b"two".to_vec());
    fake.update_content(&twice, b"three".to_vec());
    e.synced.get_mut(&twice).unwrap().1 = b"three".to_vec();
    e
}

/// The id of the folder holding the first expected file under `prefix`.
fn first_folder_at(fake: &FakeOneDrive, e: &Expect, prefix: &str) -> String {
    let (id, _) = e
        .synced
        .iter()
        .find(|(_, (p, _))| {
            p.starts_with(prefix) && p.matches('/').count() == prefix.matches('/').count()
        })
        .unwrap_or_else(|| panic!("no file under {prefix}"));
    fake.metadata(id)["parentReference"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Check every row and object against what the drive should have produced.
async fn check(d: &Drive, e: &Expect) {
    let files = d.store.files(d.config.id).await.unwrap();
    let by_id: HashMap<&str, &p8sync::store::SyncFile> =
        files.iter().map(|f| (f.remote_id.as_str(), f)).collect();
    for (id, (path, bytes)) in &e.synced {
        let f = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{path} ({id}) has no SyncFile row"));
        d.assert_stored(f, path, bytes).await;
        assert_eq!(f.remote_path.as_deref(), Some(path.as_str()), "{id}");
        assert_eq!(
            f.remote_checksum.as_deref(),
            Some(format!("quickxor:{}", quick_xor_hash(bytes)).as_str()),
            "{path}"
        );
    }
    for (id, error) in &e.failed {
        let f = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("failed {id} has no row"));
        assert_eq!(f.status, FileStatus::Failed, "{id}");
        let message = f
            .error_message
            .as_deref()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            message.contains(error),
            "{id}: {message:?} should mention {error}"
        );
        assert!(f.s3_uri.is_none(), "no object for a failed file");
    }
    for (id, path) in &e.deleted {
        let f = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("deleted {path} has no row"));
        assert_eq!(f.status, FileStatus::Deleted, "{path}");
    }
    assert_eq!(
        files.len(),
        e.synced.len() + e.failed.len() + e.deleted.len(),
        "one row per file, each once"
    );
    // Bad bytes are not kept: one object per synced file (deleted files keep theirs, marked).
    let objects = d.objects().await;
    assert!(
        objects >= e.synced.len() && objects <= e.synced.len() + e.deleted.len(),
        "{objects} objects for {} synced files",
        e.synced.len()
    );
    assert_eq!(
        d.fake.cdn_authorization_seen(),
        0,
        "the download server received an Authorization header"
    );
}

#[test]
fn the_fake_computes_quick_xor_hash_like_microsoft() {
    use base64::Engine as _;
    // Known answers from rclone's quickxorhash tests (inputs in base64) and a 20-byte input
    // that wraps around the 160-bit register.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    for (input, want) in [
        ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
        ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
        ("0pZP", "0rDEEwAAAAAAAAAAAwAAAAAAAAA="),
        ("jRRDVA==", "jaDAEKgAAAAAAAAABAAAAAAAAAA="),
        ("eAV52qE=", "eChAHrQRCgAAAAAABQAAAAAAAAA="),
        ("luBZlaT6", "lgBHFipBCn0AAAAABgAAAAAAAAA="),
        ("qaApEj66lw==", "qQBFCiTgA11cAgAABwAAAAAAAAA="),
        ("/aNzzCFPS/A=", "/RjFHJgRgicsAR4ACAAAAAAAAAA="),
        ("n6Neh7p6fFgm", "nxiFFw6hCz3wAQsmCQAAAAAAAAA="),
        ("J9iPGCbfZSTNyw==", "J8DGIzBggm+UgQTNUgYAAAAAAAA="),
        ("i+UZyUGJKh+ISbk=", "iyhHBpIRhESo4AOIQ0IuAAAAAAA="),
        ("h490d57Pqz5q2rtT", "h3gEHe7giWeswgdq3MYupgAAAAA="),
    ] {
        assert_eq!(quick_xor_hash(&b64(input)), want, "{input}");
    }
    let wrapped = hex::decode("4fa2d82487c387cd49ac02b7d3d1f624c2535e2b").unwrap();
    assert_eq!(quick_xor_hash(&wrapped), "zBTHrspn3mEcohlJdIUAbjGNaNg=");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_resync_and_changes() {
    let d = drive().await;
    // Some hundred files over pages of 40: paging, not volume (the benchmarks measure that).
    let mut e = populate(&d.fake, 8);
    assert!(e.synced.len() >= 240, "{} files", e.synced.len());
    // Items named twice in the round (on different pages): the last one wins, fetched once.
    for (id, _) in e.synced.iter().take(3) {
        d.fake.repeat_in_full_round(id);
    }

    let report = d.sync().await;
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    assert!(report.success, "{:?}", report.failures);
    assert_eq!(
        d.fake.counts().content as usize,
        e.synced.len(),
        "each file fetched once"
    );
    check(&d, &e).await;

    // Nothing changed: one delta page, no download.
    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(again.files_synced, 0, "{}", again.message);
    let counts = d.fake.counts();
    assert_eq!(counts.content + counts.cdn, 0, "{counts:?}");
    assert!(
        counts.total_api <= 2,
        "an unchanged re-sync made {counts:?}"
    );
    check(&d, &e).await;

    // Modify (twice: the item comes twice in the feed), add, delete, rename: exactly those move.
    let in_sub2: Vec<String> = e
        .synced
        .iter()
        .filter(|(_, (p, _))| p.starts_with("Top 1/Sub 2/"))
        .map(|(id, _)| id.clone())
        .take(3)
        .collect();
    let (modified, deleted, renamed) = (&in_sub2[0], &in_sub2[1], &in_sub2[2]);
    d.fake.update_content(modified, b"new".to_vec());
    d.fake.update_content(modified, b"newer content".to_vec());
    e.synced.get_mut(modified).unwrap().1 = b"newer content".to_vec();
    let sub2 = first_folder_at(&d.fake, &e, "Top 1/Sub 2/");
    e.file(&d.fake, &sub2, "Top 1/Sub 2/added.txt", b"added".to_vec());
    d.fake.delete(deleted);
    let (path, _) = e.synced.remove(deleted).unwrap();
    e.deleted.insert(deleted.clone(), path);
    d.fake.rename(renamed, "renamed.txt");
    d.fake.reset_counts();
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 2, "{}", changed.message);
    assert_eq!(changed.files_deleted, 1, "{}", changed.message);
    let counts = d.fake.counts();
    assert_eq!(
        counts.content, 2,
        "the modified and the added file: {counts:?}"
    );
    assert!(
        counts.delta <= 2,
        "the change feed, not a listing: {counts:?}"
    );
    // The renamed file kept its content (same cTag): not downloaded again.
    let files = d.store.files(d.config.id).await.unwrap();
    let r = files.iter().find(|f| &f.remote_id == renamed).unwrap();
    assert_eq!(r.status, FileStatus::Synced);
    e.synced.get_mut(renamed).unwrap().0 = r.remote_path.clone().unwrap();
    check(&d, &e).await;

    // A deleted folder: the feed names only what Graph reports, so the provider asks for a
    // full listing, which finds every file that went with it.
    let top4 = d
        .fake
        .metadata(&first_folder_at(&d.fake, &e, "Top 4/Sub 1/"))["parentReference"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    d.fake.delete(&top4);
    let gone: Vec<String> = e
        .synced
        .iter()
        .filter(|(_, (p, _))| p.starts_with("Top 4/"))
        .map(|(id, _)| id.clone())
        .collect();
    for id in &gone {
        let (path, _) = e.synced.remove(id).unwrap();
        e.deleted.insert(id.clone(), path);
    }
    d.fake.reset_counts();
    let after = d.sync().await;
    assert_eq!(
        after.files_deleted as usize,
        gone.len(),
        "{}",
        after.message
    );
    assert_eq!(after.files_synced, 0, "{}", after.message);
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_delta_token_means_a_full_resync_with_the_same_result() {
    let d = drive().await;
    let mut e = populate(&d.fake, 4);
    d.sync().await;
    check(&d, &e).await;
    e.change_one(&d.fake, "Top 3/", b"changed before the token expired");
    d.fake.invalidate_delta_tokens();
    d.fake.reset_counts();
    let report = d.sync().await;
    assert_eq!(report.files_synced, 1, "{}", report.message);
    let counts = d.fake.counts();
    assert!(
        counts.delta as usize > e.synced.len() / 40,
        "a full round of delta pages after the 410: {counts:?}"
    );
    check(&d, &e).await;
    // And the new token works: nothing to do, one request.
    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(again.files_synced, 0);
    assert!(d.fake.counts().delta <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_do_not_change_the_result() {
    let d = drive().await;
    let mut e = populate(&d.fake, 5);
    d.fake.inject(Target::Delta, Fault::Status500, 3, None);
    d.fake.inject(
        Target::Delta,
        Fault::RateLimit429 {
            retry_after: Some(1),
        },
        5,
        Some(2),
    );
    d.fake.inject(
        Target::Delta,
        Fault::Unavailable503 {
            retry_after: Some(1),
        },
        7,
        Some(1),
    );
    d.fake.inject(Target::Item, Fault::Status500, 2, Some(3));
    d.fake.inject(
        Target::Content,
        Fault::RateLimit429 {
            retry_after: Some(1),
        },
        13,
        Some(2),
    );
    d.fake.inject(Target::Content, Fault::Status500, 11, None);
    d.fake.inject(
        Target::Cdn,
        Fault::Unavailable503 { retry_after: None },
        9,
        None,
    );
    // A body damaged once in transit: caught by the checksum, fetched again, kept.
    d.fake.inject(Target::Cdn, Fault::CorruptBody, 17, Some(3));
    let report = d.sync().await;
    assert!(report.success, "{:?}", report.failures);
    check(&d, &e).await;

    // The change feed under faults too.
    e.change_one(&d.fake, "Top 2/", b"changed under faults");
    d.fake.inject(Target::Delta, Fault::Status500, 1, Some(2));
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 1, "{}", changed.message);
    check(&d, &e).await;
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
    let config = d.store.config(d.config.id).await.unwrap().unwrap();
    let report = d.engine(opts).run(&config).await.unwrap();
    assert!(report.success, "{:?}", report.failures);
    assert_eq!(
        d.fake.counts().token_refresh,
        1,
        "one refresh for all the 401s"
    );
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drive_by_id_with_paths_in_delta() {
    let d = drive().await;
    // Personal drives put parentReference.path in delta items; the result is the same.
    d.fake.set_paths_in_delta(true);
    let e = populate(&d.fake, 2);
    let mut config = d.store.config(d.config.id).await.unwrap().unwrap();
    config.provider_config = serde_json::json!({ "drive_id": d.fake.drive_id() });
    d.store.put_config(&config).await.unwrap();
    let report = d.sync().await;
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_download_is_caught_by_quick_xor_hash_and_not_kept() {
    let d = drive().await;
    let mut e = populate(&d.fake, 1);
    let root = d.fake.root_id();
    let corrupt = d
        .fake
        .add_file(&root, "corrupt.txt", b"these bytes arrive damaged".to_vec());
    d.fake.corrupt_downloads_of(&corrupt);
    e.failed.insert(corrupt.clone(), "quickxor");
    let report = d.sync().await;
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    assert_eq!(report.files_failed, 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].remote_id, corrupt);
    assert!(
        report.failures[0].error.contains("checksum"),
        "{:?}",
        report.failures
    );
    // check() also counts the bucket's objects: the damaged bytes were not kept.
    check(&d, &e).await;
}
