//! Where the `Authorization` header for a provider's API hosts comes from.
//!
//! The runtime only sees this trait; the OAuth token lifecycle (`crate::oauth`) plugs in here.

use crate::secret::Secret;
use futures::future::BoxFuture;

/// What kind of credential failure this is: it decides whether a sync may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialErrorKind {
    /// The grant is gone (revoked, expired, never given offline access): only a new login helps.
    Reauthorize,
    /// The credential could not be produced right now (token endpoint down, database busy).
    Unavailable,
}

/// Why no credential could be produced. The message never contains the secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CredentialError {
    /// Whether a new login is needed.
    pub kind: CredentialErrorKind,
    /// What failed and what to do.
    pub message: String,
}

impl CredentialError {
    /// A failure that only a new login fixes.
    pub fn reauthorize(message: impl Into<String>) -> Self {
        CredentialError {
            kind: CredentialErrorKind::Reauthorize,
            message: message.into(),
        }
    }

    /// A failure that may go away.
    pub fn unavailable(message: impl Into<String>) -> Self {
        CredentialError {
            kind: CredentialErrorKind::Unavailable,
            message: message.into(),
        }
    }
}

/// Supplies the `Authorization` header value for requests to a provider's `api-hosts`.
pub trait CredentialSource: Send + Sync + 'static {
    /// A fresh header value (for example `Bearer ...`), or `None` to send no credential.
    fn authorization(&self) -> BoxFuture<'static, Result<Option<Secret>, CredentialError>>;

    /// A counter that changes whenever the token changes. Read it before a call; pass it to
    /// [`CredentialSource::rejected`] when the call came back unauthorized.
    fn generation(&self) -> u64 {
        0
    }

    /// The provider said the token from `generation` is not valid: get a new one, unless that
    /// already happened since (so many concurrent 401s cause one refresh). `Ok(true)` when a
    /// retry may now succeed.
    fn rejected(&self, generation: u64) -> BoxFuture<'static, Result<bool, CredentialError>> {
        let _ = generation;
        Box::pin(async { Ok(false) })
    }

    /// A failure that stops every further use (a revoked grant), once one happened.
    fn fatal(&self) -> Option<CredentialError> {
        None
    }
}

/// A fixed bearer token: for tests, and for `p8sync list` with a token from the environment.
#[derive(Debug, Clone)]
pub struct StaticToken {
    header: Secret,
}

impl StaticToken {
    /// A bearer token; the header becomes `Bearer <token>`.
    pub fn bearer(token: &Secret) -> Self {
        StaticToken {
            header: Secret::new(format!("Bearer {}", token.expose())),
        }
    }
}

impl CredentialSource for StaticToken {
    fn authorization(&self) -> BoxFuture<'static, Result<Option<Secret>, CredentialError>> {
        let header = self.header.clone();
        Box::pin(async move { Ok(Some(header)) })
    }
}
