//! Paged reads for the HTTP API: files and runs, filtered, one user's or everyone's.

use super::ids::{ConfigId, FileId, LogId, UserId};
use super::{FileStatus, LogStatus, StoreError, SyncFile, SyncLog};

/// Which files, and which page of them.
#[derive(Debug, Clone, Default)]
pub struct FileQuery {
    /// Only this user's (`None`: everyone's, for admins).
    pub user: Option<UserId>,
    /// Only this config's.
    pub config: Option<ConfigId>,
    /// Only files with this status.
    pub status: Option<FileStatus>,
    /// Files after this id (keyset paging: stable while rows change, and an index probe
    /// however deep the page).
    pub after: Option<FileId>,
    /// At most this many.
    pub limit: i64,
}

/// Which runs, and which page of them (newest first).
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Only this user's.
    pub user: Option<UserId>,
    /// Only this config's.
    pub config: Option<ConfigId>,
    /// Only runs with this status.
    pub status: Option<LogStatus>,
    /// Skip this many.
    pub offset: i64,
    /// At most this many.
    pub limit: i64,
}

/// The paged reads; every [`super::Store`] implements them.
#[async_trait::async_trait]
pub trait PageStore: Send + Sync {
    /// One page of files, ordered by id.
    async fn file_page(&self, query: &FileQuery) -> Result<Vec<SyncFile>, StoreError>;
    /// One page of runs, newest first.
    async fn log_page(&self, query: &LogQuery) -> Result<Vec<SyncLog>, StoreError>;
    /// One run.
    async fn log(&self, id: LogId) -> Result<Option<SyncLog>, StoreError>;
    /// One file.
    async fn file(&self, id: FileId) -> Result<Option<SyncFile>, StoreError>;
}

/// One condition of a paged read: a column comparison and the value it binds. Both backends
/// build their `WHERE` from these, each with its own placeholders and value types.
pub(crate) struct Condition {
    /// `column op`, for example `userid =`.
    pub(crate) test: &'static str,
    /// The value.
    pub(crate) value: Param,
}

/// A value to bind.
pub(crate) enum Param {
    /// A uuid (TEXT on SQLite).
    Uuid(uuid::Uuid),
    /// A string.
    Text(&'static str),
}

fn condition(test: &'static str, value: Param) -> Condition {
    Condition { test, value }
}

/// The conditions both kinds of page share: an owner, a config, a status.
fn owned(
    user: Option<UserId>,
    config: Option<ConfigId>,
    status: Option<&'static str>,
) -> Vec<Condition> {
    let mut out = Vec::new();
    if let Some(u) = user {
        out.push(condition("userid =", Param::Uuid(u.0)));
    }
    if let Some(c) = config {
        out.push(condition("config_id =", Param::Uuid(c.0)));
    }
    if let Some(s) = status {
        out.push(condition("status =", Param::Text(s)));
    }
    out
}

impl FileQuery {
    pub(crate) fn conditions(&self) -> Vec<Condition> {
        let mut out = owned(self.user, self.config, self.status.map(FileStatus::as_str));
        if let Some(a) = self.after {
            out.push(condition("id >", Param::Uuid(a.0)));
        }
        out
    }
}

impl LogQuery {
    pub(crate) fn conditions(&self) -> Vec<Condition> {
        owned(self.user, self.config, self.status.map(LogStatus::as_str))
    }
}

/// `WHERE a = $1 AND b = $2` (or `TRUE`), with `placeholder(n)` writing the n-th placeholder.
pub(crate) fn where_clause(conditions: &[Condition], placeholder: fn(usize) -> String) -> String {
    if conditions.is_empty() {
        return "TRUE".into();
    }
    conditions
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{} {}", c.test, placeholder(i + 1)))
        .collect::<Vec<_>>()
        .join(" AND ")
}
