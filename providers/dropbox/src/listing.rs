//! Listing: `files/list_folder` and its `continue` pages, one Dropbox page per call.

use crate::api::Api;
use crate::entries::{Item, convert};
use crate::settings::Settings;
use p8sync_provider_sdk::types::{ListRequest, Page, ProviderError};

/// One page of the listing the host asked for. The cursor is Dropbox's own; a cursor Dropbox
/// resets answers `cursor-expired`, and the host starts the listing over.
pub fn list(request: &ListRequest, settings: &Settings) -> Result<Page, ProviderError> {
    let mut api = Api::new(settings);
    let result = match &request.cursor {
        Some(cursor) => api.list_continue(cursor)?,
        None => api.list_folder(request.folder_id.as_deref(), request.recursive)?,
    };
    let mut page = Page {
        entries: Vec::new(),
        skipped: Vec::new(),
        next_cursor: None,
    };
    for meta in result.entries {
        match convert(meta, &settings.root_path) {
            Item::Entry(e) => page.entries.push(*e),
            Item::Skipped(s) => page.skipped.push(s),
            // A listing made without include_deleted has none; one that has some is not
            // about this listing's state.
            Item::Deleted(_) | Item::Nothing => {}
        }
    }
    if result.has_more {
        if result.cursor.is_empty() {
            return Err(ProviderError::Permanent(
                "files/list_folder: Dropbox said has_more but gave no cursor".into(),
            ));
        }
        page.next_cursor = Some(result.cursor);
    }
    Ok(page)
}
