//! What the host's own integration tests share.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The shipped providers, approved (once per test process) as the build approves them, with
/// the command an operator uses.
pub fn providers_dir() -> PathBuf {
    let dir = workspace().join("target/providers");
    assert!(
        dir.join("local-folder.wasm").is_file(),
        "build the components first: scripts/build-components.sh"
    );
    static APPROVED: std::sync::Once = std::sync::Once::new();
    APPROVED.call_once(|| {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        let data = std::env::temp_dir().join(format!("p8sync-approve-{}", std::process::id()));
        let out = Command::new(env!("CARGO_BIN_EXE_p8sync"))
            .args(["provider", "approve"])
            .args(&files)
            // Nothing written into the checkout; compiled components shared with the tests.
            .env("P8_DATA_DIR", &data)
            .env("P8_CACHE_DIR", workspace().join("target/test-cache"))
            .env_remove("RUST_LOG")
            .output()
            .expect("running p8sync provider approve");
        let _ = std::fs::remove_dir_all(&data);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    dir
}
