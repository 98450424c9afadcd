//! Encryption at rest for stored tokens: AES-256-GCM under a key named by a short key id, so
//! keys can be rotated (new writes use the current key; rows sealed under a previous key still
//! open while that key is configured as a previous one).
//!
//! A sealed value is `base64(nonce || ciphertext+tag)`. The associated data binds it to its row
//! and column, so a sealed refresh token copied into another row or column does not open.

use crate::secret::Secret;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The environment variable with the current key (32 bytes, base64 or hex).
pub const KEY_ENV: &str = "P8_ENCRYPTION_KEY";
/// Previous keys, comma separated, still accepted for opening rows sealed before a rotation.
pub const PREVIOUS_KEYS_ENV: &str = "P8_ENCRYPTION_PREVIOUS_KEYS";
/// The generated key's file name in the data directory (embedded mode only).
pub const KEY_FILE: &str = "encryption.key";

/// Why tokens cannot be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A key is not 32 bytes of base64 or hex.
    #[error(
        "{source_name} is not a usable key: {reason}; give 32 random bytes as base64 or hex (for example `openssl rand -base64 32`)"
    )]
    BadKey {
        /// Where the key came from (a variable or a file), never the key.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Postgres is shared by replicas, so a key generated on one machine would not do.
    #[error(
        "P8_ENCRYPTION_KEY is not set. With Postgres every replica must use the same key to read the stored credentials, so p8sync will not generate one: set P8_ENCRYPTION_KEY to 32 random bytes as base64 (for example `openssl rand -base64 32`) on every replica"
    )]
    PostgresNeedsKey,
    /// The key file could not be created or read.
    #[error("cannot use the encryption key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The row was sealed under a key that is not configured.
    #[error(
        "the credential was encrypted with key `{key_id}`, which is not configured; set it in P8_ENCRYPTION_PREVIOUS_KEYS (after a rotation) or log in again"
    )]
    UnknownKey {
        /// The row's key id.
        key_id: String,
    },
    /// The row holds its tokens without encryption: p8sync did not write it.
    #[error(
        "the credential is stored without encryption (a row p8sync did not write, such as one Percolate wrote); unsealed rows are refused, because anyone who can write a row could plant a working credential: if you trust it, seal it with `p8sync auth rekey --adopt-unsealed`, or log in again"
    )]
    Unsealed,
    /// The value does not open under its key: corrupt, or moved from another row.
    #[error(
        "a stored credential does not decrypt ({what}); it is corrupt or was tampered with: log in again"
    )]
    Corrupt {
        /// Which value.
        what: String,
    },
}

struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"p8sync key id\0")
            .chain_update(bytes)
            .finalize();
        Key {
            id: format!("k{}", &hex::encode(digest)[..10]),
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// The current key and any previous ones.
pub struct Keyring {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("current", &self.current.id)
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Parse a key given as base64 (standard or URL-safe) or 64 hex digits.
pub fn parse_key(text: &str, source_name: &str) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let bad = |reason: String| KeyError::BadKey {
        source_name: source_name.to_string(),
        reason,
    };
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| bad(e.to_string()))?
    } else {
        STANDARD
            .decode(text)
            .or_else(|_| URL_SAFE.decode(text))
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .map_err(|_| bad("it is neither base64 nor hex".into()))?
    };
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| bad(format!("it is {} bytes, not 32", b.len())))
}

impl Keyring {
    /// A keyring from raw keys.
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Keyring {
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
        }
    }

    /// The keys from `P8_ENCRYPTION_KEY` (and `P8_ENCRYPTION_PREVIOUS_KEYS`). Without one, the
    /// embedded default uses (generating on first use) `<data_dir>/encryption.key`, mode 0600;
    /// with Postgres (`shared`) that is refused, since replicas must share the key.
    pub fn from_env(data_dir: &Path, shared: bool) -> Result<Self, KeyError> {
        let previous = match std::env::var(PREVIOUS_KEYS_ENV) {
            Ok(list) => list
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(|k| parse_key(k, PREVIOUS_KEYS_ENV))
                .collect::<Result<Vec<_>, _>>()?,
            Err(_) => Vec::new(),
        };
        let current = match std::env::var(KEY_ENV) {
            Ok(text) if !text.trim().is_empty() => parse_key(&text, KEY_ENV)?,
            _ if shared => return Err(KeyError::PostgresNeedsKey),
            _ => key_file(&data_dir.join(KEY_FILE))?,
        };
        Ok(Keyring::new(&current, &previous))
    }

    /// The id of the key new values are sealed with.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// Seal `plain` for the column named by `aad` (for example `<credential id>/refresh_token`).
    pub fn seal(&self, plain: &Secret, aad: &str) -> String {
        let nonce_bytes: [u8; 12] = rand::random();
        let nonce = Nonce::from_slice(&nonce_bytes);
        let sealed = self
            .current
            .cipher
            .encrypt(
                nonce,
                Payload {
                    msg: plain.expose().as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        STANDARD.encode(out)
    }

    /// Open a value sealed under `key_id` for `aad`.
    pub fn open(&self, key_id: &str, sealed: &str, aad: &str) -> Result<Secret, KeyError> {
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| KeyError::UnknownKey {
                key_id: key_id.to_string(),
            })?;
        let corrupt = || KeyError::Corrupt {
            what: aad.rsplit('/').next().unwrap_or(aad).to_string(),
        };
        let bytes = STANDARD.decode(sealed.trim()).map_err(|_| corrupt())?;
        if bytes.len() < 12 + 16 {
            return Err(corrupt());
        }
        let (nonce, body) = bytes.split_at(12);
        let plain = key
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| corrupt())?;
        String::from_utf8(plain)
            .map(Secret::new)
            .map_err(|_| corrupt())
    }
}

/// Read the generated key, creating it (0600, written once) when it does not exist.
fn key_file(path: &Path) -> Result<[u8; 32], KeyError> {
    let err = |reason: String| KeyError::KeyFile {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            check_mode(path).map_err(err)?;
            parse_key(&text, &path.display().to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
            }
            let key: [u8; 32] = rand::random();
            write_new_private(path, STANDARD.encode(key).as_bytes()).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    // Another process generated it first: use theirs.
                    return err("it appeared while it was being created; run again".into());
                }
                err(e.to_string())
            })?;
            tracing::info!(
                "generated an encryption key for stored credentials at {}; back it up: without it the credentials cannot be read",
                path.display()
            );
            Ok(key)
        }
        Err(e) => Err(err(e.to_string())),
    }
}

#[cfg(unix)]
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(unix)]
fn check_mode(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "it is readable by other users (mode {:o}); run `chmod 600 {}`",
            mode & 0o777,
            path.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path) -> Result<(), String> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_row_and_column() {
        let ring = Keyring::new(&[7; 32], &[]);
        let secret = Secret::new("1//refresh-token-value");
        let sealed = ring.seal(&secret, "row-1/refresh_token");
        assert!(!sealed.contains("refresh-token-value"));
        let opened = ring
            .open(ring.current_id(), &sealed, "row-1/refresh_token")
            .unwrap();
        assert_eq!(opened.expose(), "1//refresh-token-value");
        // Moved to another row or column: refused.
        assert!(matches!(
            ring.open(ring.current_id(), &sealed, "row-2/refresh_token"),
            Err(KeyError::Corrupt { .. })
        ));
        assert!(matches!(
            ring.open(ring.current_id(), &sealed, "row-1/access_token"),
            Err(KeyError::Corrupt { .. })
        ));
        // Same plaintext seals differently each time (fresh nonce).
        assert_ne!(sealed, ring.seal(&secret, "row-1/refresh_token"));
    }

    #[test]
    fn rotation_keeps_old_rows_readable_only_with_the_previous_key() {
        let old = Keyring::new(&[1; 32], &[]);
        let sealed = old.seal(&Secret::new("tok"), "a/b");
        let rotated = Keyring::new(&[2; 32], &[[1; 32]]);
        assert_ne!(rotated.current_id(), old.current_id());
        assert_eq!(
            rotated
                .open(old.current_id(), &sealed, "a/b")
                .unwrap()
                .expose(),
            "tok"
        );
        let forgot = Keyring::new(&[2; 32], &[]);
        let err = forgot.open(old.current_id(), &sealed, "a/b").unwrap_err();
        assert!(
            err.to_string().contains("P8_ENCRYPTION_PREVIOUS_KEYS"),
            "{err}"
        );
    }

    #[test]
    fn parses_base64_and_hex_and_refuses_short_keys() {
        let key = [9u8; 32];
        assert_eq!(parse_key(&STANDARD.encode(key), "x").unwrap(), key);
        assert_eq!(parse_key(&hex::encode(key), "x").unwrap(), key);
        let err = parse_key(&STANDARD.encode([1u8; 16]), "P8_ENCRYPTION_KEY").unwrap_err();
        assert!(err.to_string().contains("16 bytes, not 32"), "{err}");
        assert!(!err.to_string().contains(&STANDARD.encode([1u8; 16])));
    }

    #[test]
    fn generated_key_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data").join(KEY_FILE);
        let a = key_file(&path).unwrap();
        let b = key_file(&path).unwrap();
        assert_eq!(a, b);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = key_file(&path).unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
        }
    }
}
