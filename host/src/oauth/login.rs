//! The installed-app login (RFC 8252): a one-shot listener on 127.0.0.1 receives the
//! provider's redirect; PKCE and a random `state` make the code useless to anyone else.

use super::app::{Grant, OAuthApp, OAuthError};
use oauth2::PkceCodeVerifier;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Why a login did not complete.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The loopback listener could not start.
    #[error("cannot listen on 127.0.0.1 for the login redirect: {0}")]
    Listen(std::io::Error),
    /// Nobody came back in time.
    #[error("no login came back within {0:?}; run the command again and open the URL it prints")]
    Timeout(Duration),
    /// The redirect carried another `state`: not this login's.
    #[error(
        "the login redirect carried a state that does not match this login, so it was refused (a stale browser tab, or someone else's request); run the command again"
    )]
    StateMismatch,
    /// The user or the provider said no.
    #[error("the provider did not grant access: {0}")]
    Denied(String),
    /// The code exchange failed.
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

/// A login waiting for the browser.
pub struct PendingLogin {
    app: OAuthApp,
    listener: TcpListener,
    redirect: String,
    state: String,
    verifier: PkceCodeVerifier,
    url: url::Url,
}

/// Start a login: listen on a free loopback port and build the consent URL.
pub async fn start(app: &OAuthApp) -> Result<PendingLogin, LoginError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(LoginError::Listen)?;
    let port = listener.local_addr().map_err(LoginError::Listen)?.port();
    let redirect = format!("http://127.0.0.1:{port}/callback");
    let state = random_token();
    let verifier = PkceCodeVerifier::new(format!("{}{}", random_token(), random_token()));
    let url = app.authorize_url(&redirect, &state, &verifier)?;
    Ok(PendingLogin {
        app: app.clone(),
        listener,
        redirect,
        state,
        verifier,
        url,
    })
}

pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

impl PendingLogin {
    /// The URL to open in a browser.
    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// Wait for the redirect, check `state`, and exchange the code.
    pub async fn finish(self, timeout: Duration) -> Result<Grant, LoginError> {
        let code = tokio::time::timeout(timeout, self.wait_for_code())
            .await
            .map_err(|_| LoginError::Timeout(timeout))??;
        Ok(self
            .app
            .exchange_code(&code, &self.redirect, self.verifier)
            .await?)
    }

    async fn wait_for_code(&self) -> Result<String, LoginError> {
        loop {
            let (mut stream, _) = self.listener.accept().await.map_err(LoginError::Listen)?;
            let Some(target) = read_request_target(&mut stream).await else {
                continue;
            };
            let Ok(url) = url::Url::parse(&format!("http://127.0.0.1{target}")) else {
                respond(&mut stream, 400, "Bad request.").await;
                continue;
            };
            if url.path() != "/callback" {
                // Browsers also ask for /favicon.ico and the like.
                respond(&mut stream, 404, "Not found.").await;
                continue;
            }
            let param = |name: &str| {
                url.query_pairs()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
            };
            if param("state").as_deref() != Some(self.state.as_str()) {
                respond(
                    &mut stream,
                    400,
                    "This login link is not the one p8sync is waiting for. Run the login again.",
                )
                .await;
                return Err(LoginError::StateMismatch);
            }
            if let Some(error) = param("error") {
                respond(
                    &mut stream,
                    400,
                    "Access was not granted. You can close this tab.",
                )
                .await;
                return Err(LoginError::Denied(error));
            }
            let Some(code) = param("code") else {
                respond(&mut stream, 400, "The redirect carried no code.").await;
                return Err(LoginError::Denied("the redirect carried no code".into()));
            };
            respond(
                &mut stream,
                200,
                "Signed in. p8sync has stored the credential; you can close this tab.",
            )
            .await;
            return Ok(code);
        }
    }
}

/// The request target of one HTTP request (only the request line matters here).
async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut parts = text.lines().next()?.split_whitespace();
    let method = parts.next()?;
    let target = parts.next()?;
    (method == "GET" && target.starts_with('/')).then(|| target.to_string())
}

async fn respond(stream: &mut TcpStream, status: u16, message: &str) {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>p8sync</title></head><body><p>{message}</p></body></html>"
    );
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        _ => "Bad Request",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
