//! Server configuration: timing, keys, results, callbacks.

use std::fmt;
use std::time::Duration;

use crate::faults::FaultConfig;

/// How long tasks stay `pending` and `processing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timing {
    /// Every task is `pending` for `pending`, then `processing` for `processing`, then
    /// terminal.
    Fixed {
        /// Time spent queued.
        pending: Duration,
        /// Time spent running (progress rises from 0 to 100 over it).
        processing: Duration,
    },
    /// Per-model durations in the range APIPod's models take (images about 5-90 s in
    /// total, videos about 30-600 s), drawn deterministically from the server's seed and
    /// the task's sequence number: the n-th task of a server with a given seed always gets
    /// the same durations.
    Realistic,
}

impl Timing {
    /// The default of [`MockConfig::fast`]: 50 ms pending, 200 ms processing.
    pub const FAST: Timing = Timing::Fixed {
        pending: Duration::from_millis(50),
        processing: Duration::from_millis(200),
    };
}

/// Configuration of a [`MockServer`](crate::MockServer).
///
/// Start from [`MockConfig::fast`] (the default) or [`MockConfig::realistic`] and adjust with
/// the builder methods:
///
/// ```
/// use std::time::Duration;
/// use apipod_mock::{FaultConfig, MockConfig};
///
/// let config = MockConfig::fast()
///     .api_key(Some("sk-test"))
///     .durations(Duration::from_millis(10), Duration::from_millis(40))
///     .duplicate_callbacks(true)
///     .faults(FaultConfig::new().seed(7).error_rate(503, 0.1));
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct MockConfig {
    pub(crate) api_key: Option<String>,
    pub(crate) timing: Timing,
    pub(crate) seed: u64,
    pub(crate) veo_object_result: bool,
    pub(crate) result_ttl: Duration,
    pub(crate) result_size_override: Option<u64>,
    pub(crate) duplicate_callbacks: bool,
    pub(crate) callback_backoff: Duration,
    pub(crate) callback_timeout: Duration,
    pub(crate) public_url: Option<String>,
    pub(crate) faults: FaultConfig,
    pub(crate) log_capacity: usize,
    pub(crate) openai_sync_wait: Duration,
    pub(crate) time_scale: f64,
    pub(crate) create_rate_limit: Option<u32>,
    pub(crate) reserve_tasks: usize,
}

impl fmt::Debug for MockConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timing", &self.timing)
            .field("seed", &self.seed)
            .field("veo_object_result", &self.veo_object_result)
            .field("result_ttl", &self.result_ttl)
            .field("result_size_override", &self.result_size_override)
            .field("duplicate_callbacks", &self.duplicate_callbacks)
            .field("callback_backoff", &self.callback_backoff)
            .field("callback_timeout", &self.callback_timeout)
            .field("public_url", &self.public_url)
            .field("faults", &self.faults)
            .field("log_capacity", &self.log_capacity)
            .field("openai_sync_wait", &self.openai_sync_wait)
            .field("time_scale", &self.time_scale)
            .field("create_rate_limit", &self.create_rate_limit)
            .field("reserve_tasks", &self.reserve_tasks)
            .finish()
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig::fast()
    }
}

impl MockConfig {
    /// Quick tasks for tests: [`Timing::FAST`], callbacks retried after 20 ms, 40 ms, ...
    /// Any non-empty API key is accepted; results expire after 24 hours.
    pub fn fast() -> Self {
        MockConfig {
            api_key: None,
            timing: Timing::FAST,
            seed: 0x5EED_A919_0D00_0001,
            veo_object_result: true,
            result_ttl: Duration::from_secs(24 * 60 * 60),
            result_size_override: None,
            duplicate_callbacks: false,
            callback_backoff: Duration::from_millis(20),
            callback_timeout: Duration::from_secs(5),
            public_url: None,
            faults: FaultConfig::new(),
            log_capacity: 100_000,
            openai_sync_wait: apipod_raw::openai::SERVER_WAIT_WINDOW,
            time_scale: 1.0,
            create_rate_limit: None,
            reserve_tasks: 0,
        }
    }

    /// Tasks that take as long as on APIPod ([`Timing::Realistic`]), callbacks retried after
    /// 2 s, 4 s, 8 s, 16 s.
    pub fn realistic() -> Self {
        MockConfig {
            timing: Timing::Realistic,
            callback_backoff: Duration::from_secs(2),
            callback_timeout: Duration::from_secs(10),
            ..MockConfig::fast()
        }
    }

    /// The one API key the server accepts (`Some`), or any non-empty key (`None`, the
    /// default). Tasks are always visible only to the key that created them.
    pub fn api_key(mut self, key: Option<&str>) -> Self {
        self.api_key = key.map(str::to_string);
        self
    }

    /// Sets the task timing.
    pub fn timing(mut self, timing: Timing) -> Self {
        self.timing = timing;
        self
    }

    /// Shorthand for [`Timing::Fixed`] with these durations.
    pub fn durations(self, pending: Duration, processing: Duration) -> Self {
        self.timing(Timing::Fixed {
            pending,
            processing,
        })
    }

    /// Seed for everything the server decides by chance: realistic durations, task outcome
    /// rates and the pixels of generated media. Fault draws use
    /// [`FaultConfig::seed`].
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether `veo3-1-fast` reports its result as the object form
    /// `{url, width, height, duration}` (true, the default, as APIPod's live schema says) or
    /// as a one-item URL list like the other models.
    pub fn veo_object_result(mut self, object: bool) -> Self {
        self.veo_object_result = object;
        self
    }

    /// How long result files stay downloadable after a task completes (default 24 hours).
    /// Afterwards the file URLs answer 410 Gone.
    pub fn result_ttl(mut self, ttl: Duration) -> Self {
        self.result_ttl = ttl;
        self
    }

    /// Serve every result file as exactly this many deterministic filler bytes (streamed in
    /// constant memory, with `Content-Length` and range support) instead of the generated
    /// PNG/Y4M. For download benchmarks; `None` (the default) serves real media.
    pub fn result_size_override(mut self, bytes: Option<u64>) -> Self {
        self.result_size_override = bytes;
        self
    }

    /// Deliver every successful callback a second time, as APIPod may.
    pub fn duplicate_callbacks(mut self, duplicate: bool) -> Self {
        self.duplicate_callbacks = duplicate;
        self
    }

    /// Delay before the first callback retry; later retries double it (5 attempts in all).
    pub fn callback_backoff(mut self, first_delay: Duration) -> Self {
        self.callback_backoff = first_delay;
        self
    }

    /// Timeout of one callback delivery attempt.
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.callback_timeout = timeout;
        self
    }

    /// Base of the result URLs the server hands out, when clients reach it under another
    /// address than the one it is bound to (for example through a container port mapping).
    /// Default: `http://` plus the bound address (`127.0.0.1` for an unspecified address).
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into().trim_end_matches('/').to_string());
        self
    }

    /// Faults injected from the start; change them later with
    /// [`MockServer::set_faults`](crate::MockServer::set_faults).
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// How long the OpenAI-compatible images endpoints hold a call open for its task
    /// before answering 504 `sync_image_timeout` (default 300 s, as APIPod). Shorten it to
    /// exercise the timeout path: the task goes on and completes as usual.
    pub fn openai_sync_wait(mut self, window: Duration) -> Self {
        self.openai_sync_wait = window;
        self
    }

    /// Multiplies the durations [`Timing::Realistic`] draws (default 1.0): 0.05 keeps the
    /// shape of APIPod's durations at a twentieth of their length, for benchmarks that need
    /// realistic proportions in seconds rather than minutes. Ignored by [`Timing::Fixed`].
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        self
    }

    /// At most this many creates per second per API key (default: no limit); more are
    /// answered 429 with `Retry-After: 1` and APIPod's error envelope, and create no task.
    pub fn create_rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.create_rate_limit = per_second.filter(|n| *n > 0);
        self
    }

    /// Most request-log entries kept (oldest are dropped first; default 100,000).
    pub fn log_capacity(mut self, entries: usize) -> Self {
        self.log_capacity = entries;
        self
    }

    /// Reserves room up front for this many tasks and their idempotency records (default
    /// 0: the tables grow as tasks are created). For load tests: a growing table is rehashed
    /// at each doubling, and that pause lands on whichever requests are in flight at that
    /// moment; with room reserved, every request meets the same server.
    pub fn reserve_tasks(mut self, tasks: usize) -> Self {
        self.reserve_tasks = tasks;
        self
    }
}
