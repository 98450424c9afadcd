//! Credentials the user supplies once instead of an OAuth login: an HTTP Basic username and
//! password (WebDAV servers) or a bearer token (an API key, a personal access token).
//!
//! They live in the same `SyncCredential` rows as OAuth grants and are sealed with the same
//! keyring: the secret (password or token) is the sealed `access_token`, a Basic username is
//! the row's account (`provider_user_id`, not a secret), and `provider_metadata` says which
//! kind the row is. Nothing can renew such a credential, so a rejection (HTTP 401) is final:
//! the row is marked as needing the user, and the sync stops instead of retrying.

use super::tokens::{TokenError, TokenManager, aad, open_column};
use crate::runtime::types::AuthMethod;
use crate::runtime::{CredentialError, CredentialSource};
use crate::secret::Secret;
use crate::store::ids::{CredentialId, UserId};
use crate::store::{CredentialRecord, Store};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use futures::future::BoxFuture;
use std::sync::{Arc, Mutex};

/// The `provider_metadata` key that marks a row as a stored static credential.
const KIND_KEY: &str = "p8sync_auth";

/// Which kind of static credential a row holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StaticKind {
    /// HTTP Basic: a username and a password.
    Basic,
    /// A bearer token.
    Bearer,
}

impl StaticKind {
    /// The kind a provider's declared auth method takes, or `None` when it takes no static
    /// credential (OAuth2 or none).
    pub fn for_method(method: &AuthMethod) -> Option<Self> {
        match method {
            AuthMethod::Basic => Some(StaticKind::Basic),
            AuthMethod::BearerToken => Some(StaticKind::Bearer),
            AuthMethod::None | AuthMethod::Oauth2(_) => None,
        }
    }

    /// The name stored in `provider_metadata` and shown by `auth status`.
    pub fn name(self) -> &'static str {
        match self {
            StaticKind::Basic => "basic",
            StaticKind::Bearer => "bearer",
        }
    }

    /// The kind a stored row holds, from its `provider_metadata`; `None` for an OAuth grant.
    pub fn of_record(record: &CredentialRecord) -> Option<Self> {
        match record.provider_metadata.as_ref()?.get(KIND_KEY)?.as_str()? {
            "basic" => Some(StaticKind::Basic),
            "bearer" => Some(StaticKind::Bearer),
            _ => None,
        }
    }

    /// The command that stores (or replaces) such a credential, for messages.
    pub fn set_command(self, provider: &str, user: UserId) -> String {
        match self {
            StaticKind::Basic => format!(
                "`p8sync auth set {provider} --username NAME --password-stdin --user {user}`"
            ),
            StaticKind::Bearer => {
                format!("`p8sync auth set {provider} --token-stdin --user {user}`")
            }
        }
    }
}

/// A static credential as the user gives it.
#[derive(Debug, Clone)]
pub enum StaticCredential {
    /// HTTP Basic.
    Basic {
        /// The username (not secret; shown as the account).
        username: String,
        /// The password.
        password: Secret,
    },
    /// A bearer token.
    Bearer {
        /// The token.
        token: Secret,
    },
}

/// Why a static credential could not be stored or used. Messages never contain the secret.
#[derive(Debug, thiserror::Error)]
pub enum StoredCredentialError {
    /// The store or the keyring failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The value cannot be used as given.
    #[error("{0}")]
    Invalid(String),
    /// The provider takes another kind of credential.
    #[error("the `{provider}` provider signs in with {wanted}, not with {given}; {hint}")]
    WrongKind {
        /// The provider id.
        provider: String,
        /// What the provider declares.
        wanted: String,
        /// What was given.
        given: &'static str,
        /// What to do instead.
        hint: String,
    },
    /// Nothing is stored.
    #[error("there is no stored `{provider}` credential for user {user}; store one with {command}")]
    Missing {
        /// The provider id.
        provider: String,
        /// The user.
        user: UserId,
        /// The command to run.
        command: String,
    },
    /// A credential is stored, but it is unusable (rejected before, or of another kind).
    #[error(
        "the stored `{provider}` credential of user {user} {problem}; set it again with {command}"
    )]
    Unusable {
        /// The provider id.
        provider: String,
        /// The user.
        user: UserId,
        /// What is wrong with it.
        problem: String,
        /// The command to run.
        command: String,
    },
}

/// Check that the given credential fits what the provider declares.
pub fn check_kind(
    provider: &str,
    method: &AuthMethod,
    credential: &StaticCredential,
) -> Result<(), StoredCredentialError> {
    let given = match credential {
        StaticCredential::Basic { .. } => StaticKind::Basic,
        StaticCredential::Bearer { .. } => StaticKind::Bearer,
    };
    let given_text = match given {
        StaticKind::Basic => "a username and password",
        StaticKind::Bearer => "a bearer token",
    };
    let (wanted, hint) = match method {
        AuthMethod::Basic if given == StaticKind::Basic => return Ok(()),
        AuthMethod::BearerToken if given == StaticKind::Bearer => return Ok(()),
        AuthMethod::Basic => (
            "a username and password (HTTP Basic)".to_string(),
            format!("use `p8sync auth set {provider} --username NAME --password-stdin`"),
        ),
        AuthMethod::BearerToken => (
            "a bearer token".to_string(),
            format!("use `p8sync auth set {provider} --token-stdin`"),
        ),
        AuthMethod::Oauth2(_) => (
            "OAuth2".to_string(),
            format!("use `p8sync auth login --provider {provider}`"),
        ),
        AuthMethod::None => (
            "no credential at all".to_string(),
            "there is nothing to store for it".to_string(),
        ),
    };
    Err(StoredCredentialError::WrongKind {
        provider: provider.to_string(),
        wanted,
        given: given_text,
        hint,
    })
}

/// The longest user name a stored credential may have (an email address is at most 254).
const MAX_USERNAME_BYTES: usize = 512;
/// The longest password or token a stored credential may have: it is sent in a header, and
/// servers refuse headers much past 8 KiB.
const MAX_SECRET_BYTES: usize = 8 * 1024;

/// The longest server URL an account may carry.
const MAX_SERVER_URL: usize = 2048;

/// A self-hosted account's server as given, checked: an absolute `http` or `https` URL with a
/// host, no user name or password in it (those are the credential's), no query or fragment.
/// Whether the host may reach it (a private address, plain http) is the sandbox's decision
/// at each call, under the operator's settings.
pub fn check_server_url(url: &str) -> Result<String, StoredCredentialError> {
    let invalid = |why: &str| StoredCredentialError::Invalid(format!("the server URL {why}"));
    let url = url.trim();
    if url.len() > MAX_SERVER_URL {
        return Err(invalid(&format!("is longer than {MAX_SERVER_URL} bytes")));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with https:// (or http://)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("names no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "must not carry a user name or password (give them as the credential)",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query or a fragment"));
    }
    Ok(parsed.to_string())
}

fn validate(credential: &StaticCredential) -> Result<(), StoredCredentialError> {
    let invalid = |m: &str| Err(StoredCredentialError::Invalid(m.to_string()));
    let secret = match credential {
        StaticCredential::Basic { password, .. } => password,
        StaticCredential::Bearer { token } => token,
    };
    if secret.expose().len() > MAX_SECRET_BYTES {
        return Err(StoredCredentialError::Invalid(format!(
            "the secret is longer than {MAX_SECRET_BYTES} bytes"
        )));
    }
    match credential {
        StaticCredential::Basic { username, password } => {
            if username.is_empty() {
                return invalid("the username is empty");
            }
            if username.len() > MAX_USERNAME_BYTES {
                return Err(StoredCredentialError::Invalid(format!(
                    "the username is longer than {MAX_USERNAME_BYTES} bytes"
                )));
            }
            // RFC 7617: the user-id cannot contain a colon (it separates it from the password).
            if username.contains(':') {
                return invalid("the username contains `:`, which HTTP Basic cannot carry");
            }
            if username.chars().any(char::is_control) {
                return invalid("the username contains control characters");
            }
            if password.expose().is_empty() {
                return invalid("the password is empty (nothing was read from stdin)");
            }
            if password.expose().chars().any(char::is_control) {
                return invalid(
                    "the password contains control characters (a second line on stdin?)",
                );
            }
        }
        StaticCredential::Bearer { token } => {
            let t = token.expose();
            if t.is_empty() {
                return invalid("the token is empty (nothing was read from stdin)");
            }
            // It goes into a header as it is.
            if !t.bytes().all(|b| b.is_ascii_graphic()) {
                return invalid(
                    "the token contains spaces, control or non-ASCII characters, so it cannot be sent in a header",
                );
            }
        }
    }
    Ok(())
}

/// One secret read from stdin: everything up to the end, without the final line ending.
pub fn secret_from_text(mut text: String) -> Secret {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Secret::new(text)
}

impl TokenManager {
    /// Store `user`'s static credential for `provider`, sealed, in the account `choice` says
    /// (a new one, or the one with the same user name on the same server); `server_url` is the
    /// server a self-hosted account lives on. A credential marked as rejected before is usable
    /// again once replaced.
    pub async fn save_static(
        &self,
        user: UserId,
        provider: &str,
        credential: &StaticCredential,
        server_url: Option<&str>,
        choice: &super::AccountChoice,
    ) -> Result<CredentialRecord, StoredCredentialError> {
        validate(credential)?;
        let server_url = server_url.map(check_server_url).transpose()?;
        let (kind, secret, account) = match credential {
            StaticCredential::Basic { username, password } => {
                (StaticKind::Basic, password, Some(username.clone()))
            }
            StaticCredential::Bearer { token } => (StaticKind::Bearer, token, None),
        };
        let place = self
            .place(
                user,
                provider,
                account.as_deref(),
                server_url.as_deref(),
                choice,
            )
            .await?;
        let id = place.id;
        // A new password for an account keeps its server unless another is given.
        let server_url =
            server_url.or_else(|| place.previous.as_ref().and_then(|p| p.server_url.clone()));
        let record = CredentialRecord {
            id,
            provider: provider.to_string(),
            userid: user,
            label: place.label,
            server_url,
            access_token: self.keyring().seal(secret, &aad(id, "access_token")),
            refresh_token: None,
            token_expiry: None,
            provider_user_id: account,
            provider_metadata: Some(serde_json::json!({ KIND_KEY: kind.name() })),
            key_id: Some(self.keyring().current_id().to_string()),
            scopes: None,
            needs_reauth: false,
            reauth_reason: None,
            refreshed_at: Some(Utc::now()),
            created_at: None,
            updated_at: None,
        };
        self.store()
            .put_credential(&record)
            .await
            .map_err(TokenError::from)?;
        Ok(record)
    }

    /// The source of the `Authorization` header for `user`'s stored `kind` credential with
    /// `provider` (the account `chosen`, or the only one); an error that names the command to
    /// run when there is none usable.
    pub async fn static_source(
        &self,
        user: UserId,
        provider: &str,
        chosen: Option<CredentialId>,
        kind: StaticKind,
    ) -> Result<Arc<StaticSource>, StoredCredentialError> {
        let command = kind.set_command(provider, user);
        let unusable = |problem: String| StoredCredentialError::Unusable {
            provider: provider.to_string(),
            user,
            problem,
            command: command.clone(),
        };
        let record = match self.account(user, provider, chosen).await {
            Ok(record) => record,
            // No account, or the one the config syncs was deleted: store one.
            Err(TokenError::Missing { .. } | TokenError::Gone { .. }) => {
                return Err(StoredCredentialError::Missing {
                    provider: provider.to_string(),
                    user,
                    command,
                });
            }
            Err(other) => return Err(other.into()),
        };
        let id = record.id;
        match StaticKind::of_record(&record) {
            Some(k) if k == kind => {}
            Some(other) => {
                return Err(unusable(format!(
                    "is a {} credential, but the provider takes {}",
                    other.name(),
                    kind.name()
                )));
            }
            None => {
                return Err(unusable(
                    "is an OAuth grant, but the provider takes a stored credential".into(),
                ));
            }
        }
        if record.needs_reauth {
            return Err(unusable(format!(
                "was rejected ({})",
                record
                    .reauth_reason
                    .as_deref()
                    .unwrap_or("the server refused it")
            )));
        }
        let secret = open_column(
            self.keyring(),
            &record,
            &record.access_token,
            "access_token",
        )
        .map_err(TokenError::from)?;
        let header = match kind {
            StaticKind::Basic => {
                let username = record.provider_user_id.clone().unwrap_or_default();
                let pair = format!("{username}:{}", secret.expose());
                Secret::new(format!("Basic {}", STANDARD.encode(pair)))
            }
            StaticKind::Bearer => Secret::new(format!("Bearer {}", secret.expose())),
        };
        Ok(Arc::new(StaticSource {
            header,
            id,
            sealed: record.access_token,
            store: self.store().clone(),
            rejected_message: format!(
                "the stored credential was rejected (HTTP 401); set it again with {command}"
            ),
            fatal: Arc::new(Mutex::new(None)),
        }))
    }
}

/// A stored static credential handed to the runtime: always the same header, and a rejection
/// ends its use (there is nothing to refresh).
pub struct StaticSource {
    header: Secret,
    id: CredentialId,
    /// The sealed secret as loaded: a rejection only marks the row if it still holds this one
    /// (the user may have set a new password meanwhile).
    sealed: String,
    store: Arc<dyn Store>,
    rejected_message: String,
    fatal: Arc<Mutex<Option<CredentialError>>>,
}

impl CredentialSource for StaticSource {
    fn authorization(&self) -> BoxFuture<'static, Result<Option<Secret>, CredentialError>> {
        let result = match self.fatal() {
            Some(e) => Err(e),
            None => Ok(Some(self.header.clone())),
        };
        Box::pin(async move { result })
    }

    fn rejected(&self, _generation: u64) -> BoxFuture<'static, Result<bool, CredentialError>> {
        let error = CredentialError::reauthorize(self.rejected_message.clone());
        let first = {
            let mut fatal = self.fatal.lock().unwrap_or_else(|p| p.into_inner());
            let first = fatal.is_none();
            *fatal = Some(error.clone());
            first
        };
        let (store, id, sealed) = (self.store.clone(), self.id, self.sealed.clone());
        Box::pin(async move {
            if first {
                // Marked in the database so that schedulers stop trying (and stop counting
                // failed logins against the account) until the user sets it again.
                let marked = store
                    .update_credential_locked(
                        id,
                        Box::new(move |mut row: CredentialRecord| {
                            Box::pin(async move {
                                (row.access_token == sealed && !row.needs_reauth).then(|| {
                                    row.needs_reauth = true;
                                    row.reauth_reason = Some("the server answered HTTP 401".into());
                                    row
                                })
                            })
                        }),
                    )
                    .await;
                if let Err(e) = marked {
                    tracing::warn!(credential = %id, "could not mark the rejected credential: {e}");
                }
                tracing::warn!(credential = %id, "the stored credential was rejected");
            }
            Err(error)
        })
    }

    fn fatal(&self) -> Option<CredentialError> {
        self.fatal.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
