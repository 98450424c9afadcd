//! The `webdav` provider end to end (in progress).
