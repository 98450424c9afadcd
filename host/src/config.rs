//! Settings from the environment (Percolate-compatible `P8_*` names) and the command line.

pub mod file;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Operator settings for one provider, from `P8_<PROVIDER>_*` environment variables.
///
/// `PROVIDER` is the upper-cased provider id, e.g. `P8_GOOGLE_DRIVE_API_BASE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderOverrides {
    /// `P8_<PROVIDER>_API_BASE`: the API base URL. Reaches the provider as config `api_base`
    /// and is added to its allow-list with credentials.
    pub api_base: Option<String>,
    /// `P8_<PROVIDER>_AUTH_URL`: the OAuth authorize URL (used by the host's login flow).
    pub auth_url: Option<String>,
    /// `P8_<PROVIDER>_TOKEN_URL`: the OAuth token URL (used by the host's token refresh).
    pub token_url: Option<String>,
    /// `P8_<PROVIDER>_ALLOWED_HOSTS`: extra hosts (comma separated) the provider may reach
    /// without credentials: `host`, `host:port`, `*.domain`, or an origin like `http://x:8080`.
    pub extra_hosts: Vec<String>,
    /// `P8_<PROVIDER>_REVOKE_URL`: the OAuth revocation URL (used by `auth revoke`).
    pub revoke_url: Option<String>,
    /// `P8_<PROVIDER>_USERINFO_URL`: where the host asks which account a login belongs to.
    pub userinfo_url: Option<String>,
    /// `P8_<PROVIDER>_SCOPES`: OAuth scopes to ask for instead of the provider's (space or
    /// comma separated).
    pub scopes: Vec<String>,
    /// `P8_<PROVIDER>_CLIENT_ID`: the OAuth client id (host only; never given to the provider).
    pub client_id: Option<String>,
    /// `P8_<PROVIDER>_CLIENT_SECRET`: the OAuth client secret (host only).
    pub client_secret: Option<crate::secret::Secret>,
    /// `P8_<PROVIDER>_CLIENT_AUTH`: how the host authenticates the client at the token
    /// endpoint, `body` (the default) or `basic`.
    pub client_auth: Option<ClientAuth>,
    /// `P8_<PROVIDER>_MAX_RPS`: the most requests per second this process sends for the
    /// provider, across all its syncs (so one big account can't use up an API quota that
    /// everyone shares).
    pub max_rps: Option<u32>,
}

/// How an OAuth client authenticates at a token endpoint (RFC 6749 section 2.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body: what Google, Microsoft, Dropbox and
    /// Box all document, and the only way Box takes.
    #[default]
    Body,
    /// HTTP Basic with the id and secret, for a server that takes only that.
    Basic,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "body" | "client_secret_post" => Ok(ClientAuth::Body),
            "basic" | "client_secret_basic" => Ok(ClientAuth::Basic),
            other => Err(format!(
                "`{other}` is not a client authentication: use `body` or `basic`"
            )),
        }
    }
}

impl ProviderOverrides {
    /// The settings the provider reads through `config-get`; they win over `provider_config`.
    pub fn as_config(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (key, value) in [
            ("api_base", &self.api_base),
            ("auth_url", &self.auth_url),
            ("token_url", &self.token_url),
        ] {
            if let Some(v) = value {
                out.insert(key.to_string(), v.clone());
            }
        }
        out
    }
}

/// The per-provider settings, as the suffix of `P8_<PROVIDER>_<SUFFIX>`: one list for the
/// environment reader below and the settings file ([`file`]).
pub const PROVIDER_SETTINGS: &[&str] = &[
    "API_BASE",
    "AUTH_URL",
    "TOKEN_URL",
    "ALLOWED_HOSTS",
    "REVOKE_URL",
    "USERINFO_URL",
    "SCOPES",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "CLIENT_AUTH",
    "MAX_RPS",
];

/// Operator overrides for every provider, keyed by provider id.
#[derive(Debug, Clone, Default)]
pub struct OperatorOverrides {
    by_provider: BTreeMap<String, ProviderOverrides>,
}

impl OperatorOverrides {
    /// Read the overrides for `ids` from the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Read the overrides from any list of variables (testable without touching the process).
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut by_provider: BTreeMap<String, ProviderOverrides> = BTreeMap::new();
        for (key, value) in vars {
            let Some(rest) = key.strip_prefix("P8_") else {
                continue;
            };
            let value = value.trim().to_string();
            if value.is_empty() {
                continue;
            }
            for suffix in PROVIDER_SETTINGS {
                let Some(provider) = rest
                    .strip_suffix(suffix)
                    .and_then(|p| p.strip_suffix('_'))
                    .filter(|p| !p.is_empty())
                else {
                    continue;
                };
                let entry = by_provider
                    .entry(provider.to_ascii_lowercase())
                    .or_default();
                match *suffix {
                    "API_BASE" => entry.api_base = Some(value.clone()),
                    "AUTH_URL" => entry.auth_url = Some(value.clone()),
                    "TOKEN_URL" => entry.token_url = Some(value.clone()),
                    "REVOKE_URL" => entry.revoke_url = Some(value.clone()),
                    "USERINFO_URL" => entry.userinfo_url = Some(value.clone()),
                    "CLIENT_ID" => entry.client_id = Some(value.clone()),
                    "CLIENT_SECRET" => {
                        entry.client_secret = Some(crate::secret::Secret::new(value.clone()))
                    }
                    "CLIENT_AUTH" => match value.parse() {
                        Ok(a) => entry.client_auth = Some(a),
                        Err(e) => tracing::warn!("{key}: {e}; ignored"),
                    },
                    "MAX_RPS" => match value.parse::<u32>() {
                        Ok(r) if r > 0 => entry.max_rps = Some(r),
                        _ => tracing::warn!(
                            "{key}=`{value}` is not a whole number of requests per second (at least 1); ignored"
                        ),
                    },
                    "SCOPES" => entry.scopes = split_list(&value, &[',', ' ']),
                    "ALLOWED_HOSTS" => entry.extra_hosts = split_list(&value, &[',']),
                    _ => unreachable!("every PROVIDER_SETTINGS suffix is handled"),
                }
            }
        }
        OperatorOverrides { by_provider }
    }

    /// Set the overrides of one provider.
    pub fn set(&mut self, provider_id: &str, overrides: ProviderOverrides) {
        self.by_provider.insert(provider_id.to_string(), overrides);
    }

    /// The overrides of one provider (empty when none are set).
    pub fn get(&self, provider_id: &str) -> ProviderOverrides {
        self.by_provider
            .get(provider_id)
            .cloned()
            .unwrap_or_default()
    }
}

/// Limits every provider instance runs under.
#[derive(Debug, Clone)]
pub struct SandboxLimits {
    /// Linear memory cap per instance (`P8_PROVIDER_MEMORY_MB`, default 128).
    pub memory_bytes: u64,
    /// Wall-clock deadline per call (`P8_PROVIDER_TIMEOUT_SECS`, default 60).
    pub call_timeout: Duration,
    /// How many instances may exist at once (`P8_PROVIDER_INSTANCES`, default 64); sizes the
    /// pooling allocator.
    pub max_instances: u32,
    /// Linear memory cap per extractor instance (`P8_EXTRACT_MEMORY_MB`, default 256): the most
    /// an extractor is granted, whatever it asks for.
    pub extractor_memory_bytes: u64,
}

impl SandboxLimits {
    /// The largest memory cap any component may be granted (sizes the pooling allocator).
    pub fn largest_memory_bytes(&self) -> u64 {
        self.memory_bytes.max(self.extractor_memory_bytes)
    }
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 128 * 1024 * 1024,
            call_timeout: Duration::from_secs(60),
            max_instances: 64,
            extractor_memory_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Outbound HTTP settings for providers.
#[derive(Debug, Clone)]
pub struct NetworkSettings {
    /// Allow loopback and private addresses (`P8_ALLOW_PRIVATE_NETWORKS=true`). Off by default:
    /// a declared name must not be a way into the operator's network.
    pub allow_private: bool,
    /// Time allowed to connect (including TLS).
    pub connect_timeout: Duration,
    /// Time allowed between sending a request and the first response byte.
    pub first_byte_timeout: Duration,
    /// Time allowed between two chunks of a response body.
    pub between_bytes_timeout: Duration,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            allow_private: false,
            connect_timeout: Duration::from_secs(10),
            first_byte_timeout: Duration::from_secs(60),
            between_bytes_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything the provider runtime needs.
#[derive(Debug, Clone, Default)]
pub struct RuntimeSettings {
    /// Where precompiled components are cached (`None`: no cache, compile every time).
    pub cache_dir: Option<PathBuf>,
    /// Per-instance limits.
    pub limits: SandboxLimits,
    /// Outbound HTTP.
    pub network: NetworkSettings,
    /// Operator overrides per provider.
    pub overrides: OperatorOverrides,
    /// Write `/tmp/perf-<pid>.map` so `perf` can name the functions of compiled components
    /// (`P8_PERF_MAP=1`; for profiling a component, off by default).
    pub perf_map: bool,
}

/// The items of a list setting (`a, b,c`), trimmed, without empty ones.
pub fn split_list(value: &str, separators: &[char]) -> Vec<String> {
    value
        .split(separators)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}={value:?} is invalid: {reason}")]
pub struct SettingError {
    name: String,
    value: String,
    reason: String,
}

impl RuntimeSettings {
    /// Settings from the environment, with the cache under `data_dir`.
    pub fn from_env(data_dir: &std::path::Path) -> Result<Self, SettingError> {
        let mut limits = SandboxLimits::default();
        if let Some(mb) = env_number("P8_PROVIDER_MEMORY_MB")? {
            limits.memory_bytes = mb.clamp(1, 1 << 20) * 1024 * 1024;
        }
        if let Some(secs) = env_number("P8_PROVIDER_TIMEOUT_SECS")? {
            limits.call_timeout = Duration::from_secs(secs);
        }
        if let Some(mb) = env_number("P8_EXTRACT_MEMORY_MB")? {
            limits.extractor_memory_bytes = mb.clamp(16, 4096) * 1024 * 1024;
        }
        if let Some(n) = env_number("P8_PROVIDER_INSTANCES")? {
            limits.max_instances = n.clamp(1, 10_000) as u32;
        }
        let network = NetworkSettings {
            allow_private: env_bool("P8_ALLOW_PRIVATE_NETWORKS")?.unwrap_or(false),
            ..NetworkSettings::default()
        };
        let cache_dir = component_cache_dir(
            std::env::var_os("P8_CACHE_DIR"),
            std::env::var_os("XDG_CACHE_HOME"),
            std::env::var_os("HOME"),
            data_dir,
        );
        Ok(RuntimeSettings {
            cache_dir: Some(cache_dir),
            limits,
            network,
            overrides: OperatorOverrides::from_env(),
            perf_map: env_bool("P8_PERF_MAP")?.unwrap_or(false),
        })
    }
}

/// Where compiled components are cached: `P8_CACHE_DIR`, else the user's cache folder
/// (`$XDG_CACHE_HOME/p8sync/components`, `~/.cache/p8sync/components`), else the data
/// directory. A compiled component depends only on the component and the engine, so one cache
/// per machine serves every data directory: a new one starts without compiling anything.
fn component_cache_dir(
    explicit: Option<std::ffi::OsString>,
    xdg_cache: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    data_dir: &std::path::Path,
) -> PathBuf {
    let set = |v: Option<std::ffi::OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(explicit) {
        return dir;
    }
    // Relative values are invalid under the XDG spec and would depend on the working folder.
    if let Some(dir) = set(xdg_cache).filter(|d| d.is_absolute()) {
        return dir.join("p8sync").join("components");
    }
    if let Some(home) = set(home).filter(|d| d.is_absolute()) {
        return home.join(".cache").join("p8sync").join("components");
    }
    data_dir.join("cache").join("components")
}

fn env_number(name: &str) -> Result<Option<u64>, SettingError> {
    env_parsed(name, "expected a positive whole number", |n: &u64| *n > 0)
}

/// A variable read as a `T` that passes `valid`, `None` when unset or blank, and an error
/// that names the variable and says what was `expected` otherwise.
pub(crate) fn env_parsed<T: std::str::FromStr>(
    name: &str,
    expected: &str,
    valid: impl Fn(&T) -> bool,
) -> Result<Option<T>, SettingError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<T>()
            .ok()
            .filter(valid)
            .map(Some)
            .ok_or_else(|| SettingError {
                name: name.into(),
                value: v.clone(),
                reason: expected.into(),
            }),
        _ => Ok(None),
    }
}

/// This process's name among replicas, for lease tokens and logs: `<HOSTNAME>/<pid>`.
pub fn replica_name() -> String {
    format!(
        "{}/{}",
        std::env::var("HOSTNAME").unwrap_or_else(|_| "p8sync".into()),
        std::process::id()
    )
}

fn env_bool(name: &str) -> Result<Option<bool>, SettingError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => match v.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(Some(true)),
            "0" | "false" | "no" | "off" => Ok(Some(false)),
            _ => Err(SettingError {
                name: name.into(),
                value: v.clone(),
                reason: "expected true or false".into(),
            }),
        },
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_components_are_cached_per_machine() {
        let data = std::path::Path::new("/srv/p8/data");
        let os = |s: &str| Some(std::ffi::OsString::from(s));
        let dir = |e, x, h| component_cache_dir(e, x, h, data);
        assert_eq!(
            dir(os("/var/cache/p8"), os("/x"), os("/home/u")),
            PathBuf::from("/var/cache/p8")
        );
        assert_eq!(
            dir(None, os("/x"), os("/home/u")),
            PathBuf::from("/x/p8sync/components")
        );
        assert_eq!(
            dir(os(""), os("relative"), os("/home/u")),
            PathBuf::from("/home/u/.cache/p8sync/components")
        );
        assert_eq!(
            dir(None, None, None),
            PathBuf::from("/srv/p8/data/cache/components")
        );
    }

    #[test]
    fn overrides_are_read_per_provider() {
        let o = OperatorOverrides::from_vars([
            (
                "P8_GOOGLE_DRIVE_API_BASE".to_string(),
                "http://127.0.0.1:9000".to_string(),
            ),
            (
                "P8_GOOGLE_DRIVE_TOKEN_URL".to_string(),
                "http://127.0.0.1:9000/token".to_string(),
            ),
            (
                "P8_DROPBOX_ALLOWED_HOSTS".to_string(),
                "a.example, *.b.example".to_string(),
            ),
            ("P8_PG_HOST".to_string(), "db".to_string()),
            ("HOME".to_string(), "/root".to_string()),
        ]);
        let g = o.get("google_drive");
        assert_eq!(g.api_base.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(g.token_url.as_deref(), Some("http://127.0.0.1:9000/token"));
        assert_eq!(
            g.as_config().get("api_base").map(String::as_str),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(
            o.get("dropbox").extra_hosts,
            vec!["a.example", "*.b.example"]
        );
        assert_eq!(o.get("local"), ProviderOverrides::default());
    }
}
