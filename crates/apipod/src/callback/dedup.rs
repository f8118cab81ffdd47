//! Remembering which confirmed deliveries were already handled.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use super::event::CallbackEvent;
use crate::lock::lock;

/// Default number of deliveries a [`Deduplicator`] remembers.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;

/// Remembers which callback deliveries were already handled, so a repeated delivery
/// (APIPod retries, and may deliver twice) is acknowledged but not processed again.
///
/// Deliveries are keyed by `(task_id, status)`. Record a delivery only once it is
/// *confirmed* (the task, re-read with your key, has the event's status: see
/// [`CallbackEvent::is_confirmed_by`]); remembering an unconfirmed one would let an early
/// or forged delivery turn the genuine one into a "duplicate". Memory is bounded: past
/// `capacity` keys the oldest is forgotten. Clones share the same memory.
///
/// ```
/// use apipod::{CallbackEvent, Deduplicator};
///
/// let dedup = Deduplicator::new(100);
/// let event = CallbackEvent::parse(br#"{"task_id":"t1","status":"completed"}"#)?;
/// assert!(!dedup.contains(&event));
/// // ... once `event.is_confirmed_by(&client.confirm(kind, &event).await?)`:
/// assert!(dedup.first_delivery(&event));
/// assert!(!dedup.first_delivery(&event));
/// assert!(dedup.contains(&event));
/// # Ok::<(), apipod::CallbackError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Deduplicator {
    inner: Arc<Mutex<Seen>>,
}

#[derive(Debug)]
struct Seen {
    capacity: usize,
    keys: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Self::new(DEFAULT_DEDUP_CAPACITY)
    }
}

impl Deduplicator {
    /// Remembers up to `capacity` deliveries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Arc::new(Mutex::new(Seen {
                capacity,
                keys: HashSet::new(),
                order: VecDeque::new(),
            })),
        }
    }

    /// Records the event's `(task_id, status)`: true the first time, false for repeats.
    /// Call it once the delivery is confirmed.
    pub fn first_delivery(&self, event: &CallbackEvent) -> bool {
        let key = dedup_key(event);
        let mut seen = lock(&self.inner);
        if seen.keys.contains(&key) {
            return false;
        }
        while seen.order.len() >= seen.capacity {
            match seen.order.pop_front() {
                Some(old) => seen.keys.remove(&old),
                None => break,
            };
        }
        seen.keys.insert(key.clone());
        seen.order.push_back(key);
        true
    }

    /// True when the event's `(task_id, status)` is remembered (without recording it).
    pub fn contains(&self, event: &CallbackEvent) -> bool {
        lock(&self.inner).keys.contains(&dedup_key(event))
    }

    /// Forgets an event, so its next delivery counts as the first again (e.g. after
    /// handling it failed). Returns true when it was remembered.
    pub fn forget(&self, event: &CallbackEvent) -> bool {
        let key = dedup_key(event);
        let mut seen = lock(&self.inner);
        let removed = seen.keys.remove(&key);
        if removed {
            seen.order.retain(|k| k != &key);
        }
        removed
    }

    /// How many deliveries are remembered.
    pub fn len(&self) -> usize {
        lock(&self.inner).keys.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn dedup_key(event: &CallbackEvent) -> (String, String) {
    (event.task_id.clone(), event.status.as_str().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_evicts_oldest() {
        let d = Deduplicator::new(2);
        let ev = |id: &str| {
            CallbackEvent::parse(format!(r#"{{"task_id":"{id}","status":"completed"}}"#).as_bytes())
                .unwrap()
        };
        assert!(d.first_delivery(&ev("a")));
        assert!(d.first_delivery(&ev("b")));
        assert!(d.first_delivery(&ev("c")));
        assert_eq!(d.len(), 2);
        assert!(!d.contains(&ev("a")));
        assert!(d.first_delivery(&ev("a")), "a was evicted");
        assert!(!d.first_delivery(&ev("c")));
        assert!(d.forget(&ev("c")));
        assert!(d.first_delivery(&ev("c")));
    }
}
