//! Cassettes: every HTTP exchange of a harness run, saved at the host's mediation layer so the
//! same run can be replayed offline. Credentials never reach a cassette: the interceptor sees
//! requests without `Authorization` or cookies, and what remains is scrubbed of the credential's
//! own value and of query parameters that usually carry secrets (signed download URLs).

use crate::runtime::intercept::{Answer, ExchangeRequest, ExchangeResponse, Interceptor};
use base64::Engine;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

/// The cassette format this host writes and reads.
pub const FORMAT: u32 = 1;

/// What replaces a secret in a cassette.
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose values are secrets in the URLs of common services (pre-signed S3,
/// GCS and Azure URLs, OneDrive's `tempauth`, OAuth tokens). Not `token`: Graph's delta links
/// and others use it for a page position, and a replay needs those intact.
const SECRET_PARAMS: &[&str] = &[
    "access_token",
    "tempauth",
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "api_key",
    "apikey",
    "client_secret",
    "refresh_token",
];

/// A recorded run.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cassette {
    /// [`FORMAT`].
    pub format: u32,
    /// The provider id the run was recorded with.
    pub provider: String,
    /// The provider config the calls saw (replay uses the same, so its requests match).
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The API base the operator pointed the provider at, if any (replayed URLs must pass the
    /// same sandbox checks).
    #[serde(default)]
    pub api_base: Option<String>,
    /// Extra hosts the operator allowed without credentials.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The exchanges, in the order they happened.
    pub interactions: Vec<Interaction>,
}

/// One request and its response.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interaction {
    /// The request.
    pub request: RecordedRequest,
    /// The response.
    pub response: RecordedResponse,
}

/// A request as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRequest {
    /// The method.
    pub method: String,
    /// The URL.
    pub url: String,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A response as stored.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedResponse {
    /// The status code.
    pub status: u16,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body.
    #[serde(default, skip_serializing_if = "Body::is_empty")]
    pub body: Body,
}

/// A body: readable text when it is UTF-8, base64 otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// UTF-8 text.
    Text(String),
    /// Anything else.
    Base64(String),
}

impl Body {
    fn is_empty(&self) -> bool {
        matches!(self, Body::Empty)
    }

    fn from_bytes(bytes: &[u8]) -> Body {
        if bytes.is_empty() {
            return Body::Empty;
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Body::Text(text.to_string()),
            Err(_) => Body::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            Body::Empty => Ok(Vec::new()),
            Body::Text(t) => Ok(t.as_bytes().to_vec()),
            Body::Base64(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| format!("a base64 body does not decode: {e}")),
        }
    }
}

/// Why a cassette could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CassetteError {
    /// The file could not be read or written.
    #[error("cassette {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a cassette this host understands.
    #[error("cassette {path} is not valid: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl Cassette {
    /// Read a cassette file.
    pub fn load(path: &Path) -> Result<Cassette, CassetteError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| CassetteError::Io {
            path: shown.clone(),
            source,
        })?;
        let cassette: Cassette =
            serde_json::from_str(&text).map_err(|e| CassetteError::Invalid {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        if cassette.format != FORMAT {
            return Err(CassetteError::Invalid {
                path: shown,
                reason: format!(
                    "format {} is not the supported format {FORMAT}; record it again",
                    cassette.format
                ),
            });
        }
        for (i, x) in cassette.interactions.iter().enumerate() {
            for body in [&x.request.body, &x.response.body] {
                body.to_bytes().map_err(|reason| CassetteError::Invalid {
                    path: path.display().to_string(),
                    reason: format!("interaction {i}: {reason}"),
                })?;
            }
        }
        Ok(cassette)
    }

    /// Write the cassette as pretty JSON (one reviewable file per provider).
    pub fn save(&self, path: &Path) -> Result<(), CassetteError> {
        let text = serde_json::to_string_pretty(self).expect("a cassette always serialises");
        std::fs::write(path, text + "\n").map_err(|source| CassetteError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// The URL with the values of secret-looking query parameters replaced, and every other byte
/// as it was (re-encoding the query would make a replayed request differ from its recording).
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
            let decoded = url::form_urlencoded::parse(key.as_bytes())
                .next()
                .map(|(k, _)| k.to_ascii_lowercase())
                .unwrap_or_default();
            if pair.contains('=') && SECRET_PARAMS.contains(&decoded.as_str()) {
                format!("{key}={REDACTED}")
            } else {
                pair.to_string()
            }
        })
        .collect();
    let mut out = format!("{base}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Removes secrets from what is recorded: the live credential's values wherever they appear,
/// and secret-looking query parameters in URLs (request URLs, and URLs inside bodies and
/// headers such as `Location`).
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
}

impl Scrubber {
    /// A scrubber for these secret values (empty ones are ignored).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        Scrubber {
            secrets: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
        }
    }

    fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for s in &self.secrets {
            out = out.replace(s.as_str(), REDACTED);
        }
        // URLs embedded in text (JSON bodies, headers).
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(start) = rest.find("http") {
            result.push_str(&rest[..start]);
            let tail = &rest[start..];
            let end = tail
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\'))
                .unwrap_or(tail.len());
            let candidate = &tail[..end];
            if candidate.starts_with("http://") || candidate.starts_with("https://") {
                result.push_str(&redact_query(candidate));
            } else {
                result.push_str(candidate);
            }
            rest = &tail[end..];
            if end == 0 {
                // Not a URL start after all: move on by one character.
                let c = rest.chars().next().expect("rest is not empty");
                result.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        result.push_str(rest);
        result
    }

    fn body(&self, bytes: &[u8]) -> Body {
        match Body::from_bytes(bytes) {
            Body::Text(t) => Body::Text(self.text(&t)),
            other => other,
        }
    }

    fn headers(&self, headers: &[(String, String)]) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(n, v)| (n.clone(), self.text(v)))
            .collect()
    }

    /// The recorded form of one exchange.
    pub fn interaction(&self, req: &ExchangeRequest, resp: &ExchangeResponse) -> Interaction {
        Interaction {
            request: RecordedRequest {
                method: req.method.clone(),
                url: self.text(&req.url),
                headers: self.headers(&req.headers),
                body: self.body(&req.body),
            },
            response: RecordedResponse {
                status: resp.status,
                headers: self.headers(&resp.headers),
                body: self.body(&resp.body),
            },
        }
    }
}

/// Lets requests through to the network and keeps every exchange, scrubbed.
pub struct Recorder {
    scrubber: Scrubber,
    interactions: Mutex<Vec<Interaction>>,
}

impl Recorder {
    /// A recorder that scrubs with `scrubber`.
    pub fn new(scrubber: Scrubber) -> Self {
        Recorder {
            scrubber,
            interactions: Mutex::new(Vec::new()),
        }
    }

    /// Everything recorded so far.
    pub fn interactions(&self) -> Vec<Interaction> {
        self.interactions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Interceptor for Recorder {
    fn answer(&self, _request: &ExchangeRequest) -> Answer {
        Answer::Network
    }

    fn records(&self) -> bool {
        true
    }

    fn observe(&self, request: &ExchangeRequest, response: &ExchangeResponse) {
        let recorded = self.scrubber.interaction(request, response);
        self.interactions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(recorded);
    }
}

/// Answers requests from a cassette, never from the network. Each recorded exchange answers
/// once, in order; when a request has been answered as often as it was recorded, its last
/// answer is given again (a run that repeats a listing once more than recorded still
/// replays). A request the cassette does not hold is refused with a reason.
pub struct Player {
    entries: Vec<(Interaction, ExchangeResponse)>,
    used: Mutex<Vec<bool>>,
    misses: Mutex<Vec<String>>,
}

impl Player {
    /// A player for a loaded cassette.
    pub fn new(cassette: &Cassette) -> Self {
        let entries: Vec<_> = cassette
            .interactions
            .iter()
            .map(|x| {
                let response = ExchangeResponse {
                    status: x.response.status,
                    headers: x.response.headers.clone(),
                    // Checked when the cassette was loaded.
                    body: x.response.body.to_bytes().unwrap_or_default(),
                };
                (x.clone(), response)
            })
            .collect();
        Player {
            used: Mutex::new(vec![false; entries.len()]),
            entries,
            misses: Mutex::new(Vec::new()),
        }
    }

    /// Requests that had no recording.
    pub fn misses(&self) -> Vec<String> {
        self.misses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn find(&self, request: &ExchangeRequest) -> Option<usize> {
        let body = Body::from_bytes(&request.body);
        // Recorded URLs had their secret parameters redacted; so must this one, to match.
        let url = redact_query(&request.url);
        let same = |x: &Interaction, headers: bool| {
            x.request.method.eq_ignore_ascii_case(&request.method)
                && x.request.url == url
                && x.request.body == body
                && (!headers || x.request.headers == request.headers)
        };
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        // An exact match first (headers included: Dropbox passes arguments in a header), then
        // one that differs only in headers.
        [true, false].into_iter().find_map(|headers| {
            let fresh =
                (0..self.entries.len()).find(|&i| !used[i] && same(&self.entries[i].0, headers));
            fresh.or_else(|| {
                (0..self.entries.len())
                    .rev()
                    .find(|&i| same(&self.entries[i].0, headers))
            })
        })
    }
}

impl Interceptor for Player {
    fn answer(&self, request: &ExchangeRequest) -> Answer {
        match self.find(request) {
            Some(i) => {
                self.used.lock().unwrap_or_else(|p| p.into_inner())[i] = true;
                Answer::Respond(self.entries[i].1.clone())
            }
            None => {
                let what = format!("{} {}", request.method, request.url);
                self.misses
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(what.clone());
                Answer::Refuse(format!(
                    "replay: the cassette has no exchange for {what} (record the cassette again)"
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(url: &str, body: &[u8]) -> ExchangeRequest {
        ExchangeRequest {
            method: "GET".into(),
            url: url.into(),
            headers: vec![],
            body: body.to_vec(),
        }
    }

    fn resp(body: &str) -> ExchangeResponse {
        ExchangeResponse {
            status: 200,
            headers: vec![(
                "location".into(),
                "https://cdn.example/x?sig=abc&a=1".into(),
            )],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn scrubbing_removes_the_credential_and_signed_url_parameters() {
        let s = Scrubber::new(["tok-123456".to_string()]);
        let x = s.interaction(
            &req(
                "https://api.example/list?access_token=tok-123456&page=2",
                b"",
            ),
            &resp(r#"{"url":"https://cdn.example/f?tempauth=xyz&n=1","echo":"tok-123456"}"#),
        );
        let text = serde_json::to_string(&x).unwrap();
        assert!(!text.contains("tok-123456"), "{text}");
        assert!(!text.contains("xyz") && !text.contains("abc"), "{text}");
        assert!(text.contains("page=2") && text.contains("n=1") && text.contains("a=1"));
    }

    #[test]
    fn replay_answers_in_order_then_repeats_and_refuses_the_unknown() {
        let recorder = Recorder::new(Scrubber::default());
        recorder.observe(&req("https://a/x", b""), &resp("first"));
        recorder.observe(&req("https://a/x", b""), &resp("second"));
        let cassette = Cassette {
            format: FORMAT,
            provider: "p".into(),
            config: BTreeMap::new(),
            api_base: None,
            allowed_hosts: vec![],
            interactions: recorder.interactions(),
        };
        let player = Player::new(&cassette);
        let body = |a: Answer| match a {
            Answer::Respond(r) => String::from_utf8(r.body).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(body(player.answer(&req("https://a/x", b""))), "first");
        assert_eq!(body(player.answer(&req("https://a/x", b""))), "second");
        assert_eq!(body(player.answer(&req("https://a/x", b""))), "second");
        assert!(matches!(
            player.answer(&req("https://a/y", b"")),
            Answer::Refuse(r) if r.contains("https://a/y")
        ));
        assert_eq!(player.misses(), vec!["GET https://a/y".to_string()]);
    }
}
