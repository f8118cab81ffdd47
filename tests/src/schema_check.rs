//! A small checker for JSON values against OpenAPI 3.0 schemas, used to validate the
//! `example`s in `openapi/apipod.yaml`.
//!
//! It knows the keywords our spec uses: `$ref` (local only), `nullable`, `oneOf`, `type`, `enum`,
//! `required`, `properties`, `minLength`/`maxLength`, `minimum`/`maximum`, `items`,
//! `minItems`/`maxItems` and our `x-apipod-min-items`/`x-apipod-max-items`/
//! `x-apipod-require-one-of`. It is stricter than OpenAPI in one way: a property that the
//! schema does not declare is reported, because an example naming an undeclared field is a
//! mistake in the spec. It exists next to the generated types because those are lenient
//! (unknown fields are dropped, `TaskStatus` accepts any text), so an example can decode
//! and still be wrong.
//!
//! ```
//! use serde_json::json;
//!
//! let doc = json!({"components": {"schemas": {"Size": {"type": "integer", "maximum": 4}}}});
//! let schema = json!({
//!     "type": "object",
//!     "required": ["n"],
//!     "properties": {"n": {"$ref": "#/components/schemas/Size"}},
//! });
//! assert!(apipod_tests::schema_check::check(&doc, &schema, &json!({"n": 2})).is_empty());
//! assert_eq!(
//!     apipod_tests::schema_check::check(&doc, &schema, &json!({"n": 5})),
//!     ["$.n: 5 is above the maximum 4"]
//! );
//! ```

use serde_json::Value;

/// Every problem with `value` as an instance of `schema`, as `"<path>: <problem>"` strings
/// (`$` is the root). `doc` is the document that local `$ref`s point into. Empty means valid.
pub fn check(doc: &Value, schema: &Value, value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(doc, schema, value, "$", &mut out);
    out
}

fn walk(doc: &Value, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        match reference.strip_prefix('#').and_then(|p| doc.pointer(p)) {
            Some(target) => walk(doc, target, value, at, out),
            None => out.push(format!("{at}: unresolvable $ref {reference}")),
        }
        return;
    }
    // OpenAPI 3.0 `nullable: true` admits null whatever else the schema says.
    if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return;
    }
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = variants
            .iter()
            .filter(|variant| check(doc, variant, value).is_empty())
            .count();
        if matching != 1 {
            out.push(format!(
                "{at}: matches {matching} of the {} oneOf variants, not exactly one",
                variants.len()
            ));
        }
    }
    if let Some(ty) = schema.get("type") {
        let fits = match ty.as_str() {
            Some("object") => value.is_object(),
            Some("array") => value.is_array(),
            Some("string") => value.is_string(),
            Some("integer") => value.is_i64() || value.is_u64(),
            Some("number") => value.is_number(),
            Some("boolean") => value.is_boolean(),
            _ => {
                out.push(format!(
                    "{at}: the schema's type {ty} is not an OpenAPI 3.0 type"
                ));
                return;
            }
        };
        if !fits {
            out.push(format!(
                "{at}: expected {}, found {value}",
                ty.as_str().unwrap_or("?")
            ));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let allowed = Value::from(allowed.clone());
        out.push(format!("{at}: {value} is not one of {allowed}"));
    }
    if let Some(text) = value.as_str() {
        let len = text.chars().count() as u64;
        if let Some(max) = limit(schema, "maxLength").filter(|max| len > *max as u64) {
            out.push(format!("{at}: {len} characters, more than maxLength {max}"));
        }
        if let Some(min) = limit(schema, "minLength").filter(|min| len < *min as u64) {
            out.push(format!(
                "{at}: {len} characters, fewer than minLength {min}"
            ));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(max) = limit(schema, "maximum").filter(|max| n > *max) {
            out.push(format!("{at}: {value} is above the maximum {max}"));
        }
        if let Some(min) = limit(schema, "minimum").filter(|min| n < *min) {
            out.push(format!("{at}: {value} is below the minimum {min}"));
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as f64;
        for key in ["maxItems", "x-apipod-max-items"] {
            if let Some(max) = limit(schema, key).filter(|max| count > *max) {
                out.push(format!("{at}: {count} items, more than {key} {max}"));
            }
        }
        for key in ["minItems", "x-apipod-min-items"] {
            if let Some(min) = limit(schema, key).filter(|min| count < *min) {
                out.push(format!("{at}: {count} items, fewer than {key} {min}"));
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                walk(doc, item_schema, item, &format!("{at}[{i}]"), out);
            }
        }
    }
    if let Some(object) = value.as_object() {
        let names = |key: &str| -> Vec<&str> {
            let list = schema.get(key).and_then(Value::as_array);
            list.map(|l| l.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default()
        };
        for name in names("required") {
            if !object.contains_key(name) {
                out.push(format!("{at}: required property `{name}` is missing"));
            }
        }
        let one_of = names("x-apipod-require-one-of");
        let has_items = |n: &&str| {
            object
                .get(*n)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        if !one_of.is_empty() && !one_of.iter().any(has_items) {
            out.push(format!("{at}: none of {one_of:?} has an item"));
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (name, member) in object {
            match properties.and_then(|p| p.get(name)) {
                Some(member_schema) => {
                    walk(doc, member_schema, member, &format!("{at}.{name}"), out)
                }
                None if properties.is_some() => out.push(format!(
                    "{at}: property `{name}` is not declared by the schema"
                )),
                None => {}
            }
        }
    }
}

fn limit(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}
