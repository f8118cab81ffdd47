//! `Idempotency-Key` handling for the create routes.
//!
//! A key is scoped to the API key and the route. The first request with a key reserves it;
//! while it runs, repeats get 409 `idempotency_in_progress`. When it succeeds its response
//! is stored for 7 days and repeats with an equivalent body (compared as parsed JSON) get
//! that response replayed; repeats with another body get 409 `idempotency_conflict`.
//! A request that ends in an error (or is abandoned) releases its key.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde_json::Value;
use tokio::time::Instant;

/// Longest accepted key, in characters.
pub(crate) const MAX_KEY_CHARS: usize = 255;

/// How long completed records are kept.
pub(crate) const RECORD_TTL: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// Checks a key: non-empty, visible text, at most 255 characters.
pub(crate) fn check_key(raw: &[u8]) -> Result<String, String> {
    let key = std::str::from_utf8(raw)
        .map_err(|_| "Idempotency-Key must be text".to_string())?
        .trim();
    if key.is_empty() {
        return Err("Idempotency-Key must not be empty".into());
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(format!(
            "Idempotency-Key is {chars} characters long; the limit is {MAX_KEY_CHARS}"
        ));
    }
    if key.chars().any(char::is_control) {
        return Err("Idempotency-Key must not contain control characters".into());
    }
    Ok(key.to_string())
}

/// The stored answer of a successful create.
#[derive(Debug, Clone)]
pub(crate) struct StoredResponse {
    pub body: Bytes,
    pub cost: String,
    pub task_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Scope {
    api_key: String,
    route: &'static str,
    key: String,
}

#[derive(Debug)]
enum Record {
    InProgress {
        body: Value,
        token: u64,
    },
    Done {
        body: Value,
        response: StoredResponse,
        at: Instant,
    },
}

/// Result of presenting a key.
#[derive(Debug)]
pub(crate) enum Begin {
    /// First use: the key is now reserved for this request.
    Fresh(Reservation),
    /// A stored response for an equivalent body.
    Replay(StoredResponse),
    /// The key was used with a different body.
    Conflict,
    /// The first request with this key is still running.
    InProgress,
}

type Records = Arc<Mutex<HashMap<Scope, Record>>>;

/// The idempotency records of one server.
#[derive(Debug, Default)]
pub(crate) struct IdempotencyStore {
    records: Records,
    tokens: AtomicU64,
}

impl IdempotencyStore {
    /// An empty store with room for `records` keys.
    pub fn with_capacity(records: usize) -> Self {
        IdempotencyStore {
            records: Arc::new(Mutex::new(HashMap::with_capacity(records))),
            ..IdempotencyStore::default()
        }
    }

    /// Looks the key up and reserves it when it is new (or its record expired).
    pub fn begin(&self, api_key: &str, route: &'static str, key: &str, body: &Value) -> Begin {
        let scope = Scope {
            api_key: api_key.to_string(),
            route,
            key: key.to_string(),
        };
        let mut records = self.records.lock().expect("idempotency lock");
        match records.get(&scope) {
            Some(Record::InProgress { body: first, .. }) => {
                return if first == body {
                    Begin::InProgress
                } else {
                    Begin::Conflict
                };
            }
            Some(Record::Done {
                body: first,
                response,
                at,
            }) if at.elapsed() < RECORD_TTL => {
                return if first == body {
                    Begin::Replay(response.clone())
                } else {
                    Begin::Conflict
                };
            }
            _ => {}
        }
        let token = self.tokens.fetch_add(1, Ordering::Relaxed);
        records.insert(
            scope.clone(),
            Record::InProgress {
                body: body.clone(),
                token,
            },
        );
        Begin::Fresh(Reservation {
            records: self.records.clone(),
            scope: Some(scope),
            token,
        })
    }
}

/// A reserved key. [`Reservation::complete`] stores the response; dropping it without
/// completing releases the key.
#[derive(Debug)]
pub(crate) struct Reservation {
    records: Records,
    scope: Option<Scope>,
    token: u64,
}

impl Reservation {
    /// Stores the successful response for replays.
    pub fn complete(mut self, response: StoredResponse) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        let mut records = self.records.lock().expect("idempotency lock");
        if let Some(Record::InProgress { body, token }) = records.remove(&scope) {
            if token == self.token {
                records.insert(
                    scope,
                    Record::Done {
                        body,
                        response,
                        at: Instant::now(),
                    },
                );
            } else {
                records.insert(scope, Record::InProgress { body, token });
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some(scope) = self.scope.take() else {
            return;
        };
        let mut records = self.records.lock().expect("idempotency lock");
        if matches!(records.get(&scope), Some(Record::InProgress { token, .. }) if *token == self.token)
        {
            records.remove(&scope);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_room_exists_before_the_first_key() {
        let store = IdempotencyStore::with_capacity(10_000);
        assert!(store.records.lock().unwrap().capacity() >= 10_000);
    }
    use serde_json::json;

    fn stored(id: &str) -> StoredResponse {
        StoredResponse {
            body: Bytes::from_static(b"{}"),
            cost: "0.0400".into(),
            task_id: id.into(),
        }
    }

    #[test]
    fn key_rules() {
        assert_eq!(check_key(b"abc").unwrap(), "abc");
        assert!(check_key(b"").is_err());
        assert!(check_key("k".repeat(255).as_bytes()).is_ok());
        assert!(
            check_key("k".repeat(256).as_bytes())
                .unwrap_err()
                .contains("256")
        );
    }

    #[tokio::test]
    async fn reserve_complete_replay_conflict() {
        let store = IdempotencyStore::default();
        let body = json!({"model": "m", "prompt": "p"});
        let Begin::Fresh(r) = store.begin("k", "images", "key1", &body) else {
            panic!("fresh")
        };
        assert!(matches!(
            store.begin("k", "images", "key1", &body),
            Begin::InProgress
        ));
        assert!(matches!(
            store.begin("k", "images", "key1", &json!({"prompt": "other"})),
            Begin::Conflict
        ));
        // Other API key or route: independent.
        assert!(matches!(
            store.begin("k2", "images", "key1", &body),
            Begin::Fresh(_)
        ));
        assert!(matches!(
            store.begin("k", "videos", "key1", &body),
            Begin::Fresh(_)
        ));
        r.complete(stored("img_1"));
        // Key order does not matter: the bodies are compared as JSON values.
        let reordered: Value = serde_json::from_str(r#"{"prompt":"p","model":"m"}"#).unwrap();
        match store.begin("k", "images", "key1", &reordered) {
            Begin::Replay(s) => assert_eq!(s.task_id, "img_1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.begin("k", "images", "key1", &json!({})),
            Begin::Conflict
        ));
    }

    #[tokio::test]
    async fn dropping_a_reservation_releases_the_key() {
        let store = IdempotencyStore::default();
        let body = json!({});
        let first = store.begin("k", "images", "key", &body);
        drop(first);
        assert!(matches!(
            store.begin("k", "images", "key", &body),
            Begin::Fresh(_)
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn records_expire_after_seven_days() {
        let store = IdempotencyStore::default();
        let body = json!({});
        let Begin::Fresh(r) = store.begin("k", "images", "key", &body) else {
            panic!()
        };
        r.complete(stored("img_1"));
        tokio::time::advance(RECORD_TTL - Duration::from_secs(1)).await;
        assert!(matches!(
            store.begin("k", "images", "key", &body),
            Begin::Replay(_)
        ));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(matches!(
            store.begin("k", "images", "key", &body),
            Begin::Fresh(_)
        ));
    }
}
