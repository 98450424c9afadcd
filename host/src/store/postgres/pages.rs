//! Paged reads on Postgres.

use super::{PostgresStore, file_row, log_row};
use crate::store::ids::{FileId, LogId};
use crate::store::pages::{Condition, FileQuery, LogQuery, PageStore, Param, where_clause};
use crate::store::{StoreError, SyncFile, SyncLog, query_err};
use sqlx::postgres::{PgArguments, PgRow};

fn placeholder(n: usize) -> String {
    format!("${n}")
}

fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Postgres, PgArguments>,
    conditions: &'q [Condition],
) -> sqlx::query::Query<'q, sqlx::Postgres, PgArguments> {
    for c in conditions {
        query = match &c.value {
            Param::Uuid(u) => query.bind(*u),
            Param::Text(t) => query.bind(*t),
        };
    }
    query
}

#[async_trait::async_trait]
impl PageStore for PostgresStore {
    async fn file_page(&self, q: &FileQuery) -> Result<Vec<SyncFile>, StoreError> {
        let conditions = q.conditions();
        let n = conditions.len();
        // Only placeholders are formatted in; every value is bound.
        let sql = format!(
            r#"SELECT * FROM p8."SyncFile" WHERE {} ORDER BY id LIMIT ${}"#,
            where_clause(&conditions, placeholder),
            n + 1
        );
        let rows: Vec<PgRow> = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &conditions)
            .bind(q.limit)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing files"))?;
        rows.iter().map(file_row).collect()
    }

    async fn log_page(&self, q: &LogQuery) -> Result<Vec<SyncLog>, StoreError> {
        let conditions = q.conditions();
        let n = conditions.len();
        let sql = format!(
            r#"SELECT * FROM p8."SyncLog" WHERE {} ORDER BY started_at DESC NULLS LAST, id
               LIMIT ${} OFFSET ${}"#,
            where_clause(&conditions, placeholder),
            n + 1,
            n + 2
        );
        let rows: Vec<PgRow> = bind_all(sqlx::query(sqlx::AssertSqlSafe(sql)), &conditions)
            .bind(q.limit)
            .bind(q.offset)
            .fetch_all(&self.pool)
            .await
            .map_err(query_err("listing sync logs"))?;
        rows.iter().map(log_row).collect()
    }

    async fn log(&self, id: LogId) -> Result<Option<SyncLog>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncLog" WHERE id = $1"#)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a sync log"))?
            .as_ref()
            .map(log_row)
            .transpose()
    }

    async fn file(&self, id: FileId) -> Result<Option<SyncFile>, StoreError> {
        sqlx::query(r#"SELECT * FROM p8."SyncFile" WHERE id = $1"#)
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(query_err("reading a synced file"))?
            .as_ref()
            .map(file_row)
            .transpose()
    }
}
