//! The application layer: what a person does with p8sync, written once for every face to call.
//! The CLI, the HTTP API and (soon) the console parse their input, call an operation here, and
//! render what comes back; none of them wires the stores, the registry and the OAuth clients
//! together itself.
//!
//! Depends on `store`, `runtime`, `oauth` and `sync`; only the faces depend on it.

pub mod accounts;
pub mod configs;
pub mod files;
pub mod ingest;
pub mod runs;
pub mod users;

use crate::oauth::TokenManager;
use crate::runtime::Registry;
use crate::store::{Store, StoreError};
use crate::sync::validate::LocalRoots;
use std::sync::Arc;

/// What the operations share: the state store, the installed providers and the credentials.
#[derive(Clone)]
pub struct App {
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The installed providers.
    pub registry: Arc<Registry>,
    /// Credentials, sealed at rest; absent when the operator set no encryption key.
    pub tokens: Option<Arc<TokenManager>>,
    /// Where local-folder configs may point: anywhere for the operator's own CLI, inside each
    /// owner's roots for API users.
    pub local_roots: LocalRoots,
}

/// Why an operation could not be done, in words for the person who asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What was asked for does not exist (or belongs to someone else, which is the same).
    #[error("no {0}")]
    NotFound(String),
    /// What was given is not acceptable, and why.
    #[error("{0}")]
    Invalid(String),
    /// It conflicts with what exists.
    #[error("{0}")]
    Conflict(String),
    /// This server cannot do it as configured; the operator can change that.
    #[error("{0}")]
    Unavailable(String),
    /// The provider refused or could not be reached; nothing was changed here.
    #[error("{0}")]
    Provider(String),
    /// The state store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AppError {
    /// This server keeps no credentials: the operator set no encryption key.
    pub fn no_credentials() -> Self {
        AppError::Unavailable(
            "credentials are unavailable on this server: the operator must set P8_ENCRYPTION_KEY"
                .into(),
        )
    }
}

impl App {
    /// The credentials, or why this server has none.
    pub fn tokens(&self) -> Result<&Arc<TokenManager>, AppError> {
        self.tokens.as_ref().ok_or_else(AppError::no_credentials)
    }
}
