//! A config whose filters change stays correct (issue 14): widening brings in every file already
//! in the new scope, though the change feed would never mention them; narrowing marks the files
//! now out of scope `excluded` (objects kept); widening again restores them without a download;
//! and no file is downloaded twice. The same scenario for every provider with a change feed
//! (Google Drive, Dropbox, OneDrive): the real component against its fake, whose feed is what a
//! stale cursor would silently trust.

use p8sync::config::ProviderOverrides;
use p8sync::oauth::{Grant, Keyring};
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync_e2e::engine::{self, Harness, Setup, WithFake};
use p8sync_e2e::fake_box::FakeBox;
use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::fake_dropbox::FakeDropbox;
use p8sync_e2e::fake_onedrive::FakeOneDrive;
use std::collections::BTreeMap;

/// What the scenario needs of a fake provider.
trait Fake: Sized {
    const PROVIDER: &'static str;
    const COMPONENT: &'static str;
    async fn start() -> Self;
    fn overrides(&self) -> ProviderOverrides;
    fn grant(&self) -> Grant;
    /// A folder at the top of the drive; what `file` takes as its parent.
    fn folder(&self, name: &str) -> String;
    /// A file `name` in `folder` (named `folder_name`); its remote id.
    fn file(&self, folder: &str, folder_name: &str, name: &str, bytes: Vec<u8>) -> String;
    /// New content for a file.
    fn edit(&self, id: &str, bytes: Vec<u8>);
    /// File content downloads since the last reset.
    fn downloads(&self) -> u64;
    fn reset_counts(&self);
}

impl Fake for FakeDrive {
    const PROVIDER: &'static str = "google_drive";
    const COMPONENT: &'static str = "google-drive";
    async fn start() -> Self {
        FakeDrive::start().await
    }
    fn overrides(&self) -> ProviderOverrides {
        FakeDrive::overrides(self)
    }
    fn grant(&self) -> Grant {
        FakeDrive::grant(self)
    }
    fn folder(&self, name: &str) -> String {
        self.add_folder(&self.root_id(), name)
    }
    fn file(&self, folder: &str, _: &str, name: &str, bytes: Vec<u8>) -> String {
        let mime = if name.ends_with(".pdf") {
            "application/pdf"
        } else {
            "text/plain"
        };
        self.add_file(&[folder], name, mime, bytes)
    }
    fn edit(&self, id: &str, bytes: Vec<u8>) {
        self.update_content(id, bytes);
    }
    fn downloads(&self) -> u64 {
        self.counts().media
    }
    fn reset_counts(&self) {
        FakeDrive::reset_counts(self);
    }
}

impl Fake for FakeDropbox {
    const PROVIDER: &'static str = "dropbox";
    const COMPONENT: &'static str = "dropbox";
    async fn start() -> Self {
        FakeDropbox::start().await
    }
    fn overrides(&self) -> ProviderOverrides {
        FakeDropbox::overrides(self)
    }
    fn grant(&self) -> Grant {
        FakeDropbox::grant(self)
    }
    fn folder(&self, name: &str) -> String {
        self.add_folder(&format!("/{name}"));
        name.to_string()
    }
    fn file(&self, _: &str, folder_name: &str, name: &str, bytes: Vec<u8>) -> String {
        self.add_file(&format!("/{folder_name}/{name}"), bytes)
    }
    fn edit(&self, id: &str, bytes: Vec<u8>) {
        self.update(id, bytes);
    }
    fn downloads(&self) -> u64 {
        self.counts().download
    }
    fn reset_counts(&self) {
        FakeDropbox::reset_counts(self);
    }
}

impl Fake for FakeOneDrive {
    const PROVIDER: &'static str = "onedrive";
    const COMPONENT: &'static str = "onedrive";
    async fn start() -> Self {
        FakeOneDrive::start().await
    }
    fn overrides(&self) -> ProviderOverrides {
        FakeOneDrive::overrides(self)
    }
    fn grant(&self) -> Grant {
        FakeOneDrive::grant(self)
    }
    fn folder(&self, name: &str) -> String {
        self.add_folder(&self.root_id(), name)
    }
    fn file(&self, folder: &str, _: &str, name: &str, bytes: Vec<u8>) -> String {
        self.add_file(folder, name, bytes)
    }
    fn edit(&self, id: &str, bytes: Vec<u8>) {
        self.update_content(id, bytes);
    }
    fn downloads(&self) -> u64 {
        self.counts().content
    }
    fn reset_counts(&self) {
        FakeOneDrive::reset_counts(self);
    }
}

type Drive<F> = WithFake<F>;

async fn start<F: Fake>() -> Drive<F> {
    let fake = F::start().await;
    let user: UserId = "5c1b2f3e-0000-4000-8000-0000000000c5".parse().unwrap();
    let h = Harness::start(Setup {
        component: F::COMPONENT,
        settings: engine::runtime_settings(F::PROVIDER, fake.overrides()),
        keyring: std::sync::Arc::new(Keyring::new(&[9; 32], &[])),
        config: SyncConfig::new(user, F::PROVIDER, "scope"),
        options: engine::retrying_options(4),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    WithFake { fake, h }
}

/// The drive: `Documents` and `Work`, text and PDF files, one large file.
struct Files {
    docs: Vec<String>,
    work: Vec<String>,
    pdf: String,
    big: String,
}

fn populate<F: Fake>(fake: &F) -> Files {
    let documents = fake.folder("Documents");
    let work = fake.folder("Work");
    let docs = (0..3)
        .map(|i| {
            fake.file(
                &documents,
                "Documents",
                &format!("d{i}.txt"),
                format!("doc {i}").into(),
            )
        })
        .collect();
    let mut work_files: Vec<String> = (0..3)
        .map(|i| {
            fake.file(
                &work,
                "Work",
                &format!("w{i}.txt"),
                format!("work {i}").into(),
            )
        })
        .collect();
    let pdf = fake.file(&work, "Work", "report.pdf", b"%PDF-1.4 tiny".to_vec());
    let big = fake.file(&work, "Work", "big.txt", vec![b'x'; 5000]);
    work_files.extend([pdf.clone(), big.clone()]);
    Files {
        docs,
        work: work_files,
        pdf,
        big,
    }
}

/// One narrowing of the scope: the reason files get, the change, the files it leaves out.
type Narrowing<'a> = (&'static str, fn(&mut SyncConfig), Vec<&'a String>);

/// Change the stored config's filters, keeping its cursor (as an API update does).
async fn refilter<F>(d: &Drive<F>, change: impl FnOnce(&mut SyncConfig)) {
    let mut config = d.h.config().await;
    change(&mut config);
    d.h.store.put_config(&config).await.unwrap();
}

/// Status and reason of every row, by remote id.
async fn states<F>(d: &Drive<F>) -> BTreeMap<String, (FileStatus, Option<String>, bool)> {
    d.h.rows()
        .await
        .into_iter()
        .map(|(id, f)| (id, (f.status, f.error_message, f.s3_uri.is_some())))
        .collect()
}

impl Fake for FakeBox {
    const PROVIDER: &'static str = "box";
    const COMPONENT: &'static str = "box";
    async fn start() -> Self {
        FakeBox::start().await
    }
    fn overrides(&self) -> ProviderOverrides {
        FakeBox::overrides(self)
    }
    fn grant(&self) -> Grant {
        FakeBox::grant(self)
    }
    fn folder(&self, name: &str) -> String {
        self.add_folder(&self.root_id(), name)
    }
    fn file(&self, folder: &str, _: &str, name: &str, bytes: Vec<u8>) -> String {
        self.add_file(folder, name, bytes)
    }
    fn edit(&self, id: &str, bytes: Vec<u8>) {
        self.update_content(id, bytes);
    }
    fn downloads(&self) -> u64 {
        self.counts().content
    }
    fn reset_counts(&self) {
        FakeBox::reset_counts(self);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_drive() {
    widening_and_narrowing_each_filter_keeps_the_sync_correct::<FakeDrive>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox() {
    widening_and_narrowing_each_filter_keeps_the_sync_correct::<FakeDropbox>().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onedrive() {
    widening_and_narrowing_each_filter_keeps_the_sync_correct::<FakeOneDrive>().await;
}

async fn widening_and_narrowing_each_filter_keeps_the_sync_correct<F: Fake>() {
    let d = start::<F>().await;
    let files = populate(&d.fake);
    let all: Vec<&String> = files.docs.iter().chain(&files.work).collect();

    // Only Documents: three files, and a change cursor saved under that scope.
    refilter(&d, |c| c.include_folders = vec!["Documents".into()]).await;
    let r = d.h.sync().await;
    assert_eq!(r.files_synced, 3, "{}", r.message);
    assert!(d.h.config().await.change_cursor.is_some());
    assert_eq!(d.fake.downloads(), 3);

    // Widened to Work too. Nothing changed in the drive, so the feed says nothing; the files
    // already in Work must still arrive, and Documents' are not downloaded again.
    refilter(&d, |c| {
        c.include_folders = vec!["Documents".into(), "Work".into()]
    })
    .await;
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!(
        r.files_synced, 5,
        "every file already in Work: {}",
        r.message
    );
    assert_eq!(r.files_unchanged, 3, "{}", r.message);
    assert_eq!(d.fake.downloads(), 5, "only Work's files are downloaded");

    // The same scope again: the feed is trusted, nothing is downloaded.
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!((r.files_synced, r.files_skipped), (0, 0), "{}", r.message);
    assert_eq!(d.fake.downloads(), 0);

    // Narrowed, one kind of filter at a time: the files now out of scope are excluded with
    // why, their objects kept; nothing is downloaded.
    let narrowings: [Narrowing; 5] = [
        (
            // A provider that takes included folders itself (Drive) lists only those: the files
            // of Work are not listed at all, and are excluded, not taken for deleted.
            "not under an included folder",
            |c| c.include_folders = vec!["Documents".into()],
            files.work.iter().collect(),
        ),
        (
            "file type not included",
            |c| c.include_file_types = vec!["txt".into()],
            vec![&files.pdf],
        ),
        (
            "file type `pdf` is excluded",
            |c| c.exclude_file_types = vec!["pdf".into()],
            vec![&files.pdf],
        ),
        (
            "over the 1000 byte limit",
            |c| c.max_file_size = Some(1000),
            vec![&files.big],
        ),
        (
            "under the excluded folder `Work`",
            |c| c.exclude_folders = vec!["Work".into()],
            files.work.iter().collect(),
        ),
    ];
    for (reason, narrow, out) in narrowings {
        refilter(&d, narrow).await;
        d.fake.reset_counts();
        let r = d.h.sync().await;
        assert_eq!(r.files_synced, 0, "{reason}: {}", r.message);
        assert_eq!(d.fake.downloads(), 0, "{reason}: nothing is downloaded");
        let now = states(&d).await;
        for id in &all {
            let (status, message, has_object) = &now[id.as_str()];
            if out.contains(id) {
                assert_eq!(*status, FileStatus::Excluded, "{reason}: {id}");
                assert!(
                    message.as_deref().unwrap_or_default().contains(reason),
                    "{reason}: {id} says {message:?}"
                );
                assert!(has_object, "{reason}: {id}'s object is kept");
            } else {
                assert_eq!(*status, FileStatus::Synced, "{reason}: {id} stays synced");
            }
        }

        // Widened back to everything: the excluded files are restored as they were, with no
        // download, because their content did not change.
        refilter(&d, |c| {
            c.include_folders = vec![];
            c.exclude_folders = vec![];
            c.include_file_types = vec![];
            c.exclude_file_types = vec![];
            c.max_file_size = None;
        })
        .await;
        d.fake.reset_counts();
        let r = d.h.sync().await;
        assert_eq!(r.files_synced, 0, "{reason}, widened: {}", r.message);
        assert_eq!(d.fake.downloads(), 0, "{reason}, widened: no download");
        let now = states(&d).await;
        for id in &all {
            assert_eq!(
                now[id.as_str()].0,
                FileStatus::Synced,
                "{reason}, widened: {id}"
            );
        }
    }

    // A file that changed while it was out of scope is downloaded when it comes back.
    refilter(&d, |c| c.exclude_folders = vec!["Work".into()]).await;
    d.h.sync().await;
    d.fake.edit(&files.work[0], b"work 0, edited".to_vec());
    refilter(&d, |c| c.exclude_folders = vec![]).await;
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!(r.files_synced, 1, "{}", r.message);
    assert_eq!(d.fake.downloads(), 1);
    let row = &d.h.rows().await[files.work[0].as_str()];
    d.h.assert_stored(row, "edited", b"work 0, edited").await;

    // `--full` lists everything with the scope unchanged, and finds nothing to do.
    d.fake.reset_counts();
    let options = p8sync::sync::SyncOptions {
        full: true,
        ..engine::retrying_options(4)
    };
    let r = d.h.run(options).await.unwrap();
    assert_eq!((r.files_synced, r.files_unchanged), (0, 8), "{}", r.message);
    assert_eq!(d.fake.downloads(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r#box() {
    widening_and_narrowing_each_filter_keeps_the_sync_correct::<FakeBox>().await;
}
