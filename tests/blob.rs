//! The object stores, one conformance suite for both: the local folder, and S3 against a real
//! S3 server (s3s-fs in process, or the server named by P8_TEST_S3_ENDPOINT).

use p8sync::blob::local::LocalBlobStore;
use p8sync::blob::s3::S3BlobStore;
use p8sync::blob::{BlobError, BlobStore, ObjectKey, ObjectMeta};
use p8sync::store::SyncConfig;
use p8sync::store::ids::FileId;
use p8sync_e2e::*;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, ReadBuf};

fn key(name: &str) -> ObjectKey {
    let config = SyncConfig::new(
        "5c1b2f3e-0000-4000-8000-0000000000bb".parse().unwrap(),
        "local",
        "blob",
    );
    ObjectKey::for_file(config.id, FileId::derive(config.id, name), name, None)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

/// A source that fails after `after` bytes.
struct Failing {
    left: usize,
}

impl AsyncRead for Failing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::other("the provider hung up")));
        }
        let n = buf.remaining().min(self.left).min(64 * 1024);
        buf.put_slice(&vec![1u8; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

async fn conformance(store: &dyn BlobStore) {
    store.check().await.unwrap();
    let meta = ObjectMeta {
        name: "naïve café.txt".into(),
        content_type: Some("text/plain".into()),
        size_hint: None,
        sha256: None,
    };

    // Small: one PUT.
    let small = key("small.txt");
    assert!(store.key_is_absent(&small).await);
    let body = b"hello".to_vec();
    let stored = store.put(&small, &mut &body[..], &meta).await.unwrap();
    assert_eq!(stored.size, 5);
    assert_eq!(stored.uri, store.uri(&small));
    assert_eq!(store.head(&small).await.unwrap(), Some(5));
    assert_eq!(read_object(store, &small).await, body);

    // Large: multipart (parts of 5 MiB in the S3 tests).
    let large = key("large.bin");
    let data = pattern(17 * 1024 * 1024 + 123);
    let stored = store.put(&large, &mut &data[..], &meta).await.unwrap();
    assert_eq!(stored.size, data.len() as u64);
    assert_eq!(store.head(&large).await.unwrap(), Some(data.len() as u64));
    assert!(
        read_object(store, &large).await == data,
        "multipart object differs"
    );

    // Replace.
    let stored = store.put(&small, &mut &b"bye"[..], &meta).await.unwrap();
    assert_eq!(stored.size, 3);
    assert_eq!(read_object(store, &small).await, b"bye");

    // A source that fails mid-way leaves no object behind.
    let broken = key("broken.bin");
    let err = store
        .put(
            &broken,
            &mut Failing {
                left: 12 * 1024 * 1024,
            },
            &meta,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Source(_)), "{err}");
    assert_eq!(store.head(&broken).await.unwrap(), None);

    // Delete, twice.
    store.delete(&small).await.unwrap();
    store.delete(&small).await.unwrap();
    assert_eq!(store.head(&small).await.unwrap(), None);
}

trait Absent {
    async fn key_is_absent(&self, key: &ObjectKey) -> bool;
}

impl Absent for dyn BlobStore + '_ {
    async fn key_is_absent(&self, key: &ObjectKey) -> bool {
        self.head(key).await.unwrap().is_none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_store_conformance() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalBlobStore::new(dir.path());
    conformance(&store).await;
    assert!(
        std::fs::read_dir(dir.path().join(".partial"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_conformance() {
    let settings = s3_settings().await;
    let store = S3BlobStore::new(settings.clone()).await;
    conformance(&store).await;
    // The failed multipart upload was aborted, not left behind.
    let uploads = s3_client(&settings)
        .await
        .list_multipart_uploads()
        .bucket(&settings.bucket)
        .send()
        .await;
    if let Ok(uploads) = uploads {
        assert!(uploads.uploads().is_empty(), "{:?}", uploads.uploads());
    }
}

/// An upload signed with the SHA-256 its caller computed: the server takes the body that
/// matches it and refuses one that does not, so the hash is really the one sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_uploads_are_signed_with_the_known_sha256() {
    use sha2::Digest;
    let settings = s3_settings().await;
    let store = S3BlobStore::new(settings).await;
    let body = b"hashed once".to_vec();
    let right = hex::encode(sha2::Sha256::digest(&body));
    let meta = |sha256: &str| ObjectMeta {
        name: "h.txt".into(),
        sha256: Some(sha256.to_string()),
        ..ObjectMeta::default()
    };
    let good = key("hashed-good.txt");
    store
        .put(&good, &mut &body[..], &meta(&right))
        .await
        .unwrap();
    assert_eq!(store.head(&good).await.unwrap(), Some(body.len() as u64));

    let bad = key("hashed-bad.txt");
    let wrong = hex::encode(sha2::Sha256::digest(b"something else"));
    let refused = store.put(&bad, &mut &body[..], &meta(&wrong)).await;
    assert!(
        refused.is_err(),
        "a body that does not match its hash was stored"
    );
    assert!((&store as &dyn BlobStore).key_is_absent(&bad).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_bucket_or_bad_endpoint_is_a_clear_error() {
    let mut settings = s3_settings().await;
    settings.bucket = "no-such-bucket-p8sync".into();
    let err = S3BlobStore::new(settings.clone())
        .await
        .check()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("`no-such-bucket-p8sync`")
            && err.to_string().contains("does not exist"),
        "{err}"
    );

    settings.endpoint = Some("http://127.0.0.1:9".into());
    let err = S3BlobStore::new(settings).await.check().await.unwrap_err();
    assert!(err.to_string().contains("cannot use the bucket"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_refused_and_not_echoed() {
    let mut settings = s3s_settings().await;
    let wrong = "wrong-secret-value-1234";
    settings.credentials = Some((
        settings.credentials.clone().unwrap().0,
        p8sync::secret::Secret::new(wrong),
    ));
    let store = S3BlobStore::new(settings).await;
    let err = store.check().await.unwrap_err().to_string();
    assert!(
        err.contains("denied") || err.contains("Signature") || err.contains("cannot use"),
        "{err}"
    );
    assert!(!err.contains(wrong));
}

/// A small upload on an S3-compatible server with static keys goes up as one signed PUT without
/// the SDK: the object must carry what the SDK's PUT gave it (the name, the content type), and a
/// refusal must read as the server's reason, without the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_direct_put_stores_the_metadata_and_reports_the_server_s_reason() {
    let settings = s3s_settings().await;
    let store = S3BlobStore::new(settings.clone()).await;
    let meta = ObjectMeta {
        name: "Ünïcode & spaces/../x.md".into(),
        content_type: Some("text/markdown".into()),
        size_hint: Some(11),
        sha256: None,
    };
    let small = key("direct.md");
    store
        .put(&small, &mut &b"# a heading"[..], &meta)
        .await
        .unwrap();
    let head = s3_client(&settings)
        .await
        .head_object()
        .bucket(&settings.bucket)
        .key(small.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/markdown"));
    assert_eq!(head.content_length(), Some(11));
    let name = head.metadata().and_then(|m| m.get("p8-name")).cloned();
    assert_eq!(
        name.as_deref(),
        Some("%C3%9Cn%C3%AFcode %26 spaces%2F..%2Fx.md")
    );

    // A wrong secret: refused with the server's code (from its error document); the secret is
    // nowhere in the error.
    let wrong = "wrong-secret-value-5678";
    let mut bad = settings.clone();
    bad.credentials = Some((
        settings.credentials.clone().unwrap().0,
        p8sync::secret::Secret::new(wrong),
    ));
    let err = S3BlobStore::new(bad)
        .await
        .put(&key("refused.md"), &mut &b"x"[..], &meta)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Signature"), "{err}");
    assert!(!err.contains(wrong), "{err}");
    assert!(
        (&store as &dyn BlobStore)
            .key_is_absent(&key("refused.md"))
            .await
    );

    // A server that is not listening: a clear reason once the retries are spent.
    let mut gone = settings;
    gone.endpoint = Some("http://127.0.0.1:9".into());
    let err = S3BlobStore::new(gone)
        .await
        .put(&small, &mut &b"x"[..], &meta)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot reach the server"), "{err}");
}
