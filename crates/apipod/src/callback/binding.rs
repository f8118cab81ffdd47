//! Which task each submission's callback route speaks for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use apipod_raw::contract::TaskKind;

use super::tokens::route_of_url;
use crate::lock::lock;

/// Default number of routes a [`SubmissionBindings`] remembers.
pub const DEFAULT_BINDING_CAPACITY: usize = 10_000;

type Route = (TaskKind, String);

/// Binds each submission's callback route (`{kind}/{submission_key}`, see
/// [`CallbackTokens`](crate::CallbackTokens)) to the one task it created, so that a valid
/// callback URL cannot speak for other tasks.
///
/// The first binding of a route wins. [`Client::submit`](crate::Client::submit) binds the
/// route of the request's `callback_url` to the task it created, when the client has a
/// [`CallbackHub`](crate::CallbackHub) (whose bindings a
/// `CallbackReceiver` (feature `callback-server`) of that client uses).
/// A route nothing bound (say, a task submitted by another process) is bound by the
/// receiver to the first task confirmed on it. Memory is bounded: past `capacity` routes
/// the oldest binding is forgotten (its route is then bound again by its next confirmed
/// task). Clones share the same table.
///
/// ```
/// use apipod::{SubmissionBindings, TaskKind};
///
/// let bindings = SubmissionBindings::new(100);
/// assert!(bindings.allows(TaskKind::Image, "key-1", "img_a"));
/// assert!(bindings.bind(TaskKind::Image, "key-1", "img_a"));
/// assert!(bindings.bind(TaskKind::Image, "key-1", "img_a"), "binding again is fine");
/// assert!(!bindings.bind(TaskKind::Image, "key-1", "img_b"), "the first binding wins");
/// assert!(!bindings.allows(TaskKind::Image, "key-1", "img_b"));
/// assert_eq!(bindings.task_for(TaskKind::Image, "key-1").as_deref(), Some("img_a"));
/// ```
#[derive(Debug, Clone)]
pub struct SubmissionBindings {
    inner: Arc<Mutex<Table>>,
}

#[derive(Debug)]
struct Table {
    capacity: usize,
    tasks: HashMap<Route, String>,
    order: VecDeque<Route>,
}

impl Default for SubmissionBindings {
    fn default() -> Self {
        Self::new(DEFAULT_BINDING_CAPACITY)
    }
}

impl SubmissionBindings {
    /// Remembers up to `capacity` routes (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Table {
                capacity: capacity.max(1),
                tasks: HashMap::new(),
                order: VecDeque::new(),
            })),
        }
    }

    /// Binds the route of `kind` and `submission_key` to `task_id`. True when the route
    /// is now bound to `task_id` (it was free, or already bound to it); false when it is
    /// bound to another task, which keeps it.
    pub fn bind(&self, kind: TaskKind, submission_key: &str, task_id: &str) -> bool {
        let route = (kind, submission_key.to_string());
        let mut table = lock(&self.inner);
        if let Some(bound) = table.tasks.get(&route) {
            return bound == task_id;
        }
        while table.order.len() >= table.capacity {
            match table.order.pop_front() {
                Some(old) => table.tasks.remove(&old),
                None => break,
            };
        }
        table.tasks.insert(route.clone(), task_id.to_string());
        table.order.push_back(route);
        true
    }

    /// Binds the route of a callback URL made by
    /// [`CallbackTokens::callback_url_for`](crate::CallbackTokens::callback_url_for) to
    /// `task_id` (the token is not checked: that needs the secret). False, binding
    /// nothing, when the URL is not such a route for `kind`, or when its route is bound to
    /// another task.
    pub fn bind_url(&self, kind: TaskKind, callback_url: &str, task_id: &str) -> bool {
        match route_of_url(callback_url) {
            Some((route_kind, key)) if route_kind == kind => {
                let bound = self.bind(kind, &key, task_id);
                if !bound {
                    tracing::warn!(
                        task_id,
                        "this callback URL already speaks for another task; its callbacks for this task will be refused"
                    );
                }
                bound
            }
            _ => false,
        }
    }

    /// The task the route is bound to, if any.
    pub fn task_for(&self, kind: TaskKind, submission_key: &str) -> Option<String> {
        lock(&self.inner)
            .tasks
            .get(&(kind, submission_key.to_string()))
            .cloned()
    }

    /// True when `task_id` may speak on the route: the route is free or bound to it.
    pub fn allows(&self, kind: TaskKind, submission_key: &str, task_id: &str) -> bool {
        self.task_for(kind, submission_key)
            .is_none_or(|bound| bound == task_id)
    }

    /// How many routes are bound.
    pub fn len(&self) -> usize {
        lock(&self.inner).tasks.len()
    }

    /// True when no route is bound.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_first_wins() {
        let b = SubmissionBindings::new(2);
        assert!(b.bind(TaskKind::Image, "k1", "t1"));
        assert!(
            b.bind(TaskKind::Video, "k1", "t2"),
            "kinds are separate routes"
        );
        assert!(!b.bind(TaskKind::Image, "k1", "t3"));
        assert!(b.bind(TaskKind::Image, "k2", "t4"));
        assert_eq!(b.len(), 2);
        assert_eq!(
            b.task_for(TaskKind::Image, "k1"),
            None,
            "the oldest was forgotten"
        );
        assert!(b.bind_url(
            TaskKind::Image,
            &format!("https://h.example/cb/image/k%203/{}", "ab".repeat(32)),
            "t5"
        ));
        assert_eq!(b.task_for(TaskKind::Image, "k 3").as_deref(), Some("t5"));
        assert!(!b.bind_url(TaskKind::Video, "https://h.example/cb/image/k/x", "t6"));
    }
}
