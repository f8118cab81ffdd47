//! The generated request types and the generated contract table (`apipod_raw::contract`)
//! describe the same fields, with the same required-ness, types, allowed values and length
//! limits. Both come from `openapi/apipod.yaml` through different generators (progenitor
//! for the types, `apipod_codegen::contract` for the table), so these tests catch either
//! one dropping, adding or misreading something.

use std::collections::BTreeSet;

use apipod_raw::contract::{self, FieldContract, FieldType, ModelContract, Problem};
use apipod_tests::{GeneratedRequest, generated_request_fields};
use serde_json::{Map, Value, json};

/// A valid value for `field`: its first allowed value, else its default, else a short
/// value of its type.
fn sample(field: &FieldContract) -> Value {
    if let Some(first) = field.enum_values.first() {
        return match field.ty {
            FieldType::Integer | FieldType::Number => serde_json::from_str(first).unwrap(),
            _ => json!(first),
        };
    }
    let default = field.default_value().filter(|d| d != &json!(""));
    match field.ty {
        FieldType::String if field.name.ends_with("_url") => {
            json!("https://hooks.example.com/apipod/0f3c9a")
        }
        FieldType::String => json!("A lighthouse on a cliff at dawn."),
        FieldType::Boolean => default.unwrap_or(json!(true)),
        FieldType::Integer => default.unwrap_or_else(|| {
            json!(
                field
                    .minimum
                    .map_or(1, |m| m.value.ceil() as i64 + i64::from(m.exclusive))
            )
        }),
        FieldType::Number => default.unwrap_or(json!(1.5)),
        FieldType::StringArray => {
            let count = field.min_items.unwrap_or(1).max(1);
            (0..count)
                .map(|i| json!(format!("https://cdn.example.com/{}-{i}.png", field.name)))
                .collect()
        }
        other => panic!("no sample value for `{}` ({other:?})", field.name),
    }
}

/// A body for `model` with every contract field set to a valid value.
fn maximal_body(model: &ModelContract) -> Map<String, Value> {
    model
        .fields
        .iter()
        .map(|f| (f.name.to_string(), sample(f)))
        .collect()
}

/// `body` decoded into the generated type and encoded again, or the decoding error.
fn through_generated(model: &ModelContract, body: &Map<String, Value>) -> Result<Value, String> {
    let generated = GeneratedRequest::from_json(model.kind, &Value::Object(body.clone()))
        .map_err(|e| e.to_string())?;
    // progenitor spells some names with other casing (`MinimaxH3i2vRequest`).
    assert_eq!(
        generated.schema_name().to_ascii_lowercase(),
        model.schema.to_ascii_lowercase(),
        "{}: decoded as another model",
        model.id
    );
    Ok(generated.to_json())
}

fn violations(model: &ModelContract, body: &Map<String, Value>) -> Vec<(String, Problem)> {
    model
        .validate(body)
        .into_iter()
        .map(|v| (v.field, v.problem))
        .collect()
}

#[test]
fn generated_structs_and_contract_name_the_same_fields() {
    let generated = generated_request_fields();
    let schemas: Vec<String> = generated
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    let contract_schemas: Vec<String> = contract::MODELS
        .iter()
        .map(|m| m.schema.to_ascii_lowercase())
        .collect();
    assert_eq!(
        schemas, contract_schemas,
        "one generated struct per model, in spec order"
    );
    for (model, (_, fields)) in contract::MODELS.iter().zip(&generated) {
        let in_struct: BTreeSet<&str> = fields.iter().map(String::as_str).collect();
        let in_contract: BTreeSet<&str> = model.fields.iter().map(|f| f.name).collect();
        assert_eq!(
            in_struct, in_contract,
            "{}: generated struct vs contract",
            model.id
        );
        assert_eq!(
            fields.len(),
            model.fields.len(),
            "{}: duplicate field names",
            model.id
        );
    }
}

#[test]
fn maximal_bodies_round_trip_through_generated_types() {
    for model in contract::MODELS {
        let body = maximal_body(model);
        assert_eq!(violations(model, &body), [], "{}", model.id);
        // Equality proves the generated type kept every contract field: serde drops fields a
        // struct does not know without an error.
        assert_eq!(
            through_generated(model, &body),
            Ok(Value::Object(body)),
            "{}",
            model.id
        );
    }
}

#[test]
fn required_fields_are_required_by_contract_and_generated_type() {
    for model in contract::MODELS {
        for field in model.fields {
            let mut body = maximal_body(model);
            body.remove(field.name);
            let found = violations(model, &body);
            let decoded = through_generated(model, &body);
            if field.name == "model" {
                assert_eq!(
                    found,
                    [("model".into(), Problem::WrongModel { found: None })]
                );
                assert!(decoded.is_err(), "{}: decoded without `model`", model.id);
            } else if field.required {
                assert_eq!(
                    found,
                    [(field.name.into(), Problem::Missing)],
                    "{}",
                    model.id
                );
                assert!(
                    decoded.is_err(),
                    "{}: decoded without `{}`",
                    model.id,
                    field.name
                );
            } else {
                assert_eq!(found, [], "{}: `{}` is optional", model.id, field.name);
                assert_eq!(
                    decoded,
                    Ok(Value::Object(body)),
                    "{}: `{}`",
                    model.id,
                    field.name
                );
            }
        }
    }
}

#[test]
fn field_types_are_enforced_by_contract_and_generated_type() {
    for model in contract::MODELS {
        for field in model.fields.iter().filter(|f| f.name != "model") {
            let wrong = match field.ty {
                FieldType::String => json!(12345),
                FieldType::Integer => json!("5"),
                FieldType::Number => json!("1.5"),
                FieldType::Boolean => json!("true"),
                FieldType::StringArray => json!("https://cdn.example.com/a.png"),
                other => panic!(
                    "{}: `{}` has no JSON type ({other:?})",
                    model.id, field.name
                ),
            };
            let mut body = maximal_body(model);
            body.insert(field.name.into(), wrong.clone());
            let found = violations(model, &body);
            assert_eq!(
                found,
                [(
                    field.name.into(),
                    Problem::WrongType {
                        expected: field.ty,
                        found: wrong.to_string()
                    }
                )],
                "{}",
                model.id
            );
            assert!(
                through_generated(model, &body).is_err(),
                "{}: `{}` = {wrong}",
                model.id,
                field.name
            );
        }
    }
}

#[test]
fn allowed_values_are_enforced_by_contract_and_generated_type() {
    let mut checked = 0;
    for model in contract::MODELS {
        for field in model
            .fields
            .iter()
            .filter(|f| f.name != "model" && !f.enum_values.is_empty())
        {
            for allowed in field.enum_values {
                let mut body = maximal_body(model);
                let value = match field.ty {
                    FieldType::Integer => serde_json::from_str(allowed).unwrap(),
                    _ => json!(allowed),
                };
                body.insert(field.name.into(), value);
                assert_eq!(
                    violations(model, &body),
                    [],
                    "{}: `{}` = {allowed}",
                    model.id,
                    field.name
                );
                assert_eq!(through_generated(model, &body), Ok(Value::Object(body)));
                checked += 1;
            }
            let bogus = match field.ty {
                FieldType::Integer => json!(999),
                _ => json!("bogus"),
            };
            let mut body = maximal_body(model);
            body.insert(field.name.into(), bogus.clone());
            let found = violations(model, &body);
            assert!(
                found
                    .iter()
                    .any(|(name, p)| name == field.name && matches!(p, Problem::NotAllowed { .. })),
                "{}: {found:?}",
                model.id
            );
            assert!(
                through_generated(model, &body).is_err(),
                "{}: `{}` = {bogus}",
                model.id,
                field.name
            );
        }
    }
    assert!(checked > 200, "only {checked} allowed values checked");
}

#[test]
fn length_limits_are_enforced_by_contract_and_generated_type() {
    let mut limited = 0;
    for model in contract::MODELS {
        for field in model.fields.iter().filter(|f| f.ty == FieldType::String) {
            if let Some(max) = field.max_length {
                limited += 1;
                let mut body = maximal_body(model);
                body.insert(field.name.into(), json!("é".repeat(max as usize)));
                assert_eq!(
                    violations(model, &body),
                    [],
                    "{}: {max} characters",
                    model.id
                );
                assert!(
                    through_generated(model, &body).is_ok(),
                    "{}: {max} characters",
                    model.id
                );
                body.insert(field.name.into(), json!("é".repeat(max as usize + 1)));
                assert_eq!(
                    violations(model, &body),
                    [(field.name.into(), Problem::TooLong { len: max + 1, max })]
                );
                assert!(
                    through_generated(model, &body).is_err(),
                    "{}: {} characters",
                    model.id,
                    max + 1
                );
            }
            // `minLength: 0` (some upstream pages) allows every string.
            if let Some(min) = field.min_length.filter(|m| *m > 0) {
                let mut body = maximal_body(model);
                body.insert(field.name.into(), json!("x".repeat(min as usize - 1)));
                assert_eq!(
                    violations(model, &body),
                    [(field.name.into(), Problem::TooShort { len: min - 1, min })]
                );
                assert!(
                    through_generated(model, &body).is_err(),
                    "{}: too short",
                    model.id
                );
            }
        }
    }
    // Most prompts are limited; the docs state no limit for a few.
    assert!(
        limited > contract::MODELS.len() / 2,
        "only {limited} limited fields"
    );
}

#[test]
fn item_limits_are_enforced_by_the_contract() {
    // Item counts come from `x-apipod-*-items` and are not schema keywords, so only the
    // contract table enforces them; the generated types accept any list.
    for model in contract::MODELS {
        for field in model
            .fields
            .iter()
            .filter(|f| f.ty == FieldType::StringArray)
        {
            // Lists the docs state no limit for are not limited.
            let Some(max) = field.max_items else {
                continue;
            };
            let mut body = maximal_body(model);
            let items: Vec<Value> = (0..=max)
                .map(|i| json!(format!("https://cdn.example.com/{i}.png")))
                .collect();
            body.insert(field.name.into(), Value::Array(items));
            assert_eq!(
                violations(model, &body),
                [(
                    field.name.into(),
                    Problem::TooManyItems {
                        count: max + 1,
                        max
                    }
                )]
            );
            if let Some(min) = field.min_items.filter(|min| *min > 0) {
                body.insert(field.name.into(), json!([]));
                assert!(
                    violations(model, &body)
                        .contains(&(field.name.into(), Problem::TooFewItems { count: 0, min })),
                    "{}: `{}` empty",
                    model.id,
                    field.name
                );
            }
        }
    }
}

#[test]
fn each_models_decoder_gives_what_the_untagged_enum_gives() {
    for model in contract::MODELS {
        let body = Value::Object(maximal_body(model));
        let direct = match model.decoder.decode(body.clone()) {
            Ok(contract::WireBody::Image(b)) => serde_json::to_value(b).unwrap(),
            Ok(contract::WireBody::Video(b)) => serde_json::to_value(b).unwrap(),
            Err(e) => panic!("{}: {e}", model.id),
        };
        let through_enum = GeneratedRequest::from_json(model.kind, &body).unwrap();
        assert_eq!(direct, through_enum.to_json(), "{}", model.id);
        let kind_matches = matches!(
            (model.decoder.decode(body).unwrap(), model.kind),
            (contract::WireBody::Image(_), contract::TaskKind::Image)
                | (contract::WireBody::Video(_), contract::TaskKind::Video)
        );
        assert!(kind_matches, "{}", model.id);
    }
}
