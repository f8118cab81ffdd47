//! APIPod's OpenAI-compatible **synchronous** images API: one request that returns the
//! finished images, for generation (`POST /openai/v1/images/generations`) and editing
//! (`POST /openai/v1/images/edits`, multipart).
//!
//! ```no_run
//! # async fn demo() -> apipod::Result<()> {
//! use apipod::{Client, DownloadOptions};
//! use apipod::openai::{EditImage, ImageEdit, ImageGeneration};
//!
//! let client = Client::from_env()?;
//! let result = client
//!     .sync_images()
//!     .generate(ImageGeneration::new("gpt-image-2", "a watercolor castle").size("1024x1024"))
//!     .await?;
//! println!("request {:?}, cost {:?}, usage {:?}", result.request_id, result.cost, result.usage);
//! result.save_all(&client, "out".as_ref(), &DownloadOptions::default()).await?;
//!
//! let edit = ImageEdit::new("gpt-image-2", "add a red wool hat")
//!     .image(EditImage::from_path("cat.png").await?)
//!     .mask(EditImage::from_path("mask.png").await?);
//! let edited = client.sync_images().edit(edit).await?;
//! # let _ = edited; Ok(()) }
//! ```
//!
//! * **Host and timeouts.** Calls go to [`ClientBuilder::sync_base_url`], by default the
//!   docs' long-request host `https://apid.apipod.ai` (the default host cuts reads at 120 s
//!   while the server waits up to 300 s), or the client's base URL when one was set (a mock,
//!   a proxy). One attempt may read for [`ClientBuilder::sync_timeout`] (default 320 s, above
//!   the server's window, as the docs advise).
//! * **One deadline.** [`SyncOptions::timeout`] (default 10 min) bounds the whole call. When
//!   the server's window passes first it answers 504 `sync_image_timeout` naming the task,
//!   which keeps running: the SDK then waits for that task like [`Client::task`] under what is
//!   left of the same deadline, and returns its images (as URLs,
//!   [`Delivery::AfterTimeout`]).
//! * **Retries never charge twice.** A synchronous call is a billable create without the
//!   idempotency protection of the task API (APIPod documents `Idempotency-Key` only for
//!   `/v1/images/generations` and `/v1/videos/generations`). So an attempt is repeated only
//!   when the server cannot have accepted it: a connect error, or 429 with `Retry-After`
//!   (within [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after); a 429
//!   also pauses the client's other submits). A 5xx, a read timeout or a connection cut after
//!   sending is final: the last two are [`Error::SyncOutcomeUnknown`], because a task may be
//!   running and billed. When the deadline passes during an attempt the result is
//!   [`Error::Timeout`] without a task id; the generation may still complete and be billed.
//! * **Validation first.** [`ImageGeneration`] and [`ImageEdit`] are checked before anything
//!   is sent, with the rules the mock enforces too ([`apipod_raw::openai::check`]): an image
//!   model of the catalog (edit-capable for edits: one whose contract takes `image_urls`),
//!   the docs' limits (prompt 1-4000 characters, `n` 1-10, 1-10 input files of at most
//!   10 MB) and the model's own values.
//! * **Errors** arrive in OpenAI's envelope and map to [`Error`] as on the task API (code,
//!   message, request id; 402 is [`Error::InsufficientQuota`], 429
//!   [`Error::RateLimited`]). The API key never appears in any output.

mod answer;
mod call;
pub(crate) mod config;
mod input;
mod request;
mod result;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::client::{Client, ClientBuilder};
use crate::error::{Error, Result};
use crate::poll::PollPolicy;

pub use apipod_raw::openai::{
    DEFAULT_SYNC_BASE_URL, MAX_EDIT_IMAGE_BYTES, MAX_EDIT_IMAGES, MAX_N, MAX_PROMPT_CHARS,
    SERVER_WAIT_WINDOW, SUGGESTED_READ_TIMEOUT,
};
pub use request::{
    Background, EditImage, ImageEdit, ImageGeneration, OutputFormat, ResponseFormat,
};
pub use result::{Delivery, SyncImage, SyncResult, Usage};

impl ClientBuilder {
    /// Base URL of the synchronous images API ([`Client::sync_images`]). Default: the
    /// client's [`base_url`](Self::base_url) when one was set, else APIPod's long-request
    /// host `https://apid.apipod.ai` (the default host closes reads after 120 s).
    pub fn sync_base_url(mut self, url: impl Into<String>) -> Self {
        self.sync.base_url = Some(url.into());
        self
    }

    /// Longest time one synchronous image attempt may take (default 320 s: above the
    /// server's 300 s wait window, so a slow generation ends as the server's 504 with a task
    /// id instead of a client-side timeout). Ignored with
    /// [`http_client`](Self::http_client) for generations, whose timeouts then apply.
    pub fn sync_timeout(mut self, timeout: Duration) -> Self {
        self.sync.timeout = Some(timeout);
        self
    }
}

/// Options of one synchronous call.
///
/// ```
/// use std::time::Duration;
/// let options = apipod::openai::SyncOptions::timeout(Duration::from_secs(600));
/// assert_eq!(options.timeout, Some(Duration::from_secs(600)));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SyncOptions {
    /// Overall deadline: every attempt, retry sleep and the wait for the task after a 504
    /// (default 10 min, as for image waits).
    pub timeout: Option<Duration>,
    /// Stops the call when cancelled (a generation already accepted keeps running).
    pub cancel: Option<CancellationToken>,
    /// Polling policy of the wait after a 504 (default: the client's).
    pub poll: Option<PollPolicy>,
}

impl SyncOptions {
    /// Options with this deadline.
    pub fn timeout(d: Duration) -> Self {
        SyncOptions {
            timeout: Some(d),
            ..SyncOptions::default()
        }
    }

    /// Adds a cancellation token.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sets the polling policy of the wait after a 504.
    pub fn with_poll(mut self, poll: PollPolicy) -> Self {
        self.poll = Some(poll);
        self
    }
}

/// The synchronous images API of a [`Client`]; see [`Client::sync_images`].
#[derive(Debug, Clone, Copy)]
pub struct SyncImages<'c> {
    client: &'c Client,
}

impl Client {
    /// The OpenAI-compatible synchronous images API (see [the module](crate::openai)).
    ///
    /// ```
    /// let client = apipod::Client::builder().api_key("sk-example").build().unwrap();
    /// assert_eq!(client.sync_base_url(), "https://apid.apipod.ai"); // the long-request host
    /// let _images = client.sync_images();
    /// ```
    pub fn sync_images(&self) -> SyncImages<'_> {
        SyncImages { client: self }
    }

    /// The base URL the synchronous images API is called on.
    pub fn sync_base_url(&self) -> &str {
        &self.inner.sync.base_url
    }
}

impl SyncImages<'_> {
    /// Generates images and returns them; see [`generate_with`](Self::generate_with).
    pub async fn generate(self, request: ImageGeneration) -> Result<SyncResult> {
        self.generate_with(request, SyncOptions::default()).await
    }

    /// Validates the request, sends it, and returns the images: decoded from `b64_json`, or
    /// as URLs (`response_format=url`, or after a 504 `sync_image_timeout`, from the task).
    pub async fn generate_with(
        self,
        request: ImageGeneration,
        options: SyncOptions,
    ) -> Result<SyncResult> {
        let body = request.checked()?;
        let wire = serde_json::from_value(body).map_err(|e| Error::InvalidArgument {
            argument: "request",
            message: e.to_string(),
        })?;
        self.run(request.model(), call::Payload::Json(wire), options)
            .await
    }

    /// Edits images and returns the result; see [`edit_with`](Self::edit_with).
    pub async fn edit(self, request: ImageEdit) -> Result<SyncResult> {
        self.edit_with(request, SyncOptions::default()).await
    }

    /// Validates the edit, uploads its files as `multipart/form-data` and returns the images
    /// as [`generate_with`](Self::generate_with) does.
    ///
    /// Written by hand (progenitor cannot generate multipart bodies), with the same error
    /// mapping, retry rule and 504 handling as generations.
    pub async fn edit_with(self, request: ImageEdit, options: SyncOptions) -> Result<SyncResult> {
        request.validate()?;
        self.run(request.model(), call::Payload::Form(&request), options)
            .await
    }
}
