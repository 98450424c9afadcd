//! `p8sync ingest run|status|retry`: drain the ingestion queue and see where it stands.

use super::Cli;
use crate::ingest::{DrainReport, IngestOptions, Ingestor};
use crate::store::ids::ConfigId;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};

/// The `ingest` commands.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Run every due ingestion job, then stop. Jobs waiting for a retry later are left.
    ///
    /// Example: p8sync ingest run --config ID --all   (re-ingest every file of a config)
    Run(RunArgs),
    /// Jobs per status, and each job of a config with its last error.
    Status(StatusArgs),
    /// Queue dead and waiting jobs again now (of one config, or all), and run them.
    Retry(RetryArgs),
}

/// Options of `p8sync ingest run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// First queue this config's synced files that have no job yet.
    #[arg(long)]
    config: Option<ConfigId>,
    /// With --config: queue every synced file of it again (after changing the routes or the
    /// chunk size, say).
    #[arg(long, requires = "config")]
    all: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `p8sync ingest status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// List this config's jobs too.
    #[arg(long)]
    config: Option<ConfigId>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `p8sync ingest retry`.
#[derive(Debug, Args)]
pub struct RetryArgs {
    /// Only this config's jobs (default: every config's).
    #[arg(long)]
    config: Option<ConfigId>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

impl Cli {
    /// An ingestor over this command line's store and object store, set up from `P8_INGEST_*`.
    /// Documents and audio are parsed by the extractors, in `runtime`'s sandbox.
    pub(crate) async fn ingestor(
        &self,
        store: std::sync::Arc<dyn crate::store::Store>,
        runtime: &crate::runtime::Runtime,
    ) -> Result<Ingestor> {
        let mut options = IngestOptions::from_env()?;
        if options.scratch_dir.is_none() {
            options.scratch_dir = Some(self.data_dir.join("scratch"));
        }
        let extractors = std::sync::Arc::new(self.extractors(runtime, options.limits.clone()));
        Ok(Ingestor::new(store, self.blob().await, options).with_extractors(extractors))
    }
}

/// Run an `ingest` command.
pub(super) async fn run(cli: &Cli, command: &IngestCommand) -> Result<()> {
    let store = cli.store().await?;
    match command {
        IngestCommand::Run(args) => {
            if let Some(config) = args.config {
                require_config(store.as_ref(), config).await?;
                store.enqueue_config(config, args.all).await?;
            }
            let report = cli.ingestor(store, &cli.runtime()?).await?.drain().await?;
            print_report(&report, args.json)
        }
        IngestCommand::Retry(args) => {
            let configs = match args.config {
                Some(config) => {
                    require_config(store.as_ref(), config).await?;
                    vec![config]
                }
                None => store.configs(None).await?.iter().map(|c| c.id).collect(),
            };
            for config in configs {
                store.enqueue_config(config, false).await?;
            }
            let report = cli.ingestor(store, &cli.runtime()?).await?.drain().await?;
            print_report(&report, args.json)
        }
        IngestCommand::Status(args) => {
            let depth = store.queue_depth().await?;
            let jobs = match args.config {
                Some(config) => {
                    require_config(store.as_ref(), config).await?;
                    store.ingest_jobs(Some(config)).await?
                }
                None => vec![],
            };
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "queue": depth,
                        "jobs": jobs,
                    }))?
                );
                return Ok(());
            }
            println!(
                "queued {}, running {}, done {}, dead {}",
                depth.queued, depth.running, depth.done, depth.dead
            );
            if let Some(config) = args.config {
                let files = store.files(config).await?;
                let rows: Vec<Vec<String>> = jobs
                    .iter()
                    .map(|j| {
                        let path = files
                            .iter()
                            .find(|f| f.id == j.file_id)
                            .and_then(|f| f.remote_path.clone())
                            .unwrap_or_else(|| j.file_id.to_string());
                        vec![
                            j.status.to_string(),
                            j.attempts.to_string(),
                            path,
                            j.last_error.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                super::print_table(&["JOB", "ATTEMPTS", "PATH", "LAST ERROR"], &rows);
            }
            Ok(())
        }
    }
}

async fn require_config(store: &dyn crate::store::Store, config: ConfigId) -> Result<()> {
    store
        .config(config)
        .await?
        .map(|_| ())
        .with_context(|| format!("no sync config with id {config}; see `p8sync config list`"))
}

/// One line for people, or the report as JSON.
pub(super) fn print_report(report: &DrainReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("ingestion: {}", summary(report));
    }
    Ok(())
}

/// `3 ingested, 1 transcribed, ...`, naming only what happened.
pub(super) fn summary(r: &DrainReport) -> String {
    let parts: Vec<String> = [
        (r.ingested, "ingested"),
        (r.transcribed, "transcribed"),
        (r.untranscribed, "chunked without a transcript"),
        (r.stored, "stored only"),
        (r.not_ingestible, "not ingestible"),
        (r.removed, "removed"),
        (r.retrying, "to retry later"),
        (r.dead, "given up"),
        (r.superseded, "superseded"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, what)| format!("{n} {what}"))
    .collect();
    if parts.is_empty() {
        "nothing to do".into()
    } else {
        parts.join(", ")
    }
}
