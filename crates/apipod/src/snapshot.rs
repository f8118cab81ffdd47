//! What one status read returns, and a completed task with its results.

use std::time::{Duration, SystemTime};

use apipod_raw::TaskStatus;
use apipod_raw::contract::TaskKind;
use apipod_raw::types;

use crate::handle::TaskHandle;
use crate::output::Output;

/// One read of a task's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// Image or video.
    pub kind: TaskKind,
    /// The decoded `data` object, as generated from the spec (see [`raw`](Self::raw)).
    pub(crate) detail: types::TaskDetail,
    /// `X-Request-ID` of the status read.
    pub request_id: Option<String>,
    /// `Retry-After` sent with the status, if any.
    pub retry_after: Option<Duration>,
}

impl TaskSnapshot {
    /// Builds a snapshot from a decoded `data` object of the generated wire layer.
    pub fn from_raw(kind: TaskKind, detail: crate::raw::types::TaskDetail) -> Self {
        Self {
            kind,
            detail,
            request_id: None,
            retry_after: None,
        }
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        &self.detail.task_id
    }

    /// The status (unknown values kept).
    pub fn status(&self) -> &TaskStatus {
        &self.detail.status
    }

    /// Progress 0-100, when reported.
    pub fn progress(&self) -> Option<u8> {
        self.detail.progress.map(|p| p.clamp(0, 100) as u8)
    }

    /// Machine-readable failure code, when reported.
    pub fn error_code(&self) -> Option<&str> {
        self.detail.error_code.as_deref()
    }

    /// Failure message: `error_message` (images) or `error` (videos).
    pub fn error_message(&self) -> Option<&str> {
        self.detail
            .error_message
            .as_deref()
            .or(self.detail.error.as_deref())
    }

    /// The decoded `data` object exactly as the generated wire layer holds it, for fields
    /// this type has no accessor for.
    pub fn raw(&self) -> &crate::raw::types::TaskDetail {
        &self.detail
    }

    /// When the task finished, when reported.
    pub fn completed_at(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.detail.completed_at?).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// The results (empty until completed).
    pub fn outputs(&self) -> Vec<Output> {
        Output::from_result(
            self.task_id(),
            self.detail.result.as_ref(),
            self.completed_at(),
        )
    }

    pub(crate) fn changed_from(&self, other: Option<&TaskSnapshot>) -> bool {
        other.is_none_or(|o| {
            o.detail.status != self.detail.status || o.detail.progress != self.detail.progress
        })
    }
}

/// A completed task with its results.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// The final snapshot.
    pub snapshot: TaskSnapshot,
    /// The task's handle.
    pub handle: TaskHandle,
}

impl Completed {
    /// The results, in order.
    pub fn outputs(&self) -> Vec<Output> {
        self.snapshot.outputs()
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        self.snapshot.task_id()
    }
}
