//! The `onedrive` provider end to end (in progress).
