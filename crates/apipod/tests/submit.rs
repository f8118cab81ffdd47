//! Safe submits: validation before sending, idempotency keys reused across retries, which
//! answers are retried, the shared 429 gate, and errors inside HTTP 200.

mod support;

use std::time::Duration;

use apipod::models::{SeedreamV45, Wan27ImageEdit};
use apipod::{Error, RetryPolicy, SubmitOptions};
use httpmock::prelude::*;
use support::{Reply, Scripted, client};

#[tokio::test(start_paused = true)]
async fn retries_reuse_one_idempotency_key_and_report_metadata() {
    let server = Scripted::start().await;
    server.push(
        "create",
        [
            Reply::error(503, "idempotency_unavailable", "try again"),
            Reply::error(500, "internal_error", "boom"),
            Reply::error(504, "upstream_timeout", "slow"),
            Reply::created("img_1").header("x-idempotent-replay", "true"),
        ],
    );
    let submitted = client(&server.base_url)
        .submit(SeedreamV45::new("a lighthouse"))
        .await
        .unwrap();
    assert_eq!(submitted.handle.task_id, "img_1");
    assert_eq!(submitted.attempts, 4);
    assert!(submitted.replayed);
    assert_eq!(submitted.cost.as_deref(), Some("0.0400"));
    assert_eq!(submitted.request_id.as_deref(), Some("req_img_1"));
    let keys: Vec<_> = server
        .seen_on("create")
        .iter()
        .map(|s| s.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 4);
    assert!(
        keys.iter().all(|k| *k == submitted.handle.idempotency_key),
        "{keys:?}"
    );
    assert!(keys[0].starts_with("apipod-rs-"));
}

#[tokio::test(start_paused = true)]
async fn a_given_key_is_used_and_in_progress_is_waited_out() {
    let server = Scripted::start().await;
    server.push(
        "create",
        [
            Reply::error(409, "idempotency_in_progress", "still running")
                .header("retry-after", "1"),
            Reply::created("img_2"),
        ],
    );
    let start = tokio::time::Instant::now();
    let submitted = client(&server.base_url)
        .submit_with(
            SeedreamV45::new("p"),
            SubmitOptions::idempotency_key("job-42"),
        )
        .await
        .unwrap();
    assert_eq!(submitted.handle.idempotency_key, "job-42");
    let seen = server.seen_on("create");
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter()
            .all(|s| s.header("idempotency-key").as_deref() == Some("job-42"))
    );
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(1));
    assert!(start.elapsed() >= Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_are_not_retried() {
    for (status, code, expect) in [
        (400, "invalid_request", "Api"),
        (401, "invalid_api_key", "Api"),
        (402, "insufficient_quota", "InsufficientQuota"),
        (403, "forbidden", "Api"),
        (404, "model_not_available", "Api"),
        (409, "idempotency_conflict", "IdempotencyConflict"),
    ] {
        let server = Scripted::start().await;
        server.push(
            "create",
            [Reply::error(status, code, "no").header("x-request-id", "req_x")],
        );
        let err = client(&server.base_url)
            .submit(SeedreamV45::new("p"))
            .await
            .unwrap_err();
        assert_eq!(server.seen_on("create").len(), 1, "{status} was retried");
        assert!(!err.is_retryable(), "{status}");
        assert_eq!(err.status(), Some(status), "{err}");
        assert_eq!(err.code(), Some(code), "{err}");
        assert_eq!(err.request_id(), Some("req_x"));
        let variant = format!("{err:?}");
        assert!(variant.starts_with(expect), "{status}: {variant}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_code_inside_http_200_is_an_error() {
    let server = Scripted::start().await;
    server.push(
        "create",
        [Reply::json(
            200,
            serde_json::json!({"code": 402, "message": "Insufficient quota", "data": {"type": "insufficient_quota", "error_code": "insufficient_quota"}}),
        )],
    );
    let err = client(&server.base_url)
        .submit(SeedreamV45::new("p"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InsufficientQuota { .. }), "{err:?}");
    assert_eq!(server.seen_on("create").len(), 1);

    let server = Scripted::start().await;
    server.push(
        "create",
        [Reply::json(
            200,
            serde_json::json!({"code": 500, "message": "oops"}),
        )],
    );
    let err = client(&server.base_url)
        .submit_with(SeedreamV45::new("p"), SubmitOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(200), "{err:?}");
    assert_eq!(err.body_code(), Some(500), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn rate_limit_pauses_every_submit_of_the_client() {
    let server = Scripted::start().await;
    server.push(
        "create",
        [
            Reply::error(429, "rate_limit_exceeded", "slow down").header("retry-after", "5"),
            Reply::created("img_a"),
        ],
    );
    let client = client(&server.base_url);
    let first = tokio::spawn({
        let c = client.clone();
        async move { c.submit(SeedreamV45::new("a")).await }
    });
    // Let the first submit receive its 429 before the second one starts.
    while server.seen_on("create").is_empty() {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = client.submit(SeedreamV45::new("b")).await.unwrap();
    first.await.unwrap().unwrap();
    let seen = server.seen_on("create");
    assert_eq!(seen.len(), 3);
    // Both later attempts waited for the first one's Retry-After.
    assert!(seen[1].at - seen[0].at >= Duration::from_secs(5));
    assert!(seen[2].at - seen[0].at >= Duration::from_secs(5));
    assert_eq!(second.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_cap_fails_fast() {
    let server = Scripted::start().await;
    server.push(
        "create",
        [Reply::error(429, "rate_limit_exceeded", "later").header("retry-after", "3600")],
    );
    let err = client(&server.base_url)
        .submit(SeedreamV45::new("p"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3600))
    );
    assert_eq!(server.seen_on("create").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_after_the_budget() {
    let server = Scripted::start().await;
    server.push("create", [Reply::error(503, "unavailable", "down")]);
    let client = apipod::Client::builder()
        .api_key("k")
        .base_url(&server.base_url)
        .retry_policy(RetryPolicy {
            max_retries: 2,
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let err = client.submit(SeedreamV45::new("p")).await.unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(server.seen_on("create").len(), 3);
}

#[tokio::test]
async fn invalid_input_is_rejected_before_any_request() {
    let server = MockServer::start_async().await;
    let any = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let client = apipod::Client::builder()
        .api_key("k")
        .base_url(server.base_url())
        .build()
        .unwrap();
    let err = client
        .submit(Wan27ImageEdit::new("night"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid request: wan2.7-image-edit: `image_urls` is required"
    );
    let err = client
        .submit(SeedreamV45::new("x".repeat(4001)))
        .await
        .unwrap_err();
    match err {
        Error::InvalidRequest { model, violations } => {
            assert_eq!(model, "seedream-v4.5");
            assert_eq!(violations[0].field, "prompt");
        }
        other => panic!("{other:?}"),
    }
    let raw = apipod::GenerationRequest::from_json(
        serde_json::json!({"model": "wan2.7-image", "prompt": "p", "callback_url": "https://x"}),
    );
    assert!(
        raw.unwrap_err()
            .to_string()
            .contains("`callback_url` is not a field of this model")
    );
    let err = client
        .submit_with(
            SeedreamV45::new("p"),
            SubmitOptions::idempotency_key("k".repeat(256)),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Idempotency-Key"));
    assert_eq!(any.calls_async().await, 0);
}

#[tokio::test]
async fn sends_auth_and_the_generated_body_through_the_typed_mock() {
    use apipod_raw::mock::MockServerExt;
    let server = MockServer::start_async().await;
    let body: apipod::raw::types::ImageGenerationRequest =
        serde_json::from_value(serde_json::json!({
            "model": "seedream-v4.5", "prompt": "p", "quality": "4K"
        }))
        .unwrap();
    let created: apipod::raw::types::SubmitTaskResponse =
        serde_json::from_value(serde_json::json!({
            "code": 200, "message": "success", "data": {"task_id": "img_9"}
        }))
        .unwrap();
    let mock = server.create_image_generation(|when, then| {
        let when = when.body(&body).into_inner();
        when.header("authorization", "Bearer sk-test-secret-key")
            .header_exists("idempotency-key");
        then.ok(&created);
    });
    let client = support::client(&server.base_url());
    let submitted = client
        .submit(SeedreamV45::new("p").quality(apipod::models::seedream_v45::Quality::Res4K))
        .await
        .unwrap();
    assert_eq!(submitted.handle.task_id, "img_9");
    mock.assert();
}

#[tokio::test(start_paused = true)]
async fn transport_errors_are_retried_then_reported() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url)
        .submit(SeedreamV45::new("p"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn missing_key_and_bad_base_url_fail_at_build_time() {
    let err = apipod::Client::builder().build().unwrap_err();
    assert!(err.to_string().contains("APIPOD_API_KEY"));
    let err = apipod::Client::builder()
        .api_key("k")
        .base_url("ftp://x")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("http or https"));
}
