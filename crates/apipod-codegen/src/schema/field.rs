//! One property schema, normalised: every spelling of the same fact reads the same.
//!
//! * OpenAPI 3.1 and 3.0 forms are equal: `const: x` is a one-value enum, `type: [T, "null"]`
//!   and `anyOf: [{type: T}, {type: "null"}]` are `T` + nullable, a numeric
//!   `exclusiveMinimum: n` is `minimum: n` + `exclusiveMinimum: true`.
//! * `$ref`s (into the document's own components) are followed, `allOf` members merged.
//! * Numbers are canonical (`5.0` is `5`); limits may be fractional; for string-typed
//!   fields a value that YAML read as a number or boolean (`- 1080`) is its text.
//! * Prose (titles, descriptions, examples) is carried but never compared. `x-apipod-*`
//!   extensions are read where they carry an enforced rule (`x-apipod-min-items`,
//!   `x-apipod-max-items`) or a recorded docs choice (`x-apipod-docs-says`).

use serde_json::{Map, Value};

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
    /// `x-apipod-min-items`: a limit earlier docs stated; enforced, not compared.
    pub x_min_items: Option<u64>,
    /// `x-apipod-max-items`: likewise.
    pub x_max_items: Option<u64>,
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
            x_min_items: None,
            x_max_items: None,
            ..self.clone()
        }
    }
}

pub(crate) const MAX_REF_DEPTH: usize = 32;

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

pub(crate) fn type_list(schema: &Value) -> (Vec<String>, bool) {
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
pub(crate) fn collapse_union(
    doc: &Value,
    schema: Value,
) -> Result<(Value, bool, Vec<Value>), String> {
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

pub(crate) fn infer_type(values: &[&Value]) -> Option<String> {
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

pub(crate) fn item_type(doc: &Value, schema: &Value) -> Result<Option<String>, String> {
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
        x_min_items: u64_key(&schema, "x-apipod-min-items"),
        x_max_items: u64_key(&schema, "x-apipod-max-items"),
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
