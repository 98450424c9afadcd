//! Object storage: where synced bytes land. [`local`] is the embedded default (a folder);
//! S3 comes next behind the same trait.
//!
//! ## Key layout
//!
//! `p8sync/<config_id>/<file_id>[.<ext>]`
//!
//! * short enough for S3 servers that map keys to file names (the config id already derives
//!   from the user, and `SyncFile` records both);
//! * keyed by the file id (derived from the config and the provider's *remote id*), never by
//!   the name: names are not unique and may hold `/`, `..` or odd Unicode;
//! * the extension (lower-case ASCII letters and digits, at most 10, from the exported format
//!   or the name) is kept so a downloaded object opens with the right program;
//! * the original name travels as object metadata (`x-amz-meta-p8-name`, percent-encoded).

pub mod local;
pub mod s3;

use std::fmt;
use tokio::io::AsyncRead;

/// Where an object goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKey(String);

impl ObjectKey {
    /// The key of the file `file` of the config `config` (their ids), with the extension taken
    /// from `name` (or `extension`). Ids, not records: the object store knows nothing of the
    /// database's types.
    pub fn for_file(
        config: impl std::fmt::Display,
        file: impl std::fmt::Display,
        name: &str,
        extension: Option<&str>,
    ) -> Self {
        let ext = extension
            .map(str::to_string)
            .or_else(|| name.rsplit_once('.').map(|(_, e)| e.to_string()))
            .map(|e| e.to_ascii_lowercase())
            .filter(|e| {
                !e.is_empty() && e.len() <= 10 && e.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        let mut key = format!("{}{file}", Self::config_prefix(config));
        if let Some(ext) = ext {
            key.push('.');
            key.push_str(&ext);
        }
        ObjectKey(key)
    }

    /// The prefix every object of the config `config` (its id) shares.
    pub fn config_prefix(config: impl std::fmt::Display) -> String {
        format!("p8sync/{config}/")
    }

    /// The key inside an object URI this host wrote (`s3://bucket/p8sync/...` or a local
    /// `file://.../p8sync/...`).
    pub fn from_uri(uri: &str) -> Option<Self> {
        let at = uri.rfind("/p8sync/")?;
        Some(ObjectKey(uri[at + 1..].to_string()))
    }

    /// The key of chunk `ordinal` of the audio stored at `self` (a mono 16 kHz WAV), next to it:
    /// `p8sync/<config>/<file>.chunks/0003.wav`.
    pub fn audio_chunk(&self, ordinal: i32) -> Self {
        let stem = match self.0.rsplit_once('.') {
            Some((stem, ext)) if !ext.contains('/') => stem,
            _ => self.0.as_str(),
        };
        ObjectKey(format!("{stem}.chunks/{ordinal:04}.wav"))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Metadata stored with an object.
#[derive(Debug, Clone, Default)]
pub struct ObjectMeta {
    /// The original file name.
    pub name: String,
    /// The MIME type, when known.
    pub content_type: Option<String>,
    /// The size, when known in advance (lets a store pick single PUT or multipart).
    pub size_hint: Option<u64>,
    /// SHA-256 of the whole body (lower-case hex), when the caller has already hashed it: the
    /// S3 store signs the upload with it instead of hashing the bytes a second time. It must
    /// be the body's; the server refuses a body that does not match.
    pub sha256: Option<String>,
}

/// An object that was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// `s3://bucket/key` or `file:///path`.
    pub uri: String,
    /// Bytes written.
    pub size: u64,
}

/// An object store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// Reading the source failed (the provider side of a transfer).
    #[error("reading the source failed: {0}")]
    Source(std::io::Error),
    /// The store failed.
    #[error("object store error for `{key}`: {reason}")]
    Store {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The store is not usable at all (missing bucket, unreachable, no permission).
    #[error("the object store is not usable: {0}")]
    Unavailable(String),
}

/// Somewhere objects can be written.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync {
    /// Check the store is reachable and writable; a clear error otherwise.
    async fn check(&self) -> Result<(), BlobError>;
    /// Stream `body` into `key`, replacing any object there. Memory does not grow with the size
    /// of the body, and a failed write leaves no partial object behind.
    async fn put(
        &self,
        key: &ObjectKey,
        body: &mut (dyn AsyncRead + Send + Unpin),
        meta: &ObjectMeta,
    ) -> Result<StoredObject, BlobError>;
    /// The size of the object at `key`, or `None` when there is none.
    async fn head(&self, key: &ObjectKey) -> Result<Option<u64>, BlobError>;
    /// Remove the object at `key` (no error when it is already gone).
    async fn delete(&self, key: &ObjectKey) -> Result<(), BlobError>;
    /// Read the object at `key`.
    async fn read(&self, key: &ObjectKey) -> Result<Box<dyn AsyncRead + Send + Unpin>, BlobError>;
    /// Clean up writes under `prefix` that an interrupted process left unfinished. Only call it
    /// when no other writer can be active under the prefix (one sync per config at a time).
    async fn abandon_incomplete(&self, _prefix: &str) -> Result<(), BlobError> {
        Ok(())
    }
    /// The URI an object at `key` has (what `SyncFile.s3_uri` records).
    fn uri(&self, key: &ObjectKey) -> String;
}
