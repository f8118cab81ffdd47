//! How long and how to wait, and how to submit: the options of the client's operations.

use std::time::Duration;

use apipod_raw::contract::TaskKind;
use tokio_util::sync::CancellationToken;

use crate::poll::PollPolicy;

/// How long and how to wait.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// Overall deadline for the whole wait (default 10 min for images, 30 min for videos,
    /// 10 min for assets).
    pub timeout: Option<Duration>,
    /// Stops waiting when cancelled (the task keeps running on APIPod).
    pub cancel: Option<CancellationToken>,
    /// Polling policy (default: the client's).
    pub poll: Option<PollPolicy>,
    /// How many consecutive reads may report a status this SDK does not know before giving
    /// up (default 120).
    pub max_unknown_reads: Option<u32>,
}

impl WaitOptions {
    /// Options with this deadline.
    pub fn timeout(d: Duration) -> Self {
        Self {
            timeout: Some(d),
            ..Self::default()
        }
    }

    /// Adds a cancellation token.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sets the polling policy.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = Some(poll);
        self
    }
}

/// Default overall wait deadline for a kind of task.
pub fn default_timeout(kind: TaskKind) -> Duration {
    match kind {
        TaskKind::Image => Duration::from_secs(10 * 60),
        TaskKind::Video => Duration::from_secs(30 * 60),
    }
}

/// Options for one submit.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Use this `Idempotency-Key` instead of a generated one (at most 255 characters).
    /// Reuse the key to recover a submit whose answer was lost: APIPod replays the original
    /// task instead of creating another one, for 7 days.
    pub idempotency_key: Option<String>,
    /// Stops retrying (and waiting on the rate-limit gate) when cancelled.
    pub cancel: Option<CancellationToken>,
    /// Overall deadline of the submit: the rate-limit gate, every attempt and every retry
    /// sleep are capped by it (default none: each attempt is bounded by the client's request
    /// timeout and the retry budget). When it passes the submit ends with
    /// [`Error::Timeout`](crate::Error::Timeout) carrying the idempotency key, so it can be resumed without a second
    /// task.
    pub timeout: Option<Duration>,
}

impl SubmitOptions {
    /// Options with this idempotency key.
    pub fn idempotency_key(key: impl Into<String>) -> Self {
        Self {
            idempotency_key: Some(key.into()),
            ..Self::default()
        }
    }
}
