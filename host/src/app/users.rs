//! Users and their API keys: create (the key is shown once), list, revoke.

use super::{App, AppError};
use crate::secret::Secret;
use crate::store::access::ApiKeyRecord;
use crate::store::ids::UserId;
use chrono::{DateTime, Utc};

/// An API key as listings show it: never the key, nor its hash.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// Names the key in listings and when revoking it.
    pub id: uuid::Uuid,
    /// The user the key acts as.
    #[schema(value_type = String, format = Uuid)]
    pub userid: UserId,
    /// Who or what uses it.
    pub name: String,
    /// Sees and changes every user's data.
    pub is_admin: bool,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl KeyInfo {
    fn of(record: &ApiKeyRecord) -> Self {
        KeyInfo {
            id: record.id,
            userid: record.userid,
            name: record.name.clone(),
            is_admin: record.is_admin,
            created_at: record.created_at,
        }
    }
}

impl App {
    /// A new API key named `name` for `user` (a new user when `None`). Only its hash is
    /// stored: the returned key is the one chance to see it.
    pub async fn create_key(
        &self,
        name: &str,
        user: Option<UserId>,
        admin: bool,
    ) -> Result<(Secret, KeyInfo), AppError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AppError::Invalid(
                "a key's name must be 1 to 200 characters, without control characters".into(),
            ));
        }
        let user = user.unwrap_or_else(|| UserId(uuid::Uuid::new_v4()));
        let (key, record) = ApiKeyRecord::mint(user, name, admin);
        self.store.put_api_key(&record).await?;
        Ok((key, KeyInfo::of(&record)))
    }

    /// The API keys of `user`, or everyone's.
    pub async fn keys(&self, user: Option<UserId>) -> Result<Vec<KeyInfo>, AppError> {
        let records = self.store.api_keys(user).await?;
        Ok(records.iter().map(KeyInfo::of).collect())
    }

    /// Revoke the key `id`: requests with it fail at once.
    pub async fn revoke_key(&self, id: uuid::Uuid) -> Result<(), AppError> {
        if !self.store.delete_api_key(id).await? {
            return Err(AppError::NotFound(format!("API key with id {id}")));
        }
        Ok(())
    }
}
