//! Per-model request contracts, generated from `openapi/apipod.yaml`.
//!
//! [`MODELS`] lists every model with its fields, allowed values, defaults and limits.
//! [`ModelContract::validate`] checks a JSON body against it, so the SDK, the CLI and the
//! local mock server reject bad input with the same specific messages, and no limit is
//! typed twice by hand.
//!
//! ```
//! use apipod_raw::contract;
//!
//! let seedream = contract::find("seedream-v4.5").unwrap();
//! let body = serde_json::json!({"model": "seedream-v4.5", "prompt": "x".repeat(4001)});
//! let problems = seedream.validate(body.as_object().unwrap());
//! assert_eq!(
//!     problems[0].to_string(),
//!     "seedream-v4.5: `prompt` is 4001 characters long; the limit is 4000"
//! );
//! ```

use std::fmt;

use serde_json::{Map, Value};

mod decode;
mod violation;

pub use decode::{Decoder, WireBody};
use decode::{image, video};
pub use violation::{Problem, Violation};

/// Image or video task. Decides the create and status routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TaskKind {
    /// An image task (`/v1/images/...`).
    Image,
    /// A video task (`/v1/videos/...`).
    Video,
}

impl TaskKind {
    /// `"image"` or `"video"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Image => "image",
            TaskKind::Video => "video",
        }
    }
}

impl fmt::Display for TaskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TaskKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "image" | "images" => Ok(TaskKind::Image),
            "video" | "videos" => Ok(TaskKind::Video),
            other => Err(format!(
                "unknown task kind {other:?} (expected image or video)"
            )),
        }
    }
}

/// JSON type of a request field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldType {
    /// A string.
    String,
    /// A whole number.
    Integer,
    /// Any number.
    Number,
    /// `true` or `false`.
    Boolean,
    /// A list of strings (URLs).
    StringArray,
    /// Anything else the spec may declare.
    Other,
}

impl FieldType {
    /// Human name used in messages and `apipod models`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
            FieldType::StringArray => "array of strings",
            FieldType::Other => "value",
        }
    }

    fn accepts(self, value: &Value) -> bool {
        match self {
            FieldType::String => value.is_string(),
            FieldType::Integer => value.is_i64() || value.is_u64(),
            FieldType::Number => value.is_number(),
            FieldType::Boolean => value.is_boolean(),
            FieldType::StringArray => value
                .as_array()
                .is_some_and(|items| items.iter().all(Value::is_string)),
            FieldType::Other => true,
        }
    }
}

/// A numeric limit of a field.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// The limit.
    pub value: f64,
    /// True when the limit itself is not allowed.
    pub exclusive: bool,
}

impl Limit {
    fn below(&self, n: f64) -> bool {
        if self.exclusive {
            n <= self.value
        } else {
            n < self.value
        }
    }

    fn above(&self, n: f64) -> bool {
        if self.exclusive {
            n >= self.value
        } else {
            n > self.value
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.value)?;
        if self.exclusive {
            f.write_str(" (exclusive)")?;
        }
        Ok(())
    }
}

/// The ranges (seconds) the local mock draws a task's queue and run time from in its
/// realistic mode. Our estimates, not APIPod's (`x-apipod-mock-timing` in the spec).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MockTiming {
    /// Time spent `pending`, low and high.
    pub queue_s: (f64, f64),
    /// Time spent `processing`, low and high.
    pub run_s: (f64, f64),
}

/// The made-up price behind the mock's `X-Request-Cost` (`x-apipod-mock-price`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MockPrice {
    /// US dollars per task, or per unit of `per`.
    pub usd: f64,
    /// The request field whose value (or default) multiplies the price.
    pub per: Option<&'static str>,
}

/// The polling hint APIPod publishes for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollingHint {
    /// Suggested interval between status reads, in milliseconds.
    pub interval_ms: u64,
    /// Suggested number of reads before giving up.
    pub max_attempts: u64,
}

/// One request field of one model.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct FieldContract {
    /// JSON property name.
    pub name: &'static str,
    /// JSON type.
    pub ty: FieldType,
    /// Must be present.
    pub required: bool,
    /// `null` is accepted.
    pub nullable: bool,
    /// What the field does.
    pub description: Option<&'static str>,
    /// Allowed values (integers as decimal text); empty when any value of the type is fine.
    pub enum_values: &'static [&'static str],
    /// The default APIPod applies when the field is absent, as JSON text.
    pub default_json: Option<&'static str>,
    /// Minimum length in characters.
    pub min_length: Option<u64>,
    /// Maximum length in characters.
    pub max_length: Option<u64>,
    /// Smallest allowed number.
    pub minimum: Option<Limit>,
    /// Largest allowed number.
    pub maximum: Option<Limit>,
    /// Fewest list items.
    pub min_items: Option<u64>,
    /// Most list items.
    pub max_items: Option<u64>,
}

impl FieldContract {
    /// The default as a JSON value.
    pub fn default_value(&self) -> Option<Value> {
        self.default_json.and_then(|d| serde_json::from_str(d).ok())
    }

    /// True when `value` is one of the allowed values (or there is no list).
    pub fn allows(&self, value: &Value) -> bool {
        if self.enum_values.is_empty() {
            return true;
        }
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.enum_values.contains(&text.as_str())
    }

    /// Parses command-line text (`--set key=value`) into a JSON value of this field's type.
    pub fn parse_text(&self, text: &str) -> Result<Value, String> {
        match self.ty {
            FieldType::String => Ok(Value::String(text.to_string())),
            FieldType::Integer => text
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("`{}` takes a whole number, not {text:?}", self.name)),
            FieldType::Number => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("`{}` takes a number, not {text:?}", self.name)),
            FieldType::Boolean => match text {
                "true" | "yes" | "1" => Ok(Value::Bool(true)),
                "false" | "no" | "0" => Ok(Value::Bool(false)),
                _ => Err(format!("`{}` takes true or false, not {text:?}", self.name)),
            },
            FieldType::StringArray => Ok(Value::Array(
                text.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_string()))
                    .collect(),
            )),
            FieldType::Other => {
                serde_json::from_str(text).or_else(|_| Ok(Value::String(text.to_string())))
            }
        }
    }
}

/// One model's create contract.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ModelContract {
    /// Model id sent as `model`.
    pub id: &'static str,
    /// Image or video.
    pub kind: TaskKind,
    /// Name of the spec's component schema (and of the generated type).
    pub schema: &'static str,
    /// Display name.
    pub title: &'static str,
    /// What the model is.
    pub description: &'static str,
    /// The model's family (`x-apipod-family`), e.g. `seedance`.
    pub family: Option<&'static str>,
    /// Accepted fields, `model` included.
    pub fields: &'static [FieldContract],
    /// At least one of these list fields must be non-empty.
    pub require_one_of: &'static [&'static str],
    /// The polling hint (the model's or its family's).
    pub polling: Option<PollingHint>,
    /// The mock's realistic timing.
    pub mock_timing: Option<MockTiming>,
    /// The mock's made-up price.
    pub mock_price: Option<MockPrice>,
    /// The live API returns Veo's object form of `result` for this model.
    pub veo_object: bool,
    /// A valid example request body, as JSON text.
    pub example_json: Option<&'static str>,
    /// Decodes a body of this model straight into its generated wire type.
    pub decoder: Decoder,
}

impl ModelContract {
    /// How long this model's tasks typically queue and run: the spec's estimate
    /// (`x-apipod-mock-timing`) or, for a model without one, its kind's (images 1-5 s queued
    /// and 10-60 s running, videos 5-30 s and 60-300 s). Our estimates, not APIPod's: the
    /// docs publish no typical durations. The mock draws realistic durations from these and
    /// the SDK's learning poll policy starts from them.
    pub fn typical_timing(&self) -> MockTiming {
        self.mock_timing.unwrap_or(match self.kind {
            TaskKind::Image => MockTiming {
                queue_s: (1.0, 5.0),
                run_s: (10.0, 60.0),
            },
            TaskKind::Video => MockTiming {
                queue_s: (5.0, 30.0),
                run_s: (60.0, 300.0),
            },
        })
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static FieldContract> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The example request body, when the spec has one.
    pub fn example(&self) -> Option<Map<String, Value>> {
        self.example_json
            .and_then(|e| serde_json::from_str::<Value>(e).ok())
            .and_then(|v| match v {
                Value::Object(m) => Some(m),
                _ => None,
            })
    }

    /// True when the model's contract names a `callback_url` field.
    pub fn accepts_callback(&self) -> bool {
        self.field("callback_url").is_some()
    }

    /// Every problem with `body` as a request for this model, in field order. Empty means
    /// valid.
    pub fn validate(&self, body: &Map<String, Value>) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut push = |field: &str, problem: Problem| {
            out.push(Violation {
                model: self.id.to_string(),
                field: field.to_string(),
                problem,
            })
        };
        match body.get("model") {
            Some(Value::String(m)) if m == self.id => {}
            other => push(
                "model",
                Problem::WrongModel {
                    found: other.map(|v| v.to_string()),
                },
            ),
        }
        for name in body.keys() {
            if self.field(name).is_none() {
                push(
                    name,
                    Problem::UnknownField {
                        accepted: self.fields.iter().map(|f| f.name).collect(),
                    },
                );
            }
        }
        for f in self.fields {
            if f.name == "model" {
                continue;
            }
            let Some(value) = body.get(f.name) else {
                if f.required {
                    push(f.name, Problem::Missing);
                }
                continue;
            };
            if value.is_null() && f.nullable {
                continue;
            }
            if !f.ty.accepts(value) {
                push(
                    f.name,
                    Problem::WrongType {
                        expected: f.ty,
                        found: value.to_string(),
                    },
                );
                continue;
            }
            if !f.allows(value) {
                push(
                    f.name,
                    Problem::NotAllowed {
                        found: value.to_string(),
                        allowed: f.enum_values.to_vec(),
                    },
                );
            }
            if let Some(s) = value.as_str() {
                // Characters are counted only when the byte length cannot decide: a text
                // has at most as many characters as bytes, and at least a quarter as many.
                let bytes = s.len() as u64;
                let chars = || s.chars().count() as u64;
                if let Some(max) = f.max_length.filter(|max| bytes > *max) {
                    let len = chars();
                    if len > max {
                        push(f.name, Problem::TooLong { len, max });
                    }
                }
                if let Some(min) = f.min_length.filter(|min| bytes < min.saturating_mul(4)) {
                    let len = chars();
                    if len < min {
                        push(f.name, Problem::TooShort { len, min });
                    }
                }
            }
            if let Some(n) = value.as_f64() {
                if let Some(min) = f.minimum.filter(|min| min.below(n)) {
                    push(f.name, Problem::BelowMinimum { value: n, min });
                }
                if let Some(max) = f.maximum.filter(|max| max.above(n)) {
                    push(f.name, Problem::AboveMaximum { value: n, max });
                }
            }
            if let Some(items) = value.as_array() {
                let count = items.len() as u64;
                if let Some(min) = f.min_items.filter(|min| count < *min) {
                    push(f.name, Problem::TooFewItems { count, min });
                }
                if let Some(max) = f.max_items.filter(|max| count > *max) {
                    push(f.name, Problem::TooManyItems { count, max });
                }
            }
        }
        if !self.require_one_of.is_empty() {
            let satisfied = self.require_one_of.iter().any(|name| {
                body.get(*name)
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty())
            });
            if !satisfied {
                push(
                    self.require_one_of.join("|").as_str(),
                    Problem::NeedOneOf {
                        fields: self.require_one_of.to_vec(),
                    },
                );
            }
        }
        out
    }
}

include!(concat!(env!("OUT_DIR"), "/contract.rs"));

/// The contract of model `id`.
pub fn find(id: &str) -> Option<&'static ModelContract> {
    position(id).and_then(|i| MODELS.get(i))
}

/// The models of one kind, in spec order.
pub fn of_kind(kind: TaskKind) -> impl Iterator<Item = &'static ModelContract> {
    MODELS.iter().filter(move |m| m.kind == kind)
}

#[cfg(test)]
mod tests;
