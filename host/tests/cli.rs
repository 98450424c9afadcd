//! The `p8sync` binary, as a user runs it. Needs the components built (scripts/test.sh).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn providers_dir() -> PathBuf {
    let dir = workspace().join("target/providers");
    assert!(
        dir.join("local-folder.wasm").is_file(),
        "build the components first: scripts/build-components.sh"
    );
    dir
}

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
    assert_eq!(json["providers"][0]["id"], "local");
    assert_eq!(json["providers"][0]["wit_version"], "0.1.0");
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
            "dropbox",
            "--root",
            root.path().to_str().unwrap(),
        ],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains("unknown provider `dropbox`; available providers: local"),
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
        stdout.contains("interface:     p8:provider@0.1.0"),
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
