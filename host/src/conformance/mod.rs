//! `p8sync provider test`: a conformance suite that runs any provider component in the sandbox
//! and judges it against the contract: its info, listings (termination, resumable cursors,
//! stable unique ids, required fields), fetch plans (declared hosts only; bytes that match the
//! declared size and checksums), the change feed, its mapping of HTTP errors, and its
//! behaviour under the sandbox's limits.
//!
//! It runs live (against the real API or a fake), records (live, with every exchange saved to
//! a cassette at the host's mediation layer, secrets scrubbed), or replays a cassette offline.
//! In every mode it injects 401, 403, 404, 429 and 500 answers itself.

pub mod cassette;
mod checks;
pub mod faults;

use crate::config::RuntimeSettings;
use crate::runtime::intercept::Interceptor;
use crate::runtime::{CallContext, CredentialError, CredentialSource, Runtime};
use cassette::{Cassette, CassetteError, Player, Recorder, Scrubber};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where the provider's HTTP goes.
#[derive(Debug, Clone)]
pub enum Mode {
    /// To the network (the real API or a fake the operator pointed it at).
    Live,
    /// To the network, with every exchange saved to this cassette.
    Record(PathBuf),
    /// Nowhere: answers come from this cassette.
    Replay(PathBuf),
}

/// A credential for live and record runs.
#[derive(Clone)]
pub enum TestCredential {
    /// `Authorization: Bearer <token>`.
    Bearer(crate::secret::Secret),
    /// HTTP Basic.
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: crate::secret::Secret,
    },
}

impl TestCredential {
    fn source(&self) -> Arc<dyn CredentialSource> {
        use base64::Engine;
        let header = match self {
            TestCredential::Bearer(t) => format!("Bearer {}", t.expose()),
            TestCredential::Basic { username, password } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()))
            ),
        };
        Arc::new(FixedHeader(crate::secret::Secret::new(header)))
    }

    fn secrets(&self) -> Vec<String> {
        match self {
            TestCredential::Bearer(t) => vec![t.expose().to_string()],
            TestCredential::Basic { username, password } => {
                use base64::Engine;
                let pair = format!("{username}:{}", password.expose());
                vec![
                    password.expose().to_string(),
                    base64::engine::general_purpose::STANDARD.encode(pair),
                ]
            }
        }
    }
}

/// A credential that never changes (the harness does not refresh tokens).
struct FixedHeader(crate::secret::Secret);

impl CredentialSource for FixedHeader {
    fn authorization(
        &self,
    ) -> futures::future::BoxFuture<'static, Result<Option<crate::secret::Secret>, CredentialError>>
    {
        let header = self.0.clone();
        Box::pin(async move { Ok(Some(header)) })
    }
}

/// How to run the suite.
pub struct Options {
    /// The component file.
    pub component: PathBuf,
    /// Live, record or replay.
    pub mode: Mode,
    /// Provider config values (`key=value`); in replay the cassette's are used.
    pub config: BTreeMap<String, String>,
    /// The credential for live and record runs.
    pub credential: Option<TestCredential>,
    /// The folder to grant a `local-root` provider.
    pub root: Option<PathBuf>,
    /// The runtime settings (limits, network, operator overrides).
    pub settings: RuntimeSettings,
    /// The page size hint for listings.
    pub page_size: u32,
    /// How many files to fetch and verify.
    pub max_fetches: usize,
    /// The most pages a listing may take before it counts as endless.
    pub max_pages: usize,
}

/// How one check went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "lowercase")]
pub enum Outcome {
    /// It held; what was seen.
    Pass(String),
    /// It did not hold; why.
    Fail(String),
    /// It could not be judged; why.
    Skip(String),
}

/// One check's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckResult {
    /// The check's name, for example `list.terminates`.
    pub name: &'static str,
    /// How it went.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The suite's report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The provider's id, when it loaded.
    pub provider: Option<String>,
    /// The component file.
    pub component: PathBuf,
    /// Every check, in the order run.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| matches!(c.outcome, Outcome::Fail(_)))
    }

    /// The result of one check, by name.
    pub fn check(&self, name: &str) -> Option<&Outcome> {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.outcome)
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "provider test: {} ({})",
            self.provider.as_deref().unwrap_or("?"),
            self.component.display()
        )?;
        for c in &self.checks {
            let (tag, detail) = match &c.outcome {
                Outcome::Pass(d) => ("PASS", d),
                Outcome::Fail(d) => ("FAIL", d),
                Outcome::Skip(d) => ("SKIP", d),
            };
            writeln!(f, "  {tag}  {:<22} {detail}", c.name)?;
        }
        let count =
            |want: fn(&Outcome) -> bool| self.checks.iter().filter(|c| want(&c.outcome)).count();
        write!(
            f,
            "{} passed, {} failed, {} skipped",
            count(|o| matches!(o, Outcome::Pass(_))),
            count(|o| matches!(o, Outcome::Fail(_))),
            count(|o| matches!(o, Outcome::Skip(_)))
        )
    }
}

/// Why the suite could not run at all (a provider that runs and misbehaves gets a report).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// The cassette could not be read or written.
    #[error(transparent)]
    Cassette(#[from] CassetteError),
    /// The runtime could not start.
    #[error("the sandbox could not start: {0}")]
    Runtime(String),
    /// The cassette was recorded with another provider.
    #[error(
        "the cassette was recorded with provider `{recorded}`, but the component is `{loaded}`"
    )]
    WrongProvider {
        /// The cassette's provider.
        recorded: String,
        /// The component's.
        loaded: String,
    },
}

/// Run the suite.
pub async fn run(mut options: Options) -> Result<Report, HarnessError> {
    let mut report = Report {
        provider: None,
        component: options.component.clone(),
        checks: Vec::new(),
    };
    let replay = match &options.mode {
        Mode::Replay(path) => Some(Cassette::load(path)?),
        _ => None,
    };
    if let Some(c) = &replay {
        // Replay with the recording's config and origins, so the same requests are made and
        // pass the same sandbox checks; nothing reaches the network.
        let mut o = options.settings.overrides.get(&c.provider);
        o.api_base = c.api_base.clone();
        o.extra_hosts = c.allowed_hosts.clone();
        options.settings.overrides.set(&c.provider, o);
        options.config = c.config.clone();
    }
    let runtime =
        Runtime::new(options.settings.clone()).map_err(|e| HarnessError::Runtime(e.to_string()))?;
    let provider = match runtime.load_file(&options.component).await {
        Ok(p) => p,
        Err(e) => {
            report.checks.push(CheckResult {
                name: "info",
                outcome: Outcome::Fail(format!("the component does not load: {e}")),
            });
            return Ok(report);
        }
    };
    report.provider = Some(provider.id().to_string());
    if let Some(c) = &replay
        && c.provider != provider.id()
    {
        return Err(HarnessError::WrongProvider {
            recorded: c.provider.clone(),
            loaded: provider.id().to_string(),
        });
    }
    // Kept apart from the interceptor too, to read the recording or the misses afterwards.
    let mut recorder = None;
    let mut player = None;
    let interceptor: Option<Arc<dyn Interceptor>> = match (&options.mode, &replay) {
        (Mode::Replay(_), Some(c)) => {
            let p = Arc::new(Player::new(c));
            player = Some(p.clone());
            Some(p)
        }
        (Mode::Record(_), _) => {
            let secrets = options
                .credential
                .as_ref()
                .map(TestCredential::secrets)
                .unwrap_or_default();
            let r = Arc::new(Recorder::new(Scrubber::new(secrets)));
            recorder = Some(r.clone());
            Some(r)
        }
        _ => None,
    };
    let cx = CallContext {
        config: options.config.clone(),
        credentials: match &options.mode {
            Mode::Replay(_) => None,
            _ => options.credential.as_ref().map(TestCredential::source),
        },
        root: options.root.clone(),
        held_root: None,
        interceptor,
        usage: Some(Arc::new(crate::runtime::CallUsage::default())),
        account_server: None,
    };
    let suite = checks::Suite {
        provider: &provider,
        cx,
        page_size: options.page_size,
        max_fetches: options.max_fetches,
        max_pages: options.max_pages,
        call_timeout: options.settings.limits.call_timeout,
        memory_limit: options.settings.limits.memory_bytes,
    };
    report.checks = suite.run().await;
    if let Some(p) = player {
        let misses = p.misses();
        report.checks.push(CheckResult {
            name: "replay.complete",
            outcome: if misses.is_empty() {
                Outcome::Pass("every request had a recorded answer".into())
            } else {
                Outcome::Fail(format!(
                    "{} request(s) were not in the cassette (the provider's requests changed; record it again): {}",
                    misses.len(),
                    misses.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
                ))
            },
        });
    }
    if let (Some(r), Mode::Record(path)) = (recorder, &options.mode) {
        let overrides = provider.overrides();
        Cassette {
            format: cassette::FORMAT,
            provider: provider.id().to_string(),
            config: options.config.clone(),
            api_base: overrides.api_base,
            allowed_hosts: overrides.extra_hosts,
            interactions: r.interactions(),
        }
        .save(path)?;
    }
    Ok(report)
}

/// Defaults for the knobs of a run.
pub const DEFAULT_PAGE_SIZE: u32 = 100;
/// How many files a run fetches, by default.
pub const DEFAULT_MAX_FETCHES: usize = 20;
/// How many pages a listing may take, by default.
pub const DEFAULT_MAX_PAGES: usize = 10_000;
/// The per-call deadline the harness uses unless told otherwise (shorter than a sync's, so a
/// hanging provider is found quickly).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);
