//! Tasks and their lifecycle.
//!
//! A task stores only when it was created and a plan (how long each phase lasts and how it
//! ends). Its state is derived from its age whenever it is read, so tasks need no timers
//! and 10,000 of them cost a few megabytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apipod_raw::TaskStatus;
use apipod_raw::contract::{ModelContract, TaskKind};
use apipod_raw::types::{TaskDetail, TaskResult, VeoVideoResult};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::{MockConfig, Timing};
use crate::faults::{FaultConfig, mix, unit};
use crate::media::{self, MediaFile};

/// Prompt markers that decide how a task ends.
///
/// Put one anywhere in the `prompt` of a create request:
///
/// ```
/// use apipod_mock::markers;
///
/// let prompt = format!("a lighthouse at dawn {}", markers::FAIL);
/// assert_eq!(prompt, "a lighthouse at dawn [mock:fail]");
/// ```
pub mod markers {
    /// The task ends `failed` with error code `UPSTREAM_CAPACITY_EXHAUSTED`.
    pub const FAIL: &str = "[mock:fail]";
    /// Prefix of `[mock:fail=CODE]`: the task ends `failed` with error code `CODE`.
    pub const FAIL_WITH_CODE: &str = "[mock:fail=";
    /// The task ends `cancelled`.
    pub const CANCEL: &str = "[mock:cancel]";
    /// After processing, the task reports the undocumented status `finalizing` for as long
    /// as it processed, then ends as it otherwise would.
    pub const UNKNOWN_STATUS: &str = "[mock:unknown-status]";
    /// The task never finishes: it stays `processing` at 99% (for deadline tests).
    pub const STUCK: &str = "[mock:stuck]";
}

/// The error code of `[mock:fail]` and of failures drawn by
/// [`FaultConfig::task_failure_rate`].
pub const DEFAULT_FAILURE_CODE: &str = "UPSTREAM_CAPACITY_EXHAUSTED";

/// The status value `[mock:unknown-status]` reports.
pub(crate) const FINALIZING: &str = "finalizing";

/// How a task ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Complete,
    Fail { code: String, message: String },
    Cancel,
    Never,
}

/// Durations and ending of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    pub pending: Duration,
    pub processing: Duration,
    /// Time reported as `finalizing` after processing (zero unless asked for).
    pub finalizing: Duration,
    pub outcome: Outcome,
}

/// A task's state at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Phase {
    Pending,
    Processing { progress: i64 },
    Finalizing,
    Completed,
    Failed,
    Cancelled,
}

/// One task.
#[derive(Debug)]
pub(crate) struct Task {
    pub id: String,
    pub kind: TaskKind,
    pub model: &'static str,
    /// API key that created it; other keys get 404.
    pub owner: String,
    /// `X-Request-ID` of the create request.
    pub request_id: String,
    pub created: Instant,
    pub created_wall: SystemTime,
    pub plan: Plan,
    pub files: Vec<MediaFile>,
    pub callback_url: Option<String>,
}

impl Task {
    /// Time from creation to the terminal state, or `None` if it never ends.
    pub fn terminal_after(&self) -> Option<Duration> {
        match self.plan.outcome {
            Outcome::Never => None,
            _ => Some(self.plan.pending + self.plan.processing + self.plan.finalizing),
        }
    }

    /// When the task becomes terminal.
    pub fn terminal_at(&self) -> Option<Instant> {
        self.terminal_after().map(|d| self.created + d)
    }

    /// Unix seconds of the terminal state.
    pub fn completed_unix(&self) -> Option<i64> {
        let wall = self.completed_wall()?;
        wall.duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs() as i64)
    }

    /// Wall-clock time of the terminal state.
    pub fn completed_wall(&self) -> Option<SystemTime> {
        self.terminal_after().map(|d| self.created_wall + d)
    }

    /// The phase at `now`.
    pub fn phase_at(&self, now: Instant) -> Phase {
        let age = now.saturating_duration_since(self.created);
        let plan = &self.plan;
        if age < plan.pending {
            return Phase::Pending;
        }
        let into = age - plan.pending;
        if into < plan.processing {
            let progress = (into.as_nanos() * 100 / plan.processing.as_nanos()) as i64;
            return Phase::Processing {
                progress: progress.clamp(0, 99),
            };
        }
        if plan.outcome == Outcome::Never {
            return Phase::Processing { progress: 99 };
        }
        if into - plan.processing < plan.finalizing {
            return Phase::Finalizing;
        }
        match plan.outcome {
            Outcome::Complete => Phase::Completed,
            Outcome::Fail { .. } => Phase::Failed,
            Outcome::Cancel => Phase::Cancelled,
            Outcome::Never => unreachable!("handled above"),
        }
    }

    /// URL of result file `index`.
    pub fn file_url(&self, base_url: &str, index: usize) -> String {
        let ext = self.files[index].ext();
        format!("{base_url}/files/{}/{index}.{ext}", self.id)
    }

    /// The `result` of a completed task.
    pub fn result(&self, base_url: &str, veo_object: bool) -> TaskResult {
        if veo_object
            && apipod_raw::contract::find(self.model).is_some_and(|c| c.veo_object)
            && let Some((i, file)) = self
                .files
                .iter()
                .enumerate()
                .find(|(_, f)| matches!(f, MediaFile::Video { .. }))
        {
            let (width, height) = file.dimensions();
            return TaskResult::VeoVideoResult(VeoVideoResult {
                url: self.file_url(base_url, i),
                width: Some(i64::from(width)),
                height: Some(i64::from(height)),
                duration: file.duration_secs(),
            });
        }
        TaskResult::Array(
            (0..self.files.len())
                .map(|i| self.file_url(base_url, i))
                .collect(),
        )
    }

    /// The status `data` at `now`, built from the spec's generated type.
    pub fn detail(&self, now: Instant, base_url: &str, veo_object: bool) -> TaskDetail {
        let mut detail = TaskDetail {
            task_id: self.id.clone(),
            status: TaskStatus::Pending,
            progress: None,
            result: None,
            completed_at: None,
            error: None,
            error_code: None,
            error_message: None,
        };
        match self.phase_at(now) {
            Phase::Pending => detail.progress = Some(0),
            Phase::Processing { progress } => {
                detail.status = TaskStatus::Processing;
                detail.progress = Some(progress);
            }
            Phase::Finalizing => {
                detail.status = TaskStatus::from_wire(FINALIZING);
                detail.progress = Some(99);
            }
            Phase::Completed => {
                detail.status = TaskStatus::Completed;
                detail.progress = Some(100);
                detail.result = Some(self.result(base_url, veo_object));
                detail.completed_at = self.completed_unix();
            }
            Phase::Failed => {
                detail.status = TaskStatus::Failed;
                detail.completed_at = self.completed_unix();
                if let Outcome::Fail { code, message } = &self.plan.outcome {
                    match self.kind {
                        TaskKind::Image => {
                            detail.error_code = Some(code.clone());
                            detail.error_message = Some(message.clone());
                        }
                        TaskKind::Video => detail.error = Some(message.clone()),
                    }
                }
            }
            Phase::Cancelled => {
                detail.status = TaskStatus::Cancelled;
                detail.completed_at = self.completed_unix();
            }
        }
        detail
    }
}

/// Everything needed to make a task from a validated request.
pub(crate) struct NewTask<'a> {
    pub contract: &'static ModelContract,
    pub body: &'a Map<String, Value>,
    pub owner: &'a str,
    pub request_id: &'a str,
}

/// All tasks of one server.
#[derive(Debug, Default)]
pub(crate) struct TaskStore {
    tasks: Mutex<HashMap<String, Arc<Task>>>,
    created: AtomicUsize,
    sequence: AtomicU64,
}

impl TaskStore {
    /// An empty store with room for `tasks` tasks.
    pub fn with_capacity(tasks: usize) -> Self {
        TaskStore {
            tasks: Mutex::new(HashMap::with_capacity(tasks)),
            ..TaskStore::default()
        }
    }

    /// Creates and stores a task.
    pub fn create(&self, new: NewTask<'_>, config: &MockConfig, faults: &FaultConfig) -> Arc<Task> {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let kind = new.contract.kind;
        let prefix = match kind {
            TaskKind::Image => "img",
            TaskKind::Video => "vid",
        };
        let id = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let prompt = new.body.get("prompt").and_then(Value::as_str).unwrap_or("");
        let plan = plan(new.contract, prompt, config, faults, seq);
        let media_seed = mix(config.seed, fnv1a(prompt.as_bytes()));
        let files = media::plan(new.contract, new.body, media_seed);
        let callback_url = new
            .body
            .get("callback_url")
            .and_then(Value::as_str)
            .filter(|u| !u.trim().is_empty() && new.contract.accepts_callback())
            .map(str::to_string);
        let task = Arc::new(Task {
            id: id.clone(),
            kind,
            model: new.contract.id,
            owner: new.owner.to_string(),
            request_id: new.request_id.to_string(),
            created: Instant::now(),
            created_wall: SystemTime::now(),
            plan,
            files,
            callback_url,
        });
        self.tasks
            .lock()
            .expect("task store lock")
            .insert(id, task.clone());
        self.created.fetch_add(1, Ordering::Relaxed);
        task
    }

    /// The task with this id.
    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.tasks.lock().expect("task store lock").get(id).cloned()
    }

    /// Number of tasks created.
    pub fn created(&self) -> usize {
        self.created.load(Ordering::Relaxed)
    }
}

/// Picks durations and outcome for the `seq`-th task.
fn plan(
    contract: &ModelContract,
    prompt: &str,
    config: &MockConfig,
    faults: &FaultConfig,
    seq: u64,
) -> Plan {
    let (pending, processing) = match config.timing {
        Timing::Fixed {
            pending,
            processing,
        } => (pending, processing),
        Timing::Realistic => {
            let (pending, processing) = realistic_durations(contract, config.seed, seq);
            (
                pending.mul_f64(config.time_scale),
                processing.mul_f64(config.time_scale),
            )
        }
    };
    let outcome = if prompt.contains(markers::STUCK) {
        Outcome::Never
    } else if prompt.contains(markers::CANCEL) {
        Outcome::Cancel
    } else if prompt.contains(markers::FAIL) {
        default_failure()
    } else if let Some(code) = marker_code(prompt) {
        Outcome::Fail {
            message: format!("The task failed upstream ({code})."),
            code,
        }
    } else {
        let u = unit(mix(config.seed ^ 0x0C7C_0E5E, seq));
        if u < faults.task_failure_rate {
            default_failure()
        } else if u < faults.task_failure_rate + faults.task_cancel_rate {
            Outcome::Cancel
        } else {
            Outcome::Complete
        }
    };
    let finalizing = if prompt.contains(markers::UNKNOWN_STATUS) {
        processing.max(Duration::from_millis(1))
    } else {
        Duration::ZERO
    };
    Plan {
        pending,
        processing,
        finalizing,
        outcome,
    }
}

fn default_failure() -> Outcome {
    Outcome::Fail {
        code: DEFAULT_FAILURE_CODE.into(),
        message: "The upstream provider has no capacity for this task right now; retry later."
            .into(),
    }
}

/// `CODE` of a `[mock:fail=CODE]` marker.
fn marker_code(prompt: &str) -> Option<String> {
    let start = prompt.find(markers::FAIL_WITH_CODE)? + markers::FAIL_WITH_CODE.len();
    let end = start + prompt[start..].find(']')?;
    let code = prompt[start..end].trim();
    (!code.is_empty()).then(|| code.to_string())
}

/// A model's (pending, processing) ranges in seconds for `MockConfig::realistic()`: the
/// spec's `x-apipod-mock-timing` for the model or its family (our estimates, not APIPod's),
/// or a default by kind for a model without one.
pub fn realistic_ranges(contract: &ModelContract) -> ((f64, f64), (f64, f64)) {
    let t = contract.typical_timing();
    (t.queue_s, t.run_s)
}

fn realistic_durations(contract: &ModelContract, seed: u64, seq: u64) -> (Duration, Duration) {
    let ((p_lo, p_hi), (r_lo, r_hi)) = realistic_ranges(contract);
    let h = mix(seed ^ 0x7111_1146, seq);
    let pending = p_lo + unit(h) * (p_hi - p_lo);
    let processing = r_lo + unit(mix(h, 1)) * (r_hi - r_lo);
    (
        Duration::from_secs_f64(pending),
        Duration::from_secs_f64(processing),
    )
}

/// The made-up but deterministic `X-Request-Cost` of a create: the spec's
/// `x-apipod-mock-price` for the model or its family (not APIPod's prices), times the value
/// of its `per` field (`n` images, `duration` seconds; the request's or the default) when
/// it has one.
pub(crate) fn cost(contract: &ModelContract, body: &Map<String, Value>) -> String {
    let number = |name: &str| {
        body.get(name)
            .cloned()
            .or_else(|| contract.field(name).and_then(|f| f.default_value()))
            .and_then(|v| v.as_f64())
            .filter(|n| *n > 0.0)
    };
    let value = match contract.mock_price {
        Some(price) => price.usd * price.per.and_then(number).unwrap_or(1.0),
        None => 0.01,
    };
    format!("{value:.4}")
}

/// FNV-1a, 64 bit: a stable hash of the prompt for media seeds.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests;
