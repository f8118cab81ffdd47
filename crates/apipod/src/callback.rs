//! Callbacks: typed events, route tokens, de-duplication, confirmation by re-fetch, and
//! the hub that hands APIPod's completion notifications to waiting tasks.
//!
//! APIPod does not sign its callbacks, so nothing in a callback body can be trusted on its
//! own. The pieces here follow APIPod's own advice:
//!
//! 1. **An unguessable route.** [`CallbackTokens`] mints an HMAC token for each submission
//!    and puts it in the callback URL's path; a delivery whose token does not verify is
//!    rejected without being read further.
//! 2. **A bounded, typed body.** [`CallbackEvent::parse`] refuses bodies over
//!    [`MAX_CALLBACK_BODY`] and accepts both timestamp forms APIPod uses (ISO-8601 strings
//!    and Unix seconds), with or without the `{code, message, data}` envelope.
//! 3. **De-duplication.** APIPod retries deliveries, so the same event can arrive more than
//!    once; [`Deduplicator`] remembers which `(task_id, status)` pairs were already handled.
//! 4. **Confirmation.** [`Client::confirm`] re-reads the task with your API key; act on the
//!    snapshot it returns, never on the callback body.
//!
//! With the `callback-server` feature, `callback_server::CallbackReceiver` does all four
//! behind an axum router and wakes waits through the [`CallbackHub`].

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apipod_raw::TaskStatus;
use apipod_raw::contract::TaskKind;
use apipod_raw::types;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use tokio::sync::watch;

use crate::client::Client;
use crate::error::{Error, Result, excerpt};
use crate::task::TaskSnapshot;

/// Routes callbacks to the waits of the tasks they concern.
///
/// Give it to [`ClientBuilder::callbacks`](crate::ClientBuilder::callbacks); whatever
/// receives callbacks calls [`CallbackHub::notify`]. A notified wait re-reads the task's
/// status at once (the callback itself is never trusted: APIPod does not sign callbacks).
#[derive(Debug, Clone, Default)]
pub struct CallbackHub {
    tasks: Arc<Mutex<HashMap<String, watch::Sender<u64>>>>,
}

/// A wait's subscription to one task's callbacks.
#[derive(Debug)]
pub struct CallbackSubscription {
    rx: watch::Receiver<u64>,
}

impl CallbackSubscription {
    /// Resolves at the next callback for the task (never, if the hub is gone).
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

impl CallbackHub {
    /// A hub with no subscribers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to callbacks for `task_id`.
    pub fn subscribe(&self, task_id: &str) -> CallbackSubscription {
        let mut tasks = self.tasks.lock().expect("hub lock");
        let tx = tasks
            .entry(task_id.to_string())
            .or_insert_with(|| watch::channel(0).0);
        CallbackSubscription { rx: tx.subscribe() }
    }

    /// Wakes every wait on `task_id`. Returns true when one was waiting.
    pub fn notify(&self, task_id: &str) -> bool {
        let mut tasks = self.tasks.lock().expect("hub lock");
        tasks.retain(|_, tx| tx.receiver_count() > 0);
        match tasks.get(task_id) {
            Some(tx) => {
                tx.send_modify(|n| *n += 1);
                true
            }
            None => false,
        }
    }
}

/// Largest callback body accepted (64 KiB, the limit APIPod's own receiver example uses).
pub const MAX_CALLBACK_BODY: usize = 64 * 1024;

/// Why a callback delivery was refused.
///
/// This is a receiver-side error: [`CallbackError::http_status`] gives the answer to send
/// back to APIPod. It converts into [`Error`] where it meets client code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The body is larger than the limit.
    #[error("callback body is larger than {limit} bytes")]
    TooLarge {
        /// The limit that was exceeded, in bytes.
        limit: usize,
    },

    /// The body is not a callback event.
    #[error("malformed callback: {reason}; body starts: {excerpt:?}")]
    Malformed {
        /// What is wrong.
        reason: String,
        /// The first characters of the body.
        excerpt: String,
    },

    /// The route's token does not match its submission key (or the route is unknown).
    #[error("callback route token does not verify")]
    BadToken,
}

impl CallbackError {
    /// The HTTP status a receiver should answer with: 413, 400, or 404 (a bad token gets
    /// the same answer as a route that does not exist, so probing reveals nothing).
    pub fn http_status(&self) -> u16 {
        match self {
            CallbackError::TooLarge { .. } => 413,
            CallbackError::Malformed { .. } => 400,
            CallbackError::BadToken => 404,
        }
    }

    fn malformed(reason: impl Into<String>, body: &[u8]) -> Self {
        CallbackError::Malformed {
            reason: reason.into(),
            excerpt: excerpt(body),
        }
    }
}

impl From<CallbackError> for Error {
    fn from(err: CallbackError) -> Self {
        match err {
            CallbackError::Malformed { reason, excerpt } => Error::Decode {
                status: None,
                reason: format!("malformed callback: {reason}"),
                excerpt,
            },
            other => Error::Decode {
                status: None,
                reason: other.to_string(),
                excerpt: String::new(),
            },
        }
    }
}

/// One callback delivery from APIPod, decoded.
///
/// Nothing in it is authenticated: use it to decide *which* task to look at, then act on
/// the snapshot [`Client::confirm`] returns.
///
/// ```
/// use apipod::{CallbackEvent, TaskStatus};
///
/// let event = CallbackEvent::parse(br#"{
///     "task_id": "img_1", "status": "completed",
///     "result": ["https://cdn.example.com/a.png"],
///     "completed_at": "2026-08-10T09:01:30Z"
/// }"#).unwrap();
/// assert_eq!(event.status, TaskStatus::Completed);
/// assert!(event.completed_at.is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CallbackEvent {
    /// The task the event is about.
    pub task_id: String,
    /// APIPod's request id, when sent.
    pub request_id: Option<String>,
    /// The task's status (unknown values kept as [`TaskStatus::Unknown`]).
    pub status: TaskStatus,
    /// The results, when sent (read them with [`outputs`](Self::outputs)).
    pub(crate) result: Option<types::TaskResult>,
    /// Failure message (`error`), when sent.
    pub error: Option<String>,
    /// Machine-readable failure code, when sent.
    pub error_code: Option<String>,
    /// Failure message (`error_message`), when sent.
    pub error_message: Option<String>,
    /// Progress 0-100, when sent.
    pub progress: Option<u8>,
    /// When the task was created, when sent (ISO-8601 or Unix time).
    pub created_at: Option<SystemTime>,
    /// When the task finished, when sent (ISO-8601 or Unix time).
    pub completed_at: Option<SystemTime>,
    /// Every field this version does not know, and every known optional field whose value
    /// could not be read, exactly as sent.
    pub extra: Map<String, Value>,
}

impl CallbackEvent {
    /// The results the event carries, in order (empty when it has none). They are not
    /// authenticated: act on the snapshot [`Client::confirm`](crate::Client::confirm) returns.
    pub fn outputs(&self) -> Vec<crate::Output> {
        crate::Output::from_result(&self.task_id, self.result.as_ref(), self.completed_at)
    }

    /// True when the event carries a `result`.
    pub fn has_result(&self) -> bool {
        self.result.is_some()
    }

    /// Decodes a callback body of at most [`MAX_CALLBACK_BODY`] bytes.
    ///
    /// The body is the task's `data` object, or the whole `{code, message, data}` envelope.
    /// `task_id` and `status` are required; optional fields with unexpected shapes are kept
    /// in [`extra`](Self::extra) rather than failing the delivery. Timestamps may be
    /// ISO-8601 strings (`2026-08-10T09:00:00Z`, with fractions or a UTC offset) or Unix
    /// time as a number or numeric string (seconds; milliseconds when above 10^11).
    pub fn parse(body: &[u8]) -> std::result::Result<Self, CallbackError> {
        Self::parse_with_limit(body, MAX_CALLBACK_BODY)
    }

    /// [`parse`](Self::parse) with another size limit.
    pub fn parse_with_limit(body: &[u8], limit: usize) -> std::result::Result<Self, CallbackError> {
        if body.len() > limit {
            return Err(CallbackError::TooLarge { limit });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| CallbackError::malformed(format!("not JSON: {e}"), body))?;
        let Value::Object(mut map) = value else {
            return Err(CallbackError::malformed("not a JSON object", body));
        };
        // The `{code, message, data}` envelope of the status endpoint.
        if !map.contains_key("task_id") && matches!(map.get("data"), Some(Value::Object(_))) {
            let Some(Value::Object(data)) = map.remove("data") else {
                unreachable!("checked above");
            };
            map = data;
        }
        let task_id = match map.remove("task_id") {
            Some(Value::String(s)) if !s.trim().is_empty() => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(CallbackError::malformed(
                    "`task_id` is not a non-empty string",
                    body,
                ));
            }
            None => return Err(CallbackError::malformed("no `task_id`", body)),
        };
        let status = match map.remove("status") {
            Some(Value::String(s)) if !s.trim().is_empty() => TaskStatus::from_wire(s.trim()),
            Some(_) => {
                return Err(CallbackError::malformed(
                    "`status` is not a non-empty string",
                    body,
                ));
            }
            None => return Err(CallbackError::malformed("no `status`", body)),
        };
        let mut extra = Map::new();
        let mut take = |name: &str, read: &dyn Fn(&Value) -> bool| match map.remove(name) {
            None | Some(Value::Null) => None,
            Some(v) if read(&v) => Some(v),
            Some(v) => {
                tracing::debug!(
                    field = name,
                    "callback field has an unexpected shape; kept in extra"
                );
                extra.insert(name.to_string(), v);
                None
            }
        };
        let request_id = take("request_id", &|v| v.is_string()).map(into_string);
        let result = take("result", &|v| {
            serde_json::from_value::<types::TaskResult>(v.clone()).is_ok()
        })
        .map(|v| serde_json::from_value(v).expect("checked above"));
        let error = take("error", &|v| v.is_string()).map(into_string);
        let error_code = take("error_code", &|v| v.is_string()).map(into_string);
        let error_message = take("error_message", &|v| v.is_string()).map(into_string);
        let progress = take("progress", &|v| v.as_f64().is_some_and(f64::is_finite))
            .and_then(|v| v.as_f64())
            .map(|p| p.clamp(0.0, 100.0).round() as u8);
        let created_at = take("created_at", &|v| parse_timestamp(v).is_some())
            .as_ref()
            .and_then(parse_timestamp);
        let completed_at = take("completed_at", &|v| parse_timestamp(v).is_some())
            .as_ref()
            .and_then(parse_timestamp);
        extra.extend(map);
        Ok(CallbackEvent {
            task_id,
            request_id,
            status,
            result,
            error,
            error_code,
            error_message,
            progress,
            created_at,
            completed_at,
            extra,
        })
    }

    /// The failure message: `error_message`, else `error`.
    pub fn failure_message(&self) -> Option<&str> {
        self.error_message.as_deref().or(self.error.as_deref())
    }
}

fn into_string(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

/// Reads a timestamp in any form APIPod uses: an ISO-8601 / RFC 3339 string (fractions and
/// UTC offsets allowed), or Unix time as a number or numeric string — seconds, or
/// milliseconds when the value is above 10^11. `None` for anything else.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use apipod::parse_timestamp;
///
/// let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1786352400);
/// assert_eq!(parse_timestamp(&"2026-08-10T09:00:00Z".into()), Some(t));
/// assert_eq!(parse_timestamp(&"2026-08-10T11:00:00+02:00".into()), Some(t));
/// assert_eq!(parse_timestamp(&1786352400.into()), Some(t));
/// assert_eq!(parse_timestamp(&1786352400000u64.into()), Some(t));
/// ```
pub fn parse_timestamp(value: &Value) -> Option<SystemTime> {
    match value {
        Value::Number(n) => unix_time(n.as_f64()?),
        Value::String(s) => {
            let s = s.trim();
            match s.parse::<f64>() {
                Ok(n) => unix_time(n),
                Err(_) => parse_iso8601(s),
            }
        }
        _ => None,
    }
}

fn unix_time(n: f64) -> Option<SystemTime> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = if n > 1e11 { n / 1000.0 } else { n };
    let d = Duration::try_from_secs_f64(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(d)
}

fn parse_iso8601(s: &str) -> Option<SystemTime> {
    const DATE_TIME: usize = "2026-08-10T09:00:00".len();
    if s.len() < DATE_TIME || !s.is_char_boundary(DATE_TIME) {
        return None;
    }
    let (base, offset_secs) = if let Some(base) = s.strip_suffix(['Z', 'z']) {
        (base, 0i64)
    } else if let Some(pos) = s[DATE_TIME..].find(['+', '-']).map(|p| p + DATE_TIME) {
        (&s[..pos], parse_offset(&s[pos..])?)
    } else {
        (s, 0)
    };
    let local = humantime::parse_rfc3339_weak(base).ok()?;
    let shift = Duration::from_secs(offset_secs.unsigned_abs());
    if offset_secs >= 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

/// `+HH:MM`, `+HHMM` or `+HH` (or with `-`), in seconds east of UTC.
fn parse_offset(s: &str) -> Option<i64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.chars().all(|c| c.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

/// Mints and checks the unguessable tokens that authenticate callback routes.
///
/// APIPod does not sign callbacks, so the callback URL itself is the secret: each submission
/// gets the route `{base}/{kind}/{submission_key}/{token}`, where the token is an
/// HMAC-SHA256 of the kind and the submission key under your secret (256 bits, hex). Only
/// someone who knows the secret, or was given the URL, can produce a route that verifies.
///
/// The task id is not known before the submit, so routes are keyed by *submission*: use the
/// submit's idempotency key (which you choose, and which you store with the task handle) as
/// the submission key.
///
/// ```
/// use apipod::{CallbackTokens, SubmitOptions, TaskKind};
///
/// let tokens = CallbackTokens::new(b"a long random secret from your configuration");
/// let key = CallbackTokens::submission_key();
/// let url = tokens.callback_url_for("https://example.com/apipod", TaskKind::Image, &key);
/// // Put `url` in the request's `callback_url`, and submit with the same key:
/// let options = SubmitOptions::idempotency_key(key.clone());
/// # let _ = options;
/// let token = url.rsplit('/').next().unwrap();
/// assert!(tokens.verify_route(TaskKind::Image, &key, token));
/// assert!(!tokens.verify_route(TaskKind::Video, &key, token));
/// ```
///
/// Use a stable secret of at least 32 random bytes, kept out of source code: tokens minted
/// with one secret verify only under the same secret, so a process that restarts with a new
/// secret rejects callbacks for tasks submitted before. `Debug` never shows the secret.
#[derive(Clone)]
pub struct CallbackTokens {
    mac: Hmac<Sha256>,
}

impl fmt::Debug for CallbackTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackTokens")
            .field("secret", &"<redacted>")
            .finish()
    }
}

const TOKEN_DOMAIN: &[u8] = b"apipod-rs callback route token v1\0";
const TOKEN_BYTES: usize = 32;

impl CallbackTokens {
    /// Tokens under this secret.
    pub fn new(secret: impl AsRef<[u8]>) -> Self {
        Self {
            mac: Hmac::new_from_slice(secret.as_ref()).expect("HMAC accepts keys of any length"),
        }
    }

    /// Tokens under a fresh 256-bit secret from the operating system's random source.
    /// They verify only in this process: use [`new`](Self::new) with a stored secret when
    /// callbacks must survive a restart.
    pub fn random() -> Self {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the operating system's random source is available");
        Self::new(secret)
    }

    /// A fresh submission key (`apipod-rs-<UUIDv7>`): URL-safe and usable as the submit's
    /// `Idempotency-Key`.
    pub fn submission_key() -> String {
        format!("apipod-rs-{}", uuid::Uuid::now_v7())
    }

    /// The token for `key`: HMAC-SHA256 under the secret, 64 lowercase hex characters.
    pub fn mint(&self, key: &str) -> String {
        to_hex(&self.tag(key))
    }

    /// True when `token` is the token for `key`. The comparison takes the same time
    /// wherever the first difference is.
    pub fn verify(&self, key: &str, token: &str) -> bool {
        let Some(bytes) = decode_hex(token) else {
            return false;
        };
        let mut mac = self.mac.clone();
        mac.update(TOKEN_DOMAIN);
        mac.update(key.as_bytes());
        mac.verify_slice(&bytes).is_ok()
    }

    /// The callback URL for one submission: `{base}/{kind}/{submission_key}/{token}`, the
    /// key percent-encoded where needed. `base` is where your receiver is reachable (use
    /// HTTPS in production).
    pub fn callback_url_for(&self, base: &str, kind: TaskKind, submission_key: &str) -> String {
        format!(
            "{}/{}/{}/{}",
            base.trim_end_matches('/'),
            kind.as_str(),
            percent_encode(submission_key),
            self.mint(&route_key(kind, submission_key)),
        )
    }

    /// True when `token` belongs to the route of `kind` and `submission_key` (the
    /// receiver's check of a path made by [`callback_url_for`](Self::callback_url_for)).
    pub fn verify_route(&self, kind: TaskKind, submission_key: &str, token: &str) -> bool {
        self.verify(&route_key(kind, submission_key), token)
    }

    fn tag(&self, key: &str) -> [u8; TOKEN_BYTES] {
        let mut mac = self.mac.clone();
        mac.update(TOKEN_DOMAIN);
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

fn route_key(kind: TaskKind, submission_key: &str) -> String {
    format!("{}/{}", kind.as_str(), submission_key)
}

fn decode_hex(token: &str) -> Option<[u8; TOKEN_BYTES]> {
    let bytes = token.as_bytes();
    if bytes.len() != TOKEN_BYTES * 2 {
        return None;
    }
    let mut out = [0u8; TOKEN_BYTES];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Default number of deliveries a [`Deduplicator`] remembers.
pub const DEFAULT_DEDUP_CAPACITY: usize = 10_000;

/// Remembers which callback deliveries were already handled, so a repeated delivery
/// (APIPod retries, and may deliver twice) is acknowledged but not processed again.
///
/// Deliveries are keyed by `(task_id, status)`. Memory is bounded: past `capacity` keys the
/// oldest is forgotten. Clones share the same memory.
///
/// ```
/// use apipod::{CallbackEvent, Deduplicator};
///
/// let dedup = Deduplicator::new(100);
/// let event = CallbackEvent::parse(br#"{"task_id":"t1","status":"completed"}"#).unwrap();
/// assert!(dedup.first_delivery(&event));
/// assert!(!dedup.first_delivery(&event));
/// ```
#[derive(Debug, Clone)]
pub struct Deduplicator {
    inner: Arc<Mutex<Seen>>,
}

#[derive(Debug)]
struct Seen {
    capacity: usize,
    keys: HashSet<(String, String)>,
    order: VecDeque<(String, String)>,
}

impl Default for Deduplicator {
    fn default() -> Self {
        Self::new(DEFAULT_DEDUP_CAPACITY)
    }
}

impl Deduplicator {
    /// Remembers up to `capacity` deliveries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            inner: Arc::new(Mutex::new(Seen {
                capacity,
                keys: HashSet::new(),
                order: VecDeque::new(),
            })),
        }
    }

    /// True the first time an event's `(task_id, status)` is seen; false for repeats.
    pub fn first_delivery(&self, event: &CallbackEvent) -> bool {
        let key = dedup_key(event);
        let mut seen = self.inner.lock().expect("dedup lock");
        if seen.keys.contains(&key) {
            return false;
        }
        while seen.order.len() >= seen.capacity {
            if let Some(old) = seen.order.pop_front() {
                seen.keys.remove(&old);
            }
        }
        seen.keys.insert(key.clone());
        seen.order.push_back(key);
        true
    }

    /// Forgets an event, so its next delivery counts as the first again (e.g. after
    /// handling it failed). Returns true when it was remembered.
    pub fn forget(&self, event: &CallbackEvent) -> bool {
        let key = dedup_key(event);
        let mut seen = self.inner.lock().expect("dedup lock");
        let removed = seen.keys.remove(&key);
        if removed {
            seen.order.retain(|k| k != &key);
        }
        removed
    }

    /// How many deliveries are remembered.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("dedup lock").keys.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn dedup_key(event: &CallbackEvent) -> (String, String) {
    (event.task_id.clone(), event.status.as_str().to_string())
}

impl Client {
    /// Confirms a callback by re-reading its task from APIPod with this client's key.
    ///
    /// Returns the authoritative snapshot: act on it, not on the callback body (APIPod
    /// does not sign callbacks, so the body could have been sent by anyone who learned the
    /// URL). Fails when the task is unknown to this key (APIPod answers 404), or when the
    /// answer is about another task.
    pub async fn confirm(&self, kind: TaskKind, event: &CallbackEvent) -> Result<TaskSnapshot> {
        let snapshot = self.status(kind, &event.task_id).await?;
        if !snapshot.task_id().is_empty() && snapshot.task_id() != event.task_id {
            return Err(Error::Decode {
                status: Some(200),
                reason: format!(
                    "status read for task {} answered about task {}",
                    event.task_id,
                    snapshot.task_id()
                ),
                excerpt: String::new(),
            });
        }
        if snapshot.status() != &event.status {
            tracing::debug!(
                task_id = %event.task_id,
                callback = %event.status,
                confirmed = %snapshot.status(),
                "callback status differs from the task's; trusting the task"
            );
        }
        Ok(snapshot)
    }
}

/// Lowercase hex of `bytes` (tokens, download checksums).
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_fractions() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_786_352_400);
        let s = |x: &str| parse_timestamp(&Value::String(x.into()));
        assert_eq!(s("2026-08-10T09:00:00Z"), Some(t));
        assert_eq!(s("2026-08-10T09:00:00+00:00"), Some(t));
        assert_eq!(s("2026-08-10T04:30:00-04:30"), Some(t));
        assert_eq!(s("2026-08-10T10:00:00+0100"), Some(t));
        assert_eq!(s("2026-08-10T10:00:00+01"), Some(t));
        assert_eq!(s("2026-08-10 09:00:00"), Some(t));
        assert_eq!(
            s("2026-08-10T09:00:00.250Z"),
            Some(t + Duration::from_millis(250))
        );
        assert_eq!(s("1786352400"), Some(t));
        assert_eq!(s("2026-08-10T09:00:00+25:00"), None);
        assert_eq!(s("yesterday"), None);
        assert_eq!(s("2026-08-10"), None);
        assert_eq!(parse_timestamp(&Value::from(-5)), None);
        assert_eq!(parse_timestamp(&Value::Bool(true)), None);
        assert_eq!(
            parse_timestamp(&Value::from(1_786_352_400.5)),
            Some(t + Duration::from_millis(500))
        );
    }

    #[test]
    fn tokens_are_bound_to_secret_kind_and_key() {
        let a = CallbackTokens::new("secret-a");
        let b = CallbackTokens::new("secret-b");
        let token = a.mint("image/k1");
        assert_eq!(token.len(), 64);
        assert!(a.verify("image/k1", &token));
        assert!(!b.verify("image/k1", &token));
        assert!(!a.verify("image/k2", &token));
        assert!(!a.verify("image/k1", &token[..63]));
        assert!(!a.verify("image/k1", &format!("g{}", &token[1..])));
        // Upper-case hex is the same token.
        assert!(a.verify("image/k1", &token.to_uppercase()));
        assert_ne!(
            CallbackTokens::random().mint("x"),
            CallbackTokens::random().mint("x")
        );
        assert!(!format!("{a:?}").contains("secret-a"));
    }

    #[test]
    fn urls_encode_the_key() {
        let t = CallbackTokens::new("s");
        let url = t.callback_url_for("https://h.example/cb/", TaskKind::Video, "a b/c");
        let rest = url
            .strip_prefix("https://h.example/cb/video/a%20b%2Fc/")
            .unwrap();
        assert!(t.verify_route(TaskKind::Video, "a b/c", rest));
    }

    #[test]
    fn dedup_evicts_oldest() {
        let d = Deduplicator::new(2);
        let ev = |id: &str| {
            CallbackEvent::parse(format!(r#"{{"task_id":"{id}","status":"completed"}}"#).as_bytes())
                .unwrap()
        };
        assert!(d.first_delivery(&ev("a")));
        assert!(d.first_delivery(&ev("b")));
        assert!(d.first_delivery(&ev("c")));
        assert_eq!(d.len(), 2);
        assert!(d.first_delivery(&ev("a")), "a was evicted");
        assert!(!d.first_delivery(&ev("c")));
        assert!(d.forget(&ev("c")));
        assert!(d.first_delivery(&ev("c")));
    }
}
