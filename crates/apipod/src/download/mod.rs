//! Downloads of task results: streamed to disk, atomic, retried, bounded in concurrency.

mod attempt;
mod names;
mod options;

use std::path::Path;

use futures::StreamExt;

use crate::client::Client;
use crate::deadline::{Deadline, Expired};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::snapshot::Completed;

pub use names::file_extension;
use names::{expired_error, io_error};
pub use options::{DownloadOptions, Downloaded};

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
    /// for output in done.outputs() {
    ///     let file = client
    ///         .download(&output, "out".as_ref(), &DownloadOptions::default())
    ///         .await?;
    ///     println!("{} ({} bytes)", file.path.display(), file.bytes);
    /// }
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

#[cfg(test)]
mod tests {
    use super::names::{safe_stem, shown_url};
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
