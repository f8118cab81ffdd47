//! Task results: typed outputs with expiry awareness.

use std::time::{Duration, SystemTime};

use apipod_raw::types;

/// How long APIPod keeps result URLs after completion (about 24 h).
pub const RESULT_URL_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// One result of a completed task.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Output {
    /// Task the output belongs to.
    pub task_id: String,
    /// Position in the task's result list (0-based).
    pub index: usize,
    /// Where to fetch it. Expires about 24 h after completion.
    pub url: String,
    /// Width in pixels, when APIPod reported it (Veo's object form).
    pub width: Option<i64>,
    /// Height in pixels, when reported.
    pub height: Option<i64>,
    /// Length in seconds, when reported.
    pub duration: Option<f64>,
    /// When the URL stops working (completion time + 24 h), when the completion time is known.
    pub expires_at: Option<SystemTime>,
}

impl Output {
    /// An output known only by its URL (for example one stored earlier), to pass to
    /// [`Client::download`](crate::Client::download). Its expiry is unknown.
    pub fn new(task_id: impl Into<String>, index: usize, url: impl Into<String>) -> Self {
        Output {
            task_id: task_id.into(),
            index,
            url: url.into(),
            width: None,
            height: None,
            duration: None,
            expires_at: None,
        }
    }

    /// This output with a known expiry time.
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// The outputs of a decoded `result` (either wire form).
    pub(crate) fn from_result(
        task_id: &str,
        result: Option<&types::TaskResult>,
        completed_at: Option<SystemTime>,
    ) -> Vec<Output> {
        let expires_at = completed_at.and_then(|t| t.checked_add(RESULT_URL_LIFETIME));
        let task_id = task_id.to_string();
        match result {
            None => Vec::new(),
            Some(types::TaskResult::Array(urls)) => urls
                .iter()
                .enumerate()
                .filter(|(_, u)| !u.is_empty())
                .map(|(index, url)| Output {
                    task_id: task_id.clone(),
                    index,
                    url: url.clone(),
                    width: None,
                    height: None,
                    duration: None,
                    expires_at,
                })
                .collect(),
            Some(types::TaskResult::VeoVideoResult(v)) => vec![Output {
                task_id,
                index: 0,
                url: v.url.clone(),
                width: v.width,
                height: v.height,
                duration: v.duration,
                expires_at,
            }],
        }
    }

    /// True when the URL has (probably) expired.
    pub fn is_expired(&self) -> bool {
        self.expires_at.is_some_and(|t| SystemTime::now() >= t)
    }

    /// Time left before expiry, when known.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_at?.duration_since(SystemTime::now()).ok()
    }
}
