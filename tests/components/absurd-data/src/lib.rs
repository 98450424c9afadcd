//! Misbehaves: returns a page far beyond any sane size. `mode=string` returns one entry whose
//! name is 100 MB; anything else returns 200,000 entries in one page.
use p8sync_test_common::{file, info, page, test_provider};

test_provider!(
    Absurd,
    info = info("test_absurd_data", &[]),
    list = |_req| {
        match p8sync_provider_sdk::config::get("mode").as_deref() {
            Some("string") => Ok(page(vec![file("huge", &"x".repeat(100 * 1024 * 1024), 1)])),
            _ => Ok(page(
                (0..200_000).map(|i| file(&i.to_string(), "f", 1)).collect(),
            )),
        }
    }
);
