//! Mediated outbound HTTP: the `wasi:http` `send_request` hook and the client behind it.
//!
//! Every request a provider makes is checked against its allow-list, then against the address
//! its host resolves to (so a declared name cannot lead into loopback or private networks). The
//! host adds `Authorization` for credentialed hosts; the guest may not set it. Connect,
//! first-byte and between-bytes timeouts bound every request, because epoch interruption cannot
//! stop a guest that is blocked in a host call.

use super::credentials::CredentialSource;
use super::intercept::{self, Interceptor, Outcome};
use super::policy::{Access, NetworkPolicy, Violation, blocked_kind};
use crate::config::NetworkSettings;
use bytes::Bytes;
use futures::TryStreamExt;
use http::HeaderName;
use http::header::{AUTHORIZATION, HOST, PROXY_AUTHORIZATION};
use http_body_util::BodyExt;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use url::Url;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody,
    WasiHttpHooks,
};

/// Largest request body a provider may send (API calls, not uploads).
const MAX_REQUEST_BODY: usize = 4 * 1024 * 1024;

/// The HTTP clients for provider calls; one set per runtime, so connections are reused.
#[derive(Clone)]
pub(crate) struct Outbound {
    /// For declared hosts: resolved addresses are checked.
    public: reqwest::Client,
    /// For origins the operator configured explicitly (an API base, an allowed origin): the
    /// operator chose the address, so a private one is fine.
    operator: reqwest::Client,
    settings: NetworkSettings,
}

impl Outbound {
    pub(crate) fn new(settings: &NetworkSettings) -> Result<Self, String> {
        let build = |allow_private: bool| {
            reqwest::Client::builder()
                // A proxy from the environment would bypass the address checks below.
                .no_proxy()
                // The guest sees redirects and decides; it may not be walked to another host.
                .redirect(reqwest::redirect::Policy::none())
                .dns_resolver(Arc::new(CheckedResolver { allow_private }))
                .connect_timeout(settings.connect_timeout)
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        };
        Ok(Outbound {
            public: build(settings.allow_private)?,
            operator: build(true)?,
            settings: settings.clone(),
        })
    }
}

/// Why the host could not perform an HTTP fetch plan.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The plan (or a redirect) went somewhere the sandbox does not allow.
    #[error("the fetch was refused: it {0}")]
    Refused(Violation),
    /// The server answered with an error status.
    #[error("the download failed with HTTP {status}")]
    Status {
        /// The status code.
        status: u16,
        /// `Retry-After`, in seconds, when given.
        retry_after: Option<u64>,
        /// The start of the error body (for the provider to interpret; never logged).
        body: String,
    },
    /// No credential could be produced for the request.
    #[error("the download could not be authorised: {0}")]
    Credential(super::credentials::CredentialError),
    /// The connection failed or timed out.
    #[error("the download failed: {0}")]
    Transport(String),
}

impl FetchError {
    /// Whether trying again later may work (202 "not ready", 429, 5xx, timeouts).
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 202 || *status == 429 || *status >= 500,
            FetchError::Transport(_) => true,
            FetchError::Credential(e) => {
                e.kind == super::credentials::CredentialErrorKind::Unavailable
            }
            FetchError::Refused(_) => false,
        }
    }
}

/// A response body as a byte stream, with the between-bytes timeout.
pub type FetchBody = Box<dyn tokio::io::AsyncRead + Send + Unpin>;

/// Perform a provider's HTTP fetch plan on the host (the data plane): every hop of a redirect
/// is checked against the provider's allow-list and addresses again, and `Authorization` goes
/// only to credentialed hosts, so a redirect to another host never carries the token.
pub(crate) async fn open_plan(
    provider: &str,
    outbound: &Outbound,
    policy: &NetworkPolicy,
    pacer: Option<&super::pace::Pacer>,
    credentials: Option<Arc<dyn CredentialSource>>,
    interceptor: Option<&Arc<dyn Interceptor>>,
    plan: &super::types::HttpRequest,
) -> Result<FetchBody, FetchError> {
    let mut url = Url::parse(&plan.url)
        .map_err(|e| FetchError::Transport(format!("the fetch URL is not a URL: {e}")))?;
    let mut method = http::Method::from_bytes(plan.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| FetchError::Transport(format!("bad method {}", plan.method)))?;
    let mut body = plan.body.clone();
    for _hop in 0..10 {
        if let Some(pacer) = pacer {
            pacer.wait().await;
        }
        let access = check_request(
            policy,
            outbound.settings.allow_private,
            method.as_str(),
            &url,
            &mut plan.headers.iter().map(|(n, _)| n.as_str()),
        )
        .map_err(FetchError::Refused)?;
        let client = if access.operator_origin {
            &outbound.operator
        } else {
            &outbound.public
        };
        let mut request = client.request(method.clone(), url.clone());
        for (name, value) in &plan.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if access.credentials
            && let Some(source) = &credentials
        {
            match source.authorization().await {
                Ok(Some(value)) => {
                    let mut value = http::HeaderValue::from_str(value.expose()).map_err(|_| {
                        FetchError::Transport("the stored credential is not a valid header".into())
                    })?;
                    value.set_sensitive(true);
                    request = request.header(AUTHORIZATION, value);
                }
                Ok(None) => {}
                Err(e) => return Err(FetchError::Credential(e)),
            }
        }
        if let Some(b) = &body {
            request = request.body(b.clone());
        }
        let request = request
            .build()
            .map_err(|e| FetchError::Transport(e.without_url().to_string()))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let violations = Violations::default();
        let sent = tokio::time::timeout(
            outbound.settings.first_byte_timeout,
            intercept::execute(client, request, interceptor),
        )
        .await;
        // Each hop of a redirect is a request of its own.
        count_request(provider, &sent);
        let response = match sent {
            Err(_) => {
                return Err(FetchError::Transport(
                    "no response before the first-byte timeout".into(),
                ));
            }
            Ok(Err(Outcome::Refused(reason))) => return Err(FetchError::Transport(reason)),
            Ok(Err(Outcome::Network(e))) => {
                let mapped = map_error(e, &host, &violations);
                if let Some(v) = violations.lock().unwrap_or_else(|p| p.into_inner()).first() {
                    return Err(FetchError::Refused(v.clone()));
                }
                return Err(FetchError::Transport(format!("{mapped:?}")));
            }
            Ok(Ok(r)) => r,
        };
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: None,
                    body: String::new(),
                })?;
            url = url
                .join(location)
                .map_err(|e| FetchError::Transport(format!("a redirect to a bad URL: {e}")))?;
            if status == http::StatusCode::SEE_OTHER
                || (method == http::Method::POST && matches!(status.as_u16(), 301 | 302))
            {
                method = http::Method::GET;
                body = None;
            }
            continue;
        }
        // 202 (Box: "not ready yet, come back after Retry-After") and 204 carry no file:
        // storing their empty body would record an empty file.
        let no_content = matches!(status.as_u16(), 202 | 204);
        if !status.is_success() || no_content {
            let retry_after = response
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(retry_after_seconds);
            return Err(FetchError::Status {
                status: status.as_u16(),
                retry_after,
                body: error_body(response).await?,
            });
        }
        let response: http::Response<reqwest::Body> = response.into();
        let stream = http_body_util::BodyDataStream::new(BetweenBytes::new(
            response.into_body(),
            outbound.settings.between_bytes_timeout,
        ))
        .map_err(|e| {
            std::io::Error::other(if e.is_timeout() {
                "the download stalled (between-bytes timeout)"
            } else {
                "the connection failed during the download"
            })
        });
        return Ok(Box::new(tokio_util::io::StreamReader::new(stream)));
    }
    Err(FetchError::Transport("more than 10 redirects".into()))
}

/// `Retry-After` as a number of seconds. The value is the server's: a number past `u64::MAX`
/// saturates (whoever waits caps it, see `sync::retry`); a date, a fraction or anything else is
/// not understood, and the caller's own backoff applies.
pub(crate) fn retry_after_seconds(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(v.parse().unwrap_or(u64::MAX))
}

/// The first 8 KiB of an error response, for the provider to interpret (error bodies are
/// small; anything longer is not worth waiting for). A body the connection cut short is a
/// transport failure, not an answer: the provider would judge the file by half an explanation
/// (the reason Google gives often comes after its message), so the request is tried again.
async fn error_body(mut response: reqwest::Response) -> Result<String, FetchError> {
    const LIMIT: usize = 8 * 1024;
    let status = response.status().as_u16();
    let mut out = Vec::new();
    while out.len() < LIMIT {
        match tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk()).await {
            Ok(Ok(Some(chunk))) => out.extend_from_slice(&chunk),
            Ok(Ok(None)) => break,
            Ok(Err(_)) => {
                return Err(FetchError::Transport(format!(
                    "the connection failed while reading an HTTP {status} error response"
                )));
            }
            Err(_) => {
                return Err(FetchError::Transport(format!(
                    "an HTTP {status} error response stalled mid-body"
                )));
            }
        }
    }
    out.truncate(LIMIT);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Check a request a provider wants made (through `wasi:http`, or as a fetch plan) before any
/// connection: the allow-list, credentials in the URL, the method, credential headers, and a
/// literal address that is private.
pub(crate) fn check_request(
    policy: &NetworkPolicy,
    allow_private: bool,
    method: &str,
    url: &Url,
    header_names: &mut dyn Iterator<Item = &str>,
) -> Result<Access, Violation> {
    let access = policy.check(url)?;
    if method.eq_ignore_ascii_case("TRACE") || method.eq_ignore_ascii_case("CONNECT") {
        return Err(Violation::Unsupported {
            what: format!("the method {method}"),
        });
    }
    for name in header_names {
        let lower = name.to_ascii_lowercase();
        if lower == "authorization" || lower == "proxy-authorization" {
            return Err(Violation::CredentialHeader { header: lower });
        }
        if let Ok(h) = HeaderName::from_bytes(lower.as_bytes())
            && (DEFAULT_FORBIDDEN_HEADERS.contains(&h) || h == HOST)
        {
            return Err(Violation::Unsupported {
                what: format!("the header `{lower}`, which only the host may set"),
            });
        }
    }
    let host = url.host_str().unwrap_or_default();
    if let Ok(ip) = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        && !allow_private
        && !access.operator_origin
        && let Some(kind) = blocked_kind(ip)
    {
        return Err(Violation::PrivateAddress {
            host: host.to_string(),
            addr: ip,
            kind,
        });
    }
    Ok(access)
}

/// The violations seen during one call, shared between the hook and the call's error report.
pub(crate) type Violations = Arc<Mutex<Vec<Violation>>>;

/// Record a violation (once) for the call's error report.
fn record(violations: &Violations, v: Violation) {
    tracing::warn!(target: "p8sync::sandbox", "{v}");
    let mut list = violations.lock().unwrap_or_else(|p| p.into_inner());
    if !list.contains(&v) {
        list.push(v);
    }
}

/// The `wasi:http` hooks of one call.
pub(crate) struct HttpHooks {
    /// The provider's id (for metrics).
    pub(crate) provider: Arc<str>,
    pub(crate) outbound: Outbound,
    pub(crate) policy: Arc<NetworkPolicy>,
    pub(crate) pacer: Option<Arc<super::pace::Pacer>>,
    pub(crate) credentials: Option<Arc<dyn CredentialSource>>,
    pub(crate) interceptor: Option<Arc<dyn Interceptor>>,
    pub(crate) violations: Violations,
}

fn credential_header(name: &HeaderName) -> bool {
    *name == AUTHORIZATION || *name == PROXY_AUTHORIZATION
}

impl WasiHttpHooks for HttpHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        (self.forbidden_header_filter())(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        let violations = self.violations.clone();
        Arc::new(move |name| {
            if credential_header(name) {
                record(
                    &violations,
                    Violation::CredentialHeader {
                        header: name.as_str().to_string(),
                    },
                );
                return true;
            }
            DEFAULT_FORBIDDEN_HEADERS.contains(name)
        })
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                    ),
                    HttpError,
                >,
            > + Send,
    > {
        // The future must be 'static: take owned copies of what it needs.
        let provider = self.provider.clone();
        let outbound = self.outbound.clone();
        let policy = self.policy.clone();
        let credentials = self.credentials.clone();
        let violations = self.violations.clone();
        let pacer = self.pacer.clone();
        let interceptor = self.interceptor.clone();
        Box::new(async move {
            if let Some(pacer) = pacer {
                pacer.wait().await;
            }
            let response = send(
                &provider,
                outbound,
                &policy,
                credentials,
                interceptor.as_ref(),
                &violations,
                request,
            )
            .await?;
            let done: Box<dyn Future<Output = Result<(), HttpError>> + Send> =
                Box::new(async { Ok(()) });
            Ok((response, done))
        })
    }
}

async fn send(
    provider: &str,
    outbound: Outbound,
    policy: &NetworkPolicy,
    credentials: Option<Arc<dyn CredentialSource>>,
    interceptor: Option<&Arc<dyn Interceptor>>,
    violations: &Violations,
    request: http::Request<WasiBody>,
) -> Result<http::Response<WasiBody>, HttpError> {
    let (parts, body) = request.into_parts();
    let url = Url::parse(&parts.uri.to_string()).map_err(|_| HttpError::HttpRequestUriInvalid)?;
    // The guest's own credential headers were refused when it set them; `Host` is the host's.
    let access = check_request(
        policy,
        outbound.settings.allow_private,
        parts.method.as_str(),
        &url,
        &mut std::iter::empty(),
    )
    .map_err(|v| {
        record(violations, v);
        HttpError::HttpRequestDenied
    })?;
    let host = url.host_str().unwrap_or_default().to_string();
    let body = collect_body(body).await?;
    let mut headers = parts.headers;
    headers.remove(HOST);
    headers.remove(AUTHORIZATION);
    headers.remove(PROXY_AUTHORIZATION);
    if access.credentials
        && let Some(source) = credentials
    {
        match source.authorization().await {
            Ok(Some(value)) => {
                let mut value = http::HeaderValue::from_str(value.expose()).map_err(|_| {
                    HttpError::InternalError(Some(
                        "the stored credential is not a valid header value; sign in again".into(),
                    ))
                })?;
                value.set_sensitive(true);
                headers.insert(AUTHORIZATION, value);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(target: "p8sync::sandbox", "no credential for {host}: {e}");
                return Err(HttpError::InternalError(Some(format!(
                    "no credential available: {e}"
                ))));
            }
        }
    }

    let client = if access.operator_origin {
        &outbound.operator
    } else {
        &outbound.public
    };
    let request = client
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .build()
        .map_err(|e| HttpError::InternalError(Some(e.without_url().to_string())))?;
    let sent = tokio::time::timeout(
        outbound.settings.first_byte_timeout,
        intercept::execute(client, request, interceptor),
    )
    .await;
    count_request(provider, &sent);
    let response = match sent {
        Err(_) => return Err(HttpError::ConnectionReadTimeout),
        Ok(Err(Outcome::Refused(reason))) => return Err(HttpError::InternalError(Some(reason))),
        Ok(Err(Outcome::Network(e))) => return Err(map_error(e, &host, violations)),
        Ok(Ok(r)) => r,
    };
    let mut response: http::Response<reqwest::Body> = response.into();
    // Keep credential headers a server might echo away from the guest (and from the
    // forbidden-header hook, which would mistake them for the guest's own).
    response.headers_mut().remove(AUTHORIZATION);
    response.headers_mut().remove(PROXY_AUTHORIZATION);
    let between = outbound.settings.between_bytes_timeout;
    Ok(response.map(|body| {
        BetweenBytes::new(body, between)
            .map_err(|e| {
                if e.is_timeout() {
                    HttpError::ConnectionReadTimeout
                } else {
                    HttpError::HttpResponseIncomplete
                }
            })
            .boxed_unsync()
    }))
}

/// A response body that fails when no data arrives for `limit` between two frames.
struct BetweenBytes {
    inner: reqwest::Body,
    limit: std::time::Duration,
    timer: std::pin::Pin<Box<tokio::time::Sleep>>,
}

/// Why a response body ended early.
enum BodyError {
    /// No data for longer than the between-bytes timeout.
    Stalled,
    /// The connection failed.
    Body(reqwest::Error),
}

impl BodyError {
    fn is_timeout(&self) -> bool {
        match self {
            BodyError::Stalled => true,
            BodyError::Body(e) => e.is_timeout(),
        }
    }
}

impl BetweenBytes {
    fn new(inner: reqwest::Body, limit: std::time::Duration) -> Self {
        BetweenBytes {
            inner,
            limit,
            timer: Box::pin(tokio::time::sleep(limit)),
        }
    }
}

impl http_body::Body for BetweenBytes {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, BodyError>>> {
        use std::task::Poll;
        let this = &mut *self;
        match std::pin::Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let deadline = tokio::time::Instant::now() + this.limit;
                this.timer.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Body(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

async fn collect_body(body: WasiBody) -> Result<Bytes, HttpError> {
    let limited = http_body_util::Limited::new(body, MAX_REQUEST_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => match e.downcast::<HttpError>() {
            Ok(inner) => Err(*inner),
            Err(_) => Err(HttpError::HttpRequestBodySize(Some(
                MAX_REQUEST_BODY as u64,
            ))),
        },
    }
}

/// Count one request sent for `provider` (for metrics): answered, with its status, or not (a
/// timeout, a failed connection). A name that led only to blocked addresses was never
/// connected to, so that is no request.
fn count_request(
    provider: &str,
    sent: &Result<Result<reqwest::Response, Outcome>, tokio::time::error::Elapsed>,
) {
    let status = match sent {
        Ok(Ok(response)) => Some(response.status().as_u16()),
        // Refused by the harness: nothing was sent.
        Ok(Err(Outcome::Refused(_))) => return,
        Ok(Err(Outcome::Network(e))) if blocked_address(e).is_some() => return,
        Ok(Err(_)) | Err(_) => None,
    };
    crate::metrics::provider_http_request(provider, status);
}

/// The blocked address behind a client error, if that is what it is.
fn blocked_address(e: &reqwest::Error) -> Option<&BlockedAddress> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedAddress>() {
            return Some(blocked);
        }
        source = s.source();
    }
    None
}

/// Turn a client error into the closest `wasi:http` error code, recording blocked addresses.
fn map_error(e: reqwest::Error, host: &str, violations: &Violations) -> HttpError {
    if let Some(blocked) = blocked_address(&e) {
        record(
            violations,
            Violation::PrivateAddress {
                host: host.to_string(),
                addr: blocked.addr,
                kind: blocked.kind,
            },
        );
        return HttpError::HttpRequestDenied;
    }
    let chain = {
        let mut text = String::new();
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(s) = source {
            text.push_str(&s.to_string().to_ascii_lowercase());
            text.push(' ');
            source = s.source();
        }
        text
    };
    if e.is_timeout() {
        HttpError::ConnectionTimeout
    } else if chain.contains("dns error") || chain.contains("failed to lookup") {
        HttpError::DnsError {
            rcode: Some("name not resolved".into()),
            info_code: None,
        }
    } else if chain.contains("certificate") {
        HttpError::TlsCertificateError
    } else if chain.contains("tls") || chain.contains("handshake") {
        HttpError::TlsProtocolError
    } else if e.is_connect() {
        HttpError::ConnectionRefused
    } else {
        HttpError::InternalError(Some(e.without_url().to_string()))
    }
}

/// Every address a name resolved to was off limits.
#[derive(Debug, thiserror::Error)]
#[error("{addr} is a {kind} address")]
struct BlockedAddress {
    addr: IpAddr,
    kind: &'static str,
}

/// A client whose names resolve only to public addresses (unless `allow_private`), for requests
/// to hosts a component named: the host's own OAuth calls to a component's declared endpoints.
pub(crate) fn checked_resolver(allow_private: bool) -> Arc<dyn reqwest::dns::Resolve> {
    Arc::new(CheckedResolver { allow_private })
}

/// Resolves names and drops loopback/private/internal addresses unless they are allowed. The
/// connection then goes to an address this resolver returned, so a name cannot be re-pointed
/// between the check and the connect.
struct CheckedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if allow_private {
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            let mut first_blocked = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match blocked_kind(a.ip()) {
                    Some(kind) => {
                        first_blocked.get_or_insert(BlockedAddress { addr: a.ip(), kind });
                        false
                    }
                    None => true,
                })
                .collect();
            match (allowed.is_empty(), first_blocked) {
                (true, Some(blocked)) => Err(Box::new(blocked) as _),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ProviderOverrides;
    use crate::runtime::types::{AuthMethod, ProviderInfo};

    fn policy() -> NetworkPolicy {
        let info = ProviderInfo {
            id: "t".into(),
            display_name: "t".into(),
            version: "0.1.0".into(),
            description: String::new(),
            api_hosts: vec!["api.example.com".into(), "10.0.0.5".into()],
            plain_hosts: vec![],
            auth: AuthMethod::None,
            capabilities: vec![],
            config_keys: vec![],
        };
        let overrides = ProviderOverrides {
            api_base: Some("http://127.0.0.1:9000".into()),
            ..Default::default()
        };
        NetworkPolicy::for_provider(&info, &overrides).unwrap()
    }

    fn check(method: &str, url: &str, headers: &[&str]) -> Result<Access, Violation> {
        check_request(
            &policy(),
            false,
            method,
            &Url::parse(url).unwrap(),
            &mut headers.iter().copied(),
        )
    }

    #[test]
    fn retry_after_saturates_instead_of_overflowing() {
        assert_eq!(retry_after_seconds(" 30 "), Some(30));
        assert_eq!(retry_after_seconds("18446744073709551615"), Some(u64::MAX));
        assert_eq!(
            retry_after_seconds("99999999999999999999999999999999"),
            Some(u64::MAX)
        );
        for bad in [
            "",
            "-1",
            "1.5",
            "NaN",
            "inf",
            "Wed, 21 Oct 2015 07:28:00 GMT",
        ] {
            assert_eq!(retry_after_seconds(bad), None, "{bad}");
        }
    }

    #[test]
    fn requests_are_checked_before_any_connection() {
        assert!(check("GET", "https://api.example.com/files", &["accept"]).is_ok());
        assert!(matches!(
            check("TRACE", "https://api.example.com/", &[]),
            Err(Violation::Unsupported { .. })
        ));
        assert!(matches!(
            check("GET", "https://api.example.com/", &["Authorization"]),
            Err(Violation::CredentialHeader { .. })
        ));
        assert!(matches!(
            check("GET", "https://api.example.com/", &["Host"]),
            Err(Violation::Unsupported { .. })
        ));
        assert!(matches!(
            check("GET", "https://a:b@api.example.com/", &[]),
            Err(Violation::UrlCredentials { .. })
        ));
        // A declared private literal is still refused; the operator's own origin is not.
        assert!(matches!(
            check("GET", "https://10.0.0.5/", &[]),
            Err(Violation::PrivateAddress { .. })
        ));
        let access = check("GET", "http://127.0.0.1:9000/x", &[]).unwrap();
        assert!(access.operator_origin && access.credentials);
    }
}
