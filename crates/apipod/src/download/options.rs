//! How results are downloaded, and what a saved result is.

use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::retry::RetryPolicy;

/// How results are downloaded.
///
/// ```
/// use apipod::DownloadOptions;
/// let options = DownloadOptions::default().with_concurrency(8).with_overwrite(true);
/// assert_eq!(options.concurrency, 8);
/// ```
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Most downloads in flight at once in [`Client::download_all`](crate::Client::download_all) (default 4).
    pub concurrency: usize,
    /// Replace a file that already exists (default false: such a download fails and the
    /// existing file is left alone).
    pub overwrite: bool,
    /// Retries of a failed download (default: the client's [`RetryPolicy`]). Transport
    /// errors, cut connections, 408, 429 and 5xx are retried; every retry starts the file
    /// from scratch. `Retry-After` is honoured up to the policy's `max_retry_after`.
    pub retry: Option<RetryPolicy>,
    /// Try outputs whose URL has probably expired (past [`Output::expires_at`](crate::Output::expires_at)) instead of
    /// failing at once (default false).
    pub allow_expired: bool,
    /// Longest pause between two pieces of a body before the attempt is abandoned
    /// (default 60 s).
    pub idle_timeout: Duration,
    /// Longest time one attempt may take from request to last byte (default 1 h). This
    /// replaces the client's per-request timeout, which is sized for API calls.
    pub attempt_timeout: Duration,
    /// Stops the downloads when cancelled; nothing is left on disk for unfinished files.
    pub cancel: Option<CancellationToken>,
    /// Overall deadline of one output's download, retries and their sleeps included
    /// (default none: each attempt is bounded by `attempt_timeout` and `idle_timeout`).
    /// When it passes, the download ends with [`Error::Timeout`](crate::Error::Timeout) and leaves nothing on disk.
    pub timeout: Option<Duration>,
    /// `fsync` each file (and its directory) before reporting it saved, so it survives a
    /// power loss (default false: like curl, leave flushing to the kernel). Either way a file
    /// only appears under its final name once complete.
    pub durable: bool,
    /// Largest result accepted, in bytes (default 8 GiB): a body that grows past it ends the
    /// download, leaves nothing on disk, and is not retried. Disk use is bounded by us, not by
    /// what a server sends.
    pub max_bytes: u64,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            overwrite: false,
            retry: None,
            allow_expired: false,
            idle_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(60 * 60),
            timeout: None,
            max_bytes: 8 * 1024 * 1024 * 1024,
            cancel: None,
            durable: false,
        }
    }
}

impl DownloadOptions {
    /// Sets [`concurrency`](Self::concurrency) (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Sets [`overwrite`](Self::overwrite).
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Sets [`allow_expired`](Self::allow_expired).
    pub fn with_allow_expired(mut self, allow: bool) -> Self {
        self.allow_expired = allow;
        self
    }

    /// Adds a cancellation token.
    pub fn with_cancel(mut self, token: CancellationToken) -> Self {
        self.cancel = Some(token);
        self
    }

    /// Sets [`durable`](Self::durable).
    pub fn with_durable(mut self, durable: bool) -> Self {
        self.durable = durable;
        self
    }
}

/// A result saved to disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// The task the result belongs to.
    pub task_id: String,
    /// The result's position in the task's result list.
    pub index: usize,
    /// Where the file is: `{dir}/{task_id}-{index}.{ext}`.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// The `Content-Type` it was served with, when any.
    pub content_type: Option<String>,
    /// SHA-256 of the content, lowercase hex.
    pub sha256: String,
    /// HTTP attempts made (1 when nothing was retried).
    pub attempts: u32,
}
