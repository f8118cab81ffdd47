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
    let tokens = CallbackTokens::new(SECRET).unwrap();
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
    assert!(
        !CallbackTokens::new(format!("another {SECRET}"))
            .unwrap()
            .verify_route(TaskKind::Image, &key, token)
    );
    assert!(!tokens.verify_route(TaskKind::Image, "another-key", token));
}

#[tokio::test]
async fn wrong_tokens_get_404_and_wake_nothing() {
    let server = MockServer::start_async().await;
    let hub = CallbackHub::new();
    let client = client_for(&server, Some(hub.clone()));
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client, tokens.clone()).with_prefix("/hooks/apipod/");
    let base = serve(receiver.router()).await;
    let key = "submission key/with slash";
    let good = tokens.callback_url_for(&format!("{base}/hooks/apipod"), TaskKind::Image, key);
    let mut waiting = hub.subscribe("img_1");

    let forged = CallbackTokens::new(format!("a guess at {SECRET}"))
        .unwrap()
        .callback_url_for(&format!("{base}/hooks/apipod"), TaskKind::Image, key);
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
    let tokens = CallbackTokens::new(SECRET).unwrap();
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
    let tokens = CallbackTokens::new(SECRET).unwrap();
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
    assert_eq!(status.calls_async().await, 1);
    // A different event for the same task is confirmed again; the task's word wins, so a
    // status it does not have is not delivered (and every redelivery is checked again).
    let failed = json!({"task_id": "img_7", "status": "failed", "error": "x"}).to_string();
    assert_eq!(deliver(&url, failed.clone()).await.0, 503);
    assert_eq!(status.calls_async().await, 2);
    assert_eq!(deliver(&url, failed).await.0, 503);
    assert_eq!(status.calls_async().await, 3);
    assert!(events.try_recv().is_err());
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
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client_for(&server, None), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Video, "key-x");
    let body = completed_callback("vid_x");

    for attempt in 1..=2 {
        // Not confirmed: answered so that APIPod delivers it again, and not remembered.
        let (code, text) = deliver(&url, body.clone()).await;
        assert_eq!(code, 503, "{text}");
        assert!(
            !text.contains("not found"),
            "the reason stays in our logs: {text}"
        );
        assert!(receiver.deduplicator().is_empty());
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
    let tokens = CallbackTokens::new(SECRET).unwrap();
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

// ---------------------------------------------------------------------------------------
// Issue 11: callbacks cannot suppress the real completion (guarantee 3), unsafe
// configuration fails loudly (guarantee 4), memory is bounded (guarantee 5).
// ---------------------------------------------------------------------------------------

async fn recv_within(
    events: &mut tokio::sync::broadcast::Receiver<apipod::callback_server::ConfirmedCallback>,
    secs: u64,
) -> apipod::callback_server::ConfirmedCallback {
    tokio::time::timeout(Duration::from_secs(secs), events.recv())
        .await
        .expect("an event within the time limit")
        .expect("the event channel is open")
}

/// An early (or forged) `completed` arrives while the task is still processing. It is not
/// confirmed, so it is answered with a non-2xx (APIPod redelivers), not published and not
/// remembered; the genuine `completed` that follows is handled, published and wakes waits.
#[tokio::test]
async fn an_early_or_forged_completion_does_not_suppress_the_real_one() {
    let server = MockServer::start_async().await;
    let processing = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_1");
            then.status(200)
                .json_body(status_body("img_1", "processing"));
        })
        .await;
    let hub = CallbackHub::new();
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client_for(&server, Some(hub.clone())), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Image, "key-1");
    let mut waiting = hub.subscribe("img_1");

    let early = deliver(&url, completed_callback("img_1")).await;
    // Let any (old-style) background confirmation of the early delivery finish.
    tokio::time::timeout(Duration::from_secs(10), async {
        while processing.calls_async().await == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the early delivery was confirmed against the task");
    let _ = waiting.changed().now_or_never();
    processing.delete_async().await;
    let completed = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_1");
            then.status(200)
                .json_body(status_body("img_1", "completed"));
        })
        .await;

    let genuine = deliver(&url, completed_callback("img_1")).await;
    assert_eq!(
        genuine,
        (200, "ok".to_string()),
        "the genuine completion must not be a duplicate of the unconfirmed early one"
    );
    assert!(
        waiting.changed().now_or_never().is_some(),
        "the genuine completion wakes the wait"
    );
    let published = recv_within(&mut events, 10).await;
    assert_eq!(published.snapshot.status(), &TaskStatus::Completed);
    assert_eq!(published.event.status, TaskStatus::Completed);
    assert!(
        events.try_recv().is_err(),
        "exactly one event: {published:?}"
    );
    assert_eq!(completed.calls_async().await, 1);
    assert_eq!(
        early.0, 503,
        "the early delivery is not acknowledged: {early:?}"
    );
    // Now it is confirmed: a repeat is a duplicate.
    assert_eq!(
        deliver(&url, completed_callback("img_1")).await,
        (200, "duplicate".into())
    );
    assert_eq!(completed.calls_async().await, 1);
}

/// The task says `completed`, the delivery says `failed`: the delivery is not confirmed.
/// It is refused with 503 (so APIPod redelivers), not published and not remembered; a
/// delivery whose status the task confirms is then handled normally.
#[tokio::test]
async fn a_status_the_task_does_not_confirm_is_not_delivered() {
    let server = MockServer::start_async().await;
    let status = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_9");
            then.status(200)
                .json_body(status_body("img_9", "completed"));
        })
        .await;
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client_for(&server, None), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Image, "key-9");
    let failed = json!({"task_id": "img_9", "status": "failed", "error": "x"}).to_string();

    for attempt in 1..=2 {
        let (code, _) = deliver(&url, failed.clone()).await;
        // Let any (old-style) background confirmation finish.
        tokio::time::timeout(Duration::from_secs(10), async {
            while status.calls_async().await < attempt {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("delivery {attempt} was confirmed against the task"));
        assert_eq!(code, 503, "delivery {attempt} of an unconfirmed status");
        assert!(
            events.try_recv().is_err(),
            "nothing unconfirmed is published"
        );
        assert!(
            receiver.deduplicator().is_empty(),
            "nothing unconfirmed is remembered"
        );
    }
    assert_eq!(
        deliver(&url, completed_callback("img_9")).await,
        (200, "ok".into())
    );
    let published = recv_within(&mut events, 10).await;
    assert_eq!(published.event.status, TaskStatus::Completed);
    assert_eq!(receiver.deduplicator().len(), 1);
}

/// Out of process (nothing bound the route at submit), the first task confirmed on a
/// submission's route owns it: the same (valid) URL cannot speak for another task of the
/// same key, even one whose status would confirm.
#[tokio::test]
async fn a_callback_url_speaks_only_for_the_first_task_confirmed_on_it() {
    let server = MockServer::start_async().await;
    let mine = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_mine");
            then.status(200)
                .json_body(status_body("img_mine", "completed"));
        })
        .await;
    let other = server
        .mock_async(|when, then| {
            when.method("GET").path("/v1/images/status/img_other");
            then.status(200)
                .json_body(status_body("img_other", "completed"));
        })
        .await;
    let hub = CallbackHub::new();
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client_for(&server, Some(hub.clone())), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;
    let url = tokens.callback_url_for(&base, TaskKind::Image, "key-mine");
    let mut other_wait = hub.subscribe("img_other");

    assert_eq!(
        deliver(&url, completed_callback("img_mine")).await,
        (200, "ok".into())
    );
    let published = recv_within(&mut events, 10).await;
    assert_eq!(published.snapshot.task_id(), "img_mine");
    assert_eq!(mine.calls_async().await, 1);

    let (code, body) = deliver(&url, completed_callback("img_other")).await;
    // Let any (old-style) background confirmation finish.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        events.try_recv().is_err(),
        "a route bound to img_mine published an event for img_other"
    );
    assert_eq!(code, 403, "{body}");
    assert!(
        !body.contains("img_mine"),
        "the refusal names no task: {body}"
    );
    assert_eq!(
        other.calls_async().await,
        0,
        "refused before any status read"
    );
    assert!(
        other_wait.changed().now_or_never().is_none(),
        "refused before waking anything"
    );
    // The route's own task is still served.
    let failed = json!({"task_id": "img_mine", "status": "completed", "request_id": "again"});
    assert_eq!(
        deliver(&url, failed.to_string()).await,
        (200, "duplicate".into())
    );
}

/// The normal flow against the local fake APIPod: `submit` with a callback URL binds its
/// route to the task it created, so a delivery on that URL for another task (here one that
/// never finishes, whose status would confirm) is refused even before the real callback
/// arrives, and the real callback is published.
#[tokio::test]
async fn submit_binds_the_callback_url_to_the_task_it_created() {
    use apipod::SubmitOptions;
    use apipod::models::SeedreamV45;

    let mock = apipod_mock::MockServer::start_with(
        apipod_mock::MockConfig::fast()
            .durations(Duration::from_millis(10), Duration::from_millis(1500)),
    )
    .await;
    let hub = CallbackHub::new();
    let client = Client::builder()
        .api_key("sk-test-key")
        .base_url(mock.base_url())
        .callbacks(hub.clone())
        .build()
        .unwrap();
    let tokens = CallbackTokens::new(SECRET).unwrap();
    let receiver = CallbackReceiver::new(client.clone(), tokens.clone());
    let mut events = receiver.events();
    let base = serve(receiver.router()).await;

    let key_a = CallbackTokens::submission_key();
    let url_a = tokens.callback_url_for(&base, TaskKind::Image, &key_a);
    let a = client
        .submit_with(
            SeedreamV45::new("task a").callback_url(url_a.clone()),
            SubmitOptions::idempotency_key(key_a),
        )
        .await
        .unwrap();
    let b = client
        .submit(SeedreamV45::new("task b [mock:stuck]"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let b_now = client
        .status(TaskKind::Image, &b.handle.task_id)
        .await
        .unwrap();
    assert_eq!(b_now.status(), &TaskStatus::Processing);

    let forged = json!({"task_id": b.handle.task_id, "status": "processing"}).to_string();
    let (code, _) = deliver(&url_a, forged).await;

    let first = recv_within(&mut events, 20).await;
    assert_eq!(
        first.snapshot.task_id(),
        a.handle.task_id,
        "the first event published for A's route is about A"
    );
    assert_eq!(first.snapshot.status(), &TaskStatus::Completed);
    assert_eq!(code, 403, "A's route refuses to speak for B");
    assert!(events.try_recv().is_err());
}

/// Waits that end without any callback (timeout, cancellation, drop) leave nothing in the
/// hub; neither do waits a callback ended.
#[tokio::test]
async fn hub_entries_go_away_when_waits_end_without_callbacks() {
    const WAITS: usize = 20;
    let server = MockServer::start_async().await;
    for i in 0..WAITS {
        let id = format!("img_leak_{i}");
        server
            .mock_async(|when, then| {
                when.method("GET").path(format!("/v1/images/status/{id}"));
                then.status(200).json_body(status_body(&id, "processing"));
            })
            .await;
    }
    let hub = CallbackHub::new();
    let client = client_for(&server, Some(hub.clone()));
    let waits = (0..WAITS).map(|i| {
        let mut handle = TaskHandle::from_id(TaskKind::Image, format!("img_leak_{i}"));
        handle.callback_url = Some("https://example.com/cb/image/k/t".into());
        let options = WaitOptions::timeout(Duration::from_millis(300))
            .with_poll(PollPolicy::Fixed(Duration::from_millis(50)));
        let task = client.task(handle);
        async move { task.wait_with(options).await }
    });
    for outcome in futures::future::join_all(waits).await {
        assert!(matches!(outcome, Err(Error::Timeout { .. })), "{outcome:?}");
    }
    assert_eq!(hub.len(), 0, "entries left by {WAITS} waits that timed out");

    // Subscriptions dropped directly; an entry lives as long as its last subscription.
    let first = hub.subscribe("img_x");
    let second = hub.subscribe("img_x");
    let _other = hub.subscribe("img_y");
    assert_eq!(hub.len(), 2);
    drop(first);
    assert_eq!(hub.len(), 2, "img_x still has a subscriber");
    assert!(hub.notify("img_x"));
    drop(second);
    assert_eq!(hub.len(), 1);
    assert!(!hub.notify("img_x"));
    drop(_other);
    assert!(hub.is_empty());
}

/// No callback example in the docs reads a secret with a silent fallback.
#[test]
fn no_callback_doc_example_falls_back_silently() {
    fn docs(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                docs(&path, out);
            } else if path.to_string_lossy().contains("callback")
                && path.extension().is_some_and(|e| e == "rs")
            {
                let text = std::fs::read_to_string(&path).unwrap();
                for line in text.lines() {
                    let t = line.trim_start();
                    if t.starts_with("///") || t.starts_with("//!") {
                        out.push((path.display().to_string(), t.to_string()));
                    }
                }
            }
        }
    }
    let mut lines = Vec::new();
    docs(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut lines,
    );
    assert!(lines.len() > 100, "the callback docs were read");
    let silent: Vec<_> = lines
        .iter()
        .filter(|(_, l)| l.contains("unwrap_or_default") || l.contains("unwrap_or(\""))
        .collect();
    assert!(
        silent.is_empty(),
        "silent fallbacks in doc examples: {silent:#?}"
    );
}

/// A callback secret shorter than 32 bytes is refused with a typed error naming the
/// setting, never a panic or a silently weak token; 32 bytes and more are accepted.
#[test]
fn short_callback_secrets_are_refused_with_a_typed_error() {
    for short in [
        "",
        "s",
        "secret-a",
        &"x".repeat(apipod::MIN_CALLBACK_SECRET_LEN - 1),
    ] {
        match CallbackTokens::new(short) {
            Err(Error::Config { setting, message }) => {
                assert_eq!(setting, "callback_secret");
                assert!(message.contains("32"), "{message}");
                if short.len() > 4 {
                    assert!(
                        !message.contains(short),
                        "the secret is not echoed: {message}"
                    );
                }
            }
            other => panic!("a {}-byte secret was accepted: {other:?}", short.len()),
        }
    }
    assert_eq!(apipod::MIN_CALLBACK_SECRET_LEN, 32);
    let tokens = CallbackTokens::new([7u8; 32]).expect("32 bytes are enough");
    assert!(
        tokens.verify_route(
            TaskKind::Image,
            "k",
            tokens
                .callback_url_for("https://h.example", TaskKind::Image, "k")
                .rsplit('/')
                .next()
                .unwrap()
        )
    );
}
