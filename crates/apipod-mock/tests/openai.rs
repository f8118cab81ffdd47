//! The OpenAI-compatible images endpoints on the wire: the 504 `sync_image_timeout` linked to
//! a real task, contract and file-limit refusals in OpenAI's error envelope, and the input
//! forms an edit accepts.

use std::time::Duration;

use apipod_mock::{MockConfig, MockServer};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

const GENERATIONS: &str = "/openai/v1/images/generations";
const EDITS: &str = "/openai/v1/images/edits";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn post_json(server: &MockServer, body: Value) -> (u16, Value) {
    let r = http()
        .post(server.url(GENERATIONS))
        .bearer_auth("sk-test")
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn post_form(server: &MockServer, form: Form) -> (u16, Value) {
    let r = http()
        .post(server.url(EDITS))
        .bearer_auth("sk-test")
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn file(bytes: Vec<u8>) -> Part {
    Part::bytes(bytes).file_name("in.png")
}

#[tokio::test(start_paused = true)]
async fn a_504_names_a_real_task_that_completes_later() {
    let config = MockConfig::fast().openai_sync_wait(Duration::from_millis(100));
    let server = MockServer::start_with(config).await;
    let (status, body) =
        post_json(&server, json!({"model": "gpt-image-2", "prompt": "slow"})).await;
    assert_eq!(status, 504);
    assert_eq!(body["error"]["code"], "sync_image_timeout");
    assert_eq!(body["error"]["type"], "server_error");
    let message = body["error"]["message"].as_str().unwrap();
    let task_id = apipod_raw::openai::task_id_from_message(message)
        .unwrap()
        .to_string();
    assert!(
        message.contains(&format!("GET /v1/images/status/{task_id}")),
        "{message}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status: Value = http()
        .get(server.url(&format!("/v1/images/status/{task_id}")))
        .bearer_auth("sk-test")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["data"]["status"], "completed");
    let url = status["data"]["result"][0].as_str().unwrap();
    let png = http().get(url).send().await.unwrap().bytes().await.unwrap();
    assert!(png.starts_with(PNG));
}

#[tokio::test]
async fn generations_follow_the_contract_in_openais_envelope() {
    let server = MockServer::start().await;
    let cases = [
        (
            json!({"model": "gpt-image-9", "prompt": "x"}),
            404,
            "model_not_found",
        ),
        (
            json!({"model": "seedance-2.0-t2v", "prompt": "x"}),
            400,
            "invalid_request",
        ),
        (
            json!({"model": "gpt-image-2", "prompt": "x", "n": 11}),
            400,
            "invalid_request",
        ),
        (
            json!({"model": "seedream-v4.5", "prompt": "x", "quality": "high"}),
            400,
            "invalid_request",
        ),
        (json!({"model": "gpt-image-2"}), 400, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = post_json(&server, body.clone()).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
    assert_eq!(server.tasks_created(), 0);
    let r = http()
        .post(server.url(GENERATIONS))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    // Unknown fields are ignored; sizes map to the model's ratios.
    let (status, answer) = post_json(
        &server,
        json!({"model": "gpt-image-2", "prompt": "x", "size": "1024x1536", "input_fidelity": "high"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn edits_check_models_and_file_limits() {
    let server = MockServer::start().await;
    let form = |model: &str, files: usize, size: usize| {
        (0..files).fold(
            Form::new()
                .text("model", model.to_string())
                .text("prompt", "add a hat"),
            |f, _| f.part("image", file(vec![0u8; size])),
        )
    };
    let (status, answer) = post_form(&server, form("seedream-v4.5", 1, 10)).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot edit")
    );
    let (status, answer) = post_form(&server, form("gpt-image-2", 11, 10)).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10"),
        "{answer}"
    );
    let (status, answer) = post_form(&server, form("gpt-image-2", 1, 10 * 1024 * 1024 + 1)).await;
    assert_eq!(status, 400);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`image[0]`"),
        "{answer}"
    );
    let (status, _) = post_form(&server, form("gpt-image-2", 0, 0)).await;
    assert_eq!(status, 400);
    assert_eq!(server.tasks_created(), 0);
    // `image[]` parts, a mask and a data URI in `image_urls` are all inputs.
    let ok = Form::new()
        .text("model", "nano-banana-pro")
        .text("prompt", "add a hat")
        .text("response_format", "url")
        .part("image[]", file(PNG.to_vec()))
        .part("mask", file(PNG.to_vec()))
        .text("image_urls", "data:image/png;base64,iVBORw0KGgo=");
    let (status, answer) = post_form(&server, ok).await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["data"][0]["url"]
            .as_str()
            .unwrap()
            .starts_with(&server.base_url())
    );
    assert_eq!(server.tasks_created(), 1);
}
