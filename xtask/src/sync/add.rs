//! Adding an upstream model, of any family, to the spec.

use serde_json::Value;

use super::render::{example_block, example_problems, family_of, field_block};
use super::{SCHEMA_ORDER, SyncError, Syncer, failed, schema_name_for, schema_path};
use crate::drift;
use crate::yaml::format_scalar;

impl Syncer<'_> {
    pub(super) fn add_model(&mut self, id: &str) -> Result<(), SyncError> {
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
}
