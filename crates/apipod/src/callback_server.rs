//! An axum receiver for APIPod callbacks (feature `callback-server`).
//!
//! [`CallbackReceiver::router`] answers `POST {prefix}/{kind}/{submission_key}/{token}`, the
//! routes [`CallbackTokens::callback_url_for`] makes. For each delivery it:
//!
//! 1. checks the route's token (404 when it does not verify, the same answer as for a route
//!    that does not exist);
//! 2. reads at most the body limit (413 beyond it) and parses the event (400 when it is not
//!    one);
//! 3. refuses an event for another task than the one the route is bound to (403: one
//!    callback URL speaks only for the task its submission created, see
//!    [`SubmissionBindings`]);
//! 4. acknowledges a delivery already confirmed and handled (200 `duplicate`);
//! 5. wakes the waits on the task through the client's
//!    [`CallbackHub`](crate::CallbackHub), which re-read the status themselves;
//! 6. while something is subscribed to [`CallbackReceiver::events`]: confirms the event by
//!    re-reading the task with the client's key. Only a delivery whose status the task
//!    confirms is bound to its route, remembered and published (200 `ok`); any other is
//!    answered 503 so that APIPod delivers it again, and leaves no trace, so an early or
//!    forged delivery cannot make the genuine one a "duplicate".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use apipod::callback_server::CallbackReceiver;
//! use apipod::{CallbackHub, CallbackTokens, Client};
//!
//! let client = Client::builder()
//!     .api_key(std::env::var("APIPOD_API_KEY")?)
//!     .callbacks(CallbackHub::new())
//!     .build()?;
//! // At least 32 random bytes; a missing variable or a short secret is an error.
//! let tokens = CallbackTokens::new(std::env::var("APIPOD_CALLBACK_SECRET")?)?;
//! let receiver = CallbackReceiver::new(client, tokens).with_prefix("/webhooks/apipod");
//! let mut events = receiver.events();
//! tokio::spawn(async move {
//!     while let Ok(confirmed) = events.recv().await {
//!         println!("{} is {}", confirmed.snapshot.task_id(), confirmed.snapshot.status());
//!     }
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, receiver.router()).await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;
use std::time::Duration;

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
    SubmissionBindings,
};
use crate::client::Client;
use crate::snapshot::TaskSnapshot;

/// How many confirmed events [`CallbackReceiver::events`] buffers for a slow subscriber
/// before it starts missing some.
pub const EVENT_BUFFER: usize = 1024;

/// Longest a delivery waits for its confirmation (the status read) before it is answered
/// 503, so that APIPod delivers it again.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

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
/// Confirmation costs one status read per delivery not yet confirmed, and is done only
/// while something is subscribed to [`events`](Self::events); waits woken through the hub
/// read the status on their own either way. Without subscribers the receiver only wakes
/// waits: it remembers and binds nothing, so no delivery can suppress a later one.
#[derive(Debug, Clone)]
pub struct CallbackReceiver {
    client: Client,
    tokens: CallbackTokens,
    prefix: String,
    body_limit: usize,
    dedup: Deduplicator,
    bindings: SubmissionBindings,
    events: broadcast::Sender<ConfirmedCallback>,
}

struct Shared {
    client: Client,
    tokens: CallbackTokens,
    body_limit: usize,
    dedup: Deduplicator,
    bindings: SubmissionBindings,
    events: broadcast::Sender<ConfirmedCallback>,
}

impl CallbackReceiver {
    /// A receiver that verifies routes with `tokens`, wakes the waits of `client` (through
    /// the hub given to [`ClientBuilder::callbacks`](crate::ClientBuilder::callbacks), if
    /// any) and confirms events with `client`'s key. Routes are bound to tasks in that
    /// hub's [`bindings`](crate::CallbackHub::bindings), which the client's submits fill
    /// (in a table of its own when the client has no hub).
    pub fn new(client: Client, tokens: CallbackTokens) -> Self {
        let bindings = client
            .callback_hub()
            .map(|hub| hub.bindings().clone())
            .unwrap_or_default();
        Self {
            client,
            tokens,
            prefix: String::new(),
            body_limit: MAX_CALLBACK_BODY,
            dedup: Deduplicator::default(),
            bindings,
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

    /// Uses these route bindings (e.g. one table shared by several receivers).
    pub fn with_bindings(mut self, bindings: SubmissionBindings) -> Self {
        self.bindings = bindings;
        self
    }

    /// The route bindings in use.
    pub fn bindings(&self) -> &SubmissionBindings {
        &self.bindings
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
            bindings: self.bindings.clone(),
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
        // The reason is for our logs, not for whoever sent the delivery.
        CallbackError::Unconfirmed { .. } => {
            (status, "not confirmed; deliver again later").into_response()
        }
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
    handle(shared, kind, key, event).instrument(span).await
}

/// Steps 3-6 of the module docs, for a delivery whose route verified.
async fn handle(
    shared: Arc<Shared>,
    kind: TaskKind,
    key: String,
    event: CallbackEvent,
) -> Response {
    if !shared.bindings.allows(kind, &key, &event.task_id) {
        tracing::warn!("callback for a task its route is not bound to refused");
        return refuse(&CallbackError::WrongTask);
    }
    if shared.dedup.contains(&event) {
        tracing::debug!("repeated delivery of a confirmed callback ignored");
        return (StatusCode::OK, "duplicate").into_response();
    }
    let woke = shared.client.callback_received(&event.task_id);
    tracing::debug!(
        woke,
        "callback handed to waits (here and on the other replicas)"
    );
    if shared.events.receiver_count() == 0 {
        return (StatusCode::OK, "ok").into_response();
    }
    let snapshot = match tokio::time::timeout(CONFIRM_TIMEOUT, shared.client.confirm(kind, &event))
        .await
    {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "could not confirm callback; asking for redelivery");
            return refuse(&CallbackError::Unconfirmed {
                reason: err.to_string(),
            });
        }
        Err(_) => {
            tracing::warn!(timeout = ?CONFIRM_TIMEOUT, "callback confirmation timed out; asking for redelivery");
            return refuse(&CallbackError::Unconfirmed {
                reason: format!("no status within {CONFIRM_TIMEOUT:?}"),
            });
        }
    };
    if !event.is_confirmed_by(&snapshot) {
        tracing::info!(confirmed = %snapshot.status(), "the task does not confirm the callback's status; asking for redelivery");
        return refuse(&CallbackError::Unconfirmed {
            reason: format!("the task is {}", snapshot.status()),
        });
    }
    // Another delivery may have bound the route or handled the event meanwhile.
    if !shared.bindings.bind(kind, &key, &event.task_id) {
        tracing::warn!("callback for a task its route is not bound to refused");
        return refuse(&CallbackError::WrongTask);
    }
    if !shared.dedup.first_delivery(&event) {
        tracing::debug!("repeated delivery of a confirmed callback ignored");
        return (StatusCode::OK, "duplicate").into_response();
    }
    tracing::info!(confirmed = %snapshot.status(), "callback confirmed");
    let _ = shared.events.send(ConfirmedCallback {
        kind,
        submission_key: key,
        event,
        snapshot,
    });
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
