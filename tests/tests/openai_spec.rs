//! The OpenAI-compatible images operations in the spec agree with the rules the SDK, the
//! mock and the CLI share (`apipod_raw::openai`), and their examples decode into the
//! generated types. (The docs describe this API only in prose, so drift cannot check it.)

use apipod_raw::openai;
use apipod_raw::types;
use apipod_tests::{example_of, spec};
use serde_json::Value;

fn schema(name: &str) -> &'static Value {
    &spec()["components"]["schemas"][name]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn the_shared_rules_are_the_specs_limits() {
    let generation = &schema("OpenAiImageGenerationRequest")["properties"];
    let edit = &schema("OpenAiImageEditRequest")["properties"];
    assert_eq!(generation["prompt"]["maxLength"], openai::MAX_PROMPT_CHARS);
    for props in [generation, edit] {
        assert_eq!(props["n"]["maximum"], openai::MAX_N);
        assert_eq!(
            strings(&props["response_format"]["enum"]),
            openai::RESPONSE_FORMATS
        );
        assert_eq!(
            strings(&props["output_format"]["enum"]),
            openai::OUTPUT_FORMATS
        );
        assert_eq!(strings(&props["background"]["enum"]), openai::BACKGROUNDS);
    }
    assert_eq!(edit["image"]["maxItems"], openai::MAX_EDIT_IMAGES);
    assert_eq!(
        generation["response_format"]["default"],
        openai::RESPONSE_FORMATS[0]
    );
    let paths = &spec()["paths"];
    for (path, id) in [
        (openai::GENERATIONS_PATH, "create_openai_image"),
        (openai::EDITS_PATH, "edit_openai_image"),
    ] {
        let op = &paths[path]["post"];
        assert_eq!(op["operationId"], id);
        assert_eq!(op["servers"][0]["url"], openai::DEFAULT_SYNC_BASE_URL);
    }
    assert!(
        paths[openai::EDITS_PATH]["post"]["requestBody"]["content"]
            .get("multipart/form-data")
            .is_some()
    );
}

#[test]
fn the_examples_decode_into_the_generated_types() {
    let response: types::OpenAiImagesResponse =
        serde_json::from_value(example_of("OpenAiImagesResponse").unwrap().clone()).unwrap();
    assert_eq!(response.usage.unwrap().total_tokens, Some(4242));
    let error: types::OpenAiErrorResponse =
        serde_json::from_value(example_of("OpenAiErrorResponse").unwrap().clone()).unwrap();
    assert_eq!(error.error.code.as_deref(), Some(openai::TIMEOUT_CODE));
    assert_eq!(
        openai::task_id_from_message(&error.error.message),
        Some("0d1c")
    );
    let request: types::OpenAiImageGenerationRequest =
        serde_json::from_value(example_of("OpenAiImageGenerationRequest").unwrap().clone())
            .unwrap();
    assert_eq!(request.model, "gpt-image-2");
}
