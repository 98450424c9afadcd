//! The token lifecycle: stored credentials (sealed at rest), handed to the runtime as a
//! [`CredentialSource`] that refreshes ahead of expiry, once at a time per credential across
//! threads (a mutex) and processes (the store's row lock, with a re-read once it is held).

use super::app::{Grant, OAuthApp, OAuthError};
use super::crypto::{KeyError, Keyring};
use crate::runtime::{CredentialError, CredentialSource};
use crate::secret::Secret;
use crate::store::ids::{CredentialId, UserId};
use crate::store::{CredentialRecord, Store, StoreError};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Why a credential could not be stored, read or used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Sealing or opening failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The provider's token endpoint failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// Nobody logged in yet.
    #[error(
        "there is no `{provider}` credential for user {user}; run `p8sync auth login --provider {provider} --user {user}` (or `p8sync auth import`)"
    )]
    Missing {
        /// The provider id.
        provider: String,
        /// The user.
        user: UserId,
    },
    /// The account a config (or a request) names is not this user's account of the provider
    /// any more.
    #[error(
        "the `{provider}` account this names is not connected (it was disconnected, or it is not user {user}'s); connect it again with `p8sync auth login --provider {provider} --user {user}`, or point the config at another account"
    )]
    Gone {
        /// The provider id.
        provider: String,
        /// The user.
        user: UserId,
    },
    /// Several accounts could be meant.
    #[error(
        "there are several `{provider}` accounts ({labels}); say which one (the config's account, or `--account`)"
    )]
    Ambiguous {
        /// The provider id.
        provider: String,
        /// Their labels.
        labels: String,
    },
    /// No such account of this user.
    #[error("no such account")]
    NoSuchAccount,
    /// A label that can't be used.
    #[error("{0}")]
    Label(String),
    /// The stored grant is dead.
    #[error(
        "the `{provider}` credential of user {user} needs a new login ({reason}); run `p8sync auth login --provider {provider} --user {user}`"
    )]
    NeedsLogin {
        /// The provider id.
        provider: String,
        /// The user.
        user: UserId,
        /// Why.
        reason: String,
    },
}

/// What `auth status` shows: never a token.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct CredentialStatus {
    /// The credential's id.
    pub id: CredentialId,
    /// The provider.
    pub provider: String,
    /// The owner.
    pub userid: UserId,
    /// The person's name for the account (unique per user and provider).
    pub label: String,
    /// The server the account lives on (self-hosted services).
    pub server_url: Option<String>,
    /// The account at the provider (the username of a Basic credential).
    pub account: Option<String>,
    /// How it signs in: `oauth2`, or a stored `basic` or `bearer` credential.
    pub kind: String,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether it can be renewed without the user.
    pub has_refresh_token: bool,
    /// Whether only a new login helps.
    pub needs_reauth: bool,
    /// Why.
    pub reauth_reason: Option<String>,
    /// The scopes granted.
    pub scopes: Option<String>,
    /// When it was last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// Whether the tokens are encrypted (false only for rows imported raw from Percolate).
    pub encrypted: bool,
}

/// Stores credentials and hands out token sources.
pub struct TokenManager {
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    margin: chrono::Duration,
    sources: Mutex<HashMap<CredentialId, Weak<TokenSource>>>,
}

pub(super) fn aad(id: CredentialId, column: &str) -> String {
    format!("{id}/{column}")
}

/// Open a token column sealed under the row's `key_id`. A row without one is refused: it was
/// not written by p8sync (`p8sync auth rekey --adopt-unsealed` seals such rows on purpose).
pub(super) fn open_column(
    keyring: &Keyring,
    record: &CredentialRecord,
    value: &str,
    column: &str,
) -> Result<Secret, KeyError> {
    match &record.key_id {
        Some(key) => keyring.open(key, value, &aad(record.id, column)),
        None => Err(KeyError::Unsealed),
    }
}

impl TokenManager {
    /// A manager over `store`, sealing with `keyring`; tokens are refreshed five minutes
    /// before they expire.
    pub fn new(store: Arc<dyn Store>, keyring: Arc<Keyring>) -> Self {
        TokenManager {
            store,
            keyring,
            margin: chrono::Duration::minutes(5),
            sources: Mutex::new(HashMap::new()),
        }
    }

    /// The keys tokens are sealed with (a browser login seals its PKCE verifier with them too).
    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The store the credentials are in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Refresh this long before expiry instead.
    pub fn with_margin(mut self, margin: std::time::Duration) -> Self {
        self.margin = chrono::Duration::from_std(margin).unwrap_or(self.margin);
        self
    }

    /// Store `user`'s credential for `provider` from a fresh grant for `account` (the identity
    /// at the provider, when known), in the account `choice` says. A grant without a refresh
    /// token keeps the one stored before, if any (providers only send it on the first consent).
    pub async fn save_grant(
        &self,
        user: UserId,
        provider: &str,
        grant: &Grant,
        account: Option<String>,
        choice: &super::AccountChoice,
    ) -> Result<CredentialRecord, TokenError> {
        let place = self
            .place(user, provider, account.as_deref(), None, choice)
            .await?;
        let (id, previous) = (place.id, place.previous);
        let refresh = match (&grant.refresh_token, &previous) {
            (Some(r), _) => Some(r.clone()),
            (None, Some(p)) => match &p.refresh_token {
                Some(sealed) => Some(open_column(&self.keyring, p, sealed, "refresh_token")?),
                None => None,
            },
            (None, None) => None,
        };
        let record = CredentialRecord {
            id,
            provider: provider.to_string(),
            userid: user,
            label: place.label,
            server_url: None,
            access_token: self
                .keyring
                .seal(&grant.access_token, &aad(id, "access_token")),
            refresh_token: refresh
                .as_ref()
                .map(|r| self.keyring.seal(r, &aad(id, "refresh_token"))),
            token_expiry: grant.expires_at,
            provider_user_id: account
                .or_else(|| previous.as_ref().and_then(|p| p.provider_user_id.clone())),
            provider_metadata: previous.as_ref().and_then(|p| p.provider_metadata.clone()),
            key_id: Some(self.keyring.current_id().to_string()),
            scopes: grant.scopes.clone(),
            needs_reauth: false,
            reauth_reason: None,
            refreshed_at: Some(Utc::now()),
            created_at: None,
            updated_at: None,
        };
        self.store.put_credential(&record).await?;
        if refresh.is_none() {
            tracing::warn!(
                provider,
                %user,
                "the provider returned no refresh token, so this login stops working when the access token expires; log in again granting offline access (for Google, the consent screen must be shown: prompt=consent, access_type=offline)"
            );
        }
        // A source handed out before must not keep a token from the old grant.
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Ok(record)
    }

    /// The stored credentials (of one user, or all), without tokens.
    pub async fn status(&self, user: Option<UserId>) -> Result<Vec<CredentialStatus>, TokenError> {
        Ok(self
            .store
            .credentials(user)
            .await?
            .into_iter()
            .map(|c| CredentialStatus {
                kind: super::stored::StaticKind::of_record(&c)
                    .map_or("oauth2", super::stored::StaticKind::name)
                    .to_string(),
                id: c.id,
                provider: c.provider,
                userid: c.userid,
                label: c.label,
                server_url: c.server_url,
                account: c.provider_user_id,
                expires_at: c.token_expiry,
                has_refresh_token: c.refresh_token.is_some(),
                needs_reauth: c.needs_reauth,
                reauth_reason: c.reauth_reason,
                scopes: c.scopes,
                refreshed_at: c.refreshed_at,
                encrypted: c.key_id.is_some(),
            })
            .collect())
    }

    /// The tokens of `record`, opened (for revocation).
    pub fn tokens(
        &self,
        record: &CredentialRecord,
    ) -> Result<(Secret, Option<Secret>), TokenError> {
        let access = open_column(&self.keyring, record, &record.access_token, "access_token")?;
        let refresh = record
            .refresh_token
            .as_deref()
            .map(|r| open_column(&self.keyring, record, r, "refresh_token"))
            .transpose()?;
        Ok((access, refresh))
    }

    /// Forget the credential `id`.
    pub async fn delete(&self, id: CredentialId) -> Result<bool, TokenError> {
        self.sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        Ok(self.store.delete_credential(id).await?)
    }

    /// The token source for the credential `record` (found with [`TokenManager::account`])
    /// with `app`'s provider: one per credential in this process, shared by every sync that
    /// uses it.
    pub async fn source(
        &self,
        record: CredentialRecord,
        app: &OAuthApp,
    ) -> Result<Arc<TokenSource>, TokenError> {
        let (id, user) = (record.id, record.userid);
        if record.needs_reauth {
            return Err(TokenError::NeedsLogin {
                provider: app.provider().to_string(),
                user,
                reason: record
                    .reauth_reason
                    .unwrap_or_else(|| "the provider refused the refresh token".into()),
            });
        }
        let mut sources = self.sources.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = sources.get(&id).and_then(Weak::upgrade) {
            return Ok(existing);
        }
        let source = Arc::new_cyclic(|me| TokenSource {
            me: me.clone(),
            id,
            user,
            store: self.store.clone(),
            keyring: self.keyring.clone(),
            app: app.clone(),
            margin: self.margin,
            state: tokio::sync::Mutex::new(Cached::default()),
            generation: AtomicU64::new(0),
            refreshes: AtomicU64::new(0),
            fatal: Mutex::new(None),
        });
        sources.insert(id, Arc::downgrade(&source));
        Ok(source)
    }
}

#[derive(Default)]
struct Cached {
    access: Option<Secret>,
    expires_at: Option<DateTime<Utc>>,
}

/// One credential's access token, refreshed when needed.
pub struct TokenSource {
    me: Weak<TokenSource>,
    id: CredentialId,
    user: UserId,
    store: Arc<dyn Store>,
    keyring: Arc<Keyring>,
    app: OAuthApp,
    margin: chrono::Duration,
    state: tokio::sync::Mutex<Cached>,
    generation: AtomicU64,
    refreshes: AtomicU64,
    fatal: Mutex<Option<CredentialError>>,
}

/// What happened while the row was held.
enum Outcome {
    Token(Secret, Option<DateTime<Utc>>, bool),
    Failed(CredentialError),
}

impl TokenSource {
    /// How many refreshes this source made (for tests and metrics).
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::SeqCst)
    }

    fn fresh(&self, expires_at: Option<DateTime<Utc>>) -> bool {
        // No expiry given: assume it works until the provider says otherwise (a 401).
        expires_at.is_none_or(|e| e > Utc::now() + self.margin)
    }

    fn stop(&self, e: CredentialError) -> CredentialError {
        if e.kind == crate::runtime::CredentialErrorKind::Reauthorize {
            *self.fatal.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        }
        e
    }

    /// Get a usable token into `cached`: the one in the database when another thread or
    /// process refreshed it already, otherwise a refreshed one. `rejected` is a token the
    /// provider refused, never to be taken as fresh.
    async fn refresh_into(
        &self,
        cached: &mut Cached,
        rejected: Option<Secret>,
    ) -> Result<(), CredentialError> {
        let mut outcome: Option<Outcome> = None;
        let slot = &mut outcome;
        let provider = self.app.provider().to_string();
        let user = self.user;
        let updated = self
            .store
            .update_credential_locked(
                self.id,
                Box::new(move |row: CredentialRecord| {
                    Box::pin(async move {
                        let (result, write) = self.decide(row, rejected).await;
                        *slot = Some(result);
                        write
                    })
                }),
            )
            .await
            .map_err(|e| CredentialError::unavailable(format!("reading the credential: {e}")))?;
        if updated.is_none() {
            return Err(self.stop(CredentialError::reauthorize(format!(
                "the `{provider}` credential of user {user} was deleted; run `p8sync auth login --provider {provider} --user {user}`"
            ))));
        }
        match outcome {
            Some(Outcome::Token(access, expires_at, refreshed)) => {
                let changed = cached.access.as_ref() != Some(&access);
                cached.access = Some(access);
                cached.expires_at = expires_at;
                if refreshed {
                    self.refreshes.fetch_add(1, Ordering::SeqCst);
                }
                if changed {
                    self.generation.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            }
            Some(Outcome::Failed(e)) => Err(self.stop(e)),
            None => Err(CredentialError::unavailable(
                "the credential update did not run",
            )),
        }
    }

    /// With the row held: use its token, refresh it, or give up. Returns the outcome and the
    /// row to write.
    async fn decide(
        &self,
        mut row: CredentialRecord,
        rejected: Option<Secret>,
    ) -> (Outcome, Option<CredentialRecord>) {
        let provider = self.app.provider();
        let user = self.user;
        let login = format!("run `p8sync auth login --provider {provider} --user {user}`");
        if row.needs_reauth {
            let reason = row.reauth_reason.clone().unwrap_or_default();
            return (
                Outcome::Failed(CredentialError::reauthorize(format!(
                    "the `{provider}` credential needs a new login ({reason}); {login}"
                ))),
                None,
            );
        }
        let access = match open_column(&self.keyring, &row, &row.access_token, "access_token") {
            Ok(a) => a,
            Err(e) => {
                return (
                    Outcome::Failed(CredentialError::reauthorize(e.to_string())),
                    None,
                );
            }
        };
        if self.fresh(row.token_expiry) && Some(&access) != rejected.as_ref() {
            return (Outcome::Token(access, row.token_expiry, false), None);
        }
        let refresh = match row
            .refresh_token
            .as_deref()
            .map(|r| open_column(&self.keyring, &row, r, "refresh_token"))
        {
            Some(Ok(r)) => r,
            Some(Err(e)) => {
                return (
                    Outcome::Failed(CredentialError::reauthorize(e.to_string())),
                    None,
                );
            }
            None => {
                let reason = "the access token expired and there is no refresh token (the login did not grant offline access)".to_string();
                row.needs_reauth = true;
                row.reauth_reason = Some(reason.clone());
                return (
                    Outcome::Failed(CredentialError::reauthorize(format!(
                        "the `{provider}` credential cannot be renewed: {reason}; {login}"
                    ))),
                    Some(row),
                );
            }
        };
        let refreshed = self.app.refresh(&refresh).await;
        // Every call to the token endpoint counts, whether or not the row is written after.
        crate::metrics::token_refresh(
            provider,
            match &refreshed {
                Ok(_) => crate::metrics::RefreshOutcome::Ok,
                Err(e) if e.needs_login() => crate::metrics::RefreshOutcome::InvalidGrant,
                Err(_) => crate::metrics::RefreshOutcome::Error,
            },
        );
        match refreshed {
            Ok(grant) => {
                let expires_at = grant
                    .expires_at
                    .or_else(|| Some(Utc::now() + chrono::Duration::hours(1)));
                let id = row.id;
                // Everything is sealed again under the current key: this is also how rows
                // move to a new key after a rotation. A rotated refresh token is written in
                // this transaction, before anything uses the new access token.
                let refresh = grant.refresh_token.as_ref().unwrap_or(&refresh);
                row.access_token = self
                    .keyring
                    .seal(&grant.access_token, &aad(id, "access_token"));
                row.refresh_token = Some(self.keyring.seal(refresh, &aad(id, "refresh_token")));
                row.key_id = Some(self.keyring.current_id().to_string());
                row.token_expiry = expires_at;
                row.refreshed_at = Some(Utc::now());
                if grant.scopes.is_some() {
                    row.scopes = grant.scopes.clone();
                }
                tracing::info!(provider, credential = %id, "refreshed the access token");
                (
                    Outcome::Token(grant.access_token, expires_at, true),
                    Some(row),
                )
            }
            Err(e) if e.needs_login() => {
                row.needs_reauth = true;
                row.reauth_reason = Some(match &e {
                    OAuthError::InvalidGrant { detail, .. } => detail.clone(),
                    other => other.to_string(),
                });
                tracing::warn!(provider, credential = %row.id, "{e}");
                (
                    Outcome::Failed(CredentialError::reauthorize(e.to_string())),
                    Some(row),
                )
            }
            Err(e) => (
                Outcome::Failed(CredentialError::unavailable(e.to_string())),
                None,
            ),
        }
    }
}

fn bearer(access: &Secret) -> Secret {
    Secret::new(format!("Bearer {}", access.expose()))
}

impl CredentialSource for TokenSource {
    fn authorization(&self) -> BoxFuture<'static, Result<Option<Secret>, CredentialError>> {
        // The trait hands out 'static futures; the work needs `self`, so it runs on a clone
        // of the handle the manager shares.
        let this = self.handle();
        Box::pin(async move {
            if let Some(e) = this.fatal() {
                return Err(e);
            }
            let mut cached = this.state.lock().await;
            if let Some(access) = &cached.access
                && this.fresh(cached.expires_at)
            {
                return Ok(Some(bearer(access)));
            }
            this.refresh_into(&mut cached, None).await?;
            Ok(cached.access.as_ref().map(bearer))
        })
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn rejected(&self, generation: u64) -> BoxFuture<'static, Result<bool, CredentialError>> {
        let this = self.handle();
        Box::pin(async move {
            let mut cached = this.state.lock().await;
            if this.generation.load(Ordering::SeqCst) != generation {
                // Someone refreshed since that call started: just retry.
                return Ok(true);
            }
            let rejected = cached.access.clone();
            this.refresh_into(&mut cached, rejected).await?;
            Ok(true)
        })
    }

    fn fatal(&self) -> Option<CredentialError> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl TokenSource {
    fn handle(&self) -> Arc<TokenSource> {
        self.me
            .upgrade()
            .expect("a token source is only used through its Arc")
    }
}
