//! Several accounts per provider: which stored credential a login, a password or a sync
//! config means. A user's first account of a provider keeps the id Percolate derives from
//! (userid, provider); further ones get random ids. Each has a label, unique per user and
//! provider, that people pick it by.

use super::tokens::TokenError;
use super::tokens::TokenManager;
use crate::store::ids::{CredentialId, UserId};
use crate::store::{CredentialRecord, Store, StoreError};

/// The most accounts one user may hold of one provider (each is listed on every resolution).
pub const MAX_ACCOUNTS: usize = 50;
/// The longest label, in characters.
pub const MAX_LABEL: usize = 100;

/// Which of a user's accounts of a provider a login or a stored secret goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountChoice {
    /// This credential: a reconnect, or a new password for it.
    Existing(CredentialId),
    /// The account the user already holds with the same identity at the provider (signing in
    /// again), or else a new one, labelled `label` (by default after the identity).
    Add {
        /// The label for a new account.
        label: Option<String>,
    },
}

impl Default for AccountChoice {
    fn default() -> Self {
        AccountChoice::Add { label: None }
    }
}

/// Where a grant or a secret lands.
#[derive(Debug)]
pub(super) struct Placement {
    /// The credential's id.
    pub id: CredentialId,
    /// What was stored under it before, if anything.
    pub previous: Option<CredentialRecord>,
    /// Its label.
    pub label: String,
}

/// A label as given, trimmed, or why it can't be one.
pub fn check_label(label: &str) -> Result<String, TokenError> {
    let label = label.trim();
    if label.is_empty() {
        return Err(TokenError::Label("a label can't be empty".into()));
    }
    if label.chars().count() > MAX_LABEL {
        return Err(TokenError::Label(format!(
            "a label is at most {MAX_LABEL} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(TokenError::Label(
            "a label can't hold control characters".into(),
        ));
    }
    Ok(label.to_string())
}

/// "Which one?", naming the accounts.
fn ambiguous(provider: &str, accounts: &[CredentialRecord]) -> TokenError {
    TokenError::Ambiguous {
        provider: provider.to_string(),
        labels: accounts
            .iter()
            .map(|c| format!("`{}`", c.label))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

fn same_identity(record: &CredentialRecord, account: &str, server_url: Option<&str>) -> bool {
    record
        .provider_user_id
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(account))
        && record.server_url.as_deref() == server_url
}

/// `user`'s accounts of `provider`, by label, straight from the store: what every face and the
/// token manager mean by "the user's accounts" (the application layer has no keyring when no
/// encryption key is set, and still needs them).
pub async fn accounts_of(
    store: &dyn Store,
    user: UserId,
    provider: &str,
) -> Result<Vec<CredentialRecord>, StoreError> {
    let mut all = store.credentials(Some(user)).await?;
    all.retain(|c| c.provider == provider);
    Ok(all)
}

impl TokenManager {
    /// `user`'s accounts of `provider`, by label.
    pub async fn accounts(
        &self,
        user: UserId,
        provider: &str,
    ) -> Result<Vec<CredentialRecord>, TokenError> {
        Ok(accounts_of(self.store().as_ref(), user, provider).await?)
    }

    /// The account a sync of `user`'s with `provider` uses: `chosen`, or when none is chosen
    /// the user's only account of the provider.
    pub async fn account(
        &self,
        user: UserId,
        provider: &str,
        chosen: Option<CredentialId>,
    ) -> Result<CredentialRecord, TokenError> {
        if let Some(id) = chosen {
            return match self.store().credential(id).await? {
                Some(c) if c.userid == user && c.provider == provider => Ok(c),
                // Someone else's, or another provider's, is as good as gone: never used.
                _ => Err(TokenError::Gone {
                    provider: provider.to_string(),
                    user,
                }),
            };
        }
        let mut accounts = self.accounts(user, provider).await?;
        match accounts.len() {
            0 => Err(TokenError::Missing {
                provider: provider.to_string(),
                user,
            }),
            1 => Ok(accounts.remove(0)),
            _ => Err(ambiguous(provider, &accounts)),
        }
    }

    /// Where a grant or secret for `identity` (the account at the provider, when known) goes.
    pub(super) async fn place(
        &self,
        user: UserId,
        provider: &str,
        identity: Option<&str>,
        server_url: Option<&str>,
        choice: &AccountChoice,
    ) -> Result<Placement, TokenError> {
        let accounts = self.accounts(user, provider).await?;
        let label = match choice {
            AccountChoice::Existing(id) => {
                let Some(existing) = accounts.into_iter().find(|c| c.id == *id) else {
                    return Err(TokenError::Gone {
                        provider: provider.to_string(),
                        user,
                    });
                };
                return Ok(Placement {
                    id: existing.id,
                    label: existing.label.clone(),
                    previous: Some(existing),
                });
            }
            AccountChoice::Add { label } => label.as_deref().map(check_label).transpose()?,
        };
        if let Some(identity) = identity
            && let Some(existing) = accounts
                .iter()
                .find(|c| same_identity(c, identity, server_url))
        {
            // Signing in again to an account held already: that one, renamed if asked.
            let existing = existing.clone();
            if let Some(label) = &label
                && accounts
                    .iter()
                    .any(|c| c.id != existing.id && c.label == *label)
            {
                return Err(TokenError::Label(format!(
                    "another {provider} account is labelled `{label}` already"
                )));
            }
            return Ok(Placement {
                id: existing.id,
                label: label.unwrap_or_else(|| existing.label.clone()),
                previous: Some(existing),
            });
        }
        if identity.is_none() && label.is_none() && !accounts.is_empty() {
            // A grant that doesn't say whose it is (an import without an account, a provider
            // without a userinfo endpoint) replaces the only account, as before accounts had
            // labels; with several, the caller must say which.
            let [only] = accounts.as_slice() else {
                return Err(ambiguous(provider, &accounts));
            };
            return Ok(Placement {
                id: only.id,
                label: only.label.clone(),
                previous: Some(only.clone()),
            });
        }
        if accounts.len() >= MAX_ACCOUNTS {
            return Err(TokenError::Label(format!(
                "a user holds at most {MAX_ACCOUNTS} {provider} accounts; disconnect one first"
            )));
        }
        let taken = |l: &str| accounts.iter().any(|c| c.label == l);
        let label = match label {
            Some(l) if taken(&l) => {
                return Err(TokenError::Label(format!(
                    "another {provider} account is labelled `{l}` already"
                )));
            }
            Some(l) => l,
            None => {
                let base = identity
                    .map(|i| i.chars().filter(|c| !c.is_control()).take(MAX_LABEL - 5))
                    .map(String::from_iter)
                    .filter(|i| !i.trim().is_empty())
                    .unwrap_or_else(|| provider.to_string());
                (1..=MAX_ACCOUNTS + 1)
                    .map(|n| match n {
                        1 => base.clone(),
                        n => format!("{base} ({n})"),
                    })
                    .find(|l| !taken(l))
                    .unwrap_or(base)
            }
        };
        // The first account keeps Percolate's derived id, so Percolate finds it.
        let derived = CredentialId::derive(user, provider);
        let id = if accounts.iter().any(|c| c.id == derived) {
            CredentialId::from(uuid::Uuid::new_v4())
        } else {
            derived
        };
        Ok(Placement {
            id,
            previous: None,
            label,
        })
    }

    /// Give `user`'s account `id` a new label.
    pub async fn rename(
        &self,
        user: UserId,
        id: CredentialId,
        label: &str,
    ) -> Result<CredentialRecord, TokenError> {
        let label = check_label(label)?;
        let Some(mut record) = self
            .store()
            .credential(id)
            .await?
            .filter(|c| c.userid == user)
        else {
            return Err(TokenError::NoSuchAccount);
        };
        let accounts = self.accounts(user, &record.provider).await?;
        if accounts.iter().any(|c| c.id != id && c.label == label) {
            return Err(TokenError::Label(format!(
                "another {} account is labelled `{label}` already",
                record.provider
            )));
        }
        record.label = label;
        self.store().put_credential(&record).await?;
        Ok(record)
    }
}

impl TokenManager {
    /// The account of `user`'s with `provider` labelled `label`, if there is one.
    pub async fn labelled(
        &self,
        user: UserId,
        provider: &str,
        label: &str,
    ) -> Result<Option<CredentialRecord>, TokenError> {
        let label = label.trim();
        Ok(self
            .accounts(user, provider)
            .await?
            .into_iter()
            .find(|c| c.label == label))
    }

    /// What a command's `--label` means when storing a credential: the account labelled so
    /// (to replace its secret, or sign in to it again), else a new one with that label.
    pub async fn choice_for_label(
        &self,
        user: UserId,
        provider: &str,
        label: Option<&str>,
    ) -> Result<AccountChoice, TokenError> {
        let Some(label) = label else {
            return Ok(AccountChoice::default());
        };
        Ok(match self.labelled(user, provider, label).await? {
            Some(existing) => AccountChoice::Existing(existing.id),
            None => AccountChoice::Add {
                label: Some(check_label(label)?),
            },
        })
    }
}
