//! Fetch plans: how the host downloads (or exports) a file, and what to do when that failed.

use crate::api::{Api, GoogleError, map_error};
use crate::model::EntryMeta;
use crate::settings::Settings;
use p8sync_provider_sdk::fetch::{self, FetchFailure};
use p8sync_provider_sdk::types::{Entry, FetchPlan, ProviderError};

/// The plan for `entry`; during a failure consultation, the answer to that failure instead.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    fetch::only_files(entry, &entry.name)?;
    // A hand-edited or foreign metadata blob must not stop the download of a plain file.
    let meta: EntryMeta = entry
        .metadata_json
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or_default();
    let id = meta.target_id.as_deref().unwrap_or(&entry.id);
    let what = format!("downloading `{}` ({id})", entry.name);
    if let Some(failure) = failure {
        return consult(entry, &meta, &what, failure);
    }
    if meta.can_download == Some(false) {
        return Err(ProviderError::Forbidden(format!(
            "{what}: the owner has disabled downloading, printing and copying of this file for \
             this account"
        )));
    }
    let api = Api::new(settings);
    let url = match &entry.export_as {
        Some(format) => api.export_url(id, &format.mime_type),
        None => api.media_url(id, settings.acknowledge_abuse),
    };
    Ok(fetch::http_get(url))
}

/// The host's request for a plan failed: offer another way, or explain the failure.
fn consult(
    entry: &Entry,
    meta: &EntryMeta,
    what: &str,
    failure: FetchFailure,
) -> Result<FetchPlan, ProviderError> {
    let google = GoogleError::parse(&failure.body);
    if entry.export_as.is_some() && google.has(&["exportSizeLimitExceeded"]) {
        return match &meta.export_link {
            // Export links are served by docs.google.com without files.export's 10 MB cap.
            Some(link) => Ok(fetch::http_get(link.clone())),
            None => Err(ProviderError::Forbidden(format!(
                "{what}: the export is over Google's 10 MB export limit and Drive gave no export \
                 link for this format to fall back on"
            ))),
        };
    }
    Err(failure.explain(what, map_error))
}
