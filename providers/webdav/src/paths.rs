//! Percent-decoding (the SDK's `url::encode` encodes), and turning a server's `href` into an entry id.
//!
//! Servers differ: an `href` may be an absolute URL or an absolute path, encoded more or less
//! eagerly (`%20` or `+`-free spaces, encoded or bare `@`, upper- or lower-case hex). Both
//! sides are therefore compared decoded, segment by segment.

/// Decode `%XX` escapes; a `%` not followed by two hex digits stays as it is. `None` when the
/// result is not UTF-8.
pub fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The decoded, non-empty segments of an encoded path.
pub fn segments(path: &str) -> Option<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(decode)
        .collect()
}

/// Why an `href` does not name an entry under the base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HrefError {
    /// It decodes to something that is not UTF-8.
    NotUtf8,
    /// It is not below the configured base path.
    OutsideBase,
}

/// The id (the decoded path under `base`, segments joined by `/`) an `href` names.
pub fn id_of_href(href: &str, base: &[String]) -> Result<String, HrefError> {
    let href = href.trim();
    // An absolute URL: keep the path. The server is the one configured, whatever host name it
    // puts in its hrefs (a proxy may rewrite it).
    let path = match href.find("://") {
        Some(i) if !href[..i].contains('/') => {
            let after = &href[i + 3..];
            after.find('/').map_or("", |p| &after[p..])
        }
        _ => href,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments = segments(path).ok_or(HrefError::NotUtf8)?;
    if segments.len() < base.len() || segments[..base.len()] != *base {
        return Err(HrefError::OutsideBase);
    }
    Ok(segments[base.len()..].join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p8sync_provider_sdk::url;

    fn base() -> Vec<String> {
        vec![
            "remote.php".into(),
            "dav".into(),
            "files".into(),
            "alice@x".into(),
        ]
    }

    #[test]
    fn hrefs_as_paths_or_urls_with_any_encoding() {
        for href in [
            "/remote.php/dav/files/alice@x/Docs/r%C3%A9sum%C3%A9%20100%25.txt",
            "/remote.php/dav/files/alice%40x/Docs/r%c3%a9sum%c3%a9%20100%25.txt",
            "https://cloud.example.com/remote.php/dav/files/alice%40x/Docs/r%C3%A9sum%C3%A9%20100%25.txt",
            "http://proxy:8080//remote.php/dav/files/alice@x/Docs/résumé%20100%25.txt",
        ] {
            assert_eq!(
                id_of_href(href, &base()).unwrap(),
                "Docs/résumé 100%.txt",
                "{href}"
            );
        }
        assert_eq!(
            id_of_href("/remote.php/dav/files/alice%40x/", &base()).unwrap(),
            ""
        );
        assert_eq!(
            id_of_href("/remote.php/dav/files/bob/x", &base()),
            Err(HrefError::OutsideBase)
        );
        assert_eq!(id_of_href("/a%FF", &[]), Err(HrefError::NotUtf8));
        assert_eq!(id_of_href("/sub%20dir/", &[]).unwrap(), "sub dir");
    }

    #[test]
    fn encoding_round_trips() {
        for s in ["a b", "100%", "ü/x?#", "plain-name_1.txt", "+&="] {
            assert_eq!(decode(&url::encode(s)).unwrap(), s);
        }
        assert_eq!(decode("50%off").unwrap(), "50%off");
    }
}
