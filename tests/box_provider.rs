//! The Box provider end to end: the real component in the sandbox, a fake Box that behaves as
//! the reference says (marker paging, the events stream with repeats and late events, 302 to a
//! download server, sha1, 202 "not ready", rotating refresh tokens, faults), a real Postgres and
//! a real S3 server.

use p8sync::oauth::Keyring;
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync::sync::SyncOptions;
use p8sync_e2e::Opened;
use p8sync_e2e::engine::{self, Harness, Setup, WithFake};
use p8sync_e2e::fake_box::{FakeBox, Fault, Target};
use sha1::Digest as _;
use std::collections::HashMap;
use std::sync::Arc;

const PROVIDER: &str = "box";

fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000b0".parse().unwrap()
}

/// Everything one test needs: the fake and the shared engine harness.
type Account = WithFake<FakeBox>;

async fn account(provider_config: serde_json::Value) -> Account {
    let fake = FakeBox::start().await;
    // Small pages, so every folder of some size spans several.
    fake.set_max_page(7);
    let mut config = SyncConfig::new(user(), PROVIDER, "my box");
    config.provider_config = provider_config;
    let h = Harness::start(Setup {
        component: "box",
        settings: engine::runtime_settings(PROVIDER, fake.overrides()),
        keyring: Arc::new(Keyring::new(&[42; 32], &[])),
        config,
        options: options(),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    Account { fake, h }
}

fn options() -> SyncOptions {
    engine::retrying_options(8)
}

fn sha1_hex(bytes: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(bytes))
}

/// What the account holds and what each file should become.
#[derive(Default)]
struct Expect {
    /// remote id -> (remote path, bytes)
    synced: HashMap<String, (String, Vec<u8>)>,
    /// remote id -> path of files recorded and then deleted remotely
    deleted: HashMap<String, String>,
    /// remote id -> a fragment of the reason it was skipped or failed
    not_synced: HashMap<String, (FileStatus, &'static str)>,
    /// folder path -> id
    folders: HashMap<String, String>,
}

impl Expect {
    fn file(&mut self, fake: &FakeBox, parent: &str, path: &str, bytes: Vec<u8>) -> String {
        let name = path.rsplit('/').next().unwrap();
        let id = fake.add_file(parent, name, bytes.clone());
        self.synced.insert(id.clone(), (path.to_string(), bytes));
        id
    }

    fn folder(&mut self, fake: &FakeBox, parent: &str, path: &str) -> String {
        let name = path.rsplit('/').next().unwrap();
        let id = fake.add_folder(parent, name);
        self.folders.insert(path.to_string(), id.clone());
        id
    }

    fn files_under(&self, prefix: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .synced
            .iter()
            .filter(|(_, (p, _))| p.starts_with(prefix))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn gone(&mut self, id: &str) {
        let (path, _) = self.synced.remove(id).unwrap();
        self.deleted.insert(id.to_string(), path);
    }
}

/// An account of `3 * 3 * per_folder` files in nested folders, plus the awkward cases.
fn populate(fake: &FakeBox, per_folder: usize) -> Expect {
    let mut e = Expect::default();
    let root = fake.root_id();
    for top in 0..3 {
        let t = format!("Top {top}");
        let tid = e.folder(fake, &root, &t);
        for sub in 0..3 {
            let s = format!("{t}/Sub {sub}");
            let sid = e.folder(fake, &tid, &s);
            let (pid, ppath) = if sub == 2 {
                let deep = format!("{s}/deep");
                (e.folder(fake, &sid, &deep), deep)
            } else {
                (sid, s)
            };
            for i in 0..per_folder {
                let bytes = format!("file {i} of {ppath}\n")
                    .repeat(1 + i % 5)
                    .into_bytes();
                e.file(fake, &pid, &format!("{ppath}/f{i:03}.txt"), bytes);
            }
        }
    }
    let work = e.folder(fake, &root, "Work");
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
    let big: Vec<u8> = (0..2_000_003u32).map(|i| (i * 7 + i / 251) as u8).collect();
    e.file(fake, &work, "Work/big.bin", big);
    // A bookmark has no content: recorded as skipped, with the reason.
    let link = fake.add_web_link(&work, "Box docs", "https://developer.box.com");
    e.not_synced.insert(link, (FileStatus::Skipped, "web link"));
    // Changed twice before the first sync: the last content counts.
    let twice = e.file(fake, &work, "Work/twice.txt", b"one".to_vec());
    fake.update_content(&twice, b"two".to_vec());
    fake.update_content(&twice, b"three".to_vec());
    e.synced.get_mut(&twice).unwrap().1 = b"three".to_vec();
    e
}

/// Check every row and object against what the account should have produced.
async fn check(d: &Account, e: &Expect) {
    let rows = d.rows().await;
    for (id, (path, bytes)) in &e.synced {
        let f = rows
            .get(id)
            .unwrap_or_else(|| panic!("{path} ({id}) has no SyncFile row"));
        d.assert_stored(f, path, bytes).await;
        assert_eq!(f.remote_path.as_deref(), Some(path.as_str()), "{id}");
        assert_eq!(
            f.remote_checksum.as_deref(),
            Some(format!("sha1:{}", sha1_hex(bytes)).as_str()),
            "{path}"
        );
    }
    for (id, path) in &e.deleted {
        let f = rows
            .get(id)
            .unwrap_or_else(|| panic!("deleted {path} has no row"));
        assert_eq!(f.status, FileStatus::Deleted, "{path}");
    }
    for (id, (status, reason)) in &e.not_synced {
        let f = rows.get(id).unwrap_or_else(|| panic!("{id} has no row"));
        assert_eq!(&f.status, status, "{id}");
        let message = f
            .error_message
            .as_deref()
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            message.contains(reason),
            "{id}: {message:?} should mention {reason}"
        );
        assert!(f.s3_uri.is_none(), "no object for {id}");
    }
    let files = rows.values().filter(|f| f.s3_uri.is_some()).count();
    assert!(
        files >= e.synced.len() && files <= e.synced.len() + e.deleted.len(),
        "{files} rows with objects for {} synced files",
        e.synced.len()
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_resync_and_changes_through_the_events_stream() {
    let d = account(serde_json::json!({})).await;
    let mut e = populate(&d.fake, 9);

    let report = d.sync().await;
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    assert_eq!(
        d.fake.counts().content as usize,
        e.synced.len(),
        "each file fetched once"
    );
    check(&d, &e).await;

    // Nothing changed: one events page, no listing, no download.
    d.fake.reset_counts();
    let again = d.sync().await;
    assert_eq!(again.files_synced, 0, "{}", again.message);
    let counts = d.fake.counts();
    assert_eq!(counts.content + counts.cdn + counts.items, 0, "{counts:?}");
    assert!(counts.events <= 1, "an unchanged re-sync made {counts:?}");
    check(&d, &e).await;

    // Modify (twice), add, trash, rename; events repeat and arrive out of order.
    d.fake.set_repeat_events(true);
    d.fake.set_shuffle_events(true);
    d.fake.set_max_events(3);
    let in_sub1 = e.files_under("Top 1/Sub 1/");
    let (modified, trashed, renamed) = (&in_sub1[0], &in_sub1[1], &in_sub1[2]);
    d.fake.update_content(modified, b"new".to_vec());
    d.fake.update_content(modified, b"newer content".to_vec());
    e.synced.get_mut(modified).unwrap().1 = b"newer content".to_vec();
    let sub1 = e.folders["Top 1/Sub 1"].clone();
    e.file(&d.fake, &sub1, "Top 1/Sub 1/added.txt", b"added".to_vec());
    d.fake.trash(trashed);
    e.gone(trashed);
    d.fake.rename(renamed, "renamed.txt");
    e.synced.get_mut(renamed).unwrap().0 = "Top 1/Sub 1/renamed.txt".into();
    d.fake.reset_counts();
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 2, "{}", changed.message);
    assert_eq!(changed.files_deleted, 1, "{}", changed.message);
    let counts = d.fake.counts();
    assert_eq!(
        counts.content, 2,
        "the modified and the added file: {counts:?}"
    );
    assert_eq!(
        counts.items, 0,
        "the events stream, not a listing: {counts:?}"
    );
    check(&d, &e).await;

    // A folder moved and one renamed: Box sends one event each, the provider walks them, and
    // their files get their new paths without a download.
    let top2 = e.folders["Top 2"].clone();
    let work = e.folders["Work"].clone();
    d.fake.move_to(&e.folders["Top 2/Sub 0"], &work);
    for id in e.files_under("Top 2/Sub 0/") {
        let p = &mut e.synced.get_mut(&id).unwrap().0;
        *p = p.replacen("Top 2/Sub 0/", "Work/Sub 0/", 1);
    }
    d.fake.rename(&top2, "Second");
    for id in e.files_under("Top 2/") {
        let p = &mut e.synced.get_mut(&id).unwrap().0;
        *p = p.replacen("Top 2/", "Second/", 1);
    }
    d.fake.reset_counts();
    let moved = d.sync().await;
    assert_eq!(moved.files_synced, 0, "{}", moved.message);
    assert_eq!(moved.files_failed, 0, "{:?}", moved.failures);
    assert_eq!(d.fake.counts().content, 0, "a move is not a download");
    check(&d, &e).await;

    // A folder to the trash: one event for the folder, so the provider asks for a full
    // listing, which finds every file that went with it.
    let gone = e.files_under("Top 0/");
    d.fake.trash(&e.folders["Top 0"]);
    for id in &gone {
        e.gone(id);
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
    assert_eq!(d.fake.counts().content, 0);
    check(&d, &e).await;

    // Restored from the trash: one event; the walk brings the files back.
    d.fake.restore(&e.folders["Top 0"]);
    d.fake.reset_counts();
    let restored = d.sync().await;
    assert_eq!(restored.files_failed, 0, "{:?}", restored.failures);
    let rows = d.rows().await;
    for id in &gone {
        assert_eq!(rows[id].status, FileStatus::Synced, "{id} is back");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_rotates_the_refresh_token_and_the_new_one_is_kept() {
    let d = account(serde_json::json!({})).await;
    let e = populate(&d.fake, 2);
    let stored_refresh = |d: &Account| {
        let tokens = d.tokens.clone();
        let user = d.config.userid;
        async move {
            let (_, refresh) = tokens.opened(user, PROVIDER).await.unwrap().unwrap();
            refresh.unwrap().expose().to_string()
        }
    };
    let first = stored_refresh(&d).await;
    assert!(d.fake.refresh_token_is_live(&first));
    let fake = d.fake.clone();
    let fired = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut opts = options();
    opts.progress = Some(Arc::new(move |p: p8sync::sync::Progress| {
        if p.files_done >= 10 && !fired.swap(true, std::sync::atomic::Ordering::SeqCst) {
            fake.expire_access_tokens();
        }
    }));
    d.fake.reset_counts();
    let config = d.store.config(d.config.id).await.unwrap().unwrap();
    let report = d.engine(opts).run(&config).await.unwrap();
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    let counts = d.fake.counts();
    assert_eq!(
        counts.token_refresh, 1,
        "one refresh for all the 401s: {counts:?}"
    );
    assert_eq!(counts.token_refresh_refused, 0, "{counts:?}");
    check(&d, &e).await;
    let second = stored_refresh(&d).await;
    assert_ne!(first, second, "the rotated refresh token was saved");
    assert!(
        !d.fake.refresh_token_is_live(&first),
        "Box killed the old one"
    );
    assert!(d.fake.refresh_token_is_live(&second));

    // The old refresh token is dead now; the next expiry works only if the new one was saved.
    for round in 2..=3 {
        d.fake.expire_access_tokens();
        let id = e.synced.keys().min().unwrap().clone();
        d.fake
            .update_content(&id, format!("after expiry {round}").into_bytes());
        let next = d.sync().await;
        assert_eq!(next.files_synced, 1, "{}", next.message);
        let counts = d.fake.counts();
        assert_eq!(counts.token_refresh, round, "{counts:?}");
        assert_eq!(counts.token_refresh_refused, 0, "{counts:?}");
    }
    let status = d.tokens.status(Some(d.config.userid)).await.unwrap();
    assert!(!status[0].needs_reauth, "{:?}", status[0].reauth_reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_refresh_token_asks_for_a_new_login() {
    let d = account(serde_json::json!({})).await;
    populate(&d.fake, 1);
    d.fake.expire_access_tokens();
    d.fake.revoke_refresh_tokens();
    let error = d.run(options()).await.unwrap_err().to_string();
    assert!(
        error.contains("p8sync auth login --provider box"),
        "{error}"
    );
    assert!(error.contains("Refresh token has expired"), "{error}");
    assert_eq!(d.fake.counts().token_refresh_refused, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_faults_and_files_not_ready_do_not_change_the_result() {
    let d = account(serde_json::json!({})).await;
    let mut e = populate(&d.fake, 4);
    let limited = |n| Fault::RateLimit429 {
        retry_after: Some(n),
    };
    d.fake.inject(Target::Items, limited(1), 3, Some(3));
    d.fake.inject(Target::Items, Fault::Status500, 5, None);
    d.fake.inject(Target::Events, limited(1), 1, Some(1));
    d.fake.inject(Target::Content, limited(1), 7, Some(3));
    d.fake.inject(Target::Content, Fault::Status500, 11, None);
    d.fake.inject(
        Target::Cdn,
        Fault::Unavailable503 { retry_after: None },
        9,
        None,
    );
    // Damaged once in transit: caught by sha1, fetched again, kept.
    d.fake.inject(Target::Cdn, Fault::CorruptBody, 13, Some(2));
    let slow = e.files_under("Work/big.bin")[0].clone();
    d.fake.not_ready_once(&slow);
    let report = d.sync().await;
    assert_eq!(report.files_failed, 0, "{:?}", report.failures);
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    check(&d, &e).await;

    // The events stream under faults too.
    let id = e.files_under("Top 2/")[0].clone();
    d.fake.update_content(&id, b"changed under faults".to_vec());
    e.synced.get_mut(&id).unwrap().1 = b"changed under faults".to_vec();
    d.fake.inject(Target::Events, limited(1), 1, Some(2));
    d.fake.inject(Target::Events, Fault::Status500, 1, Some(1));
    let changed = d.sync().await;
    assert_eq!(changed.files_synced, 1, "{}", changed.message);
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupted_download_is_caught_by_sha1_and_not_kept() {
    let d = account(serde_json::json!({})).await;
    let mut e = populate(&d.fake, 1);
    let corrupt = d.fake.add_file(
        &d.fake.root_id(),
        "corrupt.txt",
        b"these bytes arrive damaged".to_vec(),
    );
    d.fake.corrupt_downloads_of(&corrupt);
    e.not_synced
        .insert(corrupt.clone(), (FileStatus::Failed, "sha1"));
    let report = d.sync().await;
    assert_eq!(
        report.files_synced as usize,
        e.synced.len(),
        "{}",
        report.message
    );
    assert_eq!(report.files_failed, 1, "{:?}", report.failures);
    assert_eq!(report.failures[0].remote_id, corrupt);
    check(&d, &e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_id_scopes_the_sync_and_paths_are_relative_to_it() {
    let d = account(serde_json::json!({})).await;
    let all = populate(&d.fake, 2);
    let top1 = all.folders["Top 1"].clone();
    let mut config = d.store.config(d.config.id).await.unwrap().unwrap();
    config.provider_config = serde_json::json!({ "folder_id": top1 });
    d.store.put_config(&config).await.unwrap();
    let report = d.sync().await;
    let expected = all.files_under("Top 1/");
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
            "{path} should be relative to Top 1"
        );
    }
    // A change outside the folder is not this config's business; one inside is, and a file
    // moved out of it leaves.
    d.fake
        .add_file(&all.folders["Top 2"], "outside.txt", b"x".to_vec());
    d.fake.add_file(&top1, "inside.txt", b"y".to_vec());
    d.fake.move_to(&expected[0], &all.folders["Work"]);
    let next = d.sync().await;
    assert_eq!(next.files_synced, 1, "{}", next.message);
    assert_eq!(next.files_deleted, 1, "{}", next.message);
    let rows = d.rows().await;
    assert_eq!(rows[&expected[0]].status, FileStatus::Deleted);
    assert!(
        rows.values()
            .all(|f| f.remote_path.as_deref() != Some("outside.txt"))
    );
}
