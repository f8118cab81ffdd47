//! Idempotency-Key: replay, conflict, in progress, key rules.

use std::time::Duration;

use apipod_mock::{FaultConfig, MockConfig, MockServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Api, image, parts};

#[tokio::test]
async fn same_key_and_body_replays_without_a_new_task() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let body = json!({"model": "nano-banana-2", "prompt": "p", "quality": "2K"});
    let first = api
        .create_with("images", &body, &[("Idempotency-Key", "k-1")])
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let cost = first.headers()["x-request-cost"].clone();
    let first: Value = first.json().await.unwrap();

    // Same content, other key order: still equivalent.
    let reordered = json!({"quality": "2K", "prompt": "p", "model": "nano-banana-2"});
    let again = api
        .create_with("images", &reordered, &[("Idempotency-Key", "k-1")])
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["x-idempotent-replay"], "true");
    assert_eq!(again.headers()["x-request-cost"], cost);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);
    assert_eq!(server.tasks_created(), 1);

    let log = server.log().entries_for("/v1/images/generations");
    assert_eq!(log.len(), 2);
    assert!(!log[0].replay && log[0].created_task.is_some());
    assert!(log[1].replay && log[1].created_task.is_none());
    assert_eq!(log[1].task_id, log[0].created_task);
    assert_eq!(log[1].idempotency_key.as_deref(), Some("k-1"));
    assert_eq!(log[1].model.as_deref(), Some("nano-banana-2"));
}

#[tokio::test]
async fn same_key_with_another_body_conflicts() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    api.create_with("images", &image("one"), &[("Idempotency-Key", "k")])
        .await;
    let (status, body) = parts(
        api.create_with("images", &image("two"), &[("Idempotency-Key", "k")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], 409);
    assert_eq!(body["data"]["type"], "invalid_request_error");
    assert_eq!(body["data"]["error_code"], "idempotency_conflict");
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test]
async fn keys_are_scoped_to_api_key_and_route() {
    let server = MockServer::start().await;
    let a = Api::new(&server);
    let b = Api::new(&server).with_key("sk-other");
    let key = [("Idempotency-Key", "shared")];
    let first = a
        .create_with("images", &image("p"), &key)
        .await
        .json::<Value>()
        .await
        .unwrap();
    let other_key = b.create_with("images", &image("p"), &key).await;
    assert!(other_key.headers().get("x-idempotent-replay").is_none());
    let other_key: Value = other_key.json().await.unwrap();
    assert_ne!(other_key["data"]["task_id"], first["data"]["task_id"]);
    let other_route = a
        .create_with(
            "videos",
            &json!({"model": "veo3-1-fast", "prompt": "p"}),
            &key,
        )
        .await;
    assert_eq!(other_route.status(), StatusCode::OK);
    assert!(other_route.headers().get("x-idempotent-replay").is_none());
    assert_eq!(server.tasks_created(), 3);
}

#[tokio::test(start_paused = true)]
async fn repeat_while_the_first_is_in_progress_gets_409() {
    let config =
        MockConfig::fast().faults(FaultConfig::new().create_latency(Duration::from_secs(2)));
    let server = MockServer::start_with(config).await;
    let api = Api::new(&server);
    let key = [("Idempotency-Key", "slow")];
    let body = image("p");
    let (one, two) = tokio::join!(
        api.create_with("images", &body, &key),
        api.create_with("images", &body, &key)
    );
    let mut results = [parts_with_retry(one).await, parts_with_retry(two).await];
    results.sort_by_key(|(status, _, _)| *status);
    let (ok_status, ok_body, _) = &results[0];
    let (busy_status, busy_body, retry_after) = &results[1];
    assert_eq!(*ok_status, StatusCode::OK);
    assert_eq!(*busy_status, StatusCode::CONFLICT);
    assert_eq!(busy_body["data"]["error_code"], "idempotency_in_progress");
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(server.tasks_created(), 1);

    // Once the first finished, the repeat replays it.
    let replay = api.create_with("images", &body, &key).await;
    assert_eq!(replay.headers()["x-idempotent-replay"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay["data"]["task_id"], ok_body["data"]["task_id"]);
    assert_eq!(server.tasks_created(), 1);
}

async fn parts_with_retry(response: reqwest::Response) -> (StatusCode, Value, Option<String>) {
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let (status, body) = parts(response).await;
    (status, body, retry_after)
}

#[tokio::test]
async fn overlong_keys_are_rejected() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let long = "k".repeat(256);
    let (status, body) = parts(
        api.create_with("images", &image("p"), &[("Idempotency-Key", &long)])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["data"]["error_code"], "invalid_idempotency_key");
    assert!(body["message"].as_str().unwrap().contains("255"));
    assert_eq!(server.tasks_created(), 0);
    let longest = "k".repeat(255);
    api.create_with("images", &image("p"), &[("Idempotency-Key", &longest)])
        .await;
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test]
async fn failed_requests_release_the_key() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let key = ("Idempotency-Key", "retry-me");
    let refused = api
        .create_with("images", &image("p"), &[key, ("X-Mock-Fault", "503")])
        .await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let accepted = api.create_with("images", &image("p"), &[key]).await;
    assert_eq!(accepted.status(), StatusCode::OK);
    assert!(accepted.headers().get("x-idempotent-replay").is_none());
    assert_eq!(server.tasks_created(), 1);
}
