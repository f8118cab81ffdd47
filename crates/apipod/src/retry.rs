//! Retry policy, the client-wide rate-limit gate, and how APIPod answers become errors.

use std::sync::Mutex;
use std::time::Duration;

use backon::BackoffBuilder;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// How failed requests are retried.
///
/// Retried: transport errors and timeouts, 408, 429, 5xx, and 409 `idempotency_in_progress`.
/// Never retried: 400, 401, 402, 403, 404, `idempotency_conflict`. Creates are only retried
/// because every create carries an `Idempotency-Key`, so a retry can never start a second task.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 4).
    pub max_retries: u32,
    /// First backoff (default 500 ms); doubles each attempt.
    pub initial_backoff: Duration,
    /// Longest backoff (default 8 s).
    pub max_backoff: Duration,
    /// Random jitter on each backoff (default on).
    pub jitter: bool,
    /// Longest `Retry-After` honoured (default 60 s). A longer one fails the call with
    /// [`Error::RateLimited`] (or the API error) instead of sleeping.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            jitter: true,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff schedule (exponential, capped, jittered), one delay per retry.
    pub(crate) fn schedule(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let mut builder = backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_retries as usize);
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder.build()
    }

    /// The delay before the next attempt, or `None` to give up with `err`.
    pub(crate) fn delay_for(&self, err: &Error, backoff: Option<Duration>) -> Option<Duration> {
        self.delay_after(err, err.retry_after(), backoff)
    }

    /// Like [`delay_for`](Self::delay_for), with the server's `Retry-After` given separately
    /// (for errors that do not carry one, such as a failed result download).
    pub(crate) fn delay_after(
        &self,
        err: &Error,
        retry_after: Option<Duration>,
        backoff: Option<Duration>,
    ) -> Option<Duration> {
        if !err.is_retryable() {
            return None;
        }
        let backoff = backoff?;
        match retry_after {
            Some(ra) if ra > self.max_retry_after => None,
            Some(ra) => Some(ra.max(Duration::from_millis(1))),
            None => Some(backoff),
        }
    }
}

/// Shared pause for creates after a 429: one rate-limited call makes every submit on the
/// client wait, instead of each call discovering the limit on its own.
#[derive(Debug, Default)]
pub(crate) struct RateGate {
    until: Mutex<Option<Instant>>,
}

impl RateGate {
    pub(crate) fn pause_for(&self, delay: Duration) {
        let target = Instant::now() + delay;
        let mut until = crate::lock::lock(&self.until);
        if until.is_none_or(|u| u < target) {
            *until = Some(target);
        }
    }

    /// How long submits stay paused, if they are.
    pub(crate) fn remaining(&self) -> Option<Duration> {
        let now = Instant::now();
        crate::lock::lock(&self.until)
            .filter(|t| *t > now)
            .map(|t| t - now)
    }

    /// Waits until the gate is open. Returns false when cancelled first.
    pub(crate) async fn wait(&self, cancel: Option<&CancellationToken>) -> bool {
        loop {
            let until = *crate::lock::lock(&self.until);
            match until {
                Some(t) if t > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(t) => {}
                        _ = cancelled(cancel) => return false,
                    }
                }
                _ => return true,
            }
        }
    }
}

/// Resolves when `cancel` is cancelled; never when there is no token (nothing can cancel).
pub(crate) async fn cancelled(cancel: Option<&CancellationToken>) {
    match cancel {
        Some(c) => c.cancelled().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::http::classify;

    #[test]
    fn never_retries_permanent_errors() {
        let p = RetryPolicy::default();
        let some = Some(Duration::from_millis(500));
        for status in [400, 401, 403, 404] {
            let e = classify(status, None, "x".into(), None, None);
            assert_eq!(p.delay_for(&e, some), None, "{status}");
        }
        let quota = classify(402, None, "x".into(), None, None);
        assert_eq!(p.delay_for(&quota, some), None);
        let conflict = classify(
            409,
            Some("idempotency_conflict".into()),
            "x".into(),
            None,
            None,
        );
        assert_eq!(p.delay_for(&conflict, some), None);
        let in_progress = classify(
            409,
            Some("idempotency_in_progress".into()),
            "x".into(),
            None,
            Some(Duration::from_secs(1)),
        );
        assert_eq!(
            p.delay_for(&in_progress, some),
            Some(Duration::from_secs(1))
        );
        let too_long = classify(429, None, "x".into(), None, Some(Duration::from_secs(3600)));
        assert_eq!(p.delay_for(&too_long, some), None);
    }

    #[test]
    fn schedule_is_capped_and_bounded() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = p.schedule().collect();
        assert_eq!(delays.len(), 4);
        assert_eq!(delays[0], Duration::from_millis(500));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(8)));
    }
}
