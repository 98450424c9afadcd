//! Per-provider request pacing: at most N requests per second from this process for one
//! provider, whichever sync or call they belong to, with a burst of up to one second's worth.
//! (A generic cell rate algorithm: each request takes the next slot; a request whose slot is
//! in the future waits for it.)

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A provider's pace.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: Duration,
    burst: Duration,
    /// When the next request would be on time if none had gone early.
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// At most `per_second` requests per second.
    pub(crate) fn new(per_second: f64) -> Self {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(0.001));
        let burst = interval.mul_f64((per_second.floor() - 1.0).max(0.0));
        Pacer {
            interval,
            burst,
            next: Mutex::new(None),
        }
    }

    /// Wait for this request's slot.
    pub(crate) async fn wait(&self) {
        let start = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let due = next.map_or(now, |n| n.max(now));
            // Up to a burst's worth of requests may go ahead of their slot.
            let start = due.checked_sub(self.burst).unwrap_or(now).max(now);
            *next = Some(due + self.interval);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_beyond_the_burst_wait_for_their_slot() {
        let pacer = Pacer::new(4.0);
        let t0 = Instant::now();
        for _ in 0..4 {
            pacer.wait().await;
        }
        // The first second's worth goes at once.
        assert!(
            t0.elapsed() < Duration::from_millis(5),
            "{:?}",
            t0.elapsed()
        );
        for _ in 0..8 {
            pacer.wait().await;
        }
        // Then one every 250 ms: eight more take about two seconds.
        let elapsed = t0.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1990) && elapsed <= Duration::from_millis(2010),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_rate_spaces_every_request() {
        let pacer = Pacer::new(0.5);
        let t0 = Instant::now();
        pacer.wait().await;
        pacer.wait().await;
        pacer.wait().await;
        assert_eq!(t0.elapsed().as_secs(), 4);
    }
}
