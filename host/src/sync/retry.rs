//! Retrying transient provider errors with exponential backoff and jitter, honouring the
//! provider's `retry-after`.

use crate::runtime::CallError;
use crate::runtime::types::ProviderError;
use std::time::Duration;

/// How often and how patiently to retry.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first delay; it doubles each time.
    pub base: Duration,
    /// The longest backoff delay.
    pub max: Duration,
    /// The longest wait a server's `Retry-After` (or a provider's `retry-after-seconds`) may
    /// ask for (`P8_MAX_RETRY_AFTER_SECS`, default one hour): a longer one is cut to this.
    pub max_retry_after: Duration,
}

/// The longest `Retry-After` honoured unless the operator says otherwise: one hour.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

impl Default for RetryPolicy {
    fn default() -> Self {
        // rclone's Drive pacing: 1, 2, 4, 8, 16 s.
        RetryPolicy {
            retries: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(16),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
        }
    }
}

/// Whether an error may go away by itself, and how long the provider asked us to wait (as it
/// said it: [`RetryPolicy::delay`] caps it).
pub fn transient(e: &CallError) -> Option<Option<Duration>> {
    match e.provider_error()? {
        ProviderError::Transient(_) => Some(None),
        ProviderError::RateLimited(r) => Some(
            r.retry_after_seconds
                .map(|s| Duration::from_secs(u64::from(s))),
        ),
        _ => None,
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based): exponential, capped, with up to 50%
    /// random jitter so replicas do not retry in lockstep. A `retry_after` the server or the
    /// provider asked for wins over the backoff, cut to [`RetryPolicy::max_retry_after`]: the
    /// number comes from outside, and `u64::MAX` seconds must neither overflow nor park a
    /// sync for ever.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        // At most half of `exp`: finite and never past `Duration::MAX`.
        let jitter = exp.mul_f64(rand_fraction() * 0.5);
        let backoff = exp.saturating_add(jitter);
        match retry_after {
            Some(after) => {
                let after = after.min(self.max_retry_after);
                after.max(backoff.min(after.saturating_add(self.base)))
            }
            None => backoff,
        }
    }

    /// A wait of `seconds` as a server sent it (`Retry-After`), cut to the longest allowed.
    pub fn retry_after_secs(&self, seconds: u64) -> Duration {
        Duration::from_secs(seconds).min(self.max_retry_after)
    }

    /// Run `op`, retrying transient failures.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        self.run_unless(op, || false).await
    }

    /// Run `op`, retrying transient failures until `give_up` says retrying is pointless (for
    /// example once the credential is known to be revoked).
    pub async fn run_unless<T, F, Fut>(
        &self,
        mut op: F,
        give_up: impl Fn() -> bool,
    ) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CallError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => match transient(&e) {
                    Some(after) if attempt < self.retries && !give_up() => {
                        let wait = self.delay(attempt, after);
                        tracing::info!("{e}; retrying in {wait:?}");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    _ => return Err(e),
                },
            }
        }
    }
}

fn rand_fraction() -> f64 {
    (uuid::Uuid::new_v4().as_u128() % 1_000_000) as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_cap_and_honour_retry_after() {
        let p = RetryPolicy::default();
        let d0 = p.delay(0, None);
        assert!(d0 >= Duration::from_secs(1) && d0 <= Duration::from_millis(1500));
        let d3 = p.delay(3, None);
        assert!(d3 >= Duration::from_secs(8) && d3 <= Duration::from_secs(12));
        let d9 = p.delay(9, None);
        assert!(d9 >= Duration::from_secs(16) && d9 <= Duration::from_secs(24));
        let after = p.delay(0, Some(Duration::from_secs(30)));
        assert!(after >= Duration::from_secs(30) && after <= Duration::from_secs(31));
    }

    #[test]
    fn absurd_retry_after_is_cut_to_the_cap_without_overflow() {
        let p = RetryPolicy::default();
        // `Retry-After: 18446744073709551615` used to overflow `after + base` (a panic).
        for attempt in [0, 3, 16, u32::MAX] {
            let d = p.delay(attempt, Some(Duration::from_secs(u64::MAX)));
            assert!(
                d >= DEFAULT_MAX_RETRY_AFTER && d <= DEFAULT_MAX_RETRY_AFTER + p.base,
                "{d:?}"
            );
            assert!(p.delay(attempt, Some(Duration::MAX)) <= DEFAULT_MAX_RETRY_AFTER + p.base);
        }
        assert_eq!(p.retry_after_secs(u64::MAX), DEFAULT_MAX_RETRY_AFTER);
        assert_eq!(p.retry_after_secs(7), Duration::from_secs(7));

        // The operator's cap, and a huge backoff, saturate rather than overflow.
        let tight = RetryPolicy {
            max_retry_after: Duration::from_secs(2),
            ..RetryPolicy::default()
        };
        let d = tight.delay(0, Some(Duration::from_secs(u64::from(u32::MAX))));
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_secs(3),
            "{d:?}"
        );
        let huge = RetryPolicy {
            base: Duration::MAX,
            max: Duration::MAX,
            max_retry_after: Duration::MAX,
            retries: 1,
        };
        assert_eq!(huge.delay(u32::MAX, None), Duration::MAX);
        assert_eq!(huge.delay(0, Some(Duration::MAX)), Duration::MAX);
    }

    #[test]
    fn a_guest_retry_after_is_capped_too() {
        let e = CallError::Provider {
            provider: "p".into(),
            call: crate::runtime::Call::List,
            error: ProviderError::RateLimited(crate::runtime::types::RateLimit {
                message: "slow down".into(),
                retry_after_seconds: Some(u32::MAX),
            }),
        };
        let asked = transient(&e).unwrap();
        assert_eq!(asked, Some(Duration::from_secs(u64::from(u32::MAX))));
        let p = RetryPolicy::default();
        assert!(p.delay(0, asked) <= DEFAULT_MAX_RETRY_AFTER + p.base);
    }
}
