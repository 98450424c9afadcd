//! Moving one file's bytes: turn the provider's fetch plan into a byte stream, hash it while it
//! streams into the object store, and check it against what the provider said.

use super::checksum::Hashers;
use super::retry::RetryPolicy;
use crate::blob::{BlobError, BlobStore, ObjectKey, ObjectMeta, StoredObject};
use crate::runtime::http::{FetchBody, FetchError};
use crate::runtime::types::{Entry, FetchPlan, ProviderError};
use crate::runtime::{CallContext, Provider, local_root};
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
    Http(#[from] FetchError),
    /// The provider explained the download's failure.
    #[error("{0}")]
    Provider(String),
    /// Writing the object failed.
    #[error("{0}")]
    Blob(#[from] BlobError),
    /// Fewer or more bytes arrived than the provider said the file has.
    #[error("size mismatch: the provider reported {expected} bytes, {actual} arrived")]
    Size {
        /// What the provider said.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
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

impl TransferError {
    /// Whether the bytes broke off or arrived damaged, so fetching them again may work. The
    /// provider's own verdicts (forbidden, not found) and refusals by the sandbox will not.
    pub fn is_interrupted(&self) -> bool {
        matches!(
            self,
            TransferError::Blob(BlobError::Source(_))
                | TransferError::Size { .. }
                | TransferError::Checksum { .. }
        )
    }

    /// Whether the same transfer may work next time by itself.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Provider(_)
            | TransferError::Local(_)
            | TransferError::Unsupported(_) => false,
            TransferError::Http(FetchError::Refused(_)) => false,
            TransferError::Http(FetchError::Status { status, .. }) => {
                *status == 408 || *status == 429 || *status >= 500
            }
            _ => true,
        }
    }
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
    hashers: Hashers,
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
            this.hashers.update(&buf.filled()[before..]);
        }
        poll
    }
}

/// The config key through which a provider, asked for a plan again, sees why the last one
/// failed: JSON `{"status", "retry_after_seconds", "body"}` (see the SDK's `fetch` module).
pub const FETCH_FAILURE_KEY: &str = "p8sync.fetch_failure";

/// How many times a provider may replace a failing plan with another one.
const MAX_REPLANS: u32 = 2;

/// Open an HTTP plan. Transient failures (429, 5xx, dropped connections) are retried with
/// backoff; a 401 gets one token refresh and one retry; any other error status is shown to the
/// provider (it knows its API's error bodies), which maps it onto the contract's errors or
/// offers another plan (for example an export link when an export is too large).
async fn open_http(
    entry: &Entry,
    (provider, cx, retry): (&Provider, &CallContext, &RetryPolicy),
    request: crate::runtime::types::HttpRequest,
) -> Result<FetchBody, TransferError> {
    let mut request = request;
    let mut attempt = 0;
    let mut refreshed = false;
    let mut replans = 0;
    loop {
        let generation = cx.credentials.as_ref().map(|c| c.generation());
        let failure = match provider.open_http(cx, &request).await {
            Ok(body) => return Ok(body),
            Err(e) => e,
        };
        let dead = cx.credentials.as_ref().and_then(|c| c.fatal());
        if let Some(dead) = dead {
            return Err(FetchError::Credential(dead).into());
        }
        let wait = match &failure {
            FetchError::Status { status: 401, .. } if !refreshed => {
                if let (Some(source), Some(generation)) = (&cx.credentials, generation) {
                    refreshed = true;
                    source
                        .rejected(generation)
                        .await
                        .map_err(FetchError::Credential)?;
                    continue;
                }
                return Err(failure.into());
            }
            FetchError::Status {
                status,
                retry_after,
                body,
            } => {
                let verdict = consult(entry, (provider, cx), *status, *retry_after, body).await;
                match verdict {
                    Verdict::NewPlan(plan) if plan != request && replans < MAX_REPLANS => {
                        tracing::debug!(file = %entry.id, "the provider offered another plan after HTTP {status}");
                        replans += 1;
                        request = plan;
                        continue;
                    }
                    Verdict::Retry(after) => after,
                    Verdict::Fail(message) => return Err(TransferError::Provider(message)),
                    Verdict::NewPlan(_) | Verdict::NoOpinion => {
                        if !failure.is_transient() {
                            return Err(failure.into());
                        }
                        retry_after.map(|s| retry.retry_after_secs(s))
                    }
                }
            }
            e if e.is_transient() => None,
            _ => return Err(failure.into()),
        };
        if attempt >= retry.retries {
            return Err(failure.into());
        }
        let wait = retry.delay(attempt, wait);
        tracing::info!(file = %entry.id, "{failure}; retrying in {wait:?}");
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// What the provider made of a failed plan.
enum Verdict {
    /// Try this request instead.
    NewPlan(crate::runtime::types::HttpRequest),
    /// Wait (this long, if it said) and try again.
    Retry(Option<std::time::Duration>),
    /// Give up on this file with the provider's explanation.
    Fail(String),
    /// The provider returned the same plan or none of the above: judge by the status alone.
    NoOpinion,
}

async fn consult(
    entry: &Entry,
    (provider, cx): (&Provider, &CallContext),
    status: u16,
    retry_after: Option<u64>,
    body: &str,
) -> Verdict {
    let mut asked = cx.clone();
    asked.config.insert(
        FETCH_FAILURE_KEY.to_string(),
        serde_json::json!({
            "status": status,
            "retry_after_seconds": retry_after,
            "body": body,
        })
        .to_string(),
    );
    match provider.fetch(&asked, entry).await {
        Ok(FetchPlan::Http(plan)) => Verdict::NewPlan(plan),
        Ok(_) => Verdict::NoOpinion,
        Err(e) => match e.provider_error() {
            Some(ProviderError::RateLimited(r)) => Verdict::Retry(
                // As asked; `RetryPolicy::delay` caps it.
                r.retry_after_seconds
                    .map(|s| std::time::Duration::from_secs(u64::from(s)))
                    .or(retry_after.map(std::time::Duration::from_secs)),
            ),
            Some(ProviderError::Transient(_)) => Verdict::Retry(None),
            Some(_) => Verdict::Fail(e.to_string()),
            // A provider that traps on the question has no opinion worth more than the status.
            None => Verdict::NoOpinion,
        },
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
        FetchPlan::Http(request) => open_http(entry, (provider, cx, retry), request).await?,
    };
    let mut reader = Hashing {
        inner: source,
        hashers: Hashers::for_checksums(&entry.checksums),
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
    let sha256 = match verify(entry, object.size, reader.hashers) {
        Ok(sha256) => sha256,
        Err(e) => {
            // Do not keep bytes that are not what the provider has.
            let _ = blob.delete(key).await;
            return Err(e);
        }
    };
    Ok(Transferred { object, sha256 })
}

/// Check the bytes that arrived (`size` of them, hashed by `hashers`) against what the entry
/// declares; their SHA-256 (lower-case hex) when they match.
pub fn verify(entry: &Entry, size: u64, hashers: Hashers) -> Result<String, TransferError> {
    // An export's size is unknown up front; a download's is not, and a short body without a
    // Content-Length would otherwise pass for the whole file.
    if entry.export_as.is_none()
        && let Some(expected) = entry.size
        && expected != size
    {
        return Err(TransferError::Size {
            expected,
            actual: size,
        });
    }
    let digests = hashers.finish();
    digests
        .verify(&entry.checksums)
        .map_err(|m| TransferError::Checksum {
            algorithm: m.algorithm,
            expected: m.expected,
            actual: m.actual,
        })?;
    Ok(digests.sha256)
}
