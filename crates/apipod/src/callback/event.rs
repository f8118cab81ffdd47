//! The typed callback event and its bounded, lenient parser.

use std::time::SystemTime;

use apipod_raw::TaskStatus;
use apipod_raw::types;
use serde_json::{Map, Value};

use super::error::CallbackError;
use super::timestamp::parse_timestamp;
use crate::output::Output;

/// Largest callback body accepted (64 KiB, the limit APIPod's own receiver example uses).
pub const MAX_CALLBACK_BODY: usize = 64 * 1024;

/// One callback delivery from APIPod, decoded.
///
/// Nothing in it is authenticated: use it to decide *which* task to look at, then act on
/// the snapshot [`Client::confirm`](crate::Client::confirm) returns, and treat the delivery
/// as handled only when [`is_confirmed_by`](Self::is_confirmed_by) that snapshot.
///
/// ```
/// use apipod::{CallbackEvent, TaskStatus};
///
/// let event = CallbackEvent::parse(br#"{
///     "task_id": "img_1", "status": "completed",
///     "result": ["https://cdn.example.com/a.png"],
///     "completed_at": "2026-08-10T09:01:30Z"
/// }"#)?;
/// assert_eq!(event.status, TaskStatus::Completed);
/// assert!(event.completed_at.is_some());
/// # Ok::<(), apipod::CallbackError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackEvent {
    /// The task the event is about.
    pub task_id: String,
    /// APIPod's request id, when sent.
    pub request_id: Option<String>,
    /// The task's status (unknown values kept as [`TaskStatus::Unknown`]).
    pub status: TaskStatus,
    /// The results, when sent (read them with [`outputs`](Self::outputs)).
    pub(crate) result: Option<types::TaskResult>,
    /// Failure message (`error`), when sent.
    pub error: Option<String>,
    /// Machine-readable failure code, when sent.
    pub error_code: Option<String>,
    /// Failure message (`error_message`), when sent.
    pub error_message: Option<String>,
    /// Progress 0-100, when sent.
    pub progress: Option<u8>,
    /// When the task was created, when sent (ISO-8601 or Unix time).
    pub created_at: Option<SystemTime>,
    /// When the task finished, when sent (ISO-8601 or Unix time).
    pub completed_at: Option<SystemTime>,
    /// Every field this version does not know, and every known optional field whose value
    /// could not be read, exactly as sent.
    pub extra: Map<String, Value>,
}

impl CallbackEvent {
    /// The results the event carries, in order (empty when it has none). They are not
    /// authenticated: act on the snapshot [`Client::confirm`](crate::Client::confirm) returns.
    pub fn outputs(&self) -> Vec<Output> {
        Output::from_result(&self.task_id, self.result.as_ref(), self.completed_at)
    }

    /// True when the event carries a `result`.
    pub fn has_result(&self) -> bool {
        self.result.is_some()
    }

    /// The failure message: `error_message`, else `error`.
    pub fn failure_message(&self) -> Option<&str> {
        self.error_message.as_deref().or(self.error.as_deref())
    }

    /// Decodes a callback body of at most [`MAX_CALLBACK_BODY`] bytes.
    ///
    /// The body is the task's `data` object, or the whole `{code, message, data}` envelope.
    /// `task_id` and `status` are required; optional fields with unexpected shapes are kept
    /// in [`extra`](Self::extra) rather than failing the delivery. Timestamps may be
    /// ISO-8601 strings (`2026-08-10T09:00:00Z`, with fractions or a UTC offset) or Unix
    /// time as a number or numeric string (seconds; milliseconds when above 10^11).
    pub fn parse(body: &[u8]) -> Result<Self, CallbackError> {
        Self::parse_with_limit(body, MAX_CALLBACK_BODY)
    }

    /// [`parse`](Self::parse) with another size limit.
    pub fn parse_with_limit(body: &[u8], limit: usize) -> Result<Self, CallbackError> {
        if body.len() > limit {
            return Err(CallbackError::TooLarge { limit });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| CallbackError::malformed(format!("not JSON: {e}"), body))?;
        let Value::Object(mut map) = value else {
            return Err(CallbackError::malformed("not a JSON object", body));
        };
        // The `{code, message, data}` envelope of the status endpoint.
        if !map.contains_key("task_id") {
            match map.remove("data") {
                Some(Value::Object(data)) => map = data,
                Some(other) => {
                    map.insert("data".into(), other);
                }
                None => {}
            }
        }
        let task_id = match map.remove("task_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(CallbackError::malformed(
                    "`task_id` is not a non-empty string",
                    body,
                ));
            }
            None => return Err(CallbackError::malformed("no `task_id`", body)),
        };
        let status = match map.remove("status") {
            Some(Value::String(s)) if !s.trim().is_empty() => TaskStatus::from_wire(s.trim()),
            Some(_) => {
                return Err(CallbackError::malformed(
                    "`status` is not a non-empty string",
                    body,
                ));
            }
            None => return Err(CallbackError::malformed("no `status`", body)),
        };
        let mut extra = Map::new();
        let result = match map.remove("result") {
            None | Some(Value::Null) => None,
            Some(v) => match serde_json::from_value::<types::TaskResult>(v.clone()) {
                Ok(result) => Some(result),
                Err(_) => {
                    kept_in_extra("result");
                    extra.insert("result".into(), v);
                    None
                }
            },
        };
        let mut take = |name: &str, read: &dyn Fn(&Value) -> bool| match map.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) if read(&v) => Some(v),
            Some(v) => {
                kept_in_extra(name);
                extra.insert(name.to_string(), v);
                None
            }
        };
        let request_id = take("request_id", &|v| v.is_string()).map(into_string);
        let error = take("error", &|v| v.is_string()).map(into_string);
        let error_code = take("error_code", &|v| v.is_string()).map(into_string);
        let error_message = take("error_message", &|v| v.is_string()).map(into_string);
        let progress = take("progress", &|v| v.as_f64().is_some_and(f64::is_finite))
            .and_then(|v| v.as_f64())
            .map(|p| p.clamp(0.0, 100.0).round() as u8);
        let created_at = take("created_at", &|v| parse_timestamp(v).is_some())
            .as_ref()
            .and_then(parse_timestamp);
        let completed_at = take("completed_at", &|v| parse_timestamp(v).is_some())
            .as_ref()
            .and_then(parse_timestamp);
        extra.extend(map);
        Ok(CallbackEvent {
            task_id,
            request_id,
            status,
            result,
            error,
            error_code,
            error_message,
            progress,
            created_at,
            completed_at,
            extra,
        })
    }
}

fn kept_in_extra(field: &str) {
    tracing::debug!(
        field,
        "callback field has an unexpected shape; kept in extra"
    );
}

fn into_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}
