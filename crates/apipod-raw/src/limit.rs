//! Response bodies are bounded by us, not by the server: every answer the generated client
//! reads is cut off at [`MAX_RESPONSE_BODY`] bytes, and reading past it fails with
//! [`BodyTooLarge`] (found in the error's `source()` chain) instead of allocating whatever a
//! server sends.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

/// The largest response body the client reads (1 MiB). APIPod's answers are a few KiB.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// A response body went past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTooLarge {
    /// The limit, in bytes.
    pub limit: usize,
}

impl fmt::Display for BodyTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "response body exceeds {} bytes", self.limit)
    }
}

impl std::error::Error for BodyTooLarge {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

struct Limited<S> {
    inner: S,
    left: usize,
    limit: usize,
    failed: bool,
}

impl<S> Stream for Limited<S>
where
    S: Stream<Item = reqwest::Result<Bytes>> + Unpin,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.failed {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                if chunk.len() > self.left {
                    self.failed = true;
                    let limit = self.limit;
                    return Poll::Ready(Some(Err(Box::new(BodyTooLarge { limit }))));
                }
                self.left -= chunk.len();
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// `response` with its body limited to `limit` bytes (status, version and headers kept).
pub fn limit_body(response: reqwest::Response, limit: usize) -> reqwest::Response {
    // A declared length within the limit needs no guard: HTTP/1.1 framing (enforced by
    // hyper) ends the body at `Content-Length`, so the answer cannot exceed it. This is the
    // common case, and skipping the re-wrapped body keeps it off the hot path.
    if response
        .content_length()
        .is_some_and(|declared| declared <= limit as u64)
    {
        return response;
    }
    let status = response.status();
    let version = response.version();
    let headers = response.headers().clone();
    let stream = Limited {
        inner: Box::pin(response.bytes_stream()),
        left: limit,
        limit,
        failed: false,
    };
    let mut limited = http::Response::new(reqwest::Body::wrap_stream(stream));
    *limited.status_mut() = status;
    *limited.version_mut() = version;
    *limited.headers_mut() = headers;
    reqwest::Response::from(limited)
}

/// True when `err`'s `source()` chain holds a [`BodyTooLarge`]; returns it.
pub fn body_too_large(err: &(dyn std::error::Error + 'static)) -> Option<BodyTooLarge> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(b) = e.downcast_ref::<BodyTooLarge>() {
            return Some(*b);
        }
        current = e.source();
    }
    None
}
