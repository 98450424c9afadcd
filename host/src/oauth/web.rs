//! The browser login of `p8sync serve` (a web-server client in OAuth terms): the login is
//! started by a signed-in API user, its `state` and PKCE verifier are kept server-side (so any
//! replica can take the callback), and the callback is accepted once, within ten minutes.

use super::app::{OAuthApp, OAuthError};
use super::login::random_token;
use super::tokens::{TokenError, TokenManager};
use crate::secret::Secret;
use crate::store::StoreError;
use crate::store::access::{LoginStateRecord, hash_key};
use crate::store::ids::UserId;
use chrono::Utc;
use oauth2::PkceCodeVerifier;

/// How long a started login stays acceptable.
pub const LOGIN_TTL: chrono::Duration = chrono::Duration::minutes(10);

/// Why a callback was refused or failed. Messages are for the person in the browser: they
/// say what happened and what to do, and never carry a code, a token or the state.
#[derive(Debug, thiserror::Error)]
pub enum WebLoginError {
    /// No `state` came back.
    #[error(
        "the sign-in response carried no state, so it can't be matched to a login; start the sign-in again"
    )]
    MissingState,
    /// The `state` is not one this service issued, or it was used already.
    #[error(
        "this sign-in link is not one p8sync is waiting for (it was already used, or it was not issued here); start the sign-in again"
    )]
    UnknownState,
    /// The `state` is older than [`LOGIN_TTL`].
    #[error("this sign-in took longer than 10 minutes and has expired; start the sign-in again")]
    Expired,
    /// The callback arrived on another provider's address than the login was started for.
    #[error("this sign-in was started for another provider; start the sign-in again")]
    WrongProvider,
    /// The user (or the provider) declined.
    #[error("the provider did not grant access ({0}); nothing was stored")]
    Denied(String),
    /// No code came back.
    #[error("the provider's response carried no authorization code; start the sign-in again")]
    NoCode,
    /// The code exchange failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// The credential could not be stored.
    #[error(transparent)]
    Tokens(#[from] TokenError),
    /// The login state could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sealed verifier could not be opened (the encryption key changed).
    #[error(
        "the sign-in could not be completed because the server's encryption key changed meanwhile; start the sign-in again"
    )]
    Sealed,
    /// The callback came to a browser that did not start the login (no login cookie, or
    /// another one): a consent link handed on to someone else.
    #[error(
        "this sign-in was started in another browser (or this browser's sign-in cookie is gone), so it can't be finished here; nothing was stored. Start the sign-in again in this browser"
    )]
    OtherBrowser,
    /// A reconnect signed in to another account than the one it reconnects.
    #[error(
        "this sign-in is for the account {new}, but it was started to reconnect {connected}; nothing was stored. To add {new} as another account, connect a new account instead"
    )]
    OtherAccount {
        /// The account connected now.
        connected: String,
        /// The account this login signed in to.
        new: String,
    },
}

impl WebLoginError {
    /// Whether the browser's request was at fault (a 400), rather than the server or the
    /// provider (a 502/500).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            WebLoginError::MissingState
                | WebLoginError::UnknownState
                | WebLoginError::Expired
                | WebLoginError::WrongProvider
                | WebLoginError::Denied(_)
                | WebLoginError::NoCode
                | WebLoginError::OtherBrowser
                | WebLoginError::OtherAccount { .. }
        )
    }
}

/// What a started login needs.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// Who is signing in.
    pub user: UserId,
    /// This service's callback URL for the provider.
    pub callback_url: String,
    /// Where to send the browser afterwards (checked by the caller).
    pub app_redirect: Option<String>,
    /// Also create a default sync config.
    pub sync_files: bool,
    /// Which account the login is for: one to reconnect, or a new one (with its label).
    pub account: super::AccountChoice,
}

/// A finished login.
#[derive(Debug, Clone)]
pub struct WebLogin {
    /// Who signed in.
    pub user: UserId,
    /// The provider id.
    pub provider: String,
    /// The account at the provider, when the userinfo endpoint said.
    pub account: Option<String>,
    /// The stored credential (new, or the one signed in to again).
    pub credential_id: crate::store::ids::CredentialId,
    /// Its label.
    pub label: String,
    /// Where to send the browser.
    pub app_redirect: Option<String>,
    /// A default sync config was asked for.
    pub sync_files: bool,
    /// The provider sent a refresh token (or one was kept from before).
    pub has_refresh_token: bool,
}

pub(super) fn aad(state_hash: &str) -> String {
    format!("SyncOAuthState:{state_hash}:verifier")
}

/// A started login: the consent page, and the cookie that binds the login to the browser
/// that goes there (the callback refuses any browser without it).
#[derive(Debug)]
pub struct Started {
    /// The provider's consent page.
    pub url: url::Url,
    /// The cookie's name: one per login, so two logins in one browser don't collide.
    pub cookie_name: String,
    /// The cookie's value: random, known only to that browser (the store keeps its hash).
    pub cookie_value: Secret,
}

/// The name of the cookie that binds the login whose `state` came back.
pub fn cookie_name(state: &str) -> String {
    cookie_name_for_hash(&hash_key(state))
}

fn cookie_name_for_hash(state_hash: &str) -> String {
    format!("p8sync_login_{}", &state_hash[..16.min(state_hash.len())])
}

/// Start a login: store its state, verifier and browser binding, and return the provider's
/// consent URL with the cookie to set in the browser that goes there.
pub async fn start(
    tokens: &TokenManager,
    app: &OAuthApp,
    request: LoginRequest,
) -> Result<Started, WebLoginError> {
    let state = random_token();
    let verifier = PkceCodeVerifier::new(format!("{}{}", random_token(), random_token()));
    let url = app.authorize_url(&request.callback_url, &state, &verifier)?;
    let state_hash = hash_key(&state);
    let binding = Secret::new(random_token());
    let keyring = tokens.keyring();
    let record = LoginStateRecord {
        verifier: keyring.seal(&Secret::new(verifier.secret().clone()), &aad(&state_hash)),
        key_id: Some(keyring.current_id().to_string()),
        state_hash,
        provider: app.provider().to_string(),
        userid: request.user,
        callback_url: request.callback_url,
        app_redirect: request.app_redirect,
        sync_files: request.sync_files,
        credential_id: match &request.account {
            super::AccountChoice::Existing(id) => Some(*id),
            super::AccountChoice::Add { .. } => None,
        },
        label: match request.account {
            super::AccountChoice::Existing(_) => None,
            super::AccountChoice::Add { label } => label,
        },
        expires_at: Utc::now() + LOGIN_TTL,
        binding_hash: Some(hash_key(binding.expose())),
    };
    let cookie_name = cookie_name_for_hash(&record.state_hash);
    tokens.store().put_login_state(&record).await?;
    Ok(Started {
        url,
        cookie_name,
        cookie_value: binding,
    })
}

/// What came back to the callback.
#[derive(Debug, Default, Clone)]
pub struct Callback {
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `error`, when the user declined.
    pub error: Option<String>,
    /// The value of the browser's login cookie for this `state` ([`cookie_name`]), if any.
    pub binding: Option<String>,
}

/// Finish a login for `provider`: take its state (once), exchange the code with the stored
/// verifier, find the account, and store the credential sealed. `app` is looked up once the
/// state names the provider.
pub async fn finish(
    tokens: &TokenManager,
    provider: &str,
    app: impl FnOnce(&str) -> Result<OAuthApp, OAuthError>,
    callback: Callback,
) -> Result<WebLogin, WebLoginError> {
    let state = callback.state.ok_or(WebLoginError::MissingState)?;
    // Taken (deleted) before anything else, so even a failed attempt uses it up.
    let record = tokens
        .store()
        .take_login_state(&hash_key(&state))
        .await?
        .ok_or(WebLoginError::UnknownState)?;
    if record.expires_at < Utc::now() {
        return Err(WebLoginError::Expired);
    }
    if record.provider != provider {
        return Err(WebLoginError::WrongProvider);
    }
    // Checked before anything else happens with the code: the state is used up either way.
    let bound = match (&record.binding_hash, &callback.binding) {
        (Some(want), Some(got)) => constant_time_eq(want, &hash_key(got)),
        (Some(_), None) => false,
        // A login stored before logins were bound (at most ten minutes around an upgrade).
        (None, _) => true,
    };
    if !bound {
        return Err(WebLoginError::OtherBrowser);
    }
    if let Some(error) = callback.error {
        return Err(WebLoginError::Denied(error));
    }
    let code = callback.code.ok_or(WebLoginError::NoCode)?;
    let verifier = tokens
        .keyring()
        .open(
            record.key_id.as_deref().unwrap_or_default(),
            &record.verifier,
            &aad(&record.state_hash),
        )
        .map_err(|_| WebLoginError::Sealed)?;
    let app = app(&record.provider)?;
    let grant = app
        .exchange_code(
            &code,
            &record.callback_url,
            PkceCodeVerifier::new(verifier.expose().to_string()),
        )
        .await?;
    let account = app.account(&grant.access_token).await;
    let choice = match record.credential_id {
        Some(id) => {
            // A reconnect must sign in to the account it reconnects: another account's grant
            // would quietly feed a config someone else's files.
            let connected = tokens
                .store()
                .credential(id)
                .await?
                .filter(|c| c.userid == record.userid)
                .and_then(|c| c.provider_user_id);
            if let (Some(connected), Some(new)) = (connected, account.as_ref())
                && !connected.eq_ignore_ascii_case(new)
            {
                return Err(WebLoginError::OtherAccount {
                    connected,
                    new: new.clone(),
                });
            }
            super::AccountChoice::Existing(id)
        }
        None => super::AccountChoice::Add {
            label: record.label.clone(),
        },
    };
    let saved = tokens
        .save_grant(record.userid, &record.provider, &grant, account, &choice)
        .await?;
    Ok(WebLogin {
        user: record.userid,
        provider: record.provider,
        credential_id: saved.id,
        label: saved.label,
        // What save_grant stored: this login's account, or the one known before.
        account: saved.provider_user_id,
        app_redirect: record.app_redirect,
        sync_files: record.sync_files,
        has_refresh_token: saved.refresh_token.is_some(),
    })
}

/// Equality that takes as long whatever the inputs share, for comparing secrets' hashes.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
