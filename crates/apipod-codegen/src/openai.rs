//! Spec adjustments for the OpenAI-compatible images operations (`/openai/v1/images/...`).
//!
//! Two of progenitor's limits meet these operations:
//!
//! * it cannot generate a `multipart/form-data` request body (it refuses the whole spec),
//!   so [`without_multipart`] removes such operations from what progenitor sees, for the
//!   client and for the httpmock helpers alike. The `apipod` crate writes the edit call by
//!   hand on the same error type; the operation stays in the spec as the contract.
//! * like the model schemas (see [`crate::preprocess`]), a defaulted optional field of a
//!   request body would become non-optional and always be sent, so
//!   [`strip_request_defaults`] removes `default` from the `OpenAi*Request` schemas.

use serde_json::Value;

use crate::Error;

/// The request bodies progenitor cannot generate.
const MULTIPART: &str = "multipart/form-data";

/// Removes every operation whose request body is `multipart/form-data` (and a path left
/// without operations). Fails when there is none, so a stale step is noticed.
pub fn without_multipart(mut spec: Value) -> Result<Value, Error> {
    let paths = spec
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::new("spec has no paths"))?;
    let mut removed = 0;
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        item.retain(|_, op| {
            let multipart = op
                .pointer("/requestBody/content")
                .and_then(Value::as_object)
                .is_some_and(|content| content.contains_key(MULTIPART));
            removed += usize::from(multipart);
            !multipart
        });
    }
    paths.retain(|_, item| {
        item.as_object()
            .is_some_and(|o| o.keys().any(|k| is_method(k)))
    });
    if removed == 0 {
        return Err(Error::new(
            "preprocess: no multipart operation found; the OpenAI edit operation changed shape",
        ));
    }
    Ok(spec)
}

/// Removes `default` from the properties of the `OpenAi*Request` schemas, so unset fields
/// stay unset on the wire (the server applies its defaults). Fails when none is found.
pub fn strip_request_defaults(mut spec: Value) -> Result<Value, Error> {
    let schemas = spec
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::new("spec has no components.schemas"))?;
    let mut stripped = 0;
    for (name, schema) in schemas.iter_mut() {
        if !(name.starts_with("OpenAi") && name.ends_with("Request")) {
            continue;
        }
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for prop in props.values_mut() {
                if prop
                    .as_object_mut()
                    .and_then(|o| o.remove("default"))
                    .is_some()
                {
                    stripped += 1;
                }
            }
        }
    }
    if stripped == 0 {
        return Err(Error::new(
            "preprocess: no defaults in OpenAi*Request schemas; the OpenAI schemas changed shape",
        ));
    }
    Ok(spec)
}

fn is_method(key: &str) -> bool {
    matches!(
        key,
        "get" | "put" | "post" | "delete" | "options" | "head" | "patch" | "trace"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn multipart_operations_go_and_json_ones_stay() {
        let spec = json!({"paths": {
            "/a": {"post": {"requestBody": {"content": {"multipart/form-data": {}}}}},
            "/b": {"post": {"requestBody": {"content": {"application/json": {}}}}},
        }});
        let out = without_multipart(spec).unwrap();
        assert!(out.pointer("/paths/~1a").is_none());
        assert!(out.pointer("/paths/~1b/post").is_some());
        assert!(without_multipart(out).is_err(), "a stale step fails");
    }

    #[test]
    fn only_openai_request_defaults_go() {
        let spec = json!({"components": {"schemas": {
            "OpenAiXRequest": {"properties": {"n": {"type": "integer", "default": 1}}},
            "OpenAiXResponse": {"properties": {"n": {"type": "integer", "default": 1}}},
        }}});
        let out = strip_request_defaults(spec).unwrap();
        assert!(
            out.pointer("/components/schemas/OpenAiXRequest/properties/n/default")
                .is_none()
        );
        assert!(
            out.pointer("/components/schemas/OpenAiXResponse/properties/n/default")
                .is_some()
        );
        assert!(strip_request_defaults(out).is_err());
    }
}
