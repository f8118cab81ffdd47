//! Drift-only readers (feature `docs`): the status endpoints' response facts and the model
//! ids a page mentions. Model request schemas are read by [`crate::schema`] only; its types
//! are re-exported here for the drift and sync code.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::schema::field::{collapse_union, infer_type, item_type, type_list};
pub use crate::schema::{
    Bound, FieldFacts, Kind, ModelFacts, canonical_number, extract as models, field_facts, flatten,
    inline, normalise, order_fields, same_values,
};

/// One possible JSON shape of a response field.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shape {
    /// `string`, `integer`, `number`, `boolean`, `array`, `object` or `any`.
    pub ty: String,
    /// Item type of an array, when stated.
    pub item_ty: Option<String>,
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.item_ty {
            Some(item) => write!(f, "{}<{}>", self.ty, item),
            None => f.write_str(&self.ty),
        }
    }
}

impl Shape {
    /// True when a value of shape `other` is also a value of `self` (`number` accepts
    /// `integer`, `any` accepts everything, an array with unstated items accepts any array).
    pub fn accepts(&self, other: &Shape) -> bool {
        if self.ty == "any" {
            return true;
        }
        let ty_ok = self.ty == other.ty || (self.ty == "number" && other.ty == "integer");
        let items_ok = match (&self.item_ty, &other.item_ty) {
            (Some(a), Some(b)) => a == b || a == "any" || (a == "number" && b == "integer"),
            _ => true,
        };
        ty_ok && items_ok
    }
}

/// One response field of a status endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusField {
    /// Field name under `data`.
    pub name: String,
    /// The shapes the field may take (more than one for `oneOf`).
    pub shapes: Vec<Shape>,
    /// Nullable.
    pub nullable: bool,
    /// Component schema the field's `$ref` points to, if any.
    pub schema_ref: Option<String>,
    /// The field's schema, inlined (see [`inline`]). Not compared.
    pub schema: Value,
}

/// Facts of one status endpoint's 200 response.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusFacts {
    /// The endpoint, as we spell it (one of [`STATUS_ENDPOINTS`]).
    pub endpoint: String,
    /// The fields under `data`, in document order.
    pub fields: Vec<StatusField>,
    /// `data.required`.
    pub required: Vec<String>,
    /// The values of `data.status`, normalised.
    pub status_enum: Option<Vec<Value>>,
    /// Component schema `data` points to (ours: `TaskDetail`).
    pub data_schema: Option<String>,
    /// Component schema `data.status` points to (ours: `TaskStatus`).
    pub status_schema: Option<String>,
}

impl StatusFacts {
    /// True when both state the same facts (prose and raw schemas aside).
    pub fn same_facts(&self, other: &StatusFacts) -> bool {
        let fields = |s: &StatusFacts| {
            let mut f: Vec<(String, Vec<Shape>, bool)> = s
                .fields
                .iter()
                .map(|f| (f.name.clone(), f.shapes.clone(), f.nullable))
                .collect();
            f.sort_by(|a, b| a.0.cmp(&b.0));
            f
        };
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        self.endpoint == other.endpoint
            && fields(self) == fields(other)
            && sorted(&self.required) == sorted(&other.required)
            && match (&self.status_enum, &other.status_enum) {
                (Some(a), Some(b)) => same_values(a, b),
                (a, b) => a == b,
            }
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&StatusField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The two status endpoints and the kind of task each reads.
pub const STATUS_ENDPOINTS: [(&str, Kind); 2] = [
    ("/v1/images/status/{task_id}", Kind::Image),
    ("/v1/videos/status/{task_id}", Kind::Video),
];

/// Every string a request schema's `model` property allows (`const` or `enum`), for any
/// create operation of `doc`. Used to tell which models a page is about when it cannot be
/// read as a contract.
pub fn mentioned_model_ids(doc: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ids;
    };
    for item in paths.values() {
        let Some(ops) = item.as_object() else {
            continue;
        };
        for op in ops.values() {
            let Some(body) = op.pointer("/requestBody/content/application~1json/schema") else {
                continue;
            };
            let Ok((body, _)) = flatten(doc, body) else {
                continue;
            };
            let variants: Vec<Value> = match body.get("oneOf").and_then(Value::as_array) {
                Some(list) => list
                    .iter()
                    .filter_map(|v| flatten(doc, v).ok().map(|(v, _)| v))
                    .collect(),
                None => vec![body],
            };
            for v in variants {
                let Some(model) = v.pointer("/properties/model") else {
                    continue;
                };
                let model = flatten(doc, model).map(|(m, _)| m).unwrap_or_default();
                let values = model
                    .get("enum")
                    .and_then(Value::as_array)
                    .cloned()
                    .or_else(|| model.get("const").map(|c| vec![c.clone()]))
                    .unwrap_or_default();
                ids.extend(values.iter().filter_map(Value::as_str).map(str::to_string));
            }
        }
    }
    ids
}

/// The possible shapes of a response schema.
pub fn shapes(doc: &Value, schema: &Value) -> Result<(Vec<Shape>, bool), String> {
    let (schema, _) = flatten(doc, schema)?;
    let (schema, union_null, alts) = collapse_union(doc, schema)?;
    if !alts.is_empty() {
        let mut out = BTreeSet::new();
        let mut nullable = union_null;
        for alt in &alts {
            let (s, n) = shapes(doc, alt)?;
            nullable |= n;
            out.extend(s);
        }
        return Ok((out.into_iter().collect(), nullable));
    }
    let (mut types, type_null) = type_list(&schema);
    let nullable =
        union_null || type_null || schema.get("nullable").and_then(Value::as_bool) == Some(true);
    if types.is_empty() {
        let values: Vec<&Value> = schema
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().collect())
            .or_else(|| schema.get("const").map(|c| vec![c]))
            .unwrap_or_default();
        if let Some(t) = infer_type(&values) {
            types.push(t);
        } else if schema.get("properties").is_some() {
            types.push("object".into());
        } else if schema.get("items").is_some() {
            types.push("array".into());
        } else {
            types.push("any".into());
        }
    }
    let item_ty = item_type(doc, &schema)?;
    let out = types
        .into_iter()
        .map(|ty| Shape {
            item_ty: if ty == "array" { item_ty.clone() } else { None },
            ty,
        })
        .collect();
    Ok((out, nullable))
}

/// Normalises a path template: `{task_id}` and `{taskId}` are the same path.
fn path_shape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push('{');
            }
            '}' => {
                in_param = false;
                out.push('}');
            }
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out.trim_end_matches('/').to_string()
}

/// Reads the 200 response facts of status `endpoint` (one of [`STATUS_ENDPOINTS`]) from
/// `doc`; `Ok(None)` when the document has no GET operation for it.
pub fn status_facts(doc: &Value, endpoint: &str) -> Result<Option<StatusFacts>, String> {
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return Ok(None);
    };
    let wanted = path_shape(endpoint);
    let Some(op) = paths
        .iter()
        .find(|(p, _)| path_shape(p) == wanted)
        .and_then(|(_, item)| item.get("get"))
    else {
        return Ok(None);
    };
    let err = |msg: &str| format!("GET {endpoint}: {msg}");
    let responses = op.get("responses").ok_or_else(|| err("no responses"))?;
    let response = responses
        .get("200")
        .or_else(|| responses.get("2XX"))
        .ok_or_else(|| err("no 200 response"))?;
    let (response, _) = flatten(doc, response).map_err(|e| err(&e))?;
    let schema = response
        .pointer("/content/application~1json/schema")
        .ok_or_else(|| err("200 response has no application/json schema"))?;
    let (schema, _) = flatten(doc, schema).map_err(|e| err(&e))?;
    let data = schema
        .pointer("/properties/data")
        .ok_or_else(|| err("200 response has no `data`"))?;
    let (data, data_schema) = flatten(doc, data).map_err(|e| err(&e))?;
    let props = data
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| err("`data` has no properties"))?;
    let mut fields = Vec::new();
    let mut status_enum = None;
    let mut status_schema = None;
    for (name, prop) in props {
        let (flat, schema_ref) = flatten(doc, prop).map_err(|e| err(&e))?;
        let (shapes, nullable) = shapes(doc, prop).map_err(|e| err(&format!("{name}: {e}")))?;
        if name == "status" {
            status_schema = schema_ref.clone();
            let ty = shapes.first().map(|s| s.ty.clone());
            status_enum = flat.get("enum").and_then(Value::as_array).map(|e| {
                e.iter()
                    .filter(|v| !v.is_null())
                    .map(|v| normalise(v, ty.as_deref()))
                    .collect()
            });
        }
        fields.push(StatusField {
            name: name.clone(),
            shapes,
            nullable,
            schema_ref,
            schema: inline(doc, prop).map_err(|e| err(&format!("{name}: {e}")))?,
        });
    }
    let required = data
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    Ok(Some(StatusFacts {
        endpoint: endpoint.to_string(),
        fields,
        required,
        status_enum,
        data_schema,
        status_schema,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_accept_narrower_shapes() {
        let doc = json!({"components": {"schemas": {"Veo": {"type": "object", "properties": {"url": {"type": "string"}}}}}});
        let (ours, _) = shapes(
            &doc,
            &json!({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"$ref": "#/components/schemas/Veo"}]}),
        )
        .unwrap();
        let (docs, _) =
            shapes(&doc, &json!({"type": "array", "items": {"type": "string"}})).unwrap();
        assert!(docs.iter().all(|d| ours.iter().any(|o| o.accepts(d))));
        let (int, _) = shapes(&doc, &json!({"type": "integer"})).unwrap();
        let (num, _) = shapes(&doc, &json!({"type": "number"})).unwrap();
        assert!(num[0].accepts(&int[0]));
        assert!(!int[0].accepts(&num[0]));
    }
}
