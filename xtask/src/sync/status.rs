//! Applying the status endpoints' facts.

use serde_json::Value;

use super::render::{check_type, field_block, placeholder};
use super::{PROPERTY_ORDER, SCHEMA_ORDER, SyncError, Syncer, failed, schema_path};
use apipod_codegen::facts;

use crate::drift::{self, Keyword};
use crate::yaml::format_scalar;

impl Syncer<'_> {
    pub(super) fn sync_status(&mut self) -> Result<(), SyncError> {
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
