//! Normalised contract facts, for comparing our spec with the upstream docs.
//!
//! [`crate::contract::extract`] decides which models a document defines and which fields
//! each model has; this module reads every comparable fact of those fields in a form that
//! does not depend on how a document spells it:
//!
//! * OpenAPI 3.1 and 3.0 forms are equal: `const: x` is a one-value enum, `type: [T, "null"]`
//!   and `anyOf: [{type: T}, {type: "null"}]` are `T` + nullable, a numeric
//!   `exclusiveMinimum: n` is `minimum: n` + `exclusiveMinimum: true`.
//! * `$ref`s (into the document's own components) are followed, `allOf` members merged.
//! * Numbers are canonical (`5.0` is `5`); for string-typed fields a value that YAML read as
//!   a number or boolean (`- 1080`) is compared as its text.
//! * Enum values are a set: order is not a fact.
//! * Prose (titles, descriptions, examples) is carried for sync's use but never compared.
//!   `x-apipod-*` extensions are ignored, except `x-apipod-local`, which marks a field or
//!   schema we keep although the docs do not list it.
//!
//! The status endpoints' response facts ([`status_facts`]) are read the same way.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::contract::{self, Kind, Model};

/// A `minimum` or `maximum`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// The limit, a canonical JSON number.
    pub value: Value,
    /// True for an exclusive limit.
    pub exclusive: bool,
}

/// Every compared fact of one request field.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldFacts {
    /// Non-null type (`string`, `integer`, ...); alternatives are joined with `|`.
    /// Inferred from the enum or default when the schema states none; `None` when unknown.
    pub ty: Option<String>,
    /// `null` is allowed (`nullable: true`, `type: [T, "null"]`, a null `anyOf` branch).
    pub nullable: bool,
    /// Item type of an array.
    pub item_ty: Option<String>,
    /// Allowed values, normalised, in document order (compare with [`same_values`]).
    pub enum_values: Option<Vec<Value>>,
    /// `default`, normalised.
    pub default: Option<Value>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `minItems` (the standard keyword; `x-apipod-min-items` is not a compared fact).
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `minimum` / `exclusiveMinimum`.
    pub minimum: Option<Bound>,
    /// `maximum` / `exclusiveMaximum`.
    pub maximum: Option<Bound>,
    /// `x-apipod-local`: kept by us although the docs do not list it.
    pub local: bool,
    /// `example`, or the first of `examples` (not compared).
    pub example: Option<Value>,
    /// `title` (not compared).
    pub title: Option<String>,
    /// `description` (not compared).
    pub description: Option<String>,
    /// The property schema with every `$ref`, `allOf` and nullable union resolved (see
    /// [`inline`]); sync renders new fields from it. Not compared.
    pub schema: Value,
    /// `x-apipod-docs-says`: what the docs state for this field where it contradicts
    /// itself and we enforce a reading of it instead (a `docs-choice:`). Drift compares
    /// the docs with these facts; everything else uses the field's own facts.
    pub docs_says: Option<Box<FieldFacts>>,
}

impl FieldFacts {
    /// The compared facts only: prose, examples and the raw schema cleared.
    pub fn facts_only(&self) -> FieldFacts {
        FieldFacts {
            example: None,
            title: None,
            description: None,
            schema: Value::Null,
            docs_says: self.docs_says.as_ref().map(|d| Box::new(d.facts_only())),
            ..self.clone()
        }
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

const MAX_REF_DEPTH: usize = 32;

/// Follows `$ref`s (merging sibling keys over the target, as 3.1 allows) and merges
/// `allOf` members. Returns the flattened schema and the name of the last component the
/// chain went through.
pub fn flatten(doc: &Value, schema: &Value) -> Result<(Value, Option<String>), String> {
    flatten_depth(doc, schema, 0)
}

fn flatten_depth(
    doc: &Value,
    schema: &Value,
    depth: usize,
) -> Result<(Value, Option<String>), String> {
    if depth > MAX_REF_DEPTH {
        return Err("$ref chain is too deep (a cycle?)".into());
    }
    let Some(obj) = schema.as_object() else {
        return Ok((schema.clone(), None));
    };
    let mut name = None;
    let mut out: Map<String, Value> = Map::new();
    if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
        let pointer = r
            .strip_prefix('#')
            .ok_or_else(|| format!("external $ref {r:?} is not supported"))?;
        let target = doc
            .pointer(pointer)
            .ok_or_else(|| format!("dangling $ref {r:?}"))?;
        let (target, inner) = flatten_depth(doc, target, depth + 1)?;
        name = inner.or_else(|| pointer.rsplit('/').next().map(str::to_string));
        if let Value::Object(t) = target {
            out = t;
        }
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        for member in all {
            let (member, member_name) = flatten_depth(doc, member, depth + 1)?;
            if all.len() == 1 && name.is_none() {
                name = member_name;
            }
            if let Value::Object(m) = member {
                merge_into(&mut out, m);
            }
        }
    }
    for (k, v) in obj {
        if k == "$ref" || k == "allOf" {
            continue;
        }
        match (k.as_str(), out.get_mut(k), v) {
            ("properties", Some(Value::Object(into)), Value::Object(from)) => {
                for (pk, pv) in from {
                    into.insert(pk.clone(), pv.clone());
                }
            }
            ("required", Some(Value::Array(into)), Value::Array(from)) => {
                for r in from {
                    if !into.contains(r) {
                        into.push(r.clone());
                    }
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Ok((Value::Object(out), name))
}

fn merge_into(out: &mut Map<String, Value>, from: Map<String, Value>) {
    for (k, v) in from {
        match (k.as_str(), out.get_mut(&k), v) {
            ("properties", Some(Value::Object(into)), Value::Object(props)) => {
                for (pk, pv) in props {
                    into.insert(pk, pv);
                }
            }
            ("required", Some(Value::Array(into)), Value::Array(req)) => {
                for r in req {
                    if !into.contains(&r) {
                        into.push(r);
                    }
                }
            }
            (_, _, v) => {
                out.insert(k, v);
            }
        }
    }
}

/// A JSON number in canonical form: integral floats become integers.
pub fn canonical_number(v: &Value) -> Value {
    if let Value::Number(n) = v
        && n.is_f64()
        && let Some(f) = n.as_f64()
        && f.fract() == 0.0
        && f.abs() < 9.0e15
    {
        return Value::from(f as i64);
    }
    v.clone()
}

/// Normalises a value of a field of type `ty`: canonical numbers; for strings, numbers and
/// booleans become their text (YAML read an unquoted `1080` as a number).
pub fn normalise(v: &Value, ty: Option<&str>) -> Value {
    let v = canonical_number(v);
    if ty == Some("string") {
        match &v {
            Value::Number(n) => return Value::String(n.to_string()),
            Value::Bool(b) => return Value::String(b.to_string()),
            _ => {}
        }
    }
    v
}

/// True when two value lists hold the same values, ignoring order and duplicates.
pub fn same_values(a: &[Value], b: &[Value]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

fn type_list(schema: &Value) -> (Vec<String>, bool) {
    match schema.get("type") {
        Some(Value::String(s)) if s == "null" => (vec![], true),
        Some(Value::String(s)) => (vec![s.clone()], false),
        Some(Value::Array(list)) => {
            let mut types = Vec::new();
            let mut null = false;
            for t in list.iter().filter_map(Value::as_str) {
                if t == "null" {
                    null = true;
                } else if !types.iter().any(|x| x == t) {
                    types.push(t.to_string());
                }
            }
            (types, null)
        }
        _ => (vec![], false),
    }
}

fn is_null_schema(schema: &Value) -> bool {
    matches!(type_list(schema), (t, true) if t.is_empty())
        || schema
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|e| e.iter().all(Value::is_null) && !e.is_empty())
        || schema.get("const").is_some_and(Value::is_null)
}

/// Collapses `anyOf`/`oneOf` with a null branch into its single non-null branch.
/// Returns the schema, whether a null branch was seen, and the non-null alternatives when
/// more than one remain.
fn collapse_union(doc: &Value, schema: Value) -> Result<(Value, bool, Vec<Value>), String> {
    let key = ["anyOf", "oneOf"]
        .into_iter()
        .find(|k| schema.get(*k).is_some_and(Value::is_array));
    let Some(key) = key else {
        return Ok((schema, false, vec![]));
    };
    let alts = schema[key].as_array().cloned().unwrap_or_default();
    let mut null = false;
    let mut rest = Vec::new();
    for alt in &alts {
        let (alt, _) = flatten(doc, alt)?;
        if is_null_schema(&alt) {
            null = true;
        } else {
            rest.push(alt);
        }
    }
    if rest.len() == 1 {
        let mut merged = match rest.pop() {
            Some(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Value::Object(outer) = &schema {
            for (k, v) in outer {
                if k != key {
                    merged.insert(k.clone(), v.clone());
                }
            }
        }
        return Ok((Value::Object(merged), null, vec![]));
    }
    Ok((schema, null, rest))
}

/// A self-contained copy of a schema: `$ref`s and `allOf` resolved at every level
/// (`properties`, `items`, union members), and a union with one non-null member replaced
/// by that member plus `nullable: true`.
pub fn inline(doc: &Value, schema: &Value) -> Result<Value, String> {
    inline_depth(doc, schema, 0)
}

fn inline_depth(doc: &Value, schema: &Value, depth: usize) -> Result<Value, String> {
    if depth > MAX_REF_DEPTH {
        return Err("schema nests too deeply (a cycle?)".into());
    }
    let (flat, _) = flatten(doc, schema)?;
    let (mut s, null, alts) = collapse_union(doc, flat)?;
    let Some(obj) = s.as_object_mut() else {
        return Ok(s);
    };
    if null {
        obj.insert("nullable".into(), Value::Bool(true));
    }
    if !alts.is_empty() {
        let key = if obj.contains_key("anyOf") {
            "anyOf"
        } else {
            "oneOf"
        };
        let members = alts
            .iter()
            .map(|a| inline_depth(doc, a, depth + 1))
            .collect::<Result<Vec<_>, _>>()?;
        obj.insert(key.into(), Value::Array(members));
    }
    if let Some(Value::Object(props)) = obj.get("properties").cloned() {
        let mut out = Map::new();
        for (k, v) in props {
            out.insert(k, inline_depth(doc, &v, depth + 1)?);
        }
        obj.insert("properties".into(), Value::Object(out));
    }
    if let Some(items) = obj.get("items").cloned() {
        obj.insert("items".into(), inline_depth(doc, &items, depth + 1)?);
    }
    Ok(s)
}

fn infer_type(values: &[&Value]) -> Option<String> {
    let mut ty: Option<&str> = None;
    for v in values {
        let t = match v {
            Value::String(_) => "string",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
            Value::Number(_) => "number",
            _ => return None,
        };
        ty = match (ty, t) {
            (None, t) => Some(t),
            (Some(a), b) if a == b => Some(a),
            (Some("integer"), "number") | (Some("number"), "integer") => Some("number"),
            _ => return None,
        };
    }
    ty.map(str::to_string)
}

fn bound(schema: &Value, inclusive_key: &str, exclusive_key: &str) -> Option<Bound> {
    let inclusive = schema.get(inclusive_key).filter(|v| v.is_number());
    match schema.get(exclusive_key) {
        // 3.1: the exclusive limit is the number itself.
        Some(n @ Value::Number(_)) => {
            let excl = canonical_number(n);
            match inclusive {
                // Both given: the stricter one holds.
                Some(inc) => {
                    let (a, b) = (inc.as_f64()?, excl.as_f64()?);
                    let stricter_is_exclusive = if inclusive_key == "minimum" {
                        b >= a
                    } else {
                        b <= a
                    };
                    Some(if stricter_is_exclusive {
                        Bound {
                            value: excl,
                            exclusive: true,
                        }
                    } else {
                        Bound {
                            value: canonical_number(inc),
                            exclusive: false,
                        }
                    })
                }
                None => Some(Bound {
                    value: excl,
                    exclusive: true,
                }),
            }
        }
        // 3.0: a flag on the inclusive keyword.
        Some(Value::Bool(flag)) => inclusive.map(|v| Bound {
            value: canonical_number(v),
            exclusive: *flag,
        }),
        _ => inclusive.map(|v| Bound {
            value: canonical_number(v),
            exclusive: false,
        }),
    }
}

fn item_type(doc: &Value, schema: &Value) -> Result<Option<String>, String> {
    let Some(items) = schema.get("items") else {
        return Ok(None);
    };
    let (items, _) = flatten(doc, items)?;
    let (items, _, alts) = collapse_union(doc, items)?;
    if !alts.is_empty() {
        let mut types: Vec<String> = alts.iter().flat_map(|a| type_list(a).0).collect();
        types.sort();
        types.dedup();
        return Ok((!types.is_empty()).then(|| types.join("|")));
    }
    let (types, _) = type_list(&items);
    if types.is_empty() {
        let values: Vec<&Value> = items
            .get("enum")
            .and_then(Value::as_array)
            .map(|e| e.iter().collect())
            .or_else(|| items.get("const").map(|c| vec![c]))
            .unwrap_or_default();
        return Ok(infer_type(&values));
    }
    Ok(Some(types.join("|")))
}

fn u64_key(schema: &Value, key: &str) -> Option<u64> {
    let v = schema.get(key)?;
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    })
}

/// Reads the facts of one property schema of `doc`.
pub fn field_facts(doc: &Value, prop: &Value) -> Result<FieldFacts, String> {
    let (flat, _) = flatten(doc, prop)?;
    let (schema, union_null, alts) = collapse_union(doc, flat)?;
    let (mut types, type_null) = type_list(&schema);
    if types.is_empty() && !alts.is_empty() {
        for alt in &alts {
            for t in type_list(alt).0 {
                if !types.contains(&t) {
                    types.push(t);
                }
            }
        }
        types.sort();
    }
    let mut nullable =
        union_null || type_null || schema.get("nullable").and_then(Value::as_bool) == Some(true);

    let raw_enum: Option<Vec<Value>> = schema
        .get("enum")
        .and_then(Value::as_array)
        .cloned()
        .or_else(|| schema.get("const").map(|c| vec![c.clone()]));
    let raw_enum = raw_enum.map(|values| {
        let (nulls, rest): (Vec<Value>, Vec<Value>) = values.into_iter().partition(Value::is_null);
        if !nulls.is_empty() {
            nullable = true;
        }
        rest
    });
    let raw_default = schema.get("default").filter(|d| !d.is_null()).cloned();

    let ty = if types.is_empty() {
        let mut known: Vec<&Value> = raw_enum.iter().flatten().collect();
        if known.is_empty() {
            known.extend(raw_default.iter());
        }
        infer_type(&known)
    } else {
        Some(types.join("|"))
    };
    let ty_ref = ty.as_deref();

    let example = schema.get("example").cloned().or_else(|| {
        schema
            .get("examples")
            .and_then(Value::as_array)
            .and_then(|e| e.first().cloned())
    });
    let docs_says = match schema.get("x-apipod-docs-says").and_then(Value::as_object) {
        Some(says) => {
            let mut merged = schema.as_object().cloned().unwrap_or_default();
            merged.remove("x-apipod-docs-says");
            for (k, v) in says {
                merged.insert(k.clone(), v.clone());
            }
            Some(Box::new(field_facts(doc, &Value::Object(merged))?))
        }
        None => None,
    };
    Ok(FieldFacts {
        docs_says,
        nullable,
        item_ty: item_type(doc, &schema)?,
        enum_values: raw_enum.map(|v| v.iter().map(|x| normalise(x, ty_ref)).collect()),
        default: raw_default.map(|d| normalise(&d, ty_ref)),
        min_length: u64_key(&schema, "minLength"),
        max_length: u64_key(&schema, "maxLength"),
        min_items: u64_key(&schema, "minItems"),
        max_items: u64_key(&schema, "maxItems"),
        minimum: bound(&schema, "minimum", "exclusiveMinimum"),
        maximum: bound(&schema, "maximum", "exclusiveMaximum"),
        local: schema.get("x-apipod-local").is_some(),
        example,
        title: schema
            .get("title")
            .and_then(Value::as_str)
            .map(str::to_string),
        description: schema
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        ty,
        schema: inline(doc, prop)?,
    })
}

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

/// Finds the request schema of `model` in `doc` (following the create operation of its
/// path, resolving `$ref`s and `oneOf` variants).
fn model_schema(doc: &Value, model: &Model) -> Result<Value, String> {
    let body = doc
        .get("paths")
        .and_then(|p| p.get(&model.path))
        .and_then(|item| item.get("post"))
        .and_then(|op| op.pointer("/requestBody/content/application~1json/schema"))
        .ok_or_else(|| format!("{}: create operation vanished", model.id))?;
    let (body, _) = flatten(doc, body)?;
    let variants = match body.get("oneOf").and_then(Value::as_array) {
        Some(list) => list.clone(),
        None => vec![body],
    };
    for variant in &variants {
        let (schema, _) = flatten(doc, variant)?;
        if contract::model_id(&schema).as_deref() == Some(model.id.as_str()) {
            return Ok(schema);
        }
    }
    Err(format!("{}: request schema not found", model.id))
}

/// Reads the facts of one model found by [`contract::extract`].
pub fn model_facts(doc: &Value, model: &Model) -> Result<ModelFacts, String> {
    let schema = model_schema(doc, model)?;
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("{}: schema has no properties", model.id))?;
    let mut fields = Vec::with_capacity(model.fields.len());
    for f in &model.fields {
        let prop = props
            .get(&f.name)
            .ok_or_else(|| format!("{}: property {} vanished", model.id, f.name))?;
        let facts = field_facts(doc, prop).map_err(|e| format!("{}.{}: {e}", model.id, f.name))?;
        fields.push((f.name.clone(), facts));
    }
    Ok(ModelFacts {
        id: model.id.clone(),
        kind: model.kind,
        path: model.path.clone(),
        schema_name: model.schema_name.clone(),
        title: model.title.clone(),
        local: schema.get("x-apipod-local").is_some(),
        fields,
        required: model
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.clone())
            .collect(),
    })
}

/// Reads every model's facts from a document ([`contract::extract`] plus [`model_facts`]).
pub fn models(doc: &Value) -> Result<Vec<ModelFacts>, String> {
    contract::extract(doc)?
        .iter()
        .map(|m| model_facts(doc, m))
        .collect()
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

/// Document order of property names, read from the YAML text itself: `serde_json` maps
/// (without `preserve_order`, which would change what build.rs generates) sort their keys,
/// while serde_norway's own `Value` keeps them in document order.
mod order {
    use serde_norway::Value as Y;

    fn get<'a>(v: &'a Y, key: &str) -> Option<&'a Y> {
        v.as_mapping()?.get(Y::String(key.to_string()))
    }

    fn pointer<'a>(doc: &'a Y, reference: &str) -> Option<&'a Y> {
        let path = reference.strip_prefix("#/")?;
        let mut node = doc;
        for part in path.split('/') {
            let part = part.replace("~1", "/").replace("~0", "~");
            node = get(node, &part)?;
        }
        Some(node)
    }

    fn deref<'a>(doc: &'a Y, mut v: &'a Y) -> &'a Y {
        for _ in 0..super::MAX_REF_DEPTH {
            match get(v, "$ref")
                .and_then(Y::as_str)
                .and_then(|r| pointer(doc, r))
            {
                Some(target) => v = target,
                None => break,
            }
        }
        v
    }

    /// Property names of a schema in document order (`allOf` members first).
    fn props(doc: &Y, schema: &Y, out: &mut Vec<String>, depth: usize) {
        if depth > super::MAX_REF_DEPTH {
            return;
        }
        let schema = deref(doc, schema);
        if let Some(all) = get(schema, "allOf").and_then(Y::as_sequence) {
            for member in all {
                props(doc, member, out, depth + 1);
            }
        }
        if let Some(map) = get(schema, "properties").and_then(Y::as_mapping) {
            for key in map.keys().filter_map(Y::as_str) {
                if !out.iter().any(|k| k == key) {
                    out.push(key.to_string());
                }
            }
        }
    }

    fn model_of(doc: &Y, schema: &Y) -> Option<String> {
        let mut names = Vec::new();
        props(doc, schema, &mut names, 0);
        let schema = deref(doc, schema);
        let model = get(schema, "properties")
            .and_then(|p| get(p, "model"))
            .or_else(|| {
                get(schema, "allOf")?
                    .as_sequence()?
                    .iter()
                    .find_map(|m| get(deref(doc, m), "properties").and_then(|p| get(p, "model")))
            })?;
        let model = deref(doc, model);
        if let Some(c) = get(model, "const").and_then(Y::as_str) {
            return Some(c.to_string());
        }
        match get(model, "enum")?.as_sequence()?.as_slice() {
            [one] => one.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// The property order of model `id`'s request schema at create path `path`.
    pub fn model_properties(doc: &Y, path: &str, id: &str) -> Option<Vec<String>> {
        let body = get(doc, "paths")
            .and_then(|p| get(p, path))
            .and_then(|i| get(i, "post"))
            .and_then(|op| get(op, "requestBody"))
            .and_then(|b| get(b, "content"))
            .and_then(|c| get(c, "application/json"))
            .and_then(|j| get(j, "schema"))?;
        let body = deref(doc, body);
        let variants: Vec<&Y> = match get(body, "oneOf").and_then(Y::as_sequence) {
            Some(list) => list.iter().collect(),
            None => vec![body],
        };
        variants
            .into_iter()
            .find(|v| model_of(doc, v).as_deref() == Some(id))
            .map(|v| {
                let mut names = Vec::new();
                props(doc, v, &mut names, 0);
                names
            })
    }
}

/// Puts each model's fields into the order the YAML `text` lists them (facts read through
/// `serde_json` come out sorted by name). Fields the text does not show keep their place
/// after the ordered ones.
pub fn order_fields(text: &str, models: &mut [ModelFacts]) {
    let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(text) else {
        return;
    };
    for m in models {
        let Some(order) = order::model_properties(&doc, &m.path, &m.id) else {
            continue;
        };
        let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(usize::MAX);
        m.fields.sort_by_key(|(name, _)| rank(name));
    }
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
        let mut models = models(&doc).unwrap();
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
        let a = models(&page("one", false)).unwrap();
        let b = models(&page("two", true)).unwrap();
        assert!(a[0].same_facts(&b[0]));
        let mut c = b[0].clone();
        c.fields[1].1.max_length = Some(10);
        assert!(!a[0].same_facts(&c));
    }

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
