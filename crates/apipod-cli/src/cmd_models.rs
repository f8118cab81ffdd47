//! `apipod models`: every model and its fields, from the spec's contracts.

use anyhow::Result;
use apipod::contract::{self, FieldContract, ModelContract};
use clap::Args;
use serde_json::{Value, json};

use crate::catalog::find_model;
use crate::exit::CliError;
use crate::println_nopipe;

/// List the models with their fields: type, required, allowed values, default and limits.
#[derive(Debug, Args)]
pub struct CmdModels {
    /// Show only this model (with field descriptions).
    #[arg(value_name = "MODEL")]
    pub model: Option<String>,

    /// Print JSON: an array of models (one object with MODEL).
    #[arg(long)]
    pub json: bool,

    /// Print MODEL's request as a JSON Schema (draft 2020-12): its fields, types, allowed
    /// values, bounds and required fields, e.g. for an LLM tool definition.
    #[arg(long, requires = "model")]
    pub schema: bool,
}

impl CmdModels {
    /// Runs the command (no client or network needed).
    pub fn run(&self) -> Result<()> {
        let selected: Vec<&ModelContract> = match &self.model {
            None => contract::MODELS.iter().collect(),
            Some(id) => vec![find_model(id)?],
        };
        if self.schema {
            let id = selected[0].id;
            let schema = apipod::models::json_schema(id)
                .ok_or_else(|| CliError::usage(format!("{id}: no typed request")))?;
            println_nopipe!("{}", serde_json::to_string_pretty(&schema)?);
            return Ok(());
        }
        if self.json {
            let value = match self.model {
                Some(_) => model_json(selected[0]),
                None => Value::Array(selected.iter().map(|m| model_json(m)).collect()),
            };
            println_nopipe!("{}", serde_json::to_string_pretty(&value)?);
            return Ok(());
        }
        let detailed = self.model.is_some();
        for (i, model) in selected.iter().enumerate() {
            if i > 0 {
                println_nopipe!();
            }
            print_model(model, detailed);
        }
        Ok(())
    }
}

fn print_model(model: &ModelContract, detailed: bool) {
    println_nopipe!("{}  ({}) {}", model.id, model.kind, model.title);
    if detailed && !model.description.is_empty() {
        println_nopipe!("  {}", model.description);
    }
    let fields: Vec<&FieldContract> = model.fields.iter().filter(|f| f.name != "model").collect();
    let width = fields.iter().map(|f| f.name.len()).max().unwrap_or(0);
    for field in fields {
        let need = if field.required {
            "required"
        } else {
            "optional"
        };
        let mut facts = vec![field.ty.as_str().to_string(), need.to_string()];
        facts.extend(constraints(field));
        println_nopipe!("  {:width$}  {}", field.name, facts.join(", "));
        if detailed && let Some(desc) = field.description {
            println_nopipe!("  {:width$}    {}", "", desc.trim());
        }
    }
    if !model.require_one_of.is_empty() {
        println_nopipe!(
            "  at least one of {} must have an item",
            model.require_one_of.join(" or ")
        );
    }
}

/// Allowed values, default and limits, as short phrases.
fn constraints(field: &FieldContract) -> Vec<String> {
    let mut out = Vec::new();
    if !field.enum_values.is_empty() {
        out.push(format!("one of {}", field.enum_values.join("|")));
    }
    if let Some(default) = field.default_json {
        out.push(format!("default {default}"));
    }
    match (field.min_length, field.max_length) {
        (Some(min), Some(max)) => out.push(format!("{min}-{max} characters")),
        (Some(min), None) => out.push(format!("at least {min} characters")),
        (None, Some(max)) => out.push(format!("at most {max} characters")),
        (None, None) => {}
    }
    match (field.minimum, field.maximum) {
        (Some(min), Some(max)) => out.push(format!("{min} to {max}")),
        (Some(min), None) => out.push(format!("at least {min}")),
        (None, Some(max)) => out.push(format!("at most {max}")),
        (None, None) => {}
    }
    match (field.min_items, field.max_items) {
        (Some(min), Some(max)) => out.push(format!("{min}-{max} items")),
        (Some(min), None) => out.push(format!("at least {min} items")),
        (None, Some(max)) => out.push(format!("at most {max} items")),
        (None, None) => {}
    }
    out
}

fn model_json(model: &ModelContract) -> Value {
    json!({
        "id": model.id,
        "kind": model.kind.as_str(),
        "title": model.title,
        "description": model.description,
        "schema": model.schema,
        "fields": model.fields.iter().map(field_json).collect::<Vec<_>>(),
        "require_one_of": model.require_one_of,
        "family": model.family,
        "polling": model.polling.map(|p| json!({"interval_ms": p.interval_ms, "max_attempts": p.max_attempts})),
        "example": model.example(),
    })
}

fn field_json(field: &FieldContract) -> Value {
    json!({
        "name": field.name,
        "type": field.ty.as_str(),
        "required": field.required,
        "description": field.description,
        "enum": field.enum_values,
        "default": field.default_value(),
        "min_length": field.min_length,
        "max_length": field.max_length,
        "minimum": field.minimum.map(|l| l.value),
        "exclusive_minimum": field.minimum.is_some_and(|l| l.exclusive),
        "maximum": field.maximum.map(|l| l.value),
        "exclusive_maximum": field.maximum.is_some_and(|l| l.exclusive),
        "min_items": field.min_items,
        "max_items": field.max_items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_comes_from_the_contract() {
        let seedream = model_json(contract::find("seedream-v4.5").unwrap());
        assert_eq!(seedream["kind"], "image");
        let quality = seedream["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "quality")
            .unwrap();
        assert_eq!(quality["enum"], json!(["2K", "4K"]));
        let prompt = contract::find("seedream-v4.5")
            .unwrap()
            .field("prompt")
            .unwrap();
        assert!(constraints(prompt).iter().any(|c| c.contains("4000")));
    }
}
