//! The network allow-list of one provider, and the address checks that back it.
//!
//! A provider may reach the hosts it declares in `info()` (HTTPS only) plus the operator's
//! overrides and additions. Credentials go only to `api-hosts` and the operator's API base.
//! Nothing a sync config contains can add a host: the host injects tokens for allowed hosts.

use super::bindings::p8::provider::types::ProviderInfo;
use crate::config::ProviderOverrides;
use std::fmt;
use std::net::IpAddr;
use url::Url;

/// Something a provider tried that the sandbox refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A request to a host that is not on the allow-list.
    #[error(
        "tried to reach `{host}`, which it did not declare (allowed: {allowed}); providers may only call the hosts they declare in info(), plus hosts the operator adds with P8_<PROVIDER>_ALLOWED_HOSTS"
    )]
    UndeclaredHost {
        /// The host (and port) it asked for.
        host: String,
        /// The allow-list, for the message.
        allowed: String,
    },
    /// A request that would land on a loopback, private or otherwise internal address.
    #[error(
        "tried to reach `{host}`, which resolves to {addr}, a {kind} address; private networks are blocked (an operator can allow them with P8_ALLOW_PRIVATE_NETWORKS=true)"
    )]
    PrivateAddress {
        /// The host name it asked for.
        host: String,
        /// The address it resolved to.
        addr: IpAddr,
        /// What kind of address that is.
        kind: &'static str,
    },
    /// A declared host asked for over plain HTTP.
    #[error("tried to reach `{host}` over plain http; declared hosts are reached over https only")]
    PlainHttp {
        /// The host it asked for.
        host: String,
    },
    /// A URL with a user name or password in it (which a client would turn into credentials).
    #[error("tried to put credentials in the URL for `{host}`; the host adds credentials")]
    UrlCredentials {
        /// The host it asked for.
        host: String,
    },
    /// A scheme other than http or https, or a method that is not allowed.
    #[error("tried an unsupported request: {what}")]
    Unsupported {
        /// What was refused.
        what: String,
    },
    /// The guest tried to set a credential header itself.
    #[error(
        "tried to set the `{header}` header itself; the host adds credentials, a provider never sees or sets them"
    )]
    CredentialHeader {
        /// The header name.
        header: String,
    },
}

/// Which ports a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    /// The scheme's default port (443 for https).
    Default,
    Exact(u16),
    Any,
}

/// Which host names a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// `*.example.com`: any subdomain of `example.com` (not `example.com` itself).
    Subdomain(String),
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// `Some("http")` only for an operator override with an explicit `http://` URL.
    plain_http: bool,
    host: HostMatch,
    port: PortRule,
    credentials: bool,
    operator: bool,
    text: String,
}

/// What the policy allows for one URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    /// Whether the host's credentials may be attached.
    pub credentials: bool,
    /// Whether the URL matched an origin the operator configured explicitly (its API base or
    /// an allowed origin): the operator chose that address, so it may be private.
    pub operator_origin: bool,
}

/// The network allow-list of one provider.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    rules: Vec<Rule>,
}

impl NetworkPolicy {
    /// Build the policy from the provider's declaration and the operator's settings.
    pub fn for_provider(
        info: &ProviderInfo,
        overrides: &ProviderOverrides,
    ) -> Result<Self, String> {
        let mut rules = Vec::new();
        for host in &info.api_hosts {
            rules.push(parse_declared(host, true)?);
        }
        for host in &info.plain_hosts {
            rules.push(parse_declared(host, false)?);
        }
        if let Some(base) = &overrides.api_base {
            rules.push(parse_origin(base, true)?);
        }
        for host in &overrides.extra_hosts {
            let rule = if host.contains("://") {
                parse_origin(host, false)?
            } else {
                parse_declared(host, false)?
            };
            rules.push(rule);
        }
        Ok(NetworkPolicy { rules })
    }

    /// This policy for the calls of one account that lives on its own server (a user's WebDAV
    /// server): `server_url`'s origin takes the place of every origin the operator gave
    /// credentials to, so the account's password goes to its server and nowhere else. It is
    /// not an operator origin: a private address stays refused unless the operator allows
    /// private networks, and plain `http` only then.
    pub fn for_account_server(
        &self,
        server_url: &str,
        allow_private: bool,
    ) -> Result<Self, String> {
        let mut rule = parse_origin(server_url, true)?;
        rule.operator = false;
        if rule.plain_http && !allow_private {
            return Err(format!(
                "the account's server {} is plain http, which would send its password unencrypted; use https (the operator may allow http with P8_ALLOW_PRIVATE_NETWORKS)",
                rule.text
            ));
        }
        let mut rules: Vec<Rule> = self
            .rules
            .iter()
            .filter(|r| !(r.operator && r.credentials))
            .cloned()
            .collect();
        rules.push(rule);
        Ok(NetworkPolicy { rules })
    }

    /// A policy that allows nothing (used while asking a component for its `info()`).
    pub fn deny_all() -> Self {
        NetworkPolicy::default()
    }

    /// Check a URL against the allow-list.
    pub fn check(&self, url: &Url) -> Result<Access, Violation> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Violation::Unsupported {
                what: format!(
                    "the scheme `{}` (only https, or http where the operator allows it)",
                    url.scheme()
                ),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Violation::UrlCredentials { host });
        }
        let port = url.port_or_known_default();
        let plain = url.scheme() == "http";
        let shown = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        let mut plain_refused = false;
        for rule in &self.rules {
            let host_ok = match &rule.host {
                HostMatch::Exact(h) => *h == host,
                HostMatch::Subdomain(suffix) => {
                    host.len() > suffix.len() + 1
                        && host.ends_with(suffix.as_str())
                        && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
                }
            };
            if !host_ok {
                continue;
            }
            if plain != rule.plain_http {
                plain_refused |= plain;
                continue;
            }
            let default_port = if rule.plain_http { 80 } else { 443 };
            let port_ok = match rule.port {
                PortRule::Default => port == Some(default_port),
                PortRule::Exact(p) => port == Some(p),
                PortRule::Any => true,
            };
            if !port_ok {
                continue;
            }
            return Ok(Access {
                credentials: rule.credentials,
                operator_origin: rule.operator,
            });
        }
        if plain_refused {
            return Err(Violation::PlainHttp { host: shown });
        }
        Err(Violation::UndeclaredHost {
            host: shown,
            allowed: self.describe(),
        })
    }

    /// The allow-list as text, for messages.
    pub fn describe(&self) -> String {
        if self.rules.is_empty() {
            return "no hosts".into();
        }
        self.rules
            .iter()
            .map(|r| r.text.clone())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Parse a declared host: `host`, `host:port`, `host:*`, `*.domain`.
fn parse_declared(text: &str, credentials: bool) -> Result<Rule, String> {
    let lower = text.trim().to_ascii_lowercase();
    if lower.is_empty() || lower.contains('/') || lower.contains('@') {
        return Err(format!(
            "`{text}` is not a host name; declare hosts as `host`, `host:port` or `*.domain`"
        ));
    }
    // `[v6]` or `[v6]:port`: split after the bracket, not at the address's own colons.
    let split = match lower.strip_prefix('[') {
        Some(rest) => {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| format!("`{text}` has an unclosed `[`"))?;
            match after.strip_prefix(':') {
                Some(port) => Some((addr.to_string(), port.to_string())),
                None if after.is_empty() => Some((addr.to_string(), String::new())),
                None => return Err(format!("`{text}` is not a host name")),
            }
        }
        None => lower
            .rsplit_once(':')
            .map(|(h, p)| (h.to_string(), p.to_string())),
    };
    let (host, port) = match split.as_ref().map(|(h, p)| (h.as_str(), p.as_str())) {
        Some((h, "")) => (h.to_string(), PortRule::Default),
        Some((h, "*")) => (h.to_string(), PortRule::Any),
        Some((h, p)) => (
            h.to_string(),
            PortRule::Exact(p.parse().map_err(|_| format!("`{text}` has a bad port"))?),
        ),
        None => (lower.clone(), PortRule::Default),
    };
    let host = match host.strip_prefix("*.") {
        Some(suffix) if !suffix.is_empty() && !suffix.contains('*') => {
            HostMatch::Subdomain(suffix.to_string())
        }
        _ if host.contains('*') || host.is_empty() => {
            return Err(format!(
                "`{text}`: a wildcard is only allowed as a leading `*.`"
            ));
        }
        _ => HostMatch::Exact(host),
    };
    Ok(Rule {
        plain_http: false,
        host,
        port,
        credentials,
        operator: false,
        text: lower,
    })
}

/// Parse an operator origin such as `http://127.0.0.1:9000` or `https://proxy.corp`.
fn parse_origin(text: &str, credentials: bool) -> Result<Rule, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    let plain_http = match url.scheme() {
        "http" => true,
        "https" => false,
        other => return Err(format!("`{text}`: scheme `{other}` is not http or https")),
    };
    let host = url
        .host_str()
        .ok_or_else(|| format!("`{text}` has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let port = match url.port() {
        Some(p) => PortRule::Exact(p),
        None => PortRule::Default,
    };
    Ok(Rule {
        plain_http,
        host: HostMatch::Exact(host),
        port,
        credentials,
        operator: true,
        text: url.origin().ascii_serialization(),
    })
}

/// Why an address is off limits without the operator's opt-in, or `None` for a public address.
pub fn blocked_kind(addr: IpAddr) -> Option<&'static str> {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("loopback")
            } else if v4.is_private() {
                Some("private")
            } else if v4.is_link_local() {
                Some("link-local")
            } else if v4.is_unspecified() || o[0] == 0 {
                Some("unspecified")
            } else if v4.is_broadcast() || v4.is_multicast() {
                Some("broadcast or multicast")
            } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
                Some("shared (carrier-grade NAT)")
            } else if v4.is_documentation()
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 88 && o[2] == 99)
                || o[0] >= 240
            {
                Some("reserved")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return blocked_kind(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // IPv4-compatible (::a.b.c.d) and 6to4 (2002:abcd:efgh::) carry an IPv4 address.
            if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
                let [a, b] = s[6].to_be_bytes();
                let [c, d] = s[7].to_be_bytes();
                return blocked_kind(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)))
                    .or(Some("IPv4-compatible"));
            }
            if s[0] == 0x2002 {
                let [a, b] = s[1].to_be_bytes();
                let [c, d] = s[2].to_be_bytes();
                if let Some(kind) = blocked_kind(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))) {
                    return Some(kind);
                }
            }
            if v6.is_loopback() {
                Some("loopback")
            } else if v6.is_unspecified() {
                Some("unspecified")
            } else if (s[0] & 0xfe00) == 0xfc00 {
                Some("unique local (private)")
            } else if (s[0] & 0xffc0) == 0xfe80 {
                Some("link-local")
            } else if (s[0] & 0xffc0) == 0xfec0 {
                Some("site-local (private)")
            } else if s[0] == 0x0100 && s[1..4] == [0, 0, 0] {
                Some("discard-only")
            } else if v6.is_multicast() {
                Some("multicast")
            } else if s[0] == 0x2001 && s[1] == 0x0db8 {
                Some("reserved")
            } else if s[0] == 0x64 && s[1] == 0xff9b {
                // NAT64 can map onto any IPv4 address, private ones included.
                Some("NAT64")
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::bindings::p8::provider::types::AuthMethod;

    fn info(api: &[&str], plain: &[&str]) -> ProviderInfo {
        ProviderInfo {
            id: "t".into(),
            display_name: "t".into(),
            version: "0.1.0".into(),
            description: String::new(),
            api_hosts: api.iter().map(|s| s.to_string()).collect(),
            plain_hosts: plain.iter().map(|s| s.to_string()).collect(),
            auth: AuthMethod::None,
            capabilities: vec![],
            config_keys: vec![],
        }
    }

    fn check(p: &NetworkPolicy, url: &str) -> Result<Access, Violation> {
        p.check(&Url::parse(url).unwrap())
    }

    #[test]
    fn declared_hosts_are_https_on_443_only() {
        let p = NetworkPolicy::for_provider(
            &info(&["www.googleapis.com"], &[]),
            &ProviderOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            check(&p, "https://www.googleapis.com/drive/v3/files"),
            Ok(Access {
                credentials: true,
                operator_origin: false
            })
        );
        assert!(matches!(
            check(&p, "http://www.googleapis.com/x"),
            Err(Violation::PlainHttp { .. })
        ));
        assert!(matches!(
            check(&p, "https://www.googleapis.com:8443/x"),
            Err(Violation::UndeclaredHost { .. })
        ));
        assert!(matches!(
            check(&p, "https://evil.example/x"),
            Err(Violation::UndeclaredHost { .. })
        ));
        // A suffix trick must not pass.
        assert!(check(&p, "https://www.googleapis.com.evil.example/").is_err());
        // Neither do credentials in the URL, or another scheme on the same port.
        assert!(matches!(
            check(&p, "https://user:pw@www.googleapis.com/x"),
            Err(Violation::UrlCredentials { .. })
        ));
        assert!(matches!(
            check(&p, "wss://www.googleapis.com/x"),
            Err(Violation::Unsupported { .. })
        ));
    }

    #[test]
    fn wildcards_match_subdomains_and_plain_hosts_get_no_credentials() {
        let p = NetworkPolicy::for_provider(
            &info(&["api.dropboxapi.com"], &["*.dl.example.net"]),
            &ProviderOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            check(&p, "https://a.b.dl.example.net/f"),
            Ok(Access {
                credentials: false,
                operator_origin: false
            })
        );
        assert!(check(&p, "https://dl.example.net/f").is_err());
        assert!(check(&p, "https://xdl.example.net/f").is_err());
    }

    #[test]
    fn operator_api_base_allows_exactly_that_origin_with_credentials() {
        let overrides = ProviderOverrides {
            api_base: Some("http://127.0.0.1:9000/drive/v3".into()),
            ..Default::default()
        };
        let p =
            NetworkPolicy::for_provider(&info(&["www.googleapis.com"], &[]), &overrides).unwrap();
        assert_eq!(
            check(&p, "http://127.0.0.1:9000/drive/v3/files"),
            Ok(Access {
                credentials: true,
                operator_origin: true
            })
        );
        assert!(check(&p, "http://127.0.0.1:9001/").is_err());
    }

    #[test]
    fn bracketed_ipv6_declarations_match() {
        let p = NetworkPolicy::for_provider(
            &info(&["[::1]:8443", "[2001:db8::5]"], &[]),
            &ProviderOverrides::default(),
        )
        .unwrap();
        assert!(check(&p, "https://[::1]:8443/x").is_ok());
        assert!(check(&p, "https://[2001:db8::5]/x").is_ok());
        assert!(check(&p, "https://[::1]:9/x").is_err());
    }

    #[test]
    fn bad_declarations_are_refused() {
        for bad in ["", "https://x.com", "a*.b.com", "x.com:port", "user@x.com"] {
            assert!(
                NetworkPolicy::for_provider(&info(&[bad], &[]), &ProviderOverrides::default())
                    .is_err(),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn internal_addresses_are_classified() {
        for (addr, blocked) in [
            ("127.0.0.1", true),
            ("10.1.2.3", true),
            ("172.16.0.1", true),
            ("192.168.1.1", true),
            ("169.254.169.254", true),
            ("100.64.0.1", true),
            ("0.0.0.0", true),
            ("::1", true),
            ("fd00::1", true),
            ("fe80::1", true),
            ("::ffff:127.0.0.1", true),
            ("::10.0.0.1", true),
            ("2002:c0a8:0101::1", true),
            ("fec0::1", true),
            ("192.0.0.8", true),
            ("8.8.8.8", false),
            ("142.250.74.10", false),
            ("2a00:1450:4001::1", false),
        ] {
            let ip: IpAddr = addr.parse().unwrap();
            assert_eq!(blocked_kind(ip).is_some(), blocked, "{addr}");
        }
    }
}
