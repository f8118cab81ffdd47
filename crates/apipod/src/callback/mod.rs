//! Callbacks: typed events, route tokens, route-to-task bindings, de-duplication,
//! confirmation by re-fetch, and the hub that hands APIPod's completion notifications to
//! waiting tasks.
//!
//! APIPod does not sign its callbacks, so nothing in a callback body can be trusted on its
//! own. The pieces here follow APIPod's own advice:
//!
//! 1. **An unguessable route.** [`CallbackTokens`] mints an HMAC token for each submission
//!    and puts it in the callback URL's path; a delivery whose token does not verify is
//!    rejected without being read further. Secrets shorter than 32 bytes are refused.
//! 2. **One route, one task.** [`SubmissionBindings`] ties each route to the task its
//!    submission created, so a valid URL cannot speak for other tasks.
//! 3. **A bounded, typed body.** [`CallbackEvent::parse`] refuses bodies over
//!    [`MAX_CALLBACK_BODY`] and accepts both timestamp forms APIPod uses (ISO-8601 strings
//!    and Unix seconds), with or without the `{code, message, data}` envelope.
//! 4. **Confirmation.** [`Client::confirm`](crate::Client::confirm) re-reads the task with
//!    your API key; a delivery counts only when [`CallbackEvent::is_confirmed_by`] that
//!    snapshot. Act on the snapshot, never on the callback body.
//! 5. **De-duplication of confirmed deliveries.** APIPod retries deliveries, so the same
//!    event can arrive more than once; [`Deduplicator`] remembers which confirmed
//!    `(task_id, status)` pairs were already handled.
//!
//! With the `callback-server` feature, `callback_server::CallbackReceiver` does all of this
//! behind an axum router and wakes waits through the [`CallbackHub`].
//!
//! Layout (each module imports only those above it): `error`, `timestamp` → `event` →
//! `tokens` → `binding`, `dedup` → `hub`. Nothing here uses the client: confirmation
//! (`Client::confirm`) is a client operation, in `client/confirm.rs`, so the client can hold a
//! hub without the two modules depending on each other.

mod binding;
mod dedup;
mod error;
pub(crate) mod event;
pub(crate) mod hub;
mod timestamp;
mod tokens;

pub use binding::{DEFAULT_BINDING_CAPACITY, SubmissionBindings};
pub use dedup::{DEFAULT_DEDUP_CAPACITY, Deduplicator};
pub use error::CallbackError;
pub use event::{CallbackEvent, MAX_CALLBACK_BODY};
pub use hub::{CallbackHub, CallbackSubscription};
pub use timestamp::parse_timestamp;
pub use tokens::{CallbackTokens, MIN_CALLBACK_SECRET_LEN};
