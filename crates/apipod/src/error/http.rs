//! How APIPod's answers become [`Error`]s: the HTTP status, the body's `code`, the two
//! error envelopes, `Retry-After` and `X-Request-ID`, read from bodies we bound ourselves.

use std::time::Duration;

use apipod_raw::types;
use bytes::{Bytes, BytesMut};
use reqwest::header::{AsHeaderName, HeaderMap, HeaderName, RETRY_AFTER};

use super::{Error, excerpt};

/// `X-Request-ID`, APIPod's id for one HTTP exchange.
pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Request-Cost`, what a create was charged.
pub(crate) static X_REQUEST_COST: HeaderName = HeaderName::from_static("x-request-cost");
/// `X-Idempotent-Replay: true` on a create answered from the idempotency store.
pub(crate) static X_IDEMPOTENT_REPLAY: HeaderName = HeaderName::from_static("x-idempotent-replay");
/// `Retry-After-Ms`, a finer `Retry-After`.
static RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

/// A header's text, trimmed; `None` when absent, empty or not visible ASCII. Names are
/// passed as [`HeaderName`] constants where it matters, so a lookup parses nothing.
pub(crate) fn header_str(headers: &HeaderMap, name: impl AsHeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `Retry-After` in seconds (integer or decimal), or `retry-after-ms`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(headers, &RETRY_AFTER_MS).and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64((ms / 1000.0).min(86_400.0)));
    }
    let secs = header_str(headers, RETRY_AFTER)?.parse::<f64>().ok()?;
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

/// A 200 answer's body read by [`read_within`].
pub(crate) enum Bounded {
    /// The whole body. One that came in a single chunk is that chunk, not a copy.
    Body(Bytes),
    /// The body went past the bound: what was read before the chunk that passed it, and
    /// that chunk (boxed: the error path's data need not widen every read's future).
    /// Nothing more is read.
    TooLarge(Box<Overflow>),
}

/// What [`Bounded::TooLarge`] read.
pub(crate) struct Overflow {
    /// The bytes before the chunk that passed the bound.
    pub(crate) before: Bytes,
    /// That chunk.
    pub(crate) chunk: Bytes,
}

/// Reads `response`'s whole body, chunk by chunk, stopping at the first chunk that would
/// take it past `LIMIT` bytes. (A constant, not an argument: an argument would be kept in
/// the future, and this future is part of every create's and status read's.)
pub(crate) async fn read_within<const LIMIT: usize>(
    response: &mut reqwest::Response,
) -> Result<Bounded, reqwest::Error> {
    let mut first = Bytes::new();
    let mut more: Option<BytesMut> = None;
    while let Some(chunk) = response.chunk().await? {
        // Never above `LIMIT`: a chunk that would pass it ends the read.
        let len = more.as_ref().map_or(first.len(), BytesMut::len);
        if chunk.len() > LIMIT - len {
            return Ok(Bounded::TooLarge(Box::new(Overflow {
                before: more.map_or(first, BytesMut::freeze),
                chunk,
            })));
        }
        match more.as_mut() {
            Some(buf) => buf.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut buf = BytesMut::with_capacity(first.len() + chunk.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&chunk);
                more = Some(buf);
            }
        }
    }
    Ok(Bounded::Body(more.map_or(first, BytesMut::freeze)))
}

/// Turns an APIPod error answer (HTTP status + headers + body) into an [`Error`].
pub(crate) fn api_error(status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let (request_id, retry_after) = answer_meta(headers);
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

/// What an answer's headers say of it: its `X-Request-ID` and its `Retry-After`.
pub(crate) fn answer_meta(headers: &HeaderMap) -> (Option<String>, Option<Duration>) {
    (header_str(headers, &X_REQUEST_ID), retry_after(headers))
}

/// `Err` with the error a body's `code` reports, or `Ok` for a success code (200, or 0 as
/// some answers send it).
pub(crate) fn check_body_code(
    body_code: i64,
    message: String,
    request_id: &Option<String>,
    retry_after: Option<Duration>,
) -> Result<(), Error> {
    if body_code == 200 || body_code == 0 {
        return Ok(());
    }
    Err(classify_body(
        body_code,
        None,
        message,
        request_id.clone(),
        retry_after,
    ))
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

/// The error for an HTTP 200 whose body is not the success shape: the error envelope it
/// holds (`code` other than 200 or 0), or a decode error quoting it.
pub(crate) fn invalid_payload(bytes: &[u8], e: serde_json::Error) -> Error {
    match serde_json::from_slice::<types::ErrorResponse>(bytes) {
        Ok(body) if body.code.is_some_and(|c| c != 200 && c != 0) => classify_body(
            body.code.unwrap_or_default(),
            body.data.and_then(|d| d.error_code),
            body.message.unwrap_or_default(),
            None,
            None,
        ),
        _ => Error::decode(Some(200), e, bytes),
    }
}

/// The error an answer other than the expected success describes (its status, headers
/// and at most [`MAX_ERROR_BODY`] of its body).
pub(crate) async fn error_answer(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    match read_capped(response, MAX_ERROR_BODY).await {
        Ok(body) => api_error(status, &headers, &body),
        Err(e) => Error::transport(e),
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
        E::UnexpectedResponse(resp) => error_answer(resp).await,
        E::InvalidResponsePayload(bytes, e) => invalid_payload(&bytes, e),
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
}
