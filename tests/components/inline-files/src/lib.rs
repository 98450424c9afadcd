//! Lists the files given in config `files` (a JSON array of `{id, name, content, path?,
//! sha256?, v?}`) and returns their content inline. A file whose id starts with `forbidden` fails
//! to fetch with `forbidden`; a declared `sha256` is reported as the file's checksum (so a wrong
//! one makes the host's verification fail).
//!
//! It also has a change feed driven by its config: `version` is "now", each file's `v` is the
//! version it last changed in, `removed` lists `{id, v}`, and a cursor older than `oldest` has
//! expired. Changes come two per page, to exercise draining.
use p8sync_provider_sdk::types::{
    Capability, ChangePage, Checksum, ChecksumAlgorithm, Entry, FetchPlan, ProviderError,
};
use p8sync_provider_sdk::{Provider, config};
use p8sync_test_common::{file, info, page};

struct Inline;

fn json_list(key: &str) -> Result<Vec<serde_json::Value>, ProviderError> {
    let text = config::get(key).unwrap_or_else(|| "[]".into());
    serde_json::from_str(&text)
        .map_err(|e| ProviderError::InvalidConfig(format!("`{key}` is not a JSON array: {e}")))
}

fn files() -> Result<Vec<serde_json::Value>, ProviderError> {
    json_list("files")
}

fn number(key: &str) -> u64 {
    config::get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn to_entry(f: &serde_json::Value) -> Entry {
    let content = f["content"].as_str().unwrap_or_default();
    let mut e: Entry = file(
        f["id"].as_str().unwrap_or_default(),
        f["name"].as_str().unwrap_or_default(),
        content.len() as u64,
    );
    e.path = f["path"]
        .as_str()
        .map(|p| {
            p.split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    e.revision = Some(format!(
        "{}-{}",
        f["v"].as_u64().unwrap_or(0),
        content.len()
    ));
    if let Some(sha) = f["sha256"].as_str() {
        e.checksums.push(Checksum {
            algorithm: ChecksumAlgorithm::Sha256,
            value: sha.to_string(),
        });
    }
    e
}

impl Provider for Inline {
    fn info() -> p8sync_provider_sdk::types::ProviderInfo {
        let mut info = info("test_inline_files", &[]);
        info.capabilities = vec![Capability::ChangesFeed];
        info
    }

    fn list(
        _req: p8sync_provider_sdk::types::ListRequest,
    ) -> Result<p8sync_provider_sdk::types::Page, ProviderError> {
        Ok(page(files()?.iter().map(to_entry).collect()))
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Ok(format!("v{}/0", number("version")))
    }

    fn changes(cursor: String) -> Result<ChangePage, ProviderError> {
        let bad = || ProviderError::CursorExpired(format!("cursor `{cursor}` is not valid"));
        let (since, offset) = cursor
            .strip_prefix('v')
            .and_then(|c| c.split_once('/'))
            .and_then(|(v, o)| Some((v.parse::<u64>().ok()?, o.parse::<usize>().ok()?)))
            .ok_or_else(bad)?;
        if since < number("oldest") {
            return Err(ProviderError::CursorExpired(format!(
                "cursor v{since} is older than the feed keeps"
            )));
        }
        let changed: Vec<Entry> = files()?
            .iter()
            .filter(|f| f["v"].as_u64().unwrap_or(0) > since)
            .map(to_entry)
            .collect();
        let now = number("version");
        let page_items: Vec<Entry> = changed.iter().skip(offset).take(2).cloned().collect();
        let has_more = offset + 2 < changed.len();
        let removed = if has_more {
            vec![]
        } else {
            json_list("removed")?
                .iter()
                .filter(|r| r["v"].as_u64().unwrap_or(0) > since)
                .filter_map(|r| r["id"].as_str().map(str::to_string))
                .collect()
        };
        Ok(ChangePage {
            changed: page_items,
            removed,
            skipped: vec![],
            next_cursor: if has_more {
                format!("v{since}/{}", offset + 2)
            } else {
                format!("v{now}/0")
            },
            has_more,
        })
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        if entry.id.starts_with("forbidden") {
            return Err(ProviderError::Forbidden(format!(
                "`{}`: download quota exceeded for this file",
                entry.id
            )));
        }
        let all = files()?;
        let f = all
            .iter()
            .find(|f| f["id"].as_str() == Some(entry.id.as_str()))
            .ok_or_else(|| ProviderError::NotFound(format!("`{}` is gone", entry.id)))?;
        Ok(FetchPlan::Inline(
            f["content"]
                .as_str()
                .unwrap_or_default()
                .as_bytes()
                .to_vec(),
        ))
    }
}

p8sync_provider_sdk::export_provider!(Inline);
