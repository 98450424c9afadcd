//! The seed's workflow for operators, in order, typed as an operator would, against the fake
//! Drive on Postgres: migrate, import a user's credential, list a folder of theirs with the
//! stored credential, create a config with filters, sync it, show a text file's chunks, and see
//! why a filtered file is left out.

use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_workflow_works_as_written() {
    let (url, _name) = postgres_database().await;
    let fake = FakeDrive::start().await;
    let root = fake.root_id();
    let documents = fake.add_folder(&root, "Documents");
    fake.add_file(
        &[&documents],
        "notes.txt",
        "text/plain",
        "The harbour light was lit at dusk.",
    );
    fake.add_file(
        &[&documents],
        "scan.pdf",
        "application/pdf",
        b"%PDF-1.4".to_vec(),
    );
    let other = fake.add_folder(&root, "Other");
    fake.add_file(&[&other], "elsewhere.txt", "text/plain", "not wanted");

    let data = tempfile::tempdir().unwrap();
    let user = "5c1b2f3e-0000-4000-8000-0000000000a7";
    let p8sync = |args: &[&str]| {
        let out = std::process::Command::new(p8sync_bin())
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("P8_DATA_DIR", data.path())
            .env("P8_PROVIDERS_DIR", providers_dir())
            .env("P8_EXTRACTORS_DIR", extractors_dir())
            .env("P8_ENCRYPTION_KEY", hex::encode([5u8; 32]))
            .envs(fake.env())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "p8sync {args:?} failed:\n{stderr}");
        stdout
    };

    assert!(p8sync(&["migrate"]).contains("migrated"));

    let grant = fake.grant();
    let tokens = data.path().join("tokens.json");
    std::fs::write(
        &tokens,
        serde_json::json!({
            "access_token": grant.access_token.expose(),
            "refresh_token": grant.refresh_token.as_ref().unwrap().expose(),
            "expires_in": 3600,
        })
        .to_string(),
    )
    .unwrap();
    p8sync(&[
        "auth",
        "import",
        "--provider",
        "google_drive",
        "--user",
        user,
        "--file",
        tokens.to_str().unwrap(),
    ]);

    // The user's folder, with names and types, through their stored credential.
    let listed = p8sync(&[
        "list",
        "--user",
        user,
        "--provider",
        "google_drive",
        "--folder",
        "Documents",
    ]);
    let row = listed
        .lines()
        .find(|l| l.contains("Documents/notes.txt"))
        .unwrap_or_else(|| panic!("notes.txt is not listed:\n{listed}"));
    assert!(row.contains("text/plain"), "{row}");
    assert!(!listed.contains("elsewhere.txt"), "{listed}");

    let id = p8sync(&[
        "config",
        "add",
        "--provider",
        "google_drive",
        "--user",
        user,
        "--name",
        "documents",
        "--include-folders",
        r#"["Documents"]"#,
        "--exclude-file-types",
        r#"["pdf"]"#,
    ]);
    let id = id.trim();
    let synced = p8sync(&["sync", "--config", id]);
    assert!(synced.contains("synced 1 files"), "{synced}");

    let shown = p8sync(&["show", "Documents/notes.txt"]);
    assert!(shown.contains("resources  1"), "{shown}");
    assert!(shown.contains("harbour light was lit"), "{shown}");

    let explained = p8sync(&["sync", "--config", id, "--dry-run", "--full"]);
    let line = explained
        .lines()
        .find(|l| l.contains("Documents/scan.pdf"))
        .unwrap_or_else(|| panic!("scan.pdf is not explained:\n{explained}"));
    assert!(
        line.trim_start().starts_with("skipped") && line.contains("file type `pdf` is excluded"),
        "{line}"
    );
    assert!(
        explained
            .lines()
            .any(|l| l.trim_start().starts_with("unchanged") && l.contains("notes.txt")),
        "{explained}"
    );
}
