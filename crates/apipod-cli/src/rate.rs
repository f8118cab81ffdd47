//! A shared submit-rate limiter for `apipod batch`.

use std::sync::Mutex;
use std::time::Duration;

use apipod::CancellationToken;
use tokio::time::Instant;

/// Spaces submits at least `1/rate` seconds apart, across all jobs.
pub(crate) struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / per_second),
            next: Mutex::new(None),
        }
    }

    /// Waits for the next slot; false when cancelled first.
    pub(crate) async fn acquire(&self, cancel: &CancellationToken) -> bool {
        let slot = {
            let mut next = self.next.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::select! {
            _ = tokio::time::sleep_until(slot) => true,
            _ = cancel.cancelled() => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_spaces_submits() {
        let limiter = RateLimiter::new(2.0);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for expected_ms in [0, 500, 1000, 1500] {
            assert!(limiter.acquire(&cancel).await);
            assert_eq!(start.elapsed(), Duration::from_millis(expected_ms));
        }
        cancel.cancel();
        assert!(!limiter.acquire(&cancel).await);
    }
}
