//! Well behaved: lists `GET {api_base}/entries` (a JSON array of `{id, name, size}`) and logs
//! what it does, so the tests can check credential injection and log hygiene.
use p8sync_provider_sdk::{config, http, log};
use p8sync_test_common::{file, info, page, test_provider};

test_provider!(
    Echo,
    info = info("test_http_echo", &["api.echo.example"]),
    list = |_req| {
        let base = config::api_base("https://api.echo.example");
        log::debug(format!("listing {base}/entries"));
        let response = http::send(&http::Request::get(format!("{base}/entries")))?
            .error_for_status("list entries")?;
        log::trace(format!("response headers: {:?}", response.headers));
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&response.body).map_err(|e| {
                p8sync_provider_sdk::types::ProviderError::Permanent(format!(
                    "bad JSON from the API: {e}"
                ))
            })?;
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
);
