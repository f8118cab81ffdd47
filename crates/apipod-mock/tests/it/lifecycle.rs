//! Task lifecycle, result shapes, outcome markers and task scoping.

use std::collections::HashSet;
use std::time::Duration;

use apipod_mock::{MockConfig, MockServer, markers};
use apipod_raw::TaskStatus;
use apipod_raw::types::{SubmitTaskResponse, TaskResult, TaskStatusResponse};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::advance;

use crate::{Api, image, parts, video};

#[tokio::test(start_paused = true)]
async fn lifecycle_follows_the_clock() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let response = api.create("images", &image("a red bicycle")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-cost"], "0.0400");
    let create_request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(create_request_id.starts_with("req_"));
    assert!(response.headers().get("x-idempotent-replay").is_none());
    let created: SubmitTaskResponse = response.json().await.unwrap();
    assert_eq!((created.code, created.message.as_str()), (200, "success"));
    let id = created.data.task_id.unwrap();
    assert!(id.starts_with("img_") && id.len() == 4 + 32, "{id}");

    let pending = api.data("images", &id).await;
    assert_eq!(pending["status"], "pending");
    assert_eq!(pending["progress"], 0);
    assert!(pending.get("result").is_none() && pending.get("completed_at").is_none());

    advance(Duration::from_millis(60)).await;
    let early = api.data("images", &id).await;
    assert_eq!(early["status"], "processing");
    advance(Duration::from_millis(100)).await;
    let later = api.data("images", &id).await;
    assert_eq!(later["status"], "processing");
    let (p1, p2) = (
        early["progress"].as_i64().unwrap(),
        later["progress"].as_i64().unwrap(),
    );
    assert!(p1 < p2 && p2 < 100, "{p1} then {p2}");

    advance(Duration::from_millis(100)).await;
    let response = api.status_with("images", &id, &[]).await;
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    assert_ne!(request_id, create_request_id);
    let done: TaskStatusResponse = response.json().await.unwrap();
    assert_eq!(done.data.status, TaskStatus::Completed);
    assert_eq!(done.data.progress, Some(100));
    let created_at_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let completed_at = done.data.completed_at.unwrap();
    assert!((completed_at - created_at_secs).abs() < 5, "{completed_at}");
    let Some(TaskResult::Array(urls)) = done.data.result else {
        panic!("image results are a URL list")
    };
    assert_eq!(urls, [format!("{}/files/{id}/0.png", server.base_url())]);

    // Every response had its own request id.
    let ids: HashSet<_> = server
        .log()
        .entries()
        .into_iter()
        .map(|e| e.request_id)
        .collect();
    assert_eq!(ids.len(), server.log().len());
    assert_eq!(server.tasks_created(), 1);
}

#[tokio::test(start_paused = true)]
async fn veo_reports_the_object_form_unless_configured_off() {
    let body = json!({"model": "veo3-1-fast", "prompt": "a paper boat", "aspect_ratio": "9:16"});
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api.create_ok("videos", &body).await;
    assert!(id.starts_with("vid_"));
    let data = api.wait("videos", &id).await;
    assert_eq!(data["status"], "completed");
    let result = &data["result"];
    assert_eq!(
        result["url"],
        format!("{}/files/{id}/0.y4m", server.base_url())
    );
    assert_eq!(
        (result["width"].as_i64(), result["height"].as_i64()),
        (Some(72), Some(128))
    );
    assert_eq!(result["duration"].as_f64(), Some(8.0));

    let server = MockServer::start_with(MockConfig::fast().veo_object_result(false)).await;
    let api = Api::new(&server);
    let id = api.create_ok("videos", &body).await;
    let data = api.wait("videos", &id).await;
    assert_eq!(
        data["result"],
        json!([format!("{}/files/{id}/0.y4m", server.base_url())])
    );
}

#[tokio::test(start_paused = true)]
async fn prompt_markers_decide_the_outcome() {
    let server = MockServer::start().await;
    let api = Api::new(&server);

    let id = api
        .create_ok("images", &image(&format!("x {}", markers::FAIL)))
        .await;
    let data = api.wait("images", &id).await;
    assert_eq!(data["status"], "failed");
    assert_eq!(data["error_code"], "UPSTREAM_CAPACITY_EXHAUSTED");
    assert!(
        data["error_message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(data["completed_at"].is_i64());
    assert!(data.get("result").is_none());

    let id = api
        .create_ok("videos", &video("x [mock:fail=CONTENT_REJECTED]"))
        .await;
    let data = api.wait("videos", &id).await;
    assert_eq!(data["status"], "failed");
    assert!(data["error"].as_str().unwrap().contains("CONTENT_REJECTED"));
    assert!(data.get("error_code").is_none());

    let id = api.create_ok("images", &image(markers::CANCEL)).await;
    assert_eq!(api.wait("images", &id).await["status"], "cancelled");

    let id = api
        .create_ok("images", &image(markers::UNKNOWN_STATUS))
        .await;
    advance(Duration::from_millis(260)).await;
    let data = api.data("images", &id).await;
    assert_eq!(data["status"], "finalizing");
    // The SDK type keeps the value instead of failing.
    let parsed: TaskStatus = serde_json::from_value(data["status"].clone()).unwrap();
    assert_eq!(parsed, TaskStatus::Unknown("finalizing".into()));
    advance(Duration::from_millis(200)).await;
    assert_eq!(api.data("images", &id).await["status"], "completed");

    let id = api.create_ok("images", &image(markers::STUCK)).await;
    advance(Duration::from_secs(3600)).await;
    let data = api.data("images", &id).await;
    assert_eq!(
        (data["status"].as_str(), data["progress"].as_i64()),
        (Some("processing"), Some(99))
    );
}

#[tokio::test(start_paused = true)]
async fn realistic_timing_takes_model_time() {
    let server = MockServer::start_with(MockConfig::realistic()).await;
    let api = Api::new(&server);
    let image_id = api.create_ok("images", &image("slow")).await;
    let video_id = api.create_ok("videos", &video("slower")).await;
    // Images take 5-90 s, videos 30-600 s.
    advance(Duration::from_secs(4)).await;
    let running = |data: Value| matches!(data["status"].as_str(), Some("pending" | "processing"));
    assert!(running(api.data("images", &image_id).await));
    assert!(running(api.data("videos", &video_id).await));
    advance(Duration::from_secs(90)).await;
    assert_eq!(api.data("images", &image_id).await["status"], "completed");
    advance(Duration::from_secs(600)).await;
    assert_eq!(api.data("videos", &video_id).await["status"], "completed");
}

#[tokio::test]
async fn tasks_are_scoped_to_their_key_and_kind() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api.create_ok("images", &image("mine")).await;
    assert_eq!(
        api.status_with("images", &id, &[]).await.status(),
        StatusCode::OK
    );

    for (api, kind, task) in [
        (
            Api::new(&server).with_key("sk-other"),
            "images",
            id.as_str(),
        ),
        (Api::new(&server), "videos", id.as_str()),
        (Api::new(&server), "images", "img_doesnotexist"),
    ] {
        let (status, body) = parts(api.status_with(kind, task, &[]).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind} {task}");
        assert_eq!(body["code"], 404);
        assert_eq!(body["data"]["error_code"], "task_not_found");
    }
}

#[tokio::test]
async fn responses_decode_with_the_generated_types() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api
        .create_ok(
            "images",
            &json!({"model": "wan2.7-image", "prompt": "p", "n": 2}),
        )
        .await;
    let body: Value = api
        .status_with("images", &id, &[])
        .await
        .json()
        .await
        .unwrap();
    let typed: TaskStatusResponse = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&typed).unwrap(), body);
}
