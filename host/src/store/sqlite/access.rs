//! API keys and browser logins on SQLite.

use super::{SqliteStore, get, uuid_col};
use crate::store::access::{AccessStore, ApiKeyRecord, LoginStateRecord};
use crate::store::ids::UserId;
use crate::store::{StoreError, query_err};
use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;

fn key_row(row: &SqliteRow) -> Result<ApiKeyRecord, StoreError> {
    const T: &str = "SyncApiKey";
    Ok(ApiKeyRecord {
        id: uuid_col(row, "id", T)?,
        userid: uuid_col(row, "userid", T)?,
        name: get(row, "name")?,
        key_hash: get(row, "key_hash")?,
        is_admin: get(row, "is_admin")?,
        created_at: get(row, "created_at")?,
    })
}

fn login_row(row: &SqliteRow) -> Result<LoginStateRecord, StoreError> {
    const T: &str = "SyncOAuthState";
    Ok(LoginStateRecord {
        state_hash: get(row, "state_hash")?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid", T)?,
        verifier: get(row, "verifier")?,
        key_id: get(row, "key_id")?,
        callback_url: get(row, "callback_url")?,
        app_redirect: get(row, "app_redirect")?,
        sync_files: get(row, "sync_files")?,
        credential_id: super::opt_uuid_col(row, "credential_id", T)?,
        label: get(row, "label")?,
        binding_hash: get(row, "binding_hash")?,
        expires_at: get(row, "expires_at")?,
    })
}

#[async_trait::async_trait]
impl AccessStore for SqliteStore {
    async fn put_api_key(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO "SyncApiKey" (id, userid, name, key_hash, is_admin, created_at)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6)"#,
        )
        .bind(k.id.to_string())
        .bind(k.userid.to_string())
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(k.is_admin)
        .bind(k.created_at)
        .execute(&self.pool)
        .await
        .map_err(query_err("storing an API key"))?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM "SyncApiKey" WHERE key_hash = ?1"#)
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("looking up an API key"))?
            .as_ref()
            .map(key_row)
            .transpose()
    }

    async fn api_keys(&self, user: Option<UserId>) -> Result<Vec<ApiKeyRecord>, StoreError> {
        sqlx::query(
            r#"SELECT * FROM "SyncApiKey" WHERE ?1 IS NULL OR userid = ?1
               ORDER BY created_at, id"#,
        )
        .bind(user.map(|u| u.to_string()))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing API keys"))?
        .iter()
        .map(key_row)
        .collect()
    }

    async fn delete_api_key(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM "SyncApiKey" WHERE id = ?1"#)
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(query_err("deleting an API key"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn put_session(
        &self,
        token_hash: &str,
        key_id: uuid::Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        const DOING: &str = "starting a session";
        sqlx::query(r#"DELETE FROM "SyncSession" WHERE expires_at < ?1"#)
            .bind(Utc::now())
            .execute(&self.pool)
            .await
            .map_err(query_err(DOING))?;
        sqlx::query(
            r#"INSERT INTO "SyncSession" (token_hash, key_id, created_at, expires_at)
               VALUES (?1, ?2, ?3, ?4)"#,
        )
        .bind(token_hash)
        .bind(key_id.to_string())
        .bind(Utc::now())
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        Ok(())
    }

    async fn session_key(&self, token_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(
            r#"SELECT k.* FROM "SyncSession" s JOIN "SyncApiKey" k ON k.id = s.key_id
               WHERE s.token_hash = ?1 AND s.expires_at > ?2"#,
        )
        .bind(token_hash)
        .bind(Utc::now())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("looking up a session"))?
        .as_ref()
        .map(key_row)
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(r#"DELETE FROM "SyncSession" WHERE token_hash = ?1"#)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(query_err("ending a session"))?;
        Ok(())
    }

    async fn put_login_state(&self, s: &LoginStateRecord) -> Result<(), StoreError> {
        const DOING: &str = "storing a login under way";
        let now = Utc::now();
        sqlx::query(r#"DELETE FROM "SyncOAuthState" WHERE expires_at < ?1"#)
            .bind(now - chrono::Duration::hours(1))
            .execute(&self.pool)
            .await
            .map_err(query_err(DOING))?;
        sqlx::query(
            r#"INSERT INTO "SyncOAuthState" (state_hash, provider, userid, verifier, key_id,
                 callback_url, app_redirect, sync_files, created_at, expires_at, binding_hash,
                 credential_id, label)
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"#,
        )
        .bind(&s.state_hash)
        .bind(&s.provider)
        .bind(s.userid.to_string())
        .bind(&s.verifier)
        .bind(&s.key_id)
        .bind(&s.callback_url)
        .bind(&s.app_redirect)
        .bind(s.sync_files)
        .bind(now)
        .bind(s.expires_at)
        .bind(&s.binding_hash)
        .bind(s.credential_id.map(|id| id.to_string()))
        .bind(&s.label)
        .execute(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        Ok(())
    }

    async fn take_login_state(
        &self,
        state_hash: &str,
    ) -> Result<Option<LoginStateRecord>, StoreError> {
        sqlx::query(r#"DELETE FROM "SyncOAuthState" WHERE state_hash = ?1 RETURNING *"#)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("taking a login under way"))?
            .as_ref()
            .map(login_row)
            .transpose()
    }

    async fn login_states(&self) -> Result<Vec<LoginStateRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM "SyncOAuthState" ORDER BY expires_at"#)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing the logins under way"))?
            .iter()
            .map(login_row)
            .collect()
    }

    async fn reseal_login_state(
        &self,
        state_hash: &str,
        verifier: &str,
        key_id: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            r#"UPDATE "SyncOAuthState" SET verifier = ?2, key_id = ?3 WHERE state_hash = ?1"#,
        )
        .bind(state_hash)
        .bind(verifier)
        .bind(key_id)
        .execute(&self.pool)
        .await
        .map_err(query_err("re-sealing a login under way"))?;
        Ok(done.rows_affected() > 0)
    }
}
