//! A polling policy that learns how long each model's tasks take.
//!
//! [`AdaptivePollPolicy`] keeps the recent durations of finished tasks per model. Until a
//! model has [`AdaptiveConfig::min_samples`] of them it behaves exactly like the SDK's
//! default [`PollPolicy`]. Afterwards it knows the model's "dead zone" (the time before which
//! almost no task finishes) and
//!
//! 1. sleeps through it: the read after the first one happens at
//!    `start_margin` × the `start_quantile` of the learned durations (default 0.9 × p2);
//! 2. then polls at the slowest rate the documented schedule allows: just under 3 s while
//!    the task is younger than 30 s, 10 s up to 2 min, 30 s after (jittered downwards only,
//!    so the schedule's ceiling is never exceeded).
//!
//! Durations are learned from what a client really knows: the `completed_at` of the final
//! status (whole Unix seconds) minus the submit time. [`Task::wait`](crate::Task::wait) feeds
//! them in automatically when the client's policy is [`PollPolicy::Adaptive`]:
//!
//! ```no_run
//! # fn demo() -> apipod::Result<()> {
//! use std::sync::Arc;
//! use apipod::{AdaptivePollPolicy, Client, PollPolicy};
//!
//! let client = Client::builder()
//!     .api_key("sk-...")
//!     .poll_policy(PollPolicy::Adaptive(Arc::new(AdaptivePollPolicy::default())))
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use apipod::AdaptivePollPolicy;
//!
//! let policy = AdaptivePollPolicy::default();
//! for _ in 0..50 {
//!     policy.observe("seedance-2.0-t2v", Duration::from_secs(300));
//! }
//! // A 1-second-old Seedance task is not read again for about 4.5 minutes...
//! assert!(policy.delay("seedance-2.0-t2v", Duration::from_secs(1), None) > Duration::from_secs(200));
//! // ...and an unknown model follows the SDK's staged schedule.
//! assert!(policy.delay("new-model", Duration::from_secs(1), None) <= Duration::from_secs(3));
//! ```

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use apipod_raw::contract::PollingHint;

use super::schedule::Schedule;

/// Settings of an [`AdaptivePollPolicy`].
#[derive(Debug, Clone, PartialEq)]
pub struct AdaptiveConfig {
    /// Durations remembered per model (most recent first out; default 200).
    pub window: usize,
    /// Durations needed before the model's schedule is used (default 20).
    pub min_samples: usize,
    /// Quantile of the learned durations that ends the dead zone (default 0.02).
    pub start_quantile: f64,
    /// Factor applied to that quantile (default 0.9): the first real check happens a bit
    /// before it.
    pub start_margin: f64,
    /// Downward jitter of each interval, 0.0-0.5 (default 0.15).
    pub jitter: f64,
    /// The schedule before a model is learned (default: APIPod's staged guidance, the SDK's
    /// default).
    pub fallback: Schedule,
    /// Until a model is learned, start from the spec's estimate of it instead of the
    /// fallback: its dead zone is this fraction of the shortest typical duration
    /// ([`ModelContract::typical_timing`](apipod_raw::contract::ModelContract::typical_timing):
    /// queue low + run low), and is lowered at once by any shorter task seen. `None` (the
    /// default of [`AdaptivePollPolicy::default`]) uses the fallback instead;
    /// [`AdaptivePollPolicy::with_spec_priors`] sets 0.9.
    pub prior_margin: Option<f64>,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        AdaptiveConfig {
            window: 200,
            min_samples: 20,
            start_quantile: 0.02,
            start_margin: 0.9,
            jitter: 0.15,
            fallback: Schedule::default(),
            prior_margin: None,
        }
    }
}

#[derive(Debug, Default)]
struct History {
    recent: VecDeque<f64>,
    /// Seconds: end of the dead zone, once enough durations are known.
    start: Option<f64>,
    /// Seconds: the shortest duration seen (bounds a prior while the model is learned).
    shortest: Option<f64>,
}

/// A polling policy that learns each model's typical duration: it sleeps through the time
/// in which a model's tasks almost never finish, then polls at the slowest rate the
/// documented schedule allows. Share one instance between all waits of a process (it is `Sync`).
#[derive(Debug, Default)]
pub struct AdaptivePollPolicy {
    config: AdaptiveConfig,
    models: Mutex<HashMap<String, History>>,
}

/// Two policies are equal when they are the same learner.
impl PartialEq for AdaptivePollPolicy {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// The longest interval the documented schedule allows at `age`: 3 s in the first 30 s,
/// 10 s up to 2 min, 30 s after.
pub fn schedule_ceiling(age: Duration) -> Duration {
    if age < Duration::from_secs(30) {
        Duration::from_secs(3)
    } else if age < Duration::from_secs(120) {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(30)
    }
}

impl AdaptivePollPolicy {
    /// A policy with these settings.
    pub fn new(config: AdaptiveConfig) -> Self {
        AdaptivePollPolicy {
            config,
            models: Mutex::new(HashMap::new()),
        }
    }

    /// A policy that starts each model from the spec's estimate of its duration (see
    /// [`AdaptiveConfig::prior_margin`]) and then learns: what a [`Client`](crate::Client)
    /// talking to APIPod uses when no policy is set ([`PollPolicy::learning`](super::PollPolicy::learning)).
    pub fn with_spec_priors() -> Self {
        AdaptivePollPolicy::new(AdaptiveConfig {
            prior_margin: Some(0.9),
            ..AdaptiveConfig::default()
        })
    }

    /// The settings.
    pub fn config(&self) -> &AdaptiveConfig {
        &self.config
    }

    /// Records that a task of `model` took `duration` from submit to completion.
    pub fn observe(&self, model: &str, duration: Duration) {
        let mut models = crate::lock::lock(&self.models);
        let history = models.entry(model.to_string()).or_default();
        let seconds = duration.as_secs_f64();
        history.shortest = Some(history.shortest.map_or(seconds, |s| s.min(seconds)));
        history.recent.push_back(seconds);
        while history.recent.len() > self.config.window.max(1) {
            history.recent.pop_front();
        }
        history.start = (history.recent.len() >= self.config.min_samples.max(1)).then(|| {
            let mut sorted: Vec<f64> = history.recent.iter().copied().collect();
            sorted.sort_by(f64::total_cmp);
            let q = self.config.start_quantile.clamp(0.0, 1.0);
            let idx = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
            sorted[idx] * self.config.start_margin.max(0.0)
        });
    }

    /// The end of `model`'s dead zone: learned once enough durations are known; before
    /// that, the spec's prior when the policy has priors (bounded by the shortest task
    /// seen), else none.
    pub fn dead_zone(&self, model: &str) -> Option<Duration> {
        let (learned, shortest) = {
            let models = crate::lock::lock(&self.models);
            models
                .get(model)
                .map_or((None, None), |h| (h.start, h.shortest))
        };
        let seconds = learned.or_else(|| {
            let margin = self.config.prior_margin?.clamp(0.0, 1.0);
            let timing = apipod_raw::contract::find(model)?.typical_timing();
            let prior = (timing.queue_s.0 + timing.run_s.0).max(0.0) * margin;
            Some(shortest.map_or(prior, |s| prior.min(s * margin)))
        })?;
        Some(Duration::from_secs_f64(seconds))
    }

    /// Delay before the next status read of a `model` task that is `age` old.
    pub fn delay(&self, model: &str, age: Duration, hint: Option<PollingHint>) -> Duration {
        let Some(start) = self.dead_zone(model) else {
            return self.config.fallback.delay(age, hint);
        };
        if age + Duration::from_millis(500) < start {
            return start - age;
        }
        let j = self.config.jitter.clamp(0.0, 0.5);
        schedule_ceiling(age).mul_f64(1.0 - fastrand::f64() * j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_back_until_learned_then_skips_the_dead_zone() {
        let p = AdaptivePollPolicy::default();
        let model = "veo3-1-fast";
        for i in 0..19 {
            p.observe(model, Duration::from_secs(60 + i));
        }
        assert_eq!(p.dead_zone(model), None);
        let d = p.delay(model, Duration::from_secs(1), None);
        assert!(
            d >= Duration::from_secs(2) && d <= Duration::from_secs(3),
            "{d:?}"
        );
        p.observe(model, Duration::from_secs(100));
        let start = p.dead_zone(model).unwrap();
        assert_eq!(start, Duration::from_secs(54)); // 0.9 × 60 s
        assert_eq!(
            p.delay(model, Duration::from_secs(4), None),
            Duration::from_secs(50)
        );
        for age in [54, 80, 119] {
            let d = p.delay(model, Duration::from_secs(age), None);
            assert!(
                d > Duration::from_secs(8) && d <= Duration::from_secs(10),
                "{d:?}"
            );
        }
        let d = p.delay(model, Duration::from_secs(200), None);
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
    }

    #[test]
    fn forgets_old_durations() {
        let p = AdaptivePollPolicy::new(AdaptiveConfig {
            window: 20,
            ..AdaptiveConfig::default()
        });
        for _ in 0..20 {
            p.observe("m", Duration::from_secs(100));
        }
        assert_eq!(p.dead_zone("m"), Some(Duration::from_secs(90)));
        for _ in 0..20 {
            p.observe("m", Duration::from_secs(10));
        }
        assert_eq!(p.dead_zone("m"), Some(Duration::from_secs(9)));
    }

    #[test]
    fn spec_priors_skip_the_estimated_dead_zone_and_yield_to_shorter_tasks() {
        let model = "seedream-v4.5";
        let timing = apipod_raw::contract::find(model).unwrap().typical_timing();
        let prior = 0.9 * (timing.queue_s.0 + timing.run_s.0);
        let p = AdaptivePollPolicy::with_spec_priors();
        assert_eq!(p.dead_zone(model), Some(Duration::from_secs_f64(prior)));
        // Without priors (the default learner) nothing is known yet.
        assert_eq!(AdaptivePollPolicy::default().dead_zone(model), None);
        // An unknown model has no prior: the staged fallback.
        assert_eq!(p.dead_zone("not-a-model"), None);
        // A task shorter than the prior lowers it at once.
        p.observe(model, Duration::from_secs(4));
        assert_eq!(p.dead_zone(model), Some(Duration::from_secs_f64(3.6)));
        let d = p.delay(model, Duration::from_secs(1), None);
        assert_eq!(d, Duration::from_secs_f64(2.6));
        // Once learned, the learned dead zone wins (0.9 × the 2nd percentile, which the
        // one 4 s task no longer is among 61).
        for _ in 0..60 {
            p.observe(model, Duration::from_secs(40));
        }
        assert_eq!(p.dead_zone(model), Some(Duration::from_secs(36)));
    }
}
