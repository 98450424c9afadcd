//! Who may use the HTTP API: API keys (only their hashes are stored) and browser logins under
//! way (single-use OAuth `state`s bound to the user who started them).

use super::StoreError;
use super::ids::{CredentialId, UserId};
use chrono::{DateTime, Utc};

/// A stored API key (`p8."SyncApiKey"`). The key itself is shown once, at creation.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// Random; names the key in listings and when deleting it.
    pub id: uuid::Uuid,
    /// The user the key acts as.
    pub userid: UserId,
    /// The operator's label for it.
    pub name: String,
    /// Hex SHA-256 of the key.
    pub key_hash: String,
    /// Sees and changes every user's data.
    pub is_admin: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A browser login under way (`p8."SyncOAuthState"`).
#[derive(Clone, PartialEq)]
pub struct LoginStateRecord {
    /// Hex SHA-256 of the `state` sent to the provider.
    pub state_hash: String,
    /// The provider id (never an alias).
    pub provider: String,
    /// The user who started the login; the credential is stored for them.
    pub userid: UserId,
    /// The sealed PKCE verifier.
    pub verifier: String,
    /// The key that sealed it.
    pub key_id: Option<String>,
    /// The `redirect_uri` given to the provider, which the code exchange must repeat.
    pub callback_url: String,
    /// Where to send the browser afterwards (already checked against the allowed hosts).
    pub app_redirect: Option<String>,
    /// Also create a default sync config for the provider.
    pub sync_files: bool,
    /// The account this login reconnects (`None`: it adds an account, or signs in again to
    /// one the user has).
    pub credential_id: Option<CredentialId>,
    /// The label to give an account this login adds.
    pub label: Option<String>,
    /// Hex SHA-256 of the value the starting browser holds in its login cookie: the callback
    /// must come with it. `None` only for rows written before logins were bound.
    pub binding_hash: Option<String>,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for LoginStateRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginStateRecord")
            .field("provider", &self.provider)
            .field("userid", &self.userid)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The access side of the store; every [`super::Store`] implements it.
#[async_trait::async_trait]
pub trait AccessStore: Send + Sync {
    /// Store a new key.
    async fn put_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// The key with this hash, if any.
    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// All keys, or one user's, oldest first.
    async fn api_keys(&self, user: Option<UserId>) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// Remove a key; `false` when there was none.
    async fn delete_api_key(&self, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Store a login under way, and forget the ones that expired.
    /// Start a console session: `token_hash` (hex SHA-256 of the cookie's token) signed in
    /// with the key `key_id` until `expires_at`. Expired sessions are swept here.
    async fn put_session(
        &self,
        token_hash: &str,
        key_id: uuid::Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// The key a live session signed in with (`None`: no such session, it expired, or its key
    /// was revoked).
    async fn session_key(&self, token_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// End a session (signing out).
    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError>;
    async fn put_login_state(&self, state: &LoginStateRecord) -> Result<(), StoreError>;
    /// Take a login by the hash of its `state`: it is removed in the same statement, so a
    /// second callback with the same `state` finds nothing. Expired ones are returned too (the
    /// caller says why it refuses them).
    async fn take_login_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginStateRecord>, StoreError>;
    /// Every login under way, expired ones included (for re-sealing after a key rotation).
    async fn login_states(&self) -> Result<Vec<LoginStateRecord>, StoreError>;
    /// Replace a login's sealed verifier and its key; `false` when the login is gone (taken or
    /// swept meanwhile).
    async fn reseal_login_state(
        &self,
        state_hash: &str,
        verifier: &str,
        key_id: &str,
    ) -> Result<bool, StoreError>;
}

/// The prefix of every API key, so a leaked key is easy to recognise (and to scan for).
pub const KEY_PREFIX: &str = "p8s_";

/// The stored form of an API key.
pub fn hash_key(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

impl ApiKeyRecord {
    /// A new key for `userid`: the key, to be shown once, and the record to store.
    pub fn mint(userid: UserId, name: &str, is_admin: bool) -> (crate::secret::Secret, Self) {
        use base64::Engine;
        let bytes: [u8; 32] = rand::random();
        let key = format!(
            "{KEY_PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        );
        let record = ApiKeyRecord {
            id: uuid::Uuid::new_v4(),
            userid,
            name: name.to_string(),
            key_hash: hash_key(&key),
            is_admin,
            created_at: Utc::now(),
        };
        (crate::secret::Secret::new(key), record)
    }
}
