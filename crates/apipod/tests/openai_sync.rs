//! The OpenAI-compatible synchronous images API against the mock: the direct path (inline
//! and URL answers, edits from files), the 504 `sync_image_timeout` → task path under one
//! deadline, the retry rule, validation before sending, and key hygiene. Under paused time
//! where timing matters.

use std::time::Duration;

use apipod::openai::{
    Delivery, EditImage, ImageEdit, ImageGeneration, ResponseFormat, SyncImage, SyncOptions,
};
use apipod::{Client, DownloadOptions, Error, PollPolicy, RetryPolicy};
use apipod_mock::{FaultConfig, MockConfig, MockServer, markers};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

fn client(server: &MockServer) -> Client {
    Client::builder()
        .api_key("sk-test-key")
        .base_url(server.base_url())
        .poll_policy(PollPolicy::Fixed(Duration::from_millis(20)))
        .build()
        .unwrap()
}

fn posts(server: &MockServer, path: &str) -> usize {
    server
        .log()
        .entries_for(path)
        .iter()
        .filter(|e| e.method == "POST")
        .count()
}

const GENERATIONS: &str = "/openai/v1/images/generations";

#[tokio::test]
async fn generations_return_decoded_images_usage_request_id_and_cost() {
    let server = MockServer::start().await;
    let client = client(&server);
    assert_eq!(client.sync_base_url(), server.base_url());
    let result = client
        .sync_images()
        .generate(
            ImageGeneration::new("wan2.7-image", "two red bicycles")
                .n(2)
                .size("1024x1024"),
        )
        .await
        .unwrap();
    assert_eq!(result.images.len(), 2);
    for (i, image) in result.images.iter().enumerate() {
        assert_eq!(image.index(), i);
        assert!(
            image.bytes().unwrap().starts_with(PNG),
            "image {i} is a PNG"
        );
    }
    let usage = result.usage.unwrap();
    assert_eq!(
        usage.total_tokens,
        Some(usage.prompt_tokens.unwrap() + usage.completion_tokens.unwrap())
    );
    assert!(result.request_id.as_deref().unwrap().starts_with("req_"));
    assert!(result.cost.is_some());
    assert_eq!(
        (result.delivery.clone(), result.attempts),
        (Delivery::Direct, 1)
    );
    let dir = tempfile::tempdir().unwrap();
    let files = result
        .save_all(&client, dir.path(), &DownloadOptions::default())
        .await
        .unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(
        std::fs::read(&files[1].path).unwrap(),
        result.images[1].bytes().unwrap().as_ref()
    );
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test]
async fn url_answers_are_downloaded_like_task_results() {
    let server = MockServer::start().await;
    let client = client(&server);
    let result = client
        .sync_images()
        .generate(
            ImageGeneration::new("seedream-v4.5", "a lighthouse")
                .response_format(ResponseFormat::Url),
        )
        .await
        .unwrap();
    let [SyncImage::Url(output)] = result.images.as_slice() else {
        panic!("one URL expected: {:?}", result.images);
    };
    assert!(output.url.starts_with(&server.base_url()));
    let dir = tempfile::tempdir().unwrap();
    let files = result
        .save_all(&client, dir.path(), &DownloadOptions::default())
        .await
        .unwrap();
    assert!(std::fs::read(&files[0].path).unwrap().starts_with(PNG));
    assert_eq!(files[0].content_type.as_deref(), Some("image/png"));
}

#[tokio::test]
async fn edits_upload_local_files_with_a_mask() {
    let server = MockServer::start().await;
    let client = client(&server);
    let dir = tempfile::tempdir().unwrap();
    let (cat, mask) = (dir.path().join("cat.png"), dir.path().join("mask.png"));
    std::fs::write(&cat, [PNG, b"cat pixels"].concat()).unwrap();
    std::fs::write(&mask, [PNG, b"mask pixels"].concat()).unwrap();
    let edit = ImageEdit::new("gpt-image-2", "add a red wool hat")
        .image(EditImage::from_path(&cat).await.unwrap())
        .image(EditImage::new("second.png", PNG.to_vec()))
        .mask(EditImage::from_path(&mask).await.unwrap());
    let result = client.sync_images().edit(edit).await.unwrap();
    assert!(result.images[0].bytes().unwrap().starts_with(PNG));
    assert_eq!(posts(&server, "/openai/v1/images/edits"), 1);
    // A model that takes no input images cannot edit: refused before sending.
    let err = client
        .sync_images()
        .edit(ImageEdit::new("seedream-v4.5", "x").image(EditImage::new("a.png", PNG.to_vec())))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    assert_eq!(posts(&server, "/openai/v1/images/edits"), 1);
}

#[tokio::test(start_paused = true)]
async fn a_504_continues_as_a_task_wait_and_returns_the_images() {
    // The server holds calls 100 ms; the task takes 50 ms + 400 ms.
    let config = MockConfig::fast()
        .durations(Duration::from_millis(50), Duration::from_millis(400))
        .openai_sync_wait(Duration::from_millis(100));
    let server = MockServer::start_with(config).await;
    let client = client(&server);
    let started = tokio::time::Instant::now();
    let result = client
        .sync_images()
        .generate_with(
            ImageGeneration::new("gpt-image-2", "a slow castle"),
            SyncOptions::timeout(Duration::from_secs(5)),
        )
        .await
        .unwrap();
    let Delivery::AfterTimeout { task_id } = &result.delivery else {
        panic!("expected the 504 path: {:?}", result.delivery);
    };
    assert!(started.elapsed() >= Duration::from_millis(450));
    assert_eq!(result.task_id(), Some(task_id.as_str()));
    let [SyncImage::Url(output)] = result.images.as_slice() else {
        panic!("{:?}", result.images);
    };
    assert_eq!(&output.task_id, task_id);
    // The 504 named the real task, which was then read on the async status endpoint.
    let sync = server.log().entries_for(GENERATIONS);
    assert_eq!((sync.len(), sync[0].status), (1, 504));
    assert_eq!(sync[0].created_task.as_ref(), Some(task_id));
    let reads = server
        .log()
        .entries_for(&format!("/v1/images/status/{task_id}"));
    assert!(!reads.is_empty() && reads.iter().all(|e| e.status == 200));
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_deadline_covers_the_call_and_the_wait_after_a_504() {
    let config = MockConfig::fast().openai_sync_wait(Duration::from_millis(300));
    let server = MockServer::start_with(config).await;
    let started = tokio::time::Instant::now();
    let err = client(&server)
        .sync_images()
        .generate_with(
            ImageGeneration::new("gpt-image-2", format!("never done {}", markers::STUCK)),
            SyncOptions::timeout(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    let Error::Timeout {
        task_id: Some(task_id),
        elapsed,
        ..
    } = &err
    else {
        panic!("expected a resumable timeout: {err:?}");
    };
    assert!(task_id.starts_with("img_"));
    let total = started.elapsed();
    assert!(
        *elapsed >= Duration::from_secs(2) && total < Duration::from_millis(2_100),
        "{total:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_is_retried_and_creates_one_task() {
    let server = MockServer::start().await;
    server.set_faults(FaultConfig::new().error_rate(429, 1.0).retry_after(2));
    let lift = async {
        while posts(&server, GENERATIONS) == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.set_faults(FaultConfig::new());
    };
    let client = client(&server);
    let call = client
        .sync_images()
        .generate(ImageGeneration::new("gpt-image-2", "x"));
    let started = tokio::time::Instant::now();
    let (result, ()) = tokio::join!(call, lift);
    let result = result.unwrap();
    assert_eq!(result.attempts, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After honoured"
    );
    let statuses: Vec<u16> = server
        .log()
        .entries_for(GENERATIONS)
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [429, 200]);
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test(start_paused = true)]
async fn answers_lost_after_sending_and_server_errors_are_never_retried() {
    let server = MockServer::start().await;
    let client = client(&server);
    // The mock creates the task, then cuts the connection: the call may be billed.
    server.set_faults(FaultConfig::new().drop_rate(1.0));
    let err = client
        .sync_images()
        .generate(ImageGeneration::new("gpt-image-2", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SyncOutcomeUnknown { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(
        (posts(&server, GENERATIONS), server.tasks_created()),
        (1, 1)
    );
    for status in [500, 503, 504] {
        server.set_faults(FaultConfig::new().error_rate(status, 1.0).retry_after(1));
        let err = client
            .sync_images()
            .generate(ImageGeneration::new("gpt-image-2", "x"))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status), "{err:?}");
    }
    // One attempt each, whatever the status.
    assert_eq!(posts(&server, GENERATIONS), 4);
}

#[tokio::test(start_paused = true)]
async fn connect_errors_are_retried_on_the_backoff_schedule() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let client = Client::builder()
        .api_key("sk-test-key")
        .sync_base_url(format!("http://{closed}"))
        .retry_policy(RetryPolicy {
            max_retries: 2,
            initial_backoff: Duration::from_millis(400),
            jitter: false,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = client
        .sync_images()
        .generate(ImageGeneration::new("gpt-image-2", "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    // Two retries: 400 ms, then 800 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(1_200),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn invalid_requests_are_refused_before_sending_and_the_key_never_shows() {
    let server = MockServer::start_with(MockConfig::fast().api_key(Some("sk-right"))).await;
    let client = Client::builder()
        .api_key("sk-secret-wrong-key")
        .base_url(server.base_url())
        .build()
        .unwrap();
    for request in [
        ImageGeneration::new("seedance-2.0-t2v", "a video model"),
        ImageGeneration::new("gpt-image-2", "x").n(11),
        ImageGeneration::new("gpt-image-2", "x").size("1000x300"),
    ] {
        let err = client.sync_images().generate(request).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRequest { .. }), "{err}");
    }
    assert!(matches!(
        client
            .sync_images()
            .generate(ImageGeneration::new("gpt-image-3", "x"))
            .await,
        Err(Error::UnknownModel { .. })
    ));
    assert_eq!(server.log().len(), 0, "nothing was sent");
    let err = client
        .sync_images()
        .generate(ImageGeneration::new("gpt-image-2", "x"))
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("invalid_api_key"))
    );
    let shown = format!("{err} {err:?} {client:?}");
    assert!(!shown.contains("sk-secret-wrong-key"), "{shown}");
}
