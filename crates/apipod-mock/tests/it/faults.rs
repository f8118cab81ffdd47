//! Injected faults, per request and server-wide.

use std::time::Duration;

use apipod_mock::{FaultConfig, FaultScope, MockConfig, MockServer};
use apipod_raw::types::SubmitTaskResponse;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::{Api, image, parts};

#[tokio::test]
async fn http_errors_carry_the_documented_envelope() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    for (fault, status, error_code, retry_after) in [
        (
            "429",
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            true,
        ),
        (
            "500",
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            false,
        ),
        (
            "503",
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
            true,
        ),
        (
            "504",
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_timeout",
            false,
        ),
    ] {
        let response = api
            .create_with("images", &image("p"), &[("X-Mock-Fault", fault)])
            .await;
        assert_eq!(
            response.headers().get("retry-after").is_some(),
            retry_after,
            "{fault}"
        );
        if retry_after {
            assert_eq!(response.headers()["retry-after"], "1");
        }
        let (got, body) = parts(response).await;
        assert_eq!(got, status);
        assert_eq!(body["code"], status.as_u16());
        assert_eq!(body["data"]["error_code"], error_code);
    }
    let (got, body) = parts(
        api.status_with("images", "img_x", &[("X-Mock-Fault", "429")])
            .await,
    )
    .await;
    assert_eq!(
        (got, body["data"]["error_code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_exceeded"))
    );
    assert_eq!(server.tasks_created(), 0);
    let faults: Vec<_> = server
        .log()
        .entries()
        .into_iter()
        .map(|e| e.fault)
        .collect();
    assert_eq!(faults[0].as_deref(), Some("429"));
}

#[tokio::test]
async fn business_errors_arrive_in_http_200() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let response = api
        .create_with("images", &image("p"), &[("X-Mock-Fault", "code=402")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: SubmitTaskResponse = response.json().await.unwrap();
    assert_eq!(body.code, 402);
    assert_eq!(body.message, "Insufficient quota");
    assert_eq!(body.data.type_.as_deref(), Some("insufficient_quota"));
    assert_eq!(body.data.error_code.as_deref(), Some("insufficient_quota"));
    assert_eq!(body.data.task_id, None);
    assert_eq!(server.tasks_created(), 0);
}

#[tokio::test]
async fn dropped_connection_after_acceptance_then_replay() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let key = ("Idempotency-Key", "dropped-once");
    let result = api
        .http
        .post(format!("{}/v1/images/generations", api.base))
        .bearer_auth(&api.key)
        .header(key.0, key.1)
        .header("X-Mock-Fault", "drop")
        .json(&image("p"))
        .send()
        .await;
    let error = result.expect_err("the connection must close without a response");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    assert_eq!(server.tasks_created(), 1);
    let entry = server.log().entries().pop().unwrap();
    assert_eq!(entry.fault.as_deref(), Some("drop"));
    let created = entry.created_task.unwrap();

    let retry = api.create_with("images", &image("p"), &[key]).await;
    assert_eq!(retry.headers()["x-idempotent-replay"], "true");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["data"]["task_id"], created.as_str());
    assert_eq!(server.tasks_created(), 1);

    // Status reads can be dropped too.
    let read = api
        .http
        .get(format!("{}/v1/images/status/{created}", api.base))
        .bearer_auth(&api.key)
        .header("X-Mock-Fault", "drop")
        .send()
        .await;
    assert!(read.is_err());
}

#[tokio::test]
async fn malformed_bodies() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let response = api
        .create_with("images", &image("p"), &[("X-Mock-Fault", "malformed")])
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
    assert_eq!(server.tasks_created(), 1);

    let id = api.create_ok("images", &image("p")).await;
    let read = api
        .status_with("images", &id, &[("X-Mock-Fault", "malformed")])
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&read.text().await.unwrap()).is_err());
}

#[tokio::test]
async fn unknown_status_values_on_reads() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api.create_ok("images", &image("p")).await;
    let data: Value = api
        .status_with("images", &id, &[("X-Mock-Fault", "unknown-status")])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(data["data"]["status"], "finalizing");

    server.set_faults(
        FaultConfig::new()
            .unknown_status_rate(1.0)
            .unknown_status_value("queued_upstream"),
    );
    assert_eq!(api.data("images", &id).await["status"], "queued_upstream");
    // Creates are not affected by this fault.
    api.create_ok("images", &image("p")).await;
}

#[tokio::test]
async fn seeded_rates_repeat_and_respect_scope() {
    let faults = FaultConfig::new()
        .seed(9)
        .error_rate(503, 0.5)
        .scope(FaultScope::Creates);
    let server = MockServer::start_with(MockConfig::fast().faults(faults.clone())).await;
    let api = Api::new(&server);
    let mut runs = Vec::new();
    for _ in 0..2 {
        server.set_faults(faults.clone());
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(api.create("images", &image("p")).await.status().as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1]);
    let refused = runs[0].iter().filter(|s| **s == 503).count();
    assert!((8..=32).contains(&refused), "{refused} of 40");
    assert_eq!(server.tasks_created(), 80 - 2 * refused);

    // Status reads are out of scope.
    let id = server
        .log()
        .entries()
        .into_iter()
        .find_map(|e| e.created_task)
        .unwrap();
    for _ in 0..20 {
        assert_eq!(
            api.status_with("images", &id, &[]).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test(start_paused = true)]
async fn latency_delays_answers() {
    let faults = FaultConfig::new()
        .latency(Duration::from_secs(3))
        .scope(FaultScope::StatusReads);
    let server = MockServer::start_with(MockConfig::fast().faults(faults)).await;
    let api = Api::new(&server);
    let start = Instant::now();
    let id = api.create_ok("images", &image("p")).await;
    assert!(start.elapsed() < Duration::from_secs(3));
    let start = Instant::now();
    api.data("images", &id).await;
    assert!(start.elapsed() >= Duration::from_secs(3));
    let start = Instant::now();
    api.create_with("images", &image("p"), &[("X-Mock-Fault", "latency=1500ms")])
        .await;
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test]
async fn unreadable_fault_header_is_400() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let (status, body) = parts(
        api.create_with("images", &image("p"), &[("X-Mock-Fault", "explode")])
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("explode"));
}

#[tokio::test]
async fn a_create_rate_limit_answers_429_past_the_limit_per_key_and_second() {
    let server = MockServer::start_with(MockConfig::fast().create_rate_limit(Some(3))).await;
    let api = Api::new(&server);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(api.create("images", &image("limited")).await.status());
    }
    // Within one second: 3 accepted, then 429 with Retry-After and no task.
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(ok >= 3 && ok + limited == 5, "{statuses:?}");
    assert_eq!(server.tasks_created(), ok);
    let rejected = server
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.fault.as_deref() == Some("rate-limit"))
        .count();
    assert_eq!(rejected, limited);
}
