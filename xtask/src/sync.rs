//! `cargo xtask sync`: applies the upstream docs' facts to our spec.
//!
//! Every difference [`crate::drift`] reports becomes one small text edit made with
//! [`crate::yaml::YamlText`], so descriptions, comments, ordering and formatting stay
//! wherever the facts did not change. Values are written in the OpenAPI 3.0 forms our spec
//! uses (`const` becomes a one-value `enum`, `type: [T, "null"]` becomes `type: T` plus
//! `nullable: true`, a numeric `exclusiveMinimum: n` becomes `minimum: n` plus
//! `exclusiveMinimum: true`, `examples` becomes `example`), and strings are quoted wherever
//! YAML could read them as anything else.
//!
//! After each edit the text is parsed again and compared with the docs: the fact the edit
//! meant to establish must now hold, and no fact that matched before may differ now.
//! Anything else stops the sync with an error naming the edit. At the end the whole spec
//! must be free of drift against the same docs.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use apipod_codegen::docs::DocsSet;
use apipod_codegen::facts::{self, Bound, FieldFacts, ModelFacts, normalise};
use serde_json::Value;

use crate::drift::{self, InputError, Keyword, OurFacts};
use crate::yaml::{YamlText, format_scalar};

/// Key order inside a property schema; new keys are placed by it.
const PROPERTY_ORDER: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "format",
    "minLength",
    "maxLength",
    "description",
    "x-apipod-local",
    "x-apipod-min-items",
    "x-apipod-max-items",
    "minItems",
    "maxItems",
    "items",
    "enum",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "example",
];

/// Key order inside a model schema.
const SCHEMA_ORDER: &[&str] = &[
    "type",
    "title",
    "description",
    "x-apipod-local",
    "x-apipod-kind",
    "x-apipod-family",
    "x-apipod-polling",
    "x-apipod-require-one-of",
    "required",
    "properties",
    "example",
];

/// What to do besides applying the facts of the models we have.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Upstream models to add (any model, of any family).
    pub add_models: Vec<String>,
    /// Add every upstream model we do not cover yet.
    pub add_all: bool,
}

/// The result of a sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The new spec text.
    pub text: String,
    /// One line per applied change.
    pub changes: Vec<String>,
    /// Things a person should review (comments above changed values, placeholders).
    pub notes: Vec<String>,
    /// What the changes mean for users of the `apipod` crate, one verdict per change.
    pub impact: Vec<crate::semver::Verdict>,
}

/// Why a sync did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncError {
    /// The spec or the docs cannot be read.
    Input(InputError),
    /// A change could not be applied or verified.
    Failed(String),
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Input(e) => write!(f, "{e}"),
            SyncError::Failed(e) => write!(f, "sync failed: {e}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<InputError> for SyncError {
    fn from(e: InputError) -> Self {
        SyncError::Input(e)
    }
}

fn failed(msg: impl Into<String>) -> SyncError {
    SyncError::Failed(msg.into())
}

/// Reads the docs folder and applies it to `spec_text`.
pub fn run(spec_text: &str, docs_dir: &Path, options: &Options) -> Result<Outcome, SyncError> {
    let docs = drift::read_docs(docs_dir)?;
    apply(spec_text, &docs, options)
}

/// The component schema name for a new model: the id in PascalCase without dots
/// (`seedream-6.0` becomes `Seedream60Request`), as our names are.
pub fn schema_name_for(id: &str) -> String {
    let mut out = String::new();
    for part in id.split(['-', '_', ' ']) {
        let part: String = part.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    out.push_str("Request");
    out
}

/// Applies the docs' facts to `spec_text`.
pub fn apply(spec_text: &str, docs: &DocsSet, options: &Options) -> Result<Outcome, SyncError> {
    let current = drift::our_facts(spec_text)?;
    let mut s = Syncer {
        y: YamlText::new(spec_text),
        docs,
        changes: Vec::new(),
        notes: Vec::new(),
        keys: BTreeSet::new(),
        current_at_start: current.clone(),
        current,
    };
    s.keys = s.drift_keys()?.0;
    let ours = s.ours()?;
    for m in &ours.models {
        if m.schema_name.is_none() {
            return Err(failed(format!(
                "model {} has no component schema; sync edits component schemas only",
                m.id
            )));
        }
    }
    for m in &ours.models {
        if docs.model(&m.id).is_some() {
            s.sync_model(&m.id)?;
        }
    }
    for m in &ours.models {
        if docs.model(&m.id).is_none() && !m.local {
            s.remove_model(m)?;
        }
    }
    s.sync_status()?;
    let mut to_add = options.add_models.clone();
    if options.add_all {
        for d in &docs.models {
            if !ours.models.iter().any(|m| m.id == d.facts.id) && !to_add.contains(&d.facts.id) {
                to_add.push(d.facts.id.clone());
            }
        }
    }
    for id in &to_add {
        s.add_model(id)?;
    }
    let text = s.y.text();
    let ours = drift::our_facts(&text).map_err(|e| failed(e.0))?;
    let impact = crate::semver::verdicts(&s.current_at_start, &ours);
    let mut report = drift::compare(&ours, docs, "docs");
    // Models the docs have and we do not are added only when asked for; otherwise they
    // stay listed by drift.
    let uncovered = std::mem::take(&mut report.uncovered);
    report.drift = !report.models.is_empty()
        || !report.status.is_empty()
        || !report.missing_upstream.is_empty()
        || !report.missing_status.is_empty();
    for u in &uncovered {
        s.notes.push(format!(
            "upstream model {} is not in the spec; add it with --add-model {} (or --add-all)",
            u.id, u.id
        ));
    }
    if report.drift {
        return Err(failed(format!(
            "the synced spec still differs from the docs:\n{}",
            report.to_text("the synced spec")
        )));
    }
    Ok(Outcome {
        text,
        changes: s.changes,
        notes: s.notes,
        impact,
    })
}

type Key = (String, String);

struct Syncer<'a> {
    y: YamlText,
    docs: &'a DocsSet,
    changes: Vec<String>,
    notes: Vec<String>,
    /// Differences of the current text.
    keys: BTreeSet<Key>,
    /// Facts of the current text.
    current: OurFacts,
    /// Facts of the text before any edit (for the semver verdicts).
    current_at_start: OurFacts,
}

fn schema_path<'a>(schema: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut p = vec!["components", "schemas", schema];
    p.extend_from_slice(rest);
    p
}

fn placeholder(name: &str) -> String {
    format!("`{name}` (added by xtask sync; review the description)")
}

/// The family of model `id`, as the docs file it comes from names it.
fn family_of(docs: &DocsSet, id: &str) -> Option<String> {
    docs.model(id).map(|d| d.family.clone())
}

fn bound_lines(key: &str, exclusive_key: &str, b: &Option<Bound>) -> Vec<String> {
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

fn check_type(ty: &str) -> Result<(), SyncError> {
    if ty.contains('|') {
        return Err(failed(format!(
            "type {ty} has several alternatives; OpenAPI 3.0 needs oneOf there, edit it by hand"
        )));
    }
    Ok(())
}

/// How `example` breaks the facts of model `m` (empty when it conforms).
fn example_problems(m: &ModelFacts, example: &Value) -> Vec<String> {
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
fn example_block(v: &Value) -> Vec<String> {
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
fn schema_body(schema: &Value, description: Option<&str>) -> Result<Vec<String>, SyncError> {
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
fn field_block(name: &str, schema: &Value, description: &str) -> Result<Vec<String>, SyncError> {
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

impl<'a> Syncer<'a> {
    fn doc(&self) -> Result<Value, SyncError> {
        apipod_codegen::load_spec(&self.y.text()).map_err(|e| failed(e.to_string()))
    }

    fn ours(&self) -> Result<OurFacts, SyncError> {
        Ok(self.current.clone())
    }

    fn our_model(&self, id: &str) -> Result<ModelFacts, SyncError> {
        self.ours()?
            .models
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| failed(format!("model {id} vanished from the spec")))
    }

    /// Reads the current text: its facts and the differences from the docs.
    fn drift_keys(&self) -> Result<(BTreeSet<Key>, OurFacts), SyncError> {
        let ours = drift::our_facts(&self.y.text()).map_err(|e| failed(e.0))?;
        let report = drift::compare(&ours, self.docs, "docs");
        let mut keys = BTreeSet::new();
        for m in &report.models {
            for d in &m.differences {
                keys.insert((m.id.clone(), d.fact.clone()));
            }
        }
        for s in &report.status {
            for d in &s.differences {
                keys.insert((s.endpoint.clone(), d.fact.clone()));
            }
        }
        for m in &report.missing_upstream {
            keys.insert((m.id.clone(), "model".into()));
        }
        for e in &report.missing_status {
            keys.insert((e.clone(), "page".into()));
        }
        Ok((keys, ours))
    }

    /// Applies one edit and verifies it: the text must still read, `target` (subject, fact)
    /// must no longer differ, nothing that matched the docs before may differ now, and no
    /// other model's facts may change.
    fn edit<F>(&mut self, what: String, target: Option<Key>, f: F) -> Result<(), SyncError>
    where
        F: FnOnce(&mut YamlText) -> Result<(), SyncError>,
    {
        let backup = self.y.clone();
        f(&mut self.y)?;
        let (after, facts) = match self.drift_keys() {
            Ok(k) => k,
            Err(e) => {
                self.y = backup;
                return Err(failed(format!(
                    "{what}: the edited spec does not read: {e}"
                )));
            }
        };
        if let Some(t) = &target
            && after.contains(t)
        {
            self.y = backup;
            return Err(failed(format!(
                "{what}: after the edit, {} {} still differs",
                t.0, t.1
            )));
        }
        let mut new: Vec<String> = after
            .difference(&self.keys)
            .map(|(s, f)| format!("{s} {f}"))
            .collect();
        // Other models keep every fact; a model edit leaves the status schemas alone.
        let subject = target.as_ref().map(|t| t.0.as_str());
        for before in &self.current.models {
            if Some(before.id.as_str()) == subject {
                continue;
            }
            if let Some(now) = facts.models.iter().find(|m| m.id == before.id)
                && !now.same_facts(before)
            {
                new.push(format!("{} (a model the edit was not about)", before.id));
            }
        }
        if subject.is_some_and(|s| !s.starts_with('/'))
            && self
                .current
                .status
                .iter()
                .zip(&facts.status)
                .any(|(a, b)| !a.same_facts(b))
        {
            new.push("the status schemas".into());
        }
        if !new.is_empty() {
            self.y = backup;
            return Err(failed(format!(
                "{what}: the edit changed other facts: {}",
                new.join(", ")
            )));
        }
        self.keys = after;
        self.current = facts;
        self.changes.push(what);
        Ok(())
    }

    fn note_comment(&mut self, path: &[&str], key: &str) {
        let mut full = path.to_vec();
        full.push(key);
        if let Some(node) = self.y.find(&full)
            && self.y.has_attached_comment(&node)
        {
            self.notes.push(format!(
                "review the comment above {} (line {}): the value below it changed",
                full.join("."),
                node.line + 1
            ));
        }
    }

    /// Sets, adds or (for `None`) removes `key` under the node at `parent`.
    fn set_key(
        y: &mut YamlText,
        parent: &[&str],
        key: &str,
        value: Option<String>,
        order: &[&str],
    ) -> Result<(), SyncError> {
        let mut path = parent.to_vec();
        path.push(key);
        match (y.find(&path), value) {
            (Some(node), Some(v)) => y.set_value(&node, &v),
            (Some(node), None) => y.remove(&node),
            (None, Some(v)) => {
                let p = y
                    .find(parent)
                    .ok_or_else(|| failed(format!("{} not found", parent.join("."))))?;
                y.insert_child(&p, key, &[format!("{key}: {v}")], order);
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// Makes the sequence at `parent.key` hold exactly `target` (compared after
    /// normalising for `ty`), keeping the order of values that stay; values for which
    /// `keep` holds are never removed. An empty result removes the key.
    fn sync_list(
        y: &mut YamlText,
        parent: &[&str],
        key: &str,
        target: &[Value],
        ty: Option<&str>,
        keep: &dyn Fn(&Value) -> bool,
        order: &[&str],
    ) -> Result<(), SyncError> {
        let mut path = parent.to_vec();
        path.push(key);
        let Some(node) = y.find(&path) else {
            if target.is_empty() {
                return Ok(());
            }
            let p = y
                .find(parent)
                .ok_or_else(|| failed(format!("{} not found", parent.join("."))))?;
            let mut body = vec![format!("{key}:")];
            body.extend(target.iter().map(|v| format!("  - {}", format_scalar(v))));
            y.insert_child(&p, key, &body, order);
            return Ok(());
        };
        // Remove what the target lacks, last first so line numbers stay valid.
        let items = y.items(&node);
        if items.is_empty() && !y.value_text(&node).is_empty() {
            return Err(failed(format!(
                "{} is a flow sequence; sync edits block sequences only",
                path.join(".")
            )));
        }
        for item in items.iter().rev() {
            let v = normalise(&item.value, ty);
            if !target.contains(&v) && !keep(&item.value) {
                y.remove_item(item);
            }
        }
        // Insert what is missing next to its neighbours in the target order.
        for (i, v) in target.iter().enumerate() {
            let node = y
                .find(&path)
                .ok_or_else(|| failed(format!("{} vanished", path.join("."))))?;
            let items = y.items(&node);
            let present = |x: &Value| items.iter().find(|it| normalise(&it.value, ty) == *x);
            if present(v).is_some() {
                continue;
            }
            let after = target[..i].iter().rev().find_map(present).map(|it| it.end);
            let before = target[i + 1..].iter().find_map(present).map(|it| it.line);
            y.insert_item(&node, after.or(before), &format_scalar(v));
        }
        let node = y
            .find(&path)
            .ok_or_else(|| failed(format!("{} vanished", path.join("."))))?;
        if y.items(&node).is_empty() {
            y.remove(&node);
        }
        Ok(())
    }

    fn sync_model(&mut self, id: &str) -> Result<(), SyncError> {
        let docs = self
            .docs
            .model(id)
            .ok_or_else(|| failed(format!("docs have no model {id}")))?
            .facts
            .clone();
        let ours = self.our_model(id)?;
        let schema = ours.schema_name.clone().unwrap_or_default();

        if ours.path != docs.path {
            self.move_model(&ours, &schema, &docs)?;
        }

        // Fields the docs no longer have.
        for (name, f) in &ours.fields {
            if f.local || docs.field(name).is_some() {
                continue;
            }
            self.remove_field(id, &schema, name)?;
        }

        // Fields the docs added, next to their docs neighbours.
        let docs_names: Vec<&String> = docs.fields.iter().map(|(n, _)| n).collect();
        for (i, (name, f)) in docs.fields.iter().enumerate() {
            let ours = self.our_model(id)?;
            if ours.field(name).is_some() {
                continue;
            }
            let after = docs_names[..i]
                .iter()
                .rev()
                .find(|n| ours.field(n).is_some())
                .map(|n| n.to_string());
            let before = docs_names[i + 1..]
                .iter()
                .find(|n| ours.field(n).is_some())
                .map(|n| n.to_string());
            let description = self.describe(id, name)?;
            let block = field_block(name, &f.schema, &description)
                .map_err(|e| failed(format!("{id}.{name}: {e}")))?;
            self.notes.push(if description.contains("added by xtask sync") {
                format!("{schema}.{name}: new field with a placeholder description")
            } else {
                format!(
                    "{schema}.{name}: new field; its description was copied from the same field of a sibling model, check that it fits"
                )
            });
            let schema_c = schema.clone();
            self.edit(
                format!("{id}: added field {name}"),
                Some((id.to_string(), name.clone())),
                |y| {
                    let props = y
                        .find(&schema_path(&schema_c, &["properties"]))
                        .ok_or_else(|| failed(format!("{schema_c}.properties not found")))?;
                    let at = match (&after, &before) {
                        (Some(a), _) => y.child(Some(&props), a).map(|n| n.end),
                        (None, Some(b)) => y.child(Some(&props), b).map(|n| y.attached_start(&n)),
                        (None, None) => None,
                    }
                    .unwrap_or(props.end);
                    let indent = props.indent + 2;
                    let pad = " ".repeat(indent);
                    y.insert_lines(at, block.iter().map(|l| format!("{pad}{l}")).collect());
                    Ok(())
                },
            )?;
        }

        // Facts of the fields both have.
        for (name, d) in &docs.fields {
            let Some(o) = self.our_model(id)?.field(name).cloned() else {
                continue;
            };
            if o.local {
                self.notes.push(format!(
                    "{schema}.{name} is marked x-apipod-local, but the docs now list it; drop the marker"
                ));
            }
            self.sync_field(id, &schema, name, &o, d)?;
        }

        // The required list.
        let ours = self.our_model(id)?;
        if drift::compare_model(&ours, &docs)
            .iter()
            .any(|d| d.keyword == Keyword::Required)
        {
            let local: Vec<Value> = ours
                .required
                .iter()
                .filter(|r| ours.field(r).is_some_and(|f| f.local))
                .map(|r| Value::String(r.clone()))
                .collect();
            let target: Vec<Value> = docs
                .required
                .iter()
                .map(|r| Value::String(r.clone()))
                .collect();
            let parent = schema_path(&schema, &[]);
            self.edit(
                format!("{id}: required is now [{}]", docs.required.join(", ")),
                Some((id.to_string(), "required".into())),
                |y| {
                    Self::sync_list(
                        y,
                        &parent,
                        "required",
                        &target,
                        Some("string"),
                        &|v| local.contains(v),
                        SCHEMA_ORDER,
                    )
                },
            )?;
            self.note_comment(&parent, "required");
        }
        Ok(())
    }

    /// A description for a new field: ours for the same field in the same family when
    /// every such model says the same, a placeholder otherwise.
    fn describe(&self, id: &str, name: &str) -> Result<String, SyncError> {
        let family = family_of(self.docs, id);
        let ours = self.ours()?;
        let descriptions: BTreeSet<String> = ours
            .models
            .iter()
            .filter(|m| m.id != id && family.is_some() && family_of(self.docs, &m.id) == family)
            .filter_map(|m| m.field(name).and_then(|f| f.description.clone()))
            .collect();
        Ok(match descriptions.len() {
            1 => descriptions.into_iter().next().unwrap_or_default(),
            _ => placeholder(name),
        })
    }

    fn remove_field(&mut self, id: &str, schema: &str, name: &str) -> Result<(), SyncError> {
        let schema_s = schema.to_string();
        let name_s = name.to_string();
        let mut notes = Vec::new();
        let schema_y = self
            .y
            .find(&schema_path(schema, &["x-apipod-require-one-of"]));
        if let Some(node) = schema_y
            && self
                .y
                .items(&node)
                .iter()
                .any(|i| i.value == Value::String(name.into()))
        {
            notes.push(format!(
                "{schema}.x-apipod-require-one-of listed the removed field {name}; review the rule"
            ));
        }
        self.edit(
            format!("{id}: removed field {name} (the docs no longer list it)"),
            Some((id.to_string(), name.to_string())),
            |y| {
                let is_name = |v: &Value| v.as_str() == Some(name_s.as_str());
                for list in ["required", "x-apipod-require-one-of"] {
                    if let Some(node) = y.find(&schema_path(&schema_s, &[list])) {
                        let items = y.items(&node);
                        if let Some(item) = items.iter().find(|i| is_name(&i.value)) {
                            if items.len() == 1 {
                                y.remove(&node);
                            } else {
                                y.remove_item(item);
                            }
                        }
                    }
                }
                if let Some(node) = y.find(&schema_path(&schema_s, &["example", &name_s])) {
                    y.remove(&node);
                }
                let node = y
                    .find(&schema_path(&schema_s, &["properties", &name_s]))
                    .ok_or_else(|| failed(format!("{schema_s}.properties.{name_s} not found")))?;
                y.remove(&node);
                Ok(())
            },
        )?;
        self.notes.extend(notes);
        Ok(())
    }

    fn sync_field(
        &mut self,
        id: &str,
        schema: &str,
        name: &str,
        o: &FieldFacts,
        d: &FieldFacts,
    ) -> Result<(), SyncError> {
        let prop = schema_path(schema, &["properties", name]);
        let diffs = drift::compare_field(name, o, d);
        for diff in diffs {
            let key = Some((id.to_string(), diff.fact.clone()));
            let what = format!("{id}: {} {}", diff.fact, diff.summary);
            let prop_c = prop.clone();
            match diff.keyword {
                Keyword::Type => {
                    let ty = d.ty.clone().unwrap_or_default();
                    check_type(&ty)?;
                    let item = d.item_ty.clone();
                    self.edit(what, key, |y| {
                        Self::set_key(y, &prop_c, "type", Some(ty.clone()), PROPERTY_ORDER)?;
                        let mut items_path = prop_c.clone();
                        items_path.push("items");
                        let has_items = y.find(&items_path).is_some();
                        if ty == "array" && !has_items {
                            let item = item.clone().ok_or_else(|| {
                                failed(format!("{name}: array without an item type"))
                            })?;
                            check_type(&item)?;
                            let p = y.find(&prop_c).ok_or_else(|| failed("property vanished"))?;
                            y.insert_child(
                                &p,
                                "items",
                                &["items:".into(), format!("  type: {item}")],
                                PROPERTY_ORDER,
                            );
                        } else if ty != "array" && has_items {
                            Self::set_key(y, &prop_c, "items", None, PROPERTY_ORDER)?;
                        }
                        Ok(())
                    })?;
                    self.note_comment(&prop, "type");
                }
                Keyword::Nullable => {
                    let v = d.nullable.then(|| "true".to_string());
                    self.edit(what, key, |y| {
                        Self::set_key(y, &prop_c, "nullable", v, PROPERTY_ORDER)
                    })?;
                }
                Keyword::ItemsType => {
                    let item = d.item_ty.clone().unwrap_or_default();
                    check_type(&item)?;
                    self.edit(what, key, |y| {
                        let mut items_path = prop_c.clone();
                        items_path.push("items");
                        if y.find(&items_path).is_none() {
                            let p = y.find(&prop_c).ok_or_else(|| failed("property vanished"))?;
                            y.insert_child(
                                &p,
                                "items",
                                &["items:".into(), format!("  type: {item}")],
                                PROPERTY_ORDER,
                            );
                            Ok(())
                        } else {
                            Self::set_key(y, &items_path, "type", Some(item.clone()), &["type"])
                        }
                    })?;
                }
                Keyword::Enum => {
                    let target = d.enum_values.clone().unwrap_or_default();
                    let ty = d.ty.clone().or_else(|| o.ty.clone());
                    self.edit(what, key, |y| {
                        Self::sync_list(
                            y,
                            &prop_c,
                            "enum",
                            &target,
                            ty.as_deref(),
                            &|_| false,
                            PROPERTY_ORDER,
                        )
                    })?;
                    self.note_comment(&prop, "enum");
                    self.fix_example(id, schema, name, d)?;
                }
                Keyword::Default => {
                    let v = d.default.as_ref().map(format_scalar);
                    self.edit(what, key, |y| {
                        Self::set_key(y, &prop_c, "default", v, PROPERTY_ORDER)
                    })?;
                    self.note_comment(&prop, "default");
                }
                Keyword::MinLength | Keyword::MaxLength | Keyword::MinItems | Keyword::MaxItems => {
                    let (kw, v) = match diff.keyword {
                        Keyword::MinLength => ("minLength", d.min_length),
                        Keyword::MaxLength => ("maxLength", d.max_length),
                        Keyword::MinItems => ("minItems", d.min_items),
                        _ => ("maxItems", d.max_items),
                    };
                    self.edit(what, key, |y| {
                        Self::set_key(y, &prop_c, kw, v.map(|n| n.to_string()), PROPERTY_ORDER)
                    })?;
                    self.note_comment(&prop, kw);
                    if let (Some(_), "minItems" | "maxItems") = (v, kw) {
                        let ext = format!("x-apipod-{}-items", &kw[..3]);
                        let mut ext_path = prop.clone();
                        ext_path.push(&ext);
                        if self.y.find(&ext_path).is_some() {
                            self.notes.push(format!(
                                "{schema}.{name}: the docs now state {kw}; {ext} is redundant and can go"
                            ));
                        }
                    }
                }
                Keyword::Minimum | Keyword::Maximum => {
                    let (kw, excl, b) = if diff.keyword == Keyword::Minimum {
                        ("minimum", "exclusiveMinimum", d.minimum.clone())
                    } else {
                        ("maximum", "exclusiveMaximum", d.maximum.clone())
                    };
                    self.edit(what, key, |y| {
                        Self::set_key(
                            y,
                            &prop_c,
                            kw,
                            b.as_ref().map(|b| format_scalar(&b.value)),
                            PROPERTY_ORDER,
                        )?;
                        let flag = b
                            .as_ref()
                            .filter(|b| b.exclusive)
                            .map(|_| "true".to_string());
                        Self::set_key(y, &prop_c, excl, flag, PROPERTY_ORDER)
                    })?;
                    self.note_comment(&prop, kw);
                }
                Keyword::Path | Keyword::Required | Keyword::MissingField | Keyword::ExtraField => {
                }
            }
        }
        Ok(())
    }

    /// Keeps the model's example valid when an enum lost the value it used.
    fn fix_example(
        &mut self,
        id: &str,
        schema: &str,
        name: &str,
        d: &FieldFacts,
    ) -> Result<(), SyncError> {
        let Some(values) = &d.enum_values else {
            return Ok(());
        };
        let path = schema_path(schema, &["example", name]);
        let Some(node) = self.y.find(&path) else {
            return Ok(());
        };
        let current = normalise(
            &crate::yaml::parse_scalar(&self.y.value_text(&node)),
            d.ty.as_deref(),
        );
        if values.contains(&current) {
            return Ok(());
        }
        let replacement = d
            .default
            .clone()
            .filter(|v| values.contains(v))
            .or_else(|| values.first().cloned());
        if let Some(v) = replacement {
            self.y.set_value(&node, &format_scalar(&v));
            self.changes.push(format!(
                "{id}: example {name} is now {} (its value left the enum)",
                format_scalar(&v)
            ));
        }
        Ok(())
    }

    /// The union schema (e.g. `ImageGenerationRequest`) our create operation at `path`
    /// posts.
    fn union_of(&self, path: &str) -> Result<String, SyncError> {
        let doc = self.doc()?;
        doc.get("paths")
            .and_then(|p| p.get(path))
            .and_then(|i| i.get("post"))
            .and_then(|op| op.pointer("/requestBody/content/application~1json/schema/$ref"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .map(str::to_string)
            .ok_or_else(|| {
                failed(format!(
                    "our spec has no create operation at {path} whose body is a component schema"
                ))
            })
    }

    fn move_model(
        &mut self,
        ours: &ModelFacts,
        schema: &str,
        docs: &ModelFacts,
    ) -> Result<(), SyncError> {
        let from = self.union_of(&ours.path)?;
        let to = self.union_of(&docs.path)?;
        let reference = Value::String(format!("#/components/schemas/{schema}"));
        let kind = docs.kind.as_str().to_string();
        let schema_s = schema.to_string();
        self.edit(
            format!("{}: moved from {} to {}", ours.id, ours.path, docs.path),
            Some((ours.id.clone(), "path".into())),
            |y| {
                let node = y
                    .find(&schema_path(&from, &["oneOf"]))
                    .ok_or_else(|| failed(format!("{from}.oneOf not found")))?;
                let item = y
                    .items(&node)
                    .into_iter()
                    .find(|i| i.value.get("$ref") == Some(&reference))
                    .ok_or_else(|| failed(format!("{from}.oneOf does not list {schema_s}")))?;
                let line = y.lines()[item.line].trim_start().to_string();
                y.remove_item(&item);
                let node = y
                    .find(&schema_path(&to, &["oneOf"]))
                    .ok_or_else(|| failed(format!("{to}.oneOf not found")))?;
                y.insert_item(&node, None, line.trim_start_matches("- "));
                if y.find(&schema_path(&schema_s, &["x-apipod-kind"]))
                    .is_some()
                {
                    Self::set_key(
                        y,
                        &schema_path(&schema_s, &[]),
                        "x-apipod-kind",
                        Some(kind.clone()),
                        SCHEMA_ORDER,
                    )?;
                }
                Ok(())
            },
        )
    }

    fn remove_model(&mut self, m: &ModelFacts) -> Result<(), SyncError> {
        let schema = m.schema_name.clone().unwrap_or_default();
        let union = self.union_of(&m.path)?;
        let reference = Value::String(format!("#/components/schemas/{schema}"));
        self.edit(
            format!(
                "removed model {} ({schema}): the docs no longer list it",
                m.id
            ),
            Some((m.id.clone(), "model".into())),
            |y| {
                let node = y
                    .find(&schema_path(&union, &["oneOf"]))
                    .ok_or_else(|| failed(format!("{union}.oneOf not found")))?;
                if let Some(item) = y
                    .items(&node)
                    .into_iter()
                    .find(|i| i.value.get("$ref") == Some(&reference))
                {
                    y.remove_item(&item);
                }
                let node = y
                    .find(&schema_path(&schema, &[]))
                    .ok_or_else(|| failed(format!("{schema} not found")))?;
                y.remove_block(&node);
                Ok(())
            },
        )?;
        self.notes.push(format!(
            "model {} was removed; mark its schema `x-apipod-local` instead to keep it",
            m.id
        ));
        Ok(())
    }

    fn add_model(&mut self, id: &str) -> Result<(), SyncError> {
        let family = family_of(self.docs, id)
            .ok_or_else(|| failed(format!("the docs have no model {id}")))?;
        let d = self
            .docs
            .model(id)
            .ok_or_else(|| failed(format!("the docs have no model {id}")))?
            .facts
            .clone();
        let ours = self.ours()?;
        if ours.models.iter().any(|m| m.id == id) {
            self.notes
                .push(format!("--add-model {id}: we already have it"));
            return Ok(());
        }
        let name = schema_name_for(id);
        if self.y.find(&schema_path(&name, &[])).is_some() {
            return Err(failed(format!("schema {name} already exists")));
        }
        let union = self.union_of(&d.path)?;
        let anchor = ours
            .models
            .iter()
            .rev()
            .find(|m| m.kind == d.kind && family_of(self.docs, &m.id).as_ref() == Some(&family))
            .or_else(|| ours.models.iter().rev().find(|m| m.kind == d.kind))
            .or_else(|| ours.models.last())
            .and_then(|m| m.schema_name.clone())
            .ok_or_else(|| failed("our spec has no model schema to place the new one after"))?;

        let title = d.title.clone().unwrap_or_else(|| id.to_string());
        let mut block = vec![
            format!("{name}:"),
            "  type: object".into(),
            format!("  title: {}", format_scalar(&Value::String(title.clone()))),
            format!(
                "  description: {}",
                format_scalar(&Value::String(format!(
                    "{title} (added by xtask sync; review the description)"
                )))
            ),
            format!("  x-apipod-kind: {}", d.kind.as_str()),
            format!(
                "  x-apipod-family: {}",
                format_scalar(&Value::String(family.clone()))
            ),
        ];
        if !d.required.is_empty() {
            block.push("  required:".into());
            for r in &d.required {
                block.push(format!(
                    "    - {}",
                    format_scalar(&Value::String(r.clone()))
                ));
            }
        }
        block.push("  properties:".into());
        let mut placeholders = Vec::new();
        let mut copied = Vec::new();
        for (field, f) in &d.fields {
            let description = self.describe(id, field)?;
            if description.contains("added by xtask sync") {
                placeholders.push(field.clone());
            } else {
                copied.push(field.clone());
            }
            let lines = field_block(field, &f.schema, &description)
                .map_err(|e| failed(format!("{id}.{field}: {e}")))?;
            for l in lines {
                block.push(format!("    {l}"));
            }
        }
        let reference = format!("#/components/schemas/{anchor}");
        let new_ref = format!(
            "$ref: {}",
            serde_json::to_string(&format!("#/components/schemas/{name}")).unwrap_or_default()
        );
        self.edit(
            format!("added model {id} as {name} ({} model)", d.kind.as_str()),
            None,
            |y| {
                let node = y
                    .find(&schema_path(&anchor, &[]))
                    .ok_or_else(|| failed(format!("{anchor} not found")))?;
                let pad = " ".repeat(node.indent);
                y.insert_lines(
                    node.end,
                    block.iter().map(|l| format!("{pad}{l}")).collect(),
                );
                let union_node = y
                    .find(&schema_path(&union, &["oneOf"]))
                    .ok_or_else(|| failed(format!("{union}.oneOf not found")))?;
                let after = y
                    .items(&union_node)
                    .into_iter()
                    .find(|i| {
                        i.value.get("$ref").and_then(Value::as_str) == Some(reference.as_str())
                    })
                    .map(|i| i.end);
                y.insert_item(&union_node, after, &new_ref);
                Ok(())
            },
        )?;
        let example = self.docs.model(id).and_then(|m| m.example.clone());
        let problems = example
            .as_ref()
            .map(|e| example_problems(&d, e))
            .unwrap_or_default();
        if !problems.is_empty() {
            self.notes.push(format!(
                "{name}: the docs example breaks the page's own schema ({}); it was not copied, write one",
                problems.join("; ")
            ));
        }
        if let Some(example) = example.filter(|_| problems.is_empty()) {
            let lines = example_block(&example);
            self.edit(format!("{id}: example from the docs page"), None, |y| {
                let node = y
                    .find(&schema_path(&name, &[]))
                    .ok_or_else(|| failed(format!("{name} not found")))?;
                y.insert_child(&node, "example", &lines, SCHEMA_ORDER);
                Ok(())
            })?;
        } else if problems.is_empty() {
            self.notes
                .push(format!("{name}: the docs page has no example; write one"));
        }
        self.ensure_family(&family, d.kind)?;
        let added = self.our_model(id)?;
        let remaining = drift::compare_model(&added, &d);
        if !remaining.is_empty() {
            return Err(failed(format!(
                "added model {id}, but it differs from the docs: {}",
                remaining
                    .iter()
                    .map(|r| format!("{} ({})", r.fact, r.summary))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        self.notes.push(format!(
            "{name}: new model; review its description{}{}",
            if placeholders.is_empty() {
                String::new()
            } else {
                format!(
                    ", the placeholder descriptions of {}",
                    placeholders.join(", ")
                )
            },
            if copied.is_empty() {
                String::new()
            } else {
                format!(
                    ", the descriptions of {} (copied from sibling models)",
                    copied.join(", ")
                )
            }
        ));
        Ok(())
    }

    /// Adds a placeholder entry for `family` under the spec's `x-apipod-families` when it
    /// has none, so the model's polling hint, mock timing and price resolve; flagged for
    /// review, since the docs state none of them.
    fn ensure_family(
        &mut self,
        family: &str,
        kind: apipod_codegen::schema::Kind,
    ) -> Result<(), SyncError> {
        if self.y.find(&["x-apipod-families", family]).is_some() {
            return Ok(());
        }
        let root = self.y.find(&["x-apipod-families"]).ok_or_else(|| {
            failed("the spec has no top-level `x-apipod-families`; add it before syncing")
        })?;
        let (interval, attempts, queue, run, price) = match kind {
            apipod_codegen::schema::Kind::Image => (3000, 200, "[1, 5]", "[10, 60]", "0.03"),
            apipod_codegen::schema::Kind::Video => (10000, 180, "[5, 30]", "[60, 300]", "0.1"),
        };
        let pad = " ".repeat(root.indent + 2);
        let lines = vec![
            format!(
                "{pad}{}:",
                format_scalar(&Value::String(family.to_string()))
            ),
            format!(
                "{pad}  # added by xtask sync with {} defaults; review",
                kind.as_str()
            ),
            format!("{pad}  polling: {{interval_ms: {interval}, max_attempts: {attempts}}}"),
            format!("{pad}  mock-timing: {{queue_s: {queue}, run_s: {run}}}"),
            format!("{pad}  mock-price: {{usd: {price}}}"),
        ];
        let at = root.end;
        self.y.insert_lines(at, lines);
        self.changes
            .push(format!("added family {family} with placeholder hints"));
        self.notes.push(format!(
            "x-apipod-families.{family}: new family; review its polling hint, mock timing and price"
        ));
        Ok(())
    }

    fn sync_status(&mut self) -> Result<(), SyncError> {
        let pages: Vec<_> = self.docs.status.iter().map(|p| p.facts.clone()).collect();
        for page in &pages {
            let ours = self.ours()?;
            let Some(o) = ours
                .status
                .iter()
                .find(|s| s.endpoint == page.endpoint)
                .cloned()
            else {
                continue;
            };
            let data = o.data_schema.clone().ok_or_else(|| {
                failed(format!(
                    "GET {}: our `data` is not a component schema; edit it by hand",
                    o.endpoint
                ))
            })?;
            for f in &page.fields {
                let ours = self.ours()?;
                let o = ours
                    .status
                    .iter()
                    .find(|s| s.endpoint == page.endpoint)
                    .cloned()
                    .ok_or_else(|| failed("status endpoint vanished"))?;
                let key = Some((page.endpoint.clone(), format!("data.{}", f.name)));
                match o.field(&f.name) {
                    None => {
                        let lines = field_block(&f.name, &f.schema, &placeholder(&f.name))
                            .map_err(|e| {
                                failed(format!("GET {} data.{}: {e}", page.endpoint, f.name))
                            })?;
                        let data_c = data.clone();
                        self.edit(
                            format!("GET {}: added data.{} to {data}", page.endpoint, f.name),
                            key,
                            |y| {
                                let props =
                                    y.find(&schema_path(&data_c, &["properties"])).ok_or_else(
                                        || failed(format!("{data_c}.properties not found")),
                                    )?;
                                let pad = " ".repeat(props.indent + 2);
                                y.insert_lines(
                                    props.end,
                                    lines.iter().map(|l| format!("{pad}{l}")).collect(),
                                );
                                Ok(())
                            },
                        )?;
                        self.notes.push(format!(
                            "{data}.{}: new field with a placeholder description",
                            f.name
                        ));
                    }
                    Some(of) => {
                        let accepted = f
                            .shapes
                            .iter()
                            .all(|ds| of.shapes.iter().any(|os| os.accepts(ds)));
                        if !accepted {
                            if of.schema_ref.is_some() {
                                return Err(failed(format!(
                                    "GET {}: data.{} is a $ref to {} that does not accept the docs' {}; edit it by hand",
                                    page.endpoint,
                                    f.name,
                                    of.schema_ref.clone().unwrap_or_default(),
                                    f.shapes
                                        .iter()
                                        .map(|s| s.to_string())
                                        .collect::<Vec<_>>()
                                        .join(" | ")
                                )));
                            }
                            let [shape] = f.shapes.as_slice() else {
                                return Err(failed(format!(
                                    "GET {}: data.{} has several shapes in the docs; edit it by hand",
                                    page.endpoint, f.name
                                )));
                            };
                            let shape = shape.clone();
                            let data_c = data.clone();
                            let name = f.name.clone();
                            self.edit(
                                format!("GET {}: data.{} is now {shape}", page.endpoint, f.name),
                                Some((page.endpoint.clone(), format!("data.{}.type", f.name))),
                                |y| {
                                    let prop = schema_path(&data_c, &["properties", &name]);
                                    let ty = shape.ty.clone();
                                    check_type(&ty)?;
                                    Self::set_key(
                                        y,
                                        &prop,
                                        "type",
                                        Some(ty.clone()),
                                        PROPERTY_ORDER,
                                    )?;
                                    let mut items = prop.clone();
                                    items.push("items");
                                    if ty == "array" {
                                        let item = shape
                                            .item_ty
                                            .clone()
                                            .unwrap_or_else(|| "string".into());
                                        if y.find(&items).is_some() {
                                            Self::set_key(
                                                y,
                                                &items,
                                                "type",
                                                Some(item),
                                                &["type"],
                                            )?;
                                        } else {
                                            let p = y
                                                .find(&prop)
                                                .ok_or_else(|| failed("property vanished"))?;
                                            y.insert_child(
                                                &p,
                                                "items",
                                                &["items:".into(), format!("  type: {item}")],
                                                PROPERTY_ORDER,
                                            );
                                        }
                                    } else if y.find(&items).is_some() {
                                        Self::set_key(y, &prop, "items", None, PROPERTY_ORDER)?;
                                    }
                                    Ok(())
                                },
                            )?;
                        }
                        if f.nullable && !of.nullable {
                            let data_c = data.clone();
                            let name = f.name.clone();
                            self.edit(
                                format!("GET {}: data.{} is nullable", page.endpoint, f.name),
                                Some((page.endpoint.clone(), format!("data.{}.nullable", f.name))),
                                |y| {
                                    let prop = schema_path(&data_c, &["properties", &name]);
                                    if y.find(&prop)
                                        .and_then(|p| y.child(Some(&p), "$ref"))
                                        .is_some()
                                    {
                                        return Err(failed(format!(
                                            "{data_c}.{name} is a $ref; make it nullable by hand"
                                        )));
                                    }
                                    Self::set_key(
                                        y,
                                        &prop,
                                        "nullable",
                                        Some("true".into()),
                                        PROPERTY_ORDER,
                                    )
                                },
                            )?;
                        }
                    }
                }
            }
        }

        // Status values: every value any page lists.
        let refs: Vec<&facts::StatusFacts> = pages.iter().collect();
        let shared = drift::shared_status(&refs);
        if let Some(target) = shared.status_enum.clone() {
            let ours = self.ours()?;
            let o = &ours.status[0];
            if !facts::same_values(o.status_enum.as_deref().unwrap_or(&[]), &target) {
                let data = o.data_schema.clone().unwrap_or_default();
                let parent: Vec<String> = match &o.status_schema {
                    Some(s) => vec!["components".into(), "schemas".into(), s.clone()],
                    None => vec![
                        "components".into(),
                        "schemas".into(),
                        data,
                        "properties".into(),
                        "status".into(),
                    ],
                };
                self.edit(
                    format!(
                        "status values are now {}",
                        target
                            .iter()
                            .map(format_scalar)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None,
                    |y| {
                        let parent: Vec<&str> = parent.iter().map(String::as_str).collect();
                        Self::sync_list(
                            y,
                            &parent,
                            "enum",
                            &target,
                            Some("string"),
                            &|_| false,
                            PROPERTY_ORDER,
                        )
                    },
                )?;
            }
        }

        // data.required: what every docs page requires.
        let ours = self.ours()?;
        let needs = ours.status.iter().any(|o| {
            pages.iter().any(|p| {
                p.endpoint == o.endpoint
                    && drift::compare_status(o, p, &shared)
                        .iter()
                        .any(|d| d.keyword == Keyword::Required)
            })
        });
        if needs {
            let data = ours.status[0]
                .data_schema
                .clone()
                .ok_or_else(|| failed("our `data` is not a component schema"))?;
            let target: Vec<Value> = shared
                .required
                .iter()
                .map(|r| Value::String(r.clone()))
                .collect();
            self.edit(
                format!("{data}.required is now [{}]", shared.required.join(", ")),
                None,
                |y| {
                    Self::sync_list(
                        y,
                        &schema_path(&data, &[]),
                        "required",
                        &target,
                        Some("string"),
                        &|_| false,
                        SCHEMA_ORDER,
                    )
                },
            )?;
        }
        Ok(())
    }
}
