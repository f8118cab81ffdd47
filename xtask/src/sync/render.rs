//! Rendering docs facts as the YAML lines of our spec, and checking what is rendered.

use apipod_codegen::docs::DocsSet;
use apipod_codegen::facts::{self, Bound, FieldFacts, ModelFacts, normalise};
use serde_json::Value;

use crate::yaml::format_scalar;

use super::{SyncError, failed};

pub(super) fn placeholder(name: &str) -> String {
    format!("`{name}` (added by xtask sync; review the description)")
}

/// The family of model `id`, as the docs file it comes from names it.
pub(super) fn family_of(docs: &DocsSet, id: &str) -> Option<String> {
    docs.model(id).map(|d| d.family.clone())
}

pub(super) fn bound_lines(key: &str, exclusive_key: &str, b: &Option<Bound>) -> Vec<String> {
    match b {
        None => vec![],
        Some(b) => {
            let mut lines = vec![format!("{key}: {}", format_scalar(&b.value))];
            if b.exclusive {
                lines.push(format!("{exclusive_key}: true"));
            }
            lines
        }
    }
}

pub(super) fn check_type(ty: &str) -> Result<(), SyncError> {
    if ty.contains('|') {
        return Err(failed(format!(
            "type {ty} has several alternatives; OpenAPI 3.0 needs oneOf there, edit it by hand"
        )));
    }
    Ok(())
}

/// How `example` breaks the facts of model `m` (empty when it conforms).
pub(super) fn example_problems(m: &ModelFacts, example: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(obj) = example.as_object() else {
        return vec!["not an object".into()];
    };
    for (name, value) in obj {
        let Some(f) = m.field(name) else {
            out.push(format!("`{name}` is not a field"));
            continue;
        };
        let norm = normalise(value, f.ty.as_deref());
        if let Some(values) = &f.enum_values
            && !values.contains(&norm)
        {
            out.push(format!("`{name}`: {value} is not one of its values"));
        }
        if let Some(n) = value.as_f64() {
            let below = f.minimum.as_ref().and_then(|b| {
                let lim = b.value.as_f64()?;
                Some(if b.exclusive { n <= lim } else { n < lim })
            });
            let above = f.maximum.as_ref().and_then(|b| {
                let lim = b.value.as_f64()?;
                Some(if b.exclusive { n >= lim } else { n > lim })
            });
            if below == Some(true) || above == Some(true) {
                out.push(format!("`{name}`: {value} is out of range"));
            }
        }
        if let (Some(s), Some(max)) = (value.as_str(), f.max_length)
            && s.chars().count() as u64 > max
        {
            out.push(format!("`{name}` is longer than {max}"));
        }
    }
    for r in &m.required {
        if !obj.contains_key(r) {
            out.push(format!("required `{r}` is missing"));
        }
    }
    out
}

/// The YAML lines (relative to the `example` key, which they do not include) of a JSON
/// example value.
pub(super) fn example_block(v: &Value) -> Vec<String> {
    fn render(v: &Value, indent: usize, out: &mut Vec<String>) {
        let pad = " ".repeat(indent);
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let key = format_scalar(&Value::String(k.clone()));
                    match v {
                        Value::Object(m) if !m.is_empty() => {
                            out.push(format!("{pad}{key}:"));
                            render(v, indent + 2, out);
                        }
                        Value::Array(a) if !a.is_empty() => {
                            out.push(format!("{pad}{key}:"));
                            render(v, indent + 2, out);
                        }
                        _ => out.push(format!("{pad}{key}: {}", format_scalar(v))),
                    }
                }
            }
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(_) | Value::Array(_) => {
                            out.push(format!("{pad}-"));
                            render(item, indent + 2, out);
                        }
                        _ => out.push(format!("{pad}- {}", format_scalar(item))),
                    }
                }
            }
            other => out.push(format!("{pad}{}", format_scalar(other))),
        }
    }
    let mut out = vec!["example:".to_string()];
    render(v, 2, &mut out);
    out
}

/// The body lines (relative to the key, which they do not include) of `schema`, an
/// [`facts::inline`]d schema, in the OpenAPI 3.0 forms and key order of our spec.
pub(super) fn schema_body(
    schema: &Value,
    description: Option<&str>,
) -> Result<Vec<String>, SyncError> {
    if ["anyOf", "oneOf"].iter().any(|k| schema.get(*k).is_some()) {
        return Err(failed(
            "a schema with several alternatives (anyOf/oneOf); add it by hand",
        ));
    }
    let f = facts::field_facts(&Value::Null, schema).map_err(failed)?;
    let mut lines = Vec::new();
    if let Some(ty) = &f.ty {
        check_type(ty)?;
        lines.push(format!("type: {ty}"));
    }
    if f.nullable {
        lines.push("nullable: true".into());
    }
    if let Some(format) = schema.get("format").filter(|v| v.is_string()) {
        lines.push(format!("format: {}", format_scalar(format)));
    }
    if let Some(n) = f.min_length {
        lines.push(format!("minLength: {n}"));
    }
    if let Some(n) = f.max_length {
        lines.push(format!("maxLength: {n}"));
    }
    if let Some(d) = description {
        lines.push(format!(
            "description: {}",
            format_scalar(&Value::String(d.into()))
        ));
    }
    if let Some(n) = f.min_items {
        lines.push(format!("minItems: {n}"));
    }
    if let Some(n) = f.max_items {
        lines.push(format!("maxItems: {n}"));
    }
    if let Some(items) = schema.get("items") {
        let body = schema_body(items, None)?;
        if body.is_empty() {
            lines.push("items: {}".into());
        } else {
            lines.push("items:".into());
            lines.extend(body.into_iter().map(|l| format!("  {l}")));
        }
    } else if f.ty.as_deref() == Some("array") {
        return Err(failed("an array without `items`; add it by hand"));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        if let Some(required) = schema.get("required").and_then(Value::as_array)
            && !required.is_empty()
        {
            lines.push("required:".into());
            lines.extend(required.iter().map(|r| format!("  - {}", format_scalar(r))));
        }
        if !props.is_empty() {
            lines.push("properties:".into());
            for (name, prop) in props {
                lines.push(format!("  {name}:"));
                let body = schema_body(prop, Some(&placeholder(name)))?;
                lines.extend(body.into_iter().map(|l| format!("    {l}")));
            }
        }
    }
    let (bad_enum, bad_default) = contradictions(&f);
    if bad_enum || bad_default {
        // docs-choice (made by sync, flagged for review): the page's listed values or
        // default cannot be meant, since its own bounds or list exclude them. What the page
        // says is kept as `x-apipod-docs-says`, so drift still notices when the docs change
        // it; the rest of the field is enforced.
        lines.push(
            "# docs-choice: the page's own type or bounds exclude what it states here; they are enforced".into(),
        );
        lines.push("x-apipod-docs-says:".into());
        if let (true, Some(values)) = (bad_enum, &f.enum_values) {
            lines.push("  enum:".into());
            lines.extend(values.iter().map(|v| format!("    - {}", format_scalar(v))));
        }
        if let (true, Some(d)) = (bad_default, &f.default) {
            lines.push(format!("  default: {}", format_scalar(d)));
        }
    }
    if let (false, Some(values)) = (bad_enum, &f.enum_values) {
        lines.push("enum:".into());
        lines.extend(values.iter().map(|v| format!("  - {}", format_scalar(v))));
    }
    if let (false, Some(d)) = (bad_default, &f.default) {
        lines.push(format!("default: {}", format_scalar(d)));
    }
    lines.extend(bound_lines("minimum", "exclusiveMinimum", &f.minimum));
    lines.extend(bound_lines("maximum", "exclusiveMaximum", &f.maximum));
    if let Some(ex) = &f.example
        && !ex.is_object()
        && !ex.is_array()
    {
        lines.push(format!("example: {}", format_scalar(ex)));
    }
    Ok(lines)
}

/// Whether a field contradicts itself: (its listed values all lie outside its own bounds,
/// its default lies outside its bounds or, with a usable list, is not listed).
pub fn contradictions(f: &FieldFacts) -> (bool, bool) {
    let in_bounds = |v: &Value| {
        let Some(n) = v.as_f64() else {
            return true;
        };
        let lo = f.minimum.as_ref().and_then(|b| b.value.as_f64());
        let hi = f.maximum.as_ref().and_then(|b| b.value.as_f64());
        lo.is_none_or(|lo| n >= lo) && hi.is_none_or(|hi| n <= hi)
    };
    let bad_enum = f
        .enum_values
        .as_ref()
        .is_some_and(|values| !values.iter().any(in_bounds));
    let wrong_type = |d: &Value| match f.ty.as_deref() {
        Some("boolean") => !d.is_boolean(),
        Some("integer") => !(d.is_i64() || d.is_u64()),
        Some("number") => !d.is_number(),
        Some("string") => !d.is_string(),
        Some("array") => !d.is_array(),
        _ => false,
    };
    let bad_default = f.default.as_ref().is_some_and(|d| {
        wrong_type(d)
            || !in_bounds(d)
            || (!bad_enum
                && f.enum_values
                    .as_ref()
                    .is_some_and(|values| !values.contains(d)))
    });
    (bad_enum, bad_default)
}

/// The lines of a new property (its key line first, relative to the key's indentation).
pub(super) fn field_block(
    name: &str,
    schema: &Value,
    description: &str,
) -> Result<Vec<String>, SyncError> {
    let mut body = schema_body(schema, Some(description))?;
    // Our `model` fields list the id before the description.
    if name == "model"
        && let Some(pos) = body.iter().position(|l| l.starts_with("description: "))
    {
        let line = body.remove(pos);
        body.push(line);
    }
    let mut lines = vec![format!("{name}:")];
    lines.extend(body.into_iter().map(|l| format!("  {l}")));
    Ok(lines)
}
