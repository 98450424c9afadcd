//! OAuth2 for providers that declare it: the client ([`app`]), encryption of stored tokens
//! ([`crypto`]), the token lifecycle with refresh and locking ([`tokens`]), and the
//! installed-app login flow ([`login`]), and the browser login of the service ([`web`]).
//! Stored Basic and bearer credentials ([`stored`]) share the same rows and keyring; [`rekey`]
//! moves them all under the current key.
//!
//! The provider component never sees any of it: it declares its endpoints and scopes, and the
//! runtime adds `Authorization` from a [`tokens::TokenSource`].

pub mod accounts;
pub mod app;
pub mod crypto;
pub mod login;
pub mod rekey;
pub mod stored;
pub mod tokens;
pub mod web;

pub use accounts::AccountChoice;
pub use app::{Grant, OAuthApp, OAuthError};
pub use crypto::{KeyError, Keyring};
pub use rekey::RekeyReport;
pub use stored::{StaticCredential, StaticKind, StaticSource, StoredCredentialError};
pub use tokens::{CredentialStatus, TokenError, TokenManager, TokenSource};
