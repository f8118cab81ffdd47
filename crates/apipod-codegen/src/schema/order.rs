//! Document order of property names, read from the YAML text itself: `serde_json` maps
//! (without `preserve_order`, which would change what build.rs generates) sort their keys,
//! while serde_norway's own `Value` keeps them in document order.

use serde_norway::Value as Y;

use super::ModelFacts;

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
    for _ in 0..super::field::MAX_REF_DEPTH {
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
    if depth > super::field::MAX_REF_DEPTH {
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
fn model_properties(doc: &Y, path: &str, id: &str) -> Option<Vec<String>> {
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

/// Puts each model's fields into the order the YAML `text` lists them (facts read through
/// `serde_json` come out sorted by name). Fields the text does not show keep their place
/// after the ordered ones.
pub fn order_fields(text: &str, models: &mut [ModelFacts]) {
    let Ok(doc) = serde_norway::from_str::<serde_norway::Value>(text) else {
        return;
    };
    for m in models {
        let Some(order) = model_properties(&doc, &m.path, &m.id) else {
            continue;
        };
        let rank = |name: &str| order.iter().position(|o| o == name).unwrap_or(usize::MAX);
        m.fields.sort_by_key(|(name, _)| rank(name));
    }
}
