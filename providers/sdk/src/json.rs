//! JSON over HTTP: send a request, map a failed status onto the contract's errors, parse the
//! body. These are the calls most providers make; [`crate::http`] re-exports them.
//!
//! Every function takes `what`, a short name of the call (`files.list`, "the folder listing"),
//! which starts every error message so an operator can tell which request failed. Messages
//! never include the URL, so a signed URL can't leak through them.

use crate::http::{self, Request, Response, status_error};
use crate::types::ProviderError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// `GET url` with `accept: application/json`, and the parsed body.
pub fn get_json<T: DeserializeOwned>(url: &str, what: &str) -> Result<T, ProviderError> {
    send_json(&Request::get(url), what)
}

/// `POST url` with `body` serialised as JSON, and the parsed answer.
pub fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
    url: &str,
    body: &B,
    what: &str,
) -> Result<T, ProviderError> {
    let json = serde_json::to_string(body).map_err(|e| {
        ProviderError::Permanent(format!(
            "{what}: the request body could not be encoded: {e}"
        ))
    })?;
    send_json(&Request::post_json(url, json), what)
}

/// Send any request and parse a JSON answer; non-2xx statuses go through [`status_error`].
pub fn send_json<T: DeserializeOwned>(request: &Request, what: &str) -> Result<T, ProviderError> {
    send_json_with(request, what, status_error)
}

/// Like [`send_json`], with the provider's own mapping for non-2xx answers (for a service
/// whose error bodies say more than the status, for example a quota reason in a 403).
pub fn send_json_with<T: DeserializeOwned>(
    request: &Request,
    what: &str,
    map_error: impl FnOnce(&Response, &str) -> ProviderError,
) -> Result<T, ProviderError> {
    let mut request = request.clone();
    if !request
        .headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("accept"))
    {
        request
            .headers
            .push(("accept".into(), "application/json".into()));
    }
    let response = http::send(&request)
        .map_err(|e| ProviderError::Transient(format!("{what}: {}", e.message)))?;
    parse_json_with(&response, what, map_error)
}

/// A response's JSON body, or the contract error for its status (via [`status_error`]).
pub fn parse_json<T: DeserializeOwned>(
    response: &Response,
    what: &str,
) -> Result<T, ProviderError> {
    parse_json_with(response, what, status_error)
}

/// A response's JSON body, or `map_error`'s verdict when the status is not 2xx. A 2xx body
/// that is not the expected JSON is `permanent`: retrying will not change the service's format.
pub fn parse_json_with<T: DeserializeOwned>(
    response: &Response,
    what: &str,
    map_error: impl FnOnce(&Response, &str) -> ProviderError,
) -> Result<T, ProviderError> {
    if !(200..300).contains(&response.status) {
        return Err(map_error(response, what));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        ProviderError::Permanent(format!(
            "{what}: HTTP {} with a body that is not the expected JSON ({e}); the service's \
             answer format may have changed",
            response.status
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RateLimit;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Listing {
        files: Vec<String>,
        next: Option<String>,
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parses_a_success() {
        let r = response(200, &[], r#"{"files":["a","b"],"next":null,"extra":1}"#);
        let l: Listing = parse_json(&r, "files.list").unwrap();
        assert_eq!(
            l,
            Listing {
                files: vec!["a".into(), "b".into()],
                next: None
            }
        );
    }

    #[test]
    fn maps_statuses_onto_contract_errors() {
        let err = |status, headers: &[(&str, &str)]| {
            parse_json::<Listing>(&response(status, headers, r#"{"error":"x"}"#), "files.list")
                .unwrap_err()
        };
        assert!(
            matches!(err(401, &[]), ProviderError::Unauthorized(m) if m.starts_with("files.list: HTTP 401"))
        );
        assert!(matches!(err(403, &[]), ProviderError::Forbidden(_)));
        assert!(matches!(err(404, &[]), ProviderError::NotFound(_)));
        assert!(matches!(err(500, &[]), ProviderError::Transient(_)));
        assert!(matches!(err(503, &[]), ProviderError::Transient(_)));
        assert!(matches!(err(400, &[]), ProviderError::Permanent(_)));
        assert!(matches!(
            err(429, &[("retry-after", "7")]),
            ProviderError::RateLimited(RateLimit {
                retry_after_seconds: Some(7),
                ..
            })
        ));
    }

    #[test]
    fn a_malformed_success_is_permanent_and_names_the_call() {
        let r = response(200, &[], "<html>maintenance</html>");
        match parse_json::<Listing>(&r, "files.list") {
            Err(ProviderError::Permanent(m)) => {
                assert!(m.starts_with("files.list: HTTP 200"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_custom_mapping_is_used_only_for_failures() {
        let custom =
            |_: &Response, what: &str| ProviderError::InvalidConfig(format!("{what}: custom"));
        let ok = response(200, &[], r#"{"files":[],"next":"n"}"#);
        assert!(parse_json_with::<Listing>(&ok, "x", custom).is_ok());
        let bad = response(409, &[], "");
        assert!(matches!(
            parse_json_with::<Listing>(&bad, "x", custom),
            Err(ProviderError::InvalidConfig(m)) if m == "x: custom"
        ));
    }
}
