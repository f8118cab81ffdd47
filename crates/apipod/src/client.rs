//! The client: configuration, and safe submits.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use apipod_raw::contract::TaskKind;
use apipod_raw::{ApiKey, ClientState, types};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::callback::hub::CallbackHub;
use crate::deadline::{Deadline, Expired};
use crate::error::{Error, Result};
use crate::poll::PollPolicy;
use crate::request::{Body, IntoRequest};
use crate::retry::{self, RateGate, RetryPolicy, header_str};
use crate::task::{Completed, Task, TaskHandle, TaskSnapshot, WaitOptions};

/// APIPod's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.apipod.ai";

/// Longest `Idempotency-Key` APIPod accepts.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// An APIPod client. Cheap to clone; clones share connections, the rate-limit gate and the
/// in-flight limit.
///
/// ```no_run
/// # async fn demo() -> apipod::Result<()> {
/// use apipod::{Client, models::SeedreamV45};
///
/// let client = Client::from_env()?; // APIPOD_API_KEY, optional APIPOD_BASE_URL
/// let done = client.generate(SeedreamV45::new("a lighthouse at dawn")).await?;
/// for output in done.outputs() {
///     println!("{}", output.url);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) raw: apipod_raw::Client,
    pub(crate) http: reqwest::Client,
    pub(crate) state: ClientState,
    pub(crate) base_url: String,
    pub(crate) retry: RetryPolicy,
    pub(crate) poll: PollPolicy,
    pub(crate) gate: RateGate,
    pub(crate) in_flight: Option<Arc<Semaphore>>,
    pub(crate) callbacks: Option<CallbackHub>,
    pub(crate) sync: crate::openai::SyncConfig,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("authenticated", &self.inner.state.is_authenticated())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Clone, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    http: Option<reqwest::Client>,
    connect_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    retry: Option<RetryPolicy>,
    poll: Option<PollPolicy>,
    user_agent: Option<String>,
    max_in_flight: Option<usize>,
    callbacks: Option<CallbackHub>,
    pub(crate) sync: crate::openai::SyncSettings,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// The API key (required).
    pub fn api_key(mut self, key: impl AsRef<str>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// Base URL (default `https://api.apipod.ai`), e.g. a local mock's.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Bring your own `reqwest::Client` (proxies, TLS, pools). Its timeouts apply and
    /// [`connect_timeout`](Self::connect_timeout) / [`request_timeout`](Self::request_timeout) are ignored.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Connect timeout (default 10 s).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// Timeout of one HTTP attempt (default 60 s; APIPod's edge closes at 120 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = Some(d);
        self
    }

    /// Retry policy (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Default polling policy for waits (default [`PollPolicy::default`]).
    pub fn poll_policy(mut self, policy: PollPolicy) -> Self {
        self.poll = Some(policy);
        self
    }

    /// `User-Agent` (default `apipod-rs/<version>`).
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// At most this many API requests in flight at once on this client (and its clones).
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = Some(n.max(1));
        self
    }

    /// Deliver callbacks received by a [`CallbackHub`] to this client's waits, so a wait
    /// finishes as soon as the callback arrives (and polls slowly meanwhile).
    pub fn callbacks(mut self, hub: CallbackHub) -> Self {
        self.callbacks = Some(hub);
        self
    }

    /// Builds the client. Fails, naming the setting, when no key was given, when the key or
    /// the user agent cannot be sent as an HTTP header value, or when the base URL is not
    /// http(s): a misconfigured client never sends a request without its credentials.
    pub fn build(self) -> Result<Client> {
        let config = |setting: &'static str, message: String| Error::Config { setting, message };
        let key = self.api_key.filter(|k| !k.is_empty()).ok_or_else(|| {
            config(
                "api_key",
                "no APIPod API key: set APIPOD_API_KEY or call ClientBuilder::api_key".into(),
            )
        })?;
        if key.bearer_header().is_none() {
            return Err(config(
                "api_key",
                "the API key holds characters that cannot be sent in an HTTP header (a control character or non-ASCII text?)".into(),
            ));
        }
        if let Some(ua) = &self.user_agent
            && reqwest::header::HeaderValue::from_str(ua).is_err()
        {
            return Err(config(
                "user_agent",
                format!("{ua:?} cannot be sent as an HTTP header value"),
            ));
        }
        let base_url_set = self.base_url.is_some();
        let base_url = self
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| config("base_url", format!("{base_url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(config(
                "base_url",
                format!("{base_url:?} must be http or https"),
            ));
        }
        let sync_http = self
            .sync
            .http_client(self.http.as_ref(), self.connect_timeout)?;
        let http = match self.http {
            Some(c) => c,
            None => reqwest::Client::builder()
                .connect_timeout(self.connect_timeout.unwrap_or(Duration::from_secs(10)))
                .timeout(self.request_timeout.unwrap_or(Duration::from_secs(60)))
                .build()
                .map_err(|e| config("http_client", e.to_string()))?,
        };
        let mut state = ClientState::new(key);
        if let Some(ua) = &self.user_agent {
            state = state.with_user_agent(ua);
        }
        let raw = apipod_raw::Client::new_with_client(&base_url, http.clone(), state.clone());
        let sync = self
            .sync
            .finish(sync_http, &base_url, base_url_set, &state)?;
        Ok(Client {
            inner: Arc::new(Inner {
                raw,
                http,
                state,
                base_url,
                retry: self.retry.unwrap_or_default(),
                poll: self.poll.unwrap_or_default(),
                gate: RateGate::default(),
                in_flight: self.max_in_flight.map(|n| Arc::new(Semaphore::new(n))),
                callbacks: self.callbacks,
                sync,
            }),
        })
    }
}

/// Options for one submit.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// Use this `Idempotency-Key` instead of a generated one (at most 255 characters).
    /// Reuse the key to recover a submit whose answer was lost: APIPod replays the original
    /// task instead of creating another one, for 7 days.
    pub idempotency_key: Option<String>,
    /// Stops retrying (and waiting on the rate-limit gate) when cancelled.
    pub cancel: Option<CancellationToken>,
    /// Overall deadline of the submit: the rate-limit gate, every attempt and every retry
    /// sleep are capped by it (default none: each attempt is bounded by the client's request
    /// timeout and the retry budget). When it passes the submit ends with
    /// [`Error::Timeout`] carrying the idempotency key, so it can be resumed without a second
    /// task.
    pub timeout: Option<Duration>,
}

impl SubmitOptions {
    /// Options with this idempotency key.
    pub fn idempotency_key(key: impl Into<String>) -> Self {
        Self {
            idempotency_key: Some(key.into()),
            ..Self::default()
        }
    }
}

/// The result of a submit.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// The task, ready to store and wait on.
    pub handle: TaskHandle,
    /// `X-Request-ID` of the successful attempt.
    pub request_id: Option<String>,
    /// `X-Request-Cost`, when APIPod reported one.
    pub cost: Option<String>,
    /// True when APIPod replayed an earlier create with the same key (no new task).
    pub replayed: bool,
    /// HTTP attempts made (1 when nothing was retried).
    pub attempts: u32,
}

impl Client {
    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client from `APIPOD_API_KEY` and, when set, `APIPOD_BASE_URL`.
    pub fn from_env() -> Result<Client> {
        let mut builder = Client::builder();
        if let Ok(key) = std::env::var("APIPOD_API_KEY") {
            builder = builder.api_key(key);
        }
        if let Ok(url) = std::env::var("APIPOD_BASE_URL")
            && !url.trim().is_empty()
        {
            builder = builder.base_url(url.trim());
        }
        builder.build()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The generated wire-level client underneath, for anything this crate does not wrap.
    pub fn raw(&self) -> &apipod_raw::Client {
        &self.inner.raw
    }

    /// The `reqwest::Client` used for API calls and downloads.
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The callback hub given to the builder, if any.
    pub fn callback_hub(&self) -> Option<&CallbackHub> {
        self.inner.callbacks.as_ref()
    }

    /// Submits a task with a generated idempotency key. See [`Client::submit_with`].
    pub async fn submit(&self, request: impl IntoRequest) -> Result<Submitted> {
        self.submit_with(request, SubmitOptions::default()).await
    }

    /// Validates and submits a task.
    ///
    /// Every attempt carries the same `Idempotency-Key`, so retries after timeouts, dropped
    /// connections or 5xx answers can never create (or charge for) a second task. A 429
    /// pauses every submit of this client until its `Retry-After` has passed. A `code` other
    /// than 200 inside an HTTP 200 body is an error.
    pub async fn submit_with(
        &self,
        request: impl IntoRequest,
        options: SubmitOptions,
    ) -> Result<Submitted> {
        let request = request.into_request()?;
        let key = match options.idempotency_key {
            Some(k)
                if k.is_empty()
                    || k.len() > MAX_IDEMPOTENCY_KEY_LEN
                    || reqwest::header::HeaderValue::from_str(&k).is_err() =>
            {
                return Err(Error::InvalidArgument {
                    argument: "idempotency_key",
                    message: format!(
                        "an Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters that can be sent in an HTTP header"
                    ),
                });
            }
            Some(k) => k,
            None => format!("apipod-rs-{}", uuid::Uuid::now_v7()),
        };
        let cancel = options.cancel.unwrap_or_default();
        let span = tracing::info_span!(
            "apipod.submit",
            model = %request.model,
            kind = %request.kind,
            task_id = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        async {
            let mut schedule = self.inner.retry.schedule();
            let mut attempt = 0u32;
            let deadline = Deadline::after(options.timeout);
            let timed_out = || Error::Timeout {
                task_id: None,
                elapsed: deadline.elapsed(),
                last: None,
                idempotency_key: Some(key.clone()),
            };
            loop {
                attempt += 1;
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled { task_id: None });
                }
                match deadline.run(self.inner.gate.wait(&cancel)).await {
                    Ok(true) => {}
                    Ok(false) => return Err(Error::Cancelled { task_id: None }),
                    Err(Expired) => return Err(timed_out()),
                }
                tracing::debug!(attempt, "create attempt");
                let outcome = match deadline
                    .run(self.create_once(&request.kind, &request.body, &key))
                    .await
                {
                    Ok(outcome) => outcome,
                    Err(Expired) => return Err(timed_out()),
                };
                match outcome {
                    Ok((task_id, request_id, cost, replayed)) => {
                        let span = tracing::Span::current();
                        span.record("task_id", task_id.as_str());
                        if let Some(r) = &request_id {
                            span.record("request_id", r.as_str());
                        }
                        tracing::info!(attempt, replayed, "task submitted");
                        // The callback URL's route speaks for this task only.
                        if let (Some(hub), Some(url)) =
                            (&self.inner.callbacks, request.callback_url())
                        {
                            hub.bindings().bind_url(request.kind, &url, &task_id);
                        }
                        return Ok(Submitted {
                            handle: TaskHandle {
                                kind: request.kind,
                                model: request.model.clone(),
                                task_id,
                                idempotency_key: key,
                                submitted_at: Some(SystemTime::now()),
                                callback_url: request.callback_url(),
                            },
                            request_id,
                            cost,
                            replayed,
                            attempts: attempt,
                        });
                    }
                    Err(err) => {
                        let Some(delay) = self.inner.retry.delay_for(&err, schedule.next())
                        else {
                            tracing::warn!(attempt, error = %err, "create failed");
                            return Err(err);
                        };
                        if matches!(err, Error::RateLimited { .. }) {
                            self.inner.gate.pause_for(delay);
                        }
                        tracing::info!(attempt, ?delay, error = %err, "create failed; retrying with the same idempotency key");
                        tokio::select! {
                            r = deadline.sleep(delay) => if r.is_err() { return Err(timed_out()) },
                            _ = cancel.cancelled() => return Err(Error::Cancelled { task_id: None }),
                        }
                    }
                }
            }
        }
        .instrument(span)
        .await
    }

    /// One create attempt: (task id, request id, cost, replayed).
    async fn create_once(
        &self,
        kind: &TaskKind,
        body: &Body,
        key: &str,
    ) -> Result<(String, Option<String>, Option<String>, bool)> {
        let _permit = self.acquire().await;
        let raw = &self.inner.raw;
        let response = match (kind, body) {
            (_, Body::Image(b)) => {
                let key = key.parse().map_err(bad_key)?;
                raw.create_image_generation(Some(&key), b).await
            }
            (_, Body::Video(b)) => {
                let key = key.parse().map_err(bad_key)?;
                raw.create_video_generation(Some(&key), b).await
            }
            (kind, Body::Raw(value)) => return self.create_raw(*kind, value, key).await,
        };
        let response = match response {
            Ok(r) => r,
            Err(e) => return Err(retry::from_raw(e).await),
        };
        let headers = response.headers().clone();
        let body = response.into_inner();
        tracing::trace!(code = body.code, message = %body.message, task_id = ?body.data.task_id, "create response");
        finish_create(body, &headers)
    }

    /// The raw escape hatch: the same request as the generated create, with any JSON body.
    async fn create_raw(
        &self,
        kind: TaskKind,
        body: &serde_json::Value,
        key: &str,
    ) -> Result<(String, Option<String>, Option<String>, bool)> {
        let url = format!("{}/v1/{}s/generations", self.inner.base_url, kind.as_str());
        let mut request = self
            .inner
            .http
            .post(url)
            .header("Idempotency-Key", key)
            .json(body)
            .build()
            .map_err(Error::transport)?;
        self.inner.state.apply(request.headers_mut());
        let response = self
            .inner
            .http
            .execute(request)
            .await
            .map_err(Error::transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if status != 200 {
            let bytes = retry::read_capped(response, retry::MAX_ERROR_BODY)
                .await
                .map_err(Error::transport)?;
            return Err(retry::api_error(status, &headers, &bytes));
        }
        // The same bound as the generated client's answers.
        let limit = apipod_raw::limit::MAX_RESPONSE_BODY;
        let bytes = retry::read_capped(response, limit + 1)
            .await
            .map_err(Error::transport)?;
        if bytes.len() > limit {
            return Err(Error::Decode {
                status: Some(status),
                reason: apipod_raw::limit::BodyTooLarge { limit }.to_string(),
                excerpt: crate::error::excerpt(&bytes),
            });
        }
        match serde_json::from_slice::<types::SubmitTaskResponse>(&bytes) {
            Ok(parsed) => finish_create(parsed, &headers),
            Err(e) => {
                Err(retry::from_raw(apipod_raw::Error::InvalidResponsePayload(bytes, e)).await)
            }
        }
    }

    pub(crate) async fn acquire(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match &self.inner.in_flight {
            Some(sem) => sem.clone().acquire_owned().await.ok(),
            None => None,
        }
    }

    /// A task to wait on or inspect, from a stored handle.
    pub fn task(&self, handle: TaskHandle) -> Task {
        Task::new(self.clone(), handle)
    }

    /// A task from its kind and id alone (e.g. typed by a user).
    pub fn task_by_id(&self, kind: TaskKind, task_id: impl Into<String>) -> Task {
        self.task(TaskHandle::from_id(kind, task_id))
    }

    /// Reads a task's state once (status reads are retried like any idempotent call).
    pub async fn status(&self, kind: TaskKind, task_id: &str) -> Result<TaskSnapshot> {
        self.task_by_id(kind, task_id).status().await
    }

    /// Submits and waits for the result in one call.
    pub async fn generate(&self, request: impl IntoRequest) -> Result<Completed> {
        let submitted = self.submit(request).await?;
        self.task(submitted.handle).wait().await
    }

    /// Submits and waits with explicit options.
    pub async fn generate_with(
        &self,
        request: impl IntoRequest,
        submit: SubmitOptions,
        wait: WaitOptions,
    ) -> Result<Completed> {
        let submitted = self.submit_with(request, submit).await?;
        self.task(submitted.handle).wait_with(wait).await
    }
}

fn finish_create(
    body: types::SubmitTaskResponse,
    headers: &reqwest::header::HeaderMap,
) -> Result<(String, Option<String>, Option<String>, bool)> {
    let request_id = header_str(headers, "x-request-id");
    let cost = header_str(headers, "x-request-cost");
    let replayed =
        header_str(headers, "x-idempotent-replay").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match (body.code, body.data.task_id) {
        (200 | 0, Some(task_id)) if usable_task_id(&task_id) => {
            Ok((task_id, request_id, cost, replayed))
        }
        (200 | 0, Some(task_id)) if !task_id.is_empty() => Err(Error::Decode {
            status: Some(200),
            reason: "the create answer names a task id that cannot be used (a path, control \
                     characters, or over 255 characters); resubmit with the same idempotency key"
                .into(),
            excerpt: crate::error::excerpt(task_id.as_bytes()),
        }),
        (200 | 0, _) => Err(Error::Decode {
            status: Some(200),
            reason: "success response without data.task_id".into(),
            excerpt: String::new(),
        }),
        (code, _) => Err(retry::classify_body(
            code,
            body.data.error_code,
            body.message,
            request_id,
            retry::retry_after(headers),
        )),
    }
}

fn bad_key(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        argument: "idempotency_key",
        message: e.to_string(),
    }
}

/// True for a task id that can be put in a status URL and a file name: 1 to 255 characters,
/// no `/`, `\\` or control characters, and not `.` or `..`.
pub(crate) fn usable_task_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 255
        && id != "."
        && id != ".."
        && !id.chars().any(|c| c == '/' || c == '\\' || c.is_control())
}
