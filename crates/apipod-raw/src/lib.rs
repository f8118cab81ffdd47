//! The APIPod HTTP client as progenitor generates it from `openapi/apipod.yaml`.
//!
//! This crate is the wire layer: one method per operation, one type per schema, nothing
//! more. Most users want the `apipod` crate on top of it, which adds validation, safe
//! retries, waiting, callbacks and downloads. Use this crate directly when you need exactly
//! what goes over the wire.
//!
//! * [`Client`] and [`types`] are generated in `build.rs` (settings in `apipod-codegen`);
//!   `cargo xtask codegen` writes the same code to `crates/apipod-raw/generated/` for review.
//! * [`ClientState`] carries the API key; the [`progenitor_client::ClientHooks`] impl below
//!   adds `Authorization: Bearer …` (marked sensitive) and the user agent to every request.
//! * [`TaskStatus`] replaces the generated status enum so that unknown values survive.
//! * [`contract`] is the per-model request contract table, generated from the same spec.
//! * [`routes`] holds every operation's method and path template (generated), and builds
//!   their URLs; the SDK sends its creates and status reads through them.
//! * [`openai`] holds the rules of the OpenAI-compatible synchronous images API, shared by
//!   the SDK, the mock and the CLI.
//! * With the `mock` feature, [`mock`] holds progenitor's typed httpmock helpers.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use apipod_raw::{ApiKey, Client, ClientState, types};
//!
//! let state = ClientState::new(ApiKey::new("sk-your-key"));
//! let client = Client::new("https://api.apipod.ai", state);
//! let body: types::ImageGenerationRequest = serde_json::from_value(serde_json::json!({
//!     "model": "seedream-v4.5",
//!     "prompt": "a lighthouse at dawn",
//! }))?;
//! let submitted = client.create_image_generation(None, &body).await?;
//! let task_id = submitted.data.task_id.clone().unwrap_or_default();
//! let state = client.get_image_task(&task_id).await?;
//! println!("{:?}", state.data.status);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod contract;
pub mod limit;
pub mod openai;
pub mod routes;
mod state;
mod status;

pub use state::{ApiKey, ClientState};
pub use status::TaskStatus;

#[allow(missing_docs, unused_comparisons, clippy::all)]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/client.rs"));
}

pub use generated::*;

/// Hex SHA-256 of the `openapi/apipod.yaml` this crate was generated from.
pub const SPEC_SHA256: &str = env!("APIPOD_SPEC_SHA256");

/// progenitor's typed httpmock helpers for every operation (`MockServerExt`).
///
/// ```no_run
/// # async fn demo() {
/// use apipod_raw::mock::MockServerExt;
/// use apipod_raw::types;
///
/// let server = httpmock::MockServer::start_async().await;
/// server.get_image_task(|when, then| {
///     when.task_id("task-1");
///     then.ok(&serde_json::from_value::<types::TaskStatusResponse>(serde_json::json!({
///         "code": 200, "message": "success",
///         "data": {"task_id": "task-1", "status": "pending"}
///     })).unwrap());
/// });
/// # }
/// ```
#[cfg(feature = "mock")]
#[allow(
    missing_docs,
    clippy::all,
    clippy::to_string_in_format_args,
    clippy::unnecessary_to_owned
)]
pub mod mock {
    include!(concat!(env!("OUT_DIR"), "/mock.rs"));
}

impl progenitor_client::ClientHooks<ClientState> for Client {
    /// Sends the request and bounds the answer's body at [`limit::MAX_RESPONSE_BODY`].
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        let response = progenitor_client::ClientInfo::client(self)
            .execute(request)
            .await?;
        let max =
            openai::response_body_limit(info.operation_id).unwrap_or(limit::MAX_RESPONSE_BODY);
        Ok(limit::limit_body(response, max))
    }

    async fn pre<E>(
        &self,
        request: &mut reqwest::Request,
        _info: &progenitor_client::OperationInfo,
    ) -> Result<(), progenitor_client::Error<E>> {
        let state = progenitor_client::ClientInfo::inner(self);
        state.apply(request.headers_mut());
        Ok(())
    }
}
