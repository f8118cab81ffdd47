//! The mock's OpenAI-compatible images API driven by `async-openai`, a widely used OpenAI
//! client that nobody here wrote: its JSON generation request, its multipart edit request
//! (both `image[]` and `image` part names), its error decoding, and the images it gets
//! back, decoded.
//!
//! Finding pinned here: APIPod documents `usage` as `{prompt_tokens, completion_tokens,
//! total_tokens}`, while async-openai's typed `ImagesResponse` requires OpenAI's image usage
//! (`input_tokens`, `output_tokens`, `input_tokens_details`). Its typed `images().generate`
//! therefore fails to decode APIPod's documented answer; its `*_byot` calls (same request,
//! caller's response type) work, and `data[]` decodes into its own `Image` type.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::InputSource;
use async_openai::types::images::{
    CreateImageEditRequestArgs, CreateImageRequest, CreateImageRequestArgs, Image, ImageEditInput,
    ImageInput, ImageModel, ImageResponseFormat, ImageSize,
};
use base64::Engine as _;
use serde_json::Value;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

fn openai(server: &apipod_mock::MockServer) -> Client<OpenAIConfig> {
    let config = OpenAIConfig::new()
        .with_api_key("sk-interop")
        .with_api_base(format!("{}/openai/v1", server.base_url()));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Client::with_config(config).with_http_client(http)
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(PNG), "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

/// The images of an answer, decoded with async-openai's own `Image` type.
fn images(answer: &Value) -> Vec<Image> {
    serde_json::from_value(answer["data"].clone()).expect("data[] decodes as async-openai Images")
}

fn decoded(image: &Image) -> Vec<u8> {
    let Image::B64Json { b64_json, .. } = image else {
        panic!("expected b64_json: {image:?}");
    };
    base64::engine::general_purpose::STANDARD
        .decode(b64_json.as_bytes())
        .unwrap()
}

fn generation(n: u8) -> CreateImageRequest {
    CreateImageRequestArgs::default()
        .model(ImageModel::GptImage2)
        .prompt("a watercolor castle floating above clouds")
        .n(n)
        .size(ImageSize::S1536x1024)
        .build()
        .unwrap()
}

#[tokio::test]
async fn async_openai_generates_images_and_they_decode() {
    let server = apipod_mock::MockServer::start().await;
    let answer: Value = openai(&server)
        .images()
        .generate_byot(generation(2))
        .await
        .unwrap();
    let images = images(&answer);
    assert_eq!(images.len(), 2);
    for image in &images {
        let (w, h) = png_size(&decoded(image));
        let ratio = f64::from(w) / f64::from(h);
        assert!((ratio - 1.5).abs() < 0.02, "1536x1024 is 3:2, got {w}x{h}");
    }
    let usage = &answer["usage"];
    assert_eq!(
        usage["total_tokens"].as_i64(),
        Some(
            usage["prompt_tokens"].as_i64().unwrap() + usage["completion_tokens"].as_i64().unwrap()
        )
    );
    assert!(answer["created"].as_u64().is_some());
}

#[tokio::test]
async fn async_openai_gets_urls_it_can_download() {
    let server = apipod_mock::MockServer::start().await;
    let mut request = generation(1);
    // Deprecated upstream for OpenAI's own GPT image models; APIPod documents it.
    #[allow(deprecated)]
    {
        request.response_format = Some(ImageResponseFormat::Url);
    }
    let client = openai(&server);
    let answer: Value = client.images().generate_byot(request).await.unwrap();
    let images = images(&answer);
    let [Image::Url { url, .. }] = images.as_slice() else {
        panic!("expected one URL: {answer}");
    };
    let png = reqwest::get(url.as_str())
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    png_size(&png);
}

#[tokio::test]
async fn async_openai_edits_images_from_multipart_uploads() {
    let server = apipod_mock::MockServer::start().await;
    let client = openai(&server);
    let input = |name: &str| ImageInput {
        source: InputSource::VecU8 {
            filename: name.into(),
            vec: [PNG, name.as_bytes()].concat(),
        },
    };
    // Several inputs go as `image[]` parts, one as `image`; both are accepted.
    for image in [
        ImageEditInput::Images(vec![input("cat.png"), input("hat.png")]),
        ImageEditInput::Image(input("cat.png")),
    ] {
        let request = CreateImageEditRequestArgs::default()
            .model(ImageModel::GptImage2)
            .prompt("add a red wool hat to the cat")
            .image(image)
            .mask(input("mask.png"))
            .build()
            .unwrap();
        let answer: Value = client.images().edit_byot(request).await.unwrap();
        let images = images(&answer);
        assert_eq!(images.len(), 1);
        png_size(&decoded(&images[0]));
    }
    let edits = server.log().entries_for("/openai/v1/images/edits");
    assert_eq!(edits.len(), 2);
    assert!(
        edits
            .iter()
            .all(|e| e.status == 200 && e.created_task.is_some())
    );
}

#[tokio::test]
async fn async_openai_reads_the_error_envelope() {
    let server = apipod_mock::MockServer::start().await;
    let mut request = generation(1);
    request.model = ImageModel::Other("gpt-image-99".into());
    let err = openai(&server)
        .images()
        .generate_byot::<_, Value>(request)
        .await
        .unwrap_err();
    let OpenAIError::ApiError(api) = err else {
        panic!("expected an API error: {err:?}");
    };
    assert_eq!(api.status_code.as_u16(), 404);
    assert_eq!(api.api_error.code.as_deref(), Some("model_not_found"));
    assert_eq!(
        api.api_error.r#type.as_deref(),
        Some("invalid_request_error")
    );
}

#[tokio::test]
async fn async_openai_typed_response_rejects_apipods_documented_usage() {
    let server = apipod_mock::MockServer::start().await;
    let err = openai(&server)
        .images()
        .generate(generation(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OpenAIError::JSONDeserialize(e, _) if e.to_string().contains("input_tokens")),
        "{err:?}"
    );
}
