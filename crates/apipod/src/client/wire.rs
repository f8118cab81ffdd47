//! The SDK's own path to APIPod for its two hottest calls, a create and a status read.
//!
//! They used to go through the generated methods, which format each URL as a string for
//! reqwest to parse again (about 8,000 instructions per request), build and merge a header
//! map per call and clone every answer's headers. Here the URLs come from the spec's
//! generated [`routes`](apipod_raw::routes), built once per client; a status URL only has
//! the task id appended. Their fixed headers (accept, content type, auth, user agent) are
//! also built once, and each request starts from a copy, so no header name is hashed per
//! request but the idempotency key's. The request is the generated method's (method, URL,
//! headers, JSON body: `tests/wire_equivalence.rs` compares them), the answer is decoded
//! into the same generated types, and it is read under the same 1 MiB bound.
//!
//! The futures are kept small, because each create and status read writes its whole future
//! once per call: the request is handed to reqwest (which boxes its own state) before the
//! first await, both calls share one non-generic [`exchange`], and the body is read chunk by
//! chunk rather than through reqwest's `bytes()`. A submit's future went from 2,776 to
//! 1,480 bytes and a status read's from 2,152 to 880.

use std::future::Future;

use apipod_raw::ClientState;
use apipod_raw::contract::TaskKind;
use apipod_raw::routes::{self, Route};
use bytes::Bytes;
use futures::FutureExt;
use futures::future::Either;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::Inner;
use crate::error::http::{self, Bounded};
use crate::error::{Error, Result};

/// `Idempotency-Key`.
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A client's prebuilt URLs (each kind's create URL, and its status URL without the task
/// id) and the headers every create and every status read sends.
#[derive(Debug, Clone)]
pub(crate) struct Routes {
    create: [Url; 2],
    status: [Url; 2],
    /// `Accept`, `Content-Type`, auth, user agent, and an idempotency key to replace.
    create_headers: HeaderMap,
    /// `Accept`, auth and user agent.
    status_headers: HeaderMap,
}

fn slot(kind: TaskKind) -> usize {
    match kind {
        TaskKind::Image => 0,
        TaskKind::Video => 1,
    }
}

impl Routes {
    /// The URLs under `base` (an `http(s)` URL, checked by the builder), and the headers
    /// `state` (auth, user agent) adds to every request.
    pub(crate) fn new(base: &Url, state: &ClientState) -> std::result::Result<Self, String> {
        let create = |r: Route| r.url(base, &[]).map_err(|e| e.to_string());
        let status = |r: Route| {
            r.prefix_url(base)
                .ok_or_else(|| format!("{} is not `…/{{task_id}}`", r.path))
        };
        Ok(Routes {
            create: [
                create(routes::CREATE_IMAGE_GENERATION)?,
                create(routes::CREATE_VIDEO_GENERATION)?,
            ],
            status: [
                status(routes::GET_IMAGE_TASK)?,
                status(routes::GET_VIDEO_TASK)?,
            ],
            create_headers: fixed_headers(state, true),
            status_headers: fixed_headers(state, false),
        })
    }
}

/// The headers every create (`body`) or status read sends.
fn fixed_headers(state: &ClientState, body: bool) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(6);
    headers.insert(ACCEPT, JSON.clone());
    if body {
        headers.insert(CONTENT_TYPE, JSON.clone());
        // A placeholder each create replaces: a copy of the map has no room for a new
        // entry (a cloned `Vec` keeps only its length), so adding one would reallocate.
        headers.insert(IDEMPOTENCY_KEY.clone(), HeaderValue::from_static(""));
    }
    state.apply(&mut headers);
    headers
}

/// A 200 answer: its headers (taken from the response, not cloned) and its body, read
/// under the bound and not decoded yet.
pub(crate) struct Answer {
    pub(crate) headers: HeaderMap,
    bytes: Bytes,
}

impl Answer {
    /// The body decoded into `T`.
    pub(crate) fn decode<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.bytes).map_err(|e| http::invalid_payload(&self.bytes, e))
    }
}

impl Inner {
    /// `POST` a create of `kind` with its JSON `body` and `Idempotency-Key: key`. The request
    /// is built now and sent when the returned future is first polled.
    pub(crate) fn wire_create(
        &self,
        kind: TaskKind,
        body: Vec<u8>,
        key: &HeaderValue,
    ) -> impl Future<Output = Result<Answer>> + Send + use<> {
        let url = self.routes.create[slot(kind)].clone();
        let mut request = reqwest::Request::new(Method::POST, url);
        let headers = request.headers_mut();
        *headers = self.routes.create_headers.clone();
        headers.insert(IDEMPOTENCY_KEY.clone(), key.clone());
        *request.body_mut() = Some(body.into());
        exchange(self.http.execute(request))
    }

    /// `GET` the status of `task_id` (already checked with `usable_task_id`); sent when the
    /// returned future is first polled.
    pub(crate) fn wire_status(
        &self,
        kind: TaskKind,
        task_id: &str,
    ) -> impl Future<Output = Result<Answer>> + Send + use<> {
        match Route::with_last_segment(&self.routes.status[slot(kind)], task_id) {
            Ok(url) => {
                let mut request = reqwest::Request::new(Method::GET, url);
                *request.headers_mut() = self.routes.status_headers.clone();
                Either::Left(exchange(self.http.execute(request)))
            }
            Err(e) => Either::Right(std::future::ready(Err(Error::InvalidArgument {
                argument: "base_url",
                message: e.to_string(),
            }))),
        }
    }
}

/// Waits for the answer to a request already handed to reqwest (`pending`, reqwest's
/// `execute` future, holds all of its state boxed, so this future stays small); a 200 is read
/// under the bound, anything else becomes the [`Error`] its status and body describe. The
/// create and the status read share its code: it is not generic over the answer's type.
async fn exchange(
    pending: impl Future<Output = reqwest::Result<reqwest::Response>>,
) -> Result<Answer> {
    let mut response = pending.await.map_err(Error::transport)?;
    if response.status() != StatusCode::OK {
        // Boxed: the error path reads a body, and its state need not be part of every read's.
        return Err(Box::pin(http::error_answer(response)).await);
    }
    let headers = std::mem::take(response.headers_mut());
    let bytes = read_bounded(&mut response).await?;
    Ok(Answer { headers, bytes })
}

/// A 200 answer's body, refused once past
/// [`MAX_RESPONSE_BODY`](apipod_raw::limit::MAX_RESPONSE_BODY) bytes. A body that arrives in
/// one chunk (APIPod's answers, read with their headers) is returned as that chunk, without
/// a copy.
///
/// A plain function around [`http::read_within`]'s future, not an `async fn`: that would
/// nest the future one level deeper and widen every create's and status read's.
fn read_bounded(
    response: &mut reqwest::Response,
) -> impl Future<Output = Result<Bytes>> + Send + use<'_> {
    const LIMIT: usize = apipod_raw::limit::MAX_RESPONSE_BODY;
    http::read_within::<LIMIT>(response).map(|read| match read {
        Ok(Bounded::Body(body)) => Ok(body),
        Ok(Bounded::TooLarge(read)) => {
            let mut seen = read.before.to_vec();
            seen.extend_from_slice(
                &read.chunk[..(LIMIT - read.before.len()).min(read.chunk.len())],
            );
            Err(too_large(&seen))
        }
        Err(e) => Err(Error::transport(e)),
    })
}

fn too_large(seen: &[u8]) -> Error {
    Error::Decode {
        status: Some(200),
        reason: apipod_raw::limit::BodyTooLarge {
            limit: apipod_raw::limit::MAX_RESPONSE_BODY,
        }
        .to_string(),
        excerpt: crate::error::excerpt(seen),
    }
}
