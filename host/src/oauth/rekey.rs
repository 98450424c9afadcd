//! Re-keying: every credential and every login under way sealed again under the current key,
//! so the keys it replaces can be dropped. A rotation alone moves only the rows that are
//! refreshed, and a stored password, an API token or a rarely used grant may never be.
//!
//! Each credential is re-sealed while it is held against other writers (the lock a refresh
//! takes), so a refresh running at the same time is neither lost nor overwritten.

use super::crypto::{KeyError, Keyring};
use super::tokens::{TokenError, TokenManager, aad};
use crate::secret::Secret;
use crate::store::CredentialRecord;
use crate::store::ids::{CredentialId, UserId};

/// What [`TokenManager::rekey`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RekeyReport {
    /// The key everything is sealed under now.
    pub key_id: String,
    /// Credentials sealed again under the current key.
    pub resealed: usize,
    /// Credentials that already were.
    pub current: usize,
    /// Unsealed rows (not written by p8sync) sealed on the operator's word.
    pub adopted: usize,
    /// Unsealed rows left as they are (and refused when used).
    pub unsealed: Vec<Unreadable>,
    /// Credentials that could not be opened (a key that is not configured, or damage): they
    /// keep their key, so the previous keys must stay until they are dealt with.
    pub unreadable: Vec<Unreadable>,
    /// Logins under way sealed again.
    pub logins_resealed: usize,
    /// Logins under way whose verifier could not be opened (they fail; the user starts again).
    pub logins_unreadable: usize,
}

/// A credential `rekey` could not move, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Unreadable {
    /// The provider.
    pub provider: String,
    /// The owner.
    pub user: UserId,
    /// Why (never a token).
    pub reason: String,
}

impl RekeyReport {
    /// Whether the previous keys can be dropped: nothing is left under them.
    pub fn complete(&self) -> bool {
        self.unreadable.is_empty() && self.logins_unreadable == 0
    }
}

/// What re-sealing one row came to.
enum Moved {
    Resealed,
    Current,
    Adopted,
    Unsealed,
    Unreadable(KeyError),
}

impl TokenManager {
    /// Seal every credential and every login under way under the current key. Rows without a
    /// key (tokens in plain text, written by something other than p8sync) are sealed only when
    /// `adopt_unsealed`: that is the operator vouching for them.
    pub async fn rekey(&self, adopt_unsealed: bool) -> Result<RekeyReport, TokenError> {
        let keyring = self.keyring();
        let mut report = RekeyReport {
            key_id: keyring.current_id().to_string(),
            ..RekeyReport::default()
        };
        for listed in self.store().credentials(None).await? {
            let id = listed.id;
            let outcome = std::sync::Arc::new(std::sync::Mutex::new(None));
            let seen = outcome.clone();
            self.store()
                .update_credential_locked(
                    id,
                    Box::new(move |row| {
                        Box::pin(async move {
                            let (moved, write) = reseal(keyring, row, adopt_unsealed);
                            *seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(moved);
                            write
                        })
                    }),
                )
                .await?;
            let moved = outcome.lock().unwrap_or_else(|p| p.into_inner()).take();
            let unreadable = |reason: String| Unreadable {
                provider: listed.provider.clone(),
                user: listed.userid,
                reason,
            };
            match moved {
                // Deleted meanwhile: nothing to move.
                None => {}
                Some(Moved::Resealed) => report.resealed += 1,
                Some(Moved::Current) => report.current += 1,
                Some(Moved::Adopted) => report.adopted += 1,
                Some(Moved::Unsealed) => report.unsealed.push(unreadable(
                    "stored without encryption; seal it with `p8sync auth rekey --adopt-unsealed` if you trust it, or log in again".into(),
                )),
                Some(Moved::Unreadable(e)) => report.unreadable.push(unreadable(e.to_string())),
            }
        }
        for login in self.store().login_states().await? {
            let aad = super::web::aad(&login.state_hash);
            let Some(key) = login.key_id.as_deref() else {
                report.logins_unreadable += 1;
                continue;
            };
            if key == keyring.current_id() {
                continue;
            }
            match keyring.open(key, &login.verifier, &aad) {
                Ok(verifier) => {
                    let sealed = keyring.seal(&verifier, &aad);
                    if self
                        .store()
                        .reseal_login_state(&login.state_hash, &sealed, keyring.current_id())
                        .await?
                    {
                        report.logins_resealed += 1;
                    }
                }
                Err(_) => report.logins_unreadable += 1,
            }
        }
        tracing::info!(
            key = %report.key_id,
            resealed = report.resealed,
            adopted = report.adopted,
            unreadable = report.unreadable.len(),
            "re-keyed the stored credentials"
        );
        Ok(report)
    }
}

/// One row under the current key, and the row to write (`None`: leave it as it is).
fn reseal(
    keyring: &Keyring,
    mut row: CredentialRecord,
    adopt_unsealed: bool,
) -> (Moved, Option<CredentialRecord>) {
    let id: CredentialId = row.id;
    let open = |value: &str, column: &str| -> Result<Secret, KeyError> {
        match &row.key_id {
            Some(key) => keyring.open(key, value, &aad(id, column)),
            None => Ok(Secret::new(value)),
        }
    };
    match row.key_id.as_deref() {
        Some(key) if key == keyring.current_id() => return (Moved::Current, None),
        None if !adopt_unsealed => return (Moved::Unsealed, None),
        _ => {}
    }
    let access = match open(&row.access_token, "access_token") {
        Ok(a) => a,
        Err(e) => return (Moved::Unreadable(e), None),
    };
    let refresh = match row
        .refresh_token
        .as_deref()
        .map(|r| open(r, "refresh_token"))
        .transpose()
    {
        Ok(r) => r,
        Err(e) => return (Moved::Unreadable(e), None),
    };
    let moved = if row.key_id.is_none() {
        Moved::Adopted
    } else {
        Moved::Resealed
    };
    row.access_token = keyring.seal(&access, &aad(id, "access_token"));
    row.refresh_token = refresh.map(|r| keyring.seal(&r, &aad(id, "refresh_token")));
    row.key_id = Some(keyring.current_id().to_string());
    (moved, Some(row))
}
