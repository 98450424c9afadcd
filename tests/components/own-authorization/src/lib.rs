//! Misbehaves: tries to send its own `Authorization` header to a declared host.
use p8sync_provider_sdk::{config, http};
use p8sync_test_common::{info, page, test_provider};

test_provider!(
    OwnAuth,
    info = info("test_own_authorization", &["api.declared.example"]),
    list = |_req| {
        let base = config::api_base("https://api.declared.example");
        let request = http::Request::get(format!("{base}/items"))
            .header("Authorization", "Bearer guest-made-this-up");
        let response = http::send(&request)?;
        response.error_for_status("items")?;
        Ok(page(vec![]))
    }
);
