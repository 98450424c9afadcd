//! Connected accounts: the OAuth client a login goes through, and disconnecting.

use super::{App, AppError};
use crate::oauth::stored::{StaticCredential, StaticKind, StoredCredentialError, check_kind};
use crate::oauth::{AccountChoice, OAuthApp, OAuthError, TokenError};
use crate::store::CredentialRecord;
use crate::store::ids::{CredentialId, UserId};

/// What happened at the provider when an account was disconnected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// The provider confirmed it: the grant is dead.
    Revoked,
    /// The provider has no revocation endpoint: the user removes the app's access in their
    /// account settings.
    NoEndpoint,
    /// A password or token the user made: only they can withdraw it, at the service.
    UserSecret,
    /// Revoking failed, and the caller asked to delete the credential anyway.
    FailedButForced(String),
}

/// What disconnecting an account did.
#[derive(Debug, Clone)]
pub struct Disconnected {
    /// The provider id.
    pub provider: String,
    /// The account's label.
    pub label: String,
    /// What the provider was told.
    pub revocation: Revocation,
}

impl App {
    /// The OAuth2 client for `provider`'s login, as the operator configured it.
    pub fn oauth_app(&self, provider: &str) -> Result<OAuthApp, AppError> {
        if let Err(e) = self.registry.get(provider) {
            return Err(AppError::NotFound(format!("provider: {e}")));
        }
        self.oauth_client(provider).map_err(|e| match e {
            OAuthError::NotOauth(_) => AppError::NotFound(format!(
                "OAuth login for `{provider}`: it does not sign in with OAuth2"
            )),
            other => AppError::Unavailable(other.to_string()),
        })
    }

    /// The OAuth2 client for `provider`, failing with the OAuth layer's own error (a provider
    /// that is not installed does not sign in with OAuth2 here), for the login flow to report.
    pub fn oauth_client(&self, provider: &str) -> Result<OAuthApp, OAuthError> {
        let installed = self
            .registry
            .get(provider)
            .map_err(|_| OAuthError::NotOauth(provider.to_string()))?;
        OAuthApp::for_provider(&installed)
    }

    /// Store a password or token `user` made for `provider`, sealed, in the account `choice`
    /// says (`server_url`: the server a self-hosted account lives on); refused when the
    /// provider signs in another way.
    pub async fn save_user_secret(
        &self,
        user: UserId,
        provider: &str,
        credential: &StaticCredential,
        server_url: Option<&str>,
        choice: &AccountChoice,
    ) -> Result<CredentialRecord, AppError> {
        let tokens = self.tokens()?;
        let id = self.check_user_secret(provider, credential)?;
        tokens
            .save_static(user, &id, credential, server_url, choice)
            .await
            .map_err(|e| match e {
                StoredCredentialError::Invalid(reason) => AppError::Invalid(reason),
                StoredCredentialError::Token(e) => stored(e),
                other => AppError::Unavailable(format!("storing a credential: {other}")),
            })
    }

    /// `user`'s account `id`.
    pub async fn account(
        &self,
        user: UserId,
        id: CredentialId,
    ) -> Result<CredentialRecord, AppError> {
        self.store
            .credential(id)
            .await?
            .filter(|c| c.userid == user)
            .ok_or_else(|| AppError::NotFound(format!("account {id}")))
    }

    /// `user`'s `provider` account labelled `label`.
    pub async fn account_labelled(
        &self,
        user: UserId,
        provider: &str,
        label: &str,
    ) -> Result<CredentialRecord, AppError> {
        crate::oauth::accounts::accounts_of(self.store.as_ref(), user, provider)
            .await?
            .into_iter()
            .find(|c| c.label == label.trim())
            .ok_or_else(|| {
                AppError::NotFound(format!("{provider} account `{label}` of user {user}"))
            })
    }

    /// Give `user`'s account `id` a new label.
    pub async fn rename_account(
        &self,
        user: UserId,
        id: CredentialId,
        label: &str,
    ) -> Result<CredentialRecord, AppError> {
        self.tokens()?.rename(user, id, label).await.map_err(stored)
    }

    /// Whether `provider` takes a credential of `credential`'s kind (checked before a secret
    /// is even read); the provider's id.
    pub fn check_user_secret(
        &self,
        provider: &str,
        credential: &StaticCredential,
    ) -> Result<String, AppError> {
        let installed = self
            .registry
            .get(provider)
            .map_err(|e| AppError::NotFound(format!("provider: {e}")))?;
        check_kind(installed.id(), &installed.info().auth, credential)
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Ok(installed.id().to_string())
    }

    /// Disconnect `user`'s `provider` account (`chosen`, or the only one): revoke the grant at
    /// the provider, then delete the credential here. When the provider cannot revoke it the
    /// credential is kept, unless `force`, so a leaked grant is never forgotten here while
    /// still alive there.
    pub async fn disconnect(
        &self,
        user: UserId,
        provider: &str,
        chosen: Option<CredentialId>,
        force: bool,
    ) -> Result<Disconnected, AppError> {
        let tokens = self.tokens()?;
        let record = tokens
            .account(user, provider, chosen)
            .await
            .map_err(stored)?;
        let (access, refresh) = tokens.tokens(&record).map_err(stored)?;
        let user_secret = StaticKind::of_record(&record).is_some();
        let revocation = if user_secret {
            Revocation::UserSecret
        } else {
            // Revoking the refresh token ends the whole grant; the access token alone
            // otherwise.
            let token = refresh.unwrap_or(access);
            let revoked = match self.oauth_app(provider) {
                Ok(app) => app.revoke(&token).await.map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match revoked {
                Ok(true) => Revocation::Revoked,
                Ok(false) => Revocation::NoEndpoint,
                Err(e) if force => {
                    tracing::warn!(%provider, %user, "revocation failed, deleting anyway (force): {e}");
                    Revocation::FailedButForced(e)
                }
                Err(e) => {
                    return Err(AppError::Provider(format!(
                        "{e}; the credential is kept (retry, or force the deletion)"
                    )));
                }
            }
        };
        if !tokens.delete(record.id).await.map_err(stored)? {
            return Err(AppError::NotFound(format!(
                "{provider} account {}",
                record.label
            )));
        }
        Ok(Disconnected {
            label: record.label,
            provider: provider.to_string(),
            revocation,
        })
    }
}

/// A credential store failure, as the application reports it.
fn stored(e: TokenError) -> AppError {
    match e {
        TokenError::Store(e) => AppError::Store(e),
        e @ (TokenError::Missing { .. } | TokenError::Gone { .. } | TokenError::NoSuchAccount) => {
            AppError::NotFound(e.to_string())
        }
        e @ TokenError::Ambiguous { .. } => AppError::Conflict(e.to_string()),
        TokenError::Label(reason) => AppError::Invalid(reason),
        other => AppError::Unavailable(format!("reading a credential: {other}")),
    }
}
