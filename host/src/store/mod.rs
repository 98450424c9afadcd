//! Sync state: one [`Store`] trait with two backends, Postgres ([`postgres`], production, many
//! replicas) and SQLite ([`sqlite`], the embedded default). The same conformance tests run
//! against both (`tests/store.rs`).
//!
//! Tables and columns are Percolate's (`p8."SyncConfig"`, `p8."SyncFile"`, `p8."SyncLog"`, ...);
//! see `migrations/`. Every write that describes one file's outcome is a single statement or
//! transaction, so a crash leaves either the old row or the new one.

pub mod ids;
pub mod postgres;
pub mod sqlite;

use chrono::{DateTime, Utc};
use ids::{ConfigId, CredentialId, FileId, LogId, UserId};
use std::fmt;

/// A store operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the connection.
    #[error(
        "cannot connect to the database at {target}: {source}; check DATABASE_URL or P8_PG_* (or use the embedded SQLite default)"
    )]
    Connect {
        /// Where (without a password).
        target: String,
        /// Why.
        source: sqlx::Error,
    },
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A query failed.
    #[error("database error while {doing}: {source}")]
    Query {
        /// What the store was doing.
        doing: &'static str,
        /// Why.
        source: sqlx::Error,
    },
    /// A row held a value the store cannot read.
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        reason: String,
    },
}

pub(crate) fn query_err(doing: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { doing, source }
}

/// A sync configuration (`p8."SyncConfig"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SyncConfig {
    /// Derived from (userid, provider, name).
    pub id: ConfigId,
    /// The user's name for it.
    pub name: String,
    /// The provider id.
    pub provider: String,
    /// The owner.
    pub userid: UserId,
    /// The account it syncs (`None`: the owner's only account of the provider, for configs
    /// made before any account was connected).
    pub credential_id: Option<CredentialId>,
    /// Whether scheduled syncs run.
    pub enabled: bool,
    /// Hours between scheduled syncs.
    pub sync_interval_hours: i32,
    /// When the last sync finished.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// When the next scheduled sync is due.
    pub next_sync_at: Option<DateTime<Utc>>,
    /// Folder paths to sync (empty: all).
    pub include_folders: Vec<String>,
    /// Folder paths to leave out.
    pub exclude_folders: Vec<String>,
    /// File extensions to sync (empty: all).
    pub include_file_types: Vec<String>,
    /// File extensions to leave out.
    pub exclude_file_types: Vec<String>,
    /// The provider's own settings (a JSON object).
    pub provider_config: serde_json::Value,
    /// The change-feed cursor saved after the last complete sync.
    pub change_cursor: Option<String>,
    /// The scope (`sync::plan::scope`) the cursor was read under: another scope means one full
    /// listing before the cursor is trusted again.
    pub cursor_scope: Option<String>,
    /// Remove objects when their remote file is deleted.
    pub mirror_deletes: bool,
    /// Skip files larger than this.
    pub max_file_size: Option<i64>,
    /// A five-field cron expression that replaces the interval (`0 1 * * *`).
    pub schedule: Option<String>,
    /// The IANA time zone the cron expression is read in (default UTC).
    pub schedule_timezone: Option<String>,
}

impl SyncConfig {
    /// A new enabled config with defaults, its id derived as Percolate does.
    pub fn new(userid: UserId, provider: &str, name: &str) -> Self {
        SyncConfig {
            id: ConfigId::derive(userid, provider, name),
            name: name.to_string(),
            provider: provider.to_string(),
            userid,
            credential_id: None,
            enabled: true,
            sync_interval_hours: 24,
            last_sync_at: None,
            next_sync_at: None,
            include_folders: vec![],
            exclude_folders: vec![],
            include_file_types: vec![],
            exclude_file_types: vec![],
            provider_config: serde_json::Value::Object(Default::default()),
            change_cursor: None,
            cursor_scope: None,
            mirror_deletes: false,
            max_file_size: None,
            schedule: None,
            schedule_timezone: None,
        }
    }
}

macro_rules! string_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parse a stored value.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod ingest;
pub mod pages;
pub mod schedule;

string_enum!(
    /// Where a file stands (`SyncFile.status`).
    FileStatus {
        /// Seen, not yet transferred.
        Pending => "pending",
        /// Its object is stored and matches the remote.
        Synced => "synced",
        /// The last attempt failed (see `error_message`).
        Failed => "failed",
        /// Gone from the provider.
        Deleted => "deleted",
        /// Left out on purpose (too large, not exportable).
        Skipped => "skipped",
        /// Left out by the config's filters after it was recorded (the filters changed, or the
        /// file moved); its object is kept unless the config mirrors deletions.
        Excluded => "excluded",
    }
);

string_enum!(
    /// How a run went (`SyncLog.status`).
    LogStatus {
        /// Queued.
        Pending => "pending",
        /// Running.
        Syncing => "syncing",
        /// Every file synced.
        Success => "success",
        /// Some files failed, the rest synced.
        Partial => "partial",
        /// The run failed as a whole.
        Failed => "failed",
        /// Stopped before the end.
        Cancelled => "cancelled",
    }
);

/// One remote file's state (`p8."SyncFile"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SyncFile {
    /// Derived from (config_id, remote_id).
    pub id: FileId,
    /// Its config.
    pub config_id: ConfigId,
    /// The owner.
    pub userid: UserId,
    /// The provider's stable id.
    pub remote_id: String,
    /// The folder path and name, `/`-joined, for people.
    pub remote_path: Option<String>,
    /// The name.
    pub remote_name: Option<String>,
    /// The MIME type.
    pub remote_type: Option<String>,
    /// The size the provider reported.
    pub remote_size: Option<i64>,
    /// The modified time the provider reported.
    pub remote_modified_at: Option<DateTime<Utc>>,
    /// The creation time the provider reported.
    pub remote_created_at: Option<DateTime<Utc>>,
    /// Provider metadata.
    pub remote_metadata: Option<serde_json::Value>,
    /// The provider's revision of the synced content.
    pub remote_revision: Option<String>,
    /// The provider's checksum, `algorithm:value`.
    pub remote_checksum: Option<String>,
    /// Where the object is.
    pub s3_uri: Option<String>,
    /// Bytes stored.
    pub local_size: Option<i64>,
    /// When the object was written.
    pub local_modified_at: Option<DateTime<Utc>>,
    /// sha256 of the stored bytes.
    pub local_checksum: Option<String>,
    /// Where it stands.
    pub status: FileStatus,
    /// When it was last looked at by a sync.
    pub last_sync_at: Option<DateTime<Utc>>,
    /// Attempts since the last success.
    pub sync_attempts: i32,
    /// Why the last attempt failed.
    pub error_message: Option<String>,
    /// Whether ingestion has processed the current content.
    pub ingested: bool,
    /// The resource ingestion made from it.
    pub resource_id: Option<uuid::Uuid>,
    /// What ingestion made of the current content (`None`: never queued).
    pub ingest_status: Option<ingest::IngestStatus>,
    /// Why, in a sentence (the chunk count, the reason it was not ingestible, the last error).
    pub ingest_message: Option<String>,
}

impl SyncFile {
    /// A pending file for `remote_id` in `config`.
    pub fn new(config: &SyncConfig, remote_id: &str) -> Self {
        SyncFile {
            id: FileId::derive(config.id, remote_id),
            config_id: config.id,
            userid: config.userid,
            remote_id: remote_id.to_string(),
            remote_path: None,
            remote_name: None,
            remote_type: None,
            remote_size: None,
            remote_modified_at: None,
            remote_created_at: None,
            remote_metadata: None,
            remote_revision: None,
            remote_checksum: None,
            s3_uri: None,
            local_size: None,
            local_modified_at: None,
            local_checksum: None,
            status: FileStatus::Pending,
            last_sync_at: None,
            sync_attempts: 0,
            error_message: None,
            ingested: false,
            resource_id: None,
            ingest_status: None,
            ingest_message: None,
        }
    }
}

/// What a sync compares of a recorded file with what is listed now: a few of `SyncFile`'s
/// columns, so a re-sync of 100,000 files need not hold 100,000 whole rows.
#[derive(Debug, Clone, PartialEq)]
pub struct FileState {
    /// The provider's id for the file.
    pub remote_id: String,
    /// Its path at the provider, as last recorded.
    pub remote_path: Option<String>,
    /// Its name at the provider.
    pub remote_name: Option<String>,
    /// Its size at the provider.
    pub remote_size: Option<i64>,
    /// Its modified time at the provider.
    pub remote_modified_at: Option<DateTime<Utc>>,
    /// The provider's revision.
    pub remote_revision: Option<String>,
    /// The provider's checksum, `algorithm:value`.
    pub remote_checksum: Option<String>,
    /// Where the sync stands.
    pub status: FileStatus,
    /// The last error, or why the file is excluded or skipped.
    pub error_message: Option<String>,
    /// Whether an object is stored for it.
    pub has_object: bool,
}

impl FileState {
    /// What a sync compares of `file`.
    pub fn of(file: &SyncFile) -> Self {
        FileState {
            remote_id: file.remote_id.clone(),
            remote_path: file.remote_path.clone(),
            remote_name: file.remote_name.clone(),
            remote_size: file.remote_size,
            remote_modified_at: file.remote_modified_at,
            remote_revision: file.remote_revision.clone(),
            remote_checksum: file.remote_checksum.clone(),
            status: file.status,
            error_message: file.error_message.clone(),
            has_object: file.s3_uri.is_some(),
        }
    }
}

/// What [`files_in_pages`] pages by: a file's `remote_id`.
pub(crate) trait Keyed {
    /// The file's `remote_id`.
    fn key(&self) -> &str;
}

impl Keyed for SyncFile {
    fn key(&self) -> &str {
        &self.remote_id
    }
}

impl Keyed for FileState {
    fn key(&self) -> &str {
        &self.remote_id
    }
}

/// The columns a [`FileState`] is read from, in both databases.
pub(crate) const FILE_STATE_COLUMNS: &str = "remote_id, remote_path, remote_name, remote_size, \
    remote_modified_at, remote_revision, remote_checksum, status, error_message, \
    s3_uri IS NOT NULL AS has_object";

/// One sync run (`p8."SyncLog"`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct SyncLog {
    /// Random.
    pub id: LogId,
    /// The config synced.
    pub config_id: ConfigId,
    /// The owner.
    pub userid: UserId,
    /// How it went.
    pub status: LogStatus,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub completed_at: Option<DateTime<Utc>>,
    /// How long it took.
    pub duration_seconds: Option<f64>,
    /// Files considered.
    pub files_total: i32,
    /// Files transferred.
    pub files_synced: i32,
    /// Files that failed.
    pub files_failed: i32,
    /// Files that needed nothing.
    pub files_unchanged: i32,
    /// Files found deleted.
    pub files_deleted: i32,
    /// Bytes transferred.
    pub bytes_synced: i64,
    /// Why the run failed, or a summary of failures.
    pub error_message: Option<String>,
    /// Per-file errors and details (JSON).
    pub detailed_log: Option<serde_json::Value>,
    /// While it runs: the bytes it plans to move.
    pub bytes_total: Option<i64>,
    /// While it runs: the file under way.
    pub current_file: Option<String>,
    /// Someone asked the run to stop; it stops at its next progress report.
    pub cancel_requested: bool,
}

/// How far a running sync has got, as it reports itself about once a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunProgress {
    /// Files it plans to transfer.
    pub files_total: i64,
    /// Of those, stored.
    pub files_synced: i64,
    /// Of those, failed.
    pub files_failed: i64,
    /// Bytes it plans to move.
    pub bytes_total: i64,
    /// Bytes moved.
    pub bytes_done: i64,
    /// The file under way (its path at the provider).
    pub current_file: Option<String>,
}

/// What asking a run to stop did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    /// It was queued, and now never runs.
    Cancelled,
    /// It is running, and stops at its next progress report (within a few seconds).
    Requested,
    /// It had ended already, like this.
    Ended(LogStatus),
}

impl CancelOutcome {
    /// What asking a run that was `previous` to stop does.
    pub(crate) fn of(previous: LogStatus) -> Self {
        match previous {
            LogStatus::Pending => CancelOutcome::Cancelled,
            LogStatus::Syncing => CancelOutcome::Requested,
            ended => CancelOutcome::Ended(ended),
        }
    }
}

impl SyncLog {
    /// A run of `config` starting now.
    pub fn start(config: &SyncConfig) -> Self {
        SyncLog {
            id: LogId::new(),
            config_id: config.id,
            userid: config.userid,
            status: LogStatus::Syncing,
            started_at: Some(Utc::now()),
            completed_at: None,
            duration_seconds: None,
            files_total: 0,
            files_synced: 0,
            files_failed: 0,
            files_unchanged: 0,
            files_deleted: 0,
            bytes_synced: 0,
            error_message: None,
            detailed_log: None,
            bytes_total: None,
            current_file: None,
            cancel_requested: false,
        }
    }
}

/// A stored credential (`p8."SyncCredential"`). The token columns hold *sealed* values (see
/// `oauth::crypto`): the store only ever moves ciphertext.
#[derive(Clone, PartialEq)]
pub struct CredentialRecord {
    /// The user's first account of a provider has the id derived from (userid, provider), as
    /// Percolate derives it; further accounts get random ids.
    pub id: CredentialId,
    /// The provider id.
    pub provider: String,
    /// The owner.
    pub userid: UserId,
    /// The person's name for the account, unique per user and provider (by default the
    /// account's email, where the provider says it).
    pub label: String,
    /// The server the account lives on, for self-hosted services (WebDAV): its syncs may
    /// reach that origin and no other.
    pub server_url: Option<String>,
    /// The sealed access token.
    pub access_token: String,
    /// The sealed refresh token, when the provider gave one.
    pub refresh_token: Option<String>,
    /// When the access token stops working.
    pub token_expiry: Option<DateTime<Utc>>,
    /// The account at the provider (an email address for Google).
    pub provider_user_id: Option<String>,
    /// Anything else worth keeping about the grant.
    pub provider_metadata: Option<serde_json::Value>,
    /// The key that sealed the tokens; `None` for a plaintext row p8sync did not write (one
    /// Percolate wrote), which is refused until `p8sync auth rekey --adopt-unsealed` seals it.
    pub key_id: Option<String>,
    /// The scopes granted, space separated.
    pub scopes: Option<String>,
    /// The refresh token was refused; nothing syncs until the user logs in again.
    pub needs_reauth: bool,
    /// Why a new login is needed.
    pub reauth_reason: Option<String>,
    /// When the access token was last refreshed.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// When the row was first written.
    pub created_at: Option<DateTime<Utc>>,
    /// When the row last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for CredentialRecord {
    // Even sealed tokens stay out of debug output: a legacy row may hold plaintext.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRecord")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("userid", &self.userid)
            .field("token_expiry", &self.token_expiry)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("provider_user_id", &self.provider_user_id)
            .field("key_id", &self.key_id)
            .field("needs_reauth", &self.needs_reauth)
            .finish_non_exhaustive()
    }
}

/// What [`Store::update_credential_locked`] runs while it holds the row: it gets the row as it is
/// now and returns the row to write, or `None` to leave it.
pub type CredentialUpdate<'a> = Box<
    dyn FnOnce(CredentialRecord) -> futures::future::BoxFuture<'a, Option<CredentialRecord>>
        + Send
        + 'a,
>;

/// How many of a config's files [`Store::files`] reads at a time.
pub(crate) const FILE_PAGE: i64 = 5_000;

/// All of a config's files (whole, or what a sync compares), read through `page(after)` a
/// page at a time: up to [`FILE_PAGE`] rows whose `remote_id` (`key`) comes after `after`
/// (from the first when `None`), in `remote_id` order. A config's files can be 100,000 rows,
/// and holding them all as raw rows and as records at once doubled what a re-sync needs.
pub(crate) async fn files_in_pages<T: Keyed, F, Fut>(mut page: F) -> Result<Vec<T>, StoreError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, StoreError>>,
{
    let mut files: Vec<T> = Vec::new();
    loop {
        let after = files.last().map(|f| f.key().to_string());
        let got = page(after).await?;
        let full = got.len() as i64 >= FILE_PAGE;
        files.extend(got);
        if !full {
            return Ok(files);
        }
    }
}

/// The sync state, whichever database holds it.
#[async_trait::async_trait]
pub trait Store:
    ingest::IngestStore + schedule::ScheduleStore + access::AccessStore + pages::PageStore + Send + Sync
{
    /// Create or update the schema.
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Insert or replace a config (by id).
    async fn put_config(&self, config: &SyncConfig) -> Result<(), StoreError>;
    /// One config.
    async fn config(&self, id: ConfigId) -> Result<Option<SyncConfig>, StoreError>;
    /// All configs, or one user's, ordered by name.
    async fn configs(&self, user: Option<UserId>) -> Result<Vec<SyncConfig>, StoreError>;
    /// Remove a config with its files and logs; `false` when there was none.
    async fn delete_config(&self, id: ConfigId) -> Result<bool, StoreError>;
    /// Save (or clear) a config's change cursor, with the scope it was read under.
    async fn set_cursor(
        &self,
        id: ConfigId,
        cursor: Option<&str>,
        scope: Option<&str>,
    ) -> Result<(), StoreError>;
    /// A config's files, ordered by remote id.
    async fn files(&self, config: ConfigId) -> Result<Vec<SyncFile>, StoreError>;
    /// What a sync compares of each of a config's files, ordered by remote id.
    async fn file_states(&self, config: ConfigId) -> Result<Vec<FileState>, StoreError>;
    /// The files of a config with these remote ids (those that are recorded, in no order).
    /// For a few hundred ids at a time: a sync asks for the rows of the files it acts on.
    async fn files_named(
        &self,
        config: ConfigId,
        remote_ids: &[String],
    ) -> Result<Vec<SyncFile>, StoreError>;
    /// Insert or replace one file's state (by id), atomically. What ingestion recorded
    /// (`ingested`, `resource_id`, `ingest_*`) is left as it is on an existing row: ingestion
    /// owns those columns, and a sync holding an older copy of the row must not undo them.
    async fn put_file(&self, file: &SyncFile) -> Result<(), StoreError>;
    /// Record a run that started.
    async fn start_log(&self, log: &SyncLog) -> Result<(), StoreError>;
    /// Record a running sync's progress; `true` when someone asked it to stop.
    async fn run_progress(&self, id: LogId, progress: &RunProgress) -> Result<bool, StoreError>;
    /// Ask the run `id` to stop (`None`: there is no such run).
    async fn cancel_run(&self, id: LogId) -> Result<Option<CancelOutcome>, StoreError>;
    /// Record how a run ended, and move the config's `last_sync_at`/`next_sync_at`, together.
    async fn finish_log(
        &self,
        log: &SyncLog,
        next_sync_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Runs, newest first, of one config or all.
    async fn logs(&self, config: Option<ConfigId>, limit: i64) -> Result<Vec<SyncLog>, StoreError>;
    /// Insert or replace a credential (by id).
    async fn put_credential(&self, credential: &CredentialRecord) -> Result<(), StoreError>;
    /// One credential.
    async fn credential(&self, id: CredentialId) -> Result<Option<CredentialRecord>, StoreError>;
    /// All credentials, or one user's, ordered by provider.
    async fn credentials(&self, user: Option<UserId>) -> Result<Vec<CredentialRecord>, StoreError>;
    /// Remove a credential; `false` when there was none.
    async fn delete_credential(&self, id: CredentialId) -> Result<bool, StoreError>;
    /// Run `update` on the credential while holding it against every other writer, in this
    /// process and in others (Postgres: `SELECT ... FOR UPDATE`; SQLite: `BEGIN IMMEDIATE`),
    /// and write what it returns before letting go. This is how only one token refresh happens
    /// at a time. Returns the row as it is afterwards, or `None` when there is no such row.
    async fn update_credential_locked(
        &self,
        id: CredentialId,
        update: CredentialUpdate<'_>,
    ) -> Result<Option<CredentialRecord>, StoreError>;
}

/// Keep a lease alive: call `renew` every third of `lease` until it reports the lease is no
/// longer this holder's, then return. A store error is logged and retried at the next beat:
/// a database hiccup is not a lost lease. Run it beside the leased work in a `select!`.
pub async fn hold_lease<F, Fut>(lease: std::time::Duration, what: &str, mut renew: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    loop {
        tokio::time::sleep(lease / 3).await;
        match renew().await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!("renewing the lease of {what}: {e}"),
        }
    }
}

/// A status column's value as its enum, or a clear error for a value this version never wrote.
pub(crate) fn parse_enum<T>(
    table: &'static str,
    column: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(value).ok_or_else(|| StoreError::Corrupt {
        table,
        reason: format!("unknown {column} `{value}`"),
    })
}

/// A JSON list of strings from a column, or empty.
pub(crate) fn string_list(
    table: &'static str,
    value: Option<serde_json::Value>,
) -> Result<Vec<String>, StoreError> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(vec![]),
        Some(v) => serde_json::from_value(v).map_err(|e| StoreError::Corrupt {
            table,
            reason: format!("expected a JSON list of strings: {e}"),
        }),
    }
}

/// Which database to use.
#[derive(Debug, Clone)]
pub enum StoreTarget {
    /// Postgres, from `DATABASE_URL` or Percolate's `P8_PG_*` variables.
    Postgres {
        /// Connection options.
        options: Box<sqlx::postgres::PgConnectOptions>,
        /// Where, for messages (no password).
        display: String,
    },
    /// The embedded SQLite file.
    Sqlite(std::path::PathBuf),
}

impl StoreTarget {
    /// `DATABASE_URL` (a `postgres://` or `sqlite:` URL), else `P8_PG_HOST` and friends
    /// (`P8_PG_PORT` 5432, `P8_PG_USER` postgres, `P8_PG_PASSWORD`, `P8_PG_DATABASE` app),
    /// else SQLite at `<data_dir>/p8sync.db`.
    pub fn from_env(data_dir: &std::path::Path) -> Result<Self, StoreError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(url) = var("DATABASE_URL") {
            if let Some(path) = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
            {
                return Ok(StoreTarget::Sqlite(path.into()));
            }
            let options = url.parse().map_err(|source| StoreError::Connect {
                target: postgres::redact_url(&url),
                source,
            })?;
            return Ok(StoreTarget::Postgres {
                options: Box::new(options),
                display: postgres::redact_url(&url),
            });
        }
        if let Some(host) = var("P8_PG_HOST") {
            let port: u16 = var("P8_PG_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(5432);
            let user = var("P8_PG_USER").unwrap_or_else(|| "postgres".into());
            let database = var("P8_PG_DATABASE").unwrap_or_else(|| "app".into());
            let mut options = sqlx::postgres::PgConnectOptions::new()
                .host(&host)
                .port(port)
                .username(&user)
                .database(&database);
            if let Some(password) = var("P8_PG_PASSWORD") {
                options = options.password(&password);
            }
            return Ok(StoreTarget::Postgres {
                options: Box::new(options),
                display: format!("postgres://{user}@{host}:{port}/{database}"),
            });
        }
        Ok(StoreTarget::Sqlite(data_dir.join("p8sync.db")))
    }

    /// Which database this is, for people (no password).
    pub fn describe(&self) -> String {
        match self {
            StoreTarget::Postgres { display, .. } => display.clone(),
            StoreTarget::Sqlite(path) => format!("sqlite:{}", path.display()),
        }
    }

    /// Connect (and migrate, unless told not to).
    pub async fn open(&self, migrate: bool) -> Result<std::sync::Arc<dyn Store>, StoreError> {
        let store: std::sync::Arc<dyn Store> = match self {
            StoreTarget::Postgres { options, display } => std::sync::Arc::new(
                postgres::PostgresStore::connect_with((**options).clone(), display).await?,
            ),
            StoreTarget::Sqlite(path) => {
                std::sync::Arc::new(sqlite::SqliteStore::open(path).await?)
            }
        };
        if migrate {
            store.migrate().await?;
        }
        Ok(store)
    }
}
