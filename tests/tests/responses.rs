//! The generated client decodes every documented response shape: task states through the
//! status calls, business errors inside HTTP 200 bodies, and HTTP errors (which arrive
//! untyped, with status, headers and body intact).

use apipod_raw::contract::TaskKind;
use apipod_raw::{ApiKey, Client, ClientState, TaskStatus, types};
use apipod_tests::{create_path, status_path};
use httpmock::{Method, MockServer};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const KEY: &str = "sk-responses-test-key";

fn client(server: &MockServer) -> Client {
    Client::new(&server.base_url(), ClientState::new(ApiKey::new(KEY)))
}

/// Serves `body` (HTTP 200) for a status read of `task_id`, reads it with the client and
/// returns the decoded response. Also checks the request and the `X-Request-ID` header.
async fn read_task(
    kind: TaskKind,
    task_id: &str,
    body: Value,
) -> apipod_raw::ResponseValue<types::TaskStatusResponse> {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path(status_path(kind, task_id))
                .header("authorization", format!("Bearer {KEY}"))
                .header("accept", "application/json")
                .header_prefix("user-agent", "apipod-rs/")
                .header_missing("api-version");
            then.status(200)
                .header("content-type", "application/json")
                .header("x-request-id", format!("req-{task_id}"))
                .json_body(body);
        })
        .await;
    let client = client(&server);
    let result = match kind {
        TaskKind::Image => client.get_image_task(task_id).await,
        TaskKind::Video => client.get_video_task(task_id).await,
    };
    mock.assert_async().await;
    let response = result.unwrap_or_else(|e| panic!("{task_id}: {e}"));
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-request-id"],
        format!("req-{task_id}").as_str()
    );
    assert_eq!(response.code, 200);
    assert_eq!(response.message, "success");
    assert_eq!(response.data.task_id, task_id);
    response
}

fn envelope(data: Value) -> Value {
    json!({"code": 200, "message": "success", "data": data})
}

#[tokio::test]
async fn pending_task() {
    let state = read_task(
        TaskKind::Image,
        "img-pending",
        envelope(json!({"task_id": "img-pending", "status": "pending"})),
    )
    .await;
    let task = state.into_inner().data;
    assert_eq!(task.status, TaskStatus::Pending);
    assert!(!task.status.is_terminal());
    assert_eq!(task.progress, None);
    assert_eq!(task.result, None);
    assert_eq!(task.completed_at, None);
    assert_eq!(
        (task.error, task.error_code, task.error_message),
        (None, None, None)
    );
}

#[tokio::test]
async fn processing_task_with_progress() {
    let body = envelope(json!({"task_id": "vid-running", "status": "processing", "progress": 42}));
    let task = read_task(TaskKind::Video, "vid-running", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Processing);
    assert!(!task.status.is_terminal());
    assert_eq!(task.progress, Some(42));
    assert_eq!(task.result, None);
}

#[tokio::test]
async fn completed_image_task_lists_urls() {
    let body = envelope(json!({
        "task_id": "img_task_01JEXAMPLE",
        "status": "completed",
        "progress": 100,
        "result": ["https://cdn.example.com/generated.png", "https://cdn.example.com/generated-2.png"],
        "completed_at": 1786358400,
    }));
    let task = read_task(TaskKind::Image, "img_task_01JEXAMPLE", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Completed);
    assert!(task.status.is_terminal());
    assert_eq!(task.progress, Some(100));
    assert_eq!(task.completed_at, Some(1_786_358_400));
    assert_eq!(
        task.result,
        Some(types::TaskResult::Array(vec![
            "https://cdn.example.com/generated.png".into(),
            "https://cdn.example.com/generated-2.png".into(),
        ]))
    );
}

#[tokio::test]
async fn completed_veo_task_reports_one_object() {
    let body = envelope(json!({
        "task_id": "vid_task_01JEXAMPLE",
        "status": "completed",
        "result": {"url": "https://cdn.example.com/generated.mp4", "width": 1280, "height": 720, "duration": 8.0},
        "completed_at": 1786358400,
    }));
    let task = read_task(TaskKind::Video, "vid_task_01JEXAMPLE", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Completed);
    let Some(types::TaskResult::VeoVideoResult(video)) = task.result else {
        panic!("expected Veo's object result, got {:?}", task.result);
    };
    assert_eq!(video.url, "https://cdn.example.com/generated.mp4");
    assert_eq!(video.width, Some(1280));
    assert_eq!(video.height, Some(720));
    assert_eq!(video.duration, Some(8.0));
}

#[tokio::test]
async fn failed_image_task_reports_code_and_message() {
    let body = envelope(json!({
        "task_id": "img-failed",
        "status": "failed",
        "error_code": "UPSTREAM_CAPACITY_EXHAUSTED",
        "error_message": "Upstream request failed. Please retry later.",
    }));
    let task = read_task(TaskKind::Image, "img-failed", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Failed);
    assert!(task.status.is_terminal());
    assert_eq!(
        task.error_code.as_deref(),
        Some("UPSTREAM_CAPACITY_EXHAUSTED")
    );
    assert_eq!(
        task.error_message.as_deref(),
        Some("Upstream request failed. Please retry later.")
    );
    assert_eq!(task.error, None);
    assert_eq!(task.result, None);
}

#[tokio::test]
async fn failed_video_task_reports_error() {
    let body = envelope(
        json!({"task_id": "vid-failed", "status": "failed", "error": "Content policy violation."}),
    );
    let task = read_task(TaskKind::Video, "vid-failed", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Failed);
    assert_eq!(task.error.as_deref(), Some("Content policy violation."));
    assert_eq!((task.error_code, task.error_message), (None, None));
}

#[tokio::test]
async fn cancelled_task() {
    let body = envelope(json!({"task_id": "vid-cancelled", "status": "cancelled"}));
    let task = read_task(TaskKind::Video, "vid-cancelled", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Cancelled);
    assert!(task.status.is_terminal());
}

#[tokio::test]
async fn unknown_status_is_kept_not_refused() {
    let body = envelope(json!({"task_id": "img-new", "status": "finalizing", "progress": 99}));
    let task = read_task(TaskKind::Image, "img-new", body)
        .await
        .into_inner()
        .data;
    assert_eq!(task.status, TaskStatus::Unknown("finalizing".into()));
    assert!(task.status.is_unknown());
    assert!(!task.status.is_terminal());
    assert_eq!(task.status.as_str(), "finalizing");
    assert_eq!(task.progress, Some(99));
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let body = json!({
        "code": 200,
        "message": "success",
        "request_id": "req_example_request_id",
        "data": {
            "task_id": "img-extra",
            "status": "completed",
            "result": ["https://cdn.example.com/a.png"],
            "created_at": "2026-08-10T09:00:00Z",
            "model": "seedream-v4.5",
            "cost": {"amount": "0.03", "currency": "USD"},
        },
    });
    let state = read_task(TaskKind::Image, "img-extra", body)
        .await
        .into_inner();
    assert_eq!(state.data.status, TaskStatus::Completed);
    assert_eq!(
        state.data.result,
        Some(types::TaskResult::Array(vec![
            "https://cdn.example.com/a.png".into()
        ]))
    );
    // Dropped, not kept: the typed value re-encodes to the documented fields only.
    assert_eq!(
        serde_json::to_value(&state).unwrap(),
        envelope(
            json!({"task_id": "img-extra", "status": "completed", "result": ["https://cdn.example.com/a.png"]})
        )
    );
}

#[tokio::test]
async fn task_ids_are_escaped_into_one_path_segment() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/v1/videos/status/a%2Fb%20c%3Fd");
            then.status(200)
                .json_body(envelope(json!({"task_id": "a/b c?d", "status": "pending"})));
        })
        .await;
    let result = client(&server).get_video_task("a/b c?d").await;
    mock.assert_async().await;
    assert_eq!(result.unwrap().data.task_id, "a/b c?d");
}

/// Serves `status` with `headers` and `body` for an image create and returns the client's
/// result.
async fn create_answered_with(
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<apipod_raw::ResponseValue<types::SubmitTaskResponse>, apipod_raw::Error> {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST).path(create_path(TaskKind::Image));
            let mut then = then.status(status);
            for (name, value) in headers {
                then = then.header(*name, *value);
            }
            then.body(body);
        })
        .await;
    let request: types::ImageGenerationRequest = serde_json::from_value(
        json!({"model": "seedream-v4.5", "prompt": "A lighthouse at dawn."}),
    )
    .unwrap();
    let key = "responses-01JEXAMPLE".parse().unwrap();
    let result = client(&server)
        .create_image_generation(Some(&key), &request)
        .await;
    mock.assert_async().await;
    result
}

/// The parts of an error response, taken from `Error::UnexpectedResponse`.
async fn unexpected(error: apipod_raw::Error) -> (StatusCode, HeaderMap, Vec<u8>) {
    assert!(
        matches!(error, apipod_raw::Error::UnexpectedResponse(_)),
        "error responses are untyped; got {error:?}"
    );
    let status = error.status();
    let apipod_raw::Error::UnexpectedResponse(response) = error else {
        unreachable!()
    };
    assert_eq!(
        status,
        Some(response.status()),
        "Error::status() reports the HTTP status"
    );
    let headers = response.headers().clone();
    let status = response.status();
    let body = response
        .bytes()
        .await
        .expect("the error body is readable")
        .to_vec();
    (status, headers, body)
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn quota_error_inside_http_200_decodes_as_submit_response() {
    let body = r#"{"code":402,"message":"Insufficient quota","data":{"type":"insufficient_quota","error_code":"insufficient_quota"}}"#;
    let response = create_answered_with(200, &[JSON, ("x-request-id", "req-402")], body)
        .await
        .expect("a 200 with a full envelope decodes");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-402");
    assert_eq!(response.code, 402);
    assert_eq!(response.message, "Insufficient quota");
    assert_eq!(response.data.task_id, None);
    assert_eq!(
        response.data.error_code.as_deref(),
        Some("insufficient_quota")
    );
    assert_eq!(response.data.type_.as_deref(), Some("insufficient_quota"));
}

/// A 200 whose body has no `data` does not fit `SubmitTaskResponse` (where `data` is
/// required). The client reports `InvalidResponsePayload` with the raw bytes; that is the
/// fallback the SDK uses: it decodes those bytes as `ErrorResponse` and reports the `code`.
#[tokio::test]
async fn error_envelope_without_data_inside_http_200_is_an_invalid_payload() {
    let result = create_answered_with(200, &[JSON], r#"{"code":402,"message":"x"}"#).await;
    let Err(apipod_raw::Error::InvalidResponsePayload(bytes, cause)) = result else {
        panic!("expected InvalidResponsePayload, got {result:?}");
    };
    assert!(
        cause.to_string().contains("missing field `data`"),
        "{cause}"
    );
    let fallback: types::ErrorResponse =
        serde_json::from_slice(&bytes).expect("the bytes are an ErrorResponse");
    assert_eq!(fallback.code, Some(402));
    assert_eq!(fallback.message.as_deref(), Some("x"));
    assert_eq!(fallback.data, None);
    assert_eq!(fallback.error, None);
}

#[tokio::test]
async fn unauthorized_arrives_with_the_openai_style_body() {
    let body = r#"{"error":{"message":"Authentication required. Please provide a valid API key or sign in.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let error = create_answered_with(401, &[JSON, ("x-request-id", "req-401")], body)
        .await
        .unwrap_err();
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, 401);
    assert_eq!(headers["x-request-id"], "req-401");
    let decoded: types::ErrorResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        decoded,
        types::ErrorResponse {
            code: None,
            message: None,
            data: None,
            error: Some(types::ErrorDetail {
                message: Some(
                    "Authentication required. Please provide a valid API key or sign in.".into()
                ),
                type_: Some("invalid_request_error".into()),
                code: Some("invalid_api_key".into()),
            }),
        }
    );
}

#[tokio::test]
async fn rate_limit_arrives_with_retry_after_and_the_apipod_envelope() {
    let body = r#"{"code":429,"message":"Rate limit exceeded","data":{"type":"rate_limit_error","error_code":"rate_limit_exceeded"}}"#;
    let headers = [JSON, ("retry-after", "7"), ("x-request-id", "req-429")];
    let error = create_answered_with(429, &headers, body).await.unwrap_err();
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, 429);
    assert_eq!(headers["retry-after"], "7");
    assert_eq!(headers["x-request-id"], "req-429");
    let decoded: types::ErrorResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(decoded.code, Some(429));
    assert_eq!(decoded.message.as_deref(), Some("Rate limit exceeded"));
    let data = decoded.data.expect("the envelope's data");
    assert_eq!(data.type_.as_deref(), Some("rate_limit_error"));
    assert_eq!(data.error_code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(decoded.error, None);
}

#[tokio::test]
async fn idempotency_in_progress_arrives_with_retry_after() {
    let body = r#"{"code":409,"message":"A request with this Idempotency-Key is still in progress","data":{"error_code":"idempotency_in_progress"}}"#;
    let error = create_answered_with(409, &[JSON, ("retry-after", "1")], body)
        .await
        .unwrap_err();
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, 409);
    assert_eq!(headers["retry-after"], "1");
    let decoded: types::ErrorResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        decoded.data.and_then(|d| d.error_code).as_deref(),
        Some("idempotency_in_progress")
    );
}

#[tokio::test]
async fn server_error_arrives_with_its_envelope() {
    let body =
        r#"{"code":500,"message":"Internal server error","data":{"error_code":"internal_error"}}"#;
    let error = create_answered_with(500, &[JSON, ("x-request-id", "req-500")], body)
        .await
        .unwrap_err();
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-request-id"], "req-500");
    let decoded: types::ErrorResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(decoded.code, Some(500));
    assert_eq!(decoded.message.as_deref(), Some("Internal server error"));
    assert_eq!(
        decoded.data.and_then(|d| d.error_code).as_deref(),
        Some("internal_error")
    );
}

/// Why error responses are untyped: a proxy's HTML 502 does not decode as `ErrorResponse`,
/// and a typed error would have turned it into a decode error without the HTTP status.
#[tokio::test]
async fn html_bad_gateway_keeps_its_status() {
    let html = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let error = create_answered_with(502, &[("content-type", "text/html")], html)
        .await
        .unwrap_err();
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(headers["content-type"], "text/html");
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), html);
    assert!(serde_json::from_slice::<types::ErrorResponse>(&bytes).is_err());
}

#[tokio::test]
async fn status_read_of_an_unknown_task_arrives_as_a_bare_envelope() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path(status_path(TaskKind::Video, "vid-missing"));
            then.status(404)
                .header("content-type", "application/json")
                .header("x-request-id", "req-404")
                .body(r#"{"code":404,"message":"task not found"}"#);
        })
        .await;
    let error = client(&server)
        .get_video_task("vid-missing")
        .await
        .unwrap_err();
    mock.assert_async().await;
    let (status, headers, bytes) = unexpected(error).await;
    assert_eq!(status, 404);
    assert_eq!(headers["x-request-id"], "req-404");
    let decoded: types::ErrorResponse = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (decoded.code, decoded.message.as_deref()),
        (Some(404), Some("task not found"))
    );
}
