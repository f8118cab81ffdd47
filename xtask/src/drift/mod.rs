//! `cargo xtask drift`: compares our spec with the upstream docs, fact by fact.
//!
//! Facts are what [`apipod_codegen::facts`] reads: per model the create path, the fields,
//! their types, nullability, item types, enum values (as sets), defaults and the standard
//! limit keywords, and the `required` list; per status endpoint the fields under `data`
//! (ours may accept more), `data.required` and the status enum. Prose and `x-apipod-*`
//! extensions are not facts; a field or model marked `x-apipod-local` is ours alone and
//! is not reported when the docs lack it.

use std::fmt;
use std::path::Path;

use apipod_codegen::docs::{self, DocsSet};
use apipod_codegen::facts::{self, ModelFacts, STATUS_ENDPOINTS, StatusFacts};
use serde_json::Value;

mod fields;
mod report;

pub use fields::{
    SharedStatus, compare_field, compare_model, compare_status, compared_required, shared_status,
};
pub use report::{
    Difference, Keyword, MissingModel, ModelReport, Report, SkippedPage, StatusReport,
    UncoveredModel,
};

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
