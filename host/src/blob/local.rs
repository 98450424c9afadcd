//! A local directory as the object store (the embedded default).

use super::{BlobError, BlobStore, ObjectKey, ObjectMeta, StoredObject};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncRead, AsyncWriteExt};

/// Objects as files under a root directory; the key is the relative path.
#[derive(Debug, Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
}

impl LocalBlobStore {
    /// A store rooted at `root` (created when missing).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        LocalBlobStore { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// Where writes in progress live: one folder, on the same filesystem as the objects so
    /// the final rename is atomic, and easy to clean after a crash.
    fn partial_dir(&self) -> PathBuf {
        self.root.join(".partial")
    }

    /// Remove partial writes left by processes that are gone (killed mid-write).
    async fn clean_partials(&self) {
        let Ok(mut dir) = tokio::fs::read_dir(self.partial_dir()).await else {
            return;
        };
        while let Ok(Some(entry)) = dir.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.split('-').next().and_then(|p| p.parse::<u32>().ok());
            let alive = pid.is_some_and(|p| p == std::process::id() || process_alive(p));
            if !alive {
                tracing::info!(file = %name, "removing a partial write left by a stopped process");
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: u32) -> bool {
    // Without a cheap liveness check, keep partials; they are only wasted space.
    true
}

fn store_err(key: &ObjectKey, e: impl std::fmt::Display) -> BlobError {
    BlobError::Store {
        key: key.to_string(),
        reason: e.to_string(),
    }
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn check(&self) -> Result<(), BlobError> {
        tokio::fs::create_dir_all(&self.root).await.map_err(|e| {
            BlobError::Unavailable(format!("cannot create {}: {e}", self.root.display()))
        })?;
        let probe = self.root.join(".p8sync-write-check");
        tokio::fs::write(&probe, b"ok").await.map_err(|e| {
            BlobError::Unavailable(format!("cannot write to {}: {e}", self.root.display()))
        })?;
        let _ = tokio::fs::remove_file(&probe).await;
        self.clean_partials().await;
        Ok(())
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        _meta: &ObjectMeta,
    ) -> Result<StoredObject, BlobError> {
        let path = self.path(key);
        let dir = path.parent().expect("keys have a directory");
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| store_err(key, e))?;
        // Write a temporary file and rename it into place, so a crash never leaves a partial
        // object under the real key. The name starts with our pid for the crash cleanup.
        let partials = self.partial_dir();
        tokio::fs::create_dir_all(&partials)
            .await
            .map_err(|e| store_err(key, e))?;
        let tmp = partials.join(format!(
            "{}-{}.partial",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        // Armed until the write ends either way: a write dropped half-way (a transfer abandoned
        // at its deadline) removes its partial file too.
        let mut partial = Partial(Some(tmp.clone()));
        let result = async {
            let mut file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| store_err(key, e))?;
            let size = copy(body, &mut file).await.map_err(|e| match e {
                CopyError::Read(e) => BlobError::Source(e),
                CopyError::Write(e) => store_err(key, e),
            })?;
            file.flush().await.map_err(|e| store_err(key, e))?;
            file.sync_all().await.map_err(|e| store_err(key, e))?;
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| store_err(key, e))?;
            Ok(size)
        }
        .await;
        partial.0 = None;
        match result {
            Ok(size) => Ok(StoredObject {
                uri: self.uri(key),
                size,
            }),
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<u64>, BlobError> {
        match tokio::fs::metadata(self.path(key)).await {
            Ok(m) if m.is_file() => Ok(Some(m.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(store_err(key, e)),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        match tokio::fs::remove_file(self.path(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(store_err(key, e)),
        }
    }

    async fn read(&self, key: &ObjectKey) -> Result<Box<dyn AsyncRead + Send + Unpin>, BlobError> {
        let file = tokio::fs::File::open(self.path(key))
            .await
            .map_err(|e| store_err(key, e))?;
        Ok(Box::new(file))
    }

    fn uri(&self, key: &ObjectKey) -> String {
        let abs = std::path::absolute(self.path(key)).unwrap_or_else(|_| self.path(key));
        format!("file://{}", abs.display())
    }
}

/// A partial write's file, removed when dropped unless the write ended (and took care of it).
struct Partial(Option<PathBuf>);

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copy with a fixed buffer, telling read failures from write failures.
async fn copy(
    from: &mut (dyn AsyncRead + Send + Unpin),
    to: &mut tokio::fs::File,
) -> Result<u64, CopyError> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf).await.map_err(CopyError::Read)?;
        if n == 0 {
            return Ok(total);
        }
        to.write_all(&buf[..n]).await.map_err(CopyError::Write)?;
        total += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends a few bytes, then nothing, for ever.
    struct Stalls(bool);

    impl AsyncRead for Stalls {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.0 {
                return std::task::Poll::Pending;
            }
            self.0 = true;
            buf.put_slice(b"some bytes");
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn a_write_dropped_half_way_leaves_no_partial_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(dir.path());
        let key = ObjectKey("p8sync/c/f.txt".into());
        let mut body = Stalls(false);
        let meta = ObjectMeta::default();
        let put = store.put(&key, &mut body, &meta);
        let outcome = tokio::time::timeout(std::time::Duration::from_millis(100), put).await;
        assert!(outcome.is_err(), "the body never ends, so the write cannot");
        let partials: Vec<_> = std::fs::read_dir(store.partial_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(partials.is_empty(), "{partials:?}");
        assert_eq!(store.head(&key).await.unwrap(), None);
    }
}
