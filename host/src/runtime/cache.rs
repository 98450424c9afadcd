//! The on-disk cache of precompiled components.
//!
//! Compiling a component takes from tens of milliseconds to seconds; loading a precompiled one
//! is a memory map. Artifacts are keyed by the engine's compatibility hash (wasmtime version
//! and every setting that changes code generation) plus the sha256 of the component, so a new
//! p8sync or a changed component never picks up a stale artifact.

use sha2::{Digest, Sha256};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Whether a component came from the cache or was compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Loaded from a precompiled artifact.
    Hit,
    /// Compiled now (and stored, when there is a cache).
    Compiled,
}

/// The sha256 of a component's bytes, as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A directory of precompiled artifacts for one engine configuration.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactCache {
    dir: PathBuf,
}

impl ArtifactCache {
    /// The cache under `root`, created private if missing. `None` (compile every time, with a
    /// warning) when `root` can't be made, or could be written by someone else: its artifacts
    /// are loaded as native code.
    pub(crate) fn new(root: &Path, engine: &Engine) -> Option<Self> {
        if let Err(reason) = private_dir(root) {
            tracing::warn!(
                dir = %root.display(),
                "not caching compiled components (each run compiles them): {reason}"
            );
            return None;
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Some(ArtifactCache {
            dir: root.join(format!("{:016x}", hasher.finish())),
        })
    }

    fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!("{sha256}.cwasm"))
    }

    /// Load the artifact for `sha256`, if one exists and is usable.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(sha256);
        // Read the artifact into memory rather than mapping the file: a mapped file that is
        // truncated underneath us (another process, an operator cleaning up) kills the whole
        // process with SIGBUS, and reading a few MiB costs about a millisecond.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: artifacts are only ever written by `store` below, from `Component::serialize`
        // of this engine configuration, into a directory keyed by the engine's compatibility
        // hash; wasmtime additionally checks the header. The data directory is the operator's
        // and must not be writable by others (p8sync creates it 0700).
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring an unusable cached artifact: {e}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Store a compiled component. Failures only cost a recompile next time, so they are logged.
    pub(crate) fn store(&self, component: &Component, sha256: &str) {
        if let Err(e) = self.try_store(component, sha256) {
            tracing::warn!(dir = %self.dir.display(), "cannot cache a compiled component: {e}");
        }
    }

    fn try_store(&self, component: &Component, sha256: &str) -> std::io::Result<()> {
        let bytes = component
            .serialize()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        std::fs::create_dir_all(&self.dir)?;
        // Write to a unique temporary file and rename, so concurrent loaders never see half a file.
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)?;
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(self.path_for(sha256)).map_err(|e| e.error)?;
        Ok(())
    }
}

/// Make `dir` if missing (readable by its owner only), and check that only this user can write
/// to it.
fn private_dir(dir: &Path) -> Result<(), String> {
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("cannot create it: {e}"))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_dir() {
        return Err("it is not a folder".into());
    }
    if meta.uid() != rustix::process::geteuid().as_raw() {
        return Err(format!(
            "it belongs to user {}, not to the user running p8sync",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "others may write to it (mode {:o}); `chmod go-w` it",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}
