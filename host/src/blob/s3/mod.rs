//! S3 (or any S3-compatible server) as the object store, through `aws-sdk-s3`.
//!
//! Uploads stream: a body smaller than one part goes up as a single PUT; a larger one as a
//! multipart upload with a bounded number of parts in flight, so memory stays at
//! `part_size x (parts_in_flight + 1)` whatever the file size. A failed multipart upload is
//! aborted; uploads a killed process left behind are aborted at the next sync of that config.
//! On an S3-compatible server with static credentials, a single PUT skips the SDK ([`put`]).

mod put;

use super::{BlobError, BlobStore, ObjectKey, ObjectMeta, StoredObject};
use crate::secret::Secret;
use aws_runtime::auth::PayloadSigningOverride;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How to reach the object store.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// A custom endpoint (`S3_URL` or `AWS_ENDPOINT_URL`); `None` for AWS itself.
    pub endpoint: Option<String>,
    /// The bucket (`S3_DEFAULT_BUCKET`, `S3_BUCKET_NAME` or `P8_S3_BUCKET`).
    pub bucket: String,
    /// The region (`AWS_REGION`, default us-east-1).
    pub region: String,
    /// Static credentials (`S3_ACCESS_KEY`/`S3_SECRET`); `None` for the standard AWS chain
    /// (`AWS_ACCESS_KEY_ID`, profiles, roles).
    pub credentials: Option<(Secret, Secret)>,
    /// Bytes per multipart part (and the single-PUT threshold).
    pub part_size: usize,
    /// Parts uploaded at once.
    pub parts_in_flight: usize,
}

impl S3Settings {
    /// Settings from Percolate's variables and the AWS ones, or `None` when no bucket is set.
    pub fn from_env() -> Option<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let bucket = var("S3_DEFAULT_BUCKET")
            .or_else(|| var("S3_BUCKET_NAME"))
            .or_else(|| var("P8_S3_BUCKET"))?;
        let endpoint = var("S3_URL").or_else(|| var("AWS_ENDPOINT_URL")).map(|e| {
            if e.contains("://") {
                e
            } else {
                format!("https://{e}")
            }
        });
        let credentials = match (var("S3_ACCESS_KEY"), var("S3_SECRET")) {
            (Some(a), Some(s)) => Some((Secret::new(a), Secret::new(s))),
            _ => None,
        };
        Some(S3Settings {
            endpoint,
            bucket,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            credentials,
            part_size: 8 * 1024 * 1024,
            parts_in_flight: 4,
        })
    }
}

/// The S3 store.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    /// The single PUT without the SDK, where the settings allow it.
    direct: Option<Arc<put::DirectPut>>,
    settings: S3Settings,
}

fn err(key: &ObjectKey, e: impl std::fmt::Display) -> BlobError {
    BlobError::Store {
        key: key.to_string(),
        reason: e.to_string(),
    }
}

/// The service's error code and message, without the request details.
fn describe<E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Display>(
    e: &aws_sdk_s3::error::SdkError<E>,
) -> String {
    use aws_sdk_s3::error::SdkError;
    match e {
        SdkError::ServiceError(s) => {
            let inner = s.err();
            match (inner.code(), inner.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => format!("HTTP {}", s.raw().status().as_u16()),
            }
        }
        SdkError::DispatchFailure(d) => format!("cannot reach the server: {d:?}")
            .chars()
            .take(300)
            .collect(),
        SdkError::TimeoutError(_) => "timed out".into(),
        other => other.to_string(),
    }
}

/// Free part buffers of one multipart upload.
type PartPool = Arc<Mutex<Vec<Vec<u8>>>>;

/// A part's bytes, handed back to the pool when the last reference to them goes.
struct PooledPart {
    buf: Vec<u8>,
    pool: PartPool,
}

impl AsRef<[u8]> for PooledPart {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledPart {
    fn drop(&mut self) {
        if let Ok(mut free) = self.pool.lock() {
            free.push(std::mem::take(&mut self.buf));
        }
    }
}

impl S3BlobStore {
    /// A client for these settings (no request is made yet; see [`BlobStore::check`]).
    pub async fn new(settings: S3Settings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some((access, secret)) = &settings.credentials {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                access.expose(),
                secret.expose(),
                None,
                None,
                "p8sync-static",
            ));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared)
            // Custom endpoints (MinIO, Ceph, test servers) rarely do virtual-hosted buckets.
            .force_path_style(settings.endpoint.is_some())
            // p8sync hashes every body itself (sha256, recorded and verified against the
            // provider). The SDK's default extra CRC32 turns each upload into an aws-chunked
            // stream with trailers: slower per request, and not every S3-compatible server
            // handles it well.
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            )
            .response_checksum_validation(
                aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired,
            )
            .build();
        S3BlobStore {
            client: Client::from_conf(config),
            direct: put::DirectPut::new(&settings).map(Arc::new),
            settings,
        }
    }

    fn where_(&self) -> String {
        format!(
            "bucket `{}` at {}",
            self.settings.bucket,
            self.settings.endpoint.as_deref().unwrap_or("AWS S3")
        )
    }

    /// Up to `size` bytes of `body`, into `buf` (emptied first).
    async fn read_part(
        body: &mut (dyn AsyncRead + Send + Unpin),
        size: usize,
        mut buf: Vec<u8>,
    ) -> Result<Vec<u8>, BlobError> {
        buf.clear();
        let mut limited = body.take(size as u64);
        limited
            .read_to_end(&mut buf)
            .await
            .map_err(BlobError::Source)?;
        Ok(buf)
    }

    async fn multipart(
        &self,
        key: &ObjectKey,
        first: Vec<u8>,
        body: &mut (dyn AsyncRead + Send + Unpin),
        meta: &ObjectMeta,
    ) -> Result<u64, BlobError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .metadata("p8-name", encode_name(&meta.name))
            .set_content_type(meta.content_type.clone())
            .send()
            .await
            .map_err(|e| {
                err(
                    key,
                    format!("starting a multipart upload: {}", describe(&e)),
                )
            })?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| err(key, "the server returned no upload id"))?
            .to_string();
        let result = self.upload_parts(key, &upload_id, first, body).await;
        match result {
            Ok((parts, size)) => {
                self.client
                    .complete_multipart_upload()
                    .bucket(&self.settings.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await
                    .map_err(|e| {
                        err(
                            key,
                            format!("completing a multipart upload: {}", describe(&e)),
                        )
                    })?;
                Ok(size)
            }
            Err(e) => {
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.settings.bucket)
                    .key(key.as_str())
                    .upload_id(&upload_id)
                    .send()
                    .await;
                Err(e)
            }
        }
    }

    async fn upload_parts(
        &self,
        key: &ObjectKey,
        upload_id: &str,
        first: Vec<u8>,
        body: &mut (dyn AsyncRead + Send + Unpin),
    ) -> Result<(Vec<CompletedPart>, u64), BlobError> {
        let mut in_flight = FuturesUnordered::new();
        let mut done = Vec::new();
        let mut next = Some(first);
        // Part buffers come back here once the SDK has sent them, so a large file reuses a few
        // buffers instead of allocating (and faulting in) one per part, which also kept the
        // allocator from growing its heaps with every part.
        let pool: PartPool = Arc::default();
        let part_buffer = |pool: &PartPool| {
            pool.lock()
                .ok()
                .and_then(|mut free| free.pop())
                .unwrap_or_else(|| Vec::with_capacity(self.settings.part_size + 1))
        };
        let mut number = 0i32;
        let mut size = 0u64;
        loop {
            while in_flight.len() < self.settings.parts_in_flight.max(1) {
                let Some(part) = next.take() else { break };
                if part.is_empty() {
                    break;
                }
                number += 1;
                size += part.len() as u64;
                let request = self
                    .client
                    .upload_part()
                    .bucket(&self.settings.bucket)
                    .key(key.as_str())
                    .upload_id(upload_id)
                    .part_number(number)
                    .body(ByteStream::from(Bytes::from_owner(PooledPart {
                        buf: part,
                        pool: pool.clone(),
                    })));
                let n = number;
                in_flight.push(async move { (n, request.send().await) });
                // Read the next part while the others upload.
                next =
                    Some(Self::read_part(body, self.settings.part_size, part_buffer(&pool)).await?);
            }
            match in_flight.next().await {
                None => break,
                Some((n, Ok(out))) => done.push(
                    CompletedPart::builder()
                        .part_number(n)
                        .set_e_tag(out.e_tag().map(str::to_string))
                        .build(),
                ),
                Some((n, Err(e))) => {
                    return Err(err(key, format!("uploading part {n}: {}", describe(&e))));
                }
            }
        }
        done.sort_by_key(|p| p.part_number());
        Ok((done, size))
    }
}

/// Signs an upload with a SHA-256 its caller already computed (when there is one), instead of
/// the SDK hashing the body again: for small files that hash was a visible share of the cost.
/// The server still checks the body against it.
#[derive(Debug)]
struct PrecomputedSha256(Option<String>);

impl Intercept for PrecomputedSha256 {
    fn name(&self) -> &'static str {
        "PrecomputedSha256"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(sha256) = &self.0 {
            cfg.interceptor_state()
                .store_put(PayloadSigningOverride::Precomputed(sha256.clone()));
        }
        Ok(())
    }
}

/// Object metadata must be ASCII: percent-encode the original name.
fn encode_name(name: &str) -> String {
    percent_encode(name, b".-_ ")
}

/// `text` with every byte but ASCII letters, digits and those in `keep` as `%XX`.
fn percent_encode(text: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[async_trait::async_trait]
impl BlobStore for S3BlobStore {
    async fn check(&self) -> Result<(), BlobError> {
        match self
            .client
            .head_bucket()
            .bucket(&self.settings.bucket)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                Err(BlobError::Unavailable(match status {
                    Some(404) => format!(
                        "the {} does not exist; create it or set S3_BUCKET_NAME",
                        self.where_()
                    ),
                    Some(403) | Some(401) => format!(
                        "access to the {} was denied; check S3_ACCESS_KEY/S3_SECRET (or the AWS credentials)",
                        self.where_()
                    ),
                    _ => format!("cannot use the {}: {}", self.where_(), describe(&e)),
                }))
            }
        }
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        meta: &ObjectMeta,
    ) -> Result<StoredObject, BlobError> {
        // Room for what the provider listed (clamped to a part), not a whole part: most files
        // are small, and an 8 MiB buffer per file is a map, page faults and an unmap each time.
        let expected = meta.size_hint.map_or(self.settings.part_size, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
        let first = Self::read_part(
            body,
            self.settings.part_size,
            Vec::with_capacity(expected.min(self.settings.part_size) + 1),
        )
        .await?;
        let size = if first.len() < self.settings.part_size {
            let len = first.len() as u64;
            if let Some(direct) = &self.direct {
                direct
                    .put(key, Bytes::from(first), meta)
                    .await
                    .map_err(|e| err(key, e))?;
                return Ok(StoredObject {
                    uri: self.uri(key),
                    size: len,
                });
            }
            self.client
                .put_object()
                .bucket(&self.settings.bucket)
                .key(key.as_str())
                .metadata("p8-name", encode_name(&meta.name))
                .set_content_type(meta.content_type.clone())
                .body(ByteStream::from(first))
                .customize()
                .interceptor(PrecomputedSha256(meta.sha256.clone()))
                .send()
                .await
                .map_err(|e| err(key, describe(&e)))?;
            len
        } else {
            self.multipart(key, first, body, meta).await?
        };
        Ok(StoredObject {
            uri: self.uri(key),
            size,
        })
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<u64>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(err(key, describe(&e))),
        }
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| err(key, describe(&e)))?;
        Ok(())
    }

    async fn read(&self, key: &ObjectKey) -> Result<Box<dyn AsyncRead + Send + Unpin>, BlobError> {
        let out = self
            .client
            .get_object()
            .bucket(&self.settings.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(|e| err(key, describe(&e)))?;
        Ok(Box::new(out.body.into_async_read()))
    }

    async fn abandon_incomplete(&self, prefix: &str) -> Result<(), BlobError> {
        let listed = self
            .client
            .list_multipart_uploads()
            .bucket(&self.settings.bucket)
            .prefix(prefix)
            .send()
            .await;
        // Not every S3-compatible server lists uploads; cleaning up is best effort.
        let Ok(listed) = listed else { return Ok(()) };
        for upload in listed.uploads() {
            if let (Some(key), Some(id)) = (upload.key(), upload.upload_id()) {
                tracing::info!(
                    key,
                    "aborting a multipart upload left by an interrupted sync"
                );
                let _ = self
                    .client
                    .abort_multipart_upload()
                    .bucket(&self.settings.bucket)
                    .key(key)
                    .upload_id(id)
                    .send()
                    .await;
            }
        }
        Ok(())
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("s3://{}/{}", self.settings.bucket, key)
    }
}
