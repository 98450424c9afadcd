//! `p8sync provider test`, the conformance harness: every provider in this repository passes it
//! offline from its checked-in cassette; recording against a fake and replaying without it
//! gives the same verdicts; a cassette never holds a token; a tampered cassette and every
//! misbehaving test component fail, each with the reason that fits.
//!
//! Cassettes live in `tests/cassettes/<provider>.json`. `P8_RECORD_CASSETTES=1 cargo test -p
//! p8sync-e2e --test e2e -- records_against` records them again (scripts/record-cassettes.sh).

use p8sync::conformance::cassette::{Body, Cassette};
use p8sync::conformance::{self, Mode, Options, Outcome, Report, TestCredential};
use p8sync::secret::Secret;
use p8sync_e2e::conformance_checks::assert_checks_pass;
use p8sync_e2e::fake_box::FakeBox;
use p8sync_e2e::fake_drive::FakeDrive;
use p8sync_e2e::fake_dropbox::FakeDropbox;
use p8sync_e2e::fake_onedrive::FakeOneDrive;
use p8sync_e2e::webdav_server::Rclone;
use p8sync_e2e::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cassette_path(provider: &str) -> PathBuf {
    workspace()
        .join("tests/cassettes")
        .join(format!("{provider}.json"))
}

fn options(component: PathBuf, mode: Mode) -> Options {
    let mut s = settings();
    s.limits.call_timeout = Duration::from_secs(20);
    s.limits.memory_bytes = 128 * 1024 * 1024;
    Options {
        component,
        mode,
        config: BTreeMap::new(),
        credential: None,
        root: None,
        settings: s,
        page_size: 3,
        max_fetches: 20,
        max_pages: 1_000,
    }
}

fn failed<'a>(report: &'a Report, check: &str) -> &'a str {
    match report.check(check) {
        Some(Outcome::Fail(reason)) => reason,
        other => panic!("expected `{check}` to fail, it was {other:?}\n{report}"),
    }
}

fn assert_passes(report: &Report) {
    assert!(report.passed(), "{report}");
    // A provider that declares it must have run these; skipping them would hide a break.
    assert_checks_pass(
        report,
        &[
            "info",
            "list.terminates",
            "list.stable-ids",
            "entries.fields",
            "limits",
        ],
        "",
    );
}

/// A small Drive: nested folders, a few files, a Google Doc that is exported.
fn drive_fixture(fake: &FakeDrive) {
    let root = fake.root_id();
    let docs = fake.add_folder(&root, "Docs");
    let deep = fake.add_folder(&docs, "Deep");
    for i in 0..4 {
        fake.add_file(
            &[&docs],
            &format!("note {i}.txt"),
            "text/plain",
            format!("note {i}\n").repeat(i + 1),
        );
    }
    fake.add_file(
        &[&deep],
        "data.bin",
        "application/octet-stream",
        vec![7u8; 5000],
    );
    fake.add_file(&[&root], "top.md", "text/markdown", "# top\n");
    fake.add_workspace(&docs, "Plan", "document", "the plan");
}

async fn record_drive(path: &Path) -> (Report, String) {
    let fake = FakeDrive::start().await;
    drive_fixture(&fake);
    let (token, _) = fake.issue_tokens();
    record(
        "google-drive",
        "google_drive",
        fake.overrides(),
        &token,
        path,
    )
    .await
}

/// A live run that records into `path`, with a bearer token for the fake.
async fn record(
    component: &str,
    id: &str,
    overrides: p8sync::config::ProviderOverrides,
    token: &str,
    path: &Path,
) -> (Report, String) {
    let mut o = options(provider_wasm(component), Mode::Record(path.to_path_buf()));
    o.settings.overrides.set(id, overrides);
    o.credential = Some(TestCredential::Bearer(Secret::new(token)));
    let report = conformance::run(o).await.expect("the harness runs");
    (report, token.to_string())
}

/// What every recording must show: a passing live run, no credential in the cassette, and an
/// offline replay (the fake is gone by now) with the same verdicts. With
/// `P8_RECORD_CASSETTES=1` the cassette is kept as the checked-in one.
async fn check_recording(component: &str, id: &str, dir: &Path, live: Report, secret: &str) {
    let path = dir.join(format!("{id}.json"));
    assert_passes(&live);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret), "the credential is in the cassette");
    let cassette = Cassette::load(&path).unwrap();
    assert!(
        cassette.interactions.len() > 3,
        "{}",
        cassette.interactions.len()
    );
    assert!(
        cassette.interactions.iter().all(|x| x
            .request
            .headers
            .iter()
            .all(|(n, _)| n != "authorization")),
        "a recorded request carries Authorization"
    );
    let replay = conformance::run(options(
        provider_wasm(component),
        Mode::Replay(path.clone()),
    ))
    .await
    .unwrap();
    assert_passes(&replay);
    assert_checks_pass(
        &replay,
        &[
            "fetch.bytes",
            "errors.401",
            "errors.429",
            "errors.500",
            "replay.complete",
        ],
        " in replay",
    );
    if std::env::var("P8_RECORD_CASSETTES").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(cassette_path(id).parent().unwrap()).unwrap();
        std::fs::copy(&path, cassette_path(id)).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_drive_records_against_the_fake_and_replays_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (live, token) = record_drive(&dir.path().join("google_drive.json")).await;
    check_recording("google-drive", "google_drive", dir.path(), live, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropbox_records_against_the_fake_and_replays_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (live, token) = {
        let fake = FakeDropbox::start().await;
        for (path, body) in [
            ("/Docs/a.txt", "alpha\n".repeat(3)),
            ("/Docs/b.txt", "bravo\n".to_string()),
            ("/Docs/Deep/c.md", "# charlie\n".to_string()),
            ("/top.bin", "x".repeat(5000)),
        ] {
            fake.add_file(path, body);
        }
        let (token, _) = fake.issue_tokens();
        let path = dir.path().join("dropbox.json");
        record("dropbox", "dropbox", fake.overrides(), &token, &path).await
    };
    check_recording("dropbox", "dropbox", dir.path(), live, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onedrive_records_against_the_fake_and_replays_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (live, token) = {
        let fake = FakeOneDrive::start().await;
        let root = fake.root_id();
        let docs = fake.add_folder(&root, "Docs");
        let deep = fake.add_folder(&docs, "Deep");
        fake.add_file(&docs, "a.txt", "alpha\n".repeat(3));
        fake.add_file(&docs, "b.txt", "bravo\n");
        fake.add_file(&deep, "c.md", "# charlie\n");
        fake.add_file(&root, "top.bin", "x".repeat(5000));
        fake.set_max_page(3);
        let (token, _) = fake.issue_tokens();
        let path = dir.path().join("onedrive.json");
        record("onedrive", "onedrive", fake.overrides(), &token, &path).await
    };
    check_recording("onedrive", "onedrive", dir.path(), live, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_cassette_fails_the_byte_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("google_drive.json");
    let (live, _) = record_drive(&path).await;
    assert_passes(&live);
    let mut cassette = Cassette::load(&path).unwrap();
    // Change every download's bytes, keeping their length: only the checksum can tell.
    let mut changed = 0;
    for x in &mut cassette.interactions {
        if x.request.url.contains("alt=media")
            && let Body::Text(t) = &mut x.response.body
            && !t.is_empty()
        {
            let flipped: String = t.chars().map(|c| if c == 'n' { 'N' } else { c }).collect();
            if flipped != *t {
                *t = flipped;
                changed += 1;
            }
        }
    }
    assert!(changed > 0, "no download in the cassette to tamper with");
    cassette.save(&path).unwrap();
    let replay = conformance::run(options(provider_wasm("google-drive"), Mode::Replay(path)))
        .await
        .unwrap();
    assert!(!replay.passed());
    let reason = failed(&replay, "fetch.bytes");
    assert!(reason.contains("md5"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webdav_records_against_a_real_server_and_replays_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (user, pass) = ("dav", "dav-Secret-4411");
    let (live, secret) = {
        let files = dir.path().join("files");
        for (path, body) in [
            ("Docs/a.txt", "alpha\n".repeat(3)),
            ("Docs/b b.txt", "bravo\n".to_string()),
            ("Docs/Deep/c.md", "# charlie\n".to_string()),
            ("top.bin", "x".repeat(5000)),
        ] {
            let p = files.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        let server = Rclone::start(&files, user, pass);
        let path = dir.path().join("webdav.json");
        let mut o = options(provider_wasm("webdav"), Mode::Record(path));
        o.settings.overrides.set(
            "webdav",
            p8sync::config::ProviderOverrides {
                api_base: Some(server.base()),
                ..Default::default()
            },
        );
        o.credential = Some(TestCredential::Basic {
            username: user.into(),
            password: Secret::new(pass),
        });
        (conformance::run(o).await.unwrap(), pass.to_string())
    };
    check_recording("webdav", "webdav", dir.path(), live, &secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn box_records_against_the_fake_and_replays_offline() {
    let dir = tempfile::tempdir().unwrap();
    let (live, token) = {
        let fake = FakeBox::start().await;
        let root = fake.root_id();
        let docs = fake.add_folder(&root, "Docs");
        let deep = fake.add_folder(&docs, "Deep");
        fake.add_file(&docs, "a.txt", "alpha\n".repeat(3));
        fake.add_file(&docs, "b.txt", "bravo\n");
        fake.add_file(&deep, "c.md", "# charlie\n");
        fake.add_file(&root, "top.bin", "x".repeat(5000));
        fake.set_max_page(3);
        let (token, _) = fake.issue_tokens();
        let path = dir.path().join("box.json");
        record("box", "box", fake.overrides(), &token, &path).await
    };
    check_recording("box", "box", dir.path(), live, &token).await;
}

/// Every provider this repository ships passes, offline, from its checked-in cassette (the
/// local folder needs no network: it runs live on a fixture folder).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_provider_passes_from_its_cassette() {
    let mut tested = Vec::new();
    for entry in std::fs::read_dir(providers_dir()).unwrap() {
        let wasm = entry.unwrap().path();
        if wasm.extension().is_none_or(|x| x != "wasm") {
            continue; // providers.lock
        }
        let name = wasm.file_stem().unwrap().to_string_lossy().to_string();
        let mut cmd = tokio::process::Command::new(p8sync_bin());
        cmd.arg("provider")
            .arg("test")
            .arg(&wasm)
            .arg("--page-size")
            .arg("3");
        cmd.env("P8_DATA_DIR", tempfile::tempdir().unwrap().keep());
        if name == "local-folder" {
            let root = tempfile::tempdir().unwrap().keep();
            std::fs::create_dir_all(root.join("a/b")).unwrap();
            for (p, body) in [
                ("one.txt", "1"),
                ("a/two.txt", "22"),
                ("a/b/three.md", "333"),
                ("a/b/four.bin", "4444"),
            ] {
                std::fs::write(root.join(p), body).unwrap();
            }
            cmd.arg("--root").arg(&root);
        } else {
            let runtime = p8sync::runtime::Runtime::new(settings()).unwrap();
            let id = runtime.load_file(&wasm).await.unwrap().id().to_string();
            let cassette = cassette_path(&id);
            assert!(
                cassette.is_file(),
                "{} has no cassette at {} (record one: scripts/record-cassettes.sh)",
                name,
                cassette.display()
            );
            cmd.arg("--replay").arg(&cassette);
        }
        let out = cmd.output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{name} failed the suite:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("PASS  list.terminates"), "{stdout}");
        assert!(!stdout.contains("FAIL"), "{stdout}");
        tested.push(name);
    }
    for must in ["google-drive", "local-folder"] {
        assert!(
            tested.iter().any(|t| t == must),
            "{must} was not tested: {tested:?}"
        );
    }
}

/// The runtime issue's misbehaving components each fail, with the reason that fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misbehaving_components_fail_with_the_right_reason() {
    let cases: &[(&str, &str, &str)] = &[
        ("absurd-data", "list.terminates", "limit"),
        ("alloc-bomb", "list.terminates", "memory"),
        ("trap", "list.terminates", "crashed"),
        ("spin-forever", "list.terminates", "deadline"),
        ("undeclared-host", "list.terminates", "did not declare"),
        ("own-authorization", "list.terminates", "Authorization"),
        ("private-address", "list.terminates", "private"),
        (
            "read-passwd",
            "list.terminates",
            "could not read host files",
        ),
        ("not-a-provider", "info", "p8:provider/provider"),
        ("wrong-version", "info", "9.0.0"),
    ];
    for (component, check, reason) in cases {
        let mut o = options(test_wasm(component), Mode::Live);
        o.settings.limits.call_timeout = Duration::from_secs(3);
        o.settings.limits.memory_bytes = 64 * 1024 * 1024;
        let report = conformance::run(o).await.unwrap();
        assert!(!report.passed(), "{component} passed:\n{report}");
        if *component == "alloc-bomb" {
            // The harness also says how far past the cap it went.
            assert!(
                failed(&report, "limits").contains("MiB of 64 MiB"),
                "{report}"
            );
        }
        let why = failed(&report, check);
        assert!(
            why.to_lowercase().contains(&reason.to_lowercase()),
            "{component}: `{check}` failed for another reason: {why}"
        );
    }
}

/// The CLI exits non-zero on a failing provider and names the failed check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_fails_a_failing_provider() {
    let out = tokio::process::Command::new(p8sync_bin())
        .args(["provider", "test", "--timeout-secs", "2"])
        .arg(test_wasm("trap"))
        .env("P8_DATA_DIR", tempfile::tempdir().unwrap().keep())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  list.terminates"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("failed the conformance suite"));
}
