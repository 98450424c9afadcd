//! `p8sync providers`, `p8sync provider inspect`, `test` and `approve`.

use super::{Cli, print_table};
use crate::runtime::Provider;
use crate::runtime::error::LoadError;
use crate::runtime::lock::Lock;
use crate::runtime::types::{AuthMethod, Capability};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

/// Options of `p8sync providers`.
#[derive(Debug, Args)]
pub struct ProvidersArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// `p8sync provider ...`
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Describe a component file without installing it: its id, versions, declared hosts,
    /// auth, capabilities and config keys. Fails with the reason when the file is not a
    /// usable provider.
    Inspect {
        /// The component (.wasm) to inspect.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run the conformance suite on a component in the sandbox and print a report (pass, fail
    /// or skip per check, with reasons). Exits non-zero when a check fails. Live by default
    /// (against the API, or the fake that `P8_<PROVIDER>_API_BASE` points at); `--record`
    /// saves every HTTP exchange to a cassette, tokens scrubbed; `--replay` runs offline from
    /// one.
    Test(TestArgs),
    /// Approve components: print what each asks for (its hosts, with and without the user's
    /// credential, and its OAuth endpoints) and pin it, with its sha256, in the lock file
    /// beside it (`providers.lock`). Only approved components load; a changed one is refused
    /// until it is approved again.
    Approve {
        /// The components (.wasm) to approve.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The lock file to write (default: `providers.lock` in each file's folder).
        #[arg(long)]
        lock: Option<PathBuf>,
    },
}

/// Options of `p8sync provider test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// The component (.wasm) to test.
    file: PathBuf,
    /// Record every HTTP exchange into this cassette file (a live run).
    #[arg(long, value_name = "CASSETTE", conflicts_with = "replay")]
    record: Option<PathBuf>,
    /// Answer every HTTP request from this cassette; nothing reaches the network.
    #[arg(long, value_name = "CASSETTE")]
    replay: Option<PathBuf>,
    /// A provider config value, `key=value` (repeatable; ignored in replay, which uses the
    /// cassette's).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// The environment variable holding a bearer token for a live or record run.
    #[arg(long, value_name = "VAR", conflicts_with = "basic_env")]
    token_env: Option<String>,
    /// The environment variable holding `user:password` for HTTP Basic.
    #[arg(long, value_name = "VAR")]
    basic_env: Option<String>,
    /// The folder to grant a `local-root` provider.
    #[arg(long)]
    root: Option<PathBuf>,
    /// The deadline of each call, in seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
    /// How many files to fetch and verify.
    #[arg(long, default_value_t = crate::conformance::DEFAULT_MAX_FETCHES)]
    max_fetches: usize,
    /// The page size hint for listings.
    #[arg(long, default_value_t = crate::conformance::DEFAULT_PAGE_SIZE)]
    page_size: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn test_credential(args: &TestArgs) -> Result<Option<crate::conformance::TestCredential>> {
    use crate::conformance::TestCredential;
    use crate::secret::Secret;
    let read = |var: &str| {
        std::env::var(var).map_err(|_| {
            anyhow::anyhow!(
                "the environment variable {var} is not set (it should hold the credential)"
            )
        })
    };
    if let Some(var) = &args.token_env {
        return Ok(Some(TestCredential::Bearer(Secret::new(read(var)?))));
    }
    if let Some(var) = &args.basic_env {
        let pair = read(var)?;
        let (username, password) = pair
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("{var} must hold `user:password`"))?;
        return Ok(Some(TestCredential::Basic {
            username: username.to_string(),
            password: Secret::new(password),
        }));
    }
    Ok(None)
}

async fn run_test(cli: &Cli, args: &TestArgs) -> Result<()> {
    use crate::conformance::{self, Mode, Options};
    let mut config = std::collections::BTreeMap::new();
    for pair in &args.config {
        let (k, v) = pair
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("--config `{pair}` must be KEY=VALUE"))?;
        config.insert(k.trim().to_string(), v.to_string());
    }
    super::ensure_private_dir(&cli.data_dir)?;
    let mut settings = crate::config::RuntimeSettings::from_env(&cli.data_dir)?;
    settings.limits.call_timeout = std::time::Duration::from_secs(args.timeout_secs.max(1));
    let mode = match (&args.record, &args.replay) {
        (Some(r), _) => Mode::Record(r.clone()),
        (_, Some(r)) => Mode::Replay(r.clone()),
        _ => Mode::Live,
    };
    let report = conformance::run(Options {
        component: args.file.clone(),
        mode,
        config,
        credential: test_credential(args)?,
        root: args.root.clone(),
        settings,
        page_size: args.page_size,
        max_fetches: args.max_fetches,
        max_pages: conformance::DEFAULT_MAX_PAGES,
    })
    .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    if !report.passed() {
        anyhow::bail!("the provider failed the conformance suite (see FAIL above)");
    }
    Ok(())
}

fn auth_kind(auth: &AuthMethod) -> &'static str {
    match auth {
        AuthMethod::None => "none",
        AuthMethod::Oauth2(_) => "oauth2",
        AuthMethod::BearerToken => "bearer-token",
        AuthMethod::Basic => "basic",
    }
}

fn capability_name(c: &Capability) -> &'static str {
    match c {
        Capability::ChangesFeed => "changes-feed",
        Capability::LocalRoot => "local-root",
        Capability::RangedFetch => "ranged-fetch",
    }
}

fn capabilities(p: &Provider) -> String {
    let caps: Vec<&str> = p.info().capabilities.iter().map(capability_name).collect();
    if caps.is_empty() {
        "-".into()
    } else {
        caps.join(",")
    }
}

fn hosts(p: &Provider) -> String {
    let info = p.info();
    let all: Vec<String> = info
        .api_hosts
        .iter()
        .cloned()
        .chain(
            info.plain_hosts
                .iter()
                .map(|h| format!("{h} (no credentials)")),
        )
        .collect();
    if all.is_empty() {
        "-".into()
    } else {
        all.join(",")
    }
}

fn describe_json(p: &Provider) -> serde_json::Value {
    let s = p.source();
    serde_json::json!({
        "id": p.id(),
        "info": p.info(),
        "wit_version": s.wit_version.to_string(),
        "file": s.path,
        "sha256": s.sha256,
        "builtin": s.builtin,
        "allowed_hosts": p.allowed_hosts(),
    })
}

pub(super) async fn run_providers(cli: &Cli, args: &ProvidersArgs) -> Result<()> {
    let runtime = cli.runtime()?;
    let registry = cli.registry(&runtime).await?;
    if args.json {
        let list: Vec<_> = registry.providers().map(|p| describe_json(p)).collect();
        let problems: Vec<String> = registry.problems().iter().map(|e| e.to_string()).collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "providers": list,
                "problems": problems,
                "dir": registry.dir(),
            }))?
        );
        return Ok(());
    }
    let mut rows: Vec<Vec<String>> = registry
        .providers()
        .map(|p| {
            vec![
                p.id().to_string(),
                if p.source().builtin {
                    "built-in"
                } else {
                    "approved"
                }
                .to_string(),
                p.info().version.clone(),
                p.source().wit_version.to_string(),
                auth_kind(&p.info().auth).to_string(),
                capabilities(p),
                hosts(p),
            ]
        })
        .collect();
    // Components refused for want of approval are listed too: the operator's next step.
    for problem in registry.problems() {
        let (id, state) = match problem {
            LoadError::NotApproved { id, .. } => (id, "NOT APPROVED"),
            LoadError::ApprovalChanged { id, .. } => (id, "CHANGED"),
            _ => continue,
        };
        let mut row = vec![id.clone(), state.to_string()];
        row.extend(std::iter::repeat_n("-".to_string(), 5));
        rows.push(row);
    }
    if rows.is_empty() {
        match registry.dir() {
            Some(dir) => println!("no providers are built in and none in {}", dir.display()),
            None => println!(
                "no providers are built in; set P8_PROVIDERS_DIR to a folder of components"
            ),
        }
    } else {
        print_table(
            &[
                "ID",
                "APPROVAL",
                "VERSION",
                "WIT",
                "AUTH",
                "CAPABILITIES",
                "HOSTS",
            ],
            &rows,
        );
    }
    Ok(())
}

async fn approve(cli: &Cli, files: &[PathBuf], lock: Option<&Path>) -> Result<()> {
    let runtime = cli.runtime()?;
    for file in files {
        let done = crate::runtime::lock::approve_file(&runtime, file, lock).await?;
        let id = &done.id;
        match &done.previous {
            Some(was) if *was == done.approval => {
                println!("{id}: already approved in {}", done.lock.display());
                continue;
            }
            Some(was) => {
                println!("{id}: approved again; what changed:");
                for d in was.differences(&done.approval) {
                    println!("  {d}");
                }
            }
            None => println!("{id}: approved"),
        }
        let mut shown = Lock::default();
        shown.approve(id, done.approval.clone());
        for line in shown
            .to_text()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            println!("  {line}");
        }
        println!("{id}: written to {}", done.lock.display());
    }
    Ok(())
}

pub(super) async fn run_provider(cli: &Cli, cmd: &ProviderCommand) -> Result<()> {
    match cmd {
        ProviderCommand::Test(args) => run_test(cli, args).await,
        ProviderCommand::Approve { files, lock } => approve(cli, files, lock.as_deref()).await,
        ProviderCommand::Inspect { file, json } => {
            let runtime = cli.runtime()?;
            let p = runtime.load_file(file).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&describe_json(&p))?);
                return Ok(());
            }
            let info = p.info();
            let s = p.source();
            println!("id:            {}", info.id);
            println!("name:          {}", info.display_name);
            println!("version:       {}", info.version);
            println!("interface:     p8:provider@{}", s.wit_version);
            println!("description:   {}", info.description);
            println!("auth:          {}", auth_kind(&info.auth));
            if let AuthMethod::Oauth2(o) = &info.auth {
                println!("  authorize:   {}", o.authorize_url);
                println!("  token:       {}", o.token_url);
                println!("  scopes:      {}", o.scopes.join(" "));
            }
            println!("capabilities:  {}", capabilities(&p));
            println!("hosts:         {}", hosts(&p));
            println!("allowed now:   {}", p.allowed_hosts());
            if !info.config_keys.is_empty() {
                println!("config keys:");
                for k in &info.config_keys {
                    let req = if k.required { " (required)" } else { "" };
                    println!("  {}{req}: {}", k.name, k.description);
                }
            }
            println!("file:          {}", s.path.display());
            println!("sha256:        {}", s.sha256);
            Ok(())
        }
    }
}
