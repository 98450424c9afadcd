//! The `webdav` provider (in progress).
