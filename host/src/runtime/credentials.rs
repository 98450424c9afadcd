//! Where the `Authorization` header for a provider's API hosts comes from.
//!
//! The runtime only sees this trait; the OAuth token lifecycle lives elsewhere and plugs in here.

use crate::secret::Secret;
use futures::future::BoxFuture;

/// Why no credential could be produced. The message must not contain the secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// Supplies the `Authorization` header value for requests to a provider's `api-hosts`.
pub trait CredentialSource: Send + Sync + 'static {
    /// A fresh header value (for example `Bearer ...`), or `None` to send no credential.
    fn authorization(&self) -> BoxFuture<'static, Result<Option<Secret>, CredentialError>>;
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
