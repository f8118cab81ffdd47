//! Callbacks: parsing, route tokens, the receiver, confirmation by re-fetch, and waits
//! woken by callbacks. Run with `--features callback-server`.
//!
//! Every server here runs on 127.0.0.1 with an ephemeral port.

#![cfg(feature = "callback-server")]

use std::time::{Duration, SystemTime};

use apipod::callback_server::CallbackReceiver;
use apipod::{
    CallbackError, CallbackEvent, CallbackHub, CallbackTokens, Client, Error, MAX_CALLBACK_BODY,
    PollPolicy, RetryPolicy, TaskHandle, TaskKind, TaskStatus, WaitOptions,
};
use futures::FutureExt;
use httpmock::MockServer;
use serde_json::json;

const SECRET: &str = "test secret: 32 bytes or more of randomness in real use";

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

// 2026-08-10T09:00:00Z and 2026-08-10T09:01:30Z.
const CREATED: u64 = 1_786_352_400;
const COMPLETED: u64 = CREATED + 90;

#[test]
fn parses_the_documented_completed_and_failed_bodies() {
    let completed = CallbackEvent::parse(
        br#"{
          "task_id": "img_example_task_id",
          "request_id": "req_example_request_id",
          "status": "completed",
          "result": ["https://example.com/generated-image.png"],
          "created_at": "2026-08-10T09:00:00Z",
          "completed_at": "2026-08-10T09:01:30Z"
        }"#,
    )
    .unwrap();
    assert_eq!(completed.task_id, "img_example_task_id");
    assert_eq!(
        completed.request_id.as_deref(),
        Some("req_example_request_id")
    );
    assert_eq!(completed.status, TaskStatus::Completed);
    let urls: Vec<String> = completed.outputs().into_iter().map(|o| o.url).collect();
    assert_eq!(urls, ["https://example.com/generated-image.png"]);
    assert_eq!(completed.created_at, Some(at(CREATED)));
    assert_eq!(completed.completed_at, Some(at(COMPLETED)));
    assert!(completed.extra.is_empty());
    assert_eq!(completed.failure_message(), None);

    let failed = CallbackEvent::parse(
        br#"{
          "task_id": "img_example_task_id",
          "request_id": "req_example_request_id",
          "status": "failed",
          "error": "Upstream request failed. Please retry later.",
          "error_code": "UPSTREAM_CAPACITY_EXHAUSTED",
          "created_at": "2026-08-10T09:00:00Z",
          "completed_at": "2026-08-10T09:01:30Z"
        }"#,
    )
    .unwrap();
    assert_eq!(failed.status, TaskStatus::Failed);
    assert_eq!(
        failed.error_code.as_deref(),
        Some("UPSTREAM_CAPACITY_EXHAUSTED")
    );
    assert_eq!(
        failed.failure_message(),
        Some("Upstream request failed. Please retry later.")
    );
    assert!(!failed.has_result());
    assert!(failed.outputs().is_empty());
    assert_eq!(failed.completed_at, Some(at(COMPLETED)));
}

#[test]
fn timestamps_in_both_forms() {
    let read = |value: serde_json::Value| {
        let body = json!({"task_id": "t", "status": "completed", "completed_at": value});
        CallbackEvent::parse(body.to_string().as_bytes()).unwrap()
    };
    let t = at(COMPLETED);
    for value in [
        json!("2026-08-10T09:01:30Z"),
        json!("2026-08-10T11:01:30+02:00"),
        json!("2026-08-10T04:31:30-0430"),
        json!(COMPLETED),
        json!(COMPLETED as f64),
        json!(COMPLETED * 1000),
        json!(COMPLETED.to_string()),
    ] {
        let event = read(value.clone());
        assert_eq!(event.completed_at, Some(t), "{value}");
        assert!(event.extra.is_empty(), "{value}");
    }
    assert_eq!(
        read(json!("2026-08-10T09:01:30.125Z")).completed_at,
        Some(t + Duration::from_millis(125))
    );
    assert_eq!(
        read(json!(COMPLETED as f64 + 0.5)).completed_at,
        Some(t + Duration::from_millis(500))
    );
    // Unreadable timestamps do not fail the delivery; they are kept as sent.
    let odd = read(json!("next tuesday"));
    assert_eq!(odd.completed_at, None);
    assert_eq!(odd.extra["completed_at"], json!("next tuesday"));
}

#[test]
fn the_status_envelope_is_unwrapped() {
    let event = CallbackEvent::parse(
        br#"{"code":200,"message":"success","data":{"task_id":"vid_1","status":"processing","progress":40,"completed_at":1786352490}}"#,
    )
    .unwrap();
    assert_eq!(event.task_id, "vid_1");
    assert_eq!(event.status, TaskStatus::Processing);
    assert_eq!(event.progress, Some(40));
    assert_eq!(event.completed_at, Some(at(COMPLETED)));
}

#[test]
fn unknown_fields_and_statuses_are_kept() {
    let event = CallbackEvent::parse(
        br#"{"task_id":"vid_2","status":"awaiting_review","model":"veo3-1-fast",
             "result":{"url":"https://cdn.example.com/v.mp4","width":1280,"height":720,"duration":8.0},
             "progress":"soon","error_code":null}"#,
    )
    .unwrap();
    assert_eq!(event.status, TaskStatus::Unknown("awaiting_review".into()));
    assert_eq!(event.extra["model"], json!("veo3-1-fast"));
    assert_eq!(event.extra["progress"], json!("soon"));
    assert_eq!(event.progress, None);
    assert_eq!(event.error_code, None);
    let outputs = event.outputs();
    assert_eq!(outputs.len(), 1, "{outputs:?}");
    assert_eq!(outputs[0].url, "https://cdn.example.com/v.mp4");
    assert_eq!(outputs[0].width, Some(1280));
}

#[test]
fn oversized_bodies_are_rejected() {
    let padding = "x".repeat(MAX_CALLBACK_BODY);
    let body = json!({"task_id": "t", "status": "completed", "pad": padding}).to_string();
    assert_eq!(
        CallbackEvent::parse(body.as_bytes()),
        Err(CallbackError::TooLarge {
            limit: MAX_CALLBACK_BODY
        })
    );
    assert_eq!(CallbackError::TooLarge { limit: 1 }.http_status(), 413);
    // Right at the limit is fine.
    let fill = MAX_CALLBACK_BODY - r#"{"task_id":"t","status":"completed","pad":""}"#.len();
    let body = json!({"task_id": "t", "status": "completed", "pad": "y".repeat(fill)}).to_string();
    assert_eq!(body.len(), MAX_CALLBACK_BODY);
    assert!(CallbackEvent::parse(body.as_bytes()).is_ok());
}

#[test]
fn malformed_bodies_are_rejected_with_an_excerpt() {
    let cases: [(&[u8], &str); 5] = [
        (b"<html>502 Bad Gateway</html>", "not JSON"),
        (b"[1,2,3]", "not a JSON object"),
        (br#"{"status":"completed"}"#, "task_id"),
        (br#"{"task_id":"t"}"#, "status"),
        (br#"{"task_id":"t","status":42}"#, "status"),
    ];
    for (body, reason_part) in cases {
        match CallbackEvent::parse(body) {
            Err(CallbackError::Malformed { reason, excerpt }) => {
                assert!(reason.contains(reason_part), "{reason}");
                let body = String::from_utf8_lossy(body);
                assert!(
                    body.starts_with(&excerpt) && !excerpt.is_empty(),
                    "{excerpt}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
    let err: Error = CallbackEvent::parse(b"nope").unwrap_err().into();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    assert!(err.to_string().contains("nope"), "{err}");
}

fn status_body(task_id: &str, status: &str) -> serde_json::Value {
    let mut data = json!({"task_id": task_id, "status": status});
    if status == "completed" {
        data["result"] = json!(["https://cdn.example.com/out.png"]);
        data["completed_at"] = json!(COMPLETED);
    }
    json!({"code": 200, "message": "success", "data": data})
}

fn client_for(server: &MockServer, hub: Option<CallbackHub>) -> Client {
    let mut builder = Client::builder()
        .api_key("sk-test-key")
        .base_url(server.base_url())
        .retry_policy(RetryPolicy::none());
    if let Some(hub) = hub {
        builder = builder.callbacks(hub);
    }
    builder.build().unwrap()
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

async fn deliver(url: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("user-agent", "APIPod-Callback/1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn completed_callback(task_id: &str) -> String {
    json!({
        "task_id": task_id, "request_id": "req_1", "status": "completed",
        "result": ["https://cdn.example.com/out.png"],
        "created_at": "2026-08-10T09:00:00Z", "completed_at": "2026-08-10T09:01:30Z"
    })
    .to_string()
}

#[test]
fn tokens_never_show_their_secret() {
    let tokens = CallbackTokens::new(SECRET);
    let shown = format!("{tokens:?}");
    assert!(
        !shown.contains(SECRET) && shown.contains("redacted"),
        "{shown}"
    );
    let key = CallbackTokens::submission_key();
    let url = tokens.callback_url_for("https://example.com/cb", TaskKind::Image, &key);
    let token = url.rsplit('/').next().unwrap();
    assert!(token.len() * 4 >= 128, "at least 128 bits");
    assert!(tokens.verify_route(TaskKind::Image, &key, token));
    assert!(!CallbackTokens::new("another secret").verify_route(TaskKind::Image, &key, token));
    assert!(!tokens.verify_route(TaskKind::Image, "another-key", token));
}

#[tokio::test]
async fn wrong_tokens_get_404_and_wake_nothing() {
    let server = MockServer::start_async().await;
    let hub = CallbackHub::new();
    let client = client_for(&server, Some(hub.clone()));
    let tokens = CallbackTokens::new(SECRET);
    let receiver = CallbackReceiver::new(client, tokens.clone()).with_prefix("/hooks/apipod/");
    let base = serve(receiver.router()).await;
    let key = "submission key/with slash";
    let good = tokens.callback_url_for(&format!("{base}/hooks/apipod"), TaskKind::Image, key);
    let mut waiting = hub.subscribe("img_1");

    let forged = CallbackTokens::new("guess").callback_url_for(
        &format!("{base}/hooks/apipod"),
        TaskKind::Image,
        key,
    );
    let wrong_kind = good.replace("/image/", "/video/");
    let bad_kind = good.replace("/image/", "/audio/");
    let truncated = &good[..good.len() - 1];
    for url in [forged.as_str(), &wrong_kind, &bad_kind, truncated] {
        let (status, body) = deliver(url, completed_callback("img_1")).await;
        assert_eq!(status, 404, "{url}");
        assert!(body.is_empty(), "a refused token reveals nothing: {body:?}");
        assert!(waiting.changed().now_or_never().is_none(), "woken by {url}");
    }
    assert!(receiver.deduplicator().is_empty());

    let (status, _) = deliver(&good, completed_callback("img_1")).await;
    assert_eq!(status, 200);
    assert!(waiting.changed().now_or_never().is_some());
}

#[tokio::test]
async fn oversized_and_malformed_deliveries_are_refused() {
    let server = MockServer::start_async().await;
    let tokens = CallbackTokens::new(SECRET);
    let receiver = CallbackReceiver::new(client_for(&server, None), tokens.clone());
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Video, "k1");

    let big = json!({"task_id": "t", "status": "completed", "pad": "x".repeat(MAX_CALLBACK_BODY)})
        .to_string();
    let (status, _) = deliver(&url, big.clone()).await;
    assert_eq!(status, 413);
    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures::stream::iter(
        big.into_bytes()
            .chunks(4096)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let (status, _) = deliver(&url, reqwest::Body::wrap_stream(chunks)).await;
    assert_eq!(status, 413);

    let (status, body) = deliver(&url, "{\"task_id\": ").await;
    assert_eq!(status, 400);
    assert!(body.contains("not JSON"), "{body}");
    assert!(receiver.deduplicator().is_empty());
}

#[tokio::test]
async fn each_distinct_delivery_is_confirmed_once_by_refetching() {
    let server = MockServer::start_async().await;
    let status = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_7");
            then.status(200)
                .json_body(status_body("img_7", "completed"));
        })
        .await;
    let tokens = CallbackTokens::new(SECRET);
    let receiver = CallbackReceiver::new(client_for(&server, None), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Image, "key-7");

    // The body claims a result the task does not have: only the re-read counts.
    let claimed = json!({"task_id": "img_7", "status": "completed", "result": ["https://evil.example/x.png"]})
        .to_string();
    assert_eq!(deliver(&url, claimed.clone()).await, (200, "ok".into()));
    let confirmed = events.recv().await.unwrap();
    assert_eq!(status.calls_async().await, 1);
    assert_eq!(confirmed.kind, TaskKind::Image);
    assert_eq!(confirmed.submission_key, "key-7");
    assert_eq!(confirmed.snapshot.task_id(), "img_7");
    assert_eq!(confirmed.snapshot.status(), &TaskStatus::Completed);
    assert_eq!(
        confirmed.snapshot.outputs()[0].url,
        "https://cdn.example.com/out.png"
    );
    assert_eq!(
        confirmed.event.outputs()[0].url,
        "https://evil.example/x.png"
    );

    // A replay is acknowledged and dropped.
    assert_eq!(deliver(&url, claimed).await, (200, "duplicate".into()));
    // A different event for the same task is handled.
    let failed = json!({"task_id": "img_7", "status": "failed", "error": "x"}).to_string();
    assert_eq!(deliver(&url, failed.clone()).await, (200, "ok".into()));
    let second = events.recv().await.unwrap();
    assert_eq!(second.event.status, TaskStatus::Failed);
    assert_eq!(
        second.snapshot.status(),
        &TaskStatus::Completed,
        "the task's word wins"
    );
    assert_eq!(status.calls_async().await, 2);
    assert_eq!(deliver(&url, failed).await, (200, "duplicate".into()));
    assert!(events.try_recv().is_err());
    assert_eq!(status.calls_async().await, 2);
}

#[tokio::test]
async fn unconfirmed_deliveries_are_not_published_and_can_be_redelivered() {
    let server = MockServer::start_async().await;
    let unknown = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/videos/status/vid_x");
            then.status(404).json_body(json!({
                "code": 404, "message": "task not found",
                "data": {"type": "invalid_request_error", "error_code": "task_not_found"}
            }));
        })
        .await;
    let tokens = CallbackTokens::new(SECRET);
    let receiver = CallbackReceiver::new(client_for(&server, None), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Video, "key-x");
    let body = completed_callback("vid_x");

    for attempt in 1..=2 {
        assert_eq!(deliver(&url, body.clone()).await.0, 200);
        // The failed confirmation makes the receiver forget the delivery.
        tokio::time::timeout(Duration::from_secs(30), async {
            while !receiver.deduplicator().is_empty() || unknown.calls_async().await < attempt {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("confirmation finished");
        assert_eq!(unknown.calls_async().await, attempt);
    }
    assert!(
        events.try_recv().is_err(),
        "nothing unconfirmed is published"
    );
}

#[tokio::test]
async fn confirm_rejects_tasks_unknown_to_the_key() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_other");
            then.status(404)
                .json_body(json!({"code": 404, "message": "task not found"}));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_swapped");
            then.status(200)
                .json_body(status_body("img_else", "completed"));
        })
        .await;
    let client = client_for(&server, None);
    let event = CallbackEvent::parse(completed_callback("img_other").as_bytes()).unwrap();
    let err = client.confirm(TaskKind::Image, &event).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");

    let event = CallbackEvent::parse(completed_callback("img_swapped").as_bytes()).unwrap();
    let err = client.confirm(TaskKind::Image, &event).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

/// A wait with a callback URL polls slowly; the callback wakes it and it finishes on the
/// next read. The deadline (30 s) is shorter than the slow poll (60 s), so without the
/// callback the wait could only end in a timeout.
#[tokio::test]
async fn a_callback_finishes_a_waiting_task_at_once() {
    let server = MockServer::start_async().await;
    let processing = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_hybrid");
            then.status(200)
                .json_body(status_body("img_hybrid", "processing"));
        })
        .await;
    let hub = CallbackHub::new();
    let client = client_for(&server, Some(hub));
    let tokens = CallbackTokens::new(SECRET);
    let receiver = CallbackReceiver::new(client.clone(), tokens.clone());
    let base = serve(receiver.router()).await;
    let key = CallbackTokens::submission_key();
    let mut handle = TaskHandle::from_id(TaskKind::Image, "img_hybrid");
    handle.callback_url = Some(tokens.callback_url_for(&base, TaskKind::Image, &key));
    handle.idempotency_key = key;

    let options = WaitOptions::timeout(Duration::from_secs(30))
        .with_poll(PollPolicy::Fixed(Duration::from_secs(600)));
    let task = client.task(handle.clone());
    let wait = tokio::spawn(async move { task.wait_with(options).await });

    // Let the first read happen, then the task completes and APIPod calls back.
    while processing.calls_async().await == 0 {
        tokio::task::yield_now().await;
    }
    let first_reads = processing.calls_async().await;
    processing.delete_async().await;
    let completed = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_hybrid");
            then.status(200)
                .json_body(status_body("img_hybrid", "completed"));
        })
        .await;
    let (status, _) = deliver(
        handle.callback_url.as_deref().unwrap(),
        completed_callback("img_hybrid"),
    )
    .await;
    assert_eq!(status, 200);

    let done = wait.await.unwrap().expect("the callback ends the wait");
    assert_eq!(done.task_id(), "img_hybrid");
    assert_eq!(done.outputs().len(), 1);
    assert_eq!(first_reads, 1);
    // Nothing subscribes to the receiver's events, so the only read after the callback
    // is the wait's own.
    assert_eq!(
        completed.calls_async().await,
        1,
        "one read after the callback"
    );
}
