//! Sync state: ids now; the `Store` trait with its Postgres and SQLite backends comes next.

pub mod ids;
