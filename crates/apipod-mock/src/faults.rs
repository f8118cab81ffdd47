//! Fault injection: server-wide rates drawn from a seeded generator, and per-request faults
//! asked for with the `X-Mock-Fault` header.

use std::time::Duration;

use axum::http::HeaderMap;

/// The request header that asks for a fault on one request.
///
/// Its value is a comma-separated list of items:
///
/// | item | effect |
/// | --- | --- |
/// | `429`, `500`, `503`, `504`, any other `4xx`/`5xx` | that HTTP status with APIPod's error envelope (`Retry-After` on 429 and 503); no task is created |
/// | `code=402` | HTTP 200 whose body carries this error `code` (402: insufficient quota); no task is created |
/// | `drop` | the connection is closed without a response; a create makes the task (and stores the idempotent response) first |
/// | `malformed` | HTTP 200 with a body that is not JSON; a create makes the task first |
/// | `unknown-status` | a status read reports an undocumented status value |
/// | `latency=250ms` | delays the answer (a plain number means milliseconds); a create holds its idempotency key meanwhile |
///
/// The header overrides the server's random draw for that request and works whatever the
/// [`FaultScope`].
pub const FAULT_HEADER: &str = "x-mock-fault";

/// One injected fault.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status and APIPod's error envelope. 429 and 503 carry
    /// `Retry-After`. No task is created.
    Http(u16),
    /// Answer HTTP 200 with this error `code` in the body (APIPod reports business errors
    /// such as 402, insufficient quota, this way). No task is created.
    BusinessError(i64),
    /// Close the connection without sending a response. On a create the task is created
    /// and its idempotent response stored first, so a retry with the same key replays it.
    DropConnection,
    /// On a status read, report an undocumented status value
    /// ([`FaultConfig::unknown_status_value`]). Creates are unaffected.
    UnknownStatus,
    /// Answer HTTP 200 with a body that is not valid JSON. On a create the task is created
    /// and its idempotent response stored first.
    MalformedBody,
}

impl Fault {
    /// Short label used in the request log: `"503"`, `"code=402"`, `"drop"`,
    /// `"unknown-status"`, `"malformed"`.
    pub fn label(&self) -> String {
        match self {
            Fault::Http(status) => status.to_string(),
            Fault::BusinessError(code) => format!("code={code}"),
            Fault::DropConnection => "drop".into(),
            Fault::UnknownStatus => "unknown-status".into(),
            Fault::MalformedBody => "malformed".into(),
        }
    }

    fn applies_to(&self, op: Op) -> bool {
        !matches!((self, op), (Fault::UnknownStatus, Op::Create))
    }
}

/// Which requests server-wide fault rates and latency apply to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaultScope {
    /// Only the two create routes (and asset uploads).
    Creates,
    /// Only the two status routes (and asset reads).
    StatusReads,
    /// Creates and status reads (the default). Result files and `/blob` are never faulted.
    #[default]
    All,
}

impl FaultScope {
    fn covers(self, op: Op) -> bool {
        matches!(
            (self, op),
            (FaultScope::All, _)
                | (FaultScope::Creates, Op::Create)
                | (FaultScope::StatusReads, Op::Status)
        )
    }
}

/// Server-wide faults. The default injects nothing.
///
/// Each in-scope request draws one number from a generator seeded with [`FaultConfig::seed`]
/// and a request counter, so a sequence of requests sees the same faults on every run.
/// Rates add up: with `error_rate(503, 0.2)` and `drop_rate(0.1)`, 20% of requests get 503,
/// 10% are dropped and 70% are served normally.
///
/// ```
/// use std::time::Duration;
/// use apipod_mock::{FaultConfig, FaultScope};
///
/// let faults = FaultConfig::new()
///     .seed(42)
///     .error_rate(429, 0.25)
///     .business_error_rate(402, 0.05)
///     .scope(FaultScope::Creates)
///     .latency(Duration::from_millis(30));
/// # let _ = faults;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    pub(crate) seed: u64,
    pub(crate) rules: Vec<(Fault, f64)>,
    pub(crate) scope: FaultScope,
    pub(crate) latency: Duration,
    pub(crate) create_latency: Duration,
    pub(crate) retry_after: u64,
    pub(crate) unknown_status: String,
    pub(crate) task_failure_rate: f64,
    pub(crate) task_cancel_rate: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        FaultConfig::new()
    }
}

impl FaultConfig {
    /// No faults, no added latency.
    pub fn new() -> Self {
        FaultConfig {
            seed: 0xFA17_5EED,
            rules: Vec::new(),
            scope: FaultScope::All,
            latency: Duration::ZERO,
            create_latency: Duration::ZERO,
            retry_after: 1,
            unknown_status: "finalizing".into(),
            task_failure_rate: 0.0,
            task_cancel_rate: 0.0,
        }
    }

    /// Seed of the fault generator.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Injects `fault` into this fraction (0.0-1.0) of in-scope requests.
    pub fn rate(mut self, fault: Fault, rate: f64) -> Self {
        self.rules.push((fault, rate.clamp(0.0, 1.0)));
        self
    }

    /// Answers this fraction of requests with HTTP `status` (429, 500, 503, 504, ...).
    pub fn error_rate(self, status: u16, rate: f64) -> Self {
        self.rate(Fault::Http(status), rate)
    }

    /// Answers this fraction of requests with HTTP 200 carrying error `code` (e.g. 402).
    pub fn business_error_rate(self, code: i64, rate: f64) -> Self {
        self.rate(Fault::BusinessError(code), rate)
    }

    /// Drops the connection of this fraction of requests (after creating the task).
    pub fn drop_rate(self, rate: f64) -> Self {
        self.rate(Fault::DropConnection, rate)
    }

    /// Reports an undocumented status on this fraction of status reads.
    pub fn unknown_status_rate(self, rate: f64) -> Self {
        self.rate(Fault::UnknownStatus, rate)
    }

    /// Answers this fraction of requests with a body that is not JSON.
    pub fn malformed_rate(self, rate: f64) -> Self {
        self.rate(Fault::MalformedBody, rate)
    }

    /// Which requests the rates and [`latency`](Self::latency) apply to.
    pub fn scope(mut self, scope: FaultScope) -> Self {
        self.scope = scope;
        self
    }

    /// Delay added to every in-scope request.
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Delay added to every create (whatever the scope), spent after the idempotency key
    /// is reserved and before the task is created: a repeat with the same key during this
    /// window gets 409 `idempotency_in_progress`.
    pub fn create_latency(mut self, latency: Duration) -> Self {
        self.create_latency = latency;
        self
    }

    /// Seconds sent in `Retry-After` with injected 429 and 503 answers (default 1).
    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = seconds;
        self
    }

    /// The status value reported by [`Fault::UnknownStatus`] (default `finalizing`).
    pub fn unknown_status_value(mut self, status: impl Into<String>) -> Self {
        self.unknown_status = status.into();
        self
    }

    /// Fraction of new tasks that end `failed` with `UPSTREAM_CAPACITY_EXHAUSTED`, as if
    /// their prompt carried `[mock:fail]`. Drawn from the server seed
    /// ([`MockConfig::seed`](crate::MockConfig::seed)) and the task's sequence number.
    pub fn task_failure_rate(mut self, rate: f64) -> Self {
        self.task_failure_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Fraction of new tasks that end `cancelled`, as if their prompt carried
    /// `[mock:cancel]`.
    pub fn task_cancel_rate(mut self, rate: f64) -> Self {
        self.task_cancel_rate = rate.clamp(0.0, 1.0);
        self
    }
}

/// The kind of API request a fault is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Create,
    Status,
}

/// What the server decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Decision {
    pub fault: Option<Fault>,
    pub latency: Duration,
    /// `Retry-After` seconds for injected 429/503 answers.
    pub retry_after: u64,
    /// Status value reported by [`Fault::UnknownStatus`].
    pub unknown_status: String,
}

/// The live fault configuration plus its draw counter.
#[derive(Debug)]
pub(crate) struct FaultState {
    config: FaultConfig,
    draws: u64,
}

impl FaultState {
    pub fn new(config: FaultConfig) -> Self {
        FaultState { config, draws: 0 }
    }

    pub fn config(&self) -> &FaultConfig {
        &self.config
    }

    /// Replaces the configuration and restarts the draw sequence.
    pub fn set(&mut self, config: FaultConfig) {
        self.config = config;
        self.draws = 0;
    }

    /// Draws the fault and latency for one request of kind `op`.
    pub fn draw(&mut self, op: Op) -> Decision {
        let mut decision = Decision {
            retry_after: self.config.retry_after,
            unknown_status: self.config.unknown_status.clone(),
            ..Decision::default()
        };
        if op == Op::Create {
            decision.latency += self.config.create_latency;
        }
        if !self.config.scope.covers(op) {
            return decision;
        }
        decision.latency += self.config.latency;
        if self.config.rules.is_empty() {
            return decision;
        }
        let n = self.draws;
        self.draws += 1;
        let mut u = unit(mix(self.config.seed, n));
        for (fault, rate) in &self.config.rules {
            if !fault.applies_to(op) {
                continue;
            }
            if u < *rate {
                decision.fault = Some(fault.clone());
                break;
            }
            u -= rate;
        }
        decision
    }
}

/// Waits out an injected latency (nothing when zero).
pub(crate) async fn pause(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// Faults asked for by one request's `X-Mock-Fault` header.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RequestFaults {
    pub fault: Option<Fault>,
    pub latency: Duration,
}

impl RequestFaults {
    /// Parses the header; an unreadable item is an error message for a 400 answer.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, String> {
        let mut out = RequestFaults::default();
        for value in headers.get_all(FAULT_HEADER) {
            let text = value
                .to_str()
                .map_err(|_| "X-Mock-Fault must be ASCII text".to_string())?;
            for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                out.add(item)?;
            }
        }
        Ok(out)
    }

    fn add(&mut self, item: &str) -> Result<(), String> {
        let bad = || {
            format!(
                "X-Mock-Fault item {item:?} is not understood (expected an HTTP status such as 503, \
                 code=402, drop, malformed, unknown-status or latency=250ms)"
            )
        };
        let fault = if let Some(amount) = item
            .strip_prefix("latency=")
            .or_else(|| item.strip_prefix("delay="))
        {
            self.latency += parse_latency(amount).ok_or_else(bad)?;
            return Ok(());
        } else if let Some(code) = item.strip_prefix("code=") {
            Fault::BusinessError(code.parse().map_err(|_| bad())?)
        } else {
            match item {
                "drop" => Fault::DropConnection,
                "malformed" => Fault::MalformedBody,
                "unknown-status" => Fault::UnknownStatus,
                status => match status.parse::<u16>() {
                    Ok(s) if (400..=599).contains(&s) => Fault::Http(s),
                    _ => return Err(bad()),
                },
            }
        };
        if self.fault.is_none() {
            self.fault = Some(fault);
        }
        Ok(())
    }
}

fn parse_latency(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<u64>() {
        return Some(Duration::from_millis(ms));
    }
    humantime::parse_duration(text).ok()
}

/// SplitMix64 of `seed` and `n`: a fast, well-mixed, platform-independent hash used as the
/// mock's seeded random generator.
pub(crate) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Maps a 64-bit hash to [0, 1).
pub(crate) fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn header(value: &str) -> Result<RequestFaults, String> {
        let mut headers = HeaderMap::new();
        headers.insert(FAULT_HEADER, HeaderValue::from_str(value).unwrap());
        RequestFaults::from_headers(&headers)
    }

    #[test]
    fn header_items_parse() {
        assert_eq!(header("503").unwrap().fault, Some(Fault::Http(503)));
        assert_eq!(
            header("code=402").unwrap().fault,
            Some(Fault::BusinessError(402))
        );
        let both = header("latency=250ms, drop").unwrap();
        assert_eq!(both.fault, Some(Fault::DropConnection));
        assert_eq!(both.latency, Duration::from_millis(250));
        assert_eq!(
            header("delay=40").unwrap().latency,
            Duration::from_millis(40)
        );
        assert!(header("200").is_err());
        assert!(header("explode").unwrap_err().contains("\"explode\""));
    }

    #[test]
    fn draws_are_deterministic_and_follow_rates() {
        let config = FaultConfig::new()
            .seed(3)
            .error_rate(503, 0.3)
            .drop_rate(0.2);
        let run = || {
            let mut state = FaultState::new(config.clone());
            (0..2000)
                .map(|_| state.draw(Op::Create).fault)
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let count = |f: &Fault| first.iter().filter(|d| d.as_ref() == Some(f)).count();
        let (e503, drops) = (count(&Fault::Http(503)), count(&Fault::DropConnection));
        assert!((500..700).contains(&e503), "503s: {e503}");
        assert!((300..500).contains(&drops), "drops: {drops}");
    }

    #[test]
    fn scope_limits_draws_and_latency() {
        let mut state = FaultState::new(
            FaultConfig::new()
                .error_rate(500, 1.0)
                .latency(Duration::from_millis(5))
                .create_latency(Duration::from_millis(7))
                .scope(FaultScope::StatusReads),
        );
        let create = state.draw(Op::Create);
        assert_eq!(create.fault, None);
        assert_eq!(create.latency, Duration::from_millis(7));
        let status = state.draw(Op::Status);
        assert_eq!(status.fault, Some(Fault::Http(500)));
        assert_eq!(status.latency, Duration::from_millis(5));
    }

    #[test]
    fn unknown_status_never_hits_creates() {
        let mut state = FaultState::new(FaultConfig::new().unknown_status_rate(1.0));
        assert_eq!(state.draw(Op::Create).fault, None);
        assert_eq!(state.draw(Op::Status).fault, Some(Fault::UnknownStatus));
    }
}
