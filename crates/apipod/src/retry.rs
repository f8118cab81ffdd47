//! Retry policy, the client-wide rate-limit gate, and how APIPod answers become errors.

use std::sync::Mutex;
use std::time::Duration;

use apipod_raw::types;
use backon::BackoffBuilder;
use reqwest::header::HeaderMap;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, excerpt};

/// How failed requests are retried.
///
/// Retried: transport errors and timeouts, 408, 429, 5xx, and 409 `idempotency_in_progress`.
/// Never retried: 400, 401, 402, 403, 404, `idempotency_conflict`. Creates are only retried
/// because every create carries an `Idempotency-Key`, so a retry can never start a second task.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 4).
    pub max_retries: u32,
    /// First backoff (default 500 ms); doubles each attempt.
    pub initial_backoff: Duration,
    /// Longest backoff (default 8 s).
    pub max_backoff: Duration,
    /// Random jitter on each backoff (default on).
    pub jitter: bool,
    /// Longest `Retry-After` honoured (default 60 s). A longer one fails the call with
    /// [`Error::RateLimited`] (or the API error) instead of sleeping.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            jitter: true,
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The backoff schedule (exponential, capped, jittered), one delay per retry.
    pub(crate) fn schedule(&self) -> impl Iterator<Item = Duration> + Send + use<> {
        let mut builder = backon::ExponentialBuilder::default()
            .with_min_delay(self.initial_backoff)
            .with_max_delay(self.max_backoff)
            .with_factor(2.0)
            .with_max_times(self.max_retries as usize);
        if self.jitter {
            builder = builder.with_jitter();
        }
        builder.build()
    }

    /// The delay before the next attempt, or `None` to give up with `err`.
    pub(crate) fn delay_for(&self, err: &Error, backoff: Option<Duration>) -> Option<Duration> {
        self.delay_after(err, err.retry_after(), backoff)
    }

    /// Like [`delay_for`](Self::delay_for), with the server's `Retry-After` given separately
    /// (for errors that do not carry one, such as a failed result download).
    pub(crate) fn delay_after(
        &self,
        err: &Error,
        retry_after: Option<Duration>,
        backoff: Option<Duration>,
    ) -> Option<Duration> {
        if !err.is_retryable() {
            return None;
        }
        let backoff = backoff?;
        match retry_after {
            Some(ra) if ra > self.max_retry_after => None,
            Some(ra) => Some(ra.max(Duration::from_millis(1))),
            None => Some(backoff),
        }
    }
}

/// Shared pause for creates after a 429: one rate-limited call makes every submit on the
/// client wait, instead of each call discovering the limit on its own.
#[derive(Debug, Default)]
pub(crate) struct RateGate {
    until: Mutex<Option<Instant>>,
}

impl RateGate {
    pub(crate) fn pause_for(&self, delay: Duration) {
        let target = Instant::now() + delay;
        let mut until = crate::lock::lock(&self.until);
        if until.is_none_or(|u| u < target) {
            *until = Some(target);
        }
    }

    /// Waits until the gate is open. Returns false when cancelled first.
    pub(crate) async fn wait(&self, cancel: &CancellationToken) -> bool {
        loop {
            let until = *crate::lock::lock(&self.until);
            match until {
                Some(t) if t > Instant::now() => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(t) => {}
                        _ = cancel.cancelled() => return false,
                    }
                }
                _ => return true,
            }
        }
    }
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `Retry-After` in seconds (integer or decimal), or `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    let secs = header_str(headers, "retry-after")?.parse::<f64>().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(86_400.0)))
}

/// The most of an error answer's body that is read (64 KiB): enough for any error envelope,
/// and what a quoted excerpt comes from. The rest is never read.
pub(crate) const MAX_ERROR_BODY: usize = 64 * 1024;

/// Reads at most `cap` bytes of `response`'s body and drops the rest.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<bytes::Bytes, reqwest::Error> {
    let mut out = bytes::BytesMut::new();
    while out.len() < cap {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let take = chunk.len().min(cap - out.len());
                out.extend_from_slice(&chunk[..take]);
            }
            Ok(None) => break,
            // A body cut off at the client's own limit still has its first bytes.
            Err(e) if apipod_raw::limit::body_too_large(&e).is_some() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out.freeze())
}

/// Turns an APIPod error answer (HTTP status + headers + body) into an [`Error`].
pub(crate) fn api_error(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let request_id = header_str(headers, "x-request-id");
    let retry_after = retry_after(headers);
    tracing::trace!(status, request_id = ?request_id, body = %excerpt(body), "APIPod error body");
    let parsed: Option<types::ErrorResponse> = serde_json::from_slice(body).ok();
    let (code, message) = match &parsed {
        Some(e) => {
            let code = e
                .error
                .as_ref()
                .and_then(|d| d.code.clone())
                .or_else(|| e.data.as_ref().and_then(|d| d.error_code.clone()));
            let message = e
                .error
                .as_ref()
                .and_then(|d| d.message.clone())
                .or_else(|| e.message.clone())
                .unwrap_or_default();
            (code, message)
        }
        None => (None, String::new()),
    };
    let message = if message.is_empty() {
        if parsed.is_none() && !body.is_empty() {
            excerpt(body)
        } else {
            format!("HTTP {status}")
        }
    } else {
        message
    };
    classify(status, code, message, request_id, retry_after)
}

/// The error for an HTTP error answer (`status` is the HTTP status).
pub(crate) fn classify(
    status: u16,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> Error {
    classify_as(status, status, None, code, message, request_id, retry_after)
}

/// The error for an HTTP 200 whose body reports `body_code` (not 200 or 0): the body's code
/// decides the kind of error, and both numbers are kept apart in [`Error::Api`].
pub(crate) fn classify_body(
    body_code: i64,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> Error {
    let class = u16::try_from(body_code)
        .ok()
        .filter(|c| (100..=599).contains(c))
        .unwrap_or(500);
    classify_as(
        200,
        class,
        Some(body_code),
        code,
        message,
        request_id,
        retry_after,
    )
}

fn classify_as(
    http_status: u16,
    class: u16,
    body_code: Option<i64>,
    code: Option<String>,
    message: String,
    request_id: Option<String>,
    retry_after: Option<Duration>,
) -> Error {
    match (class, code.as_deref()) {
        (402, _) | (_, Some("insufficient_quota")) => Error::InsufficientQuota {
            message,
            request_id,
        },
        (_, Some("idempotency_conflict")) => Error::IdempotencyConflict {
            message,
            request_id,
        },
        (429, _) | (_, Some("rate_limit_exceeded")) => Error::RateLimited {
            retry_after,
            request_id,
            message,
        },
        _ => Error::Api {
            status: http_status,
            body_code,
            code,
            message,
            request_id,
            retry_after,
        },
    }
}

/// Maps a failed generated-client call to an [`Error`], reading the body of unexpected
/// answers. `InvalidResponsePayload` (HTTP 200 whose body is not the success shape) is
/// checked for an error envelope first (`code != 200` without `data`).
pub(crate) async fn from_raw(err: apipod_raw::Error<()>) -> Error {
    use progenitor_client::Error as E;
    match err {
        E::CommunicationError(e) | E::ResponseBodyError(e) => {
            match apipod_raw::limit::body_too_large(&e) {
                Some(too_large) => Error::Decode {
                    status: e.status().map(|s| s.as_u16()),
                    reason: too_large.to_string(),
                    excerpt: String::new(),
                },
                None => Error::transport(e),
            }
        }
        E::UnexpectedResponse(resp) => {
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            match read_capped(resp, MAX_ERROR_BODY).await {
                Ok(body) => api_error(status, &headers, &body),
                Err(e) => Error::transport(e),
            }
        }
        E::InvalidResponsePayload(bytes, e) => {
            match serde_json::from_slice::<types::ErrorResponse>(&bytes) {
                Ok(body) if body.code.is_some_and(|c| c != 200 && c != 0) => {
                    let code = body.code.unwrap_or_default();
                    classify_body(
                        code,
                        body.data.and_then(|d| d.error_code),
                        body.message.unwrap_or_default(),
                        None,
                        None,
                    )
                }
                _ => Error::decode(Some(200), e, &bytes),
            }
        }
        E::InvalidRequest(message) | E::Custom(message) => Error::InvalidArgument {
            argument: "request",
            message,
        },
        other => Error::Decode {
            status: other.status().map(|s| s.as_u16()),
            reason: other.to_string(),
            excerpt: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn both_error_shapes_are_normalised() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("req_1"));
        h.insert("retry-after", HeaderValue::from_static("7"));
        let e = api_error(
            429,
            &h,
            br#"{"code":429,"message":"Rate limit exceeded","data":{"type":"rate_limit_error","error_code":"rate_limit_exceeded"}}"#,
        );
        assert!(
            matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7))
        );
        assert_eq!(e.request_id(), Some("req_1"));
        assert!(e.is_retryable());
        let e = api_error(
            401,
            &HeaderMap::new(),
            br#"{"error":{"message":"Authentication required.","type":"invalid_request_error","code":"invalid_api_key"}}"#,
        );
        assert_eq!(e.code(), Some("invalid_api_key"));
        assert_eq!(e.status(), Some(401));
        assert!(!e.is_retryable());
        let e = api_error(502, &HeaderMap::new(), b"<html>bad gateway</html>");
        assert_eq!(e.status(), Some(502));
        assert!(e.to_string().contains("bad gateway"));
        assert!(e.is_retryable());
    }

    #[test]
    fn never_retries_permanent_errors() {
        let p = RetryPolicy::default();
        let some = Some(Duration::from_millis(500));
        for status in [400, 401, 403, 404] {
            let e = classify(status, None, "x".into(), None, None);
            assert_eq!(p.delay_for(&e, some), None, "{status}");
        }
        let quota = classify(402, None, "x".into(), None, None);
        assert_eq!(p.delay_for(&quota, some), None);
        let conflict = classify(
            409,
            Some("idempotency_conflict".into()),
            "x".into(),
            None,
            None,
        );
        assert_eq!(p.delay_for(&conflict, some), None);
        let in_progress = classify(
            409,
            Some("idempotency_in_progress".into()),
            "x".into(),
            None,
            Some(Duration::from_secs(1)),
        );
        assert_eq!(
            p.delay_for(&in_progress, some),
            Some(Duration::from_secs(1))
        );
        let too_long = classify(429, None, "x".into(), None, Some(Duration::from_secs(3600)));
        assert_eq!(p.delay_for(&too_long, some), None);
    }

    #[test]
    fn schedule_is_capped_and_bounded() {
        let p = RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        };
        let delays: Vec<_> = p.schedule().collect();
        assert_eq!(delays.len(), 4);
        assert_eq!(delays[0], Duration::from_millis(500));
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(8)));
    }
}
