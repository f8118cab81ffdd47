//! What drift found: one difference per fact, grouped by model and status endpoint, as
//! readable text or JSON.

use std::fmt::Write as _;

use apipod_codegen::docs::Skipped;
use serde::Serialize;
use serde_json::Value;

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
