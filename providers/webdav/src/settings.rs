//! The provider's configuration: the server (the operator's `P8_WEBDAV_API_BASE`, which
//! reaches the provider as `api_base`) and the optional `root` under it.

use crate::paths;
use p8sync_provider_sdk::types::{ConfigKey, ProviderError};
use p8sync_provider_sdk::{config, url};

/// Where the files are, checked once per call.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `scheme://host[:port]` of the server.
    pub origin: String,
    /// The base path's segments, decoded (`["remote.php", "dav", "files", "alice"]`).
    pub base: Vec<String>,
    /// The listing root under the base, as an entry id (`""` for the base itself).
    pub root: String,
}

/// The keys a sync config may set.
pub fn config_keys() -> Vec<ConfigKey> {
    vec![config::optional_key(
        "root",
        "A folder under the server's base URL to sync instead of everything, as a path such as \
         `Documents/Work` (optional).",
    )]
}

impl Settings {
    /// Read and check the configuration.
    pub fn load() -> Result<Self, ProviderError> {
        let base = config::get("api_base").ok_or_else(|| {
            ProviderError::InvalidConfig(
                "no WebDAV server is configured: the operator sets it with P8_WEBDAV_API_BASE \
                 (for example https://cloud.example.com/remote.php/dav/files/alice)"
                    .into(),
            )
        })?;
        let (origin, base) = parse_base(&base)?;
        let root = parse_root(config::get("root").as_deref())?;
        Ok(Settings { origin, base, root })
    }

    /// The URL of a folder (with the trailing slash collections are served under).
    pub fn folder_url(&self, id: &str) -> String {
        let mut url = self.file_url(id);
        if !url.ends_with('/') {
            url.push('/');
        }
        url
    }

    /// The URL of an entry, from its id (its path under the base).
    pub fn file_url(&self, id: &str) -> String {
        let segments = self
            .base
            .iter()
            .map(String::as_str)
            .chain(id.split('/').filter(|s| !s.is_empty()));
        let mut url = self.origin.clone();
        for segment in segments {
            url.push('/');
            url.push_str(&url::encode(segment));
        }
        if url.len() == self.origin.len() {
            url.push('/');
        }
        url
    }
}

/// Split `https://host/base/path` into the origin and the decoded base segments.
fn parse_base(text: &str) -> Result<(String, Vec<String>), ProviderError> {
    let bad = |why: &str| {
        ProviderError::InvalidConfig(format!(
            "P8_WEBDAV_API_BASE `{text:.200}` {why}; give the WebDAV URL of the files, for \
             example https://cloud.example.com/remote.php/dav/files/alice"
        ))
    };
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| bad("is not an http(s) URL"))?;
    if rest.contains('?') || rest.contains('#') {
        return Err(bad("has a query or fragment"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return Err(bad("has no host, or has credentials in it"));
    }
    let origin = format!("{}{authority}", &text[..text.len() - rest.len()]);
    let base = paths::segments(path).ok_or_else(|| bad("has a path that is not valid UTF-8"))?;
    Ok((origin, base))
}

/// `root` as an id: segments joined by `/`, no empty, `.` or `..` segments.
fn parse_root(root: Option<&str>) -> Result<String, ProviderError> {
    let Some(root) = root else {
        return Ok(String::new());
    };
    let segments: Vec<&str> = root.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(ProviderError::InvalidConfig(format!(
            "root `{root:.200}` may not contain `.` or `..`; give a folder path under the server's base"
        )));
    }
    Ok(segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_from_ids() {
        let (origin, base) =
            parse_base("https://cloud.example.com/remote.php/dav/files/alice%40x/").unwrap();
        let s = Settings {
            origin,
            base,
            root: String::new(),
        };
        assert_eq!(
            s.folder_url(""),
            "https://cloud.example.com/remote.php/dav/files/alice%40x/"
        );
        assert_eq!(
            s.file_url("a b/ü 100%.txt"),
            "https://cloud.example.com/remote.php/dav/files/alice%40x/a%20b/%C3%BC%20100%25.txt"
        );
        let (origin, base) = parse_base("http://127.0.0.1:8080").unwrap();
        let s = Settings {
            origin,
            base,
            root: String::new(),
        };
        assert_eq!(s.folder_url(""), "http://127.0.0.1:8080/");
        assert_eq!(s.folder_url("x"), "http://127.0.0.1:8080/x/");
    }

    #[test]
    fn refuses_bad_bases_and_roots() {
        assert!(parse_base("ftp://x/").is_err());
        assert!(parse_base("https://u:p@x/").is_err());
        assert!(parse_base("https://x/?a=1").is_err());
        assert_eq!(parse_root(Some("/Docs//Work/")).unwrap(), "Docs/Work");
        assert!(parse_root(Some("Docs/../etc")).is_err());
    }
}
