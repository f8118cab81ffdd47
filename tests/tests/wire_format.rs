//! The generated client sends exactly the documented create requests.
//!
//! Every test here answers only a request that matches method, path, `Authorization`,
//! `Idempotency-Key`, `Content-Type`, `Accept`, the `apipod-rs/` user agent, the absence of
//! progenitor's `api-version` header, and the JSON body exactly (httpmock's `json_body` is a
//! strict equality), so a client that adds defaults, drops fields or renames anything fails.
//! The expected bodies are the `example`s in `openapi/apipod.yaml`, which carry the same
//! fields and values as the upstream docs' examples (checked against a docs checkout by
//! `docs_examples_round_trip_through_generated_types` when one is present).

use std::num::NonZeroU64;

use apipod_raw::contract::{self, ModelContract, TaskKind};
use apipod_raw::{ApiKey, Client, ClientState, types};
use apipod_tests::{
    GeneratedRequest, create_path, docs_openapi_dir, docs_pages, docs_request_examples,
};
use httpmock::{Method, MockServer};
use serde_json::{Value, json};

const KEY: &str = "sk-wire-format-test-key";

fn client(server: &MockServer) -> Client {
    Client::new(&server.base_url(), ClientState::new(ApiKey::new(KEY)))
}

/// Sends `body` with `idempotency_key` through the create call of its kind.
async fn create(
    client: &Client,
    idempotency_key: Option<&str>,
    body: &GeneratedRequest,
) -> Result<apipod_raw::ResponseValue<types::SubmitTaskResponse>, apipod_raw::Error> {
    match body {
        GeneratedRequest::Image(body) => {
            let key = idempotency_key.map(|k| k.parse().expect("a valid idempotency key"));
            client.create_image_generation(key.as_ref(), body).await
        }
        GeneratedRequest::Video(body) => {
            let key = idempotency_key.map(|k| k.parse().expect("a valid idempotency key"));
            client.create_video_generation(key.as_ref(), body).await
        }
    }
}

/// Answers one create for `model` on `server` only if the request is exactly the
/// documented one with body `expected`, sends `body` with the client, and checks the
/// answer came back decoded.
async fn expect_create(
    server: &MockServer,
    model: &ModelContract,
    body: &GeneratedRequest,
    expected: &Value,
) {
    let idempotency_key = format!("wire-{}-01JEXAMPLE", model.id);
    let task_id = format!("task-{}", model.id);
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(create_path(model.kind))
                .header("authorization", format!("Bearer {KEY}"))
                .header("idempotency-key", &idempotency_key)
                .header("content-type", "application/json")
                .header("accept", "application/json")
                .header_prefix("user-agent", "apipod-rs/")
                .header_missing("api-version")
                .json_body(expected.clone());
            then.status(200)
                .header("content-type", "application/json")
                .header("x-request-id", format!("req-{}", model.id))
                .json_body(
                    json!({"code": 200, "message": "success", "data": {"task_id": task_id}}),
                );
        })
        .await;
    let result = create(&client(server), Some(&idempotency_key), body).await;
    // Asserting the mock first makes httpmock print the closest request and its diff.
    mock.assert_async().await;
    let response = result.unwrap_or_else(|e| panic!("{}: {e}", model.id));
    assert_eq!(response.status(), 200);
    assert_eq!(response.code, 200);
    assert_eq!(response.message, "success");
    assert_eq!(response.data.task_id.as_deref(), Some(task_id.as_str()));
    assert_eq!(
        response.headers()["x-request-id"],
        format!("req-{}", model.id).as_str()
    );
    mock.delete_async().await;
}

#[tokio::test]
async fn every_model_example_goes_on_the_wire_unchanged() {
    let server = MockServer::start_async().await;
    for model in contract::MODELS {
        let example = apipod_tests::model_example(model);
        let body = GeneratedRequest::from_json(model.kind, example).unwrap_or_else(|e| {
            panic!("{}: the generated type refuses the example: {e}", model.id)
        });
        assert_eq!(
            body.schema_name().to_ascii_lowercase(),
            model.schema.to_ascii_lowercase(),
            "{}",
            model.id
        );
        expect_create(&server, model, &body, example).await;
    }
}

#[tokio::test]
async fn requests_built_from_generated_types_match_the_examples() {
    let seedream = types::SeedreamV45Request {
        model: types::SeedreamV45RequestModel::SeedreamV45,
        prompt: "Editorial portrait of a cyclist at dusk, shallow depth of field, film grain."
            .parse()
            .unwrap(),
        quality: Some(types::SeedreamV45RequestQuality::X2k),
        aspect_ratio: Some(types::SeedreamV45RequestAspectRatio::X11),
        callback_url: None,
    };
    let nano = types::NanoBanana2Request {
        model: types::NanoBanana2RequestModel::NanoBanana2,
        prompt: "A ceramic teapot on a linen cloth, morning window light, studio product shot."
            .parse()
            .unwrap(),
        aspect_ratio: Some(types::NanoBanana2RequestAspectRatio::X11),
        quality: Some(types::NanoBanana2RequestQuality::X1k),
        image_urls: Vec::new(),
    };
    let wan = types::Wan27ImageRequest {
        model: types::Wan27ImageRequestModel::Wan27Image,
        prompt: "Isometric illustration of a tiny bookshop on a rainy street corner."
            .parse()
            .unwrap(),
        size: Some(types::Wan27ImageRequestSize::X1k),
        aspect_ratio: Some(types::Wan27ImageRequestAspectRatio::X169),
        n: Some(types::Wan27ImageRequestN::try_from(NonZeroU64::MIN).unwrap()),
        thinking_mode: None,
        watermark: None,
    };
    let veo = types::Veo31FastRequest {
        model: types::Veo31FastRequestModel::Veo31Fast,
        prompt: "A paper boat drifting down a gutter stream after rain, low tracking shot."
            .parse()
            .unwrap(),
        aspect_ratio: Some(types::Veo31FastRequestAspectRatio::X169),
        image_urls: Vec::new(),
        callback_url: None,
    };
    let i2v = types::Seedance20I2vRequest {
        model: types::Seedance20I2vRequestModel::Seedance20I2v,
        prompt: "The subject turns towards the camera, gentle push-in, soft light."
            .parse()
            .unwrap(),
        image_urls: vec!["https://cdn.example.com/reference-1.jpg".into()],
        duration: Some(types::Seedance20I2vRequestDuration::try_from(5).unwrap()),
        resolution: Some(types::Seedance20I2vRequestResolution::X720p),
        aspect_ratio: Some(types::Seedance20I2vRequestAspectRatio::X169),
        generate_audio: Some(true),
        return_last_frame: None,
        watermark: None,
        web_search: None,
    };
    let r2v = types::Seedance20R2vRequest {
        model: types::Seedance20R2vRequestModel::Seedance20R2v,
        prompt: "The character from the photo walks through the street from the clip."
            .parse()
            .unwrap(),
        image_urls: vec!["https://cdn.example.com/reference-1.jpg".into()],
        video_urls: vec!["https://cdn.example.com/reference.mp4".into()],
        audio_urls: vec!["https://cdn.example.com/reference.mp3".into()],
        duration: Some(types::Seedance20R2vRequestDuration::try_from(5).unwrap()),
        resolution: Some(types::Seedance20R2vRequestResolution::X720p),
        aspect_ratio: Some(types::Seedance20R2vRequestAspectRatio::Adaptive),
        generate_audio: Some(true),
        return_last_frame: None,
        watermark: None,
        web_search: None,
    };
    let bodies = [
        ("seedream-v4.5", GeneratedRequest::Image(seedream.into())),
        ("nano-banana-2", GeneratedRequest::Image(nano.into())),
        ("wan2.7-image", GeneratedRequest::Image(wan.into())),
        ("veo3-1-fast", GeneratedRequest::Video(veo.into())),
        ("seedance-2.0-i2v", GeneratedRequest::Video(i2v.into())),
        ("seedance-2.0-r2v", GeneratedRequest::Video(r2v.into())),
    ];
    let server = MockServer::start_async().await;
    for (id, body) in &bodies {
        let model = contract::find(id).unwrap();
        let example = apipod_tests::model_example(model);
        assert_eq!(&body.to_json(), example, "{id}: built body vs spec example");
        expect_create(&server, model, body, example).await;
    }
}

#[tokio::test]
async fn unset_optional_fields_stay_off_the_wire() {
    // APIPod applies the defaults itself; the client must not send them.
    let body = types::Seedance20T2vRequest {
        model: types::Seedance20T2vRequestModel::Seedance20T2v,
        prompt: "A kite over the dunes.".parse().unwrap(),
        aspect_ratio: None,
        duration: None,
        generate_audio: None,
        resolution: None,
        return_last_frame: None,
        watermark: None,
        web_search: None,
    };
    let server = MockServer::start_async().await;
    let model = contract::find("seedance-2.0-t2v").unwrap();
    let expected = json!({"model": "seedance-2.0-t2v", "prompt": "A kite over the dunes."});
    expect_create(
        &server,
        model,
        &GeneratedRequest::Video(body.into()),
        &expected,
    )
    .await;
}

#[tokio::test]
async fn the_body_matcher_rejects_an_added_default() {
    // The wire checks above are only as good as httpmock's `json_body`: show that one extra
    // field (a default the client might have filled in) makes the request miss.
    let model = contract::find("seedream-v4.5").unwrap();
    let example = apipod_tests::model_example(model);
    let mut with_default = example.clone();
    with_default["callback_url"] = json!("");
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(create_path(TaskKind::Image))
                .json_body(with_default);
            then.status(200)
                .json_body(json!({"code": 200, "message": "success", "data": {}}));
        })
        .await;
    let body = GeneratedRequest::from_json(TaskKind::Image, example).unwrap();
    match create(&client(&server), None, &body).await {
        Err(apipod_raw::Error::UnexpectedResponse(response)) => assert_eq!(response.status(), 404),
        other => panic!("expected httpmock's 404 for an unmatched request, got {other:?}"),
    }
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn the_header_matchers_reject_what_the_client_must_not_send() {
    // Likewise for the header checks: an `api-version` header or a foreign user agent
    // makes a request miss.
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(create_path(TaskKind::Image))
                .header_prefix("user-agent", "apipod-rs/")
                .header_missing("api-version");
            then.status(200);
        })
        .await;
    let http = reqwest::Client::new();
    let url = server.url(create_path(TaskKind::Image));
    let send = |user_agent: &'static str, api_version: Option<&'static str>| {
        let mut request = http.post(&url).header("user-agent", user_agent);
        if let Some(version) = api_version {
            request = request.header("api-version", version);
        }
        async move {
            request
                .send()
                .await
                .expect("loopback request")
                .status()
                .as_u16()
        }
    };
    assert_eq!(send("apipod-rs/0.1.0", Some("1.0.0")).await, 404);
    assert_eq!(send("reqwest/0.13", None).await, 404);
    assert_eq!(send("apipod-rs/0.1.0", None).await, 200);
    assert_eq!(mock.calls_async().await, 1);
}

#[tokio::test]
async fn headers_follow_the_client_state() {
    let model = contract::find("veo3-1-fast").unwrap();
    let body =
        GeneratedRequest::from_json(TaskKind::Video, apipod_tests::model_example(model)).unwrap();
    let server = MockServer::start_async().await;

    // No idempotency key, no API key, a custom user agent.
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(create_path(TaskKind::Video))
                .header_missing("idempotency-key")
                .header_missing("authorization")
                .header_missing("api-version")
                .header("user-agent", "render-farm/2.1");
            then.status(200)
                .json_body(json!({"code": 200, "message": "success", "data": {"task_id": "v1"}}));
        })
        .await;
    let anonymous = Client::new(
        &server.base_url(),
        ClientState::anonymous().with_user_agent("render-farm/2.1"),
    );
    let result = create(&anonymous, None, &body).await;
    mock.assert_async().await;
    assert_eq!(result.unwrap().data.task_id.as_deref(), Some("v1"));
    mock.delete_async().await;

    // A key read from a file keeps no trailing newline on the wire.
    let mock = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path(create_path(TaskKind::Video))
                .header("authorization", format!("Bearer {KEY}"))
                .header(
                    "user-agent",
                    format!("apipod-rs/{}", env!("CARGO_PKG_VERSION")),
                );
            then.status(200)
                .json_body(json!({"code": 200, "message": "success", "data": {"task_id": "v2"}}));
        })
        .await;
    let keyed = Client::new(
        &server.base_url(),
        ClientState::new(ApiKey::new(format!("{KEY}\n"))),
    );
    let result = create(&keyed, None, &body).await;
    mock.assert_async().await;
    assert_eq!(result.unwrap().data.task_id.as_deref(), Some("v2"));
}

#[test]
fn an_overlong_idempotency_key_is_refused_before_sending() {
    let longest = "k".repeat(255);
    assert!(
        longest
            .parse::<types::CreateImageGenerationIdempotencyKey>()
            .is_ok()
    );
    assert!(
        format!("{longest}k")
            .parse::<types::CreateVideoGenerationIdempotencyKey>()
            .is_err()
    );
}

/// Each upstream page's request example decodes into the generated type for its model and
/// encodes back to exactly the same JSON; our spec's example differs from it only in the
/// prompt text.
#[test]
fn docs_examples_round_trip_through_generated_types() {
    let Some(dir) = docs_openapi_dir() else {
        eprintln!(
            "skipped: no docs checkout at ../shared/apipod-docs (or APIPOD_DOCS_DIR); \
             the upstream examples were not compared"
        );
        return;
    };
    let pages = docs_pages(&dir);
    let examples = docs_request_examples(&pages);
    let mut seen = Vec::new();
    for docs in &examples {
        let model = contract::find(&docs.model_id)
            .unwrap_or_else(|| panic!("{}: model {} is not in our spec", docs.file, docs.model_id));
        assert_eq!(
            model.kind, docs.kind,
            "{}: created on another route",
            docs.file
        );
        assert_eq!(
            docs.example["model"], model.id,
            "{}: example names another model",
            docs.file
        );

        let generated =
            GeneratedRequest::from_json(model.kind, &docs.example).unwrap_or_else(|e| {
                panic!(
                    "{}: the generated type refuses the docs example: {e}",
                    docs.file
                )
            });
        assert_eq!(
            generated.schema_name().to_ascii_lowercase(),
            model.schema.to_ascii_lowercase(),
            "{}",
            docs.file
        );
        assert_eq!(
            generated.to_json(),
            docs.example,
            "{}: the round trip changed the body",
            docs.file
        );
        // The docs example passes our contract, unless the page contradicts itself on that
        // field and the spec records which reading it enforces (`x-apipod-docs-says`).
        for v in model.validate(docs.example.as_object().unwrap()) {
            let recorded = apipod_tests::schema(model.schema)
                .pointer(&format!("/properties/{}/x-apipod-docs-says", v.field))
                .is_some();
            assert!(
                recorded,
                "{}: the docs example breaks our contract: {v}",
                docs.file
            );
        }
        seen.push(model.id);
    }
    seen.sort_unstable();
    let mut all: Vec<&str> = contract::MODELS.iter().map(|m| m.id).collect();
    all.sort_unstable();
    assert_eq!(seen, all, "one docs page per model");
}

/// The response examples on the upstream pages (create and status) decode into the
/// generated envelopes and encode back unchanged.
#[test]
fn docs_response_examples_round_trip_through_generated_types() {
    let Some(dir) = docs_openapi_dir() else {
        eprintln!("skipped: no docs checkout at ../shared/apipod-docs (or APIPOD_DOCS_DIR)");
        return;
    };
    let mut checked = 0;
    for page in docs_pages(&dir) {
        for (pointer, example) in apipod_tests::find_key(&page.doc, "example") {
            let Some(response) = pointer.strip_suffix("/content/application~1json/example") else {
                continue;
            };
            if !response.contains("/responses/2")
                || !(pointer.starts_with("/paths/~1v1~1images~1")
                    || pointer.starts_with("/paths/~1v1~1videos~1"))
            {
                continue;
            }
            let decoded = if pointer.starts_with("/paths/~1v1~1images~1status")
                || pointer.starts_with("/paths/~1v1~1videos~1status")
            {
                serde_json::from_value::<types::TaskStatusResponse>(example.clone())
                    .map(|v| serde_json::to_value(v).unwrap())
            } else {
                serde_json::from_value::<types::SubmitTaskResponse>(example.clone())
                    .map(|v| serde_json::to_value(v).unwrap())
            };
            let decoded = decoded.unwrap_or_else(|e| panic!("{}{pointer}: {e}", page.file));
            assert_eq!(&decoded, example, "{}{pointer}", page.file);
            checked += 1;
        }
    }
    // One create page per model and the 2 status pages.
    assert_eq!(checked, contract::MODELS.len() + 2);
}
