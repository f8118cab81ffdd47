//! `cargo xtask drift`: compares our spec with the upstream docs, fact by fact.
//!
//! Facts are what [`apipod_codegen::facts`] reads: per model the create path, the fields,
//! their types, nullability, item types, enum values (as sets), defaults and the standard
//! limit keywords, and the `required` list; per status endpoint the fields under `data`
//! (ours may accept more), `data.required` and the status enum. Prose and `x-apipod-*`
//! extensions are not facts; a field or model marked `x-apipod-local` is ours alone and
//! is not reported when the docs lack it.

use std::fmt::{self, Write as _};
use std::path::Path;

use apipod_codegen::docs::{self, DocsSet, Skipped};
use apipod_codegen::facts::{
    self, Bound, FieldFacts, ModelFacts, STATUS_ENDPOINTS, StatusFacts, same_values,
};
use serde::Serialize;
use serde_json::{Value, json};

/// Input that cannot be read: a missing or malformed docs folder, an unreadable page, or
/// an unreadable spec. `cargo xtask drift` exits 2 on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError(pub String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

impl From<docs::DocsError> for InputError {
    fn from(e: docs::DocsError) -> Self {
        InputError(e.to_string())
    }
}

/// What kind of fact a [`Difference`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Keyword {
    /// The model's create path (and so its kind).
    Path,
    /// The `required` list.
    Required,
    /// A field the docs have and we lack.
    MissingField,
    /// A field we have and the docs lack.
    ExtraField,
    /// `type`.
    Type,
    /// Nullability.
    Nullable,
    /// `items.type`.
    ItemsType,
    /// `enum` (compared as a set).
    Enum,
    /// `default`.
    Default,
    /// `minLength`.
    MinLength,
    /// `maxLength`.
    MaxLength,
    /// `minItems`.
    MinItems,
    /// `maxItems`.
    MaxItems,
    /// `minimum` (with `exclusiveMinimum`).
    Minimum,
    /// `maximum` (with `exclusiveMaximum`).
    Maximum,
}

impl Keyword {
    /// The name used in fact paths (`prompt.maxLength`).
    pub fn name(self) -> &'static str {
        match self {
            Keyword::Path => "path",
            Keyword::Required => "required",
            Keyword::MissingField | Keyword::ExtraField => "",
            Keyword::Type => "type",
            Keyword::Nullable => "nullable",
            Keyword::ItemsType => "items.type",
            Keyword::Enum => "enum",
            Keyword::Default => "default",
            Keyword::MinLength => "minLength",
            Keyword::MaxLength => "maxLength",
            Keyword::MinItems => "minItems",
            Keyword::MaxItems => "maxItems",
            Keyword::Minimum => "minimum",
            Keyword::Maximum => "maximum",
        }
    }
}

/// One fact that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// Fact path: `prompt.maxLength`, `aspect_ratio.enum`, `required`, `data.result`.
    pub fact: String,
    /// The field the fact belongs to, if any.
    pub field: Option<String>,
    /// The kind of fact.
    pub keyword: Keyword,
    /// Our value (`null` when we state none).
    pub ours: Value,
    /// The docs' value (`null` when they state none).
    pub docs: Value,
    /// Human-readable summary, e.g. `ours 4000, docs 3000`.
    pub summary: String,
}

/// Differences of one model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// Model id.
    pub id: String,
    /// Our component schema.
    pub schema: Option<String>,
    /// The docs page.
    pub file: String,
    /// What differs.
    pub differences: Vec<Difference>,
}

/// Differences of one status endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusReport {
    /// `/v1/images/status/{task_id}` or `/v1/videos/status/{task_id}`.
    pub endpoint: String,
    /// The docs page.
    pub file: String,
    /// What differs.
    pub differences: Vec<Difference>,
}

/// A model of ours that the docs lack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingModel {
    /// Model id.
    pub id: String,
    /// Our component schema.
    pub schema: Option<String>,
}

/// An upstream generation model that our spec does not cover (drift: the spec covers the
/// whole catalog).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UncoveredModel {
    /// Model id.
    pub id: String,
    /// `image` or `video`.
    pub kind: String,
    /// The docs' title.
    pub title: Option<String>,
    /// The docs page.
    pub file: String,
}

/// A skipped docs page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedPage {
    /// The page file name.
    pub file: String,
    /// Why it was skipped.
    pub reason: String,
}

impl From<&Skipped> for SkippedPage {
    fn from(s: &Skipped) -> Self {
        SkippedPage {
            file: s.file.clone(),
            reason: s.reason.clone(),
        }
    }
}

/// The result of a drift check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The docs folder, as given.
    pub docs: String,
    /// Docs pages read (translations excluded).
    pub pages: usize,
    /// Our models compared with a docs page.
    pub models_compared: usize,
    /// Status endpoints compared with a docs page.
    pub status_compared: usize,
    /// Models whose facts differ (drift).
    pub models: Vec<ModelReport>,
    /// Status endpoints whose facts differ (drift).
    pub status: Vec<StatusReport>,
    /// Our models the docs lack (drift).
    pub missing_upstream: Vec<MissingModel>,
    /// Status endpoints the docs lack (drift).
    pub missing_status: Vec<String>,
    /// Upstream generation models that we do not cover (drift).
    pub uncovered: Vec<UncoveredModel>,
    /// Upstream pages read with a correction (information): see `docs-choice:` comments.
    pub corrections: Vec<SkippedPage>,
    /// Docs pages that were skipped (information).
    pub skipped: Vec<SkippedPage>,
    /// True when anything above counts as drift.
    pub drift: bool,
}

impl Report {
    /// Number of differing facts, models missing upstream included.
    pub fn difference_count(&self) -> usize {
        self.models
            .iter()
            .map(|m| m.differences.len())
            .chain(self.status.iter().map(|s| s.differences.len()))
            .sum::<usize>()
            + self.missing_upstream.len()
            + self.missing_status.len()
            + self.uncovered.len()
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as readable text, grouped by model.
    pub fn to_text(&self, spec_label: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Drift check: {spec_label} against {} ({} pages read; {} models and {} status endpoints compared)",
            self.docs, self.pages, self.models_compared, self.status_compared
        );
        for m in &self.models {
            let _ = writeln!(
                out,
                "\n{} ({}, docs page {})",
                m.id,
                m.schema.as_deref().unwrap_or("inline schema"),
                m.file
            );
            for d in &m.differences {
                let _ = writeln!(out, "  {}.{}: {}", m.id, d.fact, d.summary);
            }
        }
        for s in &self.status {
            let _ = writeln!(out, "\nGET {} (docs page {})", s.endpoint, s.file);
            for d in &s.differences {
                let _ = writeln!(out, "  GET {} {}: {}", s.endpoint, d.fact, d.summary);
            }
        }
        if !self.missing_upstream.is_empty() || !self.missing_status.is_empty() {
            let _ = writeln!(out, "\nIn our spec but not in the docs (drift):");
            for m in &self.missing_upstream {
                let _ = writeln!(
                    out,
                    "  model {} ({})",
                    m.id,
                    m.schema.as_deref().unwrap_or("inline schema")
                );
            }
            for e in &self.missing_status {
                let _ = writeln!(out, "  GET {e}");
            }
        }
        if !self.uncovered.is_empty() {
            let _ = writeln!(
                out,
                "\nUpstream models that we do not cover (drift; add them with\n`cargo xtask sync --docs DIR --add-model ID`, or `--add-all`):"
            );
            let width = self.uncovered.iter().map(|u| u.id.len()).max().unwrap_or(0);
            for u in &self.uncovered {
                let _ = writeln!(
                    out,
                    "  {:width$}  {}  {}  ({})",
                    u.id,
                    u.kind,
                    u.title.as_deref().unwrap_or("(untitled)"),
                    u.file
                );
            }
        }
        if !self.corrections.is_empty() {
            let _ = writeln!(out, "\nDocs pages read with a correction (information):");
            for s in &self.corrections {
                let _ = writeln!(out, "  {}: {}", s.file, s.reason);
            }
        }
        if !self.skipped.is_empty() {
            let _ = writeln!(out, "\nSkipped docs pages (information):");
            for s in &self.skipped {
                let _ = writeln!(out, "  {}: {}", s.file, s.reason);
            }
        }
        out.push('\n');
        if self.drift {
            let n = self.difference_count();
            let _ = writeln!(
                out,
                "Drift: {n} difference{} ({} model{} and {} status endpoint{} differ, {} missing upstream, {} upstream model{} not covered). Run `cargo xtask sync --docs {}` to apply the docs' facts.",
                plural(n),
                self.models.len(),
                plural(self.models.len()),
                self.status.len(),
                plural(self.status.len()),
                self.missing_upstream.len() + self.missing_status.len(),
                self.uncovered.len(),
                plural(self.uncovered.len()),
                self.docs
            );
        } else {
            let _ = writeln!(
                out,
                "No drift: {} models and {} status endpoints match the docs; 0 upstream models uncovered.",
                self.models_compared, self.status_compared
            );
        }
        out
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

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

/// Our spec's facts: every model and both status endpoints.
#[derive(Debug, Clone)]
pub struct OurFacts {
    /// Models in spec order.
    pub models: Vec<ModelFacts>,
    /// Status endpoints in [`STATUS_ENDPOINTS`] order.
    pub status: Vec<StatusFacts>,
}

/// Reads our spec's facts.
pub fn our_facts(spec_text: &str) -> Result<OurFacts, InputError> {
    let doc =
        apipod_codegen::load_spec(spec_text).map_err(|e| InputError(format!("our spec: {e}")))?;
    let mut facts = our_facts_of(&doc)?;
    facts::order_fields(spec_text, &mut facts.models);
    Ok(facts)
}

/// Reads our spec's facts from a parsed document.
pub fn our_facts_of(doc: &Value) -> Result<OurFacts, InputError> {
    let models = facts::models(doc).map_err(|e| InputError(format!("our spec: {e}")))?;
    let mut status = Vec::new();
    for (endpoint, _) in STATUS_ENDPOINTS {
        let f = facts::status_facts(doc, endpoint)
            .map_err(|e| InputError(format!("our spec: {e}")))?
            .ok_or_else(|| InputError(format!("our spec has no GET {endpoint}")))?;
        status.push(f);
    }
    Ok(OurFacts { models, status })
}

/// Reads a docs folder. Every generation model is in scope (the spec covers the whole
/// catalog), so a page that may define one and cannot be read is an error; pages that
/// concern no generation model or status endpoint are skipped and listed.
pub fn read_docs(docs_dir: &Path) -> Result<DocsSet, InputError> {
    Ok(docs::read_dir(docs_dir, &|_| true)?)
}

/// Compares our facts with a docs set.
pub fn compare(ours: &OurFacts, docs: &DocsSet, docs_label: &str) -> Report {
    let mut report = Report {
        docs: docs_label.to_string(),
        pages: docs.pages,
        models_compared: 0,
        status_compared: 0,
        models: Vec::new(),
        status: Vec::new(),
        missing_upstream: Vec::new(),
        missing_status: Vec::new(),
        uncovered: Vec::new(),
        skipped: docs.skipped.iter().map(SkippedPage::from).collect(),
        corrections: docs.corrections.iter().map(SkippedPage::from).collect(),
        drift: false,
    };
    for m in &ours.models {
        match docs.model(&m.id) {
            Some(d) => {
                report.models_compared += 1;
                let differences = compare_model(m, &d.facts);
                if !differences.is_empty() {
                    report.models.push(ModelReport {
                        id: m.id.clone(),
                        schema: m.schema_name.clone(),
                        file: d.file.clone(),
                        differences,
                    });
                }
            }
            None if m.local => {}
            None => report.missing_upstream.push(MissingModel {
                id: m.id.clone(),
                schema: m.schema_name.clone(),
            }),
        }
    }
    let pages: Vec<&StatusFacts> = docs.status.iter().map(|s| &s.facts).collect();
    let shared = shared_status(&pages);
    for o in &ours.status {
        match docs.status(&o.endpoint) {
            Some(page) => {
                report.status_compared += 1;
                let differences = compare_status(o, &page.facts, &shared);
                if !differences.is_empty() {
                    report.status.push(StatusReport {
                        endpoint: o.endpoint.clone(),
                        file: page.file.clone(),
                        differences,
                    });
                }
            }
            None => report.missing_status.push(o.endpoint.clone()),
        }
    }
    for d in &docs.models {
        if !ours.models.iter().any(|m| m.id == d.facts.id) {
            report.uncovered.push(UncoveredModel {
                id: d.facts.id.clone(),
                kind: d.facts.kind.as_str().to_string(),
                title: d.facts.title.clone(),
                file: d.file.clone(),
            });
        }
    }
    report.drift = !report.models.is_empty()
        || !report.status.is_empty()
        || !report.missing_upstream.is_empty()
        || !report.missing_status.is_empty()
        || !report.uncovered.is_empty();
    report
}

/// Runs a drift check of `spec_text` against the docs folder `docs_dir`.
pub fn run(spec_text: &str, docs_dir: &Path) -> Result<Report, InputError> {
    let ours = our_facts(spec_text)?;
    let docs = read_docs(docs_dir)?;
    Ok(compare(&ours, &docs, &docs_dir.display().to_string()))
}
