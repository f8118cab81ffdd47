//! Per-model request contracts: which fields a model accepts, with their types, enums,
//! defaults and limits.
//!
//! [`extract`] reads them from an OpenAPI document, either our 3.0 spec (model schemas as
//! `$ref`s in a `oneOf`, `model` as a one-value `enum`) or an upstream per-page 3.1 file
//! (inline schema, `model` as `const`). The same reader serves code generation and the drift
//! check, so both see the spec the same way.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

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

    fn from_path(path: &str) -> Option<Kind> {
        if path.starts_with("/v1/images/") {
            Some(Kind::Image)
        } else if path.starts_with("/v1/videos/") {
            Some(Kind::Video)
        } else {
            None
        }
    }
}

/// One request field of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// JSON property name.
    pub name: String,
    /// `string`, `integer`, `number`, `boolean`, `array`, `object`.
    pub ty: String,
    /// Item type for arrays.
    pub item_ty: Option<String>,
    /// Listed in the schema's `required`.
    pub required: bool,
    /// Our description, if any.
    pub description: Option<String>,
    /// Allowed values (`enum`), in spec order.
    pub enum_values: Vec<Value>,
    /// `default`.
    pub default: Option<Value>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minimum`.
    pub minimum: Option<Value>,
    /// `maximum`.
    pub maximum: Option<Value>,
    /// `minItems` (a schema keyword).
    pub min_items: Option<u64>,
    /// `maxItems` (a schema keyword).
    pub max_items: Option<u64>,
    /// `x-apipod-min-items`: a limit stated by earlier docs, enforced but not compared.
    pub x_min_items: Option<u64>,
    /// `x-apipod-max-items`: likewise.
    pub x_max_items: Option<u64>,
}

/// One model's create contract.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Model id, e.g. `seedream-v4.5`.
    pub id: String,
    /// Image or video.
    pub kind: Kind,
    /// Create path the body is posted to.
    pub path: String,
    /// Component schema name (our spec), or `None` for an inline schema (upstream pages).
    pub schema_name: Option<String>,
    /// Schema title.
    pub title: Option<String>,
    /// Schema description.
    pub description: Option<String>,
    /// Fields in spec order (including `model`).
    pub fields: Vec<Field>,
    /// `x-apipod-require-one-of`: at least one of these array fields must be non-empty.
    pub require_one_of: Vec<String>,
    /// `x-apipod-polling`: (interval ms, max attempts).
    pub polling: Option<(u64, u64)>,
}

impl Model {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
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

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Result<(&'a Value, Option<String>), String> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let pointer = r
                .strip_prefix('#')
                .ok_or_else(|| format!("external $ref {r:?} is not supported"))?;
            let target = doc
                .pointer(pointer)
                .ok_or_else(|| format!("dangling $ref {r:?}"))?;
            let name = pointer.rsplit('/').next().map(str::to_string);
            Ok((target, name))
        }
        None => Ok((schema, None)),
    }
}

fn type_name(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        // 3.1 `type: [T, "null"]`
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .map(str::to_string),
        _ => None,
    }
}

fn u64_of(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

fn field_from(name: &str, prop: &Value, required: bool) -> Field {
    let enum_values = prop
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| prop.get("const").map(|c| vec![c.clone()]))
        .unwrap_or_default();
    Field {
        name: name.to_string(),
        ty: type_name(prop.get("type")).unwrap_or_else(|| "any".into()),
        item_ty: prop
            .get("items")
            .and_then(|items| type_name(items.get("type"))),
        required,
        description: prop
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        enum_values,
        default: prop.get("default").cloned(),
        min_length: u64_of(prop.get("minLength")),
        max_length: u64_of(prop.get("maxLength")),
        minimum: prop.get("minimum").cloned(),
        maximum: prop.get("maximum").cloned(),
        min_items: u64_of(prop.get("minItems")),
        max_items: u64_of(prop.get("maxItems")),
        x_min_items: u64_of(prop.get("x-apipod-min-items")),
        x_max_items: u64_of(prop.get("x-apipod-max-items")),
    }
}

fn model_from(
    doc: &Value,
    schema: &Value,
    schema_name: Option<String>,
    path: &str,
    kind: Kind,
) -> Result<Model, String> {
    let id = model_id(schema).ok_or_else(|| {
        format!(
            "{path}: request schema {} has no single-valued `model`",
            schema_name.as_deref().unwrap_or("(inline)")
        )
    })?;
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{id}: schema has no properties"))?;
    let mut fields = Vec::with_capacity(props.len());
    for (name, prop) in props {
        let (prop, _) = resolve(doc, prop)?;
        fields.push(field_from(name, prop, required.contains(&name.as_str())));
    }
    for r in &required {
        if !props.contains_key(*r) {
            return Err(format!("{id}: required field {r:?} is not a property"));
        }
    }
    let require_one_of = schema
        .get("x-apipod-require-one-of")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let polling = schema.get("x-apipod-polling").and_then(|p| {
        Some((
            p.get("interval_ms")?.as_u64()?,
            p.get("max_attempts")?.as_u64()?,
        ))
    });
    Ok(Model {
        id,
        kind,
        path: path.to_string(),
        schema_name,
        title: schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string),
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        fields,
        require_one_of,
        polling,
    })
}

/// Reads every model contract from the create operations of an OpenAPI document.
///
/// Models come out in the order the document lists them; a model id that appears twice is
/// an error.
pub fn extract(doc: &Value) -> Result<Vec<Model>, String> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or("document has no `paths`")?;
    let mut models: Vec<Model> = Vec::new();
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
        let (body, body_name) = resolve(doc, body)?;
        let variants: Vec<&Value> = match body.get("oneOf").and_then(Value::as_array) {
            Some(list) => list.iter().collect(),
            None => vec![body],
        };
        for variant in variants {
            let (schema, name) = resolve(doc, variant)?;
            let name = name.or_else(|| {
                if std::ptr::eq(variant, body) {
                    body_name.clone()
                } else {
                    None
                }
            });
            let model = model_from(doc, schema, name, path, kind)?;
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

fn opt_str(v: &Option<String>) -> TokenStream {
    match v {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    }
}

fn opt_i64(v: &Option<Value>) -> TokenStream {
    match v.as_ref().and_then(Value::as_i64) {
        Some(n) => quote!(Some(#n)),
        None => quote!(None),
    }
}

fn field_type(f: &Field) -> TokenStream {
    match (f.ty.as_str(), f.item_ty.as_deref()) {
        ("string", _) => quote!(FieldType::String),
        ("integer", _) => quote!(FieldType::Integer),
        ("number", _) => quote!(FieldType::Number),
        ("boolean", _) => quote!(FieldType::Boolean),
        ("array", Some("string")) => quote!(FieldType::StringArray),
        _ => quote!(FieldType::Other),
    }
}

/// Renders the static contract table compiled into `apipod-raw` (`crate::contract::MODELS`).
pub fn render(models: &[Model]) -> TokenStream {
    let entries = models.iter().map(|m| {
        let id = &m.id;
        let kind = match m.kind {
            Kind::Image => quote!(TaskKind::Image),
            Kind::Video => quote!(TaskKind::Video),
        };
        let schema = m.schema_name.clone().unwrap_or_default();
        let title = m.title.clone().unwrap_or_else(|| m.id.clone());
        let description = m.description.clone().unwrap_or_default();
        let one_of = &m.require_one_of;
        let polling = match m.polling {
            Some((interval_ms, max_attempts)) => {
                quote!(Some(PollingHint { interval_ms: #interval_ms, max_attempts: #max_attempts }))
            }
            None => quote!(None),
        };
        let fields = m.fields.iter().map(|f| {
            let name = &f.name;
            let ty = field_type(f);
            let required = f.required;
            let description = opt_str(&f.description);
            let enum_values = f.enum_values.iter().map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            let default = opt_str(&f.default.as_ref().map(|d| d.to_string()));
            let min_length = opt_u64(f.min_length);
            let max_length = opt_u64(f.max_length);
            let minimum = opt_i64(&f.minimum);
            let maximum = opt_i64(&f.maximum);
            let min_items = opt_u64(f.min_items.or(f.x_min_items));
            let max_items = opt_u64(f.max_items.or(f.x_max_items));
            quote! {
                FieldContract {
                    name: #name,
                    ty: #ty,
                    required: #required,
                    description: #description,
                    enum_values: &[#(#enum_values),*],
                    default_json: #default,
                    min_length: #min_length,
                    max_length: #max_length,
                    minimum: #minimum,
                    maximum: #maximum,
                    min_items: #min_items,
                    max_items: #max_items,
                }
            }
        });
        quote! {
            ModelContract {
                id: #id,
                kind: #kind,
                schema: #schema,
                title: #title,
                description: #description,
                fields: &[#(#fields),*],
                require_one_of: &[#(#one_of),*],
                polling: #polling,
            }
        }
    });
    quote! {
        /// Every model's request contract, in spec order. Generated from `openapi/apipod.yaml`.
        pub static MODELS: &[ModelContract] = &[#(#entries),*];
    }
}
