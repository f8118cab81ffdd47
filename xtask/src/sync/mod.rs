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
use apipod_codegen::facts::{ModelFacts, normalise};
use serde_json::Value;

use crate::drift::{self, InputError, OurFacts};
use crate::yaml::{YamlText, format_scalar};

mod add;
mod model;
mod render;
mod status;

pub use render::contradictions;

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
}
