//! Comparing facts: one field, one model's request, one status endpoint.

use apipod_codegen::facts::{self, Bound, FieldFacts, ModelFacts, StatusFacts, same_values};
use serde::Serialize;
use serde_json::{Value, json};

use super::report::{Difference, Keyword};

/// Longest value shown in a summary; the JSON report has every value in full.
const SHOW_CHARS: usize = 60;

/// A value for display: JSON, with `none` for absence; long strings are cut.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "none".into(),
        Value::String(s) if s.chars().count() > SHOW_CHARS => {
            let cut: String = s.chars().take(SHOW_CHARS - 3).collect();
            format!("{:?}", format!("{cut}..."))
        }
        v => v.to_string(),
    }
}

fn show_list(values: &[Value]) -> String {
    values.iter().map(show).collect::<Vec<_>>().join(", ")
}

fn bound_json(b: &Option<Bound>) -> Value {
    match b {
        None => Value::Null,
        Some(Bound {
            value,
            exclusive: false,
        }) => value.clone(),
        Some(Bound {
            value,
            exclusive: true,
        }) => json!({"value": value, "exclusive": true}),
    }
}

fn show_bound(b: &Option<Bound>) -> String {
    match b {
        None => "none".into(),
        Some(Bound {
            value,
            exclusive: false,
        }) => value.to_string(),
        Some(Bound {
            value,
            exclusive: true,
        }) => format!("{value} (exclusive)"),
    }
}

fn diff(
    field: Option<&str>,
    keyword: Keyword,
    ours: Value,
    docs: Value,
    summary: String,
) -> Difference {
    let fact = match (field, keyword) {
        (Some(f), Keyword::MissingField | Keyword::ExtraField) => f.to_string(),
        (Some(f), k) => format!("{f}.{}", k.name()),
        (None, k) => k.name().to_string(),
    };
    Difference {
        fact,
        field: field.map(str::to_string),
        keyword,
        ours,
        docs,
        summary,
    }
}

fn opt_json<T: Serialize>(v: &Option<T>) -> Value {
    v.as_ref()
        .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
        .unwrap_or(Value::Null)
}

fn scalar_diff<T: Serialize + PartialEq>(
    out: &mut Vec<Difference>,
    field: &str,
    keyword: Keyword,
    ours: &Option<T>,
    docs: &Option<T>,
) {
    if ours != docs {
        let (o, d) = (opt_json(ours), opt_json(docs));
        // Type names read better bare: `ours integer, docs number`.
        let bare = |v: &Value| match v {
            Value::String(s) if matches!(keyword, Keyword::Type | Keyword::ItemsType) => s.clone(),
            v => show(v),
        };
        let summary = format!("ours {}, docs {}", bare(&o), bare(&d));
        out.push(diff(Some(field), keyword, o, d, summary));
    }
}

/// Compares the facts of one field.
pub fn compare_field(name: &str, ours: &FieldFacts, docs: &FieldFacts) -> Vec<Difference> {
    // A recorded docs-choice: compare what we say the docs state.
    let ours = ours.docs_says.as_deref().unwrap_or(ours);
    let mut out = Vec::new();
    if docs.ty.is_some() && ours.ty != docs.ty {
        scalar_diff(&mut out, name, Keyword::Type, &ours.ty, &docs.ty);
    }
    if ours.nullable != docs.nullable {
        out.push(diff(
            Some(name),
            Keyword::Nullable,
            Value::Bool(ours.nullable),
            Value::Bool(docs.nullable),
            format!("ours {}, docs {}", ours.nullable, docs.nullable),
        ));
    }
    if docs.item_ty.is_some() && ours.item_ty != docs.item_ty {
        scalar_diff(
            &mut out,
            name,
            Keyword::ItemsType,
            &ours.item_ty,
            &docs.item_ty,
        );
    }
    match (&ours.enum_values, &docs.enum_values) {
        (None, None) => {}
        (Some(o), Some(d)) if same_values(o, d) => {}
        (o, d) => {
            let o_list = o.clone().unwrap_or_default();
            let d_list = d.clone().unwrap_or_default();
            let summary = match (o, d) {
                (Some(_), Some(_)) => {
                    let only_docs: Vec<Value> = d_list
                        .iter()
                        .filter(|v| !o_list.contains(v))
                        .cloned()
                        .collect();
                    let only_ours: Vec<Value> = o_list
                        .iter()
                        .filter(|v| !d_list.contains(v))
                        .cloned()
                        .collect();
                    let mut parts = Vec::new();
                    if !only_docs.is_empty() {
                        parts.push(format!("only in docs {}", show_list(&only_docs)));
                    }
                    if !only_ours.is_empty() {
                        parts.push(format!("only in ours {}", show_list(&only_ours)));
                    }
                    parts.join("; ")
                }
                (None, _) => format!("ours none, docs [{}]", show_list(&d_list)),
                (_, None) => format!("ours [{}], docs none", show_list(&o_list)),
            };
            out.push(diff(
                Some(name),
                Keyword::Enum,
                opt_json(o),
                opt_json(d),
                summary,
            ));
        }
    }
    scalar_diff(
        &mut out,
        name,
        Keyword::Default,
        &ours.default,
        &docs.default,
    );
    scalar_diff(
        &mut out,
        name,
        Keyword::MinLength,
        &ours.min_length,
        &docs.min_length,
    );
    scalar_diff(
        &mut out,
        name,
        Keyword::MaxLength,
        &ours.max_length,
        &docs.max_length,
    );
    scalar_diff(
        &mut out,
        name,
        Keyword::MinItems,
        &ours.min_items,
        &docs.min_items,
    );
    scalar_diff(
        &mut out,
        name,
        Keyword::MaxItems,
        &ours.max_items,
        &docs.max_items,
    );
    for (keyword, o, d) in [
        (Keyword::Minimum, &ours.minimum, &docs.minimum),
        (Keyword::Maximum, &ours.maximum, &docs.maximum),
    ] {
        if o != d {
            out.push(diff(
                Some(name),
                keyword,
                bound_json(o),
                bound_json(d),
                format!("ours {}, docs {}", show_bound(o), show_bound(d)),
            ));
        }
    }
    out
}

fn type_label(f: &FieldFacts) -> String {
    let ty = f.ty.clone().unwrap_or_else(|| "untyped".into());
    let label = match &f.item_ty {
        Some(item) if ty == "array" => format!("array of {item}"),
        _ => ty,
    };
    if f.nullable {
        format!("{label}, nullable")
    } else {
        label
    }
}

/// Our required fields that are compared: the ones not marked `x-apipod-local`.
pub fn compared_required(ours: &ModelFacts) -> Vec<String> {
    ours.required
        .iter()
        .filter(|r| !ours.field(r).is_some_and(|f| f.local))
        .cloned()
        .collect()
}

/// Compares one model's facts with the docs' facts of the same model.
pub fn compare_model(ours: &ModelFacts, docs: &ModelFacts) -> Vec<Difference> {
    let mut out = Vec::new();
    if ours.path != docs.path {
        out.push(diff(
            None,
            Keyword::Path,
            json!(ours.path),
            json!(docs.path),
            format!("ours {}, docs {}", ours.path, docs.path),
        ));
    }
    for (name, d) in &docs.fields {
        match ours.field(name) {
            Some(o) => out.extend(compare_field(name, o, d)),
            None => out.push(diff(
                Some(name),
                Keyword::MissingField,
                Value::Null,
                json!(type_label(d)),
                format!("in docs ({}), missing in ours", type_label(d)),
            )),
        }
    }
    for (name, o) in &ours.fields {
        if docs.field(name).is_none() && !o.local {
            out.push(diff(
                Some(name),
                Keyword::ExtraField,
                json!(type_label(o)),
                Value::Null,
                format!("in ours ({}), not in docs", type_label(o)),
            ));
        }
    }
    let ours_req = compared_required(ours);
    let only_docs: Vec<&String> = docs
        .required
        .iter()
        .filter(|r| !ours_req.contains(r))
        .collect();
    let only_ours: Vec<&String> = ours_req
        .iter()
        .filter(|r| !docs.required.contains(r))
        .collect();
    if !only_docs.is_empty() || !only_ours.is_empty() {
        let mut parts = Vec::new();
        if !only_docs.is_empty() {
            parts.push(format!("docs also require {}", join(&only_docs)));
        }
        if !only_ours.is_empty() {
            parts.push(format!("ours also require {}", join(&only_ours)));
        }
        out.push(diff(
            None,
            Keyword::Required,
            json!(ours_req),
            json!(docs.required),
            parts.join("; "),
        ));
    }
    out
}

fn join(names: &[&String]) -> String {
    names
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn shapes_label(shapes: &[facts::Shape]) -> String {
    shapes
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// What the docs' status pages say together, which a status schema shared by both
/// endpoints (ours: `TaskDetail`, `TaskStatus`) must match.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SharedStatus {
    /// The fields every page requires.
    pub required: Vec<String>,
    /// Every status value any page lists, in first-seen order (`None` when no page lists any).
    pub status_enum: Option<Vec<Value>>,
}

/// Combines the docs' status pages into [`SharedStatus`].
pub fn shared_status(pages: &[&StatusFacts]) -> SharedStatus {
    let required = match pages.first() {
        Some(first) => first
            .required
            .iter()
            .filter(|r| pages.iter().all(|p| p.required.contains(r)))
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let mut status_enum: Option<Vec<Value>> = None;
    for p in pages {
        if let Some(values) = &p.status_enum {
            let all = status_enum.get_or_insert_with(Vec::new);
            for v in values {
                if !all.contains(v) {
                    all.push(v.clone());
                }
            }
        }
    }
    SharedStatus {
        required,
        status_enum,
    }
}

/// Compares a status endpoint: every docs field must exist in ours with a type ours
/// accepts; ours must not require what this page leaves optional, and must require what
/// every docs page requires; ours must list every status value of this page, and no value
/// that no page lists (our status schema serves both endpoints, see [`shared_status`]).
pub fn compare_status(
    ours: &StatusFacts,
    docs: &StatusFacts,
    shared: &SharedStatus,
) -> Vec<Difference> {
    let shared_required = &shared.required;
    let mut out = Vec::new();
    for d in &docs.fields {
        let fact_field = format!("data.{}", d.name);
        match ours.field(&d.name) {
            None => out.push(diff(
                Some(&fact_field),
                Keyword::MissingField,
                Value::Null,
                json!(shapes_label(&d.shapes)),
                format!("in docs ({}), missing in ours", shapes_label(&d.shapes)),
            )),
            Some(o) => {
                let accepted = d
                    .shapes
                    .iter()
                    .all(|ds| o.shapes.iter().any(|os| os.accepts(ds)));
                if !accepted {
                    out.push(diff(
                        Some(&fact_field),
                        Keyword::Type,
                        json!(shapes_label(&o.shapes)),
                        json!(shapes_label(&d.shapes)),
                        format!(
                            "ours {} does not accept docs {}",
                            shapes_label(&o.shapes),
                            shapes_label(&d.shapes)
                        ),
                    ));
                }
                if d.nullable && !o.nullable {
                    out.push(diff(
                        Some(&fact_field),
                        Keyword::Nullable,
                        Value::Bool(false),
                        Value::Bool(true),
                        "ours false, docs true".into(),
                    ));
                }
            }
        }
    }
    let ours_only: Vec<&String> = ours
        .required
        .iter()
        .filter(|r| !docs.required.contains(r))
        .collect();
    let missing: Vec<&String> = shared_required
        .iter()
        .filter(|r| !ours.required.contains(r))
        .collect();
    if !ours_only.is_empty() || !missing.is_empty() {
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("docs also require {}", join(&missing)));
        }
        if !ours_only.is_empty() {
            parts.push(format!("ours also require {}", join(&ours_only)));
        }
        out.push(diff(
            Some("data"),
            Keyword::Required,
            json!(ours.required),
            json!(docs.required),
            parts.join("; "),
        ));
    }
    if let (Some(d_enum), Some(all)) = (&docs.status_enum, &shared.status_enum) {
        let o_enum = ours.status_enum.clone().unwrap_or_default();
        let only_docs: Vec<Value> = d_enum
            .iter()
            .filter(|v| !o_enum.contains(v))
            .cloned()
            .collect();
        let only_ours: Vec<Value> = o_enum
            .iter()
            .filter(|v| !all.contains(v))
            .cloned()
            .collect();
        if !only_docs.is_empty() || !only_ours.is_empty() {
            let mut parts = Vec::new();
            if !only_docs.is_empty() {
                parts.push(format!("only in docs {}", show_list(&only_docs)));
            }
            if !only_ours.is_empty() {
                parts.push(format!("only in ours {}", show_list(&only_ours)));
            }
            out.push(diff(
                Some("data.status"),
                Keyword::Enum,
                json!(o_enum),
                json!(d_enum),
                parts.join("; "),
            ));
        }
    }
    out
}
