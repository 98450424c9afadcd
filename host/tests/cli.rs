//! The `p8sync` binary, as a user runs it. Needs the components built (scripts/test.sh).

mod common;

use common::{providers_dir, workspace};
use std::path::Path;
use std::process::{Command, Output};

fn p8sync(data: &Path, providers: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_p8sync"))
        .args(args)
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers)
        .env_remove("RUST_LOG")
        .output()
        .expect("running p8sync")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn providers_lists_local_with_its_details() {
    let data = tempfile::tempdir().unwrap();
    let out = p8sync(data.path(), &providers_dir(), &["providers"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let header = stdout.lines().next().unwrap();
    for col in ["ID", "VERSION", "WIT", "AUTH", "CAPABILITIES", "HOSTS"] {
        assert!(header.contains(col), "{header}");
    }
    let row = stdout
        .lines()
        .find(|l| l.starts_with("local "))
        .expect("a row for local");
    assert!(
        row.contains("0.1.0") && row.contains("none") && row.contains("local-root"),
        "{row}"
    );

    let out = p8sync(data.path(), &providers_dir(), &["providers", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let local = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "local")
        .expect("local is listed");
    assert_eq!(local["wit_version"], "0.1.1");
    let drive = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "google_drive")
        .expect("google_drive is listed");
    assert!(
        drive["allowed_hosts"]
            .as_str()
            .unwrap()
            .contains("www.googleapis.com"),
        "{drive}"
    );
}

#[test]
fn an_unknown_provider_names_the_available_ones() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let out = p8sync(
        data.path(),
        &providers_dir(),
        &[
            "list",
            "--provider",
            "sharefile",
            "--root",
            root.path().to_str().unwrap(),
        ],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown provider `sharefile`; available providers: box, dropbox, example, google_drive, local, onedrive, webdav"),
        "{stderr}"
    );
}

#[test]
fn a_corrupt_component_is_named_and_the_others_still_load() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        providers_dir().join("local-folder.wasm"),
        dir.path().join("local-folder.wasm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("broken.wasm"), b"\0asm\x0d\0\x01\0garbage").unwrap();
    let out = p8sync(data.path(), dir.path(), &["providers"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("broken.wasm") && stderr.contains("corrupt or invalid"),
        "{stderr}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("local ")), "{stdout}");
}

#[test]
fn list_prints_what_the_local_provider_sees() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("notes")).unwrap();
    std::fs::write(root.path().join("notes/todo.md"), "- [ ] write tests\n").unwrap();
    std::fs::write(root.path().join("hello.txt"), "hello").unwrap();
    let out = p8sync(
        data.path(),
        &providers_dir(),
        &[
            "list",
            "--provider",
            "local",
            "--root",
            root.path().to_str().unwrap(),
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("notes/todo.md"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("file") && l.contains("5 B") && l.ends_with("hello.txt")),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 files (23 B), 1 folders, 0 skipped"),
        "{stdout}"
    );
    let header = stdout.lines().next().unwrap();
    for col in ["KIND", "SIZE", "MODIFIED", "TYPE", "PATH", "ID"] {
        assert!(header.contains(col), "{header}");
    }

    // A folder by path, as configs name folders: only what is in it.
    let out = p8sync(
        data.path(),
        &providers_dir(),
        &[
            "list",
            "--provider",
            "local",
            "--root",
            root.path().to_str().unwrap(),
            "--folder",
            "notes/",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("notes/todo.md"), "{stdout}");
    assert!(!stdout.contains("hello.txt"), "{stdout}");
    assert!(stdout.contains("1 files (18 B), 0 folders"), "{stdout}");

    let out = p8sync(
        data.path(),
        &providers_dir(),
        &["list", "--provider", "local", "--root", "/no/such/folder"],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("--root /no/such/folder is not a folder"),
        "{stderr}"
    );
}

#[test]
fn inspect_describes_a_component_or_says_why_it_cannot() {
    let data = tempfile::tempdir().unwrap();
    let wasm = providers_dir().join("local-folder.wasm");
    let out = p8sync(
        data.path(),
        &providers_dir(),
        &["provider", "inspect", wasm.to_str().unwrap()],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("id:            local"), "{stdout}");
    assert!(
        stdout.contains("interface:     p8:provider@0.1.1"),
        "{stdout}"
    );
    assert!(stdout.contains("capabilities:  local-root"), "{stdout}");

    let bogus = data.path().join("bogus.wasm");
    std::fs::write(&bogus, "not wasm").unwrap();
    let out = p8sync(
        data.path(),
        &providers_dir(),
        &["provider", "inspect", bogus.to_str().unwrap()],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("bogus.wasm: not a WebAssembly component"),
        "{stderr}"
    );
}

fn p8sync_env(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p8sync"));
    c.args(args)
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env_remove("RUST_LOG")
        .env_remove("DATABASE_URL")
        .env_remove("P8_PG_HOST")
        .env_remove("S3_BUCKET_NAME")
        .env_remove("S3_DEFAULT_BUCKET");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("running p8sync")
}

#[test]
fn sync_a_folder_with_zero_set_up_then_again() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("notes")).unwrap();
    std::fs::write(root.path().join("notes/a.md"), "# a").unwrap();
    std::fs::write(root.path().join("b.txt"), "bee").unwrap();
    let folder = root.path().to_str().unwrap();

    let dry = p8sync_env(data.path(), &["sync", folder, "--dry-run"], &[]);
    let (stdout, stderr) = text(&dry);
    assert!(dry.status.success(), "{stderr}");
    assert!(stdout.contains("would sync 2 files"), "{stdout}");

    let first = p8sync_env(data.path(), &["sync", folder], &[]);
    let (stdout, stderr) = text(&first);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stdout.contains("synced 2 files (6 B), 0 unchanged, 0 failed"),
        "{stdout}"
    );
    let second = p8sync_env(data.path(), &["sync", folder], &[]);
    let (stdout, _) = text(&second);
    assert!(
        stdout.contains("synced 0 files (0 B), 2 unchanged"),
        "{stdout}"
    );
    assert!(data.path().join("p8sync.db").is_file());

    let logs = p8sync_env(data.path(), &["logs"], &[]);
    assert_eq!(
        text(&logs)
            .0
            .lines()
            .filter(|l| l.contains("success"))
            .count(),
        2
    );

    // Stopping a run that ended leaves it alone and says so; an unknown one is not found.
    let runs = p8sync_env(data.path(), &["logs", "--json"], &[]);
    let first: serde_json::Value =
        serde_json::from_str(text(&runs).0.lines().next().unwrap()).unwrap();
    let id = first["id"].as_str().unwrap();
    let cancel = p8sync_env(data.path(), &["logs", "--cancel", id], &[]);
    assert!(cancel.status.success(), "{}", text(&cancel).1);
    assert!(
        text(&cancel).1.contains("had ended already (success)"),
        "{}",
        text(&cancel).1
    );
    let unknown = "00000000-0000-4000-8000-000000000001";
    let cancel = p8sync_env(data.path(), &["logs", "--cancel", unknown], &[]);
    assert!(!cancel.status.success());
    assert!(
        text(&cancel).1.contains("no sync log"),
        "{}",
        text(&cancel).1
    );
}

#[test]
fn bad_input_gets_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().to_str().unwrap();
    /// Arguments, environment, and what stderr must say.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec!["sync", "/no/such/folder"],
            vec![],
            "cannot sync /no/such/folder: the folder does not exist",
        ),
        (
            vec!["sync", folder],
            vec![("DATABASE_URL", "postgres://postgres:hunter2@127.0.0.1:1/p8")],
            "cannot connect to the database at postgres://postgres:****@127.0.0.1:1/p8",
        ),
        (
            vec!["sync", folder],
            vec![
                ("S3_URL", "http://127.0.0.1:9"),
                ("S3_BUCKET_NAME", "archive"),
                ("S3_ACCESS_KEY", "a"),
                ("S3_SECRET", "b"),
            ],
            "the object store is not usable: cannot use the bucket `archive` at http://127.0.0.1:9",
        ),
        (
            vec!["config", "add", "--provider", "sharefile", "--name", "x"],
            vec![],
            "unknown provider `sharefile`; available providers: box, dropbox, example, google_drive, local, onedrive, webdav",
        ),
        (
            vec![
                "config",
                "add",
                "--provider",
                "local",
                "--name",
                "x",
                "--include-folders",
                "[Work",
            ],
            vec![],
            "--include-folders must be a JSON list of strings",
        ),
        (
            vec![
                "config",
                "add",
                "--provider",
                "local",
                "--name",
                "x",
                "--provider-config",
                "[1]",
            ],
            vec![],
            "--provider-config must be a JSON object",
        ),
        (
            vec![
                "config",
                "add",
                "--provider",
                "local",
                "--name",
                "x",
                "--schedule",
                "0 1 * *",
            ],
            vec![],
            "the schedule `0 1 * *` is not a five-field cron expression",
        ),
        (
            vec![
                "config",
                "add",
                "--provider",
                "local",
                "--name",
                "x",
                "--schedule",
                "0 1 * * *",
                "--timezone",
                "Mars/Olympus",
            ],
            vec![],
            "the time zone `Mars/Olympus` is unknown",
        ),
    ];
    for (args, env, expected) in cases {
        let out = p8sync_env(data.path(), &args, &env);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in:\n{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "a password leaked: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "one line, please: {stderr}"
        );
    }
}

#[test]
fn configs_can_be_added_listed_synced_and_removed() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("Work/Reports")).unwrap();
    std::fs::write(root.path().join("Work/Reports/q3.pdf"), "pdf").unwrap();
    std::fs::write(root.path().join("other.pdf"), "no").unwrap();
    let pc = serde_json::json!({"root": root.path()}).to_string();
    let out = p8sync_env(
        data.path(),
        &[
            "config",
            "add",
            "--provider",
            "local",
            "--name",
            "reports",
            "--include-folders",
            r#"["Work/Reports"]"#,
            "--provider-config",
            &pc,
            "--schedule",
            "0 1 * * *",
            "--timezone",
            "Europe/Berlin",
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let id = stdout.trim().to_string();
    let shown = text(&p8sync_env(data.path(), &["config", "show", &id], &[])).0;
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["schedule"], "0 1 * * *");
    assert_eq!(shown["schedule_timezone"], "Europe/Berlin");
    let list = text(&p8sync_env(data.path(), &["config", "list"], &[])).0;
    assert!(
        list.lines()
            .any(|l| l.starts_with(&id) && l.ends_with("reports")),
        "{list}"
    );

    let out = p8sync_env(data.path(), &["sync", "--all-due", "--json"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["files_synced"], 1);
    // Now it is not due any more.
    let out = p8sync_env(data.path(), &["sync", "--all-due", "--json"], &[]);
    assert!(text(&out).0.trim().is_empty(), "nothing was due");

    let files = text(&p8sync_env(data.path(), &["files", "--config", &id], &[])).0;
    assert!(
        files.contains("synced") && files.contains("Work/Reports/q3.pdf"),
        "{files}"
    );
    assert!(!files.contains("other.pdf"), "{files}");

    assert!(
        p8sync_env(data.path(), &["config", "remove", &id], &[])
            .status
            .success()
    );
    let out = p8sync_env(data.path(), &["config", "show", &id], &[]);
    assert!(text(&out).1.contains("no sync config with id"));
}

#[test]
fn extractors_lists_the_built_ins_and_refuses_what_is_not_one() {
    let data = tempfile::tempdir().unwrap();
    let built = workspace().join("target/extractors");
    let dir = built.to_str().unwrap();
    let out = p8sync_env(
        data.path(),
        &["extractors", "--json"],
        &[("P8_EXTRACTORS_DIR", dir)],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let by_id = |id: &str| {
        json["extractors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .unwrap_or_else(|| panic!("no {id} extractor: {json}"))
            .clone()
    };
    for (id, output, format) in [
        ("pdf", "text", "pdf"),
        ("office", "text", "xlsx"),
        ("html", "text", "html"),
        ("audio", "pcm", "flac"),
    ] {
        let e = by_id(id);
        assert_eq!(e["output"], output, "{e}");
        assert!(
            e["formats"].as_array().unwrap().iter().any(|f| f == format),
            "{e}"
        );
        let cap = e["memory_cap_mib"].as_u64().unwrap();
        assert!((16..=256).contains(&cap), "{e}");
    }
    assert_eq!(json["problems"], serde_json::json!([]), "{json}");

    // A provider is a component, but not an extractor: it is refused by name, and the table
    // still lists the others.
    let mixed = tempfile::tempdir().unwrap();
    std::fs::copy(built.join("html.wasm"), mixed.path().join("html.wasm")).unwrap();
    std::fs::copy(
        providers_dir().join("local-folder.wasm"),
        mixed.path().join("local-folder.wasm"),
    )
    .unwrap();
    let out = p8sync_env(
        data.path(),
        &["extractors"],
        &[("P8_EXTRACTORS_DIR", mixed.path().to_str().unwrap())],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.lines().any(|l| l.starts_with("html ")), "{stdout}");
    assert!(
        stderr.contains("local-folder.wasm: not a p8sync extractor"),
        "{stderr}"
    );

    // An empty folder adds nothing: the built-in extractors are still there.
    let empty = tempfile::tempdir().unwrap();
    let out = p8sync_env(
        data.path(),
        &["extractors"],
        &[("P8_EXTRACTORS_DIR", empty.path().to_str().unwrap())],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "extractors: the built-in extractors and {}",
            empty.path().display()
        )),
        "{stdout}"
    );
    assert!(stdout.lines().any(|l| l.starts_with("pdf ")), "{stdout}");
}

/// `sync --dry-run` says what would happen to each file and why (new, changed, unchanged,
/// filtered out), in text and JSON, and changes nothing: no rows, no run log, and for a folder
/// synced for the first time, no config.
#[test]
fn a_dry_run_explains_every_file_and_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("keep.txt"), "same").unwrap();
    std::fs::write(root.path().join("edit.txt"), "old").unwrap();
    std::fs::write(root.path().join("scan.pdf"), "%PDF").unwrap();
    let pc = serde_json::json!({"root": root.path()}).to_string();
    let add = p8sync_env(
        data.path(),
        &[
            "config",
            "add",
            "--provider",
            "local",
            "--name",
            "explained",
            "--exclude-file-types",
            r#"["pdf"]"#,
            "--provider-config",
            &pc,
        ],
        &[],
    );
    let id = text(&add).0.trim().to_string();
    assert!(add.status.success(), "{}", text(&add).1);
    let first = p8sync_env(data.path(), &["sync", "--config", &id], &[]);
    assert!(first.status.success(), "{}", text(&first).1);

    std::fs::write(root.path().join("edit.txt"), "new and longer").unwrap();
    std::fs::write(root.path().join("fresh.txt"), "hello").unwrap();
    let state = || {
        let files = text(&p8sync_env(
            data.path(),
            &["files", "--config", &id, "--json"],
            &[],
        ))
        .0;
        let logs = text(&p8sync_env(data.path(), &["logs", "--json"], &[])).0;
        let configs = text(&p8sync_env(data.path(), &["config", "list"], &[])).0;
        (files, logs, configs)
    };
    let before = state();

    let out = p8sync_env(data.path(), &["sync", "--config", &id, "--dry-run"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let line = |verdict: &str, name: &str| {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(verdict) && l.contains(name))
            .unwrap_or_else(|| panic!("no `{verdict} {name}` line in:\n{stdout}"))
            .to_string()
    };
    line("new", "fresh.txt");
    line("changed", "edit.txt");
    line("unchanged", "keep.txt");
    assert!(
        line("skipped", "scan.pdf").contains("file type `pdf` is excluded"),
        "{stdout}"
    );

    let out = p8sync_env(
        data.path(),
        &["sync", "--config", &id, "--dry-run", "--json"],
        &[],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: std::collections::BTreeMap<String, String> = report["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: std::collections::BTreeMap<String, String> = [
        ("edit.txt", "changed"),
        ("fresh.txt", "new"),
        ("keep.txt", "unchanged"),
        ("scan.pdf", "skipped"),
    ]
    .into_iter()
    .map(|(p, v)| (p.to_string(), v.to_string()))
    .collect();
    assert_eq!(verdicts, expected);

    // A folder never synced before: explained, but no config is created for it.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("x.txt"), "x").unwrap();
    let out = p8sync_env(
        data.path(),
        &["sync", other.path().to_str().unwrap(), "--dry-run"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    assert!(text(&out).0.contains("x.txt"), "{}", text(&out).0);

    assert_eq!(state(), before, "a dry run changed nothing");

    // Narrowed by updating the config: the file now out of scope is excluded, and `files` says
    // why.
    let narrowed = p8sync_env(
        data.path(),
        &[
            "config",
            "add",
            "--provider",
            "local",
            "--name",
            "explained",
            "--exclude-file-types",
            r#"["pdf", "txt"]"#,
            "--provider-config",
            &pc,
        ],
        &[],
    );
    assert_eq!(text(&narrowed).0.trim(), id, "the same config, updated");
    let out = p8sync_env(data.path(), &["sync", "--config", &id], &[]);
    assert!(out.status.success(), "{}", text(&out).1);
    let files = text(&p8sync_env(data.path(), &["files", "--config", &id], &[])).0;
    let keep = files
        .lines()
        .find(|l| l.contains("keep.txt"))
        .unwrap_or_else(|| panic!("keep.txt is not listed:\n{files}"));
    assert!(
        keep.contains("excluded") && keep.contains("file type `txt` is excluded"),
        "{keep}"
    );
}

/// `p8sync show` finds a file by path or by id and prints its record, its object and the text
/// ingestion made of it; an unknown file is refused with a pointer to `p8sync files`.
#[test]
fn show_prints_a_file_with_what_ingestion_made_of_it() {
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("Work")).unwrap();
    std::fs::write(
        root.path().join("Work/notes.txt"),
        "The harbour light was lit at dusk.",
    )
    .unwrap();
    let folder = root.path().to_str().unwrap();
    let out = p8sync_env(data.path(), &["sync", folder], &[]);
    assert!(out.status.success(), "{}", text(&out).1);

    let out = p8sync_env(data.path(), &["show", "Work/notes.txt"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for line in [
        "path       Work/notes.txt",
        "status     synced",
        "resources  1",
    ] {
        assert!(stdout.contains(line), "no {line:?} in:\n{stdout}");
    }
    assert!(stdout.contains("harbour light was lit"), "{stdout}");

    let out = p8sync_env(data.path(), &["show", "Work/notes.txt", "--json"], &[]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = json["file"]["id"].as_str().unwrap().to_string();
    assert_eq!(json["resources"].as_array().unwrap().len(), 1);
    let by_id = p8sync_env(data.path(), &["show", &id], &[]);
    assert!(text(&by_id).0.contains("Work/notes.txt"));

    let out = p8sync_env(data.path(), &["show", "nowhere.txt"], &[]);
    assert!(!out.status.success());
    assert!(
        text(&out)
            .1
            .contains("no synced file has the id or path \"nowhere.txt\""),
        "{}",
        text(&out).1
    );
}

/// `p8sync` copied alone into an empty folder, run with no providers or extractors folder
/// anywhere near it, and a home of its own: everything it needs is built in.
fn solo(bin: &Path, cwd: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(bin);
    c.args(args).current_dir(cwd).env("HOME", cwd.join("home"));
    for var in [
        "P8_DATA_DIR",
        "P8_PROVIDERS_DIR",
        "P8_EXTRACTORS_DIR",
        "P8_CACHE_DIR",
        "XDG_CACHE_HOME",
        "RUST_LOG",
        "DATABASE_URL",
        "P8_PG_HOST",
        "S3_BUCKET_NAME",
        "S3_DEFAULT_BUCKET",
    ] {
        c.env_remove(var);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("running the copied p8sync")
}

#[test]
fn the_binary_alone_runs_everything_from_an_empty_folder() {
    let place = tempfile::tempdir().unwrap();
    let bin = place.path().join("p8sync");
    std::fs::copy(env!("CARGO_BIN_EXE_p8sync"), &bin).unwrap();
    assert_eq!(std::fs::read_dir(place.path()).unwrap().count(), 1);

    let out = solo(&bin, place.path(), &["providers", "--json"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let ids: Vec<&str> = json["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(p["builtin"], true, "{p}");
            p["id"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "box",
            "dropbox",
            "google_drive",
            "local",
            "onedrive",
            "webdav"
        ],
        "the shipped providers, and not the template"
    );
    assert!(json["problems"].as_array().unwrap().is_empty(), "{stdout}");
    assert!(json["dir"].is_null(), "{stdout}");

    let out = solo(&bin, place.path(), &["extractors"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    for id in ["audio", "html", "office", "pdf"] {
        assert!(
            stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
            "no built-in {id} extractor in:\n{stdout}"
        );
    }

    let folder = place.path().join("docs");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("a.txt"), "plain words").unwrap();
    std::fs::write(
        folder.join("page.html"),
        "<html><body><p>The lighthouse keeper's log</p></body></html>",
    )
    .unwrap();
    let out = solo(&bin, place.path(), &["sync", "docs"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("synced 2 files"), "{stdout}");
    // The HTML went through the built-in extractor.
    let out = solo(&bin, place.path(), &["show", "page.html"], &[]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("lighthouse keeper's log"), "{stdout}");
    // Its state is in the working folder, and compiled components in the user's cache.
    assert!(place.path().join(".p8sync/p8sync.db").is_file());
    assert!(place.path().join("home/.cache/p8sync/components").is_dir());
}

#[test]
fn a_providers_folder_adds_to_and_overrides_the_built_in_ones() {
    let place = tempfile::tempdir().unwrap();
    let bin = place.path().join("p8sync");
    std::fs::copy(env!("CARGO_BIN_EXE_p8sync"), &bin).unwrap();
    let extra = place.path().join("extra");
    std::fs::create_dir(&extra).unwrap();
    let local = extra.join("my-local.wasm");
    std::fs::copy(providers_dir().join("local-folder.wasm"), &local).unwrap();
    let providers = |place: &Path| {
        let out = solo(
            &bin,
            place,
            &["providers", "--json"],
            &[("P8_PROVIDERS_DIR", &extra)],
        );
        assert!(out.status.success(), "{}", text(&out).1);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let find = |json: &serde_json::Value, id: &str| {
        json["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };

    // Not approved: refused, and the built-in one stays.
    let json = providers(place.path());
    assert_eq!(find(&json, "local")["builtin"], true);
    assert!(
        json["problems"][0]
            .as_str()
            .unwrap()
            .contains("not approved"),
        "{json}"
    );

    // Approved by the operator: it replaces the built-in one of its id.
    let out = solo(
        &bin,
        place.path(),
        &["provider", "approve", local.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out).1);
    let json = providers(place.path());
    let local_now = find(&json, "local");
    assert_eq!(local_now["builtin"], false, "{json}");
    assert_eq!(local_now["file"], local.to_str().unwrap());
    assert_eq!(find(&json, "google_drive")["builtin"], true);
    assert!(json["problems"].as_array().unwrap().is_empty(), "{json}");
}
