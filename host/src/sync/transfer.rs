//! Moving one file's bytes: turn the provider's fetch plan into a byte stream, hash it while it
//! streams into the object store, and check it against what the provider said.

use super::retry::RetryPolicy;
use crate::blob::{BlobError, BlobStore, ObjectKey, ObjectMeta, StoredObject};
use crate::runtime::types::{ChecksumAlgorithm, Entry, FetchPlan};
use crate::runtime::{CallContext, Provider, local_root};
use sha2::{Digest, Sha256};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

/// Why one file's transfer failed.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The plan points at a local file that may not be read.
    #[error("{0}")]
    Local(#[from] local_root::LocalPathError),
    /// The plan cannot be carried out by this host yet.
    #[error("{0}")]
    Unsupported(String),
    /// The HTTP download failed.
    #[error("{0}")]
    Http(#[from] crate::runtime::http::FetchError),
    /// Writing the object failed.
    #[error("{0}")]
    Blob(#[from] BlobError),
    /// The bytes do not match the provider's checksum.
    #[error(
        "checksum mismatch: the provider reported {algorithm} {expected}, the bytes hash to {actual}"
    )]
    Checksum {
        /// The algorithm.
        algorithm: &'static str,
        /// What the provider said.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
}

/// The result of a transfer.
#[derive(Debug, Clone)]
pub struct Transferred {
    /// The object.
    pub object: StoredObject,
    /// sha256 of the bytes, lower-case hex.
    pub sha256: String,
}

/// Hashes everything read through it.
struct Hashing<R> {
    inner: R,
    sha256: Sha256,
    md5: Option<md5::Context>,
    sha1: Option<sha1::Sha1>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Hashing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let new = &buf.filled()[before..];
            this.sha256.update(new);
            if let Some(m) = &mut this.md5 {
                m.consume(new);
            }
            if let Some(s) = &mut this.sha1 {
                s.update(new);
            }
        }
        poll
    }
}

/// Open an HTTP plan, retrying what may be transient (429, 5xx, dropped connections).
async fn open_http(
    provider: &Provider,
    cx: &CallContext,
    request: &crate::runtime::types::HttpRequest,
    retry: &RetryPolicy,
) -> Result<crate::runtime::http::FetchBody, TransferError> {
    let mut attempt = 0;
    loop {
        match provider.open_http(cx, request).await {
            Ok(body) => return Ok(body),
            Err(e) if e.is_transient() && attempt < retry.retries => {
                let after = match &e {
                    crate::runtime::http::FetchError::Status { retry_after, .. } => {
                        retry_after.map(std::time::Duration::from_secs)
                    }
                    _ => None,
                };
                let wait = retry.delay(attempt, after);
                tracing::info!("{e}; retrying in {wait:?}");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Fetch `entry` according to `plan` and store it under `key`.
pub async fn transfer(
    plan: FetchPlan,
    entry: &Entry,
    (provider, cx, retry): (&Provider, &CallContext, &RetryPolicy),
    blob: &dyn BlobStore,
    key: &ObjectKey,
) -> Result<Transferred, TransferError> {
    let root = cx.root.as_deref();
    let source: Box<dyn AsyncRead + Send + Unpin> = match plan {
        FetchPlan::LocalFile(relative) => {
            let root = root.ok_or_else(|| {
                TransferError::Unsupported("a local-file plan without a granted root".into())
            })?;
            let file = local_root::open(root, &relative)?;
            Box::new(tokio::fs::File::from_std(file))
        }
        FetchPlan::Inline(bytes) => Box::new(std::io::Cursor::new(bytes)),
        FetchPlan::Http(request) => open_http(provider, cx, &request, retry).await?,
    };
    let wants_md5 = entry
        .checksums
        .iter()
        .any(|c| matches!(c.algorithm, ChecksumAlgorithm::Md5));
    let wants_sha1 = entry
        .checksums
        .iter()
        .any(|c| matches!(c.algorithm, ChecksumAlgorithm::Sha1));
    let mut reader = Hashing {
        inner: source,
        sha256: Sha256::new(),
        md5: wants_md5.then(md5::Context::new),
        sha1: wants_sha1.then(sha1::Sha1::new),
    };
    let meta = ObjectMeta {
        name: entry.name.clone(),
        content_type: entry
            .export_as
            .as_ref()
            .map(|e| e.mime_type.clone())
            .or_else(|| entry.mime_type.clone()),
        size_hint: entry.size,
    };
    let object = blob.put(key, &mut reader, &meta).await?;
    let sha256 = hex::encode(reader.sha256.finalize());
    let md5 = reader.md5.map(|m| hex::encode(m.finalize().0));
    let sha1 = reader.sha1.map(|s| hex::encode(s.finalize()));
    for c in &entry.checksums {
        let (algorithm, actual) = match &c.algorithm {
            ChecksumAlgorithm::Sha256 => ("sha256", Some(sha256.clone())),
            ChecksumAlgorithm::Md5 => ("md5", md5.clone()),
            ChecksumAlgorithm::Sha1 => ("sha1", sha1.clone()),
            _ => continue,
        };
        if let Some(actual) = actual
            && !actual.eq_ignore_ascii_case(c.value.trim())
        {
            // Do not keep bytes that are not what the provider has.
            let _ = blob.delete(key).await;
            return Err(TransferError::Checksum {
                algorithm,
                expected: c.value.clone(),
                actual,
            });
        }
    }
    Ok(Transferred { object, sha256 })
}
