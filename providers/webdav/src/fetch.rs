//! Fetch plans: a plain `GET` of the file's URL, which the host performs with the credential;
//! and what a failed download means.

use crate::api;
use crate::settings::Settings;
use p8sync_provider_sdk::fetch::{self, FetchFailure};
use p8sync_provider_sdk::types::{Entry, FetchPlan, ProviderError};

/// The plan for `entry`; during a failure consultation, the answer to that failure instead.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    fetch::only_files(entry, &entry.id)?;
    if let Some(f) = failure {
        let what = format!("downloading `/{}`", entry.id);
        return Err(f.explain(&what, api::map_error));
    }
    Ok(fetch::http_get(settings.file_url(&entry.id)))
}
