//! The fixed schedules a wait can follow: APIPod's staged guidance, or one interval.

use std::time::Duration;

use apipod_raw::contract::PollingHint;

/// A schedule that does not learn: the base of every [`PollPolicy`](crate::PollPolicy), and
/// what an adaptive policy follows until it knows a model.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Schedule {
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
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule::Staged {
            early: Duration::from_millis(2500),
            middle: Duration::from_millis(7500),
            late: Duration::from_secs(20),
            jitter: 0.2,
        }
    }
}

impl Schedule {
    /// Delay before the next read of a task that is `age` old.
    pub fn delay(&self, age: Duration, hint: Option<PollingHint>) -> Duration {
        match self {
            Schedule::Fixed(d) => *d,
            Schedule::Staged {
                early,
                middle,
                late,
                jitter,
            } => {
                let j = jitter.clamp(0.0, 0.5);
                let factor = 1.0 - j + fastrand::f64() * 2.0 * j;
                if age < Duration::from_secs(30) {
                    match hint {
                        // The model's own interval, jittered, kept inside the docs' 2-3 s band.
                        Some(h) => Duration::from_millis(h.interval_ms)
                            .mul_f64(factor)
                            .clamp(Duration::from_secs(2), Duration::from_secs(3)),
                        None => early.mul_f64(factor),
                    }
                } else if age < Duration::from_secs(120) {
                    middle.mul_f64(factor)
                } else {
                    late.mul_f64(factor)
                }
            }
        }
    }
}
