//! An axum receiver for APIPod callbacks (feature `callback-server`).
//!
//! [`CallbackReceiver::router`] answers `POST {prefix}/{kind}/{submission_key}/{token}`, the
//! routes [`CallbackTokens::callback_url_for`] makes. For each delivery it:
//!
//! 1. checks the route's token (404 when it does not verify, the same answer as for a route
//!    that does not exist);
//! 2. reads at most the body limit (413 beyond it) and parses the event (400 when it is not
//!    one);
//! 3. drops repeated deliveries of the same `(task_id, status)` (200, nothing re-processed);
//! 4. wakes the waits on the task through the client's
//!    [`CallbackHub`](crate::CallbackHub), which re-read the status themselves;
//! 5. answers 200 at once, then confirms the event by re-reading the task with the client's
//!    key and publishes the confirmed snapshot to [`CallbackReceiver::events`].
//!
//! ```no_run
//! # async fn demo() -> apipod::Result<()> {
//! use apipod::callback_server::CallbackReceiver;
//! use apipod::{CallbackHub, CallbackTokens, Client};
//!
//! let hub = CallbackHub::new();
//! let client = Client::builder()
//!     .api_key(std::env::var("APIPOD_API_KEY").unwrap_or_default())
//!     .callbacks(hub)
//!     .build()?;
//! let tokens = CallbackTokens::new(std::env::var("CALLBACK_SECRET").unwrap_or_default());
//! let receiver = CallbackReceiver::new(client, tokens).with_prefix("/webhooks/apipod");
//! let mut events = receiver.events();
//! tokio::spawn(async move {
//!     while let Ok(confirmed) = events.recv().await {
//!         println!("{} is {}", confirmed.snapshot.task_id(), confirmed.snapshot.status());
//!     }
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, receiver.router()).await.unwrap();
//! # Ok(()) }
//! ```

use std::sync::Arc;

use apipod_raw::contract::TaskKind;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use futures::StreamExt;
use tokio::sync::broadcast;
use tracing::Instrument;

use crate::callback::{
    CallbackError, CallbackEvent, CallbackTokens, Deduplicator, MAX_CALLBACK_BODY,
};
use crate::client::Client;
use crate::task::TaskSnapshot;

/// How many confirmed events [`CallbackReceiver::events`] buffers for a slow subscriber
/// before it starts missing some.
pub const EVENT_BUFFER: usize = 1024;

/// A callback confirmed by re-reading its task.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConfirmedCallback {
    /// The task's kind, from the route.
    pub kind: TaskKind,
    /// The submission key from the route (the submit's idempotency key when the URL came
    /// from [`CallbackTokens::callback_url_for`]): match it against your stored handles.
    pub submission_key: String,
    /// The delivery as received. Not authenticated: for information only.
    pub event: CallbackEvent,
    /// The task as APIPod reported it to this client's key, after the callback arrived.
    /// Act on this.
    pub snapshot: TaskSnapshot,
}

/// Receives APIPod callbacks over HTTP and feeds them to waits and to the application.
///
/// Confirmation costs one status read per distinct delivery, and is done only while
/// something is subscribed to [`events`](Self::events); waits woken through the hub read
/// the status on their own either way.
#[derive(Debug, Clone)]
pub struct CallbackReceiver {
    client: Client,
    tokens: CallbackTokens,
    prefix: String,
    body_limit: usize,
    dedup: Deduplicator,
    events: broadcast::Sender<ConfirmedCallback>,
}

struct Shared {
    client: Client,
    tokens: CallbackTokens,
    body_limit: usize,
    dedup: Deduplicator,
    events: broadcast::Sender<ConfirmedCallback>,
}

impl CallbackReceiver {
    /// A receiver that verifies routes with `tokens`, wakes the waits of `client` (through
    /// the hub given to [`ClientBuilder::callbacks`](crate::ClientBuilder::callbacks), if
    /// any) and confirms events with `client`'s key.
    pub fn new(client: Client, tokens: CallbackTokens) -> Self {
        Self {
            client,
            tokens,
            prefix: String::new(),
            body_limit: MAX_CALLBACK_BODY,
            dedup: Deduplicator::default(),
            events: broadcast::channel(EVENT_BUFFER).0,
        }
    }

    /// Serves the routes under this path prefix (default: none), e.g. `/webhooks/apipod`.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let trimmed = prefix.trim_matches('/');
        self.prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// Largest body accepted (default [`MAX_CALLBACK_BODY`], 64 KiB).
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.body_limit = bytes;
        self
    }

    /// Uses this de-duplicator (e.g. one shared by several receivers).
    pub fn with_deduplicator(mut self, dedup: Deduplicator) -> Self {
        self.dedup = dedup;
        self
    }

    /// The route the router answers, e.g. `/webhooks/apipod/{kind}/{submission_key}/{token}`.
    pub fn route(&self) -> String {
        format!("{}/{{kind}}/{{submission_key}}/{{token}}", self.prefix)
    }

    /// Confirmed callbacks, in arrival order. Each subscriber sees every event sent after
    /// it subscribed (up to [`EVENT_BUFFER`] behind).
    pub fn events(&self) -> broadcast::Receiver<ConfirmedCallback> {
        self.events.subscribe()
    }

    /// The de-duplicator in use.
    pub fn deduplicator(&self) -> &Deduplicator {
        &self.dedup
    }

    /// The axum router. Merge or nest it into your application, or serve it alone.
    pub fn router(&self) -> Router {
        let shared = Arc::new(Shared {
            client: self.client.clone(),
            tokens: self.tokens.clone(),
            body_limit: self.body_limit,
            dedup: self.dedup.clone(),
            events: self.events.clone(),
        });
        Router::new()
            .route(
                &format!("{}/{{kind}}/{{key}}/{{token}}", self.prefix),
                post(deliver),
            )
            .with_state(shared)
    }
}

fn refuse(err: &CallbackError) -> Response {
    let status = StatusCode::from_u16(err.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    match err {
        // Same answer as an unknown route.
        CallbackError::BadToken => status.into_response(),
        other => (status, other.to_string()).into_response(),
    }
}

async fn deliver(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<(String, String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let route = path.ok().and_then(|Path((kind, key, token))| {
        let kind: TaskKind = kind.parse().ok()?;
        shared
            .tokens
            .verify_route(kind, &key, &token)
            .then_some((kind, key))
    });
    let Some((kind, key)) = route else {
        tracing::debug!("callback with an unknown route or a token that does not verify");
        return refuse(&CallbackError::BadToken);
    };
    let body = match read_limited(&headers, body, shared.body_limit).await {
        Ok(b) => b,
        Err(e) => return refuse(&e),
    };
    let event = match CallbackEvent::parse_with_limit(&body, shared.body_limit) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "malformed callback refused");
            return refuse(&e);
        }
    };
    let span = tracing::info_span!("apipod.callback", task_id = %event.task_id, status = %event.status, %kind);
    let _enter = span.enter();
    if !shared.dedup.first_delivery(&event) {
        tracing::debug!("repeated callback delivery ignored");
        return (StatusCode::OK, "duplicate").into_response();
    }
    if let Some(hub) = shared.client.callback_hub() {
        let woke = hub.notify(&event.task_id);
        tracing::debug!(woke, "callback handed to waits");
    }
    if shared.events.receiver_count() > 0 {
        let shared = Arc::clone(&shared);
        tokio::spawn(
            async move {
                match shared.client.confirm(kind, &event).await {
                    Ok(snapshot) => {
                        tracing::info!(confirmed = %snapshot.status(), "callback confirmed");
                        let _ = shared.events.send(ConfirmedCallback {
                            kind,
                            submission_key: key,
                            event,
                            snapshot,
                        });
                    }
                    Err(err) => {
                        // Let a later delivery of the same event be handled again.
                        shared.dedup.forget(&event);
                        tracing::warn!(error = %err, "could not confirm callback");
                    }
                }
            }
            .instrument(span.clone()),
        );
    }
    (StatusCode::OK, "ok").into_response()
}

/// Reads the body, refusing more than `limit` bytes without reading them all.
async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, CallbackError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(CallbackError::TooLarge { limit });
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.map_or(4096, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| CallbackError::Malformed {
            reason: format!("body could not be read: {e}"),
            excerpt: String::new(),
        })?;
        if buf.len() + chunk.len() > limit {
            return Err(CallbackError::TooLarge { limit });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}
