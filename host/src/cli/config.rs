//! `p8sync config add|list|show|remove`.

use super::Cli;
use super::sync::default_user;
use crate::app::AppError;
use crate::store::SyncConfig;
use crate::store::ids::{ConfigId, UserId};
use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand};

/// `p8sync config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Create a sync config (or update the one with the same user, provider and name).
    Add(Box<AddArgs>),
    /// List sync configs.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<UserId>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Show one sync config.
    Show {
        /// The config id.
        id: ConfigId,
    },
    /// Remove a sync config with its file records and logs (objects are kept).
    Remove {
        /// The config id.
        id: ConfigId,
    },
}

/// Options of `p8sync config add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The provider id (see `p8sync providers`).
    #[arg(long)]
    provider: String,
    /// A name for the config, unique per user and provider.
    #[arg(long)]
    name: String,
    /// The owner (default: P8_USER_ID, or the local user).
    #[arg(long)]
    user: Option<UserId>,
    /// Folder paths to sync, as a JSON list: '["Work/Reports"]'.
    #[arg(long, value_name = "JSON")]
    include_folders: Option<String>,
    /// Folder paths to leave out, as a JSON list.
    #[arg(long, value_name = "JSON")]
    exclude_folders: Option<String>,
    /// File extensions to sync, as a JSON list: '["pdf", "docx"]'.
    #[arg(long, value_name = "JSON")]
    include_file_types: Option<String>,
    /// File extensions to leave out, as a JSON list.
    #[arg(long, value_name = "JSON")]
    exclude_file_types: Option<String>,
    /// The provider's settings, a JSON object: '{"root": "/data/docs"}' for `local`.
    #[arg(long, value_name = "JSON")]
    provider_config: Option<String>,
    /// A five-field cron expression to sync on instead of the interval: '0 1 * * *' is every
    /// day at 1 AM.
    #[arg(long, value_name = "CRON")]
    schedule: Option<String>,
    /// The IANA time zone the --schedule is read in (default UTC), e.g. Europe/Berlin.
    #[arg(long, value_name = "ZONE", requires = "schedule")]
    timezone: Option<String>,
    /// Hours between scheduled syncs.
    #[arg(long, default_value_t = 24)]
    interval_hours: i32,
    /// Skip files larger than this many bytes.
    #[arg(long)]
    max_file_size: Option<i64>,
    /// Remove objects when their remote file is deleted.
    #[arg(long)]
    mirror_deletes: bool,
    /// Create it disabled (no scheduled syncs).
    #[arg(long)]
    disabled: bool,
    /// The account to sync, by its label (`p8sync auth status`); needed when the user has
    /// several of the provider.
    #[arg(long, value_name = "LABEL")]
    account: Option<String>,
}

fn json_list(flag: &str, value: &Option<String>) -> Result<Vec<String>> {
    let Some(text) = value else {
        return Ok(vec![]);
    };
    serde_json::from_str::<Vec<String>>(text).map_err(|e| {
        anyhow::anyhow!("--{flag} must be a JSON list of strings, like '[\"Work/Reports\"]' ({e})")
    })
}

pub(super) async fn run(cli: &Cli, cmd: &ConfigCommand) -> Result<()> {
    let store = cli.store().await?;
    match cmd {
        ConfigCommand::Add(a) => {
            let user = match a.user {
                Some(u) => u,
                None => default_user()?,
            };
            let mut c = SyncConfig::new(user, &a.provider, &a.name);
            c.include_folders = json_list("include-folders", &a.include_folders)?;
            c.exclude_folders = json_list("exclude-folders", &a.exclude_folders)?;
            c.include_file_types = json_list("include-file-types", &a.include_file_types)?;
            c.exclude_file_types = json_list("exclude-file-types", &a.exclude_file_types)?;
            if let Some(text) = &a.provider_config {
                let value: serde_json::Value = serde_json::from_str(text)
                    .context("--provider-config must be a JSON object")?;
                if !value.is_object() {
                    bail!(
                        "--provider-config must be a JSON object, like '{{\"root\": \"/data\"}}'"
                    );
                }
                c.provider_config = value;
            }
            c.sync_interval_hours = a.interval_hours;
            c.schedule = a.schedule.clone();
            c.schedule_timezone = a.timezone.clone();
            c.max_file_size = a.max_file_size;
            c.mirror_deletes = a.mirror_deletes;
            c.enabled = !a.disabled;

            let app = cli.app_on(store, false).await?;
            if let Some(label) = &a.account {
                c.credential_id = Some(app.account_labelled(user, &a.provider, label).await?.id);
            }
            let c = app.put_config(c).await.map_err(|e| match e {
                AppError::Invalid(problem) => anyhow!("the config is not valid: {problem}"),
                other => other.into(),
            })?;
            println!("{}", c.id);
            Ok(())
        }
        ConfigCommand::List { user, json } => {
            let configs = store.configs(*user).await?;
            if *json {
                return super::print_json_lines(&configs);
            }
            let rows: Vec<Vec<String>> = configs
                .iter()
                .map(|c| {
                    vec![
                        c.id.to_string(),
                        c.provider.clone(),
                        if c.enabled { "yes".into() } else { "no".into() },
                        c.last_sync_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "never".into()),
                        c.name.clone(),
                    ]
                })
                .collect();
            super::print_table(&["ID", "PROVIDER", "ENABLED", "LAST SYNC", "NAME"], &rows);
            Ok(())
        }
        ConfigCommand::Show { id } => {
            let c = store
                .config(*id)
                .await?
                .with_context(|| format!("no sync config with id {id}"))?;
            println!("{}", serde_json::to_string_pretty(&c)?);
            Ok(())
        }
        ConfigCommand::Remove { id } => {
            if !store.delete_config(*id).await? {
                bail!("no sync config with id {id}");
            }
            println!("removed {id}");
            Ok(())
        }
    }
}
