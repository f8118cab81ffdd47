//! Reading an answer: the images of a 200, or the error (a 504 `sync_image_timeout` naming a
//! task is kept apart, to be followed).

use std::time::{Duration, SystemTime};

use apipod_raw::openai as rules;
use apipod_raw::types;
use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::HeaderMap;

use crate::error::http::{self, Bounded, header_str};
use crate::error::{Error, Result};
use crate::output::Output;

use super::result::{Delivery, SyncImage, SyncResult, Usage};

/// A decoded 200 answer.
pub(super) struct Answer {
    pub(super) body: types::OpenAiImagesResponse,
    pub(super) headers: HeaderMap,
}

/// Why an attempt did not return images.
pub(super) enum Failure {
    /// 504 `sync_image_timeout` naming the task that keeps running.
    WindowPassed {
        task_id: String,
        request_id: Option<String>,
        cost: Option<String>,
    },
    Error(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// The whole body of a 200 answer, failing above [`rules::MAX_RESPONSE_BODY`].
pub(super) async fn read_bounded(
    mut response: reqwest::Response,
) -> std::result::Result<Bytes, Failure> {
    match http::read_within::<{ rules::MAX_RESPONSE_BODY }>(&mut response)
        .await
        .map_err(transport_failure)?
    {
        Bounded::Body(body) => Ok(body),
        Bounded::TooLarge(read) => Err(Error::decode(
            Some(200),
            format!(
                "the answer is larger than {} bytes",
                rules::MAX_RESPONSE_BODY
            ),
            &read.before,
        )
        .into()),
    }
}

/// An error answer: 504 `sync_image_timeout` naming a task, or an [`Error`].
pub(super) async fn error_answer(response: reqwest::Response) -> Failure {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match http::read_capped(response, http::MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(e) => return transport_failure(e).into(),
    };
    if status == 504
        && let Ok(parsed) = serde_json::from_slice::<types::OpenAiErrorResponse>(&body)
        && parsed.error.code.as_deref() == Some(rules::TIMEOUT_CODE)
        && let Some(task_id) = rules::task_id_from_message(&parsed.error.message)
    {
        return Failure::WindowPassed {
            task_id: task_id.to_string(),
            request_id: header_str(&headers, &http::X_REQUEST_ID),
            cost: header_str(&headers, &http::X_REQUEST_COST),
        };
    }
    http::api_error(status, &headers, &body).into()
}

/// The images of a 200 answer.
pub(super) fn decode(answer: Answer, attempts: u32) -> Result<SyncResult> {
    let request_id = header_str(&answer.headers, &http::X_REQUEST_ID);
    let stem = request_id.clone().unwrap_or_else(|| "image".into());
    if let Some(r) = &request_id {
        tracing::Span::current().record("request_id", r.as_str());
    }
    let mut images = Vec::with_capacity(answer.body.data.len());
    for (index, image) in answer.body.data.into_iter().enumerate() {
        images.push(match (image.b64_json, image.url) {
            (Some(b64), _) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|e| {
                        Error::decode(
                            Some(200),
                            format!("data[{index}].b64_json: {e}"),
                            b64.as_bytes(),
                        )
                    })?;
                SyncImage::Inline {
                    index,
                    bytes: bytes.into(),
                }
            }
            (None, Some(url)) => SyncImage::Url(Output::new(stem.clone(), index, url)),
            (None, None) => {
                return Err(Error::decode(
                    Some(200),
                    format!("data[{index}] has neither b64_json nor url"),
                    b"",
                ));
            }
        });
    }
    let usage = answer.body.usage.map(|u| Usage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
    });
    Ok(SyncResult {
        images,
        usage,
        created: u64::try_from(answer.body.created)
            .ok()
            .and_then(|s| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(s))),
        request_id,
        cost: header_str(&answer.headers, &http::X_REQUEST_COST),
        delivery: Delivery::Direct,
        attempts,
    })
}

/// A transport error of a sent request: retryable only if the connection never opened.
pub(super) fn transport_failure(e: reqwest::Error) -> Error {
    if e.is_connect() {
        return Error::transport(e);
    }
    let timeout = e.is_timeout();
    let e = e.without_url();
    Error::SyncOutcomeUnknown {
        message: e.to_string(),
        timeout,
        source: Some(e),
    }
}
