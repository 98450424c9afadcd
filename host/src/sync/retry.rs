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
    /// The longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        // rclone's Drive pacing: 1, 2, 4, 8, 16 s.
        RetryPolicy {
            retries: 5,
            base: Duration::from_secs(1),
            max: Duration::from_secs(16),
        }
    }
}

/// Whether an error may go away by itself, and how long the provider asked us to wait.
pub fn transient(e: &CallError) -> Option<Option<Duration>> {
    match e.provider_error()? {
        ProviderError::Transient(_) => Some(None),
        ProviderError::RateLimited(r) => {
            Some(r.retry_after_seconds.map(|s| Duration::from_secs(s as u64)))
        }
        _ => None,
    }
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (0-based): exponential, capped, with up to 50%
    /// random jitter so replicas do not retry in lockstep.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        let jitter = exp.mul_f64(rand_fraction() * 0.5);
        let backoff = exp + jitter;
        match retry_after {
            Some(after) => after.max(backoff.min(after + self.base)),
            None => backoff,
        }
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
}
