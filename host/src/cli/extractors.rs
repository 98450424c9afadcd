//! `p8sync extractors`: the installed extractors and the files that did not load.

use super::{Cli, print_table};
use anyhow::Result;
use clap::Args;

/// Options of `p8sync extractors`.
#[derive(Debug, Args)]
pub struct ExtractorsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// List the extractors.
pub(super) async fn run(cli: &Cli, args: &ExtractorsArgs) -> Result<()> {
    let runtime = cli.runtime()?;
    let limits = crate::extract::ExtractLimits::from_env()?;
    let extractors = cli.extractors(&runtime, limits);
    let all = extractors.all().await;
    let problems = extractors.problems().await;
    if args.json {
        let items: Vec<serde_json::Value> = all
            .iter()
            .map(|e| {
                let mut v = serde_json::to_value(e.info()).unwrap_or_default();
                v["memory_cap_mib"] = e.memory_mib().into();
                v
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "dir": extractors.dir(),
                "extractors": items,
                "problems": problems,
            }))?
        );
        return Ok(());
    }
    println!("extractors: {}", extractors.looked_in());
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|e| {
            let i = e.info();
            vec![
                i.id.clone(),
                i.version.clone(),
                format!("{:?}", i.output).to_lowercase(),
                i.formats.join(","),
                format!("{} MiB", e.memory_mib()),
                i.name.clone(),
            ]
        })
        .collect();
    print_table(
        &["ID", "VERSION", "OUTPUT", "FORMATS", "MEMORY", "NAME"],
        &rows,
    );
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    if all.is_empty() {
        anyhow::bail!(
            "no extractors are installed: build them with scripts/build-components.sh, or point \
             P8_EXTRACTORS_DIR at a folder of extractor components"
        );
    }
    Ok(())
}
