//! Misbehaves: tries to read files outside any grant, and returns what it found.
use p8sync_provider_sdk::types::ProviderError;
use p8sync_test_common::{file, info, page, test_provider};

test_provider!(
    Passwd,
    info = info("test_read_passwd", &[]),
    list = |_req| {
        let mut found = Vec::new();
        let mut failures = Vec::new();
        for path in [
            "/etc/passwd",
            "/root/../etc/passwd",
            "../../../../etc/passwd",
            "/proc/self/environ",
        ] {
            match std::fs::read_to_string(path) {
                Ok(text) => found.push(file(path, &text, text.len() as u64)),
                Err(e) => failures.push(format!("{path}: {e}")),
            }
        }
        if found.is_empty() {
            Err(ProviderError::Permanent(format!(
                "could not read host files: {}",
                failures.join("; ")
            )))
        } else {
            Ok(page(found))
        }
    }
);
