//! The command line: one file per command group.

mod auth;
mod config;
mod extractors;
mod ingest;
mod list;
mod providers;
mod serve;
mod show;
mod sync;
mod user;

use crate::config::RuntimeSettings;
use crate::logging::LogFormat;
use crate::runtime::{Registry, Runtime};
pub(crate) use crate::units::human_bytes;
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// p8sync keeps files from storage providers (Google Drive, Dropbox, a local folder, ...)
/// synced into object storage. Providers are sandboxed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "p8sync", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Where p8sync keeps its state: the component cache (and, later, the embedded database
    /// and objects).
    #[arg(long, global = true, env = "P8_DATA_DIR", default_value = ".p8sync")]
    pub data_dir: PathBuf,

    /// A folder of provider components (*.wasm) to add to the built-in ones; a component
    /// there with a built-in's id replaces it. Each must be approved in its providers.lock.
    /// Defaults to a `providers` folder next to the binary, if there is one.
    #[arg(long, global = true, env = "P8_PROVIDERS_DIR")]
    pub providers_dir: Option<PathBuf>,

    /// A folder of extractor components (*.wasm), the sandboxed parsers of PDF, Office, HTML
    /// and audio files, to add to the built-in ones (the same id replaces a built-in). Defaults
    /// to an `extractors` folder next to the binary, if there is one.
    #[arg(long, global = true, env = "P8_EXTRACTORS_DIR")]
    pub extractors_dir: Option<PathBuf>,

    /// Do not apply database migrations at start-up (run `p8sync migrate` instead).
    #[arg(long, global = true, env = "P8_NO_MIGRATE")]
    pub no_migrate: bool,

    /// A TOML file of settings. A key is an environment variable's name in lower case without
    /// `P8_` (`listen`, `pg_host`, `database_url`); `[pg] host` is `pg_host`. Flags and the
    /// environment win over it.
    #[arg(long, global = true, env = "P8_CONFIG", value_name = "FILE")]
    pub config_file: Option<PathBuf>,

    /// Log lines as text or JSON; auto is JSON when stderr is not a terminal.
    #[arg(
        long,
        global = true,
        env = "P8_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    pub log_format: LogFormat,

    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides this.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// The components built into the binary (set by `main`; none in the library).
    #[arg(skip)]
    pub builtins: crate::builtin::Builtins,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the installed providers: id, version, interface version, hosts, auth and
    /// capabilities. Files that failed to load are reported with the reason.
    Providers(providers::ProvidersArgs),
    /// List the installed extractors (the sandboxed parsers): id, version, formats, output,
    /// memory. Files that failed to load are reported with the reason.
    Extractors(extractors::ExtractorsArgs),
    /// Work with one provider component file.
    #[command(subcommand)]
    Provider(providers::ProviderCommand),
    /// Print what a provider sees: run its listing in the sandbox and print every entry.
    /// Handy for debugging a provider.
    ///
    /// Example: p8sync list --provider local --root ./samples
    List(list::ListArgs),
    /// Sync a folder (zero set-up) or a stored config into the object store.
    ///
    /// Example: p8sync sync ./samples
    Sync(sync::SyncArgs),
    /// The recorded state of a config's files.
    Files(sync::FilesArgs),
    /// One file (by id or path): its record, its object, and what ingestion made of it (the
    /// text chunks, or the audio with its chunks and transcript).
    ///
    /// Example: p8sync show Work/notes.txt
    Show(show::ShowArgs),
    /// Sync runs, newest first.
    Logs(sync::LogsArgs),
    /// Manage sync configs.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Provider credentials: log in, import, status, revoke.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// Run as a service: sync due configs and ingest on schedule (any number of replicas on
    /// one Postgres), with the HTTP API. SIGTERM stops it after the work under way.
    ///
    /// Example: p8sync serve --listen 0.0.0.0:8080
    Serve(serve::ServeArgs),
    /// The ingestion queue: run it, see it, retry what failed.
    #[command(subcommand)]
    Ingest(ingest::IngestCommand),
    /// API keys for `p8sync serve`: create (prints the key once), list, revoke.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Create or update the database schema, and say which database that is.
    Migrate,
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    match &cli.command {
        Command::Providers(args) => providers::run_providers(&cli, args).await,
        Command::Provider(cmd) => providers::run_provider(&cli, cmd).await,
        Command::Extractors(args) => extractors::run(&cli, args).await,
        Command::List(args) => list::run(&cli, args).await,
        Command::Sync(args) => sync::run_sync(&cli, args).await,
        Command::Files(args) => sync::run_files(&cli, args).await,
        Command::Show(args) => show::run(&cli, args).await,
        Command::Logs(args) => sync::run_logs(&cli, args).await,
        Command::Config(cmd) => config::run(&cli, cmd).await,
        Command::Auth(cmd) => auth::run(&cli, cmd).await,
        Command::Ingest(cmd) => ingest::run(&cli, cmd).await,
        Command::Serve(args) => serve::run(&cli, args).await,
        Command::User(cmd) => user::run(&cli, cmd).await,
        Command::Migrate => {
            ensure_private_dir(&cli.data_dir)?;
            let target = crate::store::StoreTarget::from_env(&cli.data_dir)?;
            target.open(true).await?;
            println!("migrated {}", target.describe());
            Ok(())
        }
    }
}

impl Cli {
    /// The runtime, with its component cache under the data directory.
    pub(crate) fn runtime(&self) -> Result<Runtime> {
        ensure_private_dir(&self.data_dir)?;
        let settings = RuntimeSettings::from_env(&self.data_dir)?;
        Ok(Runtime::new(settings)?)
    }

    /// The providers directory in effect besides the built-in providers, if any.
    pub(crate) fn providers_dir(&self) -> Option<PathBuf> {
        self.providers_dir
            .clone()
            .or_else(|| beside_binary("providers"))
    }

    /// The extractors, built-in and from the extractors directory, loaded lazily, under the
    /// `P8_EXTRACT_*` caps, in `runtime`'s sandbox.
    pub(crate) fn extractors(
        &self,
        runtime: &Runtime,
        limits: crate::extract::ExtractLimits,
    ) -> crate::extract::Extractors {
        let dir = self
            .extractors_dir
            .clone()
            .or_else(|| beside_binary("extractors"));
        crate::extract::Extractors::new(runtime.clone(), dir, limits)
            .with_builtins(self.builtins.extractors)
    }

    /// The application layer, with the state store and the installed providers, and no
    /// credentials (see [`Cli::app_with_credentials`]).
    pub(crate) async fn app(&self) -> Result<crate::app::App> {
        let store = self.store().await?;
        self.app_on(store, false).await
    }

    /// The application layer with the credentials too: opening them may generate the
    /// embedded database's encryption key, which only commands that use them should do.
    pub(crate) async fn app_with_credentials(&self) -> Result<crate::app::App> {
        let store = self.store().await?;
        self.app_on(store, true).await
    }

    /// The application layer over a store the command has opened already (opening it runs
    /// the migrations; once is enough).
    pub(crate) async fn app_on(
        &self,
        store: Arc<dyn crate::store::Store>,
        credentials: bool,
    ) -> Result<crate::app::App> {
        let runtime = self.runtime()?;
        let registry = Arc::new(self.registry(&runtime).await?);
        let tokens = if credentials {
            Some(self.tokens(store.clone()).await?)
        } else {
            None
        };
        Ok(crate::app::App {
            store,
            registry,
            tokens,
            // The operator may point a local config anywhere; API users may not.
            local_roots: crate::sync::validate::LocalRoots::Anywhere,
        })
    }

    /// Load the registry, reporting files that failed to load on stderr.
    pub(crate) async fn registry(&self, runtime: &Runtime) -> Result<Registry> {
        let dir = self.providers_dir();
        let registry = Registry::load(runtime, self.builtins.providers, dir.as_deref()).await?;
        for problem in registry.problems() {
            eprintln!("warning: {problem}");
        }
        Ok(registry)
    }
}

/// A `name` folder next to the binary, or beside its `bin` folder (`/opt/p8sync/bin/p8sync`
/// and `/opt/p8sync/providers`).
fn beside_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let up = (dir.file_name()? == "bin")
        .then(|| dir.parent().map(|up| up.join(name)))
        .flatten();
    [Some(dir.join(name)), up]
        .into_iter()
        .flatten()
        .find(|c| c.is_dir())
}

/// Create the data directory readable by its owner only: it holds the component cache, whose
/// artifacts are loaded as native code.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<()> {
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot restrict {}", dir.display()))?;
        }
    }
    Ok(())
}

/// Print items as JSON lines (one object per line).
pub(crate) fn print_json_lines<T: serde::Serialize>(items: &[T]) -> Result<()> {
    for item in items {
        println!("{}", serde_json::to_string(item)?);
    }
    Ok(())
}

/// Print rows as aligned columns.
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len() - 1;
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(&cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                out.push_str(&cell);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        println!("{}", out.trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}
