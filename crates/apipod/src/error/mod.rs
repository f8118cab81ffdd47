//! The one error type of the SDK.

use std::path::PathBuf;
use std::time::Duration;

use apipod_raw::contract::Violation;

use crate::assets::status::AssetStatus;
use crate::snapshot::TaskSnapshot;

pub(crate) mod http;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, with the identifiers needed to act on it.
///
/// The API key never appears in any variant or message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client could not be built from its settings (missing API key, a key or user
    /// agent that cannot be a header value, a base URL that is not http(s), ...).
    #[error("configuration: {setting}: {message}")]
    Config {
        /// The setting at fault (`api_key`, `base_url`, `user_agent`, `http_client`, ...).
        setting: &'static str,
        /// What is wrong with it (never the key itself).
        message: String,
    },

    /// An argument of a call was rejected before anything was sent (a task id, an
    /// idempotency key, an asset id, a raw body without `model`, ...).
    #[error("invalid {argument}: {message}")]
    InvalidArgument {
        /// The argument at fault.
        argument: &'static str,
        /// What is wrong with it.
        message: String,
    },

    /// The model id is not in this SDK's catalog (the spec it was generated from). Nothing
    /// was sent. `apipod::contract::MODELS` lists the known models.
    #[error("unknown model {model:?}: not in this SDK's catalog of {known} models")]
    UnknownModel {
        /// The id that was given.
        model: String,
        /// How many models the catalog has.
        known: usize,
    },

    /// The request was rejected before anything was sent.
    #[error("invalid request: {}", .violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    InvalidRequest {
        /// Model the request was for.
        model: String,
        /// Every problem found; the first names the field and the limit.
        violations: Vec<Violation>,
    },

    /// APIPod answered with an error (an HTTP error status, or `code != 200` in an HTTP 200).
    #[error("APIPod error {}{}: {message}{}", body_code.filter(|c| i64::from(*status) != *c).map(|c| format!("code {c} in HTTP {status}")).unwrap_or_else(|| status.to_string()), code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(), request_id.as_deref().map(|r| format!(" [request {r}]")).unwrap_or_default())]
    Api {
        /// The HTTP status of the answer.
        status: u16,
        /// The body's numeric `code`, when it had one (it differs from `status` when APIPod
        /// reports an error inside an HTTP 200).
        body_code: Option<i64>,
        /// Machine code (`invalid_request`, `model_not_available`, ...), when given.
        code: Option<String>,
        /// Human-readable message.
        message: String,
        /// `X-Request-ID`, when given.
        request_id: Option<String>,
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
    },

    /// Rate limited (429) and the retry budget ran out.
    #[error("rate limited by APIPod{}{}", retry_after.map(|d| format!("; retry after {}s", d.as_secs())).unwrap_or_default(), request_id.as_deref().map(|r| format!(" [request {r}]")).unwrap_or_default())]
    RateLimited {
        /// `Retry-After`, when given.
        retry_after: Option<Duration>,
        /// `X-Request-ID`, when given.
        request_id: Option<String>,
        /// Message from the body.
        message: String,
    },

    /// Not enough balance or quota (402 / `insufficient_quota`). Never retried.
    #[error("insufficient quota: {message}{}", request_id.as_deref().map(|r| format!(" [request {r}]")).unwrap_or_default())]
    InsufficientQuota {
        /// Message from the body.
        message: String,
        /// `X-Request-ID`, when given.
        request_id: Option<String>,
    },

    /// The idempotency key was already used with a different body. Never retried.
    #[error("idempotency conflict: key already used with a different request body{}", request_id.as_deref().map(|r| format!(" [request {r}]")).unwrap_or_default())]
    IdempotencyConflict {
        /// Message from the body.
        message: String,
        /// `X-Request-ID`, when given.
        request_id: Option<String>,
    },

    /// The task finished as `failed` or `cancelled`.
    #[error("task {task_id} {}: {}{}", snapshot.status(), message.as_deref().unwrap_or("no message"), code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    TaskFailed {
        /// The task.
        task_id: String,
        /// Machine code (`error_code`), when given.
        code: Option<String>,
        /// Message (`error_message` or `error`), when given.
        message: Option<String>,
        /// The last state read.
        snapshot: Box<TaskSnapshot>,
    },

    /// A Seedance library asset ended `FAILED`, `EXPIRED` or `DELETED` while it was waited
    /// on ([`Client::wait_for_asset`](crate::Client::wait_for_asset)): it cannot be used in a
    /// generation request. Upload the file again (after fixing it, for `FAILED`).
    #[error("asset {asset_id} is {status}{}; it cannot be used in a generation request", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    AssetUnusable {
        /// The asset (bare id, without `assetId://`).
        asset_id: String,
        /// The status that ended the wait.
        status: AssetStatus,
        /// APIPod's `errorMessage`, when given.
        message: Option<String>,
    },

    /// The deadline passed. The task may still be running: resume with its id (or, for a
    /// submit, submit again with the same idempotency key, which never creates a second
    /// task).
    #[error("timed out after {elapsed:?}{}{}", task_id.as_deref().map(|t| format!(" waiting for task {t}; resume with its id")).unwrap_or_default(), idempotency_key.as_deref().map(|k| format!(" submitting; resubmit with idempotency key {k}")).unwrap_or_default())]
    Timeout {
        /// The task, when one exists (`None` for submits and asset waits).
        task_id: Option<String>,
        /// Time spent.
        elapsed: Duration,
        /// The last state read, when any.
        last: Option<Box<TaskSnapshot>>,
        /// For a submit: the idempotency key to resubmit with.
        idempotency_key: Option<String>,
    },

    /// The task kept reporting a status this SDK does not know, longer than
    /// [`WaitOptions::max_unknown_reads`](crate::WaitOptions::max_unknown_reads) allowed; the
    /// wait gave up. The task may still finish: resume with its id.
    #[error(
        "task {task_id} reported the unknown status {status:?} {reads} times in a row; gave up waiting"
    )]
    UnknownStatus {
        /// The task.
        task_id: String,
        /// The status text, as sent.
        status: String,
        /// Consecutive reads that reported it.
        reads: u32,
        /// The last state read.
        last: Box<TaskSnapshot>,
    },

    /// The caller cancelled. A submitted task keeps running on APIPod.
    #[error("cancelled{}", task_id.as_deref().map(|t| format!(" while waiting for task {t}")).unwrap_or_default())]
    Cancelled {
        /// The task, when one exists.
        task_id: Option<String>,
    },

    /// The request did not get an HTTP answer (connect error, reset, timeout).
    #[error("transport: {message}")]
    Transport {
        /// What happened (never contains the key).
        message: String,
        /// True for a timeout.
        timeout: bool,
        /// The underlying error.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// A synchronous image call ([`Client::sync_images`](crate::Client::sync_images)) was
    /// sent, but its answer was lost (connection cut, read timeout, unreadable body): APIPod
    /// may have started, and will charge for, the generation, and no task id is known to
    /// follow it. Never retried; see [`openai`](crate::openai) for the retry rule.
    #[error(
        "the synchronous image request was sent but its answer was lost ({message}); APIPod may have started (and will charge for) the generation, so it was not retried"
    )]
    SyncOutcomeUnknown {
        /// What happened (never contains the key).
        message: String,
        /// True for a read timeout.
        timeout: bool,
        /// The underlying error.
        #[source]
        source: Option<reqwest::Error>,
    },

    /// An answer arrived but could not be decoded.
    #[error("undecodable response{}: {reason}; body starts: {excerpt:?}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Decode {
        /// HTTP status, when known.
        status: Option<u16>,
        /// Why decoding failed.
        reason: String,
        /// The first bytes of the body.
        excerpt: String,
    },

    /// Reading or writing a local file failed (downloads).
    #[error("i/o on {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// A result URL could not be fetched.
    #[error("download of {url} failed: {message}")]
    Download {
        /// The URL (query string removed).
        url: String,
        /// HTTP status, when one was received.
        status: Option<u16>,
        /// What happened.
        message: String,
        /// The underlying error, when there is one (transport, body, file).
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// True when sending the same request again may succeed: transport errors, timeouts of a
    /// single request, 408, 429, 5xx, and 409 `idempotency_in_progress`.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Transport { .. } | Error::RateLimited { .. } => true,
            Error::Api {
                status,
                body_code,
                code,
                ..
            } => {
                // An error reported inside an HTTP 200 is judged by the body's code.
                let class = body_code
                    .and_then(|c| u16::try_from(c).ok())
                    .unwrap_or(*status);
                matches!(class, 408 | 429 | 500..=599)
                    || (class == 409 && code.as_deref() == Some("idempotency_in_progress"))
            }
            Error::Download { status, .. } => {
                status.is_none_or(|s| matches!(s, 408 | 429 | 500..=599))
            }
            _ => false,
        }
    }

    /// `X-Request-ID` of the failed request, when known.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::RateLimited { request_id, .. }
            | Error::InsufficientQuota { request_id, .. }
            | Error::IdempotencyConflict { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The task concerned, when known.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Error::TaskFailed { task_id, .. } | Error::UnknownStatus { task_id, .. } => {
                Some(task_id)
            }
            Error::Timeout { task_id, .. } | Error::Cancelled { task_id } => task_id.as_deref(),
            _ => None,
        }
    }

    /// The Seedance library asset concerned, when known.
    pub fn asset_id(&self) -> Option<&str> {
        match self {
            Error::AssetUnusable { asset_id, .. } => Some(asset_id),
            _ => None,
        }
    }

    /// HTTP status, when the error came from an HTTP answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            Error::InsufficientQuota { .. } => Some(402),
            Error::IdempotencyConflict { .. } => Some(409),
            Error::Decode { status, .. } | Error::Download { status, .. } => *status,
            _ => None,
        }
    }

    /// The numeric `code` of APIPod's response body, when it had one. It differs from
    /// [`status`](Self::status) when APIPod reported an error inside an HTTP 200.
    pub fn body_code(&self) -> Option<i64> {
        match self {
            Error::Api { body_code, .. } => *body_code,
            _ => None,
        }
    }

    /// The machine code APIPod gave, when any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api { code, .. } | Error::TaskFailed { code, .. } => code.as_deref(),
            Error::RateLimited { .. } => Some("rate_limit_exceeded"),
            Error::InsufficientQuota { .. } => Some("insufficient_quota"),
            Error::UnknownStatus { .. } => Some("unknown_status"),
            Error::IdempotencyConflict { .. } => Some("idempotency_conflict"),
            _ => None,
        }
    }

    /// `Retry-After` the server asked for, when any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } | Error::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    pub(crate) fn transport(err: reqwest::Error) -> Self {
        // reqwest's Display includes the URL; our URLs never carry the key.
        let timeout = err.is_timeout();
        let err = err.without_url();
        Error::Transport {
            message: err.to_string(),
            timeout,
            source: Some(err),
        }
    }

    pub(crate) fn decode(status: Option<u16>, reason: impl ToString, body: &[u8]) -> Self {
        Error::Decode {
            status,
            reason: reason.to_string(),
            excerpt: excerpt(body),
        }
    }
}

/// At most 200 characters of `body`, lossily decoded.
pub(crate) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(400)]);
    text.chars().take(200).collect()
}
