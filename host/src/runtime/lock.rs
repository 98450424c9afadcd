//! The operator's approvals: `providers.lock` beside the components pins, per provider, the
//! component's sha256, its id and version, the hosts it may reach with and without credentials,
//! and its OAuth endpoints. A component loads only when it is approved and nothing it declares
//! differs from what was approved: what a component wants is its author's wish, what it gets is
//! the operator's decision (Spin's operator-owned allowed hosts are the model).
//!
//! The file is TOML, one table per provider id, meant to be read in review:
//!
//! ```toml
//! [providers.google_drive]
//! file = "google-drive.wasm"
//! sha256 = "9f2c..."
//! version = "0.1.0"
//! auth = "oauth2"
//! api_hosts = ["www.googleapis.com"]
//! plain_hosts = []
//! authorize_url = "https://accounts.google.com/o/oauth2/v2/auth"
//! token_url = "https://oauth2.googleapis.com/token"
//! revoke_url = "https://oauth2.googleapis.com/revoke"
//! ```

use super::Provider;
use super::types::AuthMethod;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The lock file's name, in the providers directory.
pub const FILE: &str = "providers.lock";

/// What the operator approved for one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// The component's file name, for the reader (the hash is what counts).
    pub file: String,
    /// sha256 of the component, lower-case hex.
    pub sha256: String,
    /// The provider's own version.
    pub version: String,
    /// How it signs in: `none`, `oauth2`, `bearer-token` or `basic`.
    pub auth: String,
    /// Hosts it may reach with the user's credential added.
    pub api_hosts: Vec<String>,
    /// Hosts it may reach without credentials.
    pub plain_hosts: Vec<String>,
    /// The OAuth consent page the browser is sent to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    /// The OAuth token endpoint: the host posts the client secret, codes and refresh tokens
    /// there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The OAuth revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoke_url: Option<String>,
}

impl Approval {
    /// What approving `provider` as it is now would pin.
    pub fn of(provider: &Provider) -> Approval {
        let info = provider.info();
        let (auth, oauth) = match &info.auth {
            AuthMethod::None => ("none", None),
            AuthMethod::Oauth2(spec) => ("oauth2", Some(spec)),
            AuthMethod::BearerToken => ("bearer-token", None),
            AuthMethod::Basic => ("basic", None),
        };
        let source = provider.source();
        Approval {
            file: source
                .path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default(),
            sha256: source.sha256.clone(),
            version: info.version.clone(),
            auth: auth.to_string(),
            api_hosts: info.api_hosts.clone(),
            plain_hosts: info.plain_hosts.clone(),
            authorize_url: oauth.map(|s| s.authorize_url.clone()),
            token_url: oauth.map(|s| s.token_url.clone()),
            revoke_url: oauth.and_then(|s| s.revoke_url.clone()),
        }
    }

    /// How `now` differs from this approval, one line per difference, for a person to judge.
    /// Empty when they are the same (the file's name aside).
    pub fn differences(&self, now: &Approval) -> Vec<String> {
        let mut out = Vec::new();
        if self.sha256 != now.sha256 {
            out.push(format!(
                "the component changed (sha256 {} was approved, the file is {})",
                short(&self.sha256),
                short(&now.sha256)
            ));
        }
        let mut field = |name: &str, was: &str, is: &str| {
            if was != is {
                out.push(format!("{name}: `{was}` was approved, it now says `{is}`"));
            }
        };
        field("version", &self.version, &now.version);
        field("auth", &self.auth, &now.auth);
        let text = |u: &Option<String>| u.clone().unwrap_or_else(|| "none".into());
        field(
            "authorize_url",
            &text(&self.authorize_url),
            &text(&now.authorize_url),
        );
        field("token_url", &text(&self.token_url), &text(&now.token_url));
        field(
            "revoke_url",
            &text(&self.revoke_url),
            &text(&now.revoke_url),
        );
        for (name, was, is) in [
            ("api_hosts", &self.api_hosts, &now.api_hosts),
            ("plain_hosts", &self.plain_hosts, &now.plain_hosts),
        ] {
            let added: Vec<&String> = is.iter().filter(|h| !was.contains(h)).collect();
            let removed: Vec<&String> = was.iter().filter(|h| !is.contains(h)).collect();
            if !added.is_empty() {
                out.push(format!("{name}: it now also wants {}", list(&added)));
            }
            if !removed.is_empty() {
                out.push(format!("{name}: it no longer wants {}", list(&removed)));
            }
        }
        out
    }
}

fn short(hash: &str) -> &str {
    &hash[..12.min(hash.len())]
}

fn list(hosts: &[&String]) -> String {
    hosts
        .iter()
        .map(|h| format!("`{h}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why the lock file can't be used.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// It could not be read or written.
    #[error("cannot use the lock file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a lock file this version understands.
    #[error("the lock file {} is not valid: {reason}; fix it, or delete it and approve the providers again with `p8sync provider approve`", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the parser said.
        reason: String,
    },
}

/// Every approval in one providers directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Approvals by provider id.
    #[serde(default)]
    pub providers: BTreeMap<String, Approval>,
}

impl Lock {
    /// The lock file of the providers directory `dir`.
    pub fn path_in(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Read a lock file; a missing one approves nothing.
    pub fn read(path: &Path) -> Result<Lock, LockError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lock::default()),
            Err(source) => {
                return Err(LockError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        toml::from_str(&text).map_err(|e| LockError::Invalid {
            path: path.to_path_buf(),
            reason: e.message().to_string(),
        })
    }

    /// Add or replace the approval of `id`.
    pub fn approve(&mut self, id: &str, approval: Approval) {
        self.providers.insert(id.to_string(), approval);
    }

    /// The file's text: a header saying what it is, then the approvals by id.
    pub fn to_text(&self) -> String {
        let body = toml::to_string_pretty(self).unwrap_or_default();
        format!(
            "# p8sync providers.lock: the providers this operator approved, and exactly what each may\n\
             # reach. A component loads only if its sha256 and everything it declares match its entry.\n\
             # Review changes like code; `p8sync provider approve <file.wasm>` writes an entry.\n\n{body}"
        )
    }

    /// Write the file (through a temporary file and a rename, so a reader never sees half).
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let tmp = path.with_extension(format!("lock.tmp{}", std::process::id()));
        std::fs::write(&tmp, self.to_text()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// One approval written by [`approve_file`].
#[derive(Debug, Clone)]
pub struct Approved {
    /// The provider's id.
    pub id: String,
    /// The lock file written.
    pub lock: PathBuf,
    /// What was approved before, if anything.
    pub previous: Option<Approval>,
    /// What is approved now.
    pub approval: Approval,
}

/// Why a component could not be approved.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    /// The component does not load.
    #[error(transparent)]
    Load(#[from] super::error::LoadError),
    /// The lock file can't be read or written.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// Approve the component `file` as it is now: pin it in `lock` (default: `providers.lock`
/// beside it). The component is loaded (in the sandbox) to read what it declares.
pub async fn approve_file(
    runtime: &super::Runtime,
    file: &Path,
    lock: Option<&Path>,
) -> Result<Approved, ApproveError> {
    let provider = runtime.load_file(file).await?;
    let path = match lock {
        Some(l) => l.to_path_buf(),
        None => Lock::path_in(file.parent().unwrap_or(Path::new("."))),
    };
    let mut current = Lock::read(&path)?;
    let approval = Approval::of(&provider);
    let id = provider.id().to_string();
    let previous = current.providers.get(&id).cloned();
    if previous.as_ref() != Some(&approval) {
        current.approve(&id, approval.clone());
        current.write(&path)?;
    }
    Ok(Approved {
        id,
        lock: path,
        previous,
        approval,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval() -> Approval {
        Approval {
            file: "x.wasm".into(),
            sha256: "a".repeat(64),
            version: "0.1.0".into(),
            auth: "oauth2".into(),
            api_hosts: vec!["api.example.com".into()],
            plain_hosts: vec![],
            authorize_url: Some("https://example.com/auth".into()),
            token_url: Some("https://example.com/token".into()),
            revoke_url: None,
        }
    }

    #[test]
    fn the_file_round_trips_and_unknown_keys_are_refused() {
        let mut lock = Lock::default();
        lock.approve("x", approval());
        let dir = tempfile::tempdir().unwrap();
        let path = Lock::path_in(dir.path());
        assert_eq!(
            Lock::read(&path).unwrap(),
            Lock::default(),
            "missing: empty"
        );
        lock.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[providers.x]"), "{text}");
        assert!(
            text.contains("token_url = \"https://example.com/token\""),
            "{text}"
        );
        assert_eq!(Lock::read(&path).unwrap(), lock);
        std::fs::write(&path, text.replace("version", "versoin")).unwrap();
        assert!(matches!(Lock::read(&path), Err(LockError::Invalid { .. })));
    }

    #[test]
    fn differences_name_what_changed() {
        let was = approval();
        assert!(was.differences(&was).is_empty());
        let mut now = approval();
        now.sha256 = "b".repeat(64);
        now.api_hosts.push("collector.example".into());
        now.token_url = Some("https://collector.example/token".into());
        let d = was.differences(&now).join("\n");
        assert!(d.contains("the component changed"), "{d}");
        assert!(
            d.contains("api_hosts: it now also wants `collector.example`"),
            "{d}"
        );
        assert!(
            d.contains("token_url: `https://example.com/token` was approved, it now says `https://collector.example/token`"),
            "{d}"
        );
    }
}
