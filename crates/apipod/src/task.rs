//! Tasks: stored handles, status snapshots, waiting and update streams.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use apipod_raw::TaskStatus;
use apipod_raw::contract::{self, TaskKind};
use apipod_raw::types;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::Client;
use crate::deadline::{Deadline, Expired};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::poll::PollPolicy;
use crate::retry::{self, header_str};

/// Everything needed to find a task again, in this process or another one.
///
/// Serialise it (JSON, a database row) right after submitting; [`Client::task`] turns it back
/// into a [`Task`] to wait on. The idempotency key lets you re-submit the same request
/// without creating a second task if you lost the submit's answer.
///
/// ```
/// use apipod::TaskHandle;
/// let json = r#"{"kind":"image","model":"seedream-v4.5","task_id":"img_1","idempotency_key":"k","submitted_at":1786358400}"#;
/// let handle: TaskHandle = serde_json::from_str(json)?;
/// assert_eq!(handle.task_id, "img_1");
/// assert!(handle.submitted_at.is_some());
/// assert_eq!(serde_json::from_str::<TaskHandle>(&serde_json::to_string(&handle)?)?, handle);
/// // A handle stored without a submit time is honest about it.
/// let bare: TaskHandle = serde_json::from_str(r#"{"kind":"video","task_id":"vid_1"}"#)?;
/// assert_eq!(bare.submitted_at, None);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHandle {
    /// Image or video.
    #[serde(with = "kind_serde")]
    pub kind: TaskKind,
    /// Model id (empty when unknown, e.g. a task looked up by id).
    #[serde(default)]
    pub model: String,
    /// APIPod's task id.
    pub task_id: String,
    /// The key the task was created with (empty when unknown).
    #[serde(default)]
    pub idempotency_key: String,
    /// When the task was submitted (Unix seconds in JSON), when known. A wait on a handle
    /// without it starts APIPod's staged schedule from the beginning and teaches the
    /// adaptive poll policy nothing.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "unix_seconds"
    )]
    pub submitted_at: Option<SystemTime>,
    /// The callback URL given at submit, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
}

mod kind_serde {
    use super::TaskKind;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(kind: &TaskKind, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(kind.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TaskKind, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod unix_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::{Duration, SystemTime};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => {
                let secs = t
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64();
                s.serialize_f64((secs * 1000.0).round() / 1000.0)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let Some(secs) = Option::<f64>::deserialize(d)? else {
            return Ok(None);
        };
        Duration::try_from_secs_f64(secs)
            .ok()
            .and_then(|d| SystemTime::UNIX_EPOCH.checked_add(d))
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom("submitted_at must be Unix seconds in range"))
    }
}

/// Longest age a stored submit time is believed for: APIPod's results expire after about
/// 24 h, so a handle claiming a task older than a week holds a wrong (or default) time.
const MAX_PLAUSIBLE_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

impl TaskHandle {
    /// The submit time, when known and plausible (not in the future, not over a week ago).
    fn plausible_submit_time(&self) -> Option<SystemTime> {
        let at = self.submitted_at?;
        let age = SystemTime::now().duration_since(at).ok()?;
        (age <= MAX_PLAUSIBLE_AGE).then_some(at)
    }

    /// How long ago the task was submitted, when the handle knows (plausibly).
    pub fn age(&self) -> Option<Duration> {
        let at = self.plausible_submit_time()?;
        SystemTime::now().duration_since(at).ok()
    }

    /// A handle for a task known only by kind and id.
    pub fn from_id(kind: TaskKind, task_id: impl Into<String>) -> Self {
        Self {
            kind,
            model: String::new(),
            task_id: task_id.into(),
            idempotency_key: String::new(),
            submitted_at: None,
            callback_url: None,
        }
    }
}

/// One read of a task's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// Image or video.
    pub kind: TaskKind,
    /// The decoded `data` object, as generated from the spec (see [`raw`](Self::raw)).
    pub(crate) detail: types::TaskDetail,
    /// `X-Request-ID` of the status read.
    pub request_id: Option<String>,
    /// `Retry-After` sent with the status, if any.
    pub retry_after: Option<Duration>,
}

impl TaskSnapshot {
    /// Builds a snapshot from a decoded `data` object of the generated wire layer.
    pub fn from_raw(kind: TaskKind, detail: crate::raw::types::TaskDetail) -> Self {
        Self {
            kind,
            detail,
            request_id: None,
            retry_after: None,
        }
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        &self.detail.task_id
    }

    /// The status (unknown values kept).
    pub fn status(&self) -> &TaskStatus {
        &self.detail.status
    }

    /// Progress 0-100, when reported.
    pub fn progress(&self) -> Option<u8> {
        self.detail.progress.map(|p| p.clamp(0, 100) as u8)
    }

    /// Machine-readable failure code, when reported.
    pub fn error_code(&self) -> Option<&str> {
        self.detail.error_code.as_deref()
    }

    /// Failure message: `error_message` (images) or `error` (videos).
    pub fn error_message(&self) -> Option<&str> {
        self.detail
            .error_message
            .as_deref()
            .or(self.detail.error.as_deref())
    }

    /// The decoded `data` object exactly as the generated wire layer holds it, for fields
    /// this type has no accessor for.
    pub fn raw(&self) -> &crate::raw::types::TaskDetail {
        &self.detail
    }

    /// When the task finished, when reported.
    pub fn completed_at(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.detail.completed_at?).ok()?;
        SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
    }

    /// The results (empty until completed).
    pub fn outputs(&self) -> Vec<Output> {
        Output::from_snapshot(self)
    }

    fn changed_from(&self, other: Option<&TaskSnapshot>) -> bool {
        other.is_none_or(|o| {
            o.detail.status != self.detail.status || o.detail.progress != self.detail.progress
        })
    }
}

/// A completed task with its results.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    /// The final snapshot.
    pub snapshot: TaskSnapshot,
    /// The task's handle.
    pub handle: TaskHandle,
}

impl Completed {
    /// The results, in order.
    pub fn outputs(&self) -> Vec<Output> {
        self.snapshot.outputs()
    }

    /// The task id.
    pub fn task_id(&self) -> &str {
        self.snapshot.task_id()
    }
}

/// How long and how to wait.
#[derive(Debug, Clone, Default)]
pub struct WaitOptions {
    /// Overall deadline for the whole wait (default 10 min for images, 30 min for videos,
    /// 10 min for assets).
    pub timeout: Option<Duration>,
    /// Stops waiting when cancelled (the task keeps running on APIPod).
    pub cancel: Option<CancellationToken>,
    /// Polling policy (default: the client's).
    pub poll: Option<PollPolicy>,
    /// How many consecutive reads may report a status this SDK does not know before giving
    /// up (default 120).
    pub max_unknown_reads: Option<u32>,
}

impl WaitOptions {
    /// Options with this deadline.
    pub fn timeout(d: Duration) -> Self {
        Self {
            timeout: Some(d),
            ..Self::default()
        }
    }

    /// Adds a cancellation token.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sets the polling policy.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = Some(poll);
        self
    }
}

/// Default overall wait deadline for a kind of task.
pub fn default_timeout(kind: TaskKind) -> Duration {
    match kind {
        TaskKind::Image => Duration::from_secs(10 * 60),
        TaskKind::Video => Duration::from_secs(30 * 60),
    }
}

/// A task on APIPod: read it, wait for it, or stream its updates.
#[derive(Debug, Clone)]
pub struct Task {
    client: Client,
    handle: TaskHandle,
}

type WaitFuture = Pin<Box<dyn Future<Output = Result<Completed>> + Send>>;

/// One status read inside a deadline. Short-lived (returned and matched at once), so the
/// size difference between the variants costs nothing worth an allocation.
#[allow(clippy::large_enum_variant)]
enum Read {
    Snapshot(TaskSnapshot),
    Expired,
}

/// The stream behind [`Task::updates`]: it owns the wait future and polls it only when the
/// stream itself is polled, so dropping the stream ends the wait.
struct Updates {
    wait: Option<WaitFuture>,
    rx: tokio::sync::mpsc::UnboundedReceiver<TaskSnapshot>,
    error: Option<Error>,
}

impl Stream for Updates {
    type Item = Result<TaskSnapshot>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Poll::Ready(Some(snap)) = this.rx.poll_recv(cx) {
            return Poll::Ready(Some(Ok(snap)));
        }
        if let Some(wait) = this.wait.as_mut() {
            match wait.as_mut().poll(cx) {
                Poll::Ready(result) => {
                    this.wait = None;
                    this.error = result.err();
                    // Updates sent during the final poll come first.
                    if let Ok(snap) = this.rx.try_recv() {
                        return Poll::Ready(Some(Ok(snap)));
                    }
                }
                Poll::Pending => {
                    // The wait may have sent updates while it ran.
                    return match this.rx.try_recv() {
                        Ok(snap) => Poll::Ready(Some(Ok(snap))),
                        Err(_) => Poll::Pending,
                    };
                }
            }
        }
        if let Ok(snap) = this.rx.try_recv() {
            return Poll::Ready(Some(Ok(snap)));
        }
        Poll::Ready(this.error.take().map(Err))
    }
}

impl Task {
    pub(crate) fn new(client: Client, handle: TaskHandle) -> Self {
        Self { client, handle }
    }

    /// The handle.
    pub fn handle(&self) -> &TaskHandle {
        &self.handle
    }

    /// Reads the status once. Transport errors, 429 and 5xx are retried per the client's
    /// policy; an error `code` inside an HTTP 200 is an error.
    pub async fn status(&self) -> Result<TaskSnapshot> {
        match self.status_within(&Deadline::none()).await? {
            Read::Snapshot(s) => Ok(s),
            Read::Expired => Err(Error::Timeout {
                task_id: Some(self.handle.task_id.clone()),
                elapsed: Duration::ZERO,
                last: None,
                idempotency_key: None,
            }),
        }
    }

    /// [`status`](Self::status) with every attempt and every retry sleep capped by
    /// `deadline`: once it passes, the read ends with [`Read::Expired`], whatever the
    /// server's `Retry-After` said.
    async fn status_within(&self, deadline: &Deadline) -> Result<Read> {
        let mut schedule = self.client.inner.retry.schedule();
        loop {
            let attempt = match deadline.run(self.status_once()).await {
                Ok(attempt) => attempt,
                Err(Expired) => return Ok(Read::Expired),
            };
            match attempt {
                Ok(s) => return Ok(Read::Snapshot(s)),
                Err(err) => {
                    let Some(delay) = self.client.inner.retry.delay_for(&err, schedule.next())
                    else {
                        return Err(err);
                    };
                    tracing::debug!(?delay, error = %err, "status read failed; retrying");
                    if deadline.sleep(delay).await.is_err() {
                        return Ok(Read::Expired);
                    }
                }
            }
        }
    }

    async fn status_once(&self) -> Result<TaskSnapshot> {
        let id = self.handle.task_id.trim();
        if !crate::client::usable_task_id(id) {
            return Err(Error::InvalidArgument {
                argument: "task_id",
                message: format!("{:?} is not a task id", self.handle.task_id),
            });
        }
        let _permit = self.client.acquire().await;
        let raw = self.client.raw();
        let id = self.handle.task_id.as_str();
        let response = match self.handle.kind {
            TaskKind::Image => raw.get_image_task(id).await,
            TaskKind::Video => raw.get_video_task(id).await,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => return Err(retry::from_raw(e).await),
        };
        let headers = response.headers().clone();
        let body = response.into_inner();
        let request_id = header_str(&headers, "x-request-id");
        let retry_after = retry::retry_after(&headers);
        if body.code != 200 && body.code != 0 {
            return Err(retry::classify_body(
                body.code,
                None,
                body.message,
                request_id,
                retry_after,
            ));
        }
        if body.data.task_id != self.handle.task_id {
            // Results are named after the task id: an answer about another task must not be
            // taken for this one.
            return Err(Error::Decode {
                status: Some(200),
                reason: format!(
                    "asked for task {:?}, the answer is about another task",
                    self.handle.task_id
                ),
                excerpt: crate::error::excerpt(body.data.task_id.as_bytes()),
            });
        }
        Ok(TaskSnapshot {
            kind: self.handle.kind,
            detail: body.data,
            request_id,
            retry_after,
        })
    }

    /// Waits until the task completes, with the default deadline for its kind.
    pub async fn wait(&self) -> Result<Completed> {
        self.wait_with(WaitOptions::default()).await
    }

    /// Waits until the task completes.
    ///
    /// `failed` and `cancelled` become [`Error::TaskFailed`]; a passed deadline
    /// [`Error::Timeout`] and a cancelled token [`Error::Cancelled`], both carrying the task
    /// id so the wait can be resumed. The deadline bounds everything inside the wait: each
    /// status request, each retry of one, and each sleep between reads, so the wait ends
    /// within it whatever the server answers.
    pub async fn wait_with(&self, options: WaitOptions) -> Result<Completed> {
        self.run(options, &mut |_| {}).await
    }

    /// [`wait_with`](Self::wait_with), calling `on_update` with each snapshot whose status
    /// or progress changed (the terminal one included), in order, from the waiting task
    /// itself: a progress bar, a log line, a database update.
    ///
    /// ```no_run
    /// # async fn demo(task: apipod::Task) -> apipod::Result<()> {
    /// let done = task
    ///     .wait_with_progress(apipod::WaitOptions::default(), |snap| {
    ///         eprintln!("{} {:?}%", snap.status(), snap.progress());
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_with_progress(
        &self,
        options: WaitOptions,
        mut on_update: impl FnMut(&TaskSnapshot) + Send,
    ) -> Result<Completed> {
        self.run(options, &mut on_update).await
    }

    /// A stream of snapshots, one per change of status or progress, ending after the
    /// terminal one (or with the error that ended the wait).
    ///
    /// The wait runs inside the stream: nothing is spawned, it needs no runtime until it is
    /// polled, and dropping the stream stops the polling at once.
    pub fn updates(
        &self,
        options: WaitOptions,
    ) -> impl Stream<Item = Result<TaskSnapshot>> + Send + use<> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = self.clone();
        let wait: WaitFuture = Box::pin(async move {
            let mut forward = |snap: &TaskSnapshot| {
                let _ = tx.send(snap.clone());
            };
            task.run(options, &mut forward).await
        });
        Updates {
            wait: Some(wait),
            rx,
            error: None,
        }
    }

    async fn run(
        &self,
        options: WaitOptions,
        on_change: &mut (dyn FnMut(&TaskSnapshot) + Send),
    ) -> Result<Completed> {
        let span = tracing::info_span!(
            "apipod.wait",
            task_id = %self.handle.task_id,
            model = %self.handle.model,
            kind = %self.handle.kind,
        );
        async move {
            let timeout = options
                .timeout
                .unwrap_or_else(|| default_timeout(self.handle.kind));
            let deadline = Deadline::after(Some(timeout));
            let cancel = options.cancel.clone().unwrap_or_default();
            let poll = options
                .poll
                .clone()
                .unwrap_or_else(|| self.client.inner.poll.clone());
            let hint = contract::find(&self.handle.model).and_then(|m| m.polling);
            let max_unknown = options.max_unknown_reads.unwrap_or(120);
            // The staged schedule follows the task's age, not the wait's; a handle without a
            // (plausible) submit time starts the schedule from the beginning.
            let age_at_start = self.handle.age().unwrap_or_default();
            let hub = self.client.inner.callbacks.clone();
            let callback_expected = hub.is_some() && self.handle.callback_url.is_some();
            let mut notified = hub.as_ref().map(|h| h.subscribe(&self.handle.task_id));
            let mut last: Option<TaskSnapshot> = None;
            let mut unknown_reads = 0u32;
            let mut warned: HashSet<String> = HashSet::new();
            let timed_out = |last: Option<TaskSnapshot>| Error::Timeout {
                task_id: Some(self.handle.task_id.clone()),
                elapsed: deadline.elapsed(),
                last: last.map(Box::new),
                idempotency_key: None,
            };
            let cancelled = || Error::Cancelled {
                task_id: Some(self.handle.task_id.clone()),
            };
            loop {
                if cancel.is_cancelled() {
                    return Err(cancelled());
                }
                if deadline.expired() {
                    return Err(timed_out(last));
                }
                // Boxed: the read's future is large and only lives during the read, so
                // keeping it out of the wait's own state halves a waiting task's memory.
                let read = tokio::select! {
                    r = Box::pin(self.status_within(&deadline)) => r,
                    _ = cancel.cancelled() => return Err(cancelled()),
                };
                let snap = match read? {
                    Read::Snapshot(snap) => snap,
                    Read::Expired => return Err(timed_out(last)),
                };
                if snap.changed_from(last.as_ref()) {
                    tracing::debug!(status = %snap.status(), progress = ?snap.progress(), "task update");
                    on_change(&snap);
                }
                match snap.status().clone() {
                    TaskStatus::Completed => {
                        tracing::info!(elapsed = ?deadline.elapsed(), "task completed");
                        if let (Some(submitted), Some(done)) =
                            (self.handle.plausible_submit_time(), snap.completed_at())
                            && let Ok(took) = done.duration_since(submitted)
                        {
                            poll.observe(&self.handle.model, took);
                        }
                        return Ok(Completed {
                            snapshot: snap,
                            handle: self.handle.clone(),
                        });
                    }
                    TaskStatus::Failed | TaskStatus::Cancelled => {
                        return Err(Error::TaskFailed {
                            task_id: self.handle.task_id.clone(),
                            code: snap.error_code().map(str::to_string),
                            message: snap.error_message().map(str::to_string),
                            snapshot: Box::new(snap),
                        });
                    }
                    TaskStatus::Unknown(value) => {
                        unknown_reads += 1;
                        if warned.insert(value.clone()) {
                            tracing::warn!(status = %value, "task reports a status this SDK does not know; still waiting");
                        }
                        if unknown_reads > max_unknown {
                            return Err(Error::UnknownStatus {
                                task_id: self.handle.task_id.clone(),
                                status: value,
                                reads: unknown_reads,
                                last: Box::new(snap),
                            });
                        }
                    }
                    _ => unknown_reads = 0,
                }
                let age = age_at_start + deadline.elapsed();
                let mut delay = poll.delay_for(&self.handle.model, age, hint);
                if snap.status().is_unknown() {
                    delay = delay.max(Duration::from_secs(2));
                }
                if callback_expected {
                    // The callback will wake us; poll only as a safety net.
                    delay = (delay * 4).min(Duration::from_secs(60));
                }
                if let Some(ra) = snap.retry_after {
                    delay = delay.max(ra.min(self.client.inner.retry.max_retry_after));
                }
                last = Some(snap);
                let wake = deadline.wake_after(delay);
                let callback = async {
                    match notified.as_mut() {
                        Some(n) => n.changed().await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = callback => tracing::debug!("callback received; reading the status now"),
                    _ = cancel.cancelled() => {}
                }
            }
        }
        .instrument(span)
        .await
    }
}
