//! File names and extensions for results, and the errors that name a file or a URL.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::Error;
use crate::output::Output;

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

pub(super) fn url_extension(url: &str) -> Option<String> {
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
pub(super) fn safe_stem(task_id: &str) -> String {
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
pub(super) fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_string(),
    }
}

pub(super) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

pub(super) fn expired_error(output: &Output, status: Option<u16>) -> Error {
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
