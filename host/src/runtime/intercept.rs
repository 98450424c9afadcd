//! A seam in the host's HTTP mediation layer for the provider test harness: an interceptor
//! sees every exchange a provider's calls and fetch plans make (to record them), and may
//! answer a request itself (to replay a recording, or to inject a fault) so that no network is
//! used. Requests reach it after the sandbox's checks, with credentials already removed.

use http::HeaderMap;
use std::sync::Arc;

/// A request as the interceptor sees it: never with `Authorization` or cookies.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExchangeRequest {
    /// `GET`, `POST`, `PROPFIND`, ...
    pub method: String,
    /// The absolute URL.
    pub url: String,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty when there is none).
    pub body: Vec<u8>,
}

/// A whole response.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExchangeResponse {
    /// The status code.
    pub status: u16,
    /// Headers, lower-case names, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// What an interceptor does with a request.
#[derive(Debug)]
pub enum Answer {
    /// Send it to the network.
    Network,
    /// Answer with this instead.
    Respond(ExchangeResponse),
    /// Fail the request as a connection error would, for this reason (a replay that has no
    /// recording for it).
    Refuse(String),
}

/// Sits between a provider and the network for the test harness.
pub trait Interceptor: Send + Sync {
    /// Decide what happens to a request before it is sent.
    fn answer(&self, request: &ExchangeRequest) -> Answer;
    /// Whether network responses must be captured whole for [`Interceptor::observe`] (they
    /// are then buffered, up to [`MAX_RECORDED_BODY`]).
    fn records(&self) -> bool {
        false
    }
    /// A request the network answered, and the answer.
    fn observe(&self, _request: &ExchangeRequest, _response: &ExchangeResponse) {}
}

/// The largest response body a recording keeps; longer bodies fail the request.
pub const MAX_RECORDED_BODY: usize = 64 * 1024 * 1024;

/// Headers that carry credentials or session state, which no recording may hold.
pub fn is_secret_header(name: &str) -> bool {
    matches!(
        name.to_ascii_lowercase().as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    )
}

/// The headers of a map, lower-case, without secret ones.
pub(crate) fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !is_secret_header(n.as_str()))
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Build a `reqwest` response from a whole one (for answers and recorded responses).
pub(crate) fn to_reqwest(response: &ExchangeResponse) -> reqwest::Response {
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    let http = builder
        .body(response.body.clone())
        .unwrap_or_else(|_| http::Response::new(response.body.clone()));
    reqwest::Response::from(http)
}

/// Send a built request through the interceptor (when there is one) or the network.
pub(crate) async fn execute(
    client: &reqwest::Client,
    request: reqwest::Request,
    interceptor: Option<&Arc<dyn Interceptor>>,
) -> Result<reqwest::Response, Outcome> {
    let Some(interceptor) = interceptor else {
        return client.execute(request).await.map_err(Outcome::Network);
    };
    let seen = ExchangeRequest {
        method: request.method().as_str().to_string(),
        url: request.url().to_string(),
        headers: header_list(request.headers()),
        body: request
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
    };
    match interceptor.answer(&seen) {
        Answer::Respond(r) => Ok(to_reqwest(&r)),
        Answer::Refuse(reason) => Err(Outcome::Refused(reason)),
        Answer::Network => {
            let response = client.execute(request).await.map_err(Outcome::Network)?;
            if !interceptor.records() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let headers = header_list(response.headers());
            let body = read_capped(response).await?;
            let whole = ExchangeResponse {
                status,
                headers,
                body,
            };
            interceptor.observe(&seen, &whole);
            Ok(to_reqwest(&whole))
        }
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, Outcome> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Outcome::Network)? {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_RECORDED_BODY {
            return Err(Outcome::Refused(format!(
                "a response body over {MAX_RECORDED_BODY} bytes can't be recorded"
            )));
        }
    }
    Ok(body)
}

/// Why [`execute`] produced no response.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The network failed.
    Network(reqwest::Error),
    /// The interceptor refused the request.
    Refused(String),
}
