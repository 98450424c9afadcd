//! The optional settings file (`--config-file FILE` or `P8_CONFIG`), in TOML.
//!
//! The file holds the same settings as the environment, one key per variable: the variable's
//! name in lower case without `P8_` (`P8_LISTEN` is `listen`, `P8_PG_HOST` is `pg_host`,
//! `DATABASE_URL` is `database_url`, `P8_GOOGLE_DRIVE_CLIENT_ID` is `google_drive_client_id`).
//! One level of tables is allowed and joins with `_`: `[pg] host = "db"` is `pg_host`.
//! Loading sets only the variables that are not set already, before the command line is
//! parsed, so flags win over the environment, which wins over the file, which wins over the
//! defaults. Every later reader of a setting then sees one source: the environment.

use crate::config::PROVIDER_SETTINGS;
use crate::secret::Secret;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::de::{DeTable, DeValue};

/// The variable that names the settings file when `--config-file` is not given.
pub const PATH_ENV: &str = "P8_CONFIG";

/// The command-line flag that names the settings file.
pub const PATH_FLAG: &str = "--config-file";

/// What a setting's value must be in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A whole number (the reader of the variable checks its range).
    Integer,
    /// `true` or `false`.
    Boolean,
    /// An array of strings (or one comma-separated string), joined with `,` as the variable
    /// expects.
    List,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Integer => "an integer",
            Kind::Boolean => "true or false",
            Kind::List => "an array of strings",
        }
    }
}

/// Every variable a settings file may set, with the kind of its value. The file key of each
/// is [`key_of`] its name; per-provider settings are in [`PROVIDER_SETTINGS`]. Keep this the
/// one list: the unknown-key error is built from it.
pub const SETTINGS: &[(&str, Kind)] = &[
    // The command line's global settings.
    ("P8_DATA_DIR", Kind::Text),
    ("P8_PROVIDERS_DIR", Kind::Text),
    ("P8_EXTRACTORS_DIR", Kind::Text),
    ("P8_CACHE_DIR", Kind::Text),
    ("P8_NO_MIGRATE", Kind::Boolean),
    ("P8_LOG_FORMAT", Kind::Text),
    ("RUST_LOG", Kind::Text),
    ("P8_USER_ID", Kind::Text),
    // The database.
    ("DATABASE_URL", Kind::Text),
    ("P8_PG_HOST", Kind::Text),
    ("P8_PG_PORT", Kind::Integer),
    ("P8_PG_USER", Kind::Text),
    ("P8_PG_PASSWORD", Kind::Text),
    ("P8_PG_DATABASE", Kind::Text),
    // The object store.
    ("P8_S3_BUCKET", Kind::Text),
    ("S3_URL", Kind::Text),
    ("S3_ACCESS_KEY", Kind::Text),
    ("S3_SECRET", Kind::Text),
    ("AWS_REGION", Kind::Text),
    // Credentials at rest.
    ("P8_ENCRYPTION_KEY", Kind::Text),
    ("P8_ENCRYPTION_PREVIOUS_KEYS", Kind::List),
    // The provider sandbox.
    ("P8_PROVIDER_MEMORY_MB", Kind::Integer),
    ("P8_PROVIDER_TIMEOUT_SECS", Kind::Integer),
    ("P8_PROVIDER_INSTANCES", Kind::Integer),
    ("P8_ALLOW_PRIVATE_NETWORKS", Kind::Boolean),
    // The extractor sandbox.
    ("P8_EXTRACT_MEMORY_MB", Kind::Integer),
    ("P8_EXTRACT_MEMORY_BUDGET_MB", Kind::Integer),
    ("P8_EXTRACT_TIMEOUT_SECS", Kind::Integer),
    ("P8_EXTRACT_MAX_DECOMPRESSED_MB", Kind::Integer),
    // `serve`.
    ("P8_LISTEN", Kind::Text),
    ("P8_SCHEDULER_TICK_SECS", Kind::Integer),
    ("P8_SCHEDULER_LEASE_SECS", Kind::Integer),
    ("P8_SCHEDULER_CONCURRENCY", Kind::Integer),
    ("P8_TRANSFERS", Kind::Integer),
    ("P8_SHUTDOWN_GRACE_SECS", Kind::Integer),
    ("P8_PUBLIC_URL", Kind::Text),
    ("P8_OAUTH_REDIRECT_HOSTS", Kind::List),
    ("P8_LOCAL_ROOTS", Kind::List),
    ("P8_API_BODY_LIMIT", Kind::Integer),
    // Bounds on a sync's data plane (`sync` and `serve`).
    ("P8_MAX_RETRY_AFTER_SECS", Kind::Integer),
    ("P8_TRANSFER_TIMEOUT_SECS", Kind::Integer),
    ("P8_MAX_EXPORT_BYTES", Kind::Integer),
    ("P8_MAX_ENTRIES_PER_RUN", Kind::Integer),
    ("P8_MAX_LISTING_MB", Kind::Integer),
    ("P8_MAX_PAGES_PER_RUN", Kind::Integer),
    // Ingestion.
    ("P8_INGEST_WORKERS", Kind::Integer),
    ("P8_INGEST_LEASE_SECS", Kind::Integer),
    ("P8_INGEST_MAX_ATTEMPTS", Kind::Integer),
    ("P8_INGEST_CHUNK_CHARS", Kind::Integer),
    ("P8_INGEST_CHUNK_OVERLAP", Kind::Integer),
    ("P8_INGEST_SCRATCH_DIR", Kind::Text),
    ("P8_INGEST_ROUTES", Kind::List),
    ("P8_INGEST_MAX_CHARS", Kind::Integer),
    ("P8_INGEST_MAX_RESOURCES", Kind::Integer),
    ("P8_INGEST_MAX_AUDIO_SECS", Kind::Integer),
    ("P8_INGEST_MAX_AUDIO_CHUNKS", Kind::Integer),
    ("P8_TRANSCRIPTION_URL", Kind::Text),
    ("P8_TRANSCRIPTION_API_KEY", Kind::Text),
    ("P8_TRANSCRIPTION_MODEL", Kind::Text),
    ("OPENAI_API_KEY", Kind::Text),
];

/// The file key of a variable: its name in lower case, without `P8_`.
pub fn key_of(var: &str) -> String {
    var.strip_prefix("P8_").unwrap_or(var).to_ascii_lowercase()
}

/// The variable a file key sets, and the kind of its value; `None` for an unknown key.
fn lookup(key: &str) -> Option<(String, Kind)> {
    if let Some((var, kind)) = SETTINGS.iter().find(|(var, _)| key_of(var) == key) {
        return Some((var.to_string(), *kind));
    }
    PROVIDER_SETTINGS.iter().find_map(|suffix| {
        let provider = key.strip_suffix(&key_of(suffix))?.strip_suffix('_')?;
        let valid = !provider.is_empty()
            && provider
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        let kind = match *suffix {
            "ALLOWED_HOSTS" | "SCOPES" => Kind::List,
            "MAX_RPS" => Kind::Integer,
            _ => Kind::Text,
        };
        valid.then(|| {
            (
                format!("P8_{}_{suffix}", provider.to_ascii_uppercase()),
                kind,
            )
        })
    })
}

/// The valid keys, for the unknown-key error.
fn valid_keys() -> String {
    SETTINGS
        .iter()
        .map(|(var, _)| key_of(var))
        .chain(
            PROVIDER_SETTINGS
                .iter()
                .map(|s| format!("<provider>_{}", key_of(s))),
        )
        .collect::<Vec<_>>()
        .join(", ")
}

/// One variable the file sets. The value may be a secret, so it never prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable.
    pub var: String,
    /// Its value, as the variable's reader expects it.
    pub value: Secret,
}

/// A settings file that cannot be used. Messages name the file, the key and the place, never
/// a value: the file may hold secrets.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("cannot read the config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML.
    #[error("the config file {path} is not valid TOML (line {line}, column {column}): {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// Where (from 1).
        line: usize,
        /// Where (from 1, in characters).
        column: usize,
        /// What the parser says (it does not quote the text).
        message: String,
    },
    /// A key that names no setting.
    #[error(
        "the config file {path} has an unknown key `{key}` (line {line}, column {column}); valid keys: {valid}"
    )]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// The key as written (`table.key` inside a table).
        key: String,
        /// Where (from 1).
        line: usize,
        /// Where (from 1, in characters).
        column: usize,
        /// Every valid key.
        valid: String,
    },
    /// A value of the wrong type, or a table nested too deep.
    #[error(
        "the config file {path}: `{key}` (line {line}, column {column}) must be {expected}, not {found}"
    )]
    Type {
        /// The file.
        path: PathBuf,
        /// The key as written.
        key: String,
        /// Where (from 1).
        line: usize,
        /// Where (from 1, in characters).
        column: usize,
        /// What the setting takes.
        expected: &'static str,
        /// What the file has (a type, never the value).
        found: String,
    },
    /// The same setting twice, once flat and once in a table.
    #[error("the config file {path} sets `{key}` twice (line {line}, column {column})")]
    Duplicate {
        /// The file.
        path: PathBuf,
        /// The key as written the second time.
        key: String,
        /// Where (from 1).
        line: usize,
        /// Where (from 1, in characters).
        column: usize,
    },
}

/// The settings file named on the command line (`--config-file FILE` or `--config-file=FILE`,
/// anywhere before `--`), else by `env` (the value of `P8_CONFIG`). A blank name is no file.
///
/// This reads the arguments by hand because the file must be applied before clap parses them:
/// clap reads the `env = "P8_..."` fallbacks while parsing.
pub fn path_from(
    args: impl IntoIterator<Item = OsString>,
    env: Option<OsString>,
) -> Option<PathBuf> {
    let mut args = args.into_iter().skip(1);
    let mut named = None;
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        if arg == PATH_FLAG {
            named = args.next();
        } else if let Some(value) = arg
            .to_str()
            .and_then(|a| a.strip_prefix(PATH_FLAG)?.strip_prefix('='))
        {
            named = Some(value.into());
        }
    }
    named.or(env).filter(|p| !p.is_empty()).map(PathBuf::from)
}

/// Read and check the settings file at `path`.
pub fn read(path: &Path) -> Result<Vec<Setting>, FileError> {
    let text = std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path)
}

/// Check a settings file's `text` (`path` is for messages) and turn it into variables.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Setting>, FileError> {
    let at = |span: Range<usize>| line_column(text, span.start);
    let root = DeTable::parse(text).map_err(|e| {
        let (line, column) = at(e.span().unwrap_or(0..0));
        FileError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    // One level of tables flattens into `table_key`. The parser sorts keys by name, so sort
    // them back into the order of the file: the first problem in it is the one reported, and a
    // setting given twice is reported where it is given the second time.
    let mut entries: Vec<(String, String, &DeValue, Range<usize>)> = Vec::new();
    for (key, value) in root.get_ref().iter() {
        let key_text = key.get_ref().to_string();
        match value.get_ref() {
            DeValue::Table(table) => entries.extend(table.iter().map(|(inner, value)| {
                (
                    format!("{key_text}.{}", inner.get_ref()),
                    format!("{key_text}_{}", inner.get_ref()),
                    value.get_ref(),
                    inner.span(),
                )
            })),
            value => entries.push((key_text.clone(), key_text, value, key.span())),
        }
    }
    entries.sort_by_key(|(_, _, _, span)| span.start);
    let mut settings: BTreeMap<String, Setting> = BTreeMap::new();
    for (shown, key, value, span) in entries {
        let (line, column) = at(span);
        let wrong_type = |shown: String, expected, found| FileError::Type {
            path: path.to_path_buf(),
            key: shown,
            line,
            column,
            expected,
            found,
        };
        if matches!(value, DeValue::Table(_)) {
            // Top-level tables were flattened above, so this one is nested.
            let expected = "a value (tables nest one level only)";
            return Err(wrong_type(shown, expected, "a table".into()));
        }
        let Some((var, kind)) = lookup(&key) else {
            return Err(FileError::UnknownKey {
                path: path.to_path_buf(),
                key: shown,
                line,
                column,
                valid: valid_keys(),
            });
        };
        let value = match convert(value, kind) {
            Ok(value) => value,
            Err(found) => return Err(wrong_type(shown, kind.expected(), found)),
        };
        if settings.contains_key(&var) {
            return Err(FileError::Duplicate {
                path: path.to_path_buf(),
                key: shown,
                line,
                column,
            });
        }
        settings.insert(var.clone(), Setting { var, value });
    }
    Ok(settings.into_values().collect())
}

/// A value as its variable expects it, or the TOML type that was found instead.
fn convert(value: &DeValue, kind: Kind) -> Result<Secret, String> {
    let wrong = || value.type_str().to_string();
    let text = match (kind, value) {
        (Kind::Text | Kind::List, DeValue::String(s)) => s.to_string(),
        (Kind::Integer, DeValue::Integer(n)) => i128::from_str_radix(n.as_str(), n.radix())
            .map_err(|_| "an integer out of range".to_string())?
            .to_string(),
        (Kind::Boolean, DeValue::Boolean(b)) => b.to_string(),
        (Kind::List, DeValue::Array(items)) => {
            let mut out = Vec::with_capacity(items.len());
            for item in items.iter() {
                match item.get_ref() {
                    // The variable is split on commas, so an item must not hold one.
                    DeValue::String(s) if !s.contains(',') => out.push(s.to_string()),
                    DeValue::String(_) => return Err("an item with a comma".into()),
                    other => return Err(format!("an array holding a {}", other.type_str())),
                }
            }
            out.join(",")
        }
        _ => return Err(wrong()),
    };
    Ok(Secret::new(text))
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset.min(text.len()))];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// The settings the file may still provide: those whose variable `is_set` says is absent.
/// This is the precedence rule: a variable in the environment (even blank) wins over the file.
pub fn not_already_set(settings: Vec<Setting>, is_set: impl Fn(&str) -> bool) -> Vec<Setting> {
    settings.into_iter().filter(|s| !is_set(&s.var)).collect()
}

/// Read the settings file at `path` and set every variable it holds that is not set already.
/// Returns how many it set.
///
/// # Safety
///
/// No other thread may be running: this calls [`std::env::set_var`]. Call it first thing in
/// `main`, before the async runtime starts.
pub unsafe fn apply(path: &Path) -> Result<usize, FileError> {
    let settings = not_already_set(read(path)?, |var| std::env::var_os(var).is_some());
    for setting in &settings {
        // SAFETY: the caller guarantees this process has a single thread.
        unsafe { std::env::set_var(&setting.var, setting.value.expose()) };
    }
    Ok(settings.len())
}

#[cfg(test)]
mod tests;
