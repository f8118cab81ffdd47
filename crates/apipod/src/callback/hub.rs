//! The hub that hands callbacks to the waits of the tasks they concern.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::watch;

use super::binding::SubmissionBindings;
use crate::lock::lock;

/// Routes callbacks to the waits of the tasks they concern.
///
/// Give it to [`ClientBuilder::callbacks`](crate::ClientBuilder::callbacks); whatever
/// receives callbacks calls [`CallbackHub::notify`]. A notified wait re-reads the task's
/// status at once (the callback itself is never trusted: APIPod does not sign callbacks).
///
/// A task has an entry only while something is subscribed to it: the entry goes away
/// with the last [`CallbackSubscription`], whether or not a callback came, so memory
/// follows the waits in progress. Clones share the same hub.
///
/// The hub also holds the [`SubmissionBindings`] that tie each callback route to the task
/// its submission created: the client's submits fill them, its receivers check them.
///
/// ```
/// use apipod::CallbackHub;
///
/// let hub = CallbackHub::new();
/// let wait = hub.subscribe("img_1");
/// assert_eq!(hub.len(), 1);
/// assert!(hub.notify("img_1"));
/// drop(wait); // the wait ended
/// assert!(hub.is_empty());
/// assert!(!hub.notify("img_1"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct CallbackHub {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: Mutex<HashMap<Arc<str>, watch::Sender<u64>>>,
    bindings: SubmissionBindings,
}

/// A wait's subscription to one task's callbacks. Dropping it (the wait ended) removes
/// the task's entry from the hub once no other subscription to the task is left.
#[derive(Debug)]
pub struct CallbackSubscription {
    rx: watch::Receiver<u64>,
    task_id: Arc<str>,
    hub: Weak<Inner>,
}

impl CallbackSubscription {
    /// Resolves at the next callback for the task (never, if the hub is gone).
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for CallbackSubscription {
    fn drop(&mut self) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let mut tasks = lock(&hub.tasks);
        // Subscriptions are made and dropped under this lock, and the entry under our task
        // id is our channel for as long as we live: when we are its only receiver, nobody
        // else waits on the task.
        if tasks
            .get(&self.task_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            tasks.remove(&self.task_id);
        }
    }
}

impl CallbackHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to callbacks for `task_id`, until the subscription is dropped.
    pub fn subscribe(&self, task_id: &str) -> CallbackSubscription {
        let mut tasks = lock(&self.inner.tasks);
        let (task_id, rx) = match tasks.get_key_value(task_id) {
            Some((key, tx)) => (Arc::clone(key), tx.subscribe()),
            None => {
                let key: Arc<str> = Arc::from(task_id);
                let (tx, rx) = watch::channel(0);
                tasks.insert(Arc::clone(&key), tx);
                (key, rx)
            }
        };
        CallbackSubscription {
            rx,
            task_id,
            hub: Arc::downgrade(&self.inner),
        }
    }

    /// Wakes every wait on `task_id`. Returns true when one was waiting.
    pub fn notify(&self, task_id: &str) -> bool {
        let tasks = lock(&self.inner.tasks);
        match tasks.get(task_id) {
            Some(tx) => {
                tx.send_modify(|n| *n = n.wrapping_add(1));
                true
            }
            None => false,
        }
    }

    /// How many tasks have at least one subscription.
    pub fn len(&self) -> usize {
        lock(&self.inner.tasks).len()
    }

    /// True when no task has a subscription.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The routes bound to the tasks their submissions created (filled by the submits of
    /// a client built with this hub, checked by its receivers).
    pub fn bindings(&self) -> &SubmissionBindings {
        &self.inner.bindings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn entries_follow_their_subscriptions() {
        let hub = CallbackHub::new();
        let mut a = hub.subscribe("t");
        let b = hub.subscribe("t");
        assert_eq!(hub.len(), 1);
        assert!(hub.notify("t"));
        assert!(a.changed().now_or_never().is_some());
        drop(b);
        assert_eq!(hub.len(), 1);
        drop(a);
        assert!(hub.is_empty());
        // A subscription that outlives its hub neither fires nor panics.
        let mut orphan = hub.subscribe("t");
        drop(hub);
        assert!(orphan.changed().now_or_never().is_none());
    }
}
