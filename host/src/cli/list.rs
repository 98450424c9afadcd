//! `p8sync list`: print what a provider sees.

use super::{Cli, human_bytes, print_table};
use crate::runtime::types::{EntryKind, ListRequest, Timestamp};
use crate::runtime::{CallContext, StaticToken};
use crate::secret::Secret;
use crate::sync::plan;
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

/// Options of `p8sync list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// The provider id (see `p8sync providers`).
    #[arg(long)]
    provider: String,
    /// The folder to grant a `local-root` provider (read-only).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Sign in as this user, with the credential stored for them (`p8sync auth`, the API's
    /// login), as a sync of theirs would.
    #[arg(long, conflicts_with = "token_env")]
    user: Option<crate::store::ids::UserId>,
    /// Only what is in this folder, by path as configs name folders (`Work/Reports`).
    #[arg(long, conflicts_with = "folder_id")]
    folder: Option<String>,
    /// List this folder (by the provider's id for it) instead of the root.
    #[arg(long)]
    folder_id: Option<String>,
    /// Only the folder's direct children, not the whole tree.
    #[arg(long)]
    no_recursive: bool,
    /// A provider_config value, KEY=VALUE (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    config: Vec<String>,
    /// The whole provider_config as a JSON object.
    #[arg(long = "config-json", value_name = "JSON")]
    config_json: Option<String>,
    /// Read a bearer token for the provider's API from this environment variable (never pass
    /// tokens as arguments: other users can see them).
    #[arg(long, value_name = "VAR")]
    token_env: Option<String>,
    /// Stop after this many pages.
    #[arg(long, default_value_t = 100_000)]
    max_pages: usize,
    /// Print JSON lines (one entry per line) instead of a table.
    #[arg(long)]
    json: bool,
}

fn format_time(t: &Option<Timestamp>) -> String {
    t.as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanoseconds))
        .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

pub(super) async fn run(cli: &Cli, args: &ListArgs) -> Result<()> {
    let mut cx = match &args.config_json {
        Some(text) => {
            let value: serde_json::Value =
                serde_json::from_str(text).context("--config-json is not valid JSON")?;
            CallContext::from_json(&value).map_err(anyhow::Error::msg)?
        }
        None => CallContext::default(),
    };
    for pair in &args.config {
        let Some((k, v)) = pair.split_once('=') else {
            bail!("--config {pair:?} is not KEY=VALUE");
        };
        cx.config.insert(k.to_string(), v.to_string());
    }
    if let Some(root) = &args.root {
        if !root.is_dir() {
            bail!("--root {} is not a folder", root.display());
        }
        cx.root = Some(root.clone());
    }
    if let Some(var) = &args.token_env {
        let token = std::env::var(var).with_context(|| {
            format!("the environment variable {var} (from --token-env) is not set")
        })?;
        cx.credentials = Some(Arc::new(StaticToken::bearer(&Secret::new(token))));
    }

    let runtime = cli.runtime()?;
    let registry = cli.registry(&runtime).await?;
    let provider = registry.get(&args.provider)?;
    if let Some(user) = args.user {
        let store = cli.store().await?;
        let tokens = cli.tokens(store).await?;
        let config = crate::store::SyncConfig::new(user, &args.provider, "list");
        crate::sync::auth::authorize(&config, &provider, Some(tokens.as_ref()), &mut cx).await?;
    }
    // A folder by path: the whole tree is listed and what is outside the folder left out, so
    // it works the same for every provider.
    let folder = args.folder.as_deref().map(plan::split_path);
    let wanted = |e: &crate::runtime::types::Entry| match &folder {
        None => true,
        Some(f) if args.no_recursive => e.path == *f,
        Some(f) => plan::under(&e.path, f),
    };

    let mut cursor = None;
    let mut rows = Vec::new();
    let (mut files, mut folders, mut bytes, mut skipped) = (0u64, 0u64, 0u64, 0u64);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..args.max_pages {
        let request = ListRequest {
            folder_id: args.folder_id.clone(),
            recursive: !args.no_recursive || folder.is_some(),
            cursor: cursor.clone(),
            page_size_hint: 1000,
        };
        let page = provider.list(&cx, &request).await?;
        for e in page.entries.iter().filter(|e| wanted(e)) {
            match e.kind {
                EntryKind::File => {
                    files += 1;
                    bytes += e.size.unwrap_or(0);
                }
                EntryKind::Folder => folders += 1,
            }
            if args.json {
                println!("{}", serde_json::to_string(e)?);
            } else {
                rows.push(vec![
                    match e.kind {
                        EntryKind::File => "file".into(),
                        EntryKind::Folder => "dir".into(),
                    },
                    e.size.map(human_bytes).unwrap_or_else(|| "-".into()),
                    format_time(&e.modified),
                    e.mime_type.clone().unwrap_or_else(|| "-".into()),
                    plan::entry_path(e),
                    e.id.clone(),
                ]);
            }
        }
        for s in &page.skipped {
            skipped += 1;
            eprintln!("skipped {}: {}", s.name, s.reason);
        }
        match page.next_cursor {
            None => {
                cursor = None;
                break;
            }
            Some(next) => {
                if !seen.insert(next.clone()) {
                    bail!(
                        "provider `{}` repeated a cursor; its listing would never end",
                        args.provider
                    );
                }
                cursor = Some(next);
            }
        }
    }
    if !args.json {
        print_table(&["KIND", "SIZE", "MODIFIED", "TYPE", "PATH", "ID"], &rows);
        println!(
            "{files} files ({}), {folders} folders, {skipped} skipped",
            human_bytes(bytes)
        );
    }
    if cursor.is_some() {
        bail!(
            "stopped after --max-pages {} pages; the listing is not complete",
            args.max_pages
        );
    }
    Ok(())
}
