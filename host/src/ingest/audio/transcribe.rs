//! Client for OpenAI-compatible `POST /v1/audio/transcriptions` servers (OpenAI, Groq, local
//! whisper servers).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

/// Recorded by the worker when no transcription server is configured.
pub const NO_BACKEND: &str = "no transcription backend configured; set P8_TRANSCRIPTION_URL (and P8_TRANSCRIPTION_API_KEY) to an OpenAI-compatible server";

const DEFAULT_MODEL: &str = "whisper-1";
const OPENAI_BASE: &str = "https://api.openai.com";
/// A local CPU whisper server can take minutes for a 30 s chunk; beyond this something is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// Server messages are quoted in errors; a whole HTML error page is not useful there.
const MAX_MESSAGE_CHARS: usize = 500;

/// How often and how patiently to retry rate limits, server errors and connection failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 4).
    pub retries: u32,
    /// Delay before the first retry; doubles on each retry (default 500 ms).
    pub base_delay: Duration,
    /// Upper bound on any one delay, including a server's `Retry-After` (default 30 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The text of one transcribed chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The transcribed text, trimmed.
    pub text: String,
    /// 0..1, from the segments' `avg_logprob` when the server returns `verbose_json`.
    pub confidence: Option<f64>,
}

/// Why a chunk could not be transcribed. Messages never contain the API key.
#[derive(Debug, thiserror::Error)]
pub enum TranscribeError {
    /// Rate limits, server errors or connection failures persisted through every retry; try
    /// again later.
    #[error(
        "transcription server still failing after {attempts} attempts ({}): {message}",
        status.map_or_else(|| "no response".to_string(), |s| format!("HTTP {s}"))
    )]
    Transient {
        /// Requests made.
        attempts: u32,
        /// HTTP status of the last response, `None` if the last attempt got no response.
        status: Option<u16>,
        /// What went wrong last.
        message: String,
    },
    /// The server refused the request (bad key, bad model, file rejected); retrying the same
    /// request will not help.
    #[error("transcription server rejected the request (HTTP {status}): {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The server's error message.
        message: String,
    },
    /// The server answered 2xx with something that is not a transcription.
    #[error("transcription server returned an unreadable response: {reason}")]
    BadResponse {
        /// What was wrong with it.
        reason: String,
    },
}

impl TranscribeError {
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }
}

/// An OpenAI-compatible transcription server; `Debug` redacts the API key.
pub struct TranscriptionBackend {
    endpoint: String,
    api_key: Option<String>,
    model: String,
    retry: RetryPolicy,
    client: reqwest::Client,
    /// Set once the server refuses `verbose_json` (e.g. gpt-4o-transcribe), so later chunks go
    /// straight to plain `json`.
    plain_json: AtomicBool,
}

impl fmt::Debug for TranscriptionBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TranscriptionBackend")
            .field("endpoint", &self.endpoint)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("model", &self.model)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl TranscriptionBackend {
    /// From `P8_TRANSCRIPTION_URL`, `P8_TRANSCRIPTION_API_KEY` (else `OPENAI_API_KEY`) and
    /// `P8_TRANSCRIPTION_MODEL`; OpenAI when only `OPENAI_API_KEY` is set; `None` when neither.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name: &str| {
            var(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let key = get("P8_TRANSCRIPTION_API_KEY").or_else(|| get("OPENAI_API_KEY"));
        let url = match get("P8_TRANSCRIPTION_URL") {
            Some(url) => url,
            None if get("OPENAI_API_KEY").is_some() => OPENAI_BASE.to_string(),
            None => return None,
        };
        let model = get("P8_TRANSCRIPTION_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_string());
        Some(Self::new(&url, key, &model))
    }

    /// A backend at `base_url` (with or without a trailing `/v1`), sending `api_key` as a bearer
    /// token when set.
    pub fn new(base_url: &str, api_key: Option<String>, model: &str) -> Self {
        let base = base_url.trim().trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            // Building only fails when the TLS backend cannot initialise, in which case the
            // default client fails the same way; there is no better fallback.
            .unwrap_or_default();
        Self {
            endpoint: format!("{base}/v1/audio/transcriptions"),
            api_key: api_key.filter(|k| !k.is_empty()),
            model: model.to_string(),
            retry: RetryPolicy::default(),
            client,
            plain_json: AtomicBool::new(false),
        }
    }

    /// The same backend with a different retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Transcribe one chunk (`wav` bytes, sent as `file_name`), retrying transient failures.
    pub async fn transcribe(
        &self,
        wav: Vec<u8>,
        file_name: &str,
    ) -> Result<Transcript, TranscribeError> {
        let wav = bytes::Bytes::from(wav);
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let verbose = !self.plain_json.load(Ordering::Relaxed);
            let outcome = self.attempt(wav.clone(), file_name, verbose).await;
            let (status, message, retry_after) = match outcome {
                Attempt::Done(t) => return Ok(t),
                Attempt::Fatal(e) => return Err(self.scrub_error(e)),
                Attempt::VerboseUnsupported if verbose => {
                    // Not counted as an attempt: it is a capability probe, not a failure.
                    self.plain_json.store(true, Ordering::Relaxed);
                    attempt -= 1;
                    continue;
                }
                Attempt::VerboseUnsupported => {
                    return Err(TranscribeError::BadResponse {
                        reason: "server refused both verbose_json and json response formats".into(),
                    });
                }
                Attempt::Retry {
                    status,
                    message,
                    retry_after,
                } => (status, message, retry_after),
            };
            if attempt > self.retry.retries {
                return Err(self.scrub_error(TranscribeError::Transient {
                    attempts: attempt,
                    status,
                    message,
                }));
            }
            let delay = self.delay(attempt, retry_after);
            tracing::debug!(
                attempt,
                ?status,
                delay_ms = delay.as_millis() as u64,
                "transcription request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn attempt(&self, wav: bytes::Bytes, file_name: &str, verbose: bool) -> Attempt {
        let part = match Part::stream_with_length(wav.clone(), wav.len() as u64)
            .file_name(file_name.to_string())
            .mime_str("audio/wav")
        {
            Ok(p) => p,
            Err(e) => {
                return Attempt::Fatal(TranscribeError::BadResponse {
                    reason: format!("could not build the request: {e}"),
                });
            }
        };
        let form = Form::new()
            .part("file", part)
            .text("model", self.model.clone())
            .text(
                "response_format",
                if verbose { "verbose_json" } else { "json" },
            );
        let mut request = self.client.post(&self.endpoint).multipart(form);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry {
                    status: None,
                    message: format!("request to {} failed: {}", self.endpoint, error_chain(&e)),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            // `Duration::from_secs_f64` panics past `Duration::MAX` (`Retry-After: 1e30`);
            // saturate instead, and `delay` cuts it to `max_delay`.
            .map(|s| Duration::try_from_secs_f64(s).unwrap_or(Duration::MAX));
        let is_plain_text = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain"));
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Retry {
                    status: Some(status.as_u16()),
                    message: format!("reading the response failed: {}", error_chain(&e)),
                    retry_after,
                };
            }
        };
        if status.is_success() {
            return match parse_transcript(&body, is_plain_text) {
                Ok(t) => Attempt::Done(t),
                Err(reason) => Attempt::Fatal(TranscribeError::BadResponse { reason }),
            };
        }
        let message = error_message(&body, status);
        if status == StatusCode::TOO_MANY_REQUESTS
            || status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
        {
            return Attempt::Retry {
                status: Some(status.as_u16()),
                message,
                retry_after,
            };
        }
        if status == StatusCode::BAD_REQUEST
            && verbose
            && (message.contains("verbose_json") || message.contains("response_format"))
        {
            return Attempt::VerboseUnsupported;
        }
        Attempt::Fatal(TranscribeError::Rejected {
            status: status.as_u16(),
            message,
        })
    }

    /// Exponential backoff with jitter, or the server's `Retry-After`, capped at `max_delay`.
    fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let delay = match retry_after {
            Some(d) => d,
            None => {
                let exp = self
                    .retry
                    .base_delay
                    .saturating_mul(1u32 << (attempt - 1).min(20));
                // Jitter spreads out workers that failed together; sub-second clock noise is
                // random enough for that and needs no RNG.
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.subsec_nanos());
                exp / 2 + exp.mul_f64(f64::from(nanos % 1000) / 2000.0)
            }
        };
        delay.min(self.retry.max_delay)
    }

    /// Servers sometimes echo the credential back (e.g. "Incorrect API key provided: sk-..."):
    /// remove it from anything we pass on.
    fn scrub_error(&self, err: TranscribeError) -> TranscribeError {
        let Some(key) = self.api_key.as_deref() else {
            return err;
        };
        let scrub = |s: String| s.replace(key, "[redacted]");
        match err {
            TranscribeError::Transient {
                attempts,
                status,
                message,
            } => TranscribeError::Transient {
                attempts,
                status,
                message: scrub(message),
            },
            TranscribeError::Rejected { status, message } => TranscribeError::Rejected {
                status,
                message: scrub(message),
            },
            TranscribeError::BadResponse { reason } => TranscribeError::BadResponse {
                reason: scrub(reason),
            },
        }
    }
}

enum Attempt {
    Done(Transcript),
    Fatal(TranscribeError),
    VerboseUnsupported,
    Retry {
        status: Option<u16>,
        message: String,
        retry_after: Option<Duration>,
    },
}

#[derive(Deserialize)]
struct Response {
    text: String,
    #[serde(default)]
    segments: Vec<ResponseSegment>,
}

#[derive(Deserialize)]
struct ResponseSegment {
    #[serde(default)]
    start: Option<f64>,
    #[serde(default)]
    end: Option<f64>,
    #[serde(default)]
    avg_logprob: Option<f64>,
}

fn parse_transcript(body: &[u8], is_plain_text: bool) -> Result<Transcript, String> {
    if is_plain_text {
        return Ok(Transcript {
            text: String::from_utf8_lossy(body).trim().to_string(),
            confidence: None,
        });
    }
    let response: Response = serde_json::from_slice(body).map_err(|e| {
        format!(
            "expected JSON with a \"text\" field ({e}); body starts: {}",
            truncate(&String::from_utf8_lossy(body))
        )
    })?;
    Ok(Transcript {
        text: response.text.trim().to_string(),
        confidence: confidence(&response.segments),
    })
}

/// Duration-weighted mean of `exp(avg_logprob)`: the geometric-mean per-token probability,
/// a 0..1 figure that tracks how sure the model was.
fn confidence(segments: &[ResponseSegment]) -> Option<f64> {
    let (mut sum, mut weight) = (0.0, 0.0);
    for s in segments {
        let Some(lp) = s.avg_logprob.filter(|v| v.is_finite()) else {
            continue;
        };
        let w = match (s.start, s.end) {
            (Some(a), Some(b)) if b > a => b - a,
            _ => 1.0,
        };
        sum += lp.min(0.0).exp() * w;
        weight += w;
    }
    (weight > 0.0).then(|| (sum / weight).clamp(0.0, 1.0))
}

/// The server's own error message (OpenAI `{"error":{"message":...}}`, or a few common
/// variants), else the start of the body.
fn error_message(body: &[u8], status: StatusCode) -> String {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorBody {
        OpenAi { error: ErrorDetail },
        Detail { detail: serde_json::Value },
        Message { message: String },
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorDetail {
        Object { message: String },
        Text(String),
    }
    let parsed = serde_json::from_slice::<ErrorBody>(body)
        .ok()
        .map(|b| match b {
            ErrorBody::OpenAi {
                error: ErrorDetail::Object { message } | ErrorDetail::Text(message),
            } => message,
            ErrorBody::Detail { detail } => match detail {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
            ErrorBody::Message { message } => message,
        });
    let text = parsed.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        truncate(&text)
    }
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// reqwest's top-level message ("error sending request") hides the cause; include the chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests;
