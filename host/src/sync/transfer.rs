//! Moving one file's bytes: turn the provider's fetch plan into a byte stream, hash it while it
//! streams into the object store, and check it against what the provider said.

use super::checksum::Hashers;
use super::retry::RetryPolicy;
use crate::blob::{BlobError, BlobStore, ObjectKey, ObjectMeta, StoredObject};
use crate::runtime::http::{FetchBody, FetchError};
use crate::runtime::types::{Entry, FetchPlan, ProviderError};
use crate::runtime::{CallContext, Provider, local_root};
use std::os::fd::AsFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

/// What one file's transfer may take: bytes and time. The body comes from outside, so both
/// are enforced while it streams, and a transfer stopped by either keeps nothing.
#[derive(Debug, Clone, Copy)]
pub struct TransferLimits {
    /// The sync config's `max_file_size`, when it has one.
    pub max_file_size: Option<u64>,
    /// The most bytes a file may have when the provider did not list its size (an export):
    /// `P8_MAX_EXPORT_BYTES`.
    pub max_unlisted_bytes: u64,
    /// When the transfer is abandoned.
    pub deadline: Instant,
    /// How long it was given (for the error).
    pub timeout: Duration,
}

/// The bound on a file's bytes, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteLimit {
    /// The size the provider listed for the file.
    Listed(u64),
    /// The sync config's `max_file_size` (the file's size was not listed).
    MaxFileSize(u64),
    /// `P8_MAX_EXPORT_BYTES`, for a file whose size was not listed.
    Unlisted(u64),
}

impl ByteLimit {
    /// The most bytes allowed.
    pub fn bytes(self) -> u64 {
        match self {
            ByteLimit::Listed(n) | ByteLimit::MaxFileSize(n) | ByteLimit::Unlisted(n) => n,
        }
    }
}

impl std::fmt::Display for ByteLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteLimit::Listed(n) => write!(
                f,
                "the server sent more than the {n} bytes it listed for the file; the transfer was stopped and nothing was kept"
            ),
            ByteLimit::MaxFileSize(n) => write!(
                f,
                "the file is larger than the sync config's max_file_size of {n} bytes (its size was not listed up front); the transfer was stopped and nothing was kept"
            ),
            ByteLimit::Unlisted(n) => write!(
                f,
                "the file's size was not listed and it is larger than {n} bytes, the most such a file may have (P8_MAX_EXPORT_BYTES); the transfer was stopped and nothing was kept"
            ),
        }
    }
}

impl TransferLimits {
    /// The bound on `entry`'s bytes: the size it was listed with (not for exports, whose size
    /// is not known up front), else `max_unlisted_bytes`; the config's `max_file_size` when
    /// that is lower.
    pub fn byte_limit(&self, entry: &Entry) -> ByteLimit {
        let listed = entry.size.filter(|_| entry.export_as.is_none());
        let limit = match listed {
            Some(n) => ByteLimit::Listed(n),
            None => ByteLimit::Unlisted(self.max_unlisted_bytes),
        };
        match self.max_file_size {
            Some(max) if max < limit.bytes() => ByteLimit::MaxFileSize(max),
            _ => limit,
        }
    }
}

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
    /// More bytes arrived than the file may have; the transfer was stopped.
    #[error("{0}")]
    TooLarge(ByteLimit),
    /// The transfer ran past its deadline and was abandoned.
    #[error(
        "the transfer did not finish within {0:?}, the most one file may take (P8_TRANSFER_TIMEOUT_SECS); it was abandoned and nothing was kept"
    )]
    Deadline(Duration),
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

    /// Whether the file is left out by the config's `max_file_size` (as the plan leaves out
    /// files listed over it) rather than failed.
    pub fn is_excluded(&self) -> bool {
        matches!(self, TransferError::TooLarge(ByteLimit::MaxFileSize(_)))
    }

    /// Whether the same transfer may work next time by itself. A body over its bound comes
    /// back the same (the file is listed again when it changes); a deadline may not.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Provider(_)
            | TransferError::Local(_)
            | TransferError::Unsupported(_)
            | TransferError::TooLarge(_) => false,
            TransferError::Deadline(_) => true,
            TransferError::Http(FetchError::Refused(_)) => false,
            TransferError::Http(FetchError::Status { status, .. }) => {
                matches!(*status, 202 | 408 | 429) || *status >= 500
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

/// Hashes everything read through it, and ends the body with an error (so the object store
/// keeps nothing) at its byte limit or its deadline, whichever comes first.
struct Metered<R> {
    inner: R,
    hashers: Hashers,
    read: u64,
    limit: ByteLimit,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    stopped: Option<TransferError>,
}

impl<R> Metered<R> {
    fn new(inner: R, entry: &Entry, limits: &TransferLimits) -> Self {
        Metered {
            inner,
            hashers: Hashers::for_checksums(&entry.checksums),
            read: 0,
            limit: limits.byte_limit(entry),
            deadline: Box::pin(tokio::time::sleep_until(limits.deadline)),
            timeout: limits.timeout,
            stopped: None,
        }
    }

    fn stop(&mut self, why: TransferError) -> Poll<std::io::Result<()>> {
        let error = std::io::Error::other(why.to_string());
        self.stopped.get_or_insert(why);
        Poll::Ready(Err(error))
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Metered<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(why) = &this.stopped {
            return Poll::Ready(Err(std::io::Error::other(why.to_string())));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            let timeout = this.timeout;
            return this.stop(TransferError::Deadline(timeout));
        }
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let n = (buf.filled().len() - before) as u64;
            this.read = this.read.saturating_add(n);
            if this.read > this.limit.bytes() {
                // The bytes past the limit are not handed on.
                buf.set_filled(before);
                let limit = this.limit;
                return this.stop(TransferError::TooLarge(limit));
            }
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

/// Local files up to this size are read whole when opened (one trip to the blocking pool);
/// larger ones stream.
const SMALL_LOCAL_FILE: usize = 256 * 1024;

/// Fetch `entry` according to `plan` and store it under `key`, within `limits`.
pub async fn transfer(
    plan: FetchPlan,
    entry: &Entry,
    (provider, cx, retry): (&Provider, &CallContext, &RetryPolicy),
    blob: &dyn BlobStore,
    key: &ObjectKey,
    limits: &TransferLimits,
) -> Result<Transferred, TransferError> {
    let root = cx.root.as_deref();
    let meta = ObjectMeta {
        name: entry.name.clone(),
        content_type: entry
            .export_as
            .as_ref()
            .map(|e| e.mime_type.clone())
            .or_else(|| entry.mime_type.clone()),
        size_hint: entry.size,
        sha256: None,
    };
    let source: Box<dyn AsyncRead + Send + Unpin> = match plan {
        FetchPlan::LocalFile(relative) => {
            let root = root.ok_or_else(|| {
                TransferError::Unsupported("a local-file plan without a granted root".into())
            })?;
            // The run holds its root open; a context without one opens it for this file.
            let opened_root;
            let root_fd = match &cx.held_root {
                Some(held) => held.fd(),
                None => {
                    opened_root = local_root::open_root(root)?;
                    opened_root.as_fd()
                }
            };
            match local_root::open_small(root_fd, &relative, SMALL_LOCAL_FILE)? {
                local_root::Opened::Read(bytes) => {
                    return store_bytes(bytes, entry, blob, key, limits, meta).await;
                }
                local_root::Opened::Open(file) => Box::new(tokio::fs::File::from_std(file)),
            }
        }
        FetchPlan::Inline(bytes) => {
            return store_bytes(bytes, entry, blob, key, limits, meta).await;
        }
        // Nothing is stored yet: past the deadline, the request (and its retries) just stop.
        FetchPlan::Http(request) => tokio::time::timeout_at(
            limits.deadline,
            open_http(entry, (provider, cx, retry), request),
        )
        .await
        .map_err(|_| TransferError::Deadline(limits.timeout))??,
    };
    let mut reader = Metered::new(source, entry, limits);
    let stored = blob.put(key, &mut reader, &meta).await;
    // A body stopped at its limit or deadline failed the write, which kept nothing; say which
    // limit it was rather than "reading the source failed".
    if let Some(why) = reader.stopped.take() {
        if stored.is_ok() {
            let _ = blob.delete(key).await;
        }
        return Err(why);
    }
    let object = stored?;
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

/// Store a body that is already in memory: checked against its limit and the provider's
/// checksums first, so bytes that are not the provider's are never written, and uploaded with
/// its SHA-256, which the object store then need not compute again.
async fn store_bytes(
    bytes: Vec<u8>,
    entry: &Entry,
    blob: &dyn BlobStore,
    key: &ObjectKey,
    limits: &TransferLimits,
    mut meta: ObjectMeta,
) -> Result<Transferred, TransferError> {
    let limit = limits.byte_limit(entry);
    let size = bytes.len() as u64;
    if size > limit.bytes() {
        return Err(TransferError::TooLarge(limit));
    }
    let mut hashers = Hashers::for_checksums(&entry.checksums);
    hashers.update(&bytes);
    let sha256 = verify(entry, size, hashers)?;
    meta.sha256 = Some(sha256.clone());
    let object = blob
        .put(key, &mut std::io::Cursor::new(bytes), &meta)
        .await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::local::LocalBlobStore;
    use crate::runtime::types::{EntryKind, ExportFormat};

    fn entry(size: Option<u64>, export: bool) -> Entry {
        Entry {
            id: "f".into(),
            name: "f.txt".into(),
            path: vec![],
            parent_ids: vec![],
            kind: EntryKind::File,
            mime_type: None,
            size,
            modified: None,
            created: None,
            checksums: vec![],
            revision: None,
            export_as: export.then(|| ExportFormat {
                mime_type: "text/plain".into(),
                extension: "txt".into(),
            }),
            metadata_json: None,
        }
    }

    fn limits(max_file_size: Option<u64>, timeout: Duration) -> TransferLimits {
        TransferLimits {
            max_file_size,
            max_unlisted_bytes: 100,
            deadline: Instant::now() + timeout,
            timeout,
        }
    }

    #[test]
    fn the_byte_limit_is_the_listed_size_else_the_caps() {
        let l = limits(None, Duration::from_secs(1));
        assert_eq!(l.byte_limit(&entry(Some(7), false)), ByteLimit::Listed(7));
        // An export's listed size (if any) is not its exported size.
        assert_eq!(
            l.byte_limit(&entry(Some(7), true)),
            ByteLimit::Unlisted(100)
        );
        assert_eq!(l.byte_limit(&entry(None, false)), ByteLimit::Unlisted(100));
        let l = limits(Some(50), Duration::from_secs(1));
        assert_eq!(l.byte_limit(&entry(None, true)), ByteLimit::MaxFileSize(50));
        assert_eq!(l.byte_limit(&entry(Some(7), false)), ByteLimit::Listed(7));
        assert_eq!(
            l.byte_limit(&entry(Some(u64::MAX), false)),
            ByteLimit::MaxFileSize(50)
        );
    }

    /// Streams `body` through the meter into a local store: what came of it, and whether the
    /// store kept anything (object or partial file).
    async fn stream(
        body: Box<dyn AsyncRead + Send + Unpin>,
        entry: &Entry,
        limits: &TransferLimits,
    ) -> (Result<StoredObject, BlobError>, Option<TransferError>, bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(dir.path());
        let key = ObjectKey::from_uri("file:///x/p8sync/c/f.txt").unwrap();
        let mut reader = Metered::new(body, entry, limits);
        let put = store.put(&key, &mut reader, &ObjectMeta::default()).await;
        let partials = std::fs::read_dir(dir.path().join(".partial"))
            .map(|d| d.count())
            .unwrap_or(0);
        let kept = store.head(&key).await.unwrap().is_some() || partials > 0;
        (put, reader.stopped, kept)
    }

    #[tokio::test]
    async fn a_body_past_its_limit_is_stopped_and_nothing_is_kept() {
        let l = limits(Some(50), Duration::from_secs(30));
        let over = |n: usize| Box::new(std::io::Cursor::new(vec![b'x'; n]));

        let (put, stopped, kept) = stream(over(11), &entry(Some(10), false), &l).await;
        assert!(put.is_err() && !kept);
        let e = stopped.unwrap();
        assert_eq!(
            e.to_string(),
            "the server sent more than the 10 bytes it listed for the file; the transfer was stopped and nothing was kept"
        );
        assert!(!e.is_retryable() && !e.is_interrupted() && !e.is_excluded());

        let (_, stopped, kept) = stream(over(51), &entry(None, true), &l).await;
        let e = stopped.unwrap();
        assert!(e.is_excluded() && !kept, "{e}");
        assert!(e.to_string().contains("max_file_size of 50 bytes"), "{e}");

        let l = limits(None, Duration::from_secs(30));
        let (_, stopped, kept) = stream(over(101), &entry(None, false), &l).await;
        let e = stopped.unwrap();
        assert!(
            e.to_string().contains("P8_MAX_EXPORT_BYTES") && !kept,
            "{e}"
        );

        // At the limit exactly, everything is kept.
        let (put, stopped, kept) = stream(over(10), &entry(Some(10), false), &l).await;
        assert_eq!(put.unwrap().size, 10);
        assert!(stopped.is_none() && kept);
    }

    /// A body that sends a byte every 20 ms, for ever.
    struct Trickle(Pin<Box<tokio::time::Sleep>>);

    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            match self.0.as_mut().poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(()) => {
                    let next = Instant::now() + Duration::from_millis(20);
                    self.0.as_mut().reset(next);
                    buf.put_slice(b"x");
                    Poll::Ready(Ok(()))
                }
            }
        }
    }

    #[tokio::test]
    async fn a_body_past_its_deadline_is_abandoned_and_nothing_is_kept() {
        let l = limits(None, Duration::from_millis(200));
        let body = Box::new(Trickle(Box::pin(tokio::time::sleep(Duration::ZERO))));
        let started = std::time::Instant::now();
        let (put, stopped, kept) = stream(body, &entry(None, false), &l).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(put.is_err() && !kept);
        let e = stopped.unwrap();
        assert!(matches!(e, TransferError::Deadline(_)) && e.is_retryable());
        assert!(e.to_string().contains("P8_TRANSFER_TIMEOUT_SECS"), "{e}");
    }
}
