//! One provider's OAuth2 client: its endpoints (declared by the component, overridable by the
//! operator), the client id and secret (from the environment), and the token calls, made with
//! the `oauth2` crate over the host's own HTTP client.

use crate::config::ClientAuth;
use crate::runtime::Provider;
use crate::runtime::types::{AuthMethod, Oauth2Spec};
use crate::secret::Secret;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use std::time::Duration;

/// Why an OAuth call failed. Messages never carry a token, a code or the client secret.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider does not use OAuth2.
    #[error("the provider `{0}` does not sign in with OAuth2")]
    NotOauth(String),
    /// No client id/secret configured.
    #[error(
        "no OAuth client is configured for `{provider}`: set {vars} (from the provider's developer console; for Google: APIs & Services > Credentials > OAuth client ID, type \"Desktop app\")"
    )]
    NoClient {
        /// The provider id.
        provider: String,
        /// The variables to set.
        vars: String,
    },
    /// An endpoint URL is not a URL.
    #[error("the OAuth {what} URL for `{provider}` is invalid: {reason}")]
    BadUrl {
        /// The provider id.
        provider: String,
        /// Which endpoint.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// The grant is dead: the user must log in again.
    #[error(
        "`{provider}` refused the refresh token ({detail}); log in again with `p8sync auth login --provider {provider}`"
    )]
    InvalidGrant {
        /// The provider id.
        provider: String,
        /// The provider's description (never the token).
        detail: String,
    },
    /// The token endpoint refused the client.
    #[error(
        "`{provider}` refused the OAuth client ({detail}); check the client id and secret ({vars})"
    )]
    InvalidClient {
        /// The provider id.
        provider: String,
        /// The provider's description.
        detail: String,
        /// The variables that hold the client.
        vars: String,
    },
    /// Any other answer from the token endpoint.
    #[error("the token endpoint of `{provider}` answered {detail}")]
    Refused {
        /// The provider id.
        provider: String,
        /// What it said.
        detail: String,
    },
    /// The token endpoint could not be reached, or answered nonsense.
    #[error("could not reach the token endpoint of `{provider}`: {detail}; try again later")]
    Unreachable {
        /// The provider id.
        provider: String,
        /// What went wrong.
        detail: String,
    },
}

impl OAuthError {
    /// Whether only a new login can fix it.
    pub fn needs_login(&self) -> bool {
        matches!(self, OAuthError::InvalidGrant { .. })
    }
}

/// Tokens as a token endpoint returned them.
#[derive(Clone)]
pub struct Grant {
    /// The access token.
    pub access_token: Secret,
    /// The refresh token, when one was returned (a refresh usually returns none: keep the old).
    pub refresh_token: Option<Secret>,
    /// When the access token expires, when the endpoint said.
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes granted, when the endpoint said.
    pub scopes: Option<String>,
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("expires_at", &self.expires_at)
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// A provider's OAuth2 client.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    provider: String,
    client_id: String,
    client_secret: Option<Secret>,
    auth_url: String,
    token_url: String,
    revoke_url: Option<String>,
    userinfo_url: Option<String>,
    scopes: Vec<String>,
    extra: Vec<(String, String)>,
    client_auth: ClientAuth,
    /// For the token endpoint (code exchange, refresh).
    http: reqwest::Client,
    /// For the revocation endpoint.
    revoke_http: reqwest::Client,
    /// For the userinfo endpoint (only ever the operator's).
    userinfo_http: reqwest::Client,
}

/// The environment variables that may hold a provider's client id and secret, best first.
pub fn client_vars(provider: &str) -> Vec<(String, String)> {
    let upper = provider.to_ascii_uppercase();
    let mut vars = vec![(
        format!("P8_{upper}_CLIENT_ID"),
        format!("P8_{upper}_CLIENT_SECRET"),
    )];
    // Percolate's names for Google, for the one provider they were meant for: a component
    // calling itself `google_anything` must not be handed the operator's Google client.
    if provider == "google_drive" {
        vars.push(("GOOGLE_CLIENT_ID".into(), "GOOGLE_CLIENT_SECRET".into()));
    }
    vars
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The client the host calls token endpoints with: no redirects (a token endpoint never
/// redirects, and following one could send the client secret elsewhere), no proxy from the
/// environment, bounded time. With `checked`, names resolve only to public addresses (unless
/// `allow_private`): for endpoints a component declared, which must not be a way to make the
/// host post the operator's client secret into its own network.
///
/// There are three such clients (unchecked; checked; checked allowing private addresses), built
/// once per process and shared: building one loads the TLS roots, and an app is made per login
/// and per sync.
pub fn token_http_client(checked: bool, allow_private: bool) -> reqwest::Client {
    static CLIENTS: std::sync::OnceLock<[reqwest::Client; 3]> = std::sync::OnceLock::new();
    let build = |resolver: Option<bool>| {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30));
        if let Some(allow_private) = resolver {
            builder = builder.dns_resolver(crate::runtime::http::checked_resolver(allow_private));
        }
        builder
            .build()
            .expect("a reqwest client with rustls builds")
    };
    let clients = CLIENTS.get_or_init(|| [build(None), build(Some(false)), build(Some(true))]);
    // reqwest clients are handles: a clone shares the connection pool.
    clients[match (checked, allow_private) {
        (false, _) => 0,
        (true, false) => 1,
        (true, true) => 2,
    }]
    .clone()
}

/// An endpoint a component declared (not one the operator set) must be HTTPS and name a host,
/// not an address: the host sends the client secret, codes and tokens there.
fn check_declared(
    provider: &str,
    what: &'static str,
    url: &str,
    allow_private: bool,
) -> Result<(), OAuthError> {
    let bad = |reason: String| OAuthError::BadUrl {
        provider: provider.to_string(),
        what,
        reason: format!(
            "{reason}; the component declared it, so it must be an https:// URL on a public name (the operator can set P8_{}_{}_URL instead)",
            provider.to_ascii_uppercase(),
            what.to_ascii_uppercase()
        ),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(e.to_string()))?;
    if parsed.scheme() != "https" {
        return Err(bad(format!("`{}` is not HTTPS", parsed.scheme())));
    }
    match parsed.host() {
        Some(url::Host::Domain(_)) => Ok(()),
        Some(url::Host::Ipv4(_) | url::Host::Ipv6(_)) if allow_private => Ok(()),
        _ => Err(bad("it names an address, not a host".into())),
    }
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The error type of our `oauth2` HTTP adapter.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct HttpFailure(String);

impl OAuthApp {
    /// The OAuth client of `provider`, from its declaration, the operator's overrides and the
    /// client id/secret in the environment.
    pub fn for_provider(provider: &Provider) -> Result<Self, OAuthError> {
        let AuthMethod::Oauth2(spec) = &provider.info().auth else {
            return Err(OAuthError::NotOauth(provider.id().to_string()));
        };
        let overrides = provider.overrides();
        let vars = client_vars(provider.id());
        let from_env = || {
            vars.iter()
                .find_map(|(id, secret)| env(id).map(|i| (i, env(secret).map(Secret::new))))
        };
        let (client_id, client_secret) = match &overrides.client_id {
            Some(id) => (id.clone(), overrides.client_secret.clone()),
            None => from_env().ok_or_else(|| OAuthError::NoClient {
                provider: provider.id().to_string(),
                vars: describe_vars(&vars),
            })?,
        };
        Self::new(
            provider.id(),
            spec,
            (client_id, client_secret),
            OverriddenEndpoints {
                auth_url: overrides.auth_url,
                token_url: overrides.token_url,
                revoke_url: overrides.revoke_url,
                userinfo_url: overrides.userinfo_url,
                scopes: overrides.scopes,
                client_auth: overrides.client_auth,
                allow_private: provider.allows_private_networks(),
            },
        )
    }

    /// An OAuth client from its parts.
    pub fn new(
        provider: &str,
        spec: &Oauth2Spec,
        (client_id, client_secret): (String, Option<Secret>),
        o: OverriddenEndpoints,
    ) -> Result<Self, OAuthError> {
        // What the component declared is checked; what the operator set is the operator's.
        let declared_token = o.token_url.is_none();
        if declared_token {
            check_declared(provider, "token", &spec.token_url, o.allow_private)?;
        }
        let declared_revoke = o.revoke_url.is_none();
        if declared_revoke && let Some(r) = &spec.revoke_url {
            check_declared(provider, "revoke", r, o.allow_private)?;
        }
        if o.auth_url.is_none() {
            check_declared(provider, "auth", &spec.authorize_url, true)?;
        }
        let app = OAuthApp {
            provider: provider.to_string(),
            client_id,
            client_secret,
            auth_url: o.auth_url.unwrap_or_else(|| spec.authorize_url.clone()),
            token_url: o.token_url.unwrap_or_else(|| spec.token_url.clone()),
            revoke_url: o.revoke_url.or_else(|| spec.revoke_url.clone()),
            userinfo_url: o.userinfo_url,
            scopes: if o.scopes.is_empty() {
                spec.scopes.clone()
            } else {
                o.scopes
            },
            extra: spec.extra_authorize_params.clone(),
            client_auth: o.client_auth.unwrap_or_default(),
            http: token_http_client(declared_token, o.allow_private),
            revoke_http: token_http_client(declared_revoke, o.allow_private),
            userinfo_http: token_http_client(false, true),
        };
        app.client(None)?;
        Ok(app)
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The scopes asked for.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The userinfo endpoint (operator override), if any.
    pub fn userinfo_url(&self) -> Option<&str> {
        self.userinfo_url.as_deref()
    }

    fn bad_url(&self, what: &'static str) -> impl Fn(url::ParseError) -> OAuthError + '_ {
        move |e| OAuthError::BadUrl {
            provider: self.provider.clone(),
            what,
            reason: e.to_string(),
        }
    }

    fn client(&self, redirect: Option<&str>) -> Result<Client, OAuthError> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_auth_uri(AuthUrl::new(self.auth_url.clone()).map_err(self.bad_url("authorize"))?)
            .set_token_uri(TokenUrl::new(self.token_url.clone()).map_err(self.bad_url("token"))?)
            .set_auth_type(match self.client_auth {
                ClientAuth::Body => AuthType::RequestBody,
                ClientAuth::Basic => AuthType::BasicAuth,
            });
        if let Some(secret) = &self.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
        }
        if let Some(r) = redirect {
            client = client.set_redirect_uri(
                RedirectUrl::new(r.to_string()).map_err(self.bad_url("redirect"))?,
            );
        }
        Ok(client)
    }

    /// The consent page URL for a login that comes back to `redirect`, with `state` and the
    /// PKCE challenge of `verifier`, asking for offline access as the provider declared.
    pub fn authorize_url(
        &self,
        redirect: &str,
        state: &str,
        verifier: &PkceCodeVerifier,
    ) -> Result<url::Url, OAuthError> {
        let client = self.client(Some(redirect))?;
        let state = state.to_string();
        let mut request = client
            .authorize_url(move || CsrfToken::new(state.clone()))
            .add_scopes(self.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(verifier));
        for (k, v) in &self.extra {
            request = request.add_extra_param(k.clone(), v.clone());
        }
        Ok(request.url().0)
    }

    /// Exchange an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect: &str,
        verifier: PkceCodeVerifier,
    ) -> Result<Grant, OAuthError> {
        let client = self.client(Some(redirect))?;
        let http = self.http_fn();
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .map_err(|e| self.map_error(e))?;
        Ok(grant(&response))
    }

    /// Use a refresh token.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<Grant, OAuthError> {
        let client = self.client(None)?;
        let http = self.http_fn();
        let token = RefreshToken::new(refresh_token.expose().to_string());
        let response = client
            .exchange_refresh_token(&token)
            .request_async(&http)
            .await
            .map_err(|e| self.map_error(e))?;
        Ok(grant(&response))
    }

    /// Revoke a token at the provider (RFC 7009 style, as Google takes it). `Ok(false)` when
    /// the provider has no revocation endpoint.
    pub async fn revoke(&self, token: &Secret) -> Result<bool, OAuthError> {
        let Some(url) = &self.revoke_url else {
            return Ok(false);
        };
        // Built before the request: the serializer is not `Send`, and the API awaits this.
        // The client authenticates as at the token endpoint (RFC 7009 section 2.1; Box
        // requires it).
        let secret = self.client_secret.as_ref().map(|s| s.expose().to_string());
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", token.expose());
            if self.client_auth == ClientAuth::Body {
                form.append_pair("client_id", &self.client_id);
                if let Some(s) = &secret {
                    form.append_pair("client_secret", s);
                }
            }
            form.finish()
        };
        let mut request = self.revoke_http.post(url);
        if self.client_auth == ClientAuth::Basic {
            request = request.basic_auth(&self.client_id, secret);
        }
        let response = request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form)
            .send()
            .await
            .map_err(|e| self.unreachable(&e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(true);
        }
        let body =
            String::from_utf8_lossy(&bounded_body(response).await.unwrap_or_default()).into_owned();
        // An already revoked or expired token is what the caller wanted anyway.
        if status.as_u16() == 400 && body.contains("invalid_token") {
            return Ok(true);
        }
        Err(OAuthError::Refused {
            provider: self.provider.clone(),
            detail: format!("HTTP {status} to the revocation request"),
        })
    }

    /// Ask the userinfo endpoint which account a token belongs to (`email`, else `sub`).
    pub async fn account(&self, access_token: &Secret) -> Option<String> {
        let url = self.userinfo_url.as_deref()?;
        let response = self
            .userinfo_http
            .get(url)
            .bearer_auth(access_token.expose())
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let body: serde_json::Value =
            serde_json::from_slice(&bounded_body(response).await?).ok()?;
        // `login` is Box's name for the account's email.
        body.get("email")
            .or_else(|| body.get("login"))
            .or_else(|| body.get("sub"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    fn unreachable(&self, e: &reqwest::Error) -> OAuthError {
        // reqwest's Display can include the URL; ours carry no secrets, but keep it short.
        OAuthError::Unreachable {
            provider: self.provider.clone(),
            detail: if e.is_timeout() {
                "timed out".into()
            } else if e.is_connect() {
                "connection failed".into()
            } else {
                "the request failed".into()
            },
        }
    }

    fn map_error(
        &self,
        e: RequestTokenError<HttpFailure, oauth2::basic::BasicErrorResponse>,
    ) -> OAuthError {
        let provider = self.provider.clone();
        match e {
            RequestTokenError::ServerResponse(r) => {
                let detail = match r.error_description() {
                    Some(d) => format!("{}: {d}", r.error()),
                    None => r.error().to_string(),
                };
                match r.error() {
                    BasicErrorResponseType::InvalidGrant => {
                        OAuthError::InvalidGrant { provider, detail }
                    }
                    BasicErrorResponseType::InvalidClient
                    | BasicErrorResponseType::UnauthorizedClient => OAuthError::InvalidClient {
                        vars: describe_vars(&client_vars(&provider)),
                        provider,
                        detail,
                    },
                    _ => OAuthError::Refused { provider, detail },
                }
            }
            RequestTokenError::Request(e) => OAuthError::Unreachable {
                provider,
                detail: e.to_string(),
            },
            // The body of an unparseable answer may hold anything: leave it out.
            RequestTokenError::Parse(_, _) => OAuthError::Unreachable {
                provider,
                detail: "the answer was not a token response".into(),
            },
            RequestTokenError::Other(detail) => OAuthError::Refused { provider, detail },
        }
    }

    fn http_fn(
        &self,
    ) -> impl Fn(oauth2::HttpRequest) -> BoxFuture<'static, Result<oauth2::HttpResponse, HttpFailure>>
    {
        let client = self.http.clone();
        move |request: oauth2::HttpRequest| {
            let client = client.clone();
            Box::pin(async move {
                let request = reqwest::Request::try_from(request)
                    .map_err(|_| HttpFailure("could not build the token request".into()))?;
                let response = client.execute(request).await.map_err(|e| {
                    HttpFailure(if e.is_timeout() {
                        "timed out".into()
                    } else {
                        "connection failed".into()
                    })
                })?;
                let mut builder = http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    builder = builder.header(name, value);
                }
                let body = bounded_body(response).await.ok_or_else(|| {
                    HttpFailure(format!(
                        "the answer was cut off, or larger than {MAX_ANSWER_BYTES} bytes"
                    ))
                })?;
                builder
                    .body(body)
                    .map_err(|_| HttpFailure("an unreadable answer".into()))
            })
        }
    }
}

/// The largest answer read from a token, revocation or userinfo endpoint: they are a few
/// hundred bytes, and one that is not must not fill the memory.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// `response`'s body, if it arrives whole and within [`MAX_ANSWER_BYTES`].
async fn bounded_body(mut response: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// Endpoints and scopes the operator overrides.
#[derive(Debug, Clone, Default)]
pub struct OverriddenEndpoints {
    /// The authorize URL.
    pub auth_url: Option<String>,
    /// The token URL.
    pub token_url: Option<String>,
    /// The revocation URL.
    pub revoke_url: Option<String>,
    /// The userinfo URL.
    pub userinfo_url: Option<String>,
    /// The scopes.
    pub scopes: Vec<String>,
    /// How the client authenticates at the token endpoint (default: in the body).
    pub client_auth: Option<ClientAuth>,
    /// Whether declared endpoints may resolve to loopback and private addresses
    /// (`P8_ALLOW_PRIVATE_NETWORKS`, as for the component's own requests).
    pub allow_private: bool,
}

fn describe_vars(vars: &[(String, String)]) -> String {
    vars.iter()
        .map(|(i, s)| format!("{i} and {s}"))
        .collect::<Vec<_>>()
        .join(", or ")
}

/// The longest an access token is taken to live, whatever its `expires_in` says: a year. The
/// number is the token endpoint's, and a huge one used to overflow the date arithmetic (a
/// panic); a token that really lives longer is refreshed (or found expired) after a year.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(365 * 24 * 3600);

/// When a token that lives `lifetime` from now expires, with the lifetime cut to
/// [`MAX_TOKEN_LIFETIME`].
pub fn expiry_after(lifetime: Duration) -> DateTime<Utc> {
    let lifetime = chrono::Duration::from_std(lifetime.min(MAX_TOKEN_LIFETIME))
        .unwrap_or_else(|_| chrono::Duration::days(365));
    let now = Utc::now();
    now.checked_add_signed(lifetime).unwrap_or(now)
}

fn grant(response: &oauth2::basic::BasicTokenResponse) -> Grant {
    Grant {
        access_token: Secret::new(response.access_token().secret().clone()),
        refresh_token: response
            .refresh_token()
            .map(|r| Secret::new(r.secret().clone())),
        expires_at: response.expires_in().map(expiry_after),
        scopes: response
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_endpoints_must_be_https_on_a_public_name() {
        let ok = |url: &str, private: bool| check_declared("x", "token", url, private).is_ok();
        assert!(ok("https://oauth2.googleapis.com/token", false));
        assert!(!ok("http://oauth2.googleapis.com/token", false));
        assert!(!ok("https://127.0.0.1/token", false));
        assert!(!ok("https://[::1]:8443/token", false));
        assert!(!ok("https://169.254.169.254/latest", false));
        assert!(ok("https://10.0.0.5/token", true));
        assert!(!ok("file:///etc/passwd", true));
        let e = check_declared("evil", "token", "http://collector.example/t", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("P8_EVIL_TOKEN_URL"), "{e}");
    }

    /// A declared endpoint whose name resolves to loopback is not reached: the client secret
    /// never leaves for the operator's own network.
    #[tokio::test]
    async fn the_declared_endpoints_client_refuses_private_addresses() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("http://localhost:{port}/token");
        let checked = token_http_client(true, false).post(&url).send().await;
        assert!(checked.is_err(), "a loopback address was reached");
        // The operator's own endpoints (overrides) may be anywhere.
        let served = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                .await;
        });
        let operator = token_http_client(false, false).post(&url).send().await;
        assert!(operator.is_ok(), "{operator:?}");
        served.await.unwrap();
    }

    #[test]
    fn googles_fallback_names_serve_only_google_drive() {
        assert_eq!(client_vars("google_drive").len(), 2);
        for other in ["google_drive_evil", "google", "googlephotos", "box"] {
            assert_eq!(client_vars(other).len(), 1, "{other}");
        }
    }

    #[test]
    fn a_huge_expires_in_is_cut_to_a_year_without_overflow() {
        for expires_in in ["18446744073709551615", "1000000000000000", "3600"] {
            let response: oauth2::basic::BasicTokenResponse = serde_json::from_str(&format!(
                r#"{{"access_token":"a","token_type":"bearer","expires_in":{expires_in}}}"#
            ))
            .unwrap();
            let before = Utc::now();
            let at = grant(&response).expires_at.unwrap();
            let lifetime = at - before;
            assert!(lifetime <= chrono::Duration::days(365) + chrono::Duration::seconds(5));
            if expires_in == "3600" {
                assert!((lifetime - chrono::Duration::hours(1)).num_seconds().abs() <= 5);
            } else {
                assert!(lifetime >= chrono::Duration::days(364), "{lifetime}");
            }
        }
        let at = expiry_after(Duration::MAX);
        assert!(at - Utc::now() <= chrono::Duration::days(365));
    }

    #[tokio::test]
    async fn an_endpoint_answer_is_read_only_up_to_a_mebibyte() {
        let answer = |n: usize| reqwest::Response::from(http::Response::new(vec![b'x'; n]));
        assert_eq!(bounded_body(answer(10)).await.unwrap().len(), 10);
        assert_eq!(
            bounded_body(answer(MAX_ANSWER_BYTES)).await.unwrap().len(),
            MAX_ANSWER_BYTES
        );
        assert!(bounded_body(answer(MAX_ANSWER_BYTES + 1)).await.is_none());
    }
}
