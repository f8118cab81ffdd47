//! The client: configuration, and safe submits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use apipod_raw::{ApiKey, ClientState};
use tokio::sync::Semaphore;

use crate::callback::hub::CallbackHub;
use crate::coord::{CoordEvent, Coordinator, InProcess, KeyHash, Peers};
use crate::error::{Error, Result};
use crate::poll::PollPolicy;
use crate::retry::{RateGate, RetryPolicy};

mod confirm;
mod submit;
mod wire;

pub use submit::Submitted;
pub(crate) use submit::usable_task_id;

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
    /// The create and status URLs, built once from the spec's routes, and their headers.
    pub(crate) routes: wire::Routes,
    pub(crate) retry: RetryPolicy,
    pub(crate) poll: PollPolicy,
    pub(crate) gate: Arc<RateGate>,
    pub(crate) coord: Arc<dyn Coordinator>,
    pub(crate) key_hash: KeyHash,
    pub(crate) in_flight: Option<Arc<Semaphore>>,
    pub(crate) callbacks: Option<CallbackHub>,
    pub(crate) sync: crate::openai::config::SyncConfig,
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
    coordinator: Option<Arc<dyn Coordinator>>,
    pub(crate) sync: crate::openai::config::SyncSettings,
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

    /// Default polling policy for waits. When none is set, a client for APIPod's own hosts
    /// (`*.apipod.ai`) uses [`PollPolicy::learning`], which starts from the spec's estimate
    /// of each model's duration; a client for any other base URL (the mock, a proxy) uses
    /// [`PollPolicy::default`], the documented staged schedule, because those estimates
    /// describe APIPod's service and not theirs.
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

    /// Share callbacks, 429 pauses and learned task durations with the other replicas of
    /// a service through `coordinator` (default [`InProcess`]: nothing is shared beyond this
    /// client and its clones). See [`coord`](crate::coord).
    pub fn coordinator(mut self, coordinator: Arc<dyn Coordinator>) -> Self {
        self.coordinator = Some(coordinator);
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
        let key_hash = KeyHash::of(key.expose());
        let mut state = ClientState::new(key);
        if let Some(ua) = &self.user_agent {
            state = state.with_user_agent(ua);
        }
        let raw = apipod_raw::Client::new_with_client(&base_url, http.clone(), state.clone());
        let routes = wire::Routes::new(&parsed, &state).map_err(|e| config("base_url", e))?;
        let sync = self
            .sync
            .finish(sync_http, &base_url, base_url_set, &state)?;
        let gate = Arc::new(RateGate::default());
        let poll = self.poll.unwrap_or_else(|| {
            let apipod = parsed
                .host_str()
                .is_some_and(|h| h == "apipod.ai" || h.ends_with(".apipod.ai"));
            if apipod {
                PollPolicy::learning()
            } else {
                PollPolicy::default()
            }
        });
        let coord = self.coordinator.unwrap_or_else(|| Arc::new(InProcess));
        coord.attach(Peers::new(
            key_hash.clone(),
            &gate,
            self.callbacks.clone(),
            poll.clone(),
        ));
        Ok(Client {
            inner: Arc::new(Inner {
                raw,
                http,
                state,
                base_url,
                routes,
                retry: self.retry.unwrap_or_default(),
                poll,
                gate,
                coord,
                key_hash,
                in_flight: self.max_in_flight.map(|n| Arc::new(Semaphore::new(n))),
                callbacks: self.callbacks,
                sync,
            }),
        })
    }
}

impl Inner {
    /// APIPod answered 429: pause this client's submits for `delay`, and tell the other
    /// replicas using the same key to pause theirs.
    pub(crate) fn rate_limited(&self, delay: Duration) {
        self.gate.pause_for(delay);
        self.coord.publish(CoordEvent::RateLimited {
            key: self.key_hash.clone(),
            pause: delay,
        });
    }

    /// A task of `model` took `took`: teach this client's poll policy, and the others'.
    pub(crate) fn task_took(&self, model: &str, took: Duration) {
        self.poll.observe(model, took);
        self.coord.publish(CoordEvent::TaskDuration {
            model: model.to_string(),
            duration: took,
        });
    }
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

    /// The poll policy waits use unless given their own (see
    /// [`ClientBuilder::poll_policy`] for the default).
    pub fn poll_policy(&self) -> &PollPolicy {
        &self.inner.poll
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

    /// The coordinator this client shares what it learns through.
    pub fn coordinator(&self) -> &Arc<dyn Coordinator> {
        &self.inner.coord
    }

    /// Wakes the waits on `task_id`, on this replica and (through the
    /// [coordinator](ClientBuilder::coordinator)) on every other: call it when a callback
    /// for the task arrives on a route you verified. Waits re-read the task's status; the
    /// callback body is never trusted. Returns true when a wait on this replica was woken.
    /// The `callback-server` receiver calls it for you.
    pub fn callback_received(&self, task_id: &str) -> bool {
        self.inner.coord.publish(CoordEvent::CallbackReceived {
            task_id: task_id.to_string(),
        });
        self.inner
            .callbacks
            .as_ref()
            .is_some_and(|hub| hub.notify(task_id))
    }

    /// How long submits stay paused after a 429 (seen by this client, or by another
    /// replica with the same key through the coordinator); `None` when they are not.
    pub fn submits_paused_for(&self) -> Option<Duration> {
        self.inner.gate.remaining()
    }

    pub(crate) async fn acquire(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        match &self.inner.in_flight {
            Some(sem) => sem.clone().acquire_owned().await.ok(),
            None => None,
        }
    }
}
