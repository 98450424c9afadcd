//! One signed PUT for a body already in memory, without the SDK's request pipeline.
//!
//! Why: for small files the SDK's orchestrator (interceptors, endpoint rules, retry
//! classifiers, identity cache, output deserialisers) cost about a quarter of the host's CPU per
//! file (the profile in BENCHMARKS.md). A PUT of bytes in memory needs none of that: sign it
//! (SigV4, with `aws-sigv4`, the SDK's own signer), send it, read the status. It is used only
//! where it is plainly the same request the SDK would make: an S3-compatible endpoint the
//! operator named, path-style, with static credentials. AWS itself (endpoint rules, credential
//! chains, session tokens) stays on the SDK.

use super::S3Settings;
use crate::blob::{ObjectKey, ObjectMeta};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use std::time::{Duration, SystemTime};

/// Attempts per PUT: a server that is briefly busy (503 SlowDown, a dropped connection) gets
/// two more chances, as the SDK's standard retry mode gives it.
const ATTEMPTS: u32 = 3;
/// How much of an error response is read: enough for S3's `<Error>` document, no more.
const ERROR_BODY_CAP: usize = 16 * 1024;

/// PUTs to one bucket of an S3-compatible server.
pub(super) struct DirectPut {
    http: reqwest::Client,
    /// `{endpoint}/{bucket}/`, the bucket percent-encoded.
    base: String,
    region: String,
    identity: Identity,
}

impl std::fmt::Debug for DirectPut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the identity: it holds the secret.
        f.debug_struct("DirectPut")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// Why one attempt failed, and whether another may succeed.
struct Failure {
    reason: String,
    transient: bool,
}

impl DirectPut {
    /// A direct PUT for these settings, or `None` when they need the SDK (no custom endpoint,
    /// or credentials from the AWS chain).
    pub(super) fn new(settings: &S3Settings) -> Option<Self> {
        let endpoint = settings.endpoint.as_deref()?;
        let (access, secret) = settings.credentials.as_ref()?;
        let http = reqwest::Client::builder()
            // As the SDK's client: no proxy from the environment, no redirects.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .ok()?;
        let identity = aws_credential_types::Credentials::new(
            access.expose(),
            secret.expose(),
            None,
            None,
            "p8sync-static",
        )
        .into();
        Some(DirectPut {
            http,
            base: format!(
                "{}/{}/",
                endpoint.trim_end_matches('/'),
                encode_path(&settings.bucket)
            ),
            region: settings.region.clone(),
            identity,
        })
    }

    /// Store `body` at `key`, retrying what a busy server may accept a moment later.
    pub(super) async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        meta: &ObjectMeta,
    ) -> Result<(), String> {
        let url = format!("{}{}", self.base, encode_path(key.as_str()));
        let name = super::encode_name(&meta.name);
        let mut attempt = 1;
        loop {
            match self.once(&url, &name, body.clone(), meta).await {
                Ok(()) => return Ok(()),
                Err(f) if f.transient && attempt < ATTEMPTS => {
                    tracing::debug!(key = key.as_str(), attempt, reason = %f.reason, "retrying a PUT");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.reason),
            }
        }
    }

    async fn once(
        &self,
        url: &str,
        name: &str,
        body: Bytes,
        meta: &ObjectMeta,
    ) -> Result<(), Failure> {
        let permanent = |reason: String| Failure {
            reason,
            transient: false,
        };
        let mut headers = vec![("x-amz-meta-p8-name", name)];
        if let Some(content_type) = &meta.content_type {
            headers.push(("content-type", content_type));
        }
        let payload = match &meta.sha256 {
            Some(sha256) => SignableBody::Precomputed(sha256.clone()),
            None => SignableBody::Bytes(&body),
        };
        let mut settings = SigningSettings::default();
        // S3's rules: the path is signed as sent (encoded once, never normalised), and the
        // payload hash travels in `x-amz-content-sha256`.
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&self.identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| permanent(format!("cannot sign the request: {e}")))?
            .into();
        let signable = SignableRequest::new("PUT", url, headers.iter().copied(), payload)
            .map_err(|e| permanent(format!("cannot sign the request: {e}")))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| permanent(format!("cannot sign the request: {e}")))?
            .into_parts();
        // Time to send the body at a slow 64 KiB/s, on top of a fixed allowance.
        let timeout = Duration::from_secs(30 + body.len() as u64 / 65_536);
        let mut request = self.http.put(url).timeout(timeout);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let response = request.body(body).send().await.map_err(|e| Failure {
            reason: format!("cannot reach the server: {}", without_url(&e)),
            transient: true,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let transient = status.is_server_error() || status.as_u16() == 429;
        let text = capped_text(response, ERROR_BODY_CAP).await;
        Err(Failure {
            reason: describe_error(status.as_u16(), &text),
            transient,
        })
    }
}

/// A reqwest error without the URL it carries (the key is already in the caller's message).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    // The cause chain says what actually happened ("connection refused"); bounded.
    for _ in 0..4 {
        let Some(s) = source else { break };
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.chars().take(300).collect()
}

/// At most `cap` bytes of the response body, as text.
async fn capped_text(mut response: reqwest::Response, cap: usize) -> String {
    let mut out = Vec::new();
    while out.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => out.extend_from_slice(&chunk[..chunk.len().min(cap - out.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// "Code: Message" from S3's error document, or the status when the body says nothing usable.
fn describe_error(status: u16, body: &str) -> String {
    let field = |tag: &str| {
        let open = format!("<{tag}>");
        let start = body.find(&open)? + open.len();
        let end = start + body[start..].find(&format!("</{tag}>"))?;
        let text: String = body[start..end]
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        (!text.trim().is_empty()).then_some(text)
    };
    match (field("Code"), field("Message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code,
        _ => format!("HTTP {status}"),
    }
}

/// Percent-encode a key for an S3 path: everything but unreserved characters and `/`.
fn encode_path(key: &str) -> String {
    super::percent_encode(key, b"-._~/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once_and_keep_their_slashes() {
        assert_eq!(
            encode_path("p8sync/a b/ü+x.txt"),
            "p8sync/a%20b/%C3%BC%2Bx.txt"
        );
    }

    #[test]
    fn an_error_document_reads_as_code_and_message() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
                    <Message>The request signature\n does not match</Message></Error>";
        assert_eq!(
            describe_error(403, body),
            "SignatureDoesNotMatch: The request signature does not match"
        );
        assert_eq!(describe_error(502, "<html>bad gateway"), "HTTP 502");
        assert_eq!(describe_error(500, "<Code></Code>"), "HTTP 500");
    }
}
