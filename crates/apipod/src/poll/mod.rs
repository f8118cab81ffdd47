//! When to read a task's status again.

use std::sync::Arc;
use std::time::Duration;

use apipod_raw::contract::PollingHint;

mod adaptive;
mod schedule;

pub use adaptive::{AdaptiveConfig, AdaptivePollPolicy, schedule_ceiling};
pub use schedule::Schedule;

/// How often a wait reads the task's status.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PollPolicy {
    /// APIPod's guidance: every `early` for the first 30 s of the task's life (the model's
    /// published interval when it has one, kept within 2-3 s), every `middle` up to two
    /// minutes, every `late` after that; each delay jittered by ±`jitter`.
    Staged {
        /// Interval in the first 30 s (default 2.5 s).
        early: Duration,
        /// Interval from 30 s to 2 min (default 7.5 s).
        middle: Duration,
        /// Interval after 2 min (default 20 s).
        late: Duration,
        /// Relative jitter, 0.0-0.5 (default 0.2).
        jitter: f64,
    },
    /// The same interval throughout (no jitter).
    Fixed(Duration),
    /// Learns each model's typical duration from completed waits and sleeps through the time
    /// in which its tasks almost never finish, then polls at the slowest rate the documented
    /// schedule allows; until a model has enough history it follows the staged schedule.
    /// Share one instance (the `Arc`) between all waits. See [`AdaptivePollPolicy`].
    Adaptive(Arc<AdaptivePollPolicy>),
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy::Staged {
            early: Duration::from_millis(2500),
            middle: Duration::from_millis(7500),
            late: Duration::from_secs(20),
            jitter: 0.2,
        }
    }
}

impl PollPolicy {
    /// A fresh learning policy that starts each model from the spec's estimate of its
    /// duration ([`AdaptivePollPolicy::with_spec_priors`]): what a [`Client`](crate::Client)
    /// uses when it talks to APIPod's own hosts and no policy is set. It sleeps through the
    /// time in which a model's tasks almost never finish, then polls at the slowest rate the
    /// documented schedule allows, and corrects itself from the tasks it sees.
    pub fn learning() -> Self {
        PollPolicy::Adaptive(Arc::new(AdaptivePollPolicy::with_spec_priors()))
    }

    /// Delay before the next read of a `model` task that is `age` old.
    pub fn delay_for(&self, model: &str, age: Duration, hint: Option<PollingHint>) -> Duration {
        match self {
            PollPolicy::Adaptive(learner) => learner.delay(model, age, hint),
            other => other.delay(age, hint),
        }
    }

    /// Tells a learning policy that a `model` task took `duration` (no-op for the others).
    pub fn observe(&self, model: &str, duration: Duration) {
        if let PollPolicy::Adaptive(learner) = self {
            learner.observe(model, duration);
        }
    }

    /// Delay before the next read of a task that is `age` old (without a model, a learning
    /// policy uses its fallback schedule).
    pub fn delay(&self, age: Duration, hint: Option<PollingHint>) -> Duration {
        match self {
            PollPolicy::Fixed(d) => Schedule::Fixed(*d).delay(age, hint),
            PollPolicy::Adaptive(learner) => learner.config().fallback.delay(age, hint),
            PollPolicy::Staged {
                early,
                middle,
                late,
                jitter,
            } => Schedule::Staged {
                early: *early,
                middle: *middle,
                late: *late,
                jitter: *jitter,
            }
            .delay(age, hint),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_follows_the_docs_bands() {
        let p = PollPolicy::default();
        for _ in 0..200 {
            let d = p.delay(Duration::from_secs(5), None);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_secs(3),
                "{d:?}"
            );
            let d = p.delay(Duration::from_secs(60), None);
            assert!(
                d >= Duration::from_secs(6) && d <= Duration::from_secs(9),
                "{d:?}"
            );
            let d = p.delay(Duration::from_secs(600), None);
            assert!(
                d >= Duration::from_secs(16) && d <= Duration::from_secs(24),
                "{d:?}"
            );
        }
        let hint = PollingHint {
            interval_ms: 2000,
            max_attempts: 10,
        };
        let d = p.delay(Duration::ZERO, Some(hint));
        assert!(d <= Duration::from_millis(2400), "{d:?}");
        assert_eq!(
            PollPolicy::Fixed(Duration::from_secs(2)).delay(Duration::ZERO, None),
            Duration::from_secs(2)
        );
    }
}
