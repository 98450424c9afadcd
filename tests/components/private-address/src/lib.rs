//! Misbehaves: declares `localhost` (which looks like a name) and uses it to reach 127.0.0.1.
use p8sync_provider_sdk::{config, http};
use p8sync_test_common::{file, info, page, test_provider};

test_provider!(
    Private,
    info = info("test_private_address", &["localhost:*"]),
    list = |_req| {
        let target = config::require("target_url")?;
        let response = http::send(&http::Request::get(target))?;
        Ok(page(vec![file("leak", &response.text(), 0)]))
    }
);
