//! One synchronous image call: the attempts, the retry rule, and the 504 → task path.

use std::time::{Duration, SystemTime};

use apipod_raw::contract::TaskKind;
use apipod_raw::openai::EDITS_PATH;
use apipod_raw::types;
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::http;
use crate::error::{Error, Result};
use crate::handle::TaskHandle;
use crate::options::{WaitOptions, default_timeout};
use crate::retry::RetryPolicy;

use super::answer::{Answer, Failure, decode, error_answer, read_bounded, transport_failure};
use super::request::ImageEdit;
use super::result::{Delivery, SyncImage, SyncResult};
use super::{SyncImages, SyncOptions};

/// What is sent.
pub(super) enum Payload<'a> {
    Json(types::OpenAiImageGenerationRequest),
    Form(&'a ImageEdit),
}

/// The retry rule of the synchronous calls: wait and send again only when the server cannot
/// have accepted the request, so a retry can never start (and charge for) a second
/// generation.
///
/// * A connect error: nothing reached the server.
/// * 429 with a `Retry-After` the policy honours: the server refused the request before
///   creating anything.
///
/// Everything else is final: 4xx, 5xx (a 500/502/503 may come after the task was created),
/// and an answer lost after the request was sent ([`Error::SyncOutcomeUnknown`]). APIPod
/// documents `Idempotency-Key` only for the task create endpoints, so none is sent here
/// and none is relied on.
pub(crate) fn retry_delay(
    err: &Error,
    policy: &RetryPolicy,
    backoff: Option<Duration>,
) -> Option<Duration> {
    let backoff = backoff?;
    match err {
        Error::Transport {
            source: Some(e), ..
        } if e.is_connect() => Some(backoff),
        Error::RateLimited {
            retry_after: Some(ra),
            ..
        } if *ra <= policy.max_retry_after => Some((*ra).max(Duration::from_millis(1))),
        _ => None,
    }
}

impl SyncImages<'_> {
    pub(super) async fn run(
        &self,
        model: &str,
        payload: Payload<'_>,
        options: SyncOptions,
    ) -> Result<SyncResult> {
        let inner = &self.client.inner;
        let started = Instant::now();
        let sent_at = SystemTime::now();
        let deadline = started + options.timeout.unwrap_or(default_timeout(TaskKind::Image));
        let cancel = options.cancel.clone().unwrap_or_default();
        let timed_out = |task_id: Option<String>| Error::Timeout {
            task_id,
            elapsed: started.elapsed(),
            last: None,
            idempotency_key: None,
        };
        let span = tracing::info_span!(
            "apipod.sync_image",
            model,
            request_id = tracing::field::Empty,
            task_id = tracing::field::Empty,
        );
        async {
            let mut schedule = inner.retry.schedule();
            let mut attempt = 0u32;
            let failure = loop {
                attempt += 1;
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled { task_id: None });
                }
                tokio::select! {
                    open = inner.gate.wait(Some(&cancel)) => if !open { return Err(Error::Cancelled { task_id: None }) },
                    _ = tokio::time::sleep_until(deadline) => return Err(timed_out(None)),
                }
                tracing::debug!(attempt, "synchronous image attempt");
                let outcome = tokio::select! {
                    r = self.send(&payload) => r,
                    _ = tokio::time::sleep_until(deadline) => return Err(timed_out(None)),
                    _ = cancel.cancelled() => return Err(Error::Cancelled { task_id: None }),
                };
                let err = match outcome {
                    Ok(answer) => return decode(answer, attempt),
                    Err(Failure::Error(err)) => err,
                    Err(window) => break window,
                };
                let delay = retry_delay(&err, &inner.retry, schedule.next())
                    .filter(|d| Instant::now() + *d < deadline);
                let Some(delay) = delay else {
                    tracing::warn!(attempt, error = %err, "synchronous image call failed");
                    return Err(err);
                };
                if matches!(err, Error::RateLimited { .. }) {
                    inner.rate_limited(delay);
                }
                tracing::info!(attempt, ?delay, error = %err, "refused before anything was accepted; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = cancel.cancelled() => return Err(Error::Cancelled { task_id: None }),
                }
            };
            let Failure::WindowPassed { task_id, request_id, cost } = failure else {
                unreachable!("only the 504 path leaves the loop");
            };
            let span = tracing::Span::current();
            span.record("task_id", task_id.as_str());
            if let Some(r) = &request_id {
                span.record("request_id", r.as_str());
            }
            tracing::info!("the server's wait window passed; waiting for the task it named");
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timed_out(Some(task_id)));
            }
            let mut handle = TaskHandle::from_id(TaskKind::Image, task_id.clone());
            handle.model = model.to_string();
            handle.submitted_at = Some(sent_at);
            let mut wait = WaitOptions::timeout(remaining).with_cancel(cancel.clone());
            if let Some(poll) = options.poll.clone() {
                wait = wait.with_poll(poll);
            }
            // The wait's timeout reports the time of the whole call, not of the wait alone.
            let done = self
                .client
                .task(handle)
                .wait_with(wait)
                .await
                .map_err(|e| match e {
                    Error::Timeout {
                        task_id,
                        last,
                        idempotency_key,
                        ..
                    } => Error::Timeout {
                        task_id,
                        elapsed: started.elapsed(),
                        last,
                        idempotency_key,
                    },
                    other => other,
                })?;
            Ok(SyncResult {
                images: done.outputs().into_iter().map(SyncImage::Url).collect(),
                usage: None,
                created: done.snapshot.completed_at(),
                request_id,
                cost,
                delivery: Delivery::AfterTimeout { task_id },
                attempts: attempt,
            })
        }
        .instrument(span)
        .await
    }

    /// One attempt.
    async fn send(&self, payload: &Payload<'_>) -> std::result::Result<Answer, Failure> {
        let _permit = self.client.acquire().await;
        let sync = &self.client.inner.sync;
        match payload {
            Payload::Json(body) => match sync.raw.create_openai_image(body).await {
                Ok(response) => {
                    let headers = response.headers().clone();
                    Ok(Answer {
                        body: response.into_inner(),
                        headers,
                    })
                }
                Err(progenitor_client::Error::CommunicationError(e))
                | Err(progenitor_client::Error::ResponseBodyError(e))
                    if apipod_raw::limit::body_too_large(&e).is_none() =>
                {
                    Err(transport_failure(e).into())
                }
                Err(progenitor_client::Error::UnexpectedResponse(response)) => {
                    Err(error_answer(response).await)
                }
                Err(other) => Err(http::from_raw(other).await.into()),
            },
            Payload::Form(edit) => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in edit.text_fields() {
                    form = form.text(name, value);
                }
                let files = edit.images.iter().map(|i| ("image", i));
                for (name, file) in files.chain(edit.mask.iter().map(|m| ("mask", m))) {
                    let part = reqwest::multipart::Part::stream(file.bytes.clone())
                        .file_name(file.file_name.clone())
                        .mime_str(file.content_type)
                        .map_err(Error::transport)?;
                    form = form.part(name, part);
                }
                let mut request = sync
                    .http
                    .post(format!("{}{EDITS_PATH}", sync.base_url))
                    .timeout(sync.read_timeout)
                    .multipart(form)
                    .build()
                    .map_err(Error::transport)?;
                self.client.inner.state.apply(request.headers_mut());
                let response = sync
                    .http
                    .execute(request)
                    .await
                    .map_err(transport_failure)?;
                if response.status().as_u16() != 200 {
                    return Err(error_answer(response).await);
                }
                let headers = response.headers().clone();
                let bytes = read_bounded(response).await?;
                let body = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::decode(Some(200), e, &bytes))?;
                Ok(Answer { body, headers })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, retry_after: Option<u64>) -> Error {
        http::classify(
            status,
            None,
            "x".into(),
            None,
            retry_after.map(Duration::from_secs),
        )
    }

    #[test]
    fn only_refusals_before_acceptance_are_retried() {
        let policy = RetryPolicy::default();
        let backoff = Some(Duration::from_millis(500));
        assert_eq!(
            retry_delay(&api(429, Some(2)), &policy, backoff),
            Some(Duration::from_secs(2))
        );
        // Without Retry-After, or beyond what the policy honours: final.
        assert_eq!(retry_delay(&api(429, None), &policy, backoff), None);
        assert_eq!(retry_delay(&api(429, Some(3600)), &policy, backoff), None);
        // Answers that may come after the task was created: final.
        for status in [400, 401, 402, 404, 408, 500, 502, 503, 504] {
            assert_eq!(
                retry_delay(&api(status, Some(1)), &policy, backoff),
                None,
                "{status}"
            );
        }
        let lost = Error::SyncOutcomeUnknown {
            message: "connection reset".into(),
            timeout: false,
            source: None,
        };
        assert_eq!(retry_delay(&lost, &policy, backoff), None);
        assert!(!lost.is_retryable());
        // The budget still applies.
        assert_eq!(retry_delay(&api(429, Some(1)), &policy, None), None);
    }
}
