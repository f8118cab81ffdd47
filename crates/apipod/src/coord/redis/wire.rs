//! What the Redis coordinator writes: the keys under the prefix, and the messages on the
//! events channel.
//!
//! Keys (all under `{prefix}:`, default prefix `apipod`):
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `{prefix}:events` | pub/sub channel | every [`CoordEvent`], as JSON, tagged with the sender's id |
//! | `{prefix}:pause:{key hash}` | string with a TTL | present while submits with that key are paused |
//! | `{prefix}:durations:{model}` | list, newest first, at most 200 | task durations in seconds |
//! | `{prefix}:models` | set | the models that have durations |

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::coord::{CoordEvent, KeyHash};

/// Durations kept per model (the learning policy's default window).
pub(super) const DURATIONS_KEPT: isize = 200;
/// Models read when a replica starts (bounds the start-up reads and the memory).
pub(super) const MAX_MODELS: usize = 512;
/// Longest message read from the channel.
const MAX_MESSAGE: usize = 4096;
/// Longest task id or model id carried.
const MAX_ID: usize = 256;
/// Longest pause honoured from another replica (the retry policy's own cap is 60 s by
/// default; a longer pause is a bug or a forgery, not a rate limit).
const MAX_PAUSE: Duration = Duration::from_secs(15 * 60);
/// Longest task duration learned from another replica.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The key names of one coordinator.
#[derive(Debug, Clone)]
pub(super) struct Keys {
    prefix: String,
}

impl Keys {
    pub(super) fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    pub(super) fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }

    pub(super) fn pause(&self, key: &KeyHash) -> String {
        format!("{}:pause:{}", self.prefix, key.as_str())
    }

    pub(super) fn durations(&self, model: &str) -> String {
        format!("{}:durations:{model}", self.prefix)
    }

    pub(super) fn models(&self) -> String {
        format!("{}:models", self.prefix)
    }
}

/// True for ids that may go into a key or a message: non-empty, bounded, printable ASCII
/// without spaces.
pub(super) fn usable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_graphic())
}

#[derive(Serialize, Deserialize)]
struct Message {
    /// Format version.
    v: u32,
    /// The sending coordinator's id: a replica ignores its own messages.
    from: String,
    #[serde(flatten)]
    event: WireEvent,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    Callback { task_id: String },
    RateLimited { key: String, pause_ms: u64 },
    Duration { model: String, seconds: f64 },
}

/// The message for `event`, or `None` for an event that cannot be shared (an id that
/// does not fit a key, say).
pub(super) fn encode(from: &str, event: &CoordEvent) -> Option<String> {
    let event = match event {
        CoordEvent::CallbackReceived { task_id } if usable_id(task_id) => WireEvent::Callback {
            task_id: task_id.clone(),
        },
        CoordEvent::RateLimited { key, pause } => WireEvent::RateLimited {
            key: key.as_str().to_string(),
            pause_ms: (*pause)
                .min(MAX_PAUSE)
                .as_millis()
                .try_into()
                .unwrap_or(u64::MAX),
        },
        CoordEvent::TaskDuration { model, duration } if usable_id(model) => WireEvent::Duration {
            model: model.clone(),
            seconds: duration.as_secs_f64(),
        },
        _ => return None,
    };
    serde_json::to_string(&Message {
        v: 1,
        from: from.to_string(),
        event,
    })
    .ok()
}

/// The event in a message from another coordinator; `None` for our own messages and for
/// anything malformed, oversized, out of range or from a newer format.
pub(super) fn decode(me: &str, payload: &[u8]) -> Option<CoordEvent> {
    if payload.len() > MAX_MESSAGE {
        return None;
    }
    let message: Message = serde_json::from_slice(payload).ok()?;
    if message.v != 1 || message.from == me {
        return None;
    }
    match message.event {
        WireEvent::Callback { task_id } if usable_id(&task_id) => {
            Some(CoordEvent::CallbackReceived { task_id })
        }
        WireEvent::RateLimited { key, pause_ms } => Some(CoordEvent::RateLimited {
            key: KeyHash::parse(&key)?,
            pause: Duration::from_millis(pause_ms).min(MAX_PAUSE),
        }),
        WireEvent::Duration { model, seconds } if usable_id(&model) => {
            duration_from_secs(seconds).map(|duration| CoordEvent::TaskDuration { model, duration })
        }
        _ => None,
    }
}

/// A stored or received duration, when it is a plausible one.
pub(super) fn duration_from_secs(seconds: f64) -> Option<Duration> {
    (seconds.is_finite() && seconds > 0.0 && seconds <= MAX_DURATION.as_secs_f64())
        .then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_own_and_hostile_messages() {
        let events = [
            CoordEvent::CallbackReceived {
                task_id: "img_1".into(),
            },
            CoordEvent::RateLimited {
                key: KeyHash::of("k"),
                pause: Duration::from_millis(1500),
            },
            CoordEvent::TaskDuration {
                model: "seedream-v4.5".into(),
                duration: Duration::from_secs(12),
            },
        ];
        for event in &events {
            let text = encode("a", event).unwrap();
            assert_eq!(decode("b", text.as_bytes()).as_ref(), Some(event));
            assert_eq!(decode("a", text.as_bytes()), None, "own message");
        }
        for hostile in [
            &b"not json"[..],
            br#"{"v":2,"from":"x","type":"callback","task_id":"t"}"#,
            br#"{"v":1,"from":"x","type":"callback","task_id":""}"#,
            br#"{"v":1,"from":"x","type":"callback","task_id":"a b"}"#,
            br#"{"v":1,"from":"x","type":"rate_limited","key":"sk-live-123","pause_ms":5}"#,
            br#"{"v":1,"from":"x","type":"duration","model":"m","seconds":-1}"#,
            br#"{"v":1,"from":"x","type":"duration","model":"m","seconds":1e300}"#,
            br#"{"v":1,"from":"x","type":"something_new"}"#,
        ] {
            assert_eq!(
                decode("me", hostile),
                None,
                "{}",
                String::from_utf8_lossy(hostile)
            );
        }
        let long = format!(
            r#"{{"v":1,"from":"x","type":"callback","task_id":"{}"}}"#,
            "t".repeat(5000)
        );
        assert_eq!(decode("me", long.as_bytes()), None);
        let huge_pause = format!(
            r#"{{"v":1,"from":"x","type":"rate_limited","key":"{}","pause_ms":{}}}"#,
            KeyHash::of("k").as_str(),
            u64::MAX
        );
        assert_eq!(
            decode("me", huge_pause.as_bytes()),
            Some(CoordEvent::RateLimited {
                key: KeyHash::of("k"),
                pause: MAX_PAUSE
            })
        );
    }
}
