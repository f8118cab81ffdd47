//! Callbacks: hand APIPod's completion notifications to waiting tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Routes callbacks to the waits of the tasks they concern.
///
/// Give it to [`ClientBuilder::callbacks`](crate::ClientBuilder::callbacks); whatever
/// receives callbacks calls [`CallbackHub::notify`]. A notified wait re-reads the task's
/// status at once (the callback itself is never trusted: APIPod does not sign callbacks).
#[derive(Debug, Clone, Default)]
pub struct CallbackHub {
    tasks: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
}

/// A wait's subscription to one task's callbacks.
#[derive(Debug)]
pub struct CallbackSubscription {
    rx: watch::Receiver<u64>,
}

impl CallbackSubscription {
    /// Resolves at the next callback for the task (never, if the hub is gone).
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CallbackHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to callbacks for `task_id`.
    pub fn subscribe(&self, task_id: &str) -> CallbackSubscription {
        let mut tasks = self.tasks.lock().expect("hub lock");
        let tx = tasks
            .entry(task_id.to_string())
            .or_insert_with(|| watch::channel(0).0);
        CallbackSubscription { rx: tx.subscribe() }
    }

    /// Wakes every wait on `task_id`. Returns true when one was waiting.
    pub fn notify(&self, task_id: &str) -> bool {
        let mut tasks = self.tasks.lock().expect("hub lock");
        tasks.retain(|_, tx| tx.receiver_count() > 0);
        match tasks.get(task_id) {
            Some(tx) => {
                tx.send_modify(|n| *n += 1);
                true
            }
            None => false,
        }
    }
}
