//! Hostile input end to end: `p8sync sync` of one folder holding the hostile corpus
//! (`tests/hostile`), odd names and ordinary files, on the embedded defaults. The process must
//! end by itself (0 or 1, never a signal) within its memory and disk budget, every ordinary file
//! must be ingested, every hostile one recorded with a reason, and a re-sync must find nothing
//! to do.

use p8sync_e2e::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What a finished `p8sync` run left behind.
struct Run {
    code: Option<i32>,
    signal: Option<i32>,
    max_rss_kib: i64,
    stdout: String,
    stderr: String,
}

/// Run `p8sync` with `args` and wait for it, reading its peak RSS from the kernel.
// `wait4` reaps the child (std's `wait` can't report rusage), which clippy can't see.
#[allow(clippy::zombie_processes)]
fn p8sync(data: &Path, args: &[&OsStr]) -> Run {
    let out_dir = tempfile::tempdir().unwrap();
    let (out, err) = (out_dir.path().join("out"), out_dir.path().join("err"));
    let child = Command::new(p8sync_bin())
        .args(args)
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env("P8_EXTRACTORS_DIR", extractors_dir())
        .env("P8_CACHE_DIR", workspace().join("target/test-cache"))
        .env_remove("RUST_LOG")
        .env_remove("P8_TRANSCRIBE_URL")
        .env_remove("OPENAI_API_KEY")
        .stdout(Stdio::from(std::fs::File::create(&out).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err).unwrap()))
        .spawn()
        .expect("starting p8sync");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid pointers to locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    Run {
        code: status.code(),
        signal: status.signal(),
        max_rss_kib: usage.ru_maxrss,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// Bytes the files under `dir` take on disk.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.blocks() * 512;
            }
        }
    }
    total
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(workspace().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The folder: hostile files, odd names, ordinary files. Returns the hostile files' names.
fn hostile_folder(root: &Path) -> Vec<String> {
    let mut hostile = Vec::new();
    for h in p8sync_hostile::corpus() {
        std::fs::write(root.join(h.name), &h.bytes).unwrap();
        hostile.push(h.name.to_string());
    }
    let mp3 = fixture("host/tests/fixtures/audio/hello.mp3");
    std::fs::write(
        root.join("truncated.mp3"),
        p8sync_hostile::truncated(&mp3, 40),
    )
    .unwrap();
    hostile.push("truncated.mp3".into());
    // Odd names: a Latin-1 name that is not UTF-8, and a backslash.
    std::fs::write(
        root.join(OsStr::from_bytes(b"caf\xe9 au lait.txt")),
        "Coffee with milk, named in Latin-1.\n",
    )
    .unwrap();
    std::fs::write(
        root.join("back\\slash.txt"),
        "A backslash is a byte like any other.\n",
    )
    .unwrap();
    // Ordinary files.
    std::fs::write(
        root.join("notes.md"),
        "# Harbour notes\n\nThe keeper lit the lamp at dusk.\n",
    )
    .unwrap();
    std::fs::write(
        root.join("report.pdf"),
        fixture("host/tests/fixtures/text/sample.pdf"),
    )
    .unwrap();
    std::fs::write(
        root.join("memo.wav"),
        fixture("samples/media/voice-memo.wav"),
    )
    .unwrap();
    hostile
}

/// Each file's row, by name, from `p8sync files --json`.
fn files(data: &Path) -> BTreeMap<String, serde_json::Value> {
    let logs = p8sync(data, &[OsStr::new("logs"), OsStr::new("--json")]);
    let first: serde_json::Value =
        serde_json::from_str(logs.stdout.lines().next().expect("a run")).unwrap();
    let config = first["config_id"].as_str().unwrap().to_string();
    let run = p8sync(
        data,
        &[
            OsStr::new("files"),
            OsStr::new("--config"),
            OsStr::new(&config),
            OsStr::new("--json"),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    run.stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|f| (f["remote_name"].as_str().unwrap_or_default().to_string(), f))
        .collect()
}

#[test]
fn hostile_files_fail_alone_within_memory_and_disk() {
    let tree = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().join("data");
    let hostile = hostile_folder(tree.path());
    // Compiling a component the cache does not hold yet (a rebuilt one) costs memory that has
    // nothing to do with hostile files: fill the cache first, as any earlier run would.
    let warm = p8sync(&data_dir, &[OsStr::new("providers")]);
    assert_eq!(warm.code, Some(0), "{}", warm.stderr);

    let started = std::time::Instant::now();
    let first = p8sync(&data_dir, &[OsStr::new("sync"), tree.path().as_os_str()]);
    let took = started.elapsed();
    let said = format!("stdout:\n{}\nstderr:\n{}", first.stdout, first.stderr);
    assert_eq!(first.signal, None, "killed by a signal\n{said}");
    assert!(
        matches!(first.code, Some(0 | 1)),
        "exit {:?}\n{said}",
        first.code
    );
    assert!(
        first.max_rss_kib < 512 * 1024,
        "peak RSS {} MiB\n{said}",
        first.max_rss_kib / 1024
    );
    // The compiled components are cached outside it (P8_CACHE_DIR), as a test run shares them.
    let usage = disk_usage(&data_dir);
    eprintln!(
        "first sync: exit {:?}, peak RSS {} MiB, data directory {} MiB, {:.1} s",
        first.code,
        first.max_rss_kib / 1024,
        usage >> 20,
        took.as_secs_f64()
    );
    assert!(
        usage < 50 << 20,
        "the data directory holds {} MiB",
        usage >> 20
    );

    let rows = files(&data_dir);
    let row = |name: &str| {
        rows.get(name)
            .unwrap_or_else(|| panic!("no row for {name}: {:?}", rows.keys().collect::<Vec<_>>()))
    };
    for name in [
        "notes.md",
        "report.pdf",
        "back\\slash.txt",
        "caf\u{fffd} au lait.txt",
    ] {
        let r = rows
            .iter()
            .find(|(n, _)| {
                n.as_str() == name || (name.contains('\u{fffd}') && n.starts_with("caf"))
            })
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no row for {name}: {:?}", rows.keys().collect::<Vec<_>>()));
        assert_eq!(r["status"], "synced", "{name}: {r}");
        assert_eq!(r["ingest_status"], "ingested", "{name}: {r}");
    }
    let memo = row("memo.wav");
    assert_eq!(memo["ingest_status"], "untranscribed", "{memo}");
    assert!(
        memo["ingest_message"].as_str().unwrap().contains("chunks"),
        "{memo}"
    );
    // Every hostile file ends with a reason, its work done or refused; the bombs say which
    // limit stopped them or what was cut.
    let mut problems = Vec::new();
    for name in &hostile {
        let r = row(name);
        let status = r["ingest_status"].as_str().unwrap_or_default();
        let reason = r["ingest_message"]
            .as_str()
            .or(r["error_message"].as_str())
            .unwrap_or_default();
        eprintln!("{name}: {status}: {reason}");
        if reason.is_empty() {
            problems.push(format!("{name} has no reason: {r}"));
        }
        if !matches!(
            status,
            "ingested" | "not_ingestible" | "stored" | "untranscribed"
        ) {
            problems.push(format!("{name}: ingestion ended as {status:?}: {reason}"));
        }
        let bomb = [
            "shared-string-fanout.xlsx",
            "double-flate.pdf",
            "zip-bomb.docx",
        ];
        if bomb.contains(&name.as_str())
            && !["cut", "cap", "limit", "only the first", "declared"]
                .iter()
                .any(|w| reason.contains(w))
        {
            problems.push(format!("{name} does not say what stopped it: {reason}"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    let silence = row("ten-hours-of-silence.flac");
    assert!(
        silence["ingest_message"]
            .as_str()
            .unwrap()
            .contains("no speech"),
        "{silence}"
    );

    let again = p8sync(
        &data_dir,
        &[
            OsStr::new("sync"),
            tree.path().as_os_str(),
            OsStr::new("--json"),
        ],
    );
    assert_eq!(again.signal, None, "{}", again.stderr);
    let report: serde_json::Value = serde_json::from_str(&again.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", again.stdout, again.stderr));
    assert_eq!(report["files_synced"], 0, "{report}");
    assert_eq!(report["files_failed"], 0, "{report}");
    assert_eq!(
        report["files_unchanged"].as_u64().unwrap() as usize,
        rows.len(),
        "{report}"
    );
}

/// Under `p8sync serve`, one user's hostile files never stop another user's files from being
/// synced and ingested, and `/healthz` answers throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenants_hostile_files_never_stop_anothers() {
    use p8sync::store::ids::UserId;
    use p8sync::store::postgres::PostgresStore;
    use p8sync::store::{FileStatus, Store, SyncConfig};
    use std::time::{Duration, Instant};

    let (url, _name) = postgres_database().await;
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let store: std::sync::Arc<dyn Store> = std::sync::Arc::new(pg);
    let mallory: UserId = "5c1b2f3e-0000-4000-8000-00000000000a".parse().unwrap();
    let alice: UserId = "5c1b2f3e-0000-4000-8000-00000000000b".parse().unwrap();
    let hostile_tree = tempfile::tempdir().unwrap();
    let ordinary_tree = tempfile::tempdir().unwrap();
    let hostile = hostile_folder(hostile_tree.path());
    std::fs::write(
        ordinary_tree.path().join("notes.md"),
        "# Alice's notes\n\nThe tide turns at six.\n",
    )
    .unwrap();
    std::fs::write(
        ordinary_tree.path().join("report.pdf"),
        fixture("host/tests/fixtures/text/sample.pdf"),
    )
    .unwrap();
    std::fs::write(
        ordinary_tree.path().join("memo.wav"),
        fixture("samples/media/voice-memo.wav"),
    )
    .unwrap();
    let mut configs = Vec::new();
    for (user, tree, name) in [
        (mallory, hostile_tree.path(), "hostile"),
        (alice, ordinary_tree.path(), "ordinary"),
    ] {
        let mut c = SyncConfig::new(user, "local", name);
        c.provider_config = serde_json::json!({ "root": tree.to_str().unwrap() });
        store.put_config(&c).await.unwrap();
        configs.push(c);
    }

    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = serve_command(&url, data.path(), port)
        .env("P8_ENCRYPTION_KEY", "09".repeat(32))
        .env("P8_LOG_FORMAT", "text")
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let http = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/healthz");
    let settled = |f: &p8sync::store::SyncFile| {
        f.status == FileStatus::Synced
            && f.ingest_status.is_some_and(|s| {
                !matches!(
                    s,
                    p8sync::store::ingest::IngestStatus::Queued
                        | p8sync::store::ingest::IngestStatus::Retrying
                )
            })
    };
    // Up first: once it answers, it must go on answering.
    let started = Instant::now();
    loop {
        assert!(server.try_wait().unwrap().is_none(), "p8sync serve exited");
        let up = http.get(&health).send().await;
        if up.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "never came up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut answered = 0;
    let (alice_files, mallory_files) = loop {
        assert!(
            server.try_wait().unwrap().is_none(),
            "p8sync serve exited while working through the hostile files"
        );
        {
            // It answers every time, whatever the workers are parsing.
            let r = http
                .get(&health)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .unwrap_or_else(|e| panic!("/healthz did not answer: {e}"));
            assert!(r.status().is_success(), "/healthz: {}", r.status());
            answered += 1;
        }
        let alice_files = store.files(configs[1].id).await.unwrap();
        let mallory_files = store.files(configs[0].id).await.unwrap();
        if alice_files.len() == 3
            && alice_files.iter().all(settled)
            && mallory_files.len() >= hostile.len()
            && mallory_files
                .iter()
                .all(|f| f.status != FileStatus::Synced || settled(f))
        {
            break (alice_files, mallory_files);
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "not settled in 5 minutes: alice {alice_files:#?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(answered > 0, "/healthz was never asked");
    for f in &alice_files {
        let status = f.ingest_status.map(|s| s.to_string()).unwrap_or_default();
        let want = if f.remote_name.as_deref() == Some("memo.wav") {
            "untranscribed"
        } else {
            "ingested"
        };
        assert_eq!(status, want, "{f:?}");
    }
    for name in &hostile {
        let f = mallory_files
            .iter()
            .find(|f| f.remote_name.as_deref() == Some(name.as_str()))
            .unwrap_or_else(|| panic!("no row for {name}"));
        assert!(
            f.ingest_message.is_some() || f.error_message.is_some(),
            "{name} has no reason: {f:?}"
        );
    }
    let r = http.get(&health).send().await.unwrap();
    assert!(r.status().is_success());
    server.start_kill().unwrap();
}
