//! The SDK's promises on every path (issue 11): deadlines bound every sleep and request,
//! dropped streams stop polling, configuration fails loudly, memory is bounded by us,
//! stored handles are honest, and errors are typed. Paused tokio time throughout: elapsed
//! times are the SDK's own sleeps, not the machine's speed.

mod support;

use std::time::Duration;

use apipod::{
    Client, DownloadOptions, Error, Output, SubmitOptions, TaskHandle, TaskKind, WaitOptions,
};
use axum::body::Body;
use axum::routing::get;
use futures::StreamExt;
use serde_json::json;
use support::{Reply, Scripted, client};
use tokio::time::Instant;

fn handle(json: serde_json::Value) -> TaskHandle {
    serde_json::from_value(json).expect("a stored handle")
}

fn unavailable_for_a_minute() -> Reply {
    Reply::error(503, "upstream_unavailable", "try later").header("retry-after", "60")
}

fn assert_within(elapsed: Duration, target: Duration) {
    let slack = Duration::from_secs(1);
    assert!(
        elapsed + slack >= target && elapsed <= target + slack,
        "{elapsed:?} is not within 1 s of {target:?}"
    );
}

// 1. A deadline is a deadline.

#[tokio::test(start_paused = true)]
async fn a_wait_deadline_bounds_status_retries_that_ask_for_a_minute() {
    let server = Scripted::start().await;
    server.push("status", [unavailable_for_a_minute()]);
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    let started = Instant::now();
    let err = task
        .wait_with(WaitOptions::timeout(Duration::from_secs(10)))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_eq!(err.task_id(), Some("img_1"));
    assert_within(started.elapsed(), Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_submit_deadline_bounds_retries_and_keeps_the_key() {
    let server = Scripted::start().await;
    server.push("create", [unavailable_for_a_minute()]);
    let client = client(&server.base_url);
    let started = Instant::now();
    let options = SubmitOptions {
        idempotency_key: Some("key-1".into()),
        timeout: Some(Duration::from_secs(10)),
        ..SubmitOptions::default()
    };
    let err = client
        .submit_with(apipod::models::SeedreamV45::new("p"), options)
        .await
        .unwrap_err();
    match &err {
        Error::Timeout {
            idempotency_key, ..
        } => assert_eq!(idempotency_key.as_deref(), Some("key-1")),
        other => panic!("{other}"),
    }
    assert_within(started.elapsed(), Duration::from_secs(10));
    assert!(!server.seen_on("create").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_download_deadline_bounds_retries() {
    let server = Scripted::start().await;
    server.push("status", [unavailable_for_a_minute()]);
    let client = client(&server.base_url);
    let dir = tempfile::tempdir().unwrap();
    let output = Output::new("img_1", 0, format!("{}/files/img_1/0.png", server.base_url));
    let options = DownloadOptions {
        timeout: Some(Duration::from_secs(10)),
        ..DownloadOptions::default()
    };
    let started = Instant::now();
    let err = client
        .download(&output, dir.path(), &options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert_within(started.elapsed(), Duration::from_secs(10));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

// 2. Dropping a progress stream stops the polling.

#[tokio::test(start_paused = true)]
async fn dropping_the_updates_stream_stops_the_polling() {
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_1", "processing")]);
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    let mut updates = Box::pin(task.updates(WaitOptions::default()));
    let first = updates.next().await.unwrap().unwrap();
    assert_eq!(first.task_id(), "img_1");
    drop(updates);
    let reads = server.seen_on("status").len();
    tokio::time::sleep(Duration::from_secs(30 * 60)).await;
    assert_eq!(
        server.seen_on("status").len(),
        reads,
        "reads after the drop"
    );
}

#[test]
fn an_updates_stream_can_be_made_outside_a_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let server = runtime.block_on(Scripted::start());
    server.push("status", [Reply::completed("img_1", &["https://x/1.png"])]);
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    // Made on a thread with no runtime at all: nothing is spawned until it is polled.
    let stream = std::thread::spawn(move || task.updates(WaitOptions::default()))
        .join()
        .expect("no panic outside a runtime");
    let all: Vec<_> = runtime.block_on(stream.collect::<Vec<_>>());
    assert_eq!(all.len(), 1);
    assert!(all[0].as_ref().unwrap().status().is_terminal());
}

#[tokio::test(start_paused = true)]
async fn the_progress_hook_sees_every_change_in_order() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [
            Reply::status("img_1", "pending"),
            Reply::status("img_1", "processing"),
            Reply::completed("img_1", &["https://x/1.png"]),
        ],
    );
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    let mut seen = Vec::new();
    let done = task
        .wait_with_progress(WaitOptions::default(), |s| {
            seen.push(s.status().to_string())
        })
        .await
        .unwrap();
    assert_eq!(seen, ["pending", "processing", "completed"]);
    assert_eq!(done.outputs().len(), 1);
}

// 4. Unsafe configuration fails loudly.

#[test]
fn keys_and_user_agents_that_cannot_be_headers_fail_at_build() {
    let err = Client::builder()
        .api_key("sk-\nnewline")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                setting: "api_key",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        !err.to_string().contains("newline"),
        "the key leaked: {err}"
    );
    let err = Client::builder()
        .api_key("sk-fine")
        .user_agent("bad\u{7f}agent")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                setting: "user_agent",
                ..
            }
        ),
        "{err}"
    );
}

// 5. Memory is bounded by us, not by the server.

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

/// A body that never ends (1 KiB chunks forever).
fn endless() -> Body {
    let chunk = bytes::Bytes::from(vec![b'x'; 1024]);
    Body::from_stream(futures::stream::repeat_with(move || {
        Ok::<_, std::io::Error>(chunk.clone())
    }))
}

#[tokio::test]
async fn endless_error_bodies_are_read_up_to_a_cap() {
    let base = serve(axum::Router::new().route(
        "/v1/images/status/{id}",
        get(|| async { (axum::http::StatusCode::INTERNAL_SERVER_ERROR, endless()) }),
    ))
    .await;
    let client = Client::builder()
        .api_key("k")
        .base_url(base)
        .retry_policy(apipod::RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .task_by_id(TaskKind::Image, "img_1")
        .status()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(
        err.to_string().len() < 1000,
        "the error quotes a bounded excerpt"
    );
}

#[tokio::test]
async fn oversized_status_bodies_are_refused() {
    let huge = format!(
        r#"{{"code":200,"message":"{}","data":{{"task_id":"img_1","status":"pending"}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    let base = serve(axum::Router::new().route(
        "/v1/images/status/{id}",
        get(move || {
            let huge = huge.clone();
            async move { ([("content-type", "application/json")], huge) }
        }),
    ))
    .await;
    assert_too_large(status_without_retries(base).await.unwrap_err());
}

/// One status read of `img_1` from `base`, not retried.
async fn status_without_retries(base: String) -> apipod::Result<apipod::TaskSnapshot> {
    let client = Client::builder()
        .api_key("k")
        .base_url(base)
        .retry_policy(apipod::RetryPolicy::none())
        .build()
        .unwrap();
    client.task_by_id(TaskKind::Image, "img_1").status().await
}

/// The error of a 200 body past the 1 MiB bound: a decode error with a bounded excerpt.
fn assert_too_large(err: Error) {
    assert!(matches!(err, Error::Decode { .. }), "{err}");
    assert!(err.to_string().contains("exceeds"), "{err}");
    assert!(err.to_string().len() < 2_000, "a bounded excerpt: {err}");
}

/// A status answer without a declared length, sent in `pieces` chunks.
async fn chunked_status_server(body: String, pieces: usize) -> String {
    let size = body.len().div_ceil(pieces);
    let chunks: Vec<Vec<u8>> = body.into_bytes().chunks(size).map(<[u8]>::to_vec).collect();
    serve(axum::Router::new().route(
        "/v1/images/status/{id}",
        get(move || {
            let chunks = chunks.clone();
            async move {
                let stream = futures::stream::iter(chunks).map(Ok::<_, std::convert::Infallible>);
                (
                    [("content-type", "application/json")],
                    Body::from_stream(stream),
                )
            }
        }),
    ))
    .await
}

#[tokio::test]
async fn status_bodies_in_many_chunks_are_gathered_and_still_bounded() {
    // Within the bound, in 7 chunks and no declared length: read whole.
    let small = json!({"code": 200, "message": "x".repeat(10_000),
        "data": {"task_id": "img_1", "status": "processing", "progress": 40}})
    .to_string();
    let snap = status_without_retries(chunked_status_server(small, 7).await)
        .await
        .unwrap();
    assert_eq!(snap.task_id(), "img_1");
    // Past the bound, in chunks of 256 KiB: refused, with a bounded excerpt.
    let huge = format!(
        r#"{{"code":200,"message":"{}","data":{{"task_id":"img_1","status":"pending"}}}}"#,
        "x".repeat(3 * 1024 * 1024)
    );
    assert_too_large(
        status_without_retries(chunked_status_server(huge, 12).await)
            .await
            .unwrap_err(),
    );
}

// 6. Stored handles are honest.

#[tokio::test(start_paused = true)]
async fn a_handle_without_a_submit_time_polls_from_the_start_of_the_schedule() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [
            Reply::status("img_1", "processing"),
            Reply::status("img_1", "processing"),
            Reply::completed("img_1", &["https://x/1.png"]),
        ],
    );
    // Stored without `submitted_at` (a hand-written or older record).
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    assert_eq!(task.handle().submitted_at, None);
    assert_eq!(task.handle().age(), None);
    task.wait().await.unwrap();
    let seen = server.seen_on("status");
    for pair in seen.windows(2) {
        let gap = pair[1].at - pair[0].at;
        // The first band polls every 2-3 s (with jitter); the slowest band every 20 s.
        assert!(gap <= Duration::from_secs(4), "gap {gap:?}");
    }
}

#[test]
fn an_implausible_submit_time_is_not_believed() {
    let h = handle(json!({"kind": "video", "task_id": "vid_1", "submitted_at": 0}));
    assert!(h.submitted_at.is_some());
    assert_eq!(h.age(), None, "a 56-year-old task is a wrong record");
}

// 8. Errors are typed.

#[tokio::test(start_paused = true)]
async fn errors_keep_http_status_and_body_code_apart() {
    let server = Scripted::start().await;
    server.push(
        "status",
        [Reply::json(
            200,
            json!({"code": 503, "message": "upstream busy", "data": {"task_id": "img_1", "status": "pending"}}),
        )],
    );
    let client = Client::builder()
        .api_key("k")
        .base_url(&server.base_url)
        .retry_policy(apipod::RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .task_by_id(TaskKind::Image, "img_1")
        .status()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(200), "{err}");
    assert_eq!(err.body_code(), Some(503), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn giving_up_on_an_unknown_status_is_its_own_error() {
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_1", "awaiting_review")]);
    let task = client(&server.base_url).task(handle(
        json!({"kind": "image", "model": "seedream-v4.5", "task_id": "img_1"}),
    ));
    let options = WaitOptions {
        max_unknown_reads: Some(3),
        ..WaitOptions::default()
    };
    let err = task.wait_with(options).await.unwrap_err();
    match &err {
        Error::UnknownStatus {
            task_id,
            status,
            reads,
            ..
        } => {
            assert_eq!(task_id, "img_1");
            assert_eq!(status, "awaiting_review");
            assert_eq!(*reads, 4);
        }
        other => panic!("{other}"),
    }
}

#[tokio::test]
async fn bad_arguments_are_their_own_error_and_send_nothing() {
    let server = Scripted::start().await;
    let client = client(&server.base_url);
    let err = client
        .task_by_id(TaskKind::Image, "../etc")
        .status()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                argument: "task_id",
                ..
            }
        ),
        "{err}"
    );
    let err = client
        .submit_with(
            apipod::models::SeedreamV45::new("p"),
            SubmitOptions::idempotency_key("x".repeat(300)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                argument: "idempotency_key",
                ..
            }
        ),
        "{err}"
    );
    assert!(server.seen().is_empty());
}

// Answers from a hostile server (found by the CLI's hostile-server pass).

#[tokio::test(start_paused = true)]
async fn unusable_task_ids_in_a_create_answer_are_refused() {
    let server = Scripted::start().await;
    server.push("create", [Reply::created("../../x")]);
    let err = client(&server.base_url)
        .submit(apipod::models::SeedreamV45::new("p"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_status_answer_about_another_task_is_refused() {
    let server = Scripted::start().await;
    server.push("status", [Reply::status("img_other", "processing")]);
    let client = Client::builder()
        .api_key("k")
        .base_url(&server.base_url)
        .retry_policy(apipod::RetryPolicy::none())
        .build()
        .unwrap();
    let err = client
        .task_by_id(TaskKind::Image, "img_1")
        .status()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err}");
}

#[tokio::test]
async fn downloads_stop_at_their_size_limit_and_leave_nothing() {
    let base = serve(axum::Router::new().route("/file", get(|| async { endless() }))).await;
    let client = Client::builder()
        .api_key("k")
        .base_url(&base)
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let options = DownloadOptions {
        max_bytes: 256 * 1024,
        ..DownloadOptions::default()
    };
    let err = client
        .download(
            &Output::new("img_1", 0, format!("{base}/file")),
            dir.path(),
            &options,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
