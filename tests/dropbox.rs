//! The `dropbox` provider end to end (in progress).
