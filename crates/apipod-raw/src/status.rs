//! The task status, kept open to values APIPod adds later.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A task's lifecycle state (`pending → processing → completed | failed | cancelled`).
///
/// Decoding is tolerant: a value this version does not know becomes
/// [`TaskStatus::Unknown`] with the text kept, instead of failing the whole response.
/// Two spellings seen in APIPod's per-model schemas are read as their documented
/// equivalents: `succeeded` as `completed`, `error` as `failed`.
/// Parsing user input with [`FromStr`] is strict and accepts only the documented values.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskStatus {
    /// Queued, not started.
    Pending,
    /// Running (this includes APIPod's internal finalisation).
    Processing,
    /// Finished with results.
    Completed,
    /// Finished without results; the task's error fields say why.
    Failed,
    /// Stopped before finishing.
    Cancelled,
    /// A value this version does not know, as sent.
    Unknown(String),
}

impl TaskStatus {
    /// Every documented status.
    pub const KNOWN: [TaskStatus; 5] = [
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ];

    /// The wire text.
    pub fn as_str(&self) -> &str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Processing => "processing",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Unknown(s) => s,
        }
    }

    /// True for `completed`, `failed` and `cancelled`: the task will not change again.
    /// Unknown values are not terminal.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled
        )
    }

    /// True for a value this version does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, TaskStatus::Unknown(_))
    }

    /// Tolerant conversion from wire text (what deserialisation uses).
    pub fn from_wire(s: &str) -> TaskStatus {
        match s {
            "pending" => TaskStatus::Pending,
            "processing" => TaskStatus::Processing,
            "completed" | "succeeded" => TaskStatus::Completed,
            "failed" | "error" => TaskStatus::Failed,
            "cancelled" => TaskStatus::Cancelled,
            other => TaskStatus::Unknown(other.to_string()),
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Returned by [`TaskStatus::from_str`] for text that is not a documented status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownTaskStatus(pub String);

impl fmt::Display for UnknownTaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown task status {:?} (expected pending, processing, completed, failed or cancelled)",
            self.0
        )
    }
}

impl std::error::Error for UnknownTaskStatus {}

impl FromStr for TaskStatus {
    type Err = UnknownTaskStatus;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaskStatus::KNOWN
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownTaskStatus(s.to_string()))
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(TaskStatus::from_wire(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_value_round_trips() {
        for status in TaskStatus::KNOWN {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
            assert_eq!(serde_json::from_str::<TaskStatus>(&json).unwrap(), status);
            assert_eq!(status.as_str().parse::<TaskStatus>().unwrap(), status);
        }
    }

    #[test]
    fn unknown_values_are_kept_and_not_terminal() {
        let s: TaskStatus = serde_json::from_str("\"finalizing\"").unwrap();
        assert_eq!(s, TaskStatus::Unknown("finalizing".into()));
        assert!(!s.is_terminal());
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"finalizing\"");
        assert!("finalizing".parse::<TaskStatus>().is_err());
    }

    #[test]
    fn aliases_map_to_documented_values() {
        assert_eq!(TaskStatus::from_wire("succeeded"), TaskStatus::Completed);
        assert_eq!(TaskStatus::from_wire("error"), TaskStatus::Failed);
    }
}
