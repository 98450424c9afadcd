//! Reading the contract's errors: the message inside any variant, and the variant's name.

use crate::types::ProviderError;

/// The human-readable message inside any error variant.
pub fn message(error: &ProviderError) -> &str {
    match error {
        ProviderError::Unauthorized(m)
        | ProviderError::NotFound(m)
        | ProviderError::Forbidden(m)
        | ProviderError::Transient(m)
        | ProviderError::CursorExpired(m)
        | ProviderError::InvalidConfig(m)
        | ProviderError::Permanent(m) => m,
        ProviderError::RateLimited(r) => &r.message,
    }
}

/// The variant's name as the contract spells it (`rate-limited`), for log lines.
pub fn kind(error: &ProviderError) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::RateLimit;

    #[test]
    fn reads_every_variant() {
        let e = ProviderError::RateLimited(RateLimit {
            message: "slow down".into(),
            retry_after_seconds: None,
        });
        assert_eq!((message(&e), kind(&e)), ("slow down", "rate-limited"));
        let e = ProviderError::NotFound("gone".into());
        assert_eq!((message(&e), kind(&e)), ("gone", "not-found"));
    }
}
