//! What the mock answers with: APIPod's envelopes and error bodies, the headers it sets, and
//! the fault responses (dropped connections, malformed bodies). Handlers build every
//! answer from these, so the wire format lives in one place.

use std::io;

use apipod_raw::types::{
    ErrorData, ErrorDetail, ErrorResponse, SubmitTaskData, SubmitTaskResponse,
};
use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::faults::Op;

// ---------------------------------------------------------------- headers

/// Response header carrying the request id.
pub(crate) const X_REQUEST_ID: &str = "x-request-id";
/// Response header carrying the cost of a create.
pub(crate) const X_REQUEST_COST: &str = "x-request-cost";
/// Response header marking a replayed idempotent response.
pub(crate) const X_IDEMPOTENT_REPLAY: &str = "x-idempotent-replay";
/// Request header carrying the idempotency key.
pub(crate) const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The message of APIPod's 401 answer.
const AUTH_MESSAGE: &str = "Authentication required. Please provide a valid API key or sign in.";

// ---------------------------------------------------------------- log information

/// What a handler tells the log about its request (a response extension).
#[derive(Debug, Clone, Default)]
pub(crate) struct LogInfo {
    pub idempotency_key: Option<String>,
    pub model: Option<String>,
    pub task_id: Option<String>,
    pub created_task: Option<String>,
    pub asset_id: Option<String>,
    pub created_asset: Option<String>,
    pub replay: bool,
    pub fault: Option<String>,
}

/// Attaches what the log should record about this request to `response`.
pub(crate) fn with_info(mut response: Response, info: LogInfo) -> Response {
    response.extensions_mut().insert(info);
    response
}

// ---------------------------------------------------------------- bodies

/// `body` as JSON with `status`.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let bytes = serde_json::to_vec(body).expect("response types serialise");
    json_bytes(status, Bytes::from(bytes))
}

/// Already serialised JSON with `status`.
pub(crate) fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    (status, [(CONTENT_TYPE, "application/json")], body).into_response()
}

/// APIPod's error envelope `{code, message, data: {type, error_code}}`.
pub(crate) fn envelope_error(
    status: StatusCode,
    type_: &str,
    error_code: &str,
    message: impl Into<String>,
) -> Response {
    json_response(
        status,
        &ErrorResponse {
            code: Some(i64::from(status.as_u16())),
            message: Some(message.into()),
            data: Some(ErrorData {
                type_: Some(type_.into()),
                error_code: Some(error_code.into()),
            }),
            error: None,
        },
    )
}

/// 400 `invalid_request` with `message` (naming the field at fault).
pub(crate) fn invalid_request(message: impl Into<String>) -> Response {
    envelope_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        "invalid_request",
        message,
    )
}

/// The OpenAI-style 401 answer.
pub(crate) fn auth_error() -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        &ErrorResponse {
            code: None,
            message: None,
            data: None,
            error: Some(ErrorDetail {
                message: Some(AUTH_MESSAGE.into()),
                type_: Some("invalid_request_error".into()),
                code: Some("invalid_api_key".into()),
            }),
        },
    )
}

/// Adds `Retry-After: seconds`.
pub(crate) fn with_retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// `(type, error_code, message)` APIPod uses for an HTTP status.
fn error_kind(status: u16) -> (&'static str, &'static str, &'static str) {
    match status {
        400 => (
            "invalid_request_error",
            "invalid_request",
            "Invalid request",
        ),
        402 => (
            "insufficient_quota",
            "insufficient_quota",
            "Insufficient quota",
        ),
        403 => (
            "permission_error",
            "forbidden",
            "This API key may not use this resource",
        ),
        404 => ("invalid_request_error", "not_found", "Not found"),
        409 => (
            "invalid_request_error",
            "idempotency_conflict",
            "Idempotency-Key was already used with a different request body",
        ),
        429 => (
            "rate_limit_error",
            "rate_limit_exceeded",
            "Rate limit exceeded",
        ),
        503 => (
            "api_error",
            "service_unavailable",
            "The service is temporarily unavailable; retry with the same Idempotency-Key",
        ),
        504 => (
            "api_error",
            "upstream_timeout",
            "The upstream provider did not answer in time",
        ),
        s if s >= 500 => ("api_error", "internal_error", "Internal server error"),
        _ => (
            "invalid_request_error",
            "invalid_request",
            "Request refused",
        ),
    }
}

/// An injected HTTP error.
pub(crate) fn injected_error(status: u16, retry_after: u64) -> Response {
    if status == 401 {
        return auth_error();
    }
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (type_, error_code, message) = error_kind(code.as_u16());
    let response = envelope_error(code, type_, error_code, message);
    if matches!(status, 429 | 503) {
        with_retry_after(response, retry_after)
    } else {
        response
    }
}

/// An injected business error: HTTP 200 whose body carries error `code`.
pub(crate) fn business_error(code: i64, op: Op) -> Response {
    let (type_, error_code, message) = u16::try_from(code).map(error_kind).unwrap_or((
        "api_error",
        "internal_error",
        "Request failed",
    ));
    match op {
        Op::Create => json_response(
            StatusCode::OK,
            &SubmitTaskResponse {
                code,
                message: message.into(),
                data: SubmitTaskData {
                    task_id: None,
                    type_: Some(type_.into()),
                    error_code: Some(error_code.into()),
                },
            },
        ),
        Op::Status => json_response(
            StatusCode::OK,
            &ErrorResponse {
                code: Some(code),
                message: Some(message.into()),
                data: Some(ErrorData {
                    type_: Some(type_.into()),
                    error_code: Some(error_code.into()),
                }),
                error: None,
            },
        ),
    }
}

/// A response whose body fails before its first byte: hyper then closes the connection
/// without sending anything, so the client sees a transport error.
pub(crate) fn dropped_connection() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, io::Error>(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "connection dropped on purpose by the mock",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from_stream(failing))
        .expect("static response parts")
}

/// HTTP 200 with a truncated JSON body.
pub(crate) fn malformed_body() -> Response {
    json_bytes(
        StatusCode::OK,
        Bytes::from_static(br#"{"code":200,"message":"success","data":{"task_id":"#),
    )
}

/// 404 `task_not_found` (also for another key's task).
pub(crate) fn task_not_found(task_id: &str) -> Response {
    envelope_error(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "task_not_found",
        format!("task {task_id:?} does not exist or belongs to another API key"),
    )
}
