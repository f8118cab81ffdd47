//! Every typed request's JSON Schema (feature `schemars`) states exactly what the contract
//! table enforces: the same fields, types, allowed values, bounds and required fields.
#![cfg(feature = "schemars")]

use apipod::contract::{self, FieldType};
use serde_json::{Value, json};

fn expected_type(ty: FieldType) -> Option<&'static str> {
    match ty {
        FieldType::String => Some("string"),
        FieldType::Integer => Some("integer"),
        FieldType::Number => Some("number"),
        FieldType::Boolean => Some("boolean"),
        FieldType::StringArray => Some("array"),
        _ => None,
    }
}

#[test]
fn every_model_schema_equals_its_contract() {
    assert!(!contract::MODELS.is_empty());
    for model in contract::MODELS {
        let schema = apipod::models::json_schema(model.id)
            .unwrap_or_else(|| panic!("{}: no schema", model.id));
        let schema = schema.as_value();
        let id = model.id;
        assert_eq!(schema["type"], "object", "{id}");
        assert_eq!(schema["additionalProperties"], false, "{id}");
        let props = schema["properties"].as_object().expect("properties");
        let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut fields: Vec<&str> = model.fields.iter().map(|f| f.name).collect();
        names.sort_unstable();
        fields.sort_unstable();
        assert_eq!(names, fields, "{id}: properties");
        let mut required: Vec<&str> = schema["required"]
            .as_array()
            .expect("required")
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let mut want: Vec<&str> = model
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        required.sort_unstable();
        want.sort_unstable();
        assert_eq!(required, want, "{id}: required");
        for f in model.fields {
            let p = &props[f.name];
            let at = format!("{id}.{}", f.name);
            if f.name == "model" {
                assert_eq!(p["const"], id, "{at}");
                continue;
            }
            if let Some(ty) = expected_type(f.ty) {
                assert_eq!(p["type"], ty, "{at}: type");
            }
            let values: Vec<Value> = f
                .enum_values
                .iter()
                .map(|v| match f.ty {
                    FieldType::Integer | FieldType::Number => serde_json::from_str(v).unwrap(),
                    _ => json!(v),
                })
                .collect();
            match p.get("enum") {
                Some(e) => assert_eq!(e.as_array().unwrap(), &values, "{at}: enum"),
                None => assert!(values.is_empty(), "{at}: enum missing"),
            }
            let num = |key: &str| p.get(key).and_then(Value::as_u64);
            assert_eq!(num("maxLength"), f.max_length, "{at}: maxLength");
            assert_eq!(num("minLength"), f.min_length, "{at}: minLength");
            assert_eq!(num("maxItems"), f.max_items, "{at}: maxItems");
            assert_eq!(num("minItems"), f.min_items, "{at}: minItems");
            for (limit, inclusive, exclusive) in [
                (f.minimum, "minimum", "exclusiveMinimum"),
                (f.maximum, "maximum", "exclusiveMaximum"),
            ] {
                let key = match limit {
                    Some(l) if l.exclusive => exclusive,
                    _ => inclusive,
                };
                assert_eq!(
                    p.get(key).and_then(Value::as_f64),
                    limit.map(|l| l.value),
                    "{at}: {key}"
                );
            }
        }
    }
}

#[test]
fn enum_schemas_list_the_wire_values() {
    use apipod::models::seedream_v45;
    let schema = schemars::schema_for!(seedream_v45::AspectRatio);
    let values: Vec<&str> = schema.as_value()["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let all: Vec<&str> = seedream_v45::AspectRatio::ALL
        .iter()
        .map(|r| r.as_str())
        .collect();
    assert_eq!(values, all);
    assert!(values.contains(&"16:9"));
}
