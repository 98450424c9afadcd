//! Crash safety: SIGKILL `p8sync sync` at several moments, run it again, and every file ends
//! synced exactly once, with its object, and no partial writes left behind.

mod common;

use common::providers_dir;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn p8sync(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_p8sync"));
    c.env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir())
        .env_remove("DATABASE_URL")
        .env_remove("P8_PG_HOST")
        .env_remove("RUST_LOG");
    c
}

#[test]
fn sigkill_at_any_moment_then_resume_syncs_every_file_exactly_once() {
    let data = tempfile::tempdir().unwrap();
    let source = tempfile::tempdir().unwrap();
    const FILES: usize = 400;
    for i in 0..FILES {
        let dir = source.path().join(format!("d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        let body: Vec<u8> = (0..64 * 1024)
            .map(|b| ((b * 31 + i * 7) % 251) as u8)
            .collect();
        std::fs::write(dir.join(format!("f{i:04}.bin")), body).unwrap();
    }
    let folder = source.path().to_str().unwrap();

    let canonical = source.path().canonicalize().unwrap();
    let user = p8sync::store::ids::UserId(p8sync::store::ids::make_uuid(&[("user", "local")]));
    let config =
        p8sync::store::ids::ConfigId::derive(user, "local", &canonical.display().to_string())
            .to_string();
    let synced_rows = || -> usize {
        let out = p8sync(data.path())
            .args(["files", "--config", &config, "--json"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .matches(r#""status":"synced""#)
            .count()
    };

    // Compile every installed component into the data directory's cache first, so the runs
    // below spend their time syncing, not compiling.
    let warm = p8sync(data.path()).arg("providers").output().unwrap();
    assert!(warm.status.success());

    // Let each run get further before it is killed, until runs have been killed part-way
    // through the transfers (some files synced, not all) at least twice.
    let mut mid_transfer_kills = 0;
    for delay_ms in [50u64, 150, 300, 450, 600, 800, 1000, 1300, 1600, 2000, 2500] {
        let before = synced_rows();
        let mut child = p8sync(data.path())
            .args(["sync", folder, "--transfers", "8"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let interrupted = child.try_wait().unwrap().is_none();
        if interrupted {
            child.kill().unwrap(); // SIGKILL
        }
        child.wait().unwrap();
        let after = synced_rows();
        if !interrupted {
            break;
        }
        if after > before && after < FILES {
            mid_transfer_kills += 1;
            if mid_transfer_kills == 2 {
                break;
            }
        }
    }
    assert!(
        mid_transfer_kills > 0,
        "no run was killed part-way through its transfers"
    );

    let out = p8sync(data.path())
        .args(["sync", folder, "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the resumed sync failed: {stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files_failed"], 0);
    let synced = report["files_synced"].as_u64().unwrap();
    let unchanged = report["files_unchanged"].as_u64().unwrap();
    assert_eq!(synced + unchanged, FILES as u64, "{report}");

    // Exactly one row per file, each synced, each with its object holding the right bytes.
    let out = p8sync(data.path())
        .args(["files", "--config", &config, "--json"])
        .output()
        .unwrap();
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), FILES);
    let mut ids = std::collections::HashSet::new();
    for row in &rows {
        assert_eq!(row["status"], "synced", "{row}");
        assert!(
            ids.insert(row["remote_id"].as_str().unwrap().to_string()),
            "duplicate row {row}"
        );
        let object = row["s3_uri"]
            .as_str()
            .unwrap()
            .strip_prefix("file://")
            .unwrap()
            .to_string();
        let stored = std::fs::read(&object).unwrap();
        let original =
            std::fs::read(source.path().join(row["remote_id"].as_str().unwrap())).unwrap();
        assert!(
            stored == original,
            "object for {} differs from the source",
            row["remote_id"]
        );
    }
    // Objects: exactly one per file, and no partial writes left.
    let mut objects = 0;
    let mut partials = Vec::new();
    fn walk(dir: &Path, objects: &mut usize, partials: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, objects, partials);
            } else if p.extension().is_some_and(|x| x == "partial") {
                partials.push(p);
            } else {
                *objects += 1;
            }
        }
    }
    walk(&data.path().join("objects"), &mut objects, &mut partials);
    assert_eq!(objects, FILES);
    assert!(
        partials.is_empty(),
        "partial writes left behind: {partials:?}"
    );

    // And a further run has nothing to do.
    let out = p8sync(data.path())
        .args(["sync", folder, "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files_unchanged"], FILES as u64);
    assert_eq!(report["files_synced"], 0);
}
