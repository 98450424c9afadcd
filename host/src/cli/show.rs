//! `p8sync show FILE`: one file's record, its object, and what ingestion made of it.

use super::Cli;
use crate::app::App;
use crate::app::files::FileView;
use crate::store::SyncFile;
use crate::store::ids::{ConfigId, FileId};
use anyhow::{Result, bail};
use clap::Args;

/// Options of `p8sync show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The file: its id, or its path at the provider (`Work/notes.txt`).
    file: String,
    /// Look only in this config (a path may be in several).
    #[arg(long)]
    config: Option<ConfigId>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The file `wanted` names, by id or by path, in `config` or in every config.
async fn find(app: &App, wanted: &str, config: Option<ConfigId>) -> Result<SyncFile> {
    if let Ok(id) = wanted.parse::<FileId>()
        && let Ok(file) = app.file(id, None).await
        && config.is_none_or(|c| c == file.config_id)
    {
        return Ok(file);
    }
    let store = app.store.as_ref();
    let configs = match config {
        Some(id) => vec![id],
        None => store.configs(None).await?.iter().map(|c| c.id).collect(),
    };
    let by_id: Option<FileId> = wanted.parse().ok();
    let path = wanted.trim_matches('/');
    let mut found = Vec::new();
    for id in configs {
        found.extend(store.files(id).await?.into_iter().filter(|f| {
            Some(f.id) == by_id
                || f.remote_path.as_deref().map(|p| p.trim_matches('/')) == Some(path)
        }));
    }
    match found.len() {
        0 => bail!("no synced file has the id or path {wanted:?}; see `p8sync files --config ID`"),
        1 => Ok(found.remove(0)),
        n => bail!(
            "{n} files have the path {wanted:?}, in configs {}; give --config or the file's id",
            found
                .iter()
                .map(|f| f.config_id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(super) async fn run(cli: &Cli, args: &ShowArgs) -> Result<()> {
    let app = cli.app().await?;
    let file = find(&app, &args.file, args.config).await?;
    let view = app.file_view(file).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(());
    }
    let FileView {
        file,
        resources,
        audio,
        audio_chunks: chunks,
    } = view;
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!("file       {}", file.id);
    println!("config     {}", file.config_id);
    println!("path       {}", or_dash(file.remote_path.clone()));
    println!("remote id  {}", file.remote_id);
    println!("type       {}", or_dash(file.remote_type.clone()));
    println!("status     {}", file.status);
    if let Some(reason) = &file.error_message {
        println!("reason     {reason}");
    }
    println!(
        "size       {}",
        or_dash(file.local_size.map(|s| super::human_bytes(s as u64)))
    );
    println!("revision   {}", or_dash(file.remote_revision.clone()));
    println!("object     {}", or_dash(file.s3_uri.clone()));
    println!(
        "ingestion  {}{}",
        or_dash(file.ingest_status.map(|s| s.to_string())),
        file.ingest_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default()
    );
    if let Some(audio) = &audio {
        println!(
            "audio      {:.1} s in {} chunks",
            audio.duration.unwrap_or_default(),
            chunks.len()
        );
        for c in &chunks {
            println!(
                "  [{:>7.1}-{:>7.1} s] {}",
                c.start_time,
                c.end_time,
                c.transcription.as_deref().unwrap_or("(not transcribed)")
            );
        }
    }
    println!("resources  {}", resources.len());
    for r in &resources {
        let text: String = r.content.chars().take(200).collect();
        let more = if r.content.chars().count() > 200 {
            "…"
        } else {
            ""
        };
        println!(
            "  #{} {}: {}{more}",
            r.ordinal,
            r.category,
            text.replace('\n', " ")
        );
    }
    Ok(())
}
