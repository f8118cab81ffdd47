//! Validation, routing and authentication errors.

use apipod_mock::{MockConfig, MockServer};
use apipod_raw::types::ErrorResponse;
use reqwest::StatusCode;
use serde_json::json;

use crate::{Api, image, parts};

#[tokio::test]
async fn validation_errors_name_the_field() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let cases = [
        (
            json!({"model": "seedream-v4.5", "prompt": "p", "quality": "8K"}),
            "`quality`",
        ),
        (json!({"model": "seedream-v4.5"}), "`prompt` is required"),
        (
            json!({"model": "nano-banana-2", "prompt": "x".repeat(3994)}),
            "`prompt` is 3994 characters long",
        ),
        (
            json!({"model": "wan2.7-image", "prompt": "p", "callback_url": "http://127.0.0.1:1/"}),
            "`callback_url` is not a field",
        ),
        (
            json!({"model": "nano-banana-2", "prompt": "p", "seed": 1}),
            "`seed`",
        ),
    ];
    for (body, expected) in cases {
        let (status, body) = parts(api.create("images", &body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["code"], 400);
        assert_eq!(body["data"]["type"], "invalid_request_error");
        assert_eq!(body["data"]["error_code"], "invalid_request");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message:?} lacks {expected:?}");
    }
    let (status, body) = parts(
        api.create(
            "videos",
            &json!({"model": "seedance-2.0-t2v", "prompt": "p", "duration": 20}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("`duration` is 20; the maximum is 15")
    );
    assert_eq!(server.tasks_created(), 0);
}

#[tokio::test]
async fn bodies_that_are_not_requests_are_400() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    let url = format!("{}/v1/images/generations", api.base);
    for raw in [
        "not json",
        "[1, 2]",
        "{\"prompt\": \"no model\"}",
        "{\"model\": 7}",
    ] {
        let response = api
            .http
            .post(&url)
            .bearer_auth(&api.key)
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body) = parts(response).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw}");
        assert_eq!(body["data"]["error_code"], "invalid_request", "{raw}");
        let typed: ErrorResponse = serde_json::from_value(body).unwrap();
        assert!(typed.message.is_some_and(|m| !m.is_empty()));
    }
}

#[tokio::test]
async fn wrong_route_or_unknown_model_is_model_not_available() {
    let server = MockServer::start().await;
    let api = Api::new(&server);
    for (kind, body) in [
        ("images", json!({"model": "veo3-1-fast", "prompt": "p"})),
        ("videos", json!({"model": "nano-banana-2", "prompt": "p"})),
        ("images", json!({"model": "dall-e-9", "prompt": "p"})),
    ] {
        let (status, body) = parts(api.create(kind, &body).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], 404);
        assert_eq!(body["data"]["error_code"], "model_not_available");
    }
    let (status, body) = parts(api.get(&format!("{}/v2/nothing", api.base)).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["data"]["error_code"], "not_found");
}

#[tokio::test]
async fn authentication() {
    let expected = json!({"error": {
        "message": "Authentication required. Please provide a valid API key or sign in.",
        "type": "invalid_request_error",
        "code": "invalid_api_key"
    }});
    let server = MockServer::start_with(MockConfig::fast().api_key(Some("sk-right"))).await;
    let api = Api::new(&server);

    let missing = api
        .http
        .post(format!("{}/v1/images/generations", api.base))
        .json(&image("p"))
        .send()
        .await
        .unwrap();
    assert!(missing.headers().contains_key("x-request-id"));
    assert_eq!(
        parts(missing).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );

    let wrong = Api::new(&server).with_key("sk-wrong");
    assert_eq!(
        parts(wrong.create("images", &image("p")).await).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );
    assert_eq!(
        parts(wrong.status_with("images", "img_x", &[]).await).await,
        (StatusCode::UNAUTHORIZED, expected.clone())
    );
    let right = Api::new(&server).with_key("sk-right");
    right.create_ok("images", &image("p")).await;
    assert_eq!(server.tasks_created(), 1);

    // Default: any non-empty key.
    let open = MockServer::start().await;
    Api::new(&open)
        .with_key("anything")
        .create_ok("images", &image("p"))
        .await;
    let empty = Api::new(&open).with_key("");
    assert_eq!(
        parts(empty.create("images", &image("p")).await).await.0,
        StatusCode::UNAUTHORIZED
    );
}
