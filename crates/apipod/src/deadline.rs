//! One deadline for a whole operation (a wait, a submit, a download): every request attempt
//! and every sleep inside it is capped by the time that remains, so the operation ends
//! within its deadline whatever the server answers (`Retry-After: 3600` included).

use std::future::Future;
use std::time::Duration;

use futures::future::{Either, FutureExt};
use tokio::time::Instant;

/// When an operation must be over, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline {
    at: Option<Instant>,
    started: Instant,
}

/// The deadline passed before the work finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired;

impl Deadline {
    /// No deadline: only the client's per-request timeout bounds each request.
    pub(crate) fn none() -> Self {
        Self {
            at: None,
            started: Instant::now(),
        }
    }

    /// A deadline `timeout` from now (`None` for no deadline). A timeout too large to
    /// represent is no deadline.
    pub(crate) fn after(timeout: Option<Duration>) -> Self {
        let started = Instant::now();
        Self {
            at: timeout.and_then(|t| started.checked_add(t)),
            started,
        }
    }

    /// Time since the deadline was set.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Time left (`None` when unbounded; zero once passed).
    pub(crate) fn remaining(&self) -> Option<Duration> {
        self.at
            .map(|at| at.saturating_duration_since(Instant::now()))
    }

    /// True once the deadline has passed.
    pub(crate) fn expired(&self) -> bool {
        self.remaining().is_some_and(|r| r.is_zero())
    }

    /// `d`, shortened to the time left.
    pub(crate) fn cap(&self, d: Duration) -> Duration {
        match self.remaining() {
            Some(r) => d.min(r),
            None => d,
        }
    }

    /// The instant `d` from now, or the deadline if that comes first.
    pub(crate) fn wake_after(&self, d: Duration) -> Instant {
        let now = Instant::now();
        let wake = now
            .checked_add(d)
            .unwrap_or(now + Duration::from_secs(86_400));
        match self.at {
            Some(at) => wake.min(at),
            None => wake,
        }
    }

    /// Runs `work`, giving up when the deadline passes first.
    ///
    /// A plain function returning a future, not an `async fn`: an async fn keeps its
    /// argument in its state beside the timeout it is moved into, so every `run` doubled the
    /// size of the work it wraps (a status read's future was 4,432 bytes, 2,416 since).
    pub(crate) fn run<F: Future>(
        &self,
        work: F,
    ) -> impl Future<Output = Result<F::Output, Expired>> + use<F> {
        match self.at {
            None => Either::Left(work.map(Ok)),
            Some(at) => Either::Right(
                tokio::time::timeout_at(at, work).map(|done| done.map_err(|_| Expired)),
            ),
        }
    }

    /// Sleeps for `d` capped by the deadline. Returns `Err(Expired)` when the deadline is
    /// what ended the sleep.
    pub(crate) async fn sleep(&self, d: Duration) -> Result<(), Expired> {
        tokio::time::sleep_until(self.wake_after(d)).await;
        if self.expired() { Err(Expired) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn sleeps_and_work_stop_at_the_deadline() {
        let d = Deadline::after(Some(Duration::from_secs(10)));
        let start = Instant::now();
        assert_eq!(d.sleep(Duration::from_secs(60)).await, Err(Expired));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert!(d.expired());
        let d = Deadline::after(Some(Duration::from_secs(5)));
        let never = std::future::pending::<()>();
        assert_eq!(d.run(never).await, Err(Expired));
        let none = Deadline::none();
        assert_eq!(none.remaining(), None);
        assert_eq!(none.cap(Duration::from_secs(7)), Duration::from_secs(7));
        assert_eq!(none.sleep(Duration::from_secs(1)).await, Ok(()));
        let huge = Deadline::after(Some(Duration::MAX));
        assert_eq!(huge.remaining(), None);
    }
}
