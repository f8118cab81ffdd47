//! The JSON Schema of a model's request, rendered from the same facts as the contract.

use serde_json::{Map, Value, json};

use crate::schema::ModelFacts;

/// The JSON Schema of one model's request, from its facts: the contract the SDK enforces.
pub fn json_schema(m: &ModelFacts) -> Value {
    let mut props = Map::new();
    for (name, f) in &m.fields {
        let mut p = Map::new();
        if name == "model" {
            p.insert("const".into(), Value::String(m.id.clone()));
            p.insert("type".into(), json!("string"));
            props.insert(name.clone(), Value::Object(p));
            continue;
        }
        if let Some(ty) = &f.ty {
            p.insert("type".into(), Value::String(ty.clone()));
        }
        if let Some(d) = &f.description {
            p.insert("description".into(), Value::String(d.clone()));
        }
        if let Some(values) = f.enum_values.as_ref().filter(|v| !v.is_empty()) {
            p.insert("enum".into(), Value::Array(values.clone()));
        }
        if let Some(d) = &f.default {
            p.insert("default".into(), d.clone());
        }
        for (key, v) in [("minLength", f.min_length), ("maxLength", f.max_length)] {
            if let Some(n) = v {
                p.insert(key.into(), json!(n));
            }
        }
        let items = (f.min_items.or(f.x_min_items), f.max_items.or(f.x_max_items));
        for (key, v) in [("minItems", items.0), ("maxItems", items.1)] {
            if let Some(n) = v {
                p.insert(key.into(), json!(n));
            }
        }
        for (key, ex, b) in [
            ("minimum", "exclusiveMinimum", &f.minimum),
            ("maximum", "exclusiveMaximum", &f.maximum),
        ] {
            if let Some(b) = b {
                p.insert((if b.exclusive { ex } else { key }).into(), b.value.clone());
            }
        }
        if let Some(item) = &f.item_ty {
            p.insert("items".into(), json!({"type": item}));
        }
        props.insert(name.clone(), Value::Object(p));
    }
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": m.title.clone().unwrap_or_else(|| m.id.clone()),
        "type": "object",
        "properties": props,
        "required": m.required,
        "additionalProperties": false,
    });
    if let Some(d) = &m.description {
        schema["description"] = Value::String(d.clone());
    }
    if !m.require_one_of.is_empty() {
        schema["anyOf"] = Value::Array(
            m.require_one_of
                .iter()
                .map(|f| json!({"required": [f], "properties": {f: {"minItems": 1}}}))
                .collect(),
        );
    }
    schema
}
