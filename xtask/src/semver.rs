//! What a spec change means for code that uses the `apipod` crate.
//!
//! The typed surface is generated from the spec: one request type per model, one setter
//! per field, `#[non_exhaustive]` enums for listed values, and validation from the
//! contract. So each fact change maps to a semver level of `apipod`'s public API:
//!
//! | change | level | why |
//! |---|---|---|
//! | model added, optional field added, enum value added, limit loosened, field no longer required | minor | new items; existing code compiles and behaves the same |
//! | model removed, field removed, enum value removed, type or kind changed | major | a type, setter or variant disappears or changes |
//! | field becomes required, limit tightened, new required field | major | requests that passed validation before are now rejected |
//! | default changed, description changed | patch | documentation and server-side behaviour only |

use std::collections::BTreeSet;
use std::fmt;

use apipod_codegen::facts::{Bound, FieldFacts, ModelFacts};
use serde::Serialize;
use serde_json::Value;

use crate::drift::OurFacts;

/// A semver level, ordered from least to most disruptive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing a caller can observe in types or validation.
    Patch,
    /// Additions only.
    Minor,
    /// Code or requests that worked before may stop working.
    Major,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        })
    }
}

/// One change and its impact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The semver level.
    pub level: Level,
    /// What changed, e.g. "`duration` removed from seedance-2.0-t2v".
    pub reason: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.level, self.reason)
    }
}

/// The highest level among `verdicts` (`None` when nothing changed).
pub fn overall(verdicts: &[Verdict]) -> Option<Level> {
    verdicts.iter().map(|v| v.level).max()
}

fn v(level: Level, reason: String) -> Verdict {
    Verdict { level, reason }
}

fn show(values: &[Value]) -> String {
    values
        .iter()
        .map(|x| match x {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn num(b: &Option<Bound>) -> Option<f64> {
    b.as_ref().and_then(|b| b.value.as_f64())
}

/// `Some(true)` when `after` admits fewer values than `before` for an upper limit.
fn upper(before: Option<f64>, after: Option<f64>) -> Option<bool> {
    match (before, after) {
        (a, b) if a == b => None,
        (None, Some(_)) => Some(true),
        (Some(_), None) => Some(false),
        (Some(a), Some(b)) => Some(b < a),
        _ => None,
    }
}

fn lower(before: Option<f64>, after: Option<f64>) -> Option<bool> {
    match (before, after) {
        (a, b) if a == b => None,
        (None, Some(_)) => Some(true),
        (Some(_), None) => Some(false),
        (Some(a), Some(b)) => Some(b > a),
        _ => None,
    }
}

fn field_verdicts(id: &str, name: &str, a: &FieldFacts, b: &FieldFacts, out: &mut Vec<Verdict>) {
    if a.ty != b.ty || a.item_ty != b.item_ty {
        out.push(v(
            Level::Major,
            format!("`{name}` of {id} changed type; its setter's type changes"),
        ));
    }
    match (&a.enum_values, &b.enum_values) {
        (Some(x), Some(y)) => {
            let removed: Vec<Value> = x.iter().filter(|e| !y.contains(e)).cloned().collect();
            let added: Vec<Value> = y.iter().filter(|e| !x.contains(e)).cloned().collect();
            if !removed.is_empty() {
                out.push(v(
                    Level::Major,
                    format!("`{name}` of {id} no longer takes {}", show(&removed)),
                ));
            }
            if !added.is_empty() {
                out.push(v(
                    Level::Minor,
                    format!("`{name}` of {id} also takes {}", show(&added)),
                ));
            }
        }
        (None, Some(_)) => out.push(v(
            Level::Major,
            format!("`{name}` of {id} now takes listed values only (its setter takes an enum)"),
        )),
        (Some(_), None) => out.push(v(
            Level::Major,
            format!("`{name}` of {id} is no longer a list of values (its setter changes type)"),
        )),
        (None, None) => {}
    }
    let limits = [
        (
            "maxLength",
            upper(
                a.max_length.map(|x| x as f64),
                b.max_length.map(|x| x as f64),
            ),
        ),
        (
            "minLength",
            lower(
                a.min_length.map(|x| x as f64),
                b.min_length.map(|x| x as f64),
            ),
        ),
        (
            "maxItems",
            upper(a.max_items.map(|x| x as f64), b.max_items.map(|x| x as f64)),
        ),
        (
            "minItems",
            lower(a.min_items.map(|x| x as f64), b.min_items.map(|x| x as f64)),
        ),
        ("maximum", upper(num(&a.maximum), num(&b.maximum))),
        ("minimum", lower(num(&a.minimum), num(&b.minimum))),
    ];
    for (key, tightened) in limits {
        match tightened {
            Some(true) => out.push(v(
                Level::Major,
                format!("`{name}` of {id}: {key} tightened; requests that passed may be rejected"),
            )),
            Some(false) => out.push(v(Level::Minor, format!("`{name}` of {id}: {key} loosened"))),
            None => {}
        }
    }
    if a.default != b.default {
        out.push(v(
            Level::Patch,
            format!("`{name}` of {id}: APIPod's default changed"),
        ));
    }
}

fn model_verdicts(a: &ModelFacts, b: &ModelFacts, out: &mut Vec<Verdict>) {
    let id = &a.id;
    if a.kind != b.kind || a.path != b.path {
        out.push(v(
            Level::Major,
            format!("{id} moved from {} to {}", a.path, b.path),
        ));
    }
    let req_a: BTreeSet<&String> = a.required.iter().collect();
    let req_b: BTreeSet<&String> = b.required.iter().collect();
    for (name, fa) in &a.fields {
        match b.field(name) {
            None => out.push(v(
                Level::Major,
                format!("`{name}` removed from {id}; its setter goes away"),
            )),
            Some(fb) => field_verdicts(id, name, fa, fb, out),
        }
    }
    for (name, _) in &b.fields {
        if a.field(name).is_none() {
            let level = if req_b.contains(name) {
                Level::Major
            } else {
                Level::Minor
            };
            let what = if level == Level::Major {
                "required field"
            } else {
                "optional field"
            };
            out.push(v(level, format!("{what} `{name}` added to {id}")));
        }
    }
    for name in req_b.difference(&req_a) {
        if a.field(name).is_some() {
            out.push(v(
                Level::Major,
                format!("`{name}` of {id} is now required; requests without it are rejected"),
            ));
        }
    }
    for name in req_a.difference(&req_b) {
        if b.field(name).is_some() {
            out.push(v(
                Level::Minor,
                format!("`{name}` of {id} is no longer required"),
            ));
        }
    }
}

/// The verdicts for going from spec facts `before` to `after`, models in `after`'s order.
pub fn verdicts(before: &OurFacts, after: &OurFacts) -> Vec<Verdict> {
    let mut out = Vec::new();
    for a in &before.models {
        match after.models.iter().find(|m| m.id == a.id) {
            None => out.push(v(
                Level::Major,
                format!("model {} removed; its request type goes away", a.id),
            )),
            Some(b) => model_verdicts(a, b, &mut out),
        }
    }
    for b in &after.models {
        if !before.models.iter().any(|m| m.id == b.id) {
            out.push(v(Level::Minor, format!("model {} added", b.id)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drift::our_facts;

    const SPEC: &str = include_str!("../../openapi/apipod.yaml");

    #[test]
    fn no_change_no_verdict() {
        let f = our_facts(SPEC).unwrap();
        assert!(verdicts(&f, &f).is_empty());
        assert_eq!(overall(&[]), None);
    }

    #[test]
    fn removals_are_major_and_additions_minor() {
        let before = our_facts(SPEC).unwrap();
        let mut after = before.clone();
        let removed = after.models.remove(0);
        let out = verdicts(&before, &after);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].level, Level::Major);
        assert!(out[0].reason.contains(&removed.id), "{}", out[0]);
        let out = verdicts(&after, &before);
        assert_eq!(
            out[0].to_string(),
            format!("minor: model {} added", removed.id)
        );

        let mut changed = before.clone();
        let m = &mut changed.models[0];
        let (name, _) = m.fields.pop().unwrap();
        let out = verdicts(&before, &changed);
        assert_eq!(
            out[0].to_string(),
            format!(
                "major: `{name}` removed from {}; its setter goes away",
                before.models[0].id
            )
        );
        assert_eq!(overall(&out), Some(Level::Major));
    }
}
