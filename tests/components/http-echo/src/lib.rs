//! Well behaved: lists `GET {api_base}/entries` (a JSON array of `{id, name, size}`) and logs
//! what it does, so the tests can check credential injection and log hygiene. Its fetch plans
//! are `GET {api_base}/files/{id}`, which the host performs.
use p8sync_provider_sdk::types::{
    ChangePage, Entry, FetchPlan, HttpRequest, ListRequest, Page, ProviderError, ProviderInfo,
};
use p8sync_provider_sdk::{Provider, config, http, log};
use p8sync_test_common::{file, info, page, unsupported};

struct Echo;

impl Provider for Echo {
    fn info() -> ProviderInfo {
        info("test_http_echo", &["api.echo.example"])
    }

    fn list(_req: ListRequest) -> Result<Page, ProviderError> {
        let base = config::api_base("https://api.echo.example");
        log::debug(format!("listing {base}/entries"));
        let response = http::send(&http::Request::get(format!("{base}/entries")))?
            .error_for_status("list entries")?;
        log::trace(format!("response headers: {:?}", response.headers));
        let items: Vec<serde_json::Value> = serde_json::from_slice(&response.body)
            .map_err(|e| ProviderError::Permanent(format!("bad JSON from the API: {e}")))?;
        let entries = items
            .iter()
            .map(|v| {
                file(
                    v["id"].as_str().unwrap_or_default(),
                    v["name"].as_str().unwrap_or_default(),
                    v["size"].as_u64().unwrap_or_default(),
                )
            })
            .collect();
        Ok(page(entries))
    }

    fn start_cursor() -> Result<String, ProviderError> {
        Err(unsupported())
    }

    fn changes(_cursor: String) -> Result<ChangePage, ProviderError> {
        Err(unsupported())
    }

    fn fetch(entry: Entry) -> Result<FetchPlan, ProviderError> {
        let base = config::api_base("https://api.echo.example");
        Ok(FetchPlan::Http(HttpRequest {
            method: "GET".into(),
            url: format!("{base}/files/{}", entry.id),
            headers: vec![("accept".into(), "*/*".into())],
            body: None,
        }))
    }
}

p8sync_provider_sdk::export_provider!(Echo);
