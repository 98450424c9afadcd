//! The binary's settings and logs as an operator meets them: a TOML settings file that sits
//! under the environment and the flags, and log lines on stderr as JSON or as text.

use p8sync_e2e::*;
use std::path::Path;
use std::process::{Command, Output};

/// The binary with a clean environment: nothing from the test's own.
fn p8sync(data: &Path) -> Command {
    let mut c = Command::new(p8sync_bin());
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("P8_DATA_DIR", data)
        .env("P8_PROVIDERS_DIR", providers_dir());
    c
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `p8sync migrate` says which database it migrated, which names the data directory in effect.
fn migrated(out: Output) -> String {
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn the_settings_file_sits_under_the_environment_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let [from_file, from_env, from_flag] = ["file", "env", "flag"].map(|d| dir.path().join(d));
    let file = dir.path().join("p8sync.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nlog_format = \"text\"\n\n[ingest]\nroutes = [\".rst=text\"]\n",
            from_file.to_str().unwrap()
        ),
    )
    .unwrap();

    // The file alone (named by the flag or by P8_CONFIG).
    let out = p8sync(dir.path())
        .env_remove("P8_DATA_DIR")
        .args(["--config-file", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(migrated(out).contains(&format!("{}/p8sync.db", from_file.display())));
    let out = p8sync(dir.path())
        .env_remove("P8_DATA_DIR")
        .env("P8_CONFIG", &file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated(out).contains(&format!("{}/p8sync.db", from_file.display())));

    // The environment wins over the file.
    let out = p8sync(&from_env)
        .env("P8_CONFIG", &file)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(migrated(out).contains(&format!("{}/p8sync.db", from_env.display())));

    // A flag wins over both.
    let out = p8sync(&from_env)
        .env("P8_CONFIG", &file)
        .args(["migrate", "--data-dir", from_flag.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(migrated(out).contains(&format!("{}/p8sync.db", from_flag.display())));
}

#[test]
fn a_bad_settings_file_stops_with_the_place_but_not_the_values() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p8sync.toml");
    std::fs::write(&file, "pg_password = \"hunter2\"\nlistn = \"0.0.0.0:80\"\n").unwrap();
    let out = p8sync(dir.path())
        .args(["--config-file", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with(&format!(
            "error: the config file {} has an unknown key `listn` (line 2, column 1); valid keys: ",
            file.display()
        )),
        "{err}"
    );
    assert!(err.contains("listen"), "{err}");
    assert!(
        !err.contains("hunter2") && !err.contains("0.0.0.0:80"),
        "{err}"
    );

    let missing = dir.path().join("missing.toml");
    let out = p8sync(dir.path())
        .env("P8_CONFIG", &missing)
        .arg("migrate")
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

/// A folder whose listing logs inside the sync's span: the local provider skips a symlink
/// that leads out of the root, at warn, and the host records the skip at info.
fn folder_with_a_skip() -> tempfile::TempDir {
    let tree = make_tree(&[("notes.txt", "remember")]);
    #[cfg(unix)]
    std::os::unix::fs::symlink("/nonexistent", tree.path().join("dangling")).unwrap();
    tree
}

#[test]
fn logs_are_json_lines_when_asked_or_piped() {
    let data = tempfile::tempdir().unwrap();
    let tree = folder_with_a_skip();
    // Piped stderr and no setting: auto, which is JSON here.
    for format in [None, Some("json")] {
        let mut c = p8sync(data.path());
        if let Some(f) = format {
            c.env("P8_LOG_FORMAT", f);
        }
        let out = c
            .args(["sync", tree.path().to_str().unwrap()])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        let lines: Vec<serde_json::Value> = err
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let skip = lines
            .iter()
            .find(|l| {
                l["message"].as_str().is_some_and(|m| {
                    m.starts_with("provider skipped: symlink points outside the root")
                })
            })
            .unwrap_or_else(|| panic!("no skip line in {err}"));
        assert_eq!(skip["level"], "INFO");
        assert_eq!(skip["target"], "p8sync::sync");
        assert_eq!(skip["file"], "dangling", "event fields are flattened");
        assert_eq!(skip["span"]["name"], "sync");
        assert_eq!(skip["span"]["provider"], "local");
        assert!(skip["span"]["config_id"].as_str().is_some(), "{skip}");
        assert!(skip["timestamp"].as_str().is_some(), "{skip}");
    }
}

#[test]
fn logs_are_plain_text_when_asked() {
    let data = tempfile::tempdir().unwrap();
    let tree = folder_with_a_skip();
    let out = p8sync(data.path())
        .args([
            "--log-format",
            "text",
            "sync",
            tree.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    let skip = err
        .lines()
        .find(|l| l.contains("provider skipped: symlink points outside the root"))
        .unwrap_or_else(|| panic!("no skip line in {err}"));
    assert!(serde_json::from_str::<serde_json::Value>(skip).is_err());
    assert!(skip.contains(" INFO sync{config_id="), "{skip}");
    assert!(skip.contains("provider=local}: p8sync::sync:"), "{skip}");
    assert!(!skip.contains('\u{1b}'), "no colours in a pipe: {skip}");

    // Messages for people stay plain in either format.
    let missing = data.path().join("no-such-folder");
    let out = p8sync(data.path())
        .env("P8_LOG_FORMAT", "json")
        .args(["sync", missing.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.starts_with("error: cannot sync "), "{err}");
}
