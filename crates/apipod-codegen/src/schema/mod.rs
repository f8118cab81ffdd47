//! The one reader of model request schemas.
//!
//! Everything that looks at a model's request contract goes through here: the contract
//! table that the SDK, the mock and the CLI validate with, the typed model requests, the
//! drift check and sync. So what drift calls "no drift" is exactly what is enforced.
//!
//! [`read`] takes a document's text (our 3.0 spec or an upstream 3.1 page): it finds the
//! models on the create paths (model schemas as `$ref`s in a `oneOf`, or one inline schema),
//! reads each field with [`field::field_facts`], and keeps the document's field order
//! ([`order`]).

pub mod field;
mod order;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

pub use field::{
    Bound, FieldFacts, canonical_number, field_facts, flatten, inline, normalise, same_values,
};
pub use order::order_fields;

/// Image or video: decided by the create path the model is posted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `POST /v1/images/generations`
    Image,
    /// `POST /v1/videos/generations`
    Video,
}

impl Kind {
    /// `"image"` or `"video"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Image => "image",
            Kind::Video => "video",
        }
    }

    /// The kind of a create path (`/v1/images/...` or `/v1/videos/...`).
    pub fn from_path(path: &str) -> Option<Kind> {
        if path.starts_with("/v1/images/") {
            Some(Kind::Image)
        } else if path.starts_with("/v1/videos/") {
            Some(Kind::Video)
        } else {
            None
        }
    }
}

/// True when `schema` is a model request schema: an object whose `model` property is a
/// single value (`const` or a one-element `enum`).
pub fn is_model_schema(schema: &Value) -> bool {
    model_id(schema).is_some()
}

/// The single model id of a request schema (`const`, or a one-value `enum`, of `model`).
pub fn model_id(schema: &Value) -> Option<String> {
    let model = schema.get("properties")?.get("model")?;
    if let Some(c) = model.get("const").and_then(Value::as_str) {
        return Some(c.to_string());
    }
    match model.get("enum")?.as_array()?.as_slice() {
        [one] => one.as_str().map(str::to_string),
        _ => None,
    }
}

/// One model's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelFacts {
    /// Model id.
    pub id: String,
    /// Image or video.
    pub kind: Kind,
    /// Create path.
    pub path: String,
    /// Component schema name, when the request schema is one.
    pub schema_name: Option<String>,
    /// Schema title (not compared).
    pub title: Option<String>,
    /// `x-apipod-local` on the schema: a model we keep although the docs do not list it.
    pub local: bool,
    /// Fields in document order.
    pub fields: Vec<(String, FieldFacts)>,
    /// The `required` list, in document order.
    pub required: Vec<String>,
    /// Schema description (not compared).
    pub description: Option<String>,
    /// `x-apipod-require-one-of`: at least one of these list fields must have an item
    /// (enforced, not compared).
    pub require_one_of: Vec<String>,
    /// The schema's `x-apipod-*` extensions, as written (not compared; see
    /// [`crate::hints`]).
    pub extensions: Map<String, Value>,
    /// The schema's `example` (not compared).
    pub example: Option<Value>,
}

impl ModelFacts {
    /// True when both state the same facts (prose and field order aside).
    pub fn same_facts(&self, other: &ModelFacts) -> bool {
        let fields = |m: &ModelFacts| {
            let mut f: Vec<(String, FieldFacts)> = m
                .fields
                .iter()
                .map(|(n, f)| (n.clone(), f.facts_only()))
                .collect();
            f.sort_by(|a, b| a.0.cmp(&b.0));
            f
        };
        let required = |m: &ModelFacts| {
            let mut r = m.required.clone();
            r.sort();
            r
        };
        self.id == other.id
            && self.kind == other.kind
            && self.path == other.path
            && required(self) == required(other)
            && fields(self) == fields(other)
    }

    /// The facts of field `name`.
    pub fn field(&self, name: &str) -> Option<&FieldFacts> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

fn model_from(
    doc: &Value,
    schema: &Value,
    schema_name: Option<String>,
    path: &str,
    kind: Kind,
) -> Result<ModelFacts, String> {
    let id = model_id(schema).ok_or_else(|| {
        format!(
            "{path}: request schema {} has no single-valued `model`",
            schema_name.as_deref().unwrap_or("(inline)")
        )
    })?;
    let required = strings(schema.get("required"));
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{id}: schema has no properties"))?;
    for r in &required {
        if !props.contains_key(r) {
            return Err(format!("{id}: required field {r:?} is not a property"));
        }
    }
    let mut fields = Vec::with_capacity(props.len());
    for (name, prop) in props {
        let facts = field_facts(doc, prop).map_err(|e| format!("{id}.{name}: {e}"))?;
        fields.push((name.clone(), facts));
    }
    let text = |key: &str| schema.get(key).and_then(Value::as_str).map(str::to_string);
    Ok(ModelFacts {
        kind,
        path: path.to_string(),
        schema_name,
        title: text("title"),
        description: text("description"),
        local: schema.get("x-apipod-local").is_some(),
        fields,
        required,
        require_one_of: strings(schema.get("x-apipod-require-one-of")),
        extensions: schema
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| k.starts_with("x-apipod-"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        example: schema.get("example").cloned(),
        id,
    })
}

/// Reads every model from the create operations of a parsed document, fields sorted by
/// name (use [`read`] for document order).
///
/// Models come out in the order the document lists them; a model id that appears twice is
/// an error.
pub fn extract(doc: &Value) -> Result<Vec<ModelFacts>, String> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("document has no `paths`")?;
    let mut models: Vec<ModelFacts> = Vec::new();
    let mut seen = BTreeMap::new();
    for (path, item) in paths {
        let Some(kind) = Kind::from_path(path) else {
            continue;
        };
        let Some(body) = item
            .get("post")
            .and_then(|op| op.pointer("/requestBody/content/application~1json/schema"))
        else {
            continue;
        };
        let (body, body_name) = flatten(doc, body)?;
        let variants: Vec<Value> = match body.get("oneOf").and_then(Value::as_array) {
            Some(list) => list.clone(),
            None => vec![],
        };
        let mut schemas = Vec::new();
        if variants.is_empty() {
            schemas.push((body, body_name));
        } else {
            for variant in &variants {
                schemas.push(flatten(doc, variant)?);
            }
        }
        for (schema, name) in schemas {
            let model = model_from(doc, &schema, name, path, kind)?;
            if let Some(prev) = seen.insert(model.id.clone(), path.clone()) {
                return Err(format!(
                    "model {} is defined twice ({prev} and {path})",
                    model.id
                ));
            }
            models.push(model);
        }
    }
    Ok(models)
}

/// Parses a document's text and reads its models with fields in document order.
pub fn read(text: &str) -> Result<(Value, Vec<ModelFacts>), String> {
    let doc = crate::load_spec(text).map_err(|e| e.to_string())?;
    let mut models = extract(&doc)?;
    order_fields(text, &mut models);
    Ok((doc, models))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts(prop: Value) -> FieldFacts {
        field_facts(&json!({}), &prop).unwrap().facts_only()
    }

    #[test]
    fn const_is_a_one_value_enum_with_inferred_type() {
        let f = facts(json!({"const": "seedream-v4.5"}));
        assert_eq!(f.ty.as_deref(), Some("string"));
        assert_eq!(f.enum_values, Some(vec![json!("seedream-v4.5")]));
    }

    #[test]
    fn nullable_forms_are_equal() {
        let a = facts(json!({"type": ["string", "null"], "maxLength": 5}));
        let b = facts(json!({"type": "string", "nullable": true, "maxLength": 5}));
        let c = facts(json!({"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]}));
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert!(a.nullable);
    }

    #[test]
    fn exclusive_bounds_31_and_30_are_equal() {
        let a = facts(json!({"type": "integer", "exclusiveMinimum": 0, "maximum": 10}));
        let b = facts(
            json!({"type": "integer", "minimum": 0, "exclusiveMinimum": true, "maximum": 10}),
        );
        assert_eq!(a, b);
        assert_eq!(
            a.minimum,
            Some(Bound {
                value: json!(0),
                exclusive: true
            })
        );
    }

    #[test]
    fn numbers_in_string_enums_become_text() {
        let f = facts(json!({"type": "string", "enum": [1080, "720p", 1.0], "default": 1080}));
        assert_eq!(
            f.enum_values,
            Some(vec![json!("1080"), json!("720p"), json!("1")])
        );
        assert_eq!(f.default, Some(json!("1080")));
        let n = facts(json!({"type": "integer", "enum": [5.0, 10], "default": 5.0}));
        assert_eq!(n.enum_values, Some(vec![json!(5), json!(10)]));
        assert_eq!(n.default, Some(json!(5)));
    }

    #[test]
    fn refs_and_all_of_are_followed() {
        let doc = json!({"components": {"schemas": {
            "Ratio": {"type": "string", "enum": ["1:1", "16:9"]},
            "Url": {"type": "string"}
        }}});
        let f = field_facts(
            &doc,
            &json!({"allOf": [{"$ref": "#/components/schemas/Ratio"}], "default": "1:1"}),
        )
        .unwrap();
        assert_eq!(f.ty.as_deref(), Some("string"));
        assert_eq!(f.default, Some(json!("1:1")));
        let a = field_facts(
            &doc,
            &json!({"type": "array", "items": {"$ref": "#/components/schemas/Url"}}),
        )
        .unwrap();
        assert_eq!(a.item_ty.as_deref(), Some("string"));
        assert!(field_facts(&doc, &json!({"$ref": "#/components/schemas/Nope"})).is_err());
    }

    #[test]
    fn fields_follow_document_order() {
        let text = "paths:\n  /v1/images/generations:\n    post:\n      requestBody:\n        content:\n          application/json:\n            schema:\n              properties:\n                model: {const: m-1}\n                zeta: {type: string}\n                alpha: {type: integer}\n              required: [model]\n";
        let doc = crate::load_spec(text).unwrap();
        let mut models = extract(&doc).unwrap();
        assert_eq!(
            models[0]
                .fields
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["alpha", "model", "zeta"]
        );
        order_fields(text, &mut models);
        assert_eq!(
            models[0]
                .fields
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            ["model", "zeta", "alpha"]
        );
    }

    #[test]
    fn inline_resolves_every_level() {
        let doc = json!({"components": {"schemas": {
            "Usage": {"type": "object", "properties": {"cost": {"type": ["number", "null"]}}},
        }}});
        let s = inline(
            &doc,
            &json!({"type": "array", "items": {"allOf": [{"$ref": "#/components/schemas/Usage"}]}}),
        )
        .unwrap();
        assert_eq!(
            s,
            json!({"type": "array", "items": {"type": "object", "properties": {"cost": {"type": ["number", "null"]}}}})
        );
        let n = inline(
            &doc,
            &json!({"anyOf": [{"type": "string"}, {"type": "null"}]}),
        )
        .unwrap();
        assert_eq!(n, json!({"type": "string", "nullable": true}));
    }

    #[test]
    fn same_facts_ignores_prose_and_order() {
        let page = |desc: &str, order_swapped: bool| {
            let mut props = vec![
                ("model", json!({"const": "m-1", "description": desc})),
                (
                    "prompt",
                    json!({"type": "string", "maxLength": 9, "title": desc}),
                ),
            ];
            if order_swapped {
                props.reverse();
            }
            let props: Map<String, Value> =
                props.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            json!({"paths": {"/v1/images/generations": {"post": {"requestBody": {"content": {
                "application/json": {"schema": {"properties": props, "required": ["model", "prompt"]}}
            }}}}}})
        };
        let a = extract(&page("one", false)).unwrap();
        let b = extract(&page("two", true)).unwrap();
        assert!(a[0].same_facts(&b[0]));
        let mut c = b[0].clone();
        c.fields[1].1.max_length = Some(10);
        assert!(!a[0].same_facts(&c));
    }
}
