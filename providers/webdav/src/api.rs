//! Requests to the WebDAV server (PROPFIND) and the one mapping from its HTTP errors to the
//! contract's. The host adds `Authorization` (HTTP Basic) to every request to the configured
//! server; nothing here sees the password, and messages name the path, never a credential.

use crate::multistatus::{self, Resource};
use p8sync_provider_sdk::http::{self, Request};
use p8sync_provider_sdk::types::{ProviderError, RateLimit};

/// The properties asked for: RFC 4918's live properties, plus ownCloud's id and checksums
/// (servers that lack them answer 404 for those in a propstat of their own).
const PROPFIND_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:prop>
    <d:resourcetype/>
    <d:getcontentlength/>
    <d:getlastmodified/>
    <d:getetag/>
    <d:getcontenttype/>
    <oc:fileid/>
    <oc:checksums/>
  </d:prop>
</d:propfind>"#;

/// `PROPFIND` with `Depth: 1` on a folder URL: the folder itself and its direct children.
pub fn propfind(url: &str, what: &str) -> Result<Vec<Resource>, ProviderError> {
    let request = Request {
        method: "PROPFIND".into(),
        url: url.to_string(),
        headers: vec![
            ("depth".into(), "1".into()),
            (
                "content-type".into(),
                "application/xml; charset=utf-8".into(),
            ),
        ],
        body: Some(PROPFIND_BODY.as_bytes().to_vec()),
    };
    let response =
        http::send(&request).map_err(|e| ProviderError::Transient(format!("{what}: {e}")))?;
    match response.status {
        200 | 207 => {}
        // Not a WebDAV endpoint (a web page, or a server without WebDAV switched on).
        405 | 501 => {
            return Err(ProviderError::InvalidConfig(format!(
                "{what}: the server does not accept PROPFIND (HTTP {}); check that \
                 P8_WEBDAV_API_BASE is the WebDAV URL of the files (for Nextcloud: \
                 https://HOST/remote.php/dav/files/USER)",
                response.status
            )));
        }
        300..=399 => {
            return Err(ProviderError::InvalidConfig(format!(
                "{what}: the server redirects (HTTP {}) instead of answering; set \
                 P8_WEBDAV_API_BASE to the address it redirects to",
                response.status
            )));
        }
        status => {
            return Err(map_error(
                status,
                response.retry_after_seconds(),
                &response.text(),
                what,
            ));
        }
    }
    multistatus::parse(&response.text()).map_err(|e| {
        ProviderError::Permanent(format!(
            "{what}: the server answered HTTP {} with something that is not a WebDAV \
             multistatus ({e}); check that P8_WEBDAV_API_BASE is a WebDAV URL",
            response.status
        ))
    })
}

/// Map an HTTP error status onto the contract; `what` names the request.
pub fn map_error(status: u16, retry_after: Option<u32>, body: &str, what: &str) -> ProviderError {
    let detail = multistatus::error_message(body);
    let message = if detail.is_empty() {
        format!("{what}: HTTP {status}")
    } else {
        format!("{what}: HTTP {status}: {detail}")
    };
    match status {
        401 => ProviderError::Unauthorized(format!(
            "{message} (the server refused the username or password)"
        )),
        403 => ProviderError::Forbidden(message),
        404 | 410 => ProviderError::NotFound(message),
        // Someone holds a WebDAV lock; it is released when their edit ends.
        423 => ProviderError::Transient(format!("{message} (the file is locked)")),
        429 => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        503 if retry_after.is_some() => ProviderError::RateLimited(RateLimit {
            message,
            retry_after_seconds: retry_after,
        }),
        // The server's own storage is full (a temporary folder, a quota on its side); nothing
        // about this sync is wrong, and it clears when the server has room again.
        507 => ProviderError::Transient(format!(
            "{message} (the server reports insufficient storage)"
        )),
        408 | 500..=599 => ProviderError::Transient(message),
        _ => ProviderError::Permanent(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_onto_the_contract() {
        assert!(matches!(
            map_error(401, None, "", "x"),
            ProviderError::Unauthorized(_)
        ));
        assert!(matches!(
            map_error(403, None, "", "x"),
            ProviderError::Forbidden(_)
        ));
        assert!(matches!(
            map_error(404, None, "", "x"),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            map_error(423, None, "", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(429, Some(7), "", "x"),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(7),
                ..
            })
        ));
        assert!(matches!(
            map_error(503, Some(3), "", "x"),
            ProviderError::RateLimited(_)
        ));
        assert!(matches!(
            map_error(503, None, "", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(507, None, "", "x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            map_error(400, None, "", "x"),
            ProviderError::Permanent(_)
        ));
    }
}
