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

use apipod_raw::ClientState;
use apipod_raw::contract::TaskKind;
use apipod_raw::routes::{self, Route};
use bytes::Bytes;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;

use super::Inner;
use crate::error::http;
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

/// A decoded 200 answer and its headers (taken from the response, not cloned).
pub(crate) struct Answer<T> {
    pub(crate) body: T,
    pub(crate) headers: HeaderMap,
}

impl Inner {
    /// `POST` a create of `kind` with its JSON `body` and `Idempotency-Key: key`.
    pub(crate) async fn wire_create<T: DeserializeOwned>(
        &self,
        kind: TaskKind,
        body: Vec<u8>,
        key: &HeaderValue,
    ) -> Result<Answer<T>> {
        let url = self.routes.create[slot(kind)].clone();
        let mut request = reqwest::Request::new(Method::POST, url);
        let headers = request.headers_mut();
        *headers = self.routes.create_headers.clone();
        headers.insert(IDEMPOTENCY_KEY.clone(), key.clone());
        *request.body_mut() = Some(body.into());
        self.wire_send(request).await
    }

    /// `GET` the status of `task_id` (already checked with `usable_task_id`).
    pub(crate) async fn wire_status<T: DeserializeOwned>(
        &self,
        kind: TaskKind,
        task_id: &str,
    ) -> Result<Answer<T>> {
        let url =
            Route::with_last_segment(&self.routes.status[slot(kind)], task_id).map_err(|e| {
                Error::InvalidArgument {
                    argument: "base_url",
                    message: e.to_string(),
                }
            })?;
        let mut request = reqwest::Request::new(Method::GET, url);
        *request.headers_mut() = self.routes.status_headers.clone();
        self.wire_send(request).await
    }

    /// Sends `request` (its headers complete); a 200 is decoded into `T`, anything else
    /// becomes the [`Error`] its status and body describe.
    async fn wire_send<T: DeserializeOwned>(&self, request: reqwest::Request) -> Result<Answer<T>> {
        let mut response = self.http.execute(request).await.map_err(Error::transport)?;
        let status = response.status();
        if status != StatusCode::OK {
            // Boxed: the error path reads a body, and its state need not be part of every read's.
            return Err(Box::pin(http::error_answer(response)).await);
        }
        let headers = std::mem::take(response.headers_mut());
        let bytes = read_bounded(response).await?;
        match serde_json::from_slice::<T>(&bytes) {
            Ok(body) => Ok(Answer { body, headers }),
            Err(e) => Err(http::invalid_payload(&bytes, e)),
        }
    }
}

/// A 200 answer's body, at most [`MAX_RESPONSE_BODY`](apipod_raw::limit::MAX_RESPONSE_BODY)
/// bytes. A declared length within the bound is read whole (hyper ends the body there);
/// anything else is read in chunks and refused once past the bound.
async fn read_bounded(response: reqwest::Response) -> Result<Bytes> {
    let limit = apipod_raw::limit::MAX_RESPONSE_BODY;
    let bytes = if response
        .content_length()
        .is_some_and(|declared| declared <= limit as u64)
    {
        response.bytes().await
    } else {
        http::read_capped(response, limit + 1).await
    }
    .map_err(Error::transport)?;
    if bytes.len() > limit {
        return Err(Error::Decode {
            status: Some(200),
            reason: apipod_raw::limit::BodyTooLarge { limit }.to_string(),
            excerpt: crate::error::excerpt(&bytes),
        });
    }
    Ok(bytes)
}
