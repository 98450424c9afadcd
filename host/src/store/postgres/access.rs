//! API keys and browser logins on Postgres.

use super::{PostgresStore, get, naive, ts, uuid_col};
use crate::store::access::{AccessStore, ApiKeyRecord, LoginStateRecord};
use crate::store::ids::UserId;
use crate::store::{StoreError, query_err};
use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;

fn key_row(row: &PgRow) -> Result<ApiKeyRecord, StoreError> {
    Ok(ApiKeyRecord {
        id: get(row, "id")?,
        userid: uuid_col(row, "userid")?,
        name: get(row, "name")?,
        key_hash: get(row, "key_hash")?,
        is_admin: get(row, "is_admin")?,
        created_at: ts(row, "created_at")?.unwrap_or_default(),
    })
}

fn login_row(row: &PgRow) -> Result<LoginStateRecord, StoreError> {
    Ok(LoginStateRecord {
        state_hash: get(row, "state_hash")?,
        provider: get(row, "provider")?,
        userid: uuid_col(row, "userid")?,
        verifier: get(row, "verifier")?,
        key_id: get(row, "key_id")?,
        callback_url: get(row, "callback_url")?,
        app_redirect: get(row, "app_redirect")?,
        sync_files: get(row, "sync_files")?,
        credential_id: get::<Option<uuid::Uuid>>(row, "credential_id")?.map(Into::into),
        label: get(row, "label")?,
        binding_hash: get(row, "binding_hash")?,
        expires_at: ts(row, "expires_at")?.unwrap_or_default(),
    })
}

#[async_trait::async_trait]
impl AccessStore for PostgresStore {
    async fn put_api_key(&self, k: &ApiKeyRecord) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO p8."SyncApiKey" (id, userid, name, key_hash, is_admin, created_at)
               VALUES ($1, $2, $3, $4, $5, $6)"#,
        )
        .bind(k.id)
        .bind(k.userid.0)
        .bind(&k.name)
        .bind(&k.key_hash)
        .bind(k.is_admin)
        .bind(naive(Some(k.created_at)))
        .execute(&self.pool)
        .await
        .map_err(query_err("storing an API key"))?;
        Ok(())
    }

    async fn api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncApiKey" WHERE key_hash = $1"#)
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
            r#"SELECT * FROM p8."SyncApiKey" WHERE $1::uuid IS NULL OR userid = $1
               ORDER BY created_at, id"#,
        )
        .bind(user.map(|u| u.0))
        .fetch_all(&self.pool)
        .await
        .map_err(query_err("listing API keys"))?
        .iter()
        .map(key_row)
        .collect()
    }

    async fn delete_api_key(&self, id: uuid::Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(r#"DELETE FROM p8."SyncApiKey" WHERE id = $1"#)
            .bind(id)
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
        sqlx::query(
            r#"DELETE FROM p8."SyncSession" WHERE expires_at < (now() AT TIME ZONE 'UTC')"#,
        )
        .execute(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        sqlx::query(
            r#"INSERT INTO p8."SyncSession" (token_hash, key_id, expires_at) VALUES ($1, $2, $3)"#,
        )
        .bind(token_hash)
        .bind(key_id)
        .bind(naive(Some(expires_at)))
        .execute(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        Ok(())
    }

    async fn session_key(&self, token_hash: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        sqlx::query(
            r#"SELECT k.* FROM p8."SyncSession" s JOIN p8."SyncApiKey" k ON k.id = s.key_id
               WHERE s.token_hash = $1 AND s.expires_at > (now() AT TIME ZONE 'UTC')"#,
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_err("looking up a session"))?
        .as_ref()
        .map(key_row)
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> Result<(), StoreError> {
        sqlx::query(r#"DELETE FROM p8."SyncSession" WHERE token_hash = $1"#)
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(query_err("ending a session"))?;
        Ok(())
    }

    async fn put_login_state(&self, s: &LoginStateRecord) -> Result<(), StoreError> {
        const DOING: &str = "storing a login under way";
        // Abandoned logins go here rather than in a sweeper: every new login cleans up.
        sqlx::query(
            r#"DELETE FROM p8."SyncOAuthState"
               WHERE expires_at < (now() AT TIME ZONE 'UTC') - interval '1 hour'"#,
        )
        .execute(&self.pool)
        .await
        .map_err(query_err(DOING))?;
        sqlx::query(
            r#"INSERT INTO p8."SyncOAuthState" (state_hash, provider, userid, verifier, key_id,
                 callback_url, app_redirect, sync_files, expires_at, binding_hash, credential_id,
                 label)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"#,
        )
        .bind(&s.state_hash)
        .bind(&s.provider)
        .bind(s.userid.0)
        .bind(&s.verifier)
        .bind(&s.key_id)
        .bind(&s.callback_url)
        .bind(&s.app_redirect)
        .bind(s.sync_files)
        .bind(naive(Some(s.expires_at)))
        .bind(&s.binding_hash)
        .bind(s.credential_id.map(|id| id.0))
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
        sqlx::query(r#"DELETE FROM p8."SyncOAuthState" WHERE state_hash = $1 RETURNING *"#)
            .bind(state_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("taking a login under way"))?
            .as_ref()
            .map(login_row)
            .transpose()
    }

    async fn login_states(&self) -> Result<Vec<LoginStateRecord>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncOAuthState" ORDER BY expires_at"#)
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
            r#"UPDATE p8."SyncOAuthState" SET verifier = $2, key_id = $3 WHERE state_hash = $1"#,
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
