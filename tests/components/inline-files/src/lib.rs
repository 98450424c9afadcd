//! Lists the files given in config `files` (a JSON array of `{id, name, content, path?,
//! sha256?}`) and returns their content inline. A file whose id starts with `forbidden` fails
//! to fetch with `forbidden`; a declared `sha256` is reported as the file's checksum (so a wrong
//! one makes the host's verification fail).
use p8sync_provider_sdk::types::{Checksum, ChecksumAlgorithm, Entry, FetchPlan, ProviderError};
use p8sync_provider_sdk::{Provider, config};
use p8sync_test_common::{file, info, page};

struct Inline;

fn files() -> Result<Vec<serde_json::Value>, ProviderError> {
    let text = config::get("files").unwrap_or_else(|| "[]".into());
    serde_json::from_str(&text)
        .map_err(|e| ProviderError::InvalidConfig(format!("`files` is not a JSON array: {e}")))
}

impl Provider for Inline {
    fn info() -> p8sync_provider_sdk::types::ProviderInfo {
        info("test_inline_files", &[])
    }

    fn list(
        _req: p8sync_provider_sdk::types::ListRequest,
    ) -> Result<p8sync_provider_sdk::types::Page, ProviderError> {
        let entries = files()?
            .iter()
            .map(|f| {
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
                e.revision = f["revision"].as_str().map(str::to_string);
                if let Some(sha) = f["sha256"].as_str() {
                    e.checksums.push(Checksum {
                        algorithm: ChecksumAlgorithm::Sha256,
                        value: sha.to_string(),
                    });
                }
                e
            })
            .collect();
        Ok(page(entries))
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Err(p8sync_test_common::unsupported())
    }

    fn changes(_cursor: String) -> Result<p8sync_provider_sdk::types::ChangePage, ProviderError> {
        Err(p8sync_test_common::unsupported())
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
