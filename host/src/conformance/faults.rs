//! Injected HTTP failures: every request of a call answered with one error status, to see how
//! the provider maps it onto the contract's errors.

use crate::runtime::intercept::{Answer, ExchangeRequest, ExchangeResponse, Interceptor};
use crate::runtime::types::ProviderError;
use std::sync::atomic::{AtomicU32, Ordering};

/// The statuses the harness injects.
pub const STATUSES: [u16; 5] = [401, 403, 404, 429, 500];

/// What `Retry-After` an injected 429 carries, in seconds (short: providers may wait for it).
pub const RETRY_AFTER: u32 = 1;

/// Answers every request with the same error status.
pub struct Fault {
    status: u16,
    hits: AtomicU32,
}

impl Fault {
    /// A fault of this status.
    pub fn new(status: u16) -> Self {
        Fault {
            status,
            hits: AtomicU32::new(0),
        }
    }

    /// How many requests it answered.
    pub fn hits(&self) -> u32 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Interceptor for Fault {
    fn answer(&self, _request: &ExchangeRequest) -> Answer {
        self.hits.fetch_add(1, Ordering::Relaxed);
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        if self.status == 429 {
            headers.push(("retry-after".into(), RETRY_AFTER.to_string()));
        }
        let body = serde_json::json!({
            "error": {
                "code": self.status,
                "message": format!("HTTP {} injected by p8sync provider test", self.status),
            }
        });
        Answer::Respond(ExchangeResponse {
            status: self.status,
            headers,
            body: body.to_string().into_bytes(),
        })
    }
}

/// The contract errors a status may map to, as the harness judges them; the first one named
/// is the expected one.
pub fn acceptable(status: u16, error: &ProviderError) -> bool {
    match status {
        401 => matches!(error, ProviderError::Unauthorized(_)),
        // A bare 403 is a refusal; some services also use it for quotas or a bad setup.
        403 => matches!(
            error,
            ProviderError::Forbidden(_)
                | ProviderError::Permanent(_)
                | ProviderError::InvalidConfig(_)
                | ProviderError::RateLimited(_)
        ),
        404 => matches!(
            error,
            ProviderError::NotFound(_)
                | ProviderError::InvalidConfig(_)
                | ProviderError::CursorExpired(_)
        ),
        429 => matches!(error, ProviderError::RateLimited(_)),
        500 => matches!(error, ProviderError::Transient(_)),
        _ => false,
    }
}

/// What a status should map to, for the report.
pub fn expected(status: u16) -> &'static str {
    match status {
        401 => "unauthorized",
        403 => "forbidden (or permanent, invalid-config, rate-limited)",
        404 => "not-found (or invalid-config, cursor-expired)",
        429 => "rate-limited",
        500 => "transient",
        _ => "an error",
    }
}

/// The contract error's name.
pub fn name(error: &ProviderError) -> &'static str {
    match error {
        ProviderError::Unauthorized(_) => "unauthorized",
        ProviderError::RateLimited(_) => "rate-limited",
        ProviderError::NotFound(_) => "not-found",
        ProviderError::Forbidden(_) => "forbidden",
        ProviderError::Transient(_) => "transient",
        ProviderError::CursorExpired(_) => "cursor-expired",
        ProviderError::InvalidConfig(_) => "invalid-config",
        ProviderError::Permanent(_) => "permanent",
    }
}
