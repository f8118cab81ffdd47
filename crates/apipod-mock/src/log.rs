//! The request log tests assert on.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One request the server answered (or dropped on purpose).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEntry {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Request path, e.g. `/v1/images/generations`.
    pub path: String,
    /// HTTP status of the answer (200 for a dropped connection: the fault hits after the
    /// status was decided).
    pub status: u16,
    /// The `X-Request-ID` sent back.
    pub request_id: String,
    /// The `Idempotency-Key` sent, if any.
    pub idempotency_key: Option<String>,
    /// The `model` of a create body, if it had one.
    pub model: Option<String>,
    /// The task the request concerned: created, replayed or read.
    pub task_id: Option<String>,
    /// The task this request created (`None` for replays and everything else).
    pub created_task: Option<String>,
    /// The Seedance library asset the request concerned: created or read (bare id).
    pub asset_id: Option<String>,
    /// The asset this request created (`None` for everything else).
    pub created_asset: Option<String>,
    /// The answer was a replayed idempotent response.
    pub replay: bool,
    /// The injected fault, as [`Fault::label`](crate::Fault::label) shows it.
    pub fault: Option<String>,
}

/// How one callback delivery attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallbackOutcome {
    /// The receiver answered 2xx with this status.
    Delivered(u16),
    /// The receiver answered with this non-2xx status (the attempt is retried).
    Rejected(u16),
    /// The request failed: connection refused, timeout, ... (the attempt is retried).
    Failed(String),
    /// The URL was not sent to: the mock only calls loopback addresses over HTTP.
    Refused(String),
}

/// One callback delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallbackAttempt {
    /// The task the callback reports.
    pub task_id: String,
    /// The `callback_url`.
    pub url: String,
    /// 1 for the first attempt, up to 5.
    pub attempt: u32,
    /// This attempt re-sends an already delivered callback
    /// ([`MockConfig::duplicate_callbacks`](crate::MockConfig::duplicate_callbacks)).
    pub duplicate: bool,
    /// What happened.
    pub outcome: CallbackOutcome,
}

#[derive(Debug)]
struct Inner {
    entries: VecDeque<LogEntry>,
    callbacks: Vec<CallbackAttempt>,
    capacity: usize,
    /// Requests logged since start (or the last clear), kept or not.
    total: u64,
}

/// The server's request log and callback attempts. Cheap to clone; clones share the log.
#[derive(Debug, Clone)]
pub struct RequestLog {
    inner: Arc<Mutex<Inner>>,
}

impl RequestLog {
    pub(crate) fn new(capacity: usize) -> Self {
        RequestLog {
            inner: Arc::new(Mutex::new(Inner {
                entries: VecDeque::new(),
                callbacks: Vec::new(),
                capacity: capacity.max(1),
                total: 0,
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("request log lock")
    }

    pub(crate) fn push(&self, entry: LogEntry) {
        let mut inner = self.lock();
        if inner.entries.len() == inner.capacity {
            inner.entries.pop_front();
        }
        inner.entries.push_back(entry);
        inner.total += 1;
    }

    pub(crate) fn push_callback(&self, attempt: CallbackAttempt) {
        self.lock().callbacks.push(attempt);
    }

    /// Every logged request, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Logged requests to `path`.
    pub fn entries_for(&self, path: &str) -> Vec<LogEntry> {
        self.lock()
            .entries
            .iter()
            .filter(|e| e.path == path)
            .cloned()
            .collect()
    }

    /// Number of logged requests.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Requests logged since the server started (or since [`clear`](Self::clear)),
    /// including the oldest ones that the log's capacity no longer keeps.
    pub fn total(&self) -> u64 {
        self.lock().total
    }

    /// True when nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// Every callback delivery attempt, in the order they finished.
    pub fn callback_attempts(&self) -> Vec<CallbackAttempt> {
        self.lock().callbacks.clone()
    }

    /// Forgets all requests and callback attempts.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.callbacks.clear();
        inner.total = 0;
    }
}
