//! Fetch plans: Graph's `/content` endpoint (a 302 to a pre-authenticated URL the host follows
//! without credentials), and what to make of a failed download.

use crate::api::{Api, map_error};
use crate::settings::Settings;
use p8sync_provider_sdk::fetch::{self, FetchFailure};
use p8sync_provider_sdk::types::{Entry, FetchPlan, ProviderError};

/// The plan for `entry`; during a failure consultation, the explanation of that failure.
pub fn plan(
    entry: &Entry,
    settings: &Settings,
    failure: Option<FetchFailure>,
) -> Result<FetchPlan, ProviderError> {
    fetch::only_files(entry, &entry.name)?;
    let what = format!("downloading `{}` ({})", entry.name, entry.id);
    if let Some(failure) = failure {
        return Err(explain(&what, &failure));
    }
    Ok(fetch::http_get(Api::new(settings).content_url(&entry.id)))
}

/// What a failed download means. The status may come from Graph (the `/content` call) or from
/// the download server the redirect led to.
fn explain(what: &str, failure: &FetchFailure) -> ProviderError {
    match failure.status {
        // A 410 on a download is a file that is gone, not a delta token.
        410 => {
            ProviderError::NotFound(format!("{what}: HTTP 410: the file is gone from the drive"))
        }
        _ => match failure.explain(what, map_error) {
            ProviderError::CursorExpired(m) => ProviderError::NotFound(m),
            other => other,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, retry: Option<u32>, body: &str) -> FetchFailure {
        FetchFailure {
            status,
            retry_after_seconds: retry,
            body: body.into(),
        }
    }

    #[test]
    fn explains_download_failures() {
        let w = "downloading `a` (1)";
        assert!(matches!(
            explain(
                w,
                &failure(
                    404,
                    None,
                    r#"{"error":{"code":"itemNotFound","message":"x"}}"#
                )
            ),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            explain(w, &failure(429, Some(2), "")),
            ProviderError::RateLimited(r) if r.retry_after_seconds == Some(2)
        ));
        assert!(matches!(
            explain(
                w,
                &failure(403, None, r#"{"error":{"code":"accessDenied"}}"#)
            ),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(
            explain(w, &failure(410, None, "")),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            explain(w, &failure(502, None, "")),
            ProviderError::Transient(_)
        ));
    }
}
