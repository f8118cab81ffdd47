//! The result files (`GET /files/{task_id}/{index}.{ext}`: rendered on request, 404 before
//! completion, 410 once expired) and the benchmark blobs (`GET /blob/{bytes}`), both with
//! single `Range` requests.

use std::convert::identity;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{
    ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, RANGE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tokio::time::Instant;

use crate::media;
use crate::responses::{LogInfo, envelope_error, invalid_request, with_info};
use crate::state::Shared;
use crate::tasks::Phase;

/// A byte range asked for with `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranged {
    Full,
    /// Inclusive start and end.
    Part(u64, u64),
    Unsatisfiable,
}

/// Reads a single `Range: bytes=...` (honouring `If-Range` against `etag`). Anything it does
/// not understand (several ranges, other units) gets the full body, as HTTP allows.
fn requested_range(headers: &HeaderMap, total: u64, etag: &str) -> Ranged {
    let Some(range) = headers.get(RANGE).and_then(|v| v.to_str().ok()) else {
        return Ranged::Full;
    };
    if let Some(if_range) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok())
        && if_range.trim() != etag
    {
        return Ranged::Full;
    }
    let Some(spec) = range.trim().strip_prefix("bytes=") else {
        return Ranged::Full;
    };
    if spec.contains(',') {
        return Ranged::Full;
    }
    let Some((start, end)) = spec.split_once('-') else {
        return Ranged::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = if start.is_empty() {
        // Suffix range: the last `end` bytes.
        match end.parse::<u64>() {
            Ok(0) => return Ranged::Unsatisfiable,
            Ok(n) => Some((total.saturating_sub(n), total.saturating_sub(1))),
            Err(_) => None,
        }
    } else {
        match (start.parse::<u64>(), end) {
            (Ok(s), "") => Some((s, total.saturating_sub(1))),
            (Ok(s), e) => e
                .parse::<u64>()
                .ok()
                .map(|e| (s, e.min(total.saturating_sub(1)))),
            _ => None,
        }
    };
    match parsed {
        None => Ranged::Full,
        Some((s, e)) if total == 0 || s >= total || s > e => Ranged::Unsatisfiable,
        Some((s, e)) => Ranged::Part(s, e),
    }
}

/// Builds a file response for `total` bytes, with the body produced by `body(offset, len)`.
fn file_response(
    headers: &HeaderMap,
    content_type: &str,
    etag: &str,
    total: u64,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let (status, offset, len, content_range) = match requested_range(headers, total, etag) {
        Ranged::Full => (StatusCode::OK, 0, total, None),
        Ranged::Part(s, e) => (
            StatusCode::PARTIAL_CONTENT,
            s,
            e - s + 1,
            Some(format!("bytes {s}-{e}/{total}")),
        ),
        Ranged::Unsatisfiable => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{total}"))
                .header(ACCEPT_RANGES, "bytes")
                .body(Body::empty())
                .expect("static response parts");
        }
    };
    let mut builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, content_type)
        .header(CONTENT_LENGTH, len)
        .header(ACCEPT_RANGES, "bytes")
        .header(ETAG, etag);
    if let Some(range) = content_range {
        builder = builder.header(CONTENT_RANGE, range);
    }
    builder
        .body(body(offset, len))
        .expect("valid file response parts")
}

fn file_error(status: StatusCode, error_code: &str, message: String) -> Response {
    envelope_error(status, "invalid_request_error", error_code, message)
}

pub(crate) async fn result_file(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Path((task_id, file)): Path<(String, String)>,
) -> Response {
    let info = LogInfo {
        task_id: Some(task_id.clone()),
        ..LogInfo::default()
    };
    let response = result_file_inner(&shared, &headers, &task_id, &file)
        .await
        .unwrap_or_else(identity);
    with_info(response, info)
}

async fn result_file_inner(
    shared: &Shared,
    headers: &HeaderMap,
    task_id: &str,
    file: &str,
) -> Result<Response, Response> {
    let missing = || {
        file_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no result file {file:?} for task {task_id:?}"),
        )
    };
    let task = shared.tasks.get(task_id).ok_or_else(missing)?;
    let (index, ext) = file.split_once('.').ok_or_else(missing)?;
    let index: usize = index.parse().map_err(|_| missing())?;
    let media = task
        .files
        .get(index)
        .filter(|m| m.ext() == ext)
        .ok_or_else(missing)?
        .clone();
    let now = Instant::now();
    if task.phase_at(now) != Phase::Completed {
        return Err(file_error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("task {task_id:?} has no results (it has not completed)"),
        ));
    }
    let done = task.terminal_at().ok_or_else(missing)?;
    if now >= done + shared.config.result_ttl {
        return Err(file_error(
            StatusCode::GONE,
            "result_expired",
            format!(
                "the results of task {task_id:?} expired {} after completion; download results promptly and keep your own copy",
                humantime::format_duration(shared.config.result_ttl)
            ),
        ));
    }
    if let Some(size) = shared.config.result_size_override {
        let etag = format!("\"{task_id}-{index}-{size}\"");
        return Ok(file_response(
            headers,
            media.content_type(),
            &etag,
            size,
            |offset, len| Body::from_stream(media::filler_stream(offset, len)),
        ));
    }
    let etag = format!("\"{task_id}-{index}\"");
    let content_type = media.content_type();
    let bytes = tokio::task::spawn_blocking(move || Bytes::from(media.render()))
        .await
        .map_err(|e| {
            envelope_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "api_error",
                "internal_error",
                format!("rendering the file failed: {e}"),
            )
        })?;
    let total = bytes.len() as u64;
    Ok(file_response(
        headers,
        content_type,
        &etag,
        total,
        |offset, len| Body::from(bytes.slice(offset as usize..(offset + len) as usize)),
    ))
}

pub(crate) async fn blob(headers: HeaderMap, Path(size): Path<String>) -> Response {
    let Ok(total) = size.parse::<u64>() else {
        return invalid_request(format!("/blob/{{bytes}} takes a byte count, not {size:?}"));
    };
    let etag = format!("\"blob-{total}\"");
    file_response(
        &headers,
        "application/octet-stream",
        &etag,
        total,
        |offset, len| Body::from_stream(media::filler_stream(offset, len)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn range(value: &str, total: u64) -> Ranged {
        let mut headers = HeaderMap::new();
        headers.insert(RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, total, "\"e\"")
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ranged::Part(0, 9));
        assert_eq!(range("bytes=90-", 100), Ranged::Part(90, 99));
        assert_eq!(range("bytes=-10", 100), Ranged::Part(90, 99));
        assert_eq!(range("bytes=50-500", 100), Ranged::Part(50, 99));
        assert_eq!(range("bytes=100-", 100), Ranged::Unsatisfiable);
        assert_eq!(range("bytes=0-1,5-6", 100), Ranged::Full);
        assert_eq!(range("items=0-1", 100), Ranged::Full);
        let mut headers = HeaderMap::new();
        headers.insert(RANGE, HeaderValue::from_static("bytes=5-"));
        headers.insert(IF_RANGE, HeaderValue::from_static("\"other\""));
        assert_eq!(requested_range(&headers, 100, "\"e\""), Ranged::Full);
    }
}
