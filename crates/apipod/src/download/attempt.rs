//! One download attempt: stream the body into a temporary file on a writer thread that
//! hashes as it writes, then move it into place atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::names::{expired_error, file_extension, io_error, safe_stem, shown_url};
use super::options::{DownloadOptions, Downloaded};
use crate::client::Client;
use crate::deadline::Deadline;
use crate::error::Error;
use crate::error::http;
use crate::output::Output;

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
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) retry_after: Option<Duration>,
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
    pub(super) async fn download_once(
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
        let content_type = http::header_str(response.headers(), reqwest::header::CONTENT_TYPE);
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
        // The body's chunks are handed over as they came (no copy), gathered into batches
        // of up to about 1 MiB so the hand-off costs little per byte and each batch is one
        // vectored write; at most four batches wait in the channel, which bounds memory
        // whatever the file size.
        const BATCH: usize = 1 << 20;
        // ...and of at most this many chunks (the kernel's limit for one vectored write),
        // so a server sending tiny chunks cannot grow a batch's bookkeeping.
        const MAX_CHUNKS: usize = 1024;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(4);
        let durable = options.durable;
        let sink = tokio::task::spawn_blocking(move || -> std::io::Result<(u64, String)> {
            let mut file = file;
            let mut hasher = Sha256::new();
            let mut written = 0u64;
            while let Some(batch) = rx.blocking_recv() {
                for chunk in &batch {
                    hasher.update(chunk);
                    written += chunk.len() as u64;
                }
                write_batch(&mut file, &batch)?;
            }
            if durable {
                file.sync_all()?;
            }
            let sha256 = crate::hex::to_hex(&hasher.finalize());
            Ok((written, sha256))
        });
        let mut bytes = 0u64;
        let mut block: Vec<bytes::Bytes> = Vec::new();
        let mut block_len = 0usize;
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
            block_len += chunk.len();
            block.push(chunk);
            if block_len >= BATCH || block.len() >= MAX_CHUNKS {
                block_len = 0;
                if tx.send(std::mem::take(&mut block)).await.is_err() {
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
}

/// Writes every chunk of `batch` to `file` with as few vectored writes as the kernel allows.
fn write_batch(file: &mut std::fs::File, batch: &[bytes::Bytes]) -> std::io::Result<()> {
    use std::io::{IoSlice, Write as _};
    let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|c| IoSlice::new(c)).collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        match file.write_vectored(rest) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut rest, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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
