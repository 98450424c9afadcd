//! The `dropbox` provider (in progress).
