//! What the operator decides about the API: its public address (for OAuth callbacks), where
//! browsers may be sent after a login, which local folders API users may sync, and how big a
//! request body may be.

use crate::sync::validate::LocalRoots;
use std::net::SocketAddr;

/// The API's settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The base URL browsers reach this service at, without a trailing `/`.
    pub public_url: String,
    /// Hosts (`host` or `host:port`) a login may send the browser back to.
    pub redirect_hosts: Vec<String>,
    /// Where API users' local-folder configs may point: each only inside their own roots
    /// (`P8_LOCAL_ROOTS`; without it, nowhere).
    pub local_roots: LocalRoots,
    /// The largest request body accepted, in bytes.
    pub body_limit: usize,
}

/// A comma-separated list from the environment.
fn env_list(name: &str) -> Vec<String> {
    crate::config::split_list(&std::env::var(name).unwrap_or_default(), &[','])
}

impl ApiSettings {
    /// From `P8_PUBLIC_URL` (default `http://<listen>`), `P8_OAUTH_REDIRECT_HOSTS`,
    /// `P8_LOCAL_ROOTS` (see [`LocalRoots::parse`]) and `P8_API_BODY_LIMIT` (bytes, default 1 MiB).
    pub fn from_env(listen: SocketAddr) -> Result<Self, String> {
        let public_url = std::env::var("P8_PUBLIC_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("http://{listen}"));
        let parsed = url::Url::parse(&public_url)
            .map_err(|e| format!("P8_PUBLIC_URL `{public_url}` is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "P8_PUBLIC_URL `{public_url}` must be http or https"
            ));
        }
        let body_limit = crate::config::env_parsed::<usize>(
            "P8_API_BODY_LIMIT",
            "a number of bytes (at least 1024)",
            |n| *n >= 1024,
        )
        .map_err(|e| e.to_string())?
        .unwrap_or(1024 * 1024);
        Ok(ApiSettings {
            public_url: public_url.trim_end_matches('/').to_string(),
            redirect_hosts: env_list("P8_OAUTH_REDIRECT_HOSTS"),
            local_roots: LocalRoots::from_env()
                .map_err(|e| e.to_string())?
                .unwrap_or(LocalRoots::PerUser(Vec::new())),
            body_limit,
        })
    }

    /// Whether a login may send the browser to `target`: an absolute http(s) URL on an
    /// allowed host. Anything else would make this service an open redirect.
    pub fn check_redirect(&self, target: &str) -> Result<(), String> {
        let url = url::Url::parse(target)
            .map_err(|_| format!("redirect_uri `{target}` is not an absolute URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("redirect_uri must be an http or https URL".into());
        }
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let with_port = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let allowed = self.redirect_hosts.iter().any(|h| {
            let h = h.to_ascii_lowercase();
            h == host || h == with_port
        });
        if allowed {
            Ok(())
        } else if self.redirect_hosts.is_empty() {
            Err("this server sends browsers to no other site after a login (the operator can allow hosts with P8_OAUTH_REDIRECT_HOSTS); leave redirect_uri out".into())
        } else {
            Err(format!(
                "redirect_uri's host `{with_port}` is not one this server may send browsers to (P8_OAUTH_REDIRECT_HOSTS)"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(hosts: &[&str]) -> ApiSettings {
        ApiSettings {
            public_url: "http://127.0.0.1:8080".into(),
            redirect_hosts: hosts.iter().map(|h| h.to_string()).collect(),
            local_roots: LocalRoots::PerUser(vec![]),
            body_limit: 1024,
        }
    }

    #[test]
    fn only_allowed_hosts_are_redirect_targets() {
        let s = settings(&["app.example.com", "localhost:3000"]);
        assert!(s.check_redirect("https://app.example.com/done").is_ok());
        assert!(s.check_redirect("https://APP.example.com:8443/x").is_ok());
        assert!(s.check_redirect("http://localhost:3000/cb").is_ok());
        assert!(s.check_redirect("http://localhost:3001/cb").is_err());
        assert!(s.check_redirect("https://evil.example.com/").is_err());
        assert!(
            s.check_redirect("https://app.example.com.evil.net/")
                .is_err()
        );
        assert!(s.check_redirect("//app.example.com/").is_err());
        assert!(s.check_redirect("javascript:alert(1)").is_err());
        assert!(
            settings(&[])
                .check_redirect("https://app.example.com/")
                .is_err()
        );
    }
}
