//! The APIPod SDK: submit image and video generation tasks safely, wait for them
//! efficiently, and fetch their results.
//!
//! ```no_run
//! # async fn demo() -> apipod::Result<()> {
//! use apipod::{Client, models::SeedreamV45};
//!
//! let client = Client::from_env()?;
//! let done = client.generate(SeedreamV45::new("a lighthouse at dawn")).await?;
//! for output in done.outputs() {
//!     println!("{}", output.url);
//! }
//! # Ok(()) }
//! ```
//!
//! * **Typed requests** for every model of the APIPod docs in [`models`], generated from the
//!   spec, with readable enums for listed values and validation against the spec's contract
//!   before anything is sent; [`GenerationRequest::from_json`] for dynamic input and
//!   [`GenerationRequest::raw`] for a model newer than this SDK.
//! * **Safe submits**: every create carries an `Idempotency-Key` reused across retries, so
//!   no retry can create or charge for a second task; 429 pauses the whole client.
//! * **Waiting** on APIPod's staged schedule with a deadline and cancellation
//!   ([`Task::wait_with`]), or as a stream of updates ([`Task::updates`]); resumable from a
//!   stored [`TaskHandle`].
//! * **Downloads** stream results to disk atomically with retries and bounded concurrency
//!   ([`Client::download_all`], [`Completed::save_all`]), aware of the 24 h URL lifetime.
//! * **Callbacks**: typed [`CallbackEvent`]s, per-submission path tokens
//!   ([`CallbackTokens`]), de-duplication, confirmation by re-fetch ([`Client::confirm`]), and
//!   (feature `callback-server`) an axum receiver that wakes waiting tasks through a
//!   [`CallbackHub`].
//! * **Seedance asset library**: [`Client::upload_asset`] registers a file by URL,
//!   [`Client::wait_for_asset`] waits until it can be referenced as `assetId://{id}`.
//! * **Synchronous images** through APIPod's OpenAI-compatible API ([`openai`],
//!   [`Client::sync_images`]): one call returns the images, falling back to waiting for the
//!   task when the server's wait window passes; never retried in a way that could charge twice.
//! * **Many replicas**: a [`coord::Coordinator`] shares callbacks, 429 pauses and learned
//!   task durations between the replicas of a service; with the `redis` feature,
//!   `coord::redis::RedisCoordinator` does it through Redis and degrades to in-process
//!   behaviour while Redis is unreachable.
//! * One [`Error`] with status, machine code, request id and task id. The API key never
//!   appears in any output.
//!
//! The generated wire layer (`apipod-raw`) is reachable only through the explicit [`raw`]
//! module; nothing else in this crate's API exposes its types.

#![warn(missing_docs)]

mod assets;
mod callback;
#[cfg(feature = "callback-server")]
pub mod callback_server;
mod client;
pub mod coord;
mod deadline;
mod download;
mod error;
mod handle;
mod hex;
mod key;
mod lock;
pub mod models;
pub mod openai;
mod options;
mod output;
mod poll;
pub mod raw;
mod request;
mod retry;
mod snapshot;
mod task;

pub use apipod_raw::TaskStatus;
pub use apipod_raw::contract::{self, TaskKind};
pub use assets::{
    ASSET_REFERENCE_PREFIX, Asset, AssetStatus, AssetType, AssetUpload, DEFAULT_ASSET_TIMEOUT,
    MAX_ASSET_ID_LEN,
};
pub use callback::{
    CallbackError, CallbackEvent, CallbackHub, CallbackSubscription, CallbackTokens,
    DEFAULT_BINDING_CAPACITY, DEFAULT_DEDUP_CAPACITY, Deduplicator, MAX_CALLBACK_BODY,
    MIN_CALLBACK_SECRET_LEN, SubmissionBindings, parse_timestamp,
};
pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL, MAX_IDEMPOTENCY_KEY_LEN, Submitted};
pub use download::{DownloadOptions, Downloaded, file_extension};
pub use error::{Error, Result};
pub use handle::TaskHandle;
pub use options::{SubmitOptions, WaitOptions, default_timeout};
pub use output::{Output, RESULT_URL_LIFETIME};
pub use poll::{AdaptiveConfig, AdaptivePollPolicy, PollPolicy, Schedule, schedule_ceiling};
pub use request::{GenerationRequest, IntoRequest};
pub use retry::RetryPolicy;
pub use snapshot::{Completed, TaskSnapshot};
pub use task::Task;
pub use tokio_util::sync::CancellationToken;

/// The workspace README's Rust examples, compiled as doctests so they cannot rot (with the
/// `redis` feature, which one of them uses; the README's test command enables every feature).
#[cfg(all(doctest, feature = "redis"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
