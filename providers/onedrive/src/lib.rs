//! The `onedrive` provider (in progress).
