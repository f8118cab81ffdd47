//! Tasks: reading status, waiting under one deadline, and update streams.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use apipod_raw::TaskStatus;
use apipod_raw::contract::{self, TaskKind};
use futures::Stream;
use tracing::Instrument;

use crate::client::Client;
use crate::deadline::{Deadline, Expired};
use crate::error::http;
use crate::error::{Error, Result};
use crate::handle::TaskHandle;
use crate::options::{SubmitOptions, WaitOptions, default_timeout};
use crate::request::IntoRequest;
use crate::snapshot::{Completed, TaskSnapshot};

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
        read_status(&self.client, self.handle.kind, &self.handle.task_id).await
    }

    /// Waits until the task completes, with the default deadline for its kind.
    ///
    /// The wait is small while it sleeps (it is what 100,000 concurrent waits are made of):
    /// the last snapshot is boxed, the status read's own state exists only during a read.
    pub fn wait(&self) -> impl Future<Output = Result<Completed>> + Send + '_ {
        self.run(WaitOptions::default(), |_| {})
    }

    /// [`wait`](Self::wait) taking the task along, for `tokio::spawn` (no borrow to keep
    /// alive, no wrapper future around it):
    ///
    /// ```no_run
    /// # async fn demo(client: apipod::Client, handle: apipod::TaskHandle) {
    /// let waiting = tokio::spawn(client.task(handle).wait_owned());
    /// # let _ = waiting.await;
    /// # }
    /// ```
    pub async fn wait_owned(self) -> Result<Completed> {
        self.wait().await
    }

    /// Waits until the task completes.
    ///
    /// `failed` and `cancelled` become [`Error::TaskFailed`]; a passed deadline
    /// [`Error::Timeout`] and a cancelled token [`Error::Cancelled`], both carrying the task
    /// id so the wait can be resumed. The deadline bounds everything inside the wait: each
    /// status request, each retry of one, and each sleep between reads, so the wait ends
    /// within it whatever the server answers.
    pub fn wait_with(
        &self,
        options: WaitOptions,
    ) -> impl Future<Output = Result<Completed>> + Send + '_ {
        self.run(options, |_| {})
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
    pub fn wait_with_progress<'a>(
        &'a self,
        options: WaitOptions,
        on_update: impl FnMut(&TaskSnapshot) + Send + 'a,
    ) -> impl Future<Output = Result<Completed>> + Send + 'a {
        self.run(options, on_update)
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
            let forward = move |snap: &TaskSnapshot| {
                let _ = tx.send(snap.clone());
            };
            task.run(options, forward).await
        });
        Updates {
            wait: Some(wait),
            rx,
            error: None,
        }
    }

    /// The wait behind [`wait`](Self::wait) and friends. A plain function returning one
    /// async block (rather than nested `async fn`s, each of which would keep its own copy of
    /// the arguments), whose state across a sleep holds only what the next read needs.
    fn run<'a>(
        &'a self,
        options: WaitOptions,
        mut on_change: impl FnMut(&TaskSnapshot) + Send + 'a,
    ) -> impl Future<Output = Result<Completed>> + Send + 'a {
        let span = tracing::info_span!(
            "apipod.wait",
            task_id = %self.handle.task_id,
            model = %self.handle.model,
            kind = %self.handle.kind,
        );
        let WaitOptions {
            timeout,
            cancel,
            poll,
            max_unknown_reads,
        } = options;
        // Everything that does not depend on time is settled here, so the async block
        // carries each value once.
        let timeout = timeout.unwrap_or_else(|| default_timeout(self.handle.kind));
        let own_poll = poll.is_some();
        let poll = poll.unwrap_or_else(|| self.client.inner.poll.clone());
        let hint = contract::find(&self.handle.model).and_then(|m| m.polling);
        let max_unknown = max_unknown_reads.unwrap_or(120);
        let hub = self.client.inner.callbacks.as_ref();
        // Without a live coordinator a callback that lands on another replica cannot wake
        // this wait, so it only polls slowly while callbacks can reach it.
        let callback_expected = hub.is_some()
            && self.handle.callback_url.is_some()
            && self.client.inner.coord.is_connected();
        let mut notified = hub.map(|h| h.subscribe(&self.handle.task_id));
        async move {
            let deadline = Deadline::after(Some(timeout));
            // The staged schedule follows the task's age, not the wait's; a handle without a
            // (plausible) submit time starts the schedule from the beginning.
            let age_at_start = self.handle.age().unwrap_or_default();
            // No token given: nothing can cancel, and nothing is allocated for it.
            let cancelled_now = || cancel.as_ref().is_some_and(|c| c.is_cancelled());
            // Boxed: a wait spends nearly all its life asleep holding the last snapshot, and a
            // pointer keeps the (large) snapshot out of every waiting task's own state.
            let mut last: Option<Box<TaskSnapshot>> = None;
            let mut unknown_reads = 0u32;
            let mut warned: Vec<String> = Vec::new();
            let timed_out = |last: Option<Box<TaskSnapshot>>| Error::Timeout {
                task_id: Some(self.handle.task_id.clone()),
                elapsed: deadline.elapsed(),
                last,
                idempotency_key: None,
            };
            let cancelled = || Error::Cancelled {
                task_id: Some(self.handle.task_id.clone()),
            };
            loop {
                if cancelled_now() {
                    return Err(cancelled());
                }
                if deadline.expired() {
                    return Err(timed_out(last));
                }
                // Boxed: the read's future is large and only lives during the read, so
                // keeping it out of the wait's own state halves a waiting task's memory.
                let reading = Box::pin(status_within(
                    &self.client,
                    self.handle.kind,
                    &self.handle.task_id,
                    &deadline,
                ));
                let read = match &cancel {
                    None => reading.await,
                    Some(token) => tokio::select! {
                        r = reading => r,
                        _ = token.cancelled() => return Err(cancelled()),
                    },
                };
                let snap = match read? {
                    Read::Snapshot(snap) => snap,
                    Read::Expired => return Err(timed_out(last)),
                };
                if snap.changed_from(last.as_deref()) {
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
                            // The client's policy learns (and shares) every duration; a
                            // wait's own policy learns from its own waits too.
                            if own_poll && poll != self.client.inner.poll {
                                poll.observe(&self.handle.model, took);
                            }
                            self.client.inner.task_took(&self.handle.model, took);
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
                        // Each new value is logged once; at most 16 are remembered.
                        if !warned.contains(&value) && warned.len() < 16 {
                            warned.push(value.clone());
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
                last = Some(Box::new(snap));
                let wake = deadline.wake_after(delay);
                if cancel.is_none() && notified.is_none() {
                    tokio::time::sleep_until(wake).await;
                    continue;
                }
                // What may cut the sleep short lives in a box for the length of the sleep,
                // so waits without a token or callbacks do not carry its state.
                let interrupt: Pin<Box<dyn Future<Output = ()> + Send + '_>> =
                    Box::pin(async {
                        let callback = async {
                            match notified.as_mut() {
                                Some(n) => n.changed().await,
                                None => std::future::pending().await,
                            }
                        };
                        tokio::select! {
                            _ = callback => tracing::debug!("callback received; reading the status now"),
                            _ = crate::retry::cancelled(cancel.as_ref()) => {}
                        }
                    });
                tokio::select! {
                    _ = tokio::time::sleep_until(wake) => {}
                    _ = interrupt => {}
                }
            }
        }
        .instrument(span)
    }
}

/// One status read with the client's retries and no deadline of its own.
async fn read_status(client: &Client, kind: TaskKind, task_id: &str) -> Result<TaskSnapshot> {
    match status_within(client, kind, task_id, &Deadline::none()).await? {
        Read::Snapshot(s) => Ok(s),
        Read::Expired => Err(Error::Timeout {
            task_id: Some(task_id.to_string()),
            elapsed: Duration::ZERO,
            last: None,
            idempotency_key: None,
        }),
    }
}

/// A status read retried per the client's policy, with every attempt and every retry sleep
/// capped by `deadline`: once it passes, the read ends with [`Read::Expired`], whatever the
/// server's `Retry-After` said.
async fn status_within(
    client: &Client,
    kind: TaskKind,
    task_id: &str,
    deadline: &Deadline,
) -> Result<Read> {
    // Built on the first failure: most reads never need it.
    let mut schedule = None;
    loop {
        let attempt = match deadline.run(status_once(client, kind, task_id)).await {
            Ok(attempt) => attempt,
            Err(Expired) => return Ok(Read::Expired),
        };
        match attempt {
            Ok(s) => return Ok(Read::Snapshot(s)),
            Err(err) => {
                let Some(delay) = client.inner.retry.delay_for(
                    &err,
                    schedule
                        .get_or_insert_with(|| client.inner.retry.schedule())
                        .next(),
                ) else {
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

/// One status request: the id checked, the answer's `code` and task id checked.
async fn status_once(client: &Client, kind: TaskKind, task_id: &str) -> Result<TaskSnapshot> {
    if !crate::client::usable_task_id(task_id.trim()) {
        return Err(Error::InvalidArgument {
            argument: "task_id",
            message: format!("{task_id:?} is not a task id"),
        });
    }
    let _permit = client.acquire().await;
    let answer = client.inner.wire_status(kind, task_id).await?;
    let body: apipod_raw::types::TaskStatusResponse = answer.decode()?;
    let (request_id, retry_after) = http::answer_meta(&answer.headers);
    http::check_body_code(body.code, body.message, &request_id, retry_after)?;
    if body.data.task_id != task_id {
        // Results are named after the task id: an answer about another task must not be
        // taken for this one.
        return Err(Error::Decode {
            status: Some(200),
            reason: format!("asked for task {task_id:?}, the answer is about another task"),
            excerpt: crate::error::excerpt(body.data.task_id.as_bytes()),
        });
    }
    Ok(TaskSnapshot {
        kind,
        detail: body.data,
        request_id,
        retry_after,
    })
}

impl Client {
    /// A task to wait on or inspect, from a stored handle.
    pub fn task(&self, handle: TaskHandle) -> Task {
        Task::new(self.clone(), handle)
    }

    /// A task from its kind and id alone (e.g. typed by a user).
    pub fn task_by_id(&self, kind: TaskKind, task_id: impl Into<String>) -> Task {
        self.task(TaskHandle::from_id(kind, task_id))
    }

    /// Reads a task's state once (status reads are retried like any idempotent call).
    pub async fn status(&self, kind: TaskKind, task_id: &str) -> Result<TaskSnapshot> {
        read_status(self, kind, task_id).await
    }

    /// Submits and waits for the result in one call.
    pub async fn generate(&self, request: impl IntoRequest) -> Result<Completed> {
        let submitted = self.submit(request).await?;
        self.task(submitted.handle).wait().await
    }

    /// Submits and waits with explicit options.
    pub async fn generate_with(
        &self,
        request: impl IntoRequest,
        submit: SubmitOptions,
        wait: WaitOptions,
    ) -> Result<Completed> {
        let submitted = self.submit_with(request, submit).await?;
        self.task(submitted.handle).wait_with(wait).await
    }
}
