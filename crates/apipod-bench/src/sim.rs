//! Polling simulation on a virtual clock.
//!
//! A task is submitted at t = 0 and finishes at t = T. A waiter reads the status at once
//! (as `Task::wait` does), then sleeps whatever its policy says, reads again, and so on,
//! until a read happens at or after T. Nothing sleeps for real: each policy's `delay` is
//! called directly. Per task this gives the number of status requests and the completion
//! detection delay (the time between T and the read that sees the task finished).

use std::time::Duration;

use apipod::PollPolicy;
use apipod::contract::{self, PollingHint, TaskKind};
use serde::Serialize;

use crate::stats::{Summary, percentile};
use apipod::AdaptivePollPolicy;

/// One simulated task.
#[derive(Debug, Clone, PartialEq)]
pub struct SimTask {
    /// Model id.
    pub model: &'static str,
    /// Seconds from submit to completion.
    pub duration: f64,
    /// Fractional second of the wall clock at submit (the API reports `completed_at` in whole
    /// seconds, so what a client can learn about a duration is this coarse).
    pub submit_frac: f64,
}

impl SimTask {
    /// What a client learns about the duration: `completed_at` (whole seconds) minus the
    /// submit time.
    pub fn observed_duration(&self) -> Duration {
        let completed_at = (self.submit_frac + self.duration).floor();
        Duration::from_secs_f64((completed_at - self.submit_frac).max(0.0))
    }
}

/// Per-model (queued, running) ranges in seconds: the mock's realistic timing, so the
/// simulation and `apipod_mock::MockConfig::realistic()` agree.
pub use apipod_mock::realistic_ranges as duration_ranges;

/// `n` tasks of `kind` from a seeded generator: a model drawn uniformly from the spec's
/// models of that kind, a queue time and a run time drawn uniformly from its ranges.
/// `speedup` divides every duration (1.0 for none).
pub fn sample_tasks(kind: TaskKind, n: usize, seed: u64, speedup: f64) -> Vec<SimTask> {
    let models: Vec<&'static contract::ModelContract> = contract::of_kind(kind).collect();
    assert!(!models.is_empty(), "the spec has {kind} models");
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..n)
        .map(|_| {
            let m = models[rng.usize(..models.len())];
            let model = m.id;
            let ((p_lo, p_hi), (r_lo, r_hi)) = duration_ranges(m);
            let pending = p_lo + rng.f64() * (p_hi - p_lo);
            let running = r_lo + rng.f64() * (r_hi - r_lo);
            SimTask {
                model,
                duration: (pending + running) / speedup,
                submit_frac: rng.f64(),
            }
        })
        .collect()
}

/// Something that decides when to read a task again.
pub trait Poller {
    /// Delay before the next read of a `model` task that is `age` old.
    fn delay(&mut self, model: &str, age: Duration, hint: Option<PollingHint>) -> Duration;
    /// Called when a task finished, with what the client learned about its duration.
    fn observe(&mut self, _model: &str, _observed: Duration) {}
}

impl Poller for PollPolicy {
    fn delay(&mut self, model: &str, age: Duration, hint: Option<PollingHint>) -> Duration {
        self.delay_for(model, age, hint)
    }

    fn observe(&mut self, model: &str, observed: Duration) {
        PollPolicy::observe(self, model, observed);
    }
}

impl Poller for AdaptivePollPolicy {
    fn delay(&mut self, model: &str, age: Duration, hint: Option<PollingHint>) -> Duration {
        AdaptivePollPolicy::delay(self, model, age, hint)
    }

    fn observe(&mut self, model: &str, observed: Duration) {
        AdaptivePollPolicy::observe(self, model, observed);
    }
}

/// How one waiter fared on one task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Status requests made.
    pub requests: u32,
    /// Seconds between the task finishing and the read that saw it.
    pub detection: f64,
}

/// Simulates polling one task. With `callback` set, the waiter behaves like the SDK's hybrid
/// wait: its intervals are stretched (×4, at most 60 s) and a callback arriving at T makes
/// it read at once (detection delay 0 here; the real re-read time is measured separately).
pub fn simulate(poller: &mut dyn Poller, task: &SimTask, callback: bool) -> Outcome {
    let hint = contract::find(task.model).and_then(|m| m.polling);
    let mut t = 0.0_f64;
    let mut requests = 0;
    loop {
        requests += 1;
        if t >= task.duration {
            break;
        }
        let mut delay = poller.delay(task.model, Duration::from_secs_f64(t), hint);
        if callback {
            delay = (delay * 4).min(Duration::from_secs(60));
        }
        let next = t + delay.as_secs_f64().max(0.001);
        if callback && next > task.duration {
            t = task.duration;
            continue;
        }
        t = next;
    }
    poller.observe(task.model, task.observed_duration());
    Outcome {
        requests,
        detection: t - task.duration,
    }
}

/// The documented polling schedule as a bound on detection delay for a task that finished
/// at `t` seconds: 3 s in the first 30 s, 10 s up to 2 min, 30 s after.
pub fn schedule_limit(t: f64) -> f64 {
    if t < 30.0 {
        3.0
    } else if t < 120.0 {
        10.0
    } else {
        30.0
    }
}

/// Detection delay of the tasks that finished within one band of the schedule.
#[derive(Debug, Clone, Serialize)]
pub struct Band {
    /// `"0-30s"`, `"30-120s"` or `"120s+"`.
    pub band: &'static str,
    /// Tasks that finished in the band.
    pub tasks: usize,
    /// 95th percentile of their detection delay, seconds.
    pub p95_detection: f64,
    /// 99th percentile of their detection delay, seconds.
    pub p99_detection: f64,
    /// The schedule's interval in this band, seconds.
    pub limit: f64,
    /// p95 within the limit and p99 within 1.5 × the limit.
    pub met: bool,
}

/// What one policy did over a set of tasks.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyRun {
    /// Policy name.
    pub policy: String,
    /// Task kind.
    pub kind: String,
    /// Tasks simulated.
    pub tasks: usize,
    /// Mean status requests per task.
    pub requests_per_task: f64,
    /// Detection delay, seconds.
    pub detection: Summary,
    /// Detection delay per schedule band.
    pub bands: Vec<Band>,
    /// Every band's p95 within the schedule, and its p99 within 1.5 × it.
    pub within_schedule: bool,
}

/// Runs `poller` over `tasks` (in order, so learning policies learn as they go).
pub fn run(
    name: &str,
    kind: TaskKind,
    poller: &mut dyn Poller,
    tasks: &[SimTask],
    callback: bool,
) -> PolicyRun {
    let outcomes: Vec<Outcome> = tasks
        .iter()
        .map(|t| simulate(poller, t, callback))
        .collect();
    summarise(name, kind, tasks, &outcomes)
}

/// Summarises per-task outcomes.
pub fn summarise(name: &str, kind: TaskKind, tasks: &[SimTask], outcomes: &[Outcome]) -> PolicyRun {
    let detection: Vec<f64> = outcomes.iter().map(|o| o.detection).collect();
    let requests = outcomes.iter().map(|o| f64::from(o.requests)).sum::<f64>();
    let mut bands = Vec::new();
    for (band, lo, hi) in [
        ("0-30s", 0.0, 30.0),
        ("30-120s", 30.0, 120.0),
        ("120s+", 120.0, f64::INFINITY),
    ] {
        let in_band: Vec<f64> = tasks
            .iter()
            .zip(&detection)
            .filter(|(t, _)| t.duration >= lo && t.duration < hi)
            .map(|(_, d)| *d)
            .collect();
        if in_band.is_empty() {
            continue;
        }
        let p95 = percentile(&in_band, 95.0);
        let p99 = percentile(&in_band, 99.0);
        let limit = schedule_limit(lo);
        bands.push(Band {
            band,
            tasks: in_band.len(),
            p95_detection: p95,
            p99_detection: p99,
            limit,
            met: p95 <= limit + 1e-9 && p99 <= 1.5 * limit + 1e-9,
        });
    }
    PolicyRun {
        policy: name.to_string(),
        kind: kind.to_string(),
        tasks: tasks.len(),
        requests_per_task: requests / tasks.len().max(1) as f64,
        detection: Summary::of(&detection),
        within_schedule: bands.iter().all(|b| b.met),
        bands,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_poller_counts_reads_and_delay() {
        let task = SimTask {
            model: "seedream-v4.5",
            duration: 9.0,
            submit_frac: 0.5,
        };
        let mut fixed = PollPolicy::Fixed(Duration::from_secs(2));
        // Reads at 0, 2, 4, 6, 8, 10: six requests, seen 1 s late.
        let o = simulate(&mut fixed, &task, false);
        assert_eq!(o.requests, 6);
        assert!((o.detection - 1.0).abs() < 1e-9);
        // With a callback: reads at 0 and 8 (stretched to 8 s), then at 9 on the callback.
        let o = simulate(&mut fixed, &task, true);
        assert_eq!(o.requests, 3);
        assert_eq!(o.detection, 0.0);
        assert_eq!(task.observed_duration(), Duration::from_secs_f64(8.5));
    }

    #[test]
    fn samples_are_seeded_and_in_range() {
        let a = sample_tasks(TaskKind::Video, 500, 7, 1.0);
        assert_eq!(a, sample_tasks(TaskKind::Video, 500, 7, 1.0));
        let images = sample_tasks(TaskKind::Image, 500, 7, 1.0);
        for t in a.iter().chain(&images) {
            let m = contract::find(t.model).expect("sampled from the spec");
            let ((q0, q1), (r0, r1)) = duration_ranges(m);
            assert!((q0 + r0..=q1 + r1).contains(&t.duration), "{t:?}");
        }
    }

    #[test]
    fn bands_follow_the_schedule() {
        let tasks = sample_tasks(TaskKind::Video, 300, 1, 1.0);
        let run = run(
            "fixed 2s",
            TaskKind::Video,
            &mut PollPolicy::Fixed(Duration::from_secs(2)),
            &tasks,
            false,
        );
        assert!(run.within_schedule);
        assert!(run.detection.max <= 2.0 + 1e-9);
        let slow = super::run(
            "fixed 40s",
            TaskKind::Video,
            &mut PollPolicy::Fixed(Duration::from_secs(40)),
            &tasks,
            false,
        );
        assert!(!slow.within_schedule);
    }
}
