//! OAuth client authentication by HTTP Basic, which all the fakes' token endpoints accept.

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The client id and secret of an `Authorization: Basic` header, each form-decoded as
/// RFC 6749 2.3.1 has them encoded before they are joined.
pub fn basic_client(headers: &HeaderMap) -> Option<(String, String)> {
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())?;
    let (id, secret) = basic.split_once(':')?;
    let dec = |x: &str| {
        url::form_urlencoded::parse(format!("v={x}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}
