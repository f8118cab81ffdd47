//! The Seedance asset library: uploads, validation, lifecycle, markers, lookups, faults.

use std::time::Duration;

use apipod_mock::{ASSET_FAILURE_MESSAGE, FaultConfig, FaultScope, MockServer, asset_markers};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::{Api, KEY, image, parts};

impl Api {
    async fn upload(&self, body: &Value) -> Response {
        self.http
            .post(format!("{}/v1/assets", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// An upload that must succeed; returns the asset `data`.
    async fn upload_ok(&self, url: &str, asset_type: &str) -> Value {
        let (status, body) = parts(
            self.upload(&json!({"assetType": asset_type, "url": url}))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["code"], 200);
        assert_eq!(body["message"], "success");
        body["data"].clone()
    }

    /// `GET /v1/assets/{path}` (the path as given: bare, encoded or raw reference form).
    async fn asset(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        let mut request = self
            .http
            .get(format!("{}/v1/assets/{path}", self.base))
            .bearer_auth(&self.key);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn asset_status(&self, id: &str) -> String {
        let (status, body) = parts(self.asset(id, &[]).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["status"].as_str().unwrap().to_string()
    }
}

#[tokio::test(start_paused = true)]
async fn an_upload_goes_from_none_to_active_within_two_seconds() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let created = api
        .upload_ok("https://cdn.example.com/person.png", "image")
        .await;
    let id = created["assetId"].as_str().unwrap().to_string();
    assert!(id.starts_with("asset-"), "{id}");
    assert_eq!(created["assetType"], "Image", "the type is normalised");
    assert_eq!(created["url"], "https://cdn.example.com/person.png");
    assert_eq!(created["status"], "NONE");
    assert_eq!(created["name"], "");
    assert!(created["errorMessage"].is_null(), "{created}");
    assert!(created.as_object().unwrap().contains_key("errorMessage"));

    let mut seen = vec![api.asset_status(&id).await];
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let status = api.asset_status(&id).await;
        if seen.last() != Some(&status) {
            seen.push(status);
        }
    }
    assert_eq!(seen, ["NONE", "UPLOADING", "PROCESSING", "ACTIVE"]);
    assert_eq!(server.assets_created(), 1);
    assert_eq!(server.tasks_created(), 0);
}

#[tokio::test(start_paused = true)]
async fn url_markers_pick_the_ending() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let cases = [
        (asset_markers::FAIL, "FAILED"),
        (asset_markers::EXPIRE, "EXPIRED"),
        (asset_markers::DELETE, "DELETED"),
        (asset_markers::STUCK, "PROCESSING"),
    ];
    let mut ids = Vec::new();
    for (marker, _) in cases {
        let url = format!("https://cdn.example.com/{marker}/clip.mp4");
        ids.push(api.upload_ok(&url, "Video").await["assetId"].clone());
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    for ((_, expected), id) in cases.iter().zip(&ids) {
        let (_, body) = parts(api.asset(id.as_str().unwrap(), &[]).await).await;
        assert_eq!(body["data"]["status"], *expected);
        if *expected == "FAILED" {
            assert_eq!(body["data"]["errorMessage"], ASSET_FAILURE_MESSAGE);
        } else {
            assert!(body["data"]["errorMessage"].is_null(), "{body}");
        }
    }
}

#[tokio::test]
async fn bad_uploads_get_400_naming_the_field() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let cases = [
        (json!({"url": "https://x.example/a.png"}), "assetType"),
        (
            json!({"assetType": "Text", "url": "https://x.example/a.png"}),
            "assetType",
        ),
        (
            json!({"assetType": 3, "url": "https://x.example/a.png"}),
            "assetType",
        ),
        (json!({"assetType": "Image"}), "url"),
        (
            json!({"assetType": "Image", "url": "ftp://x.example/a.png"}),
            "url",
        ),
        (
            json!({"assetType": "Image", "url": "data:image/png;base64,iVBORw0KGgo="}),
            "url",
        ),
        (
            json!({"assetType": "Image", "url": "https://x.example/a.png", "name": ["a"]}),
            "name",
        ),
        (json!(["not", "an", "object"]), "JSON object"),
    ];
    for (body, field) in cases {
        let (status, answer) = parts(api.upload(&body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer["code"], 400);
        assert_eq!(answer["data"]["error_code"], "invalid_request");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(field), "{message:?} lacks {field:?}");
    }
    let not_json = api
        .http
        .post(format!("{}/v1/assets", api.base))
        .bearer_auth(KEY)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(server.assets_created(), 0);
}

#[tokio::test]
async fn names_are_kept_and_truncated_to_50_characters() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let long: String = "ü".repeat(70);
    let (_, body) = parts(
        api.upload(&json!({"assetType": "AUDIO", "url": "https://x.example/a.mp3", "name": long}))
            .await,
    )
    .await;
    assert_eq!(body["data"]["assetType"], "Audio");
    assert_eq!(body["data"]["name"].as_str().unwrap().chars().count(), 50);
}

#[tokio::test]
async fn reads_accept_bare_ids_and_references_and_are_private_to_the_key() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api.upload_ok("https://x.example/a.png", "Image").await["assetId"]
        .as_str()
        .unwrap()
        .to_string();
    for path in [
        id.clone(),
        format!("assetId:%2F%2F{id}"),
        format!("assetId://{id}"),
    ] {
        let (status, body) = parts(api.asset(&path, &[]).await).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert_eq!(body["data"]["assetId"], id.as_str(), "{path}");
    }

    let not_found = json!({"code": 404, "message": "asset not found"});
    let (status, body) = parts(api.asset("asset-20260101000000-nothere", &[]).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found);
    let other = Api::new(&server).with_key("sk-someone-else");
    let (status, body) = parts(other.asset(&id, &[]).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, not_found);

    let anonymous = api
        .http
        .get(format!("{}/v1/assets/{id}", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let anonymous = api
        .http
        .post(format!("{}/v1/assets", api.base))
        .json(&json!({"assetType": "Image", "url": "https://x.example/a.png"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.assets_created(), 1);
}

#[tokio::test]
async fn creates_and_reads_are_logged_apart_from_tasks() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    api.create_ok("images", &image("a task")).await;
    let id = api.upload_ok("https://x.example/a.png", "Image").await["assetId"]
        .as_str()
        .unwrap()
        .to_string();
    api.asset(&format!("assetId://{id}"), &[]).await;
    let creates = server.log().entries_for("/v1/assets");
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].method, "POST");
    assert_eq!(creates[0].status, 200);
    assert_eq!(creates[0].created_asset.as_deref(), Some(id.as_str()));
    assert_eq!(creates[0].created_task, None);
    assert!(creates[0].request_id.starts_with("req_"));
    let reads: Vec<_> = server
        .log()
        .entries()
        .into_iter()
        .filter(|e| e.method == "GET" && e.path.starts_with("/v1/assets/"))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].asset_id.as_deref(), Some(id.as_str()));
    assert_eq!(reads[0].created_asset, None);
    assert_eq!((server.tasks_created(), server.assets_created()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn faults_apply_to_asset_routes() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let id = api.upload_ok("https://x.example/a.png", "Image").await["assetId"]
        .as_str()
        .unwrap()
        .to_string();
    let response = api.asset(&id, &[("x-mock-fault", "503")]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    let (_, body) = parts(api.asset(&id, &[("x-mock-fault", "unknown-status")]).await).await;
    assert_eq!(body["data"]["status"], "finalizing");

    server.set_faults(
        FaultConfig::new()
            .error_rate(503, 1.0)
            .retry_after(60)
            .scope(FaultScope::StatusReads),
    );
    let response = api.asset(&id, &[]).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "60");

    server.set_faults(FaultConfig::new().latency(Duration::from_secs(30)));
    let started = tokio::time::Instant::now();
    assert_eq!(api.asset_status(&id).await, "ACTIVE");
    assert!(started.elapsed() >= Duration::from_secs(30));
    let log = server.log().entries();
    assert_eq!(log[1].fault.as_deref(), Some("503"));
}
