//! Submitting a task: validation, one idempotency key for every attempt, retries under the
//! shared rate-limit gate and one deadline.

use std::time::SystemTime;

use apipod_raw::contract::TaskKind;
use apipod_raw::types;
use reqwest::header::HeaderValue;
use tracing::Instrument;

use super::Client;
use crate::deadline::{Deadline, Expired};
use crate::error::http::{self, header_str};
use crate::error::{Error, Result};
use crate::handle::TaskHandle;
use crate::options::SubmitOptions;
use crate::request::{Body, IntoRequest};

use super::MAX_IDEMPOTENCY_KEY_LEN;

/// The result of a submit.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The task, ready to store and wait on.
    pub handle: TaskHandle,
    /// `X-Request-ID` of the successful attempt.
    pub request_id: Option<String>,
    /// `X-Request-Cost`, when APIPod reported one.
    pub cost: Option<String>,
    /// True when APIPod replayed an earlier create with the same key (no new task).
    pub replayed: bool,
    /// HTTP attempts made (1 when nothing was retried).
    pub attempts: u32,
}

impl Client {
    /// Submits a task with a generated idempotency key. See [`Client::submit_with`].
    pub async fn submit(&self, request: impl IntoRequest) -> Result<Submitted> {
        self.submit_with(request, SubmitOptions::default()).await
    }

    /// Validates and submits a task.
    ///
    /// Every attempt carries the same `Idempotency-Key`, so retries after timeouts, dropped
    /// connections or 5xx answers can never create (or charge for) a second task. A 429
    /// pauses every submit of this client until its `Retry-After` has passed. A `code` other
    /// than 200 inside an HTTP 200 body is an error.
    pub async fn submit_with(
        &self,
        request: impl IntoRequest,
        options: SubmitOptions,
    ) -> Result<Submitted> {
        let request = request.into_request()?;
        let key = options.idempotency_key.unwrap_or_else(crate::key::new_key);
        // Parsed once: every attempt sends this header value.
        let key_header = match HeaderValue::from_str(&key) {
            Ok(header) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY_LEN => header,
            _ => {
                return Err(Error::InvalidArgument {
                    argument: "idempotency_key",
                    message: format!(
                        "an Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters that can be sent in an HTTP header"
                    ),
                });
            }
        };
        // No token given: nothing can cancel, and nothing is allocated for it.
        let cancel = options.cancel;
        let span = tracing::info_span!(
            "apipod.submit",
            model = %request.model,
            kind = %request.kind,
            task_id = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        // Kept to record the task id on: cheaper than looking the current span up.
        let record = span.clone();
        async {
            // Built on the first failure: most submits never need it.
            let mut schedule = None;
            let mut attempt = 0u32;
            let deadline = Deadline::after(options.timeout);
            let timed_out = || Error::Timeout {
                task_id: None,
                elapsed: deadline.elapsed(),
                last: None,
                idempotency_key: Some(key.clone()),
            };
            loop {
                attempt += 1;
                if cancel.as_ref().is_some_and(|c| c.is_cancelled()) {
                    return Err(Error::Cancelled { task_id: None });
                }
                match deadline.run(self.inner.gate.wait(cancel.as_ref())).await {
                    Ok(true) => {}
                    Ok(false) => return Err(Error::Cancelled { task_id: None }),
                    Err(Expired) => return Err(timed_out()),
                }
                tracing::debug!(attempt, "create attempt");
                let outcome = match deadline
                    .run(self.create_once(&request.kind, &request.body, &key_header))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(Expired) => return Err(timed_out()),
                };
                match outcome {
                    Ok((task_id, request_id, cost, replayed)) => {
                        record.record("task_id", task_id.as_str());
                        if let Some(r) = &request_id {
                            record.record("request_id", r.as_str());
                        }
                        tracing::info!(attempt, replayed, "task submitted");
                        // The callback URL's route speaks for this task only.
                        if let (Some(hub), Some(url)) =
                            (&self.inner.callbacks, request.callback_url())
                        {
                            hub.bindings().bind_url(request.kind, &url, &task_id);
                        }
                        return Ok(Submitted {
                            handle: TaskHandle {
                                kind: request.kind,
                                model: request.model.clone(),
                                task_id,
                                idempotency_key: key,
                                submitted_at: Some(SystemTime::now()),
                                callback_url: request.callback_url(),
                            },
                            request_id,
                            cost,
                            replayed,
                            attempts: attempt,
                        });
                    }
                    Err(err) => {
                        let Some(delay) = self.inner.retry.delay_for(
                            &err,
                            schedule.get_or_insert_with(|| self.inner.retry.schedule()).next(),
                        )
                        else {
                            tracing::warn!(attempt, error = %err, "create failed");
                            return Err(err);
                        };
                        if matches!(err, Error::RateLimited { .. }) {
                            self.inner.rate_limited(delay);
                        }
                        tracing::info!(attempt, ?delay, error = %err, "create failed; retrying with the same idempotency key");
                        tokio::select! {
                            r = deadline.sleep(delay) => if r.is_err() { return Err(timed_out()) },
                            _ = crate::retry::cancelled(cancel.as_ref()) => return Err(Error::Cancelled { task_id: None }),
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One create attempt: (task id, request id, cost, replayed).
    async fn create_once(
        &self,
        kind: &TaskKind,
        body: &Body,
        key: &HeaderValue,
    ) -> Result<(String, Option<String>, Option<String>, bool)> {
        // Typed bodies are the generated wire types; a raw body is any JSON (the escape
        // hatch). Both go out as the generated create would send them.
        let (kind, encoded) = match body {
            Body::Image(b) => (TaskKind::Image, serde_json::to_vec(b)),
            Body::Video(b) => (TaskKind::Video, serde_json::to_vec(b)),
            Body::Raw(value) => (*kind, serde_json::to_vec(value)),
        };
        let encoded = encoded.map_err(|e| Error::InvalidArgument {
            argument: "request",
            message: format!("the body cannot be encoded as JSON: {e}"),
        })?;
        let _permit = self.acquire().await;
        let answer = self.inner.wire_create(kind, encoded, key).await?;
        let body: types::SubmitTaskResponse = answer.decode()?;
        let headers = CreateHeaders::of(&answer.headers);
        tracing::trace!(code = body.code, message = %body.message, task_id = ?body.data.task_id, "create response");
        finish_create(body, headers)
    }
}

/// What a create answer's headers say (read before the body is taken, so the header map
/// is never cloned).
struct CreateHeaders {
    request_id: Option<String>,
    cost: Option<String>,
    replayed: bool,
    retry_after: Option<std::time::Duration>,
}

impl CreateHeaders {
    fn of(headers: &reqwest::header::HeaderMap) -> Self {
        CreateHeaders {
            request_id: header_str(headers, &http::X_REQUEST_ID),
            cost: header_str(headers, &http::X_REQUEST_COST),
            replayed: header_str(headers, &http::X_IDEMPOTENT_REPLAY)
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            retry_after: http::retry_after(headers),
        }
    }
}

fn finish_create(
    body: types::SubmitTaskResponse,
    headers: CreateHeaders,
) -> Result<(String, Option<String>, Option<String>, bool)> {
    let CreateHeaders {
        request_id,
        cost,
        replayed,
        retry_after,
    } = headers;
    match (body.code, body.data.task_id) {
        (200 | 0, Some(task_id)) if usable_task_id(&task_id) => {
            Ok((task_id, request_id, cost, replayed))
        }
        (200 | 0, Some(task_id)) if !task_id.is_empty() => Err(Error::Decode {
            status: Some(200),
            reason: "the create answer names a task id that cannot be used (a path, control \
                     characters, or over 255 characters); resubmit with the same idempotency key"
                .into(),
            excerpt: crate::error::excerpt(task_id.as_bytes()),
        }),
        (200 | 0, _) => Err(Error::Decode {
            status: Some(200),
            reason: "success response without data.task_id".into(),
            excerpt: String::new(),
        }),
        (code, _) => Err(http::classify_body(
            code,
            body.data.error_code,
            body.message,
            request_id,
            retry_after,
        )),
    }
}

/// True for a task id that can be put in a status URL and a file name: 1 to 255 characters,
/// no `/`, `\\` or control characters, and not `.` or `..`.
pub(crate) fn usable_task_id(id: &str) -> bool {
    if id.is_empty() || id.len() > 255 || id == "." || id == ".." {
        return false;
    }
    // Every id read or written goes through here. Printable ASCII (APIPod's ids) is checked
    // in one pass without early exit, which the compiler vectorises; anything else falls
    // back to `char::is_control`, which also covers U+0080-U+009F.
    let printable_ascii = id.bytes().fold(true, |ok, b| {
        ok & (0x20..0x7f).contains(&b) & (b != b'/') & (b != b'\\')
    });
    printable_ascii
        || (!id.is_ascii() && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control()))
}

#[cfg(test)]
mod tests {
    use super::usable_task_id;

    #[test]
    fn task_ids_that_can_name_a_url_and_a_file() {
        for ok in ["task_01J", "a b", "x.y", "任务-7", "é", &"a".repeat(255)] {
            assert!(usable_task_id(ok), "{ok:?}");
        }
        let long = "a".repeat(256);
        for bad in [
            "", ".", "..", "a/b", "a\\b", "a\tb", "a\u{7f}", "a\u{85}b", "任/务", "\u{9f}", &long,
        ] {
            assert!(!usable_task_id(bad), "{bad:?}");
        }
    }
}
