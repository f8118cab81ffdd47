//! What a synchronous image call returns, and saving it to disk atomically.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::client::Client;
use crate::download::{DownloadOptions, Downloaded};
use crate::error::{Error, Result};
use crate::output::Output;

use super::input::sniff;

/// Token usage reported with the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens of the prompt (and input images).
    pub prompt_tokens: Option<i64>,
    /// Tokens of the generated images.
    pub completion_tokens: Option<i64>,
    /// Both together.
    pub total_tokens: Option<i64>,
}

/// One image of a [`SyncResult`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SyncImage {
    /// The image file itself: a `b64_json` answer, decoded.
    Inline {
        /// Position in the answer (0-based).
        index: usize,
        /// The file's bytes (PNG, JPEG or WebP).
        bytes: Bytes,
    },
    /// A link to the image: a `response_format=url` answer, or the task's result when the
    /// answer came through the task (after a 504 `sync_image_timeout`). Download it with
    /// [`SyncResult::save_all`] or [`Client::download`].
    Url(Output),
}

impl SyncImage {
    /// Position in the answer (0-based).
    pub fn index(&self) -> usize {
        match self {
            SyncImage::Inline { index, .. } => *index,
            SyncImage::Url(output) => output.index,
        }
    }

    /// The bytes of an inline image (`None` for a URL).
    pub fn bytes(&self) -> Option<&Bytes> {
        match self {
            SyncImage::Inline { bytes, .. } => Some(bytes),
            SyncImage::Url(_) => None,
        }
    }

    /// The URL of a linked image (`None` for an inline one).
    pub fn url(&self) -> Option<&str> {
        match self {
            SyncImage::Inline { .. } => None,
            SyncImage::Url(output) => Some(&output.url),
        }
    }
}

/// How the images reached the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// In the synchronous answer itself.
    Direct,
    /// The synchronous call answered 504 `sync_image_timeout`; the SDK waited for the task it
    /// named and took its results (always URLs).
    AfterTimeout {
        /// The task the server kept running.
        task_id: String,
    },
}

/// The answer of a synchronous image call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SyncResult {
    /// The images, in order.
    pub images: Vec<SyncImage>,
    /// Token usage, when reported (only in a direct answer).
    pub usage: Option<Usage>,
    /// When the images were made, when reported.
    pub created: Option<SystemTime>,
    /// `X-Request-ID` of the synchronous call.
    pub request_id: Option<String>,
    /// `X-Request-Cost` of the synchronous call, when APIPod reported one.
    pub cost: Option<String>,
    /// How the images arrived.
    pub delivery: Delivery,
    /// HTTP attempts of the synchronous call (1 unless a refused attempt was retried).
    pub attempts: u32,
}

impl SyncResult {
    /// The task id, when known (after a 504 the server names it; a direct answer does not).
    pub fn task_id(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::AfterTimeout { task_id } => Some(task_id),
            Delivery::Direct => None,
        }
    }

    /// Saves every image into `dir` (created if missing) and returns the files in order.
    ///
    /// Inline images are written to a temporary file in `dir`, then moved into place
    /// (`{stem}-{index}.{ext}`, the stem being the task id or else the request id, the
    /// extension read from the file's signature), so a file is there whole or not at all.
    /// URLs go through [`Client::download`]: streamed, retried, atomic. Without
    /// [`overwrite`](DownloadOptions::overwrite), an existing file is never replaced.
    ///
    /// ```no_run
    /// # async fn demo(client: apipod::Client) -> apipod::Result<()> {
    /// use apipod::DownloadOptions;
    /// use apipod::openai::ImageGeneration;
    ///
    /// let result = client
    ///     .sync_images()
    ///     .generate(ImageGeneration::new("gpt-image-2", "a red bicycle"))
    ///     .await?;
    /// for file in result.save_all(&client, "out".as_ref(), &DownloadOptions::default()).await? {
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
        let stem = self
            .task_id()
            .or(self.request_id.as_deref())
            .unwrap_or("image")
            .to_string();
        let mut out = Vec::with_capacity(self.images.len());
        for image in &self.images {
            out.push(match image {
                SyncImage::Url(output) => client.download(output, dir, options).await?,
                SyncImage::Inline { index, bytes } => {
                    write_atomically(dir, &stem, *index, bytes, options).await?
                }
            });
        }
        Ok(out)
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The stem made safe as a file name: no separators, no leading dot.
fn safe_stem(stem: &str) -> String {
    let mut s: String = stem
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        s.push_str("image");
    }
    s
}

async fn write_atomically(
    dir: &Path,
    stem: &str,
    index: usize,
    bytes: &Bytes,
    options: &DownloadOptions,
) -> Result<Downloaded> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io_error(dir, e))?;
    let content_type = sniff(bytes);
    let ext = crate::download::file_extension(Some(content_type), "");
    let name = format!("{}-{index}.{ext}", safe_stem(stem));
    let dest = dir.join(&name);
    let temp = dir.join(format!(".{name}.part-{:016x}", fastrand::u64(..)));
    let (temp2, data, durable) = (temp.clone(), bytes.clone(), options.durable);
    let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp2)?;
        file.write_all(&data)?;
        if durable {
            file.sync_all()?;
        }
        Ok(())
    })
    .await
    .map_err(|e| io_error(&temp, std::io::Error::other(e)))
    .and_then(|r| r.map_err(|e| io_error(&temp, e)));
    let committed = match written {
        Ok(()) => commit(&temp, &dest, options.overwrite).await,
        Err(e) => Err(e),
    };
    // After a rename the temporary name is gone; after a hard link or a failure it is not.
    let _ = tokio::fs::remove_file(&temp).await;
    committed?;
    Ok(Downloaded {
        task_id: stem.to_string(),
        index,
        path: dest,
        bytes: bytes.len() as u64,
        content_type: Some(content_type.to_string()),
        sha256: Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        attempts: 1,
    })
}

/// Moves the finished file into place; without `overwrite` an existing file is kept (a hard
/// link fails if the destination exists).
async fn commit(temp: &Path, dest: &PathBuf, overwrite: bool) -> Result<()> {
    let exists = || {
        io_error(
            dest,
            std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "file exists; set DownloadOptions::overwrite to replace it",
            ),
        )
    };
    if overwrite {
        return tokio::fs::rename(temp, dest)
            .await
            .map_err(|e| io_error(dest, e));
    }
    match tokio::fs::hard_link(temp, dest).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
        Err(_) if tokio::fs::try_exists(dest).await.unwrap_or(false) => Err(exists()),
        Err(_) => tokio::fs::rename(temp, dest)
            .await
            .map_err(|e| io_error(dest, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn inline_images_are_written_whole_and_never_clobbered() {
        let dir = tempfile::tempdir().unwrap();
        let png = Bytes::from_static(b"\x89PNG\r\n\x1a\nrest");
        let options = DownloadOptions::default();
        let file = write_atomically(dir.path(), "req/1", 0, &png, &options)
            .await
            .unwrap();
        assert_eq!(file.path, dir.path().join("req_1-0.png"));
        assert_eq!(std::fs::read(&file.path).unwrap(), png.as_ref());
        let again = write_atomically(dir.path(), "req/1", 0, &png, &options).await;
        assert!(matches!(again, Err(Error::Io { .. })));
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
