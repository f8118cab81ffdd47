//! Downloads of task results: streamed to disk, atomic, retried, bounded in concurrency.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::deadline::{Deadline, Expired};
use crate::error::http;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::retry::RetryPolicy;
use crate::snapshot::Completed;

/// How results are downloaded.
///
/// ```
/// use apipod::DownloadOptions;
/// let options = DownloadOptions::default().with_concurrency(8).with_overwrite(true);
/// assert_eq!(options.concurrency, 8);
/// ```
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Most downloads in flight at once in [`Client::download_all`] (default 4).
    pub concurrency: usize,
    /// Replace a file that already exists (default false: such a download fails and the
    /// existing file is left alone).
    pub overwrite: bool,
    /// Retries of a failed download (default: the client's [`RetryPolicy`]). Transport
    /// errors, cut connections, 408, 429 and 5xx are retried; every retry starts the file
    /// from scratch. `Retry-After` is honoured up to the policy's `max_retry_after`.
    pub retry: Option<RetryPolicy>,
    /// Try outputs whose URL has probably expired (past [`Output::expires_at`]) instead of
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
    /// When it passes, the download ends with [`Error::Timeout`] and leaves nothing on disk.
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

/// The file extension for a result: from its `Content-Type` when that is a known media
/// type, else from the URL path, else `bin`.
///
/// ```
/// use apipod::file_extension;
/// assert_eq!(file_extension(Some("image/jpeg"), "https://cdn.example/x"), "jpg");
/// assert_eq!(file_extension(Some("application/octet-stream"), "https://cdn.example/a.WEBP?sig=1"), "webp");
/// assert_eq!(file_extension(None, "https://cdn.example/blob"), "bin");
/// ```
pub fn file_extension(content_type: Option<&str>, url: &str) -> String {
    let mime = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    let known = match mime.as_deref() {
        Some("image/png") => Some("png"),
        Some("image/jpeg" | "image/jpg" | "image/pjpeg") => Some("jpg"),
        Some("image/webp") => Some("webp"),
        Some("image/gif") => Some("gif"),
        Some("image/avif") => Some("avif"),
        Some("video/mp4") => Some("mp4"),
        Some("video/webm") => Some("webm"),
        Some("video/quicktime") => Some("mov"),
        Some("video/x-yuv4mpeg2" | "application/x-yuv4mpeg2") => Some("y4m"),
        _ => None,
    };
    if let Some(ext) = known {
        return ext.to_string();
    }
    url_extension(url).unwrap_or_else(|| "bin".to_string())
}

fn url_extension(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?;
    let (stem, ext) = last.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() || ext.len() > 5 {
        return None;
    }
    if !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let ext = ext.to_ascii_lowercase();
    Some(if ext == "jpeg" {
        "jpg".to_string()
    } else {
        ext
    })
}

/// The task id made safe as a file name: no separators, no leading dot.
fn safe_stem(task_id: &str) -> String {
    let mut stem: String = task_id
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if stem.is_empty() {
        stem.push_str("task");
    }
    if stem.starts_with('.') {
        stem.replace_range(0..1, "_");
    }
    stem
}

/// The URL without its query and fragment (result URLs may be presigned).
fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn expired_error(output: &Output, status: Option<u16>) -> Error {
    let since = output
        .expires_at
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| {
            format!(
                " {} ago",
                humantime::format_duration(Duration::from_secs(d.as_secs()))
            )
        })
        .unwrap_or_default();
    Error::Download {
        url: shown_url(&output.url),
        status,
        message: format!(
            "the result URL of task {} expired{since} (APIPod keeps results for about 24 h \
             after completion); the task must be generated again",
            output.task_id
        ),
        source: None,
    }
}

/// Removes the temporary file unless the download committed it (also when the download's
/// future is dropped half-way).
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// One failed attempt, with the server's `Retry-After` if it sent one.
struct Failure {
    error: Error,
    retry_after: Option<Duration>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure {
            error,
            retry_after: None,
        }
    }
}

impl Client {
    /// Downloads one result into `dir` (created if missing) as `{task_id}-{index}.{ext}`,
    /// the extension taken from the `Content-Type` (see [`file_extension`]).
    ///
    /// The body is streamed to a temporary file in `dir` in constant memory, flushed to
    /// disk, then renamed into place, so the destination either holds the whole file or
    /// nothing; a failed or cancelled download leaves no file behind. Failures that may
    /// pass are retried from scratch (see [`DownloadOptions::retry`]). Result URLs are
    /// public CDN links: the request carries no API key.
    ///
    /// A URL past its expiry fails at once (unless
    /// [`allow_expired`](DownloadOptions::allow_expired)), and a 404 or 410 after expiry
    /// reports that the task must be generated again.
    ///
    /// ```no_run
    /// # async fn demo(client: apipod::Client, done: apipod::Completed) -> apipod::Result<()> {
    /// use apipod::DownloadOptions;
    /// let file = client
    ///     .download(&done.outputs()[0], "out".as_ref(), &DownloadOptions::default())
    ///     .await?;
    /// println!("{} ({} bytes)", file.path.display(), file.bytes);
    /// # Ok(()) }
    /// ```
    pub async fn download(
        &self,
        output: &Output,
        dir: &Path,
        options: &DownloadOptions,
    ) -> Result<Downloaded> {
        let cancelled = || Error::Cancelled {
            task_id: Some(output.task_id.clone()),
        };
        if output.is_expired() && !options.allow_expired {
            return Err(expired_error(output, None));
        }
        let cancel = options.cancel.clone().unwrap_or_default();
        if cancel.is_cancelled() {
            return Err(cancelled());
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| io_error(dir, e))?;
        let policy = options
            .retry
            .clone()
            .unwrap_or_else(|| self.inner.retry.clone());
        let mut schedule = policy.schedule();
        let mut attempt = 0u32;
        let deadline = Deadline::after(options.timeout);
        let timed_out = || Error::Timeout {
            task_id: Some(output.task_id.clone()),
            elapsed: deadline.elapsed(),
            last: None,
            idempotency_key: None,
        };
        loop {
            attempt += 1;
            let outcome = tokio::select! {
                r = deadline.run(self.download_once(output, dir, options, &deadline)) => match r {
                    Ok(r) => r,
                    Err(Expired) => return Err(timed_out()),
                },
                _ = cancel.cancelled() => return Err(cancelled()),
            };
            let failure = match outcome {
                Ok(mut done) => {
                    done.attempts = attempt;
                    tracing::debug!(task_id = %output.task_id, index = output.index, path = %done.path.display(), bytes = done.bytes, attempt, "result saved");
                    return Ok(done);
                }
                Err(f) => f,
            };
            let Some(delay) =
                policy.delay_after(&failure.error, failure.retry_after, schedule.next())
            else {
                return Err(failure.error);
            };
            tracing::info!(task_id = %output.task_id, index = output.index, attempt, ?delay, error = %failure.error, "download failed; retrying from scratch");
            tokio::select! {
                r = deadline.sleep(delay) => if r.is_err() { return Err(timed_out()) },
                _ = cancel.cancelled() => return Err(cancelled()),
            }
        }
    }

    async fn download_once(
        &self,
        output: &Output,
        dir: &Path,
        options: &DownloadOptions,
        deadline: &Deadline,
    ) -> std::result::Result<Downloaded, Failure> {
        let url = shown_url(&output.url);
        let lost = |what: String| Error::Download {
            url: url.clone(),
            status: None,
            message: what,
            source: None,
        };
        let mut response = self
            .http()
            .get(&output.url)
            .timeout(deadline.cap(options.attempt_timeout))
            .send()
            .await
            .map_err(|e| {
                let e = e.without_url();
                Error::Download {
                    url: url.clone(),
                    status: None,
                    message: e.to_string(),
                    source: Some(Box::new(e)),
                }
            })?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = http::retry_after(response.headers());
            let error = if matches!(status, 404 | 410) && output.is_expired() {
                expired_error(output, Some(status))
            } else if matches!(status, 404 | 410) {
                Error::Download {
                    url,
                    status: Some(status),
                    message: format!(
                        "HTTP {status}: not found (result URLs expire about 24 h after \
                         completion; an older task must be generated again)"
                    ),
                    source: None,
                }
            } else {
                Error::Download {
                    url,
                    status: Some(status),
                    message: format!("HTTP {status}"),
                    source: None,
                }
            };
            return Err(Failure { error, retry_after });
        }
        let content_type = http::header_str(response.headers(), "content-type");
        let expected = response.content_length();
        let ext = file_extension(content_type.as_deref(), &output.url);
        let name = format!("{}-{}.{ext}", safe_stem(&output.task_id), output.index);
        let dest = dir.join(&name);
        if !options.overwrite && tokio::fs::try_exists(&dest).await.unwrap_or(false) {
            return Err(already_exists(&dest).into());
        }
        let temp_path = dir.join(format!(".{name}.part-{:016x}", fastrand::u64(..)));
        let mut temp = TempFile {
            path: temp_path.clone(),
            armed: false,
        };
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
            .await
            .map_err(|e| io_error(&temp_path, e))?;
        temp.armed = true;
        // Hashing and writing run on a blocking thread fed through a small channel, so the
        // network read, the SHA-256 and the disk write overlap instead of taking turns.
        let file = file.into_std().await;
        // Chunks are gathered into 1 MiB blocks so the hand-off costs little per byte; at most
        // four blocks wait in the channel, which bounds memory whatever the file size.
        const BLOCK: usize = 1 << 20;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let durable = options.durable;
        let sink = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
            use std::io::Write as _;
            let mut writer = file;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            while let Some(chunk) = rx.blocking_recv() {
                hasher.update(&chunk);
                writer.write_all(&chunk)?;
                written += chunk.len() as u64;
            }
            let file = writer;
            if durable {
                file.sync_all()?;
            }
            let sha256 = crate::hex::to_hex(&hasher.finalize());
            Ok((written, sha256))
        });
        let mut bytes = 0u64;
        let mut block: Vec<u8> = Vec::with_capacity(BLOCK + 64 * 1024);
        let received: std::result::Result<(), Error> = loop {
            let chunk = match tokio::time::timeout(options.idle_timeout, response.chunk()).await {
                Err(_) => {
                    break Err(lost(format!(
                        "no data for {:?} after {bytes} bytes",
                        options.idle_timeout
                    )));
                }
                Ok(Err(e)) => {
                    break Err(lost(format!(
                        "connection lost after {bytes}{} bytes: {}",
                        expected.map(|n| format!(" of {n}")).unwrap_or_default(),
                        e.without_url()
                    )));
                }
                Ok(Ok(None)) => break Ok(()),
                Ok(Ok(Some(chunk))) => chunk,
            };
            bytes += chunk.len() as u64;
            if bytes > options.max_bytes {
                // Not retried: the error carries the 200 it came with.
                break Err(Error::Download {
                    url: url.clone(),
                    status: Some(status),
                    message: format!(
                        "the result is larger than the {} bytes allowed (DownloadOptions::max_bytes)",
                        options.max_bytes
                    ),
                    source: None,
                });
            }
            block.extend_from_slice(&chunk);
            if block.len() >= BLOCK {
                let full = std::mem::replace(&mut block, Vec::with_capacity(BLOCK + 64 * 1024));
                if tx.send(full).await.is_err() {
                    break Ok(()); // the writer failed; its error is reported below
                }
            }
        };
        if received.is_ok() && !block.is_empty() {
            let _ = tx.send(block).await;
        }
        drop(tx);
        let written = sink
            .await
            .map_err(|e| io_error(&temp_path, std::io::Error::other(e)))?
            .map_err(|e| io_error(&temp_path, e));
        received?;
        let (written, sha256) = written?;
        if let Some(n) = expected.filter(|n| *n != bytes) {
            return Err(lost(format!("body ended after {bytes} of {n} bytes")).into());
        }
        debug_assert_eq!(written, bytes);
        commit(&temp_path, &dest, options.overwrite)
            .await
            .map_err(|e| io_error(&dest, e))?;
        // A rename consumed the temporary name; after a hard link the guard removes it.
        temp.armed = !options.overwrite;
        drop(temp);
        if options.durable {
            sync_dir(dir).await;
        }
        Ok(Downloaded {
            task_id: output.task_id.clone(),
            index: output.index,
            path: dest,
            bytes,
            content_type,
            sha256,
            attempts: 1,
        })
    }

    /// Downloads every output into `dir`, at most
    /// [`concurrency`](DownloadOptions::concurrency) at a time, and returns the files in
    /// the order of `outputs`.
    ///
    /// Stops at the first failure (after its retries): downloads still running are
    /// abandoned without leaving partial files, while files already completed stay.
    pub async fn download_all(
        &self,
        outputs: &[Output],
        dir: &Path,
        options: &DownloadOptions,
    ) -> Result<Vec<Downloaded>> {
        let mut done: Vec<Option<Downloaded>> = vec![None; outputs.len()];
        let mut running = futures::stream::iter(outputs.iter().enumerate())
            .map(|(i, output)| async move { (i, self.download(output, dir, options).await) })
            .buffer_unordered(options.concurrency.max(1));
        while let Some((i, result)) = running.next().await {
            done[i] = Some(result?);
        }
        // Every index was filled: the stream yields one result per output.
        Ok(done.into_iter().flatten().collect())
    }
}

impl Completed {
    /// Downloads every result of the task into `dir`; see [`Client::download_all`].
    ///
    /// ```no_run
    /// # async fn demo(client: apipod::Client, done: apipod::Completed) -> apipod::Result<()> {
    /// use apipod::DownloadOptions;
    /// for file in done.save_all(&client, "out".as_ref(), &DownloadOptions::default()).await? {
    ///     println!("{}", file.path.display());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn save_all(
        &self,
        client: &Client,
        dir: &Path,
        options: &DownloadOptions,
    ) -> Result<Vec<Downloaded>> {
        client.download_all(&self.outputs(), dir, options).await
    }
}

fn already_exists(dest: &Path) -> Error {
    io_error(
        dest,
        std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "file exists; set DownloadOptions::overwrite to replace it",
        ),
    )
}

/// Moves the finished temporary file into place. Without `overwrite` the move never
/// replaces a file, even one created by someone else meanwhile: a hard link is made
/// (failing if the destination exists) and the temporary name is removed by its guard.
async fn commit(temp: &Path, dest: &Path, overwrite: bool) -> std::io::Result<()> {
    if overwrite {
        return tokio::fs::rename(temp, dest).await;
    }
    match tokio::fs::hard_link(temp, dest).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "file exists; set DownloadOptions::overwrite to replace it",
        )),
        // File systems without hard links: check, then rename.
        Err(_) => {
            if tokio::fs::try_exists(dest).await.unwrap_or(false) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "file exists; set DownloadOptions::overwrite to replace it",
                ));
            }
            tokio::fs::rename(temp, dest).await
        }
    }
}

/// Makes the rename durable (best effort; not every platform can sync a directory).
async fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        let u = "https://cdn.example.com/r/abc";
        assert_eq!(file_extension(Some("image/png"), u), "png");
        assert_eq!(file_extension(Some("IMAGE/JPEG; charset=binary"), u), "jpg");
        assert_eq!(file_extension(Some("image/webp"), u), "webp");
        assert_eq!(file_extension(Some("video/mp4"), u), "mp4");
        assert_eq!(file_extension(Some("video/x-yuv4mpeg2"), u), "y4m");
        assert_eq!(file_extension(Some("application/x-yuv4mpeg2"), u), "y4m");
        assert_eq!(file_extension(Some("video/quicktime"), u), "mov");
        assert_eq!(
            file_extension(Some("text/plain"), "https://c.example/x/a.jpeg?s=1"),
            "jpg"
        );
        assert_eq!(file_extension(None, "https://c.example/x/a.tar.gz"), "gz");
        assert_eq!(file_extension(None, "https://c.example/x/.hidden"), "bin");
        assert_eq!(
            file_extension(None, "https://c.example/x/a.toolongext"),
            "bin"
        );
        assert_eq!(file_extension(None, "https://c.example/x/a.p%2Fg"), "bin");
        assert_eq!(file_extension(None, "not a url"), "bin");
    }

    #[test]
    fn stems_cannot_escape_the_directory() {
        assert_eq!(safe_stem("img_1"), "img_1");
        assert_eq!(safe_stem("../../etc/passwd"), "_._.._etc_passwd");
        assert_eq!(safe_stem(""), "task");
        assert_eq!(safe_stem("a/b\\c"), "a_b_c");
    }

    #[test]
    fn shown_urls_drop_signatures() {
        assert_eq!(
            shown_url("https://cdn.example.com/a.png?X-Amz-Signature=abc#f"),
            "https://cdn.example.com/a.png"
        );
    }
}
