//! Fetch plans: a plain `GET` of the file's URL, which the host performs with the credential;
//! and what a failed download means.

use crate::api;
use crate::settings::Settings;
use p8sync_provider_sdk::fetch::FetchFailure;
use p8sync_provider_sdk::types::{Entry, EntryKind, FetchPlan, HttpRequest, ProviderError};

/// The plan for `entry`; during a failure consultation, the answer to that failure instead.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    if entry.kind == EntryKind::Folder {
        return Err(ProviderError::Permanent(format!(
            "`{}` is a folder; only files have content",
            entry.id
        )));
    }
    if let Some(f) = failure {
        return Err(api::map_error(
            f.status,
            f.retry_after_seconds,
            &f.body,
            &format!("downloading `/{}`", entry.id),
        ));
    }
    Ok(FetchPlan::Http(HttpRequest {
        method: "GET".into(),
        url: settings.file_url(&entry.id),
        headers: Vec::new(),
        body: None,
    }))
}
