//! `p8sync sync`, `p8sync files`, `p8sync logs`.

use super::Cli;
use crate::blob::BlobStore;
use crate::blob::local::LocalBlobStore;
use crate::blob::s3::{S3BlobStore, S3Settings};
use crate::store::ids::{ConfigId, LogId, UserId, make_uuid};
use crate::store::{CancelOutcome, Store, StoreTarget, SyncConfig};
use crate::sync::{SyncEngine, SyncOptions, SyncReport};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `p8sync sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// A local folder to sync, with zero set-up: creates (or reuses) a `local` config for it in
    /// the embedded store and copies new and changed files into the object store.
    folder: Option<PathBuf>,
    /// Sync this config (by id) instead.
    #[arg(long, conflicts_with_all = ["folder", "user", "all_due"])]
    config: Option<ConfigId>,
    /// Sync this user's enabled configs that are due (with `--all`, every enabled one).
    #[arg(long, conflicts_with_all = ["folder", "all_due"])]
    user: Option<UserId>,
    /// With `--user`: every enabled config of the user, due or not.
    #[arg(long, requires = "user")]
    all: bool,
    /// Sync every enabled config whose next sync is due, taking each config's lease as
    /// `p8sync serve` does, so both can run at once (from cron, next to the service) without a
    /// config running twice.
    #[arg(long, conflicts_with = "folder")]
    all_due: bool,
    /// Files transferred at once.
    #[arg(long, default_value_t = 4)]
    transfers: usize,
    /// Show what would be transferred, change nothing.
    #[arg(long)]
    dry_run: bool,
    /// List everything, even when a change cursor is saved (a sync whose filters changed does
    /// this by itself).
    #[arg(long)]
    full: bool,
    /// Leave ingestion to `p8sync ingest run` (or a service); by default new and changed
    /// files are ingested after each config's sync.
    #[arg(long)]
    no_ingest: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Options of `p8sync files`.
#[derive(Debug, Args)]
pub struct FilesArgs {
    /// The config whose files to list.
    #[arg(long)]
    config: ConfigId,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

/// Options of `p8sync logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this config's runs.
    #[arg(long)]
    config: Option<ConfigId>,
    /// How many runs, newest first.
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
    /// Stop this run (a log id): a queued one never starts, a running one (here or on any
    /// replica) starts no new file and ends within seconds as `cancelled`.
    #[arg(long, value_name = "LOG_ID")]
    cancel: Option<LogId>,
}

/// The user that owns zero-set-up configs: `P8_USER_ID`, or a fixed id for "local".
pub(crate) fn default_user() -> Result<UserId> {
    match std::env::var("P8_USER_ID") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("P8_USER_ID={v:?} is not a uuid")),
        _ => Ok(UserId(make_uuid(&[("user", "local")]))),
    }
}

impl Cli {
    pub(crate) async fn store(&self) -> Result<Arc<dyn Store>> {
        super::ensure_private_dir(&self.data_dir)?;
        let target = StoreTarget::from_env(&self.data_dir)?;
        Ok(target.open(!self.no_migrate).await?)
    }

    /// The credential store: tokens sealed under `P8_ENCRYPTION_KEY`, or (embedded SQLite
    /// only) a key generated into the data directory.
    pub(crate) async fn tokens(
        &self,
        store: Arc<dyn Store>,
    ) -> Result<Arc<crate::oauth::TokenManager>> {
        let shared = matches!(
            StoreTarget::from_env(&self.data_dir)?,
            StoreTarget::Postgres { .. }
        );
        let keyring = crate::oauth::Keyring::from_env(&self.data_dir, shared)?;
        Ok(Arc::new(crate::oauth::TokenManager::new(
            store,
            Arc::new(keyring),
        )))
    }

    /// S3 when a bucket is configured (`S3_BUCKET_NAME` and friends), else the local object
    /// folder under the data directory.
    pub(crate) async fn blob(&self) -> Arc<dyn BlobStore> {
        match S3Settings::from_env() {
            Some(settings) => Arc::new(S3BlobStore::new(settings).await),
            None => Arc::new(LocalBlobStore::new(self.data_dir.join("objects"))),
        }
    }
}

pub(super) async fn run_sync(cli: &Cli, args: &SyncArgs) -> Result<()> {
    let store = cli.store().await?;
    let configs = if let Some(folder) = &args.folder {
        vec![folder_config(store.as_ref(), folder, args.dry_run).await?]
    } else if let Some(id) = args.config {
        vec![
            store.config(id).await?.with_context(|| {
                format!("no sync config with id {id}; see `p8sync config list`")
            })?,
        ]
    } else if args.user.is_some() {
        let now = chrono::Utc::now();
        store
            .configs(args.user)
            .await?
            .into_iter()
            .filter(|c| c.enabled && (args.all || c.next_sync_at.is_none_or(|t| t <= now)))
            .collect()
    } else if args.all_due {
        // Claimed one at a time below, under a lease.
        Vec::new()
    } else {
        bail!(
            "give a folder to sync, or --config ID, --user ID or --all-due (see p8sync sync --help)"
        )
    };

    let runtime = cli.runtime()?;
    let registry = Arc::new(cli.registry(&runtime).await?);
    let bar = progress_bar(args.json);
    let options = SyncOptions {
        transfers: args.transfers,
        dry_run: args.dry_run,
        full: args.full,
        progress: bar.clone().map(|bar| {
            Arc::new(move |p: crate::sync::Progress| {
                bar.set_message(format!("{}/{} files", p.files_done, p.files_total));
                bar.set_length(p.bytes_total);
                bar.set_position(p.bytes_done);
            }) as crate::sync::ProgressFn
        }),
        ..SyncOptions::from_env()?
    };
    let needs_tokens = configs.iter().any(|c| {
        registry
            .get(&c.provider)
            .is_ok_and(|p| !matches!(p.info().auth, crate::runtime::types::AuthMethod::None))
    });
    let mut engine = SyncEngine::new(store.clone(), cli.blob().await, registry, options);
    if needs_tokens {
        engine = engine.with_tokens(cli.tokens(store.clone()).await?);
    }
    let ingestor = match args.no_ingest || args.dry_run {
        true => None,
        false => Some(cli.ingestor(store.clone(), &runtime).await?),
    };
    if let Some(ingestor) = &ingestor {
        engine = engine.with_triage(Arc::new(ingestor.clone()));
    }
    let mut failed = Vec::new();
    let mut ran = 0usize;
    let several = configs.len() > 1 || args.all_due;
    let finish = Finish {
        ingestor: ingestor.as_ref(),
        bar: bar.as_ref(),
        json: args.json,
        several,
    };
    for config in &configs {
        ran += 1;
        let outcome = engine.run(config).await;
        finish.one(config, outcome, &mut failed).await?;
    }
    if args.all_due {
        let owner = format!("{}/{}", crate::config::replica_name(), uuid::Uuid::new_v4());
        let lease = std::time::Duration::from_secs(60);
        let mut seen = std::collections::HashSet::new();
        // Bounded: a config is run at most once per invocation, even if it is due again after
        // its run (a dry run does not move its schedule).
        while let Some(claim) = store.claim_due_config(&owner, lease).await? {
            let config = claim.config;
            if !seen.insert(config.id) {
                store.release_config(config.id, &owner).await?;
                break;
            }
            ran += 1;
            match crate::scheduler::sync_held(&store, &engine, &config, &owner, lease).await {
                Some(outcome) => finish.one(&config, outcome, &mut failed).await?,
                None => eprintln!(
                    "{}: another replica took the config over while it ran; it records the outcome",
                    config.name
                ),
            }
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    match failed.len() {
        0 => Ok(()),
        1 => bail!("{}", failed[0]),
        n => bail!("{n} of {ran} configs had failures: {}", failed.join("; ")),
    }
}

/// What happens after each config's run: ingestion, the report, and its failures noted.
struct Finish<'a> {
    ingestor: Option<&'a crate::ingest::Ingestor>,
    bar: Option<&'a indicatif::ProgressBar>,
    json: bool,
    /// More than one config may run: one config's error does not stop the others.
    several: bool,
}

impl Finish<'_> {
    async fn one(
        &self,
        config: &SyncConfig,
        outcome: Result<SyncReport, crate::sync::SyncError>,
        failed: &mut Vec<String>,
    ) -> Result<()> {
        match outcome {
            Ok(report) => {
                let ingested = match self.ingestor {
                    Some(ingestor) => Some(ingestor.drain().await?),
                    None => None,
                };
                let print = || print_report(config, &report, ingested.as_ref(), self.json);
                match self.bar {
                    Some(bar) => bar.suspend(print)?,
                    None => print()?,
                }
                if !report.success {
                    failed.push(format!(
                        "{}: {} of {} files failed (see `p8sync files --config {}`)",
                        config.name,
                        report.files_failed,
                        report.files_failed + report.files_synced,
                        config.id
                    ));
                }
            }
            Err(e) if self.several => {
                eprintln!("error: {e}");
                failed.push(format!("{}: {e}", config.name));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }
}

/// A files-and-bytes progress bar on stderr, when stderr is a terminal and output is for people.
fn progress_bar(json: bool) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if json || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    Some(bar)
}

/// The zero-set-up config for a local folder: created on first use (unless this is a dry run,
/// which changes nothing), reused after.
async fn folder_config(
    store: &dyn Store,
    folder: &std::path::Path,
    dry_run: bool,
) -> Result<SyncConfig> {
    let root = folder.canonicalize().with_context(|| {
        format!(
            "cannot sync {}: the folder does not exist",
            folder.display()
        )
    })?;
    if !root.is_dir() {
        bail!("cannot sync {}: not a folder", folder.display());
    }
    let user = default_user()?;
    let name = root.display().to_string();
    let fresh = SyncConfig::new(user, "local", &name);
    if let Some(existing) = store.config(fresh.id).await? {
        return Ok(existing);
    }
    let mut c = fresh;
    c.provider_config = serde_json::json!({ "root": name });
    if !dry_run {
        store.put_config(&c).await?;
    }
    Ok(c)
}

fn print_report(
    config: &SyncConfig,
    report: &SyncReport,
    ingested: Option<&crate::ingest::DrainReport>,
    json: bool,
) -> Result<()> {
    if json {
        let mut value = serde_json::to_value(report)?;
        if let (Some(object), Some(ingested)) = (value.as_object_mut(), ingested) {
            object.insert("ingestion".into(), serde_json::to_value(ingested)?);
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{}: {}", config.name, report.message);
    for d in &report.decisions {
        match &d.reason {
            Some(reason) => println!("  {:<9} {}: {reason}", d.verdict.as_str(), d.path),
            None => println!("  {:<9} {}", d.verdict.as_str(), d.path),
        }
    }
    for f in &report.failures {
        println!("  failed {}: {}", f.remote_id, f.error);
    }
    if let Some(ingested) = ingested {
        println!("  ingestion: {}", super::ingest::summary(ingested));
    }
    Ok(())
}

pub(super) async fn run_files(cli: &Cli, args: &FilesArgs) -> Result<()> {
    let store = cli.store().await?;
    let files = store.files(args.config).await?;
    if args.json {
        return super::print_json_lines(&files);
    }
    let rows: Vec<Vec<String>> = files
        .iter()
        .map(|f| {
            vec![
                f.status.to_string(),
                f.local_size
                    .map(|s| super::human_bytes(s as u64))
                    .unwrap_or_else(|| "-".into()),
                f.remote_path.clone().unwrap_or_else(|| f.remote_id.clone()),
                f.ingest_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into()),
                // The sync's error first: it is why the ingestion outcome is stale.
                f.error_message
                    .clone()
                    .or_else(|| f.ingest_message.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    super::print_table(&["STATUS", "SIZE", "PATH", "INGEST", "DETAIL"], &rows);
    Ok(())
}

pub(super) async fn run_logs(cli: &Cli, args: &LogsArgs) -> Result<()> {
    let store = cli.store().await?;
    if let Some(id) = args.cancel {
        let (outcome, run) = cli.app_on(store, false).await?.cancel_run(id, None).await?;
        match outcome {
            CancelOutcome::Cancelled => eprintln!("run {id} was queued; it is cancelled"),
            CancelOutcome::Requested => {
                eprintln!("run {id} is stopping: no new file starts, and it ends within seconds")
            }
            CancelOutcome::Ended(status) => {
                eprintln!(
                    "run {id} had ended already ({}); nothing changed",
                    status.as_str()
                )
            }
        }
        if args.json {
            return super::print_json_lines(&[run]);
        }
        return Ok(());
    }
    let logs = store.logs(args.config, args.limit).await?;
    if args.json {
        return super::print_json_lines(&logs);
    }
    let rows: Vec<Vec<String>> = logs
        .iter()
        .map(|l| {
            vec![
                l.started_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default(),
                l.status.to_string(),
                l.files_synced.to_string(),
                l.files_unchanged.to_string(),
                l.files_failed.to_string(),
                super::human_bytes(l.bytes_synced.max(0) as u64),
                l.duration_seconds
                    .map(|d| format!("{d:.2}s"))
                    .unwrap_or_default(),
                l.config_id.to_string(),
            ]
        })
        .collect();
    super::print_table(
        &[
            "STARTED",
            "STATUS",
            "SYNCED",
            "UNCHANGED",
            "FAILED",
            "BYTES",
            "TOOK",
            "CONFIG",
        ],
        &rows,
    );
    Ok(())
}
