//! Fetch plans: Box's `/files/{id}/content` (a 302 to a pre-authenticated download URL the
//! host follows without credentials), and what to make of a failed download.

use crate::api::{Api, Call, map_error};
use crate::settings::{Settings, valid_id};
use p8sync_provider_sdk::fetch::{self, FetchFailure};
use p8sync_provider_sdk::types::{Entry, FetchPlan, ProviderError};

/// The plan for `entry`; during a failure consultation, the explanation of that failure.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    fetch::only_files(entry, &entry.name)?;
    if !valid_id(&entry.id) {
        return Err(ProviderError::Permanent(format!(
            "`{}` has the id `{:.60}`, which is not a Box file id",
            entry.name, entry.id
        )));
    }
    let what = format!("downloading `{}` ({})", entry.name, entry.id);
    if let Some(failure) = failure {
        return Err(failure.explain(&what, |status, retry, body, what| {
            map_error(status, retry, body, what, Call::Download)
        }));
    }
    Ok(fetch::http_get(Api::new(settings).content_url(&entry.id)))
}
