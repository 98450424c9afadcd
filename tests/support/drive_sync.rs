//! A Google Drive sync under test, shared by the Drive tests and the secrets-in-logs test: the
//! fake Drive, the engine harness around the real component, a drive populated with every special
//! case the reference lists, and the check of every row and object it should produce.

use crate::engine::{self, Harness, Setup, WithFake};
use crate::fake_drive::FakeDrive;
use p8sync::oauth::Keyring;
use p8sync::store::ids::UserId;
use p8sync::store::{FileStatus, SyncConfig};
use p8sync::sync::SyncOptions;
use std::collections::HashMap;
use std::sync::Arc;

/// The MIME type Docs export to.
pub const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
/// The MIME type Sheets export to.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The provider id under test.
pub const PROVIDER: &str = "google_drive";

/// The one user these tests sync for.
pub fn user() -> UserId {
    "5c1b2f3e-0000-4000-8000-0000000000d1".parse().unwrap()
}

/// The credential keyring of these tests.
pub fn keyring() -> Arc<Keyring> {
    Arc::new(Keyring::new(&[42; 32], &[]))
}

/// Everything one test needs: the fake and the shared engine harness.
pub type Drive = WithFake<FakeDrive>;

/// A fake Drive, the engine harness around the real component, and a saved grant.
pub async fn drive() -> Drive {
    let fake = FakeDrive::start().await;
    let h = Harness::start(Setup {
        component: "google-drive",
        settings: engine::runtime_settings(PROVIDER, fake.overrides()),
        keyring: keyring(),
        config: SyncConfig::new(user(), PROVIDER, "my drive"),
        options: options(),
    })
    .await;
    h.save_grant(&fake.grant()).await;
    Drive { fake, h }
}

/// Sync options that retry enough to ride out injected faults.
pub fn options() -> SyncOptions {
    engine::retrying_options(8)
}

/// What the drive holds and what each item should become.
#[derive(Default)]
pub struct Expect {
    /// remote id -> (remote path, bytes)
    pub synced: HashMap<String, (String, Vec<u8>)>,
    /// remote id -> a fragment of the reason
    pub skipped: HashMap<String, &'static str>,
    /// remote id -> a fragment of the error
    pub failed: HashMap<String, &'static str>,
    /// ids that must not appear at all
    pub absent: Vec<String>,
}

impl Expect {
    /// Add a plain file at `path` and expect it synced byte for byte.
    pub fn file(
        &mut self,
        fake: &FakeDrive,
        parents: &[&str],
        path: &str,
        bytes: Vec<u8>,
    ) -> String {
        let name = path.rsplit('/').next().unwrap();
        let id = fake.add_file(parents, name, "text/plain", bytes.clone());
        self.synced.insert(id.clone(), (path.to_string(), bytes));
        id
    }
}

/// A drive of about 2,500 files in nested folders, with every special case the reference lists.
pub fn populate(fake: &FakeDrive, per_folder: usize) -> Expect {
    let mut e = Expect::default();
    let root = fake.root_id();
    for top in 0..5 {
        let t = format!("Top {top}");
        let tid = fake.add_folder(&root, &t);
        for sub in 0..10 {
            let s = format!("Sub {sub}");
            let sid = fake.add_folder(&tid, &s);
            // Deeper nesting on some branches.
            let (pid, ppath) = if sub % 3 == 0 {
                (fake.add_folder(&sid, "deep"), format!("{t}/{s}/deep"))
            } else {
                (sid.clone(), format!("{t}/{s}"))
            };
            for i in 0..per_folder {
                let bytes = format!("file {i} of {ppath}\n")
                    .repeat(1 + i % 5)
                    .into_bytes();
                e.file(fake, &[&pid], &format!("{ppath}/f{i:03}.txt"), bytes);
            }
        }
    }
    let work = fake.add_folder(&root, "Work");
    let personal = fake.add_folder(&root, "Personal");
    // Two files with one name in one folder: both synced, each under its own id.
    e.file(fake, &[&work], "Work/dup.txt", b"first dup".to_vec());
    e.file(fake, &[&work], "Work/dup.txt", b"second dup".to_vec());
    // One file in two folders: synced once.
    let two = fake.add_file(
        &[&work, &personal],
        "both.txt",
        "text/plain",
        b"in two folders".to_vec(),
    );
    e.synced.insert(
        two.clone(),
        ("*both.txt".into(), b"in two folders".to_vec()),
    );
    // Unicode and a slash in names.
    e.file(
        fake,
        &[&work],
        "Work/résumé 日本語 ✓.txt",
        "ünïcödé".as_bytes().to_vec(),
    );
    let slash = fake.add_file(&[&work], "a/b.txt", "text/plain", b"slash".to_vec());
    e.synced
        .insert(slash, ("Work/a/b.txt".into(), b"slash".to_vec()));
    // An empty file.
    e.file(fake, &[&personal], "Personal/empty.txt", Vec::new());
    // Google Docs and Sheets, exported.
    let doc = fake.add_workspace(&work, "Plan", "document", "the plan");
    e.synced.insert(
        doc.clone(),
        ("Work/Plan".into(), fake.export_bytes(&doc, DOCX)),
    );
    let sheet = fake.add_workspace(&work, "Budget", "spreadsheet", "1,2,3");
    e.synced.insert(
        sheet.clone(),
        ("Work/Budget".into(), fake.export_bytes(&sheet, XLSX)),
    );
    // A doc over the export limit: fetched through its export link instead.
    let big = fake.add_workspace(&work, "Huge", "document", "a very long document");
    fake.set_export_oversized(&big);
    e.synced.insert(
        big.clone(),
        ("Work/Huge".into(), fake.export_bytes(&big, DOCX)),
    );
    // A Form: cannot be exported.
    let form = fake.add_workspace(&work, "Survey", "form", "");
    e.skipped.insert(form, "form");
    // A file Google flags as abusive: recorded as failed, the sync goes on.
    let abusive = fake.add_file(
        &[&personal],
        "flagged.exe",
        "application/octet-stream",
        b"MZ".to_vec(),
    );
    fake.mark_abusive(&abusive);
    e.failed.insert(abusive, "abusive");
    // Trashed files never appear.
    let trashed = fake.add_file(&[&personal], "old.txt", "text/plain", b"trash".to_vec());
    fake.trash(&trashed);
    e.absent.push(trashed);
    // Shortcuts: one that works, one whose target is gone, one that loops.
    let target = e.file(
        fake,
        &[&personal],
        "Personal/target.txt",
        b"the target".to_vec(),
    );
    let shortcut = fake.add_shortcut(&work, "link to target", &target);
    e.synced.insert(
        shortcut,
        ("Work/link to target".into(), b"the target".to_vec()),
    );
    let dangling = fake.add_shortcut(&work, "broken link", "0BdoesNotExistAnywhere00000000");
    e.skipped.insert(dangling, "dangling");
    let loop_folder = fake.add_folder(&root, "Loop");
    let looping = fake.add_shortcut(&loop_folder, "back to loop", &loop_folder);
    e.skipped.insert(looping, "loop");
    // A shared drive, only visible with the all-drives flags.
    let team = fake.add_shared_drive("Team");
    let team_docs = fake.add_folder(&team, "Docs");
    for i in 0..20 {
        e.file(
            fake,
            &[&team_docs],
            &format!("Shared drives/Team/Docs/t{i}.txt"),
            format!("team {i}").into_bytes(),
        );
    }
    e
}

/// Check every row and object against what the drive should have produced.
pub async fn check(d: &Drive, e: &Expect) {
    let files = d.store.files(d.config.id).await.unwrap();
    let by_id: HashMap<&str, &p8sync::store::SyncFile> =
        files.iter().map(|f| (f.remote_id.as_str(), f)).collect();
    for (id, (path, bytes)) in &e.synced {
        let f = by_id
            .get(id.as_str())
            .unwrap_or_else(|| panic!("{path} ({id}) has no SyncFile row"));
        d.assert_stored(f, path, bytes).await;
        match path.strip_prefix('*') {
            // A file in two folders: either path is right.
            Some(name) => assert!(f.remote_path.as_deref().unwrap().ends_with(name)),
            None => assert_eq!(f.remote_path.as_deref(), Some(path.as_str()), "{id}"),
        }
    }
    for (id, reason) in &e.skipped {
        let f = row_with_reason(&by_id, id, FileStatus::Skipped, reason);
        assert!(f.s3_uri.is_none());
    }
    for (id, error) in &e.failed {
        row_with_reason(&by_id, id, FileStatus::Failed, error);
    }
    for id in &e.absent {
        assert!(
            !by_id.contains_key(id.as_str()),
            "{id} should not be recorded"
        );
    }
    let expected_rows = e.synced.len() + e.skipped.len() + e.failed.len();
    assert_eq!(files.len(), expected_rows, "one row per file, each once");
}

/// Every row of every p8sync table, as text.
pub async fn database_dump(d: &Drive) -> String {
    let db = &d.db;
    let admin = std::env::var("P8_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into());
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(db);
    let pool = sqlx::PgPool::connect(url.as_str()).await.unwrap();
    let mut dump = String::new();
    for table in ["SyncCredential", "SyncConfig", "SyncFile", "SyncLog"] {
        let rows: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            r#"SELECT t::text FROM p8."{table}" t"#
        )))
        .fetch_all(&pool)
        .await
        .unwrap();
        for (row,) in rows {
            dump.push_str(&row);
            dump.push('\n');
        }
    }
    dump
}

/// The row for `id`, asserted to have `status` and an error message that mentions `needle`.
fn row_with_reason<'a>(
    by_id: &HashMap<&str, &'a p8sync::store::SyncFile>,
    id: &str,
    status: FileStatus,
    needle: &str,
) -> &'a p8sync::store::SyncFile {
    let f = by_id
        .get(id)
        .unwrap_or_else(|| panic!("{status:?} {id} has no row"));
    assert_eq!(f.status, status, "{id}");
    let message = f
        .error_message
        .as_deref()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        message.contains(needle),
        "{id}: message {message:?} should mention {needle}"
    );
    f
}
