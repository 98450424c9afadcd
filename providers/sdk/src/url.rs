//! Building request URLs: percent-encoding and query strings (the SDK carries no URL library).

/// Percent-encode everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - _ . ~`), so
/// the result is safe as a path segment or a query key or value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?k=v&k2=v2` with every key and value encoded; empty when there are no pairs.
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("?{joined}")
}

/// `base` + `/segment` for each segment (encoded) + the query: `with_path(base, &["files",
/// id, "content"], &[])`. Trailing slashes on `base` are ignored.
pub fn with_path(base: &str, segments: &[&str], pairs: &[(&str, &str)]) -> String {
    let mut url = base.trim_end_matches('/').to_string();
    for s in segments {
        url.push('/');
        url.push_str(&encode(s));
    }
    url.push_str(&query(pairs));
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_reserved_and_non_ascii_bytes() {
        assert_eq!(encode("a b/c?d&e=ü~"), "a%20b%2Fc%3Fd%26e%3D%C3%BC~");
        assert_eq!(query(&[]), "");
        assert_eq!(
            query(&[("cursor", "x y"), ("limit", "3")]),
            "?cursor=x%20y&limit=3"
        );
    }

    #[test]
    fn joins_segments_under_the_base() {
        assert_eq!(
            with_path(
                "https://api.example.com/v1/",
                &["files", "a/b", "content"],
                &[("x", "1")]
            ),
            "https://api.example.com/v1/files/a%2Fb/content?x=1"
        );
    }
}
