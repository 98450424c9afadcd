//! The listing: a walk of the synced folder (or the folder the host asks for), a few folder
//! pages per call.

use crate::api::{self, Api};
use crate::settings::{MAX_PAGE_SIZE, Settings, valid_id};
use crate::walk::{Budget, Walk};
use p8sync_provider_sdk::log;
use p8sync_provider_sdk::page::page_size;
use p8sync_provider_sdk::types::{ListRequest, Page, ProviderError};
use std::time::Duration;

/// Folder pages per call at most, to stay well inside the host's deadline.
const MAX_REQUESTS: usize = 20;
/// Time per call after which no further page is read.
const TIME_BUDGET: Duration = Duration::from_secs(15);

/// One page of the listing.
pub fn list(request: &ListRequest, settings: &Settings) -> Result<Page, ProviderError> {
    let mut api = Api::new(settings);
    let folder = request.folder_id.as_deref().unwrap_or(&settings.root);
    if !valid_id(folder) {
        return Err(ProviderError::InvalidConfig(format!(
            "`{folder:.60}` is not a Box folder id (digits, as in app.box.com/folder/<id>)"
        )));
    }
    let mut walk = match &request.cursor {
        Some(c) => Walk::decode(c)?,
        None => Walk::new(folder, Vec::new(), request.recursive),
    };
    let per_page = settings
        .page_size
        .unwrap_or_else(|| page_size(request.page_size_hint, MAX_PAGE_SIZE));
    let budget = Budget {
        requests: MAX_REQUESTS,
        entries: (request.page_size_hint as usize).clamp(1, 5_000),
        time: TIME_BUDGET,
        page_size: per_page,
    };
    let found = match walk.step(&mut api, budget) {
        Err(ProviderError::NotFound(m)) => {
            return Err(ProviderError::InvalidConfig(format!(
                "{m}: there is no folder `{folder}` the account can read (check `folder_id`)"
            )));
        }
        other => other?,
    };
    if let Some(e) = &found.interrupted {
        // The next call starts with the request that failed; the host retries it.
        log::info(format!(
            "ending this page early: {}",
            p8sync_provider_sdk::error::message(e)
        ));
    }
    api::log_requests(&api, "list");
    Ok(Page {
        entries: found.entries,
        skipped: found.skipped,
        next_cursor: if walk.done() {
            None
        } else {
            Some(walk.encode()?)
        },
    })
}
