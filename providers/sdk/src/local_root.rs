//! The granted local root, as the host reads it (for `local-root` providers; since
//! `p8:provider@0.1.1`): every name, in the name encoding ([`crate::names`]), including names
//! that are not valid UTF-8, which `wasi:filesystem` cannot show.
//!
//! Paths are relative to the root, `/`-separated, in the name encoding; `""` is the root. The
//! host follows a symlink only while it stays inside the root, and describes one that does not
//! (or a device, socket or pipe) as [`RootItemKind::Unsupported`] with the reason.

use crate::p8::provider::host;
use crate::types::ProviderError;

pub use crate::p8::provider::host::{RootItem, RootItemKind};

/// Most names one [`read_dir`] call returns.
pub const MAX_LIST: u32 = 10_000;

/// The names in folder `path`, in the byte order of the raw names, after the name `after`
/// (`None`: from the first), at most `limit`. Fewer than `limit` means the folder has no more.
pub fn read_dir(
    path: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<RootItem>, ProviderError> {
    host::read_root_dir(path, after, limit.min(MAX_LIST))
}

/// What `path` is (its `name` is the last name of the path).
pub fn stat(path: &str) -> Result<RootItem, ProviderError> {
    host::stat_root_path(path)
}
