//! A task's stored handle: everything needed to find it again, in this process or another.

use std::time::{Duration, SystemTime};

use apipod_raw::contract::TaskKind;
use serde::{Deserialize, Serialize};

/// Everything needed to find a task again, in this process or another one.
///
/// Serialise it (JSON, a database row) right after submitting; [`Client::task`](crate::Client::task) turns it back
/// into a [`Task`](crate::Task) to wait on. The idempotency key lets you re-submit the same request
/// without creating a second task if you lost the submit's answer.
///
/// ```
/// use apipod::TaskHandle;
/// let json = r#"{"kind":"image","model":"seedream-v4.5","task_id":"img_1","idempotency_key":"k","submitted_at":1786358400}"#;
/// let handle: TaskHandle = serde_json::from_str(json)?;
/// assert_eq!(handle.task_id, "img_1");
/// assert!(handle.submitted_at.is_some());
/// assert_eq!(serde_json::from_str::<TaskHandle>(&serde_json::to_string(&handle)?)?, handle);
/// // A handle stored without a submit time is honest about it.
/// let bare: TaskHandle = serde_json::from_str(r#"{"kind":"video","task_id":"vid_1"}"#)?;
/// assert_eq!(bare.submitted_at, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHandle {
    /// Image or video.
    #[serde(with = "kind_serde")]
    pub kind: TaskKind,
    /// Model id (empty when unknown, e.g. a task looked up by id).
    #[serde(default)]
    pub model: String,
    /// APIPod's task id.
    pub task_id: String,
    /// The key the task was created with (empty when unknown).
    #[serde(default)]
    pub idempotency_key: String,
    /// When the task was submitted (Unix seconds in JSON), when known. A wait on a handle
    /// without it starts APIPod's staged schedule from the beginning and teaches the
    /// adaptive poll policy nothing.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "unix_seconds"
    )]
    pub submitted_at: Option<SystemTime>,
    /// The callback URL given at submit, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

mod kind_serde {
    use super::TaskKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &TaskKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TaskKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod unix_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => {
                let secs = t
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                s.serialize_f64((secs * 1000.0).round() / 1000.0)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let Some(secs) = Option::<f64>::deserialize(d)? else {
            return Ok(None);
        };
        Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("submitted_at must be Unix seconds in range"))
    }
}

/// Longest age a stored submit time is believed for: APIPod's results expire after about
/// 24 h, so a handle claiming a task older than a week holds a wrong (or default) time.
const MAX_PLAUSIBLE_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl TaskHandle {
    /// The submit time, when known and plausible (not in the future, not over a week ago).
    pub(crate) fn plausible_submit_time(&self) -> Option<SystemTime> {
        let at = self.submitted_at?;
        let age = SystemTime::now().duration_since(at).ok()?;
        (age <= MAX_PLAUSIBLE_AGE).then_some(at)
    }

    /// How long ago the task was submitted, when the handle knows (plausibly).
    pub fn age(&self) -> Option<Duration> {
        let at = self.plausible_submit_time()?;
        SystemTime::now().duration_since(at).ok()
    }

    /// A handle for a task known only by kind and id.
    pub fn from_id(kind: TaskKind, task_id: impl Into<String>) -> Self {
        Self {
            kind,
            model: String::new(),
            task_id: task_id.into(),
            idempotency_key: String::new(),
            submitted_at: None,
            callback_url: None,
        }
    }
}
