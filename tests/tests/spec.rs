//! `openapi/apipod.yaml` is a sound OpenAPI 3.0 document: it parses, names every model of the contract table,
//! uses no 3.1 constructs, quotes every ratio, and every `example` in it validates against
//! its own schema, checked three ways (the generic schema checker, the contract table, and
//! a round trip through the generated types).

use std::collections::BTreeSet;

use apipod_raw::contract::{self, Problem, TaskKind};
use apipod_raw::types;
use apipod_tests::{GeneratedRequest, find_key, schema, schema_check, spec, spec_text};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// The envelope schemas that carry an example, with the generated type each decodes into.
const ENVELOPES: [&str; 3] = ["SubmitTaskResponse", "TaskStatusResponse", "ErrorResponse"];

/// The asset library's schemas that carry an example.
const ASSET_EXAMPLES: [&str; 2] = ["AssetUploadRequest", "AssetResponse"];
/// The OpenAI-compatible images schemas with an example (from the docs page).
const OPENAI_EXAMPLES: [&str; 3] = [
    "OpenAiImageGenerationRequest",
    "OpenAiImagesResponse",
    "OpenAiErrorResponse",
];

/// `items` sorted, so that assertions do not depend on JSON object key order.
fn sorted(mut items: Vec<String>) -> Vec<String> {
    items.sort();
    items
}

/// A [`round_trip`] through one generated type.
type RoundTrip = fn(&Value) -> Result<Value, String>;

/// Decodes `value` as `T` and encodes it again.
fn round_trip<T: DeserializeOwned + Serialize>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    serde_json::to_value(&typed).map_err(|e| e.to_string())
}

#[test]
fn spec_parses_as_openapi_3_0() {
    let document: openapiv3::OpenAPI =
        serde_json::from_value(spec().clone()).expect("the spec is an OpenAPI 3.0 document");
    assert!(
        document.openapi.starts_with("3.0."),
        "openapi: {} (progenitor reads only 3.0.x)",
        document.openapi
    );
    assert_eq!(
        apipod_raw::SPEC_SHA256,
        apipod_codegen::sha256_hex(spec_text()),
        "apipod-raw was generated from a different openapi/apipod.yaml"
    );
}

#[test]
fn every_operation_has_an_operation_id() {
    let document: openapiv3::OpenAPI = serde_json::from_value(spec().clone()).unwrap();
    let mut ids = BTreeSet::new();
    for (path, method, operation) in document.operations() {
        let id = operation
            .operation_id
            .as_deref()
            .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} is used twice");
    }
    assert_eq!(
        ids,
        BTreeSet::from(
            [
                "create_asset",
                "create_image_generation",
                "create_openai_image",
                "create_video_generation",
                "edit_openai_image",
                "get_asset",
                "get_image_task",
                "get_video_task"
            ]
            .map(String::from)
        )
    );
}

#[test]
fn every_model_schema_is_in_the_table_with_its_declared_kind() {
    let (_, extracted) = apipod_codegen::schema::read(spec_text()).expect("model contracts");
    assert!(!extracted.is_empty());
    for model in &extracted {
        let name = model
            .schema_name
            .as_deref()
            .expect("models are component schemas");
        // The kind follows from the create path the union is posted to, and must agree
        // with the schema's own `x-apipod-kind`.
        assert_eq!(
            schema(name).get("x-apipod-kind").and_then(Value::as_str),
            Some(model.kind.as_str()),
            "{name}: x-apipod-kind"
        );
        assert!(
            schema(name)
                .get("x-apipod-family")
                .and_then(Value::as_str)
                .is_some(),
            "{name}: every model names its family"
        );
    }
    // The table compiled into apipod-raw lists the same models, in the same order.
    let compiled: Vec<&str> = contract::MODELS.iter().map(|m| m.id).collect();
    let read: Vec<&str> = extracted.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(compiled, read);
    assert_eq!(
        contract::of_kind(TaskKind::Image).count() + contract::of_kind(TaskKind::Video).count(),
        compiled.len()
    );
}

/// Keywords whose values are data, prose or non-schema objects: never searched for schema
/// keywords. (Security schemes have a `type` of their own; `spec_parses_as_openapi_3_0`
/// checks them, since openapiv3 rejects the 3.1-only `mutualTLS`.)
const OPAQUE: [&str; 7] = [
    "example",
    "default",
    "enum",
    "description",
    "summary",
    "title",
    "securitySchemes",
];
/// Keywords whose values map names (paths, properties, status codes, ...) to objects, so
/// their keys are names that may look like keywords (`ErrorData` has a property `type`).
const NAME_MAPS: [&str; 10] = [
    "paths",
    "properties",
    "schemas",
    "responses",
    "parameters",
    "headers",
    "content",
    "requestBodies",
    "links",
    "callbacks",
];
const TYPES: [&str; 6] = ["string", "integer", "number", "boolean", "array", "object"];

/// Every OpenAPI 3.1 / JSON Schema 2020-12 construct in `value`, as `"<pointer>: <what>"`.
fn constructs_3_1(value: &Value, at: &str, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                constructs_3_1(item, &format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{key}");
                match key.as_str() {
                    k if k.starts_with("x-") || OPAQUE.contains(&k) => {}
                    "const"
                    | "examples"
                    | "$schema"
                    | "$defs"
                    | "prefixItems"
                    | "webhooks"
                    | "jsonSchemaDialect"
                    | "unevaluatedProperties"
                    | "dependentRequired" => out.push(format!("{here}: 3.1 keyword")),
                    "type" => match child.as_str() {
                        Some(t) if TYPES.contains(&t) => {}
                        _ => out.push(format!("{here}: type {child} is not a 3.0 type")),
                    },
                    "exclusiveMinimum" | "exclusiveMaximum" if !child.is_boolean() => {
                        out.push(format!("{here}: numeric {key} is 3.1 syntax"))
                    }
                    k if NAME_MAPS.contains(&k) && child.is_object() => {
                        for (name, member) in child.as_object().unwrap() {
                            constructs_3_1(member, &format!("{here}/{name}"), out);
                        }
                    }
                    _ => constructs_3_1(child, &here, out),
                }
            }
        }
        _ => {}
    }
}

#[test]
fn uses_no_openapi_3_1_constructs() {
    let mut found = Vec::new();
    constructs_3_1(spec(), "", &mut found);
    assert!(
        found.is_empty(),
        "3.1 constructs in the spec:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_3_1_detector_finds_3_1_constructs() {
    let snippet = json!({
        "components": {"schemas": {
            "A": {"type": ["string", "null"], "properties": {"model": {"const": "m"}}},
            "B": {"type": "null", "exclusiveMaximum": 5},
            "C": {"type": "object", "properties": {"type": {"type": "string"}}},
        }},
        "paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {
            "examples": {"one": {"value": 1}}
        }}}}}}},
    });
    let mut found = Vec::new();
    constructs_3_1(&snippet, "", &mut found);
    assert_eq!(
        sorted(found),
        [
            "/components/schemas/A/properties/model/const: 3.1 keyword",
            "/components/schemas/A/type: type [\"string\",\"null\"] is not a 3.0 type",
            "/components/schemas/B/exclusiveMaximum: numeric exclusiveMaximum is 3.1 syntax",
            "/components/schemas/B/type: type \"null\" is not a 3.0 type",
            "/paths//x/get/responses/200/content/application/json/examples: 3.1 keyword",
        ]
    );
}

/// True for `16:9`, `1:1`, `21:9`: text that a YAML 1.1 reader turns into a base-60 number.
fn is_sexagesimal(scalar: &str) -> bool {
    let parts: Vec<&str> = scalar.split(':').collect();
    parts.len() >= 2
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Lines of YAML `text` holding an unquoted ratio-like scalar, as `"<line>: <text>"`.
fn unquoted_ratios(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') {
            continue;
        }
        let scalar = match trimmed.strip_prefix("- ") {
            Some(item) => item,
            None => trimmed.split_once(": ").map_or("", |(_, v)| v),
        };
        if is_sexagesimal(scalar.trim()) {
            out.push(format!("{}: {trimmed}", number + 1));
        }
    }
    out
}

#[test]
fn every_ratio_is_a_quoted_string() {
    // In the YAML text: quoted, so that YAML 1.1 readers also see a string.
    let unquoted = unquoted_ratios(spec_text());
    assert!(
        unquoted.is_empty(),
        "unquoted ratios:\n{}",
        unquoted.join("\n")
    );
    assert_eq!(
        unquoted_ratios("a:\n  - 16:9\n  - \"1:1\"\n  b: 4:3\n# 16:9\n"),
        ["2: - 16:9", "4: b: 4:3"]
    );

    // In the loaded spec: every enum value has its schema's type, and ratios are strings.
    let mut ratio_enums = 0;
    for (pointer, values) in find_key(spec(), "enum") {
        // What a recorded docs choice says the docs state is not our schema.
        if pointer.contains("/x-apipod-") {
            continue;
        }
        let owner = spec()
            .pointer(pointer.strip_suffix("/enum").unwrap())
            .unwrap();
        let values = values
            .as_array()
            .unwrap_or_else(|| panic!("{pointer} is not a list"));
        match owner.get("type").and_then(Value::as_str) {
            Some("string") => assert!(values.iter().all(Value::is_string), "{pointer}: {values:?}"),
            Some("integer") => assert!(values.iter().all(Value::is_i64), "{pointer}: {values:?}"),
            other => panic!("{pointer}: enum on a schema of type {other:?}"),
        }
        if pointer.ends_with("/aspect_ratio/enum") {
            ratio_enums += 1;
            for v in values.iter().chain(owner.get("default")) {
                let text = v
                    .as_str()
                    .unwrap_or_else(|| panic!("{pointer}: {v} is not a string"));
                assert!(
                    text == "adaptive" || text == "auto" || is_sexagesimal(text),
                    "{pointer}: {text:?}"
                );
            }
        }
    }
    // Every model whose contract has an `aspect_ratio` with listed values was checked.
    let with_ratios = contract::MODELS
        .iter()
        .filter(|m| {
            m.field("aspect_ratio")
                .is_some_and(|f| !f.enum_values.is_empty())
        })
        .count();
    assert_eq!(ratio_enums, with_ratios);
}

/// Every `example` in the spec with the schema it illustrates: a schema's own `example`,
/// or the `schema` beside the `example` of a parameter or media type.
fn spec_examples() -> Vec<(String, &'static Value, &'static Value)> {
    find_key(spec(), "example")
        .into_iter()
        .map(|(pointer, example)| {
            let owner = spec()
                .pointer(pointer.strip_suffix("/example").unwrap())
                .unwrap();
            let schema = owner.get("schema").unwrap_or(owner);
            (pointer, schema, example)
        })
        .collect()
}

#[test]
fn every_example_validates_against_its_schema() {
    let examples = spec_examples();
    let mut problems = Vec::new();
    for (pointer, schema, example) in &examples {
        for problem in schema_check::check(spec(), schema, example) {
            problems.push(format!("{pointer}: {problem}"));
        }
    }
    assert!(
        problems.is_empty(),
        "invalid examples:\n{}",
        problems.join("\n")
    );

    // Exactly the model schemas, the three envelopes, the asset schemas and the
    // OpenAI-compatible images schemas carry examples.
    let found: BTreeSet<String> = examples.iter().map(|(p, _, _)| p.clone()).collect();
    let expected: BTreeSet<String> = contract::MODELS
        .iter()
        .map(|m| m.schema)
        .chain(ENVELOPES)
        .chain(ASSET_EXAMPLES)
        .chain(OPENAI_EXAMPLES)
        .map(|name| format!("/components/schemas/{name}/example"))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn model_examples_satisfy_the_contract_and_round_trip_through_generated_types() {
    for model in contract::MODELS {
        let example = apipod_tests::model_example(model);
        assert_eq!(
            example["model"], model.id,
            "{}: example names another model",
            model.id
        );
        let body = example.as_object().expect("request examples are objects");
        let violations: Vec<String> = model
            .validate(body)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(violations.is_empty(), "{}: {violations:?}", model.id);

        let generated = GeneratedRequest::from_json(model.kind, example).unwrap_or_else(|e| {
            panic!("{}: the generated type refuses the example: {e}", model.id)
        });
        assert_eq!(
            generated.schema_name().to_ascii_lowercase(),
            model.schema.to_ascii_lowercase(),
            "{}",
            model.id
        );
        assert_eq!(
            &generated.to_json(),
            example,
            "{}: the round trip changed the body",
            model.id
        );
    }
}

#[test]
fn envelope_examples_round_trip_through_generated_types() {
    let checks: [(&str, RoundTrip); 3] = [
        (
            "SubmitTaskResponse",
            round_trip::<types::SubmitTaskResponse>,
        ),
        (
            "TaskStatusResponse",
            round_trip::<types::TaskStatusResponse>,
        ),
        ("ErrorResponse", round_trip::<types::ErrorResponse>),
    ];
    assert_eq!(checks.map(|(name, _)| name), ENVELOPES);
    for (name, check) in checks {
        let example =
            apipod_tests::example_of(name).unwrap_or_else(|| panic!("{name} has no example"));
        assert_eq!(check(example).as_ref(), Ok(example), "{name}");
    }
    // Spot-check the decoded values, not only the round trip.
    let state: types::TaskStatusResponse = serde_json::from_value(
        apipod_tests::example_of("TaskStatusResponse")
            .unwrap()
            .clone(),
    )
    .unwrap();
    assert_eq!(state.data.status, apipod_raw::TaskStatus::Completed);
    assert_eq!(
        state.data.result,
        Some(types::TaskResult::Array(vec![
            "https://cdn.example.com/generated.png".into()
        ]))
    );
}

#[test]
fn the_example_checker_catches_bad_examples() {
    let doc = spec();
    let check = |name: &str, value: Value| sorted(schema_check::check(doc, schema(name), &value));

    let mut seedream = apipod_tests::example_of("SeedreamV45Request")
        .unwrap()
        .clone();
    assert_eq!(
        check("SeedreamV45Request", seedream.clone()),
        Vec::<String>::new()
    );
    seedream["quality"] = json!("8K");
    seedream["prompt"] = json!("x".repeat(4001));
    seedream["aspect_ratio"] = json!(969);
    seedream.as_object_mut().unwrap().remove("model");
    assert_eq!(
        check("SeedreamV45Request", seedream),
        [
            "$.aspect_ratio: expected string, found 969",
            "$.prompt: 4001 characters, more than maxLength 4000",
            "$.quality: \"8K\" is not one of [\"2K\",\"4K\"]",
            "$: required property `model` is missing",
        ]
    );

    let wan = json!({"model": "wan2.7-image-edit", "prompt": "", "image_urls": [], "n": "1"});
    assert_eq!(
        check("Wan27ImageEditRequest", wan),
        [
            "$.image_urls: 0 items, fewer than x-apipod-min-items 1",
            "$.n: expected integer, found \"1\"",
            "$.prompt: 0 characters, fewer than minLength 1",
        ]
    );

    let r2v =
        json!({"model": "seedance-2.0-r2v", "prompt": "p", "audio_urls": ["a"], "duration": 3});
    assert_eq!(
        check("Seedance20R2vRequest", r2v),
        [
            "$.duration: 3 is below the minimum 4",
            "$.duration: 3 is not one of [4,5,6,7,8,9,10,11,12,13,14,15]",
            "$: none of [\"image_urls\", \"video_urls\"] has an item",
        ]
    );

    // The generated TaskStatusResponse is lenient: it takes an unknown status, an
    // out-of-range progress, an undeclared field and a result of the wrong shape. The
    // checker is not.
    let lenient = json!({
        "code": 200, "message": "success", "colour": "blue",
        "data": {"task_id": "t", "status": "finalizing", "progress": 150, "result": {"url": "u", "width": 1.5}},
    });
    assert!(serde_json::from_value::<types::TaskStatusResponse>(lenient.clone()).is_err());
    let mut decodable = lenient.clone();
    decodable["data"]["result"] = json!(["https://cdn.example.com/a.png"]);
    serde_json::from_value::<types::TaskStatusResponse>(decodable.clone())
        .expect("the generated type accepts it");
    assert_eq!(
        check("TaskStatusResponse", decodable),
        [
            "$.data.progress: 150 is above the maximum 100",
            "$.data.status: \"finalizing\" is not one of [\"pending\",\"processing\",\"completed\",\"failed\",\"cancelled\"]",
            "$: property `colour` is not declared by the schema",
        ]
    );
    assert!(check("TaskStatusResponse", lenient).contains(
        &"$.data.result: matches 0 of the 2 oneOf variants, not exactly one".to_string()
    ));

    let dangling = json!({"$ref": "#/components/schemas/Nope"});
    assert_eq!(
        schema_check::check(doc, &dangling, &json!(1)),
        ["$: unresolvable $ref #/components/schemas/Nope"]
    );
}

#[test]
fn removing_a_required_field_is_reported_by_contract_and_checker() {
    // Ties the checker and the contract together on the spec's own examples.
    for model in contract::MODELS {
        for field in model
            .fields
            .iter()
            .filter(|f| f.required && f.name != "model")
        {
            let mut example = apipod_tests::model_example(model).clone();
            example.as_object_mut().unwrap().remove(field.name);
            let problems = schema_check::check(spec(), schema(model.schema), &example);
            assert_eq!(
                problems,
                [format!("$: required property `{}` is missing", field.name)]
            );
            let violations = model.validate(example.as_object().unwrap());
            assert!(
                violations
                    .iter()
                    .any(|v| v.field == field.name && v.problem == Problem::Missing),
                "{}: {violations:?}",
                model.id
            );
        }
    }
}
