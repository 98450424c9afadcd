//! `p8sync providers` and `p8sync provider inspect`.

use super::{Cli, print_table};
use crate::runtime::Provider;
use crate::runtime::types::{AuthMethod, Capability};
use anyhow::Result;
use clap::{Args, Subcommand};
use std::path::PathBuf;

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
    let rows: Vec<Vec<String>> = registry
        .providers()
        .map(|p| {
            vec![
                p.id().to_string(),
                p.info().version.clone(),
                p.source().wit_version.to_string(),
                auth_kind(&p.info().auth).to_string(),
                capabilities(p),
                hosts(p),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("no providers in {}", registry.dir().display());
    } else {
        print_table(
            &["ID", "VERSION", "WIT", "AUTH", "CAPABILITIES", "HOSTS"],
            &rows,
        );
    }
    Ok(())
}

pub(super) async fn run_provider(cli: &Cli, cmd: &ProviderCommand) -> Result<()> {
    match cmd {
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
