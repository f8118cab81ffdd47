//! Applying one model's facts: its fields, values, limits, required list and endpoint.

use std::collections::BTreeSet;

use apipod_codegen::facts::{FieldFacts, ModelFacts, normalise};
use serde_json::Value;

use super::render::{check_type, family_of, field_block, placeholder};
use super::{PROPERTY_ORDER, SCHEMA_ORDER, SyncError, Syncer, failed, schema_path};
use crate::drift::{self, Keyword};
use crate::yaml::format_scalar;

impl Syncer<'_> {
    pub(super) fn sync_model(&mut self, id: &str) -> Result<(), SyncError> {
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
    pub(super) fn describe(&self, id: &str, name: &str) -> Result<String, SyncError> {
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
    pub(super) fn union_of(&self, path: &str) -> Result<String, SyncError> {
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

    pub(super) fn remove_model(&mut self, m: &ModelFacts) -> Result<(), SyncError> {
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
}
