//! Reading the contract's errors (the message inside any variant, the variant's name), and
//! writing their messages from a service's error body.

use crate::types::ProviderError;

/// The human-readable message inside any error variant.
pub fn message(error: &ProviderError) -> &str {
    match error {
        ProviderError::Unauthorized(m)
        | ProviderError::NotFound(m)
        | ProviderError::Forbidden(m)
        | ProviderError::Transient(m)
        | ProviderError::CursorExpired(m)
        | ProviderError::InvalidConfig(m)
        | ProviderError::Permanent(m) => m,
        ProviderError::RateLimited(r) => &r.message,
    }
}

/// The variant's name as the contract spells it (`rate-limited`), for log lines.
pub fn kind(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::RateLimited(_) => "rate-limited",
        ProviderError::NotFound(_) => "not-found",
        ProviderError::Forbidden(_) => "forbidden",
        ProviderError::Transient(_) => "transient",
        ProviderError::CursorExpired(_) => "cursor-expired",
        ProviderError::InvalidConfig(_) => "invalid-config",
        ProviderError::Permanent(_) => "permanent",
    }
}

/// Longest piece of a service's own words quoted in an error message.
pub const MAX_DETAIL: usize = 300;

/// `text` trimmed and cut to [`MAX_DETAIL`] bytes (at a character boundary, then `...`): an
/// error body can be a whole HTML page, and a message should stay one line in a log.
pub fn detail(text: &str) -> String {
    let text = text.trim();
    if text.len() <= MAX_DETAIL {
        return text.to_string();
    }
    let mut end = MAX_DETAIL;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

/// `HTTP 403`, `HTTP 403 code`, `HTTP 403: message` or `HTTP 403 code: message`, leaving out
/// what is empty.
pub fn http_detail(status: u16, code: &str, message: &str) -> String {
    match (code, message) {
        ("", "") => format!("HTTP {status}"),
        ("", m) => format!("HTTP {status}: {m}"),
        (c, "") => format!("HTTP {status} {c}"),
        (c, m) => format!("HTTP {status} {c}: {m}"),
    }
}

/// Every `"key": "value"` in a body that may not be complete JSON: the host passes at most
/// 8 KiB of a failed download, and a connection can drop mid-body. Escapes are not decoded;
/// codes and messages rarely have any.
pub fn quoted_values(text: &str, key: &str) -> Vec<String> {
    let needle = format!("\"{key}\"");
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let Some(value) = value.trim_start().strip_prefix('"') else {
            continue;
        };
        if let Some(end) = value.find('"') {
            found.push(value[..end].to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RateLimit;

    #[test]
    fn reads_every_variant() {
        let e = ProviderError::RateLimited(RateLimit {
            message: "slow down".into(),
            retry_after_seconds: None,
        });
        assert_eq!((message(&e), kind(&e)), ("slow down", "rate-limited"));
        let e = ProviderError::NotFound("gone".into());
        assert_eq!((message(&e), kind(&e)), ("gone", "not-found"));
    }

    #[test]
    fn cuts_details_at_a_character_boundary() {
        assert_eq!(detail("  short \n"), "short");
        let long = format!("{}é and more", "a".repeat(MAX_DETAIL - 1));
        assert_eq!(detail(&long), format!("{}...", "a".repeat(MAX_DETAIL - 1)));
    }

    #[test]
    fn leaves_out_empty_parts_of_an_http_detail() {
        assert_eq!(http_detail(500, "", ""), "HTTP 500");
        assert_eq!(http_detail(403, "", "no"), "HTTP 403: no");
        assert_eq!(http_detail(403, "denied", ""), "HTTP 403 denied");
        assert_eq!(http_detail(403, "denied", "no"), "HTTP 403 denied: no");
    }

    #[test]
    fn picks_values_out_of_a_cut_short_body() {
        let body = r#"{"error":{"code":"itemNotFound","message":"gone","innerError":{"code" : "x"},"message":"cut"#;
        assert_eq!(quoted_values(body, "code"), ["itemNotFound", "x"]);
        assert_eq!(quoted_values(body, "message"), ["gone"]);
        assert!(quoted_values("not json", "code").is_empty());
    }
}
