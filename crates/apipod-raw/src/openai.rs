//! The rules of APIPod's OpenAI-compatible synchronous images API
//! (`POST /openai/v1/images/generations` and `POST /openai/v1/images/edits`), shared by the
//! SDK, the mock server and the CLI so that all three accept and refuse the same calls.
//!
//! The docs give this API as prose and tables, not as per-model schemas: these constants are
//! its stated limits, and [`check`] combines them with the per-model [`contract`] table (the
//! sync path is a delivery mode over the same task pipeline, so a model's own limits apply).
//!
//! ```
//! use apipod_raw::openai::{self, Route, SyncParams};
//!
//! let params = SyncParams::new("seedream-v4.5", "a lighthouse").size("1024x1536");
//! let (model, body) = openai::check(Route::Generation, &params).unwrap();
//! assert_eq!(model.id, "seedream-v4.5");
//! assert_eq!(body["aspect_ratio"], "2:3"); // the size's ratio, in the model's own terms
//!
//! // An edit needs a model that takes input images.
//! let edit = SyncParams::new("seedream-v4.5", "add a hat").images(vec![1_000]);
//! assert!(openai::check(Route::Edit, &edit).is_err());
//! ```

use std::time::Duration;

use serde_json::{Map, Value};

use crate::contract::{self, Limit, ModelContract, Problem, TaskKind, Violation};

/// The long-request host the docs recommend for these calls (no 120 s edge read timeout).
pub const DEFAULT_SYNC_BASE_URL: &str = "https://apid.apipod.ai";
/// Path of the generation call.
pub const GENERATIONS_PATH: &str = "/openai/v1/images/generations";
/// Path of the edit call.
pub const EDITS_PATH: &str = "/openai/v1/images/edits";
/// How long APIPod waits for the images before answering 504 [`TIMEOUT_CODE`] (its default
/// wait window; the server can be configured otherwise).
pub const SERVER_WAIT_WINDOW: Duration = Duration::from_secs(300);
/// The read timeout the docs suggest for clients: above [`SERVER_WAIT_WINDOW`], so a slow
/// generation ends as the server's 504 with a task id, not as a client-side disconnect.
pub const SUGGESTED_READ_TIMEOUT: Duration = Duration::from_secs(320);
/// The error code of a generation that outlasted the wait window.
pub const TIMEOUT_CODE: &str = "sync_image_timeout";
/// Longest prompt of a generation, in characters.
pub const MAX_PROMPT_CHARS: u64 = 4000;
/// Most images one call may ask for (`n`).
pub const MAX_N: u64 = 10;
/// Most input images of one edit.
pub const MAX_EDIT_IMAGES: u64 = 10;
/// Largest input image of an edit, in bytes (10 MB, read as 10 MiB).
pub const MAX_EDIT_IMAGE_BYTES: u64 = 10 * 1024 * 1024;
/// Values of `response_format`; the first is the default.
pub const RESPONSE_FORMATS: &[&str] = &["b64_json", "url"];
/// Values of `output_format`.
pub const OUTPUT_FORMATS: &[&str] = &["png", "jpeg", "webp"];
/// Values of `background`.
pub const BACKGROUNDS: &[&str] = &["auto", "opaque"];
/// Largest answer of these calls the clients read: images come inline as base64, so it is
/// far above the 1 MiB of the task API's answers (10 large PNGs fit).
pub const MAX_RESPONSE_BODY: usize = 512 * 1024 * 1024;

/// The body limit for the generated client's answer to operation `operation_id`: the
/// OpenAI-compatible images calls carry their images inline.
pub fn response_body_limit(operation_id: &str) -> Option<usize> {
    (operation_id == "create_openai_image").then_some(MAX_RESPONSE_BODY)
}

/// Which of the two calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /openai/v1/images/generations` (JSON).
    Generation,
    /// `POST /openai/v1/images/edits` (`multipart/form-data`).
    Edit,
}

impl Route {
    /// The path of the call.
    pub fn path(self) -> &'static str {
        match self {
            Route::Generation => GENERATIONS_PATH,
            Route::Edit => EDITS_PATH,
        }
    }
}

/// True when `model` can edit images on the sync path: an image model whose contract takes
/// input images (`image_urls`). Decided from the contract, never from the model id.
pub fn is_edit_capable(model: &ModelContract) -> bool {
    model.kind == TaskKind::Image && model.field("image_urls").is_some()
}

/// The edit-capable models, in catalog order.
pub fn edit_models() -> impl Iterator<Item = &'static ModelContract> {
    contract::MODELS.iter().filter(|m| is_edit_capable(m))
}

/// One call's parameters as plain values: what the SDK's builders hold and what the mock
/// reads from a JSON or multipart body.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SyncParams {
    /// Model id.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// `n`, when given.
    pub n: Option<i64>,
    /// `size` (`WIDTHxHEIGHT` or `auto`), when given.
    pub size: Option<String>,
    /// `quality`, when given.
    pub quality: Option<String>,
    /// `response_format`, when given.
    pub response_format: Option<String>,
    /// `output_format`, when given.
    pub output_format: Option<String>,
    /// `background`, when given.
    pub background: Option<String>,
    /// Sizes in bytes of the input images (edits).
    pub images: Vec<u64>,
    /// Size in bytes of the mask, when one is sent (edits).
    pub mask: Option<u64>,
}

impl SyncParams {
    /// Parameters with a model and a prompt.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        SyncParams {
            model: model.into(),
            prompt: prompt.into(),
            ..SyncParams::default()
        }
    }

    /// Sets `size`.
    pub fn size(mut self, size: impl Into<String>) -> Self {
        self.size = Some(size.into());
        self
    }

    /// Sets the input image sizes (edits).
    pub fn images(mut self, sizes: Vec<u64>) -> Self {
        self.images = sizes;
        self
    }
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    /// The model is not in the catalog.
    UnknownModel(String),
    /// Every problem found, each naming the field and the limit.
    Invalid(Vec<Violation>),
}

/// Checks a call against the docs' limits and the model's contract, before anything is
/// sent (SDK, CLI) or created (mock). Returns the model and the async task body the call
/// corresponds to.
///
/// The rules:
/// * `model` names an image model of the catalog; for [`Route::Edit`] one that takes input
///   images ([`is_edit_capable`]).
/// * `prompt` is not empty and, for generations, at most [`MAX_PROMPT_CHARS`] characters;
///   the model's own prompt limits apply too.
/// * `n` is 1 to [`MAX_N`]; a model with its own `n` field also applies its values.
/// * `size` is `auto` or `WIDTHxHEIGHT`. The docs leave sizes to each model: a model with an
///   `aspect_ratio` field must list the size's reduced ratio (it becomes that field); a model
///   without one keeps its default shape.
/// * `quality` goes to the model's `quality` field, whose values then apply; a model
///   without that field ignores it.
/// * `response_format`, `output_format` and `background` take the docs' values.
/// * Edits send 1 to [`MAX_EDIT_IMAGES`] images of at most [`MAX_EDIT_IMAGE_BYTES`] each,
///   within the model's own `image_urls` limit.
pub fn check(
    route: Route,
    params: &SyncParams,
) -> Result<(&'static ModelContract, Map<String, Value>), Refusal> {
    let model =
        contract::find(&params.model).ok_or_else(|| Refusal::UnknownModel(params.model.clone()))?;
    let mut out = Vec::new();
    let mut push = |field: &str, problem: Problem| {
        out.push(Violation {
            model: model.id.to_string(),
            field: field.to_string(),
            problem,
        })
    };
    if model.kind != TaskKind::Image {
        push(
            "model",
            Problem::NotSupported {
                reason: format!(
                    "a {} model; the OpenAI-compatible images API runs image models only",
                    model.kind
                ),
            },
        );
        return Err(Refusal::Invalid(out));
    }
    if route == Route::Edit && !is_edit_capable(model) {
        let models: Vec<&str> = edit_models().map(|m| m.id).collect();
        push(
            "model",
            Problem::NotSupported {
                reason: format!(
                    "this model takes no input images, so it cannot edit; edit-capable models: {}",
                    models.join(", ")
                ),
            },
        );
        return Err(Refusal::Invalid(out));
    }

    let mut body = Map::new();
    body.insert("model".into(), Value::from(model.id));
    let chars = params.prompt.chars().count() as u64;
    if chars == 0 {
        push("prompt", Problem::TooShort { len: 0, min: 1 });
    } else if route == Route::Generation && chars > MAX_PROMPT_CHARS {
        push(
            "prompt",
            Problem::TooLong {
                len: chars,
                max: MAX_PROMPT_CHARS,
            },
        );
    }
    body.insert("prompt".into(), Value::from(params.prompt.clone()));

    if let Some(n) = params.n {
        let limit = |value: u64| Limit {
            value: value as f64,
            exclusive: false,
        };
        if n < 1 {
            push(
                "n",
                Problem::BelowMinimum {
                    value: n as f64,
                    min: limit(1),
                },
            );
        } else if n as u64 > MAX_N {
            push(
                "n",
                Problem::AboveMaximum {
                    value: n as f64,
                    max: limit(MAX_N),
                },
            );
        } else if model.field("n").is_some() {
            body.insert("n".into(), Value::from(n));
        }
    }

    match params.size.as_deref() {
        None | Some("auto") => {}
        Some(size) => match parse_size(size) {
            None => push(
                "size",
                Problem::NotAllowed {
                    found: format!("{size:?}"),
                    allowed: vec!["auto", "WIDTHxHEIGHT (e.g. 1024x1024)"],
                },
            ),
            Some((w, h)) => {
                if let Some(field) = model.field("aspect_ratio") {
                    let g = gcd(w, h);
                    let ratio = format!("{}:{}", w / g, h / g);
                    if field.allows(&Value::from(ratio.clone())) {
                        body.insert("aspect_ratio".into(), Value::from(ratio));
                    } else {
                        push(
                            "size",
                            Problem::NotSupported {
                                reason: format!(
                                    "{size} has the ratio {ratio}, which this model does not offer (its aspect ratios: {})",
                                    field.enum_values.join(", ")
                                ),
                            },
                        );
                    }
                }
            }
        },
    }

    if let Some(quality) = &params.quality
        && model.field("quality").is_some()
    {
        body.insert("quality".into(), Value::from(quality.clone()));
    }
    for (name, value, allowed) in [
        ("response_format", &params.response_format, RESPONSE_FORMATS),
        ("output_format", &params.output_format, OUTPUT_FORMATS),
        ("background", &params.background, BACKGROUNDS),
    ] {
        if let Some(v) = value
            && !allowed.contains(&v.as_str())
        {
            push(
                name,
                Problem::NotAllowed {
                    found: format!("{v:?}"),
                    allowed: allowed.to_vec(),
                },
            );
        }
    }

    if route == Route::Edit {
        let count = params.images.len() as u64;
        if count == 0 {
            push("image", Problem::TooFewItems { count, min: 1 });
        } else if count > MAX_EDIT_IMAGES {
            push(
                "image",
                Problem::TooManyItems {
                    count,
                    max: MAX_EDIT_IMAGES,
                },
            );
        }
        for (i, bytes) in params.images.iter().enumerate() {
            if *bytes > MAX_EDIT_IMAGE_BYTES {
                push(
                    &format!("image[{i}]"),
                    Problem::FileTooLarge {
                        bytes: *bytes,
                        max: MAX_EDIT_IMAGE_BYTES,
                    },
                );
            }
        }
        // The uploads become the task's input images (stored by APIPod when the task is
        // created); placeholders stand in for their URLs here.
        let urls: Vec<Value> = (0..params.images.len())
            .map(|i| Value::from(format!("upload://image/{i}")))
            .collect();
        body.insert("image_urls".into(), Value::Array(urls));
    }

    // The model's own contract (prompt length, `n`, `quality`, aspect ratios, input count).
    for violation in model.validate(&body) {
        let duplicate = out.iter().any(|v| v.field == violation.field);
        if !duplicate {
            out.push(violation);
        }
    }
    if out.is_empty() {
        Ok((model, body))
    } else {
        Err(Refusal::Invalid(out))
    }
}

/// `WIDTHxHEIGHT` with positive whole numbers.
pub fn parse_size(size: &str) -> Option<(u64, u64)> {
    let (w, h) = size.trim().split_once(['x', 'X'])?;
    let (w, h): (u64, u64) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
    (w > 0 && h > 0).then_some((w, h))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// The task id in the message of a 504 [`TIMEOUT_CODE`] answer (`image task {id} did not
/// complete within 5m0s; ... GET /v1/images/status/{id}`): the id after `/status/`, else the
/// word after `task `.
///
/// ```
/// let message = "image task img_0d1c did not complete within 5m0s; the task is still \
///                processing and can be queried via GET /v1/images/status/img_0d1c";
/// assert_eq!(apipod_raw::openai::task_id_from_message(message), Some("img_0d1c"));
/// assert_eq!(apipod_raw::openai::task_id_from_message("timed out"), None);
/// ```
pub fn task_id_from_message(message: &str) -> Option<&str> {
    let is_id = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let word = |rest: &str| -> Option<usize> {
        let end = rest.find(|c: char| !is_id(c)).unwrap_or(rest.len());
        // A trailing dot ends the sentence, not the id.
        let end = rest[..end].trim_end_matches('.').len();
        (end > 0).then_some(end)
    };
    if let Some(at) = message.find("/status/") {
        let rest = &message[at + "/status/".len()..];
        if let Some(end) = word(rest) {
            return Some(&rest[..end]);
        }
    }
    let at = message.find("task ")?;
    let rest = &message[at + "task ".len()..];
    word(rest).map(|end| &rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(route: Route, params: &SyncParams) -> Vec<String> {
        match check(route, params) {
            Ok(_) => vec![],
            Err(Refusal::UnknownModel(m)) => vec![format!("unknown {m}")],
            Err(Refusal::Invalid(v)) => v.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn models_must_be_image_models_and_edits_edit_capable() {
        assert_eq!(
            refused(Route::Generation, &SyncParams::new("nope", "x")),
            ["unknown nope"]
        );
        let video = contract::of_kind(TaskKind::Video).next().unwrap();
        let msg = refused(Route::Generation, &SyncParams::new(video.id, "x"));
        assert!(msg[0].contains("image models only"), "{msg:?}");
        for model in contract::of_kind(TaskKind::Image) {
            let edit = SyncParams::new(model.id, "x").images(vec![10]);
            assert_eq!(
                check(Route::Edit, &edit).is_ok(),
                model.field("image_urls").is_some(),
                "{}",
                model.id
            );
        }
    }

    #[test]
    fn limits_of_the_docs() {
        let mut p = SyncParams::new("gpt-image-2", "x".repeat(4001));
        assert!(refused(Route::Generation, &p)[0].contains("limit is 4000"));
        p.prompt = "x".into();
        p.n = Some(11);
        assert!(refused(Route::Generation, &p)[0].contains("maximum is 10"));
        p.n = Some(3);
        p.response_format = Some("png".into());
        assert!(refused(Route::Generation, &p)[0].contains("b64_json, url"));
        p.response_format = None;
        p.size = Some("big".into());
        assert!(refused(Route::Generation, &p)[0].contains("WIDTHxHEIGHT"));
        let edit = SyncParams::new("gpt-image-2", "x").images(vec![1; 11]);
        assert!(refused(Route::Edit, &edit)[0].contains("at most 10"));
        let edit = SyncParams::new("gpt-image-2", "x").images(vec![MAX_EDIT_IMAGE_BYTES + 1]);
        assert!(refused(Route::Edit, &edit)[0].contains("image[0]"));
        let edit = SyncParams::new("gpt-image-2", "x");
        assert!(refused(Route::Edit, &edit)[0].contains("at least 1"));
    }

    #[test]
    fn sizes_map_to_the_models_ratios_and_model_limits_apply() {
        let (_, body) = check(
            Route::Generation,
            &SyncParams::new("gpt-image-2", "x").size("1536x1024"),
        )
        .unwrap();
        assert_eq!(body["aspect_ratio"], "3:2");
        let msg = refused(
            Route::Generation,
            &SyncParams::new("gpt-image-2", "x").size("1000x300"),
        );
        assert!(msg[0].contains("10:3"), "{msg:?}");
        // wan2.7-image-edit has no aspect_ratio: the size is left to the model.
        let edit = SyncParams::new("wan2.7-image-edit", "x")
            .size("1000x300")
            .images(vec![1]);
        assert!(check(Route::Edit, &edit).is_ok());
        // The model's own `n` values (wan: 1-4) and quality values apply.
        let mut p = SyncParams::new("wan2.7-image", "x");
        p.n = Some(5);
        assert!(!refused(Route::Generation, &p).is_empty());
        let mut p = SyncParams::new("seedream-v4.5", "x");
        p.quality = Some("high".into());
        assert!(refused(Route::Generation, &p)[0].contains("quality"));
        // seedream-5.0-lite's prompt limit (2000) is below the docs' 4000.
        let p = SyncParams::new("seedream-5.0-lite", "x".repeat(2001));
        assert!(refused(Route::Generation, &p)[0].contains("2000"));
        // nano-banana-pro takes at most 8 input images.
        let edit = SyncParams::new("nano-banana-pro", "x").images(vec![1; 9]);
        assert!(refused(Route::Edit, &edit)[0].contains("image_urls"));
    }

    #[test]
    fn task_ids_are_read_from_timeout_messages() {
        let m = "image task 0d1c-99 did not complete within 5m0s; the task is still processing and can be queried via GET /v1/images/status/0d1c-99";
        assert_eq!(task_id_from_message(m), Some("0d1c-99"));
        assert_eq!(
            task_id_from_message("image task img_1 did not complete."),
            Some("img_1")
        );
        assert_eq!(task_id_from_message("no id here"), None);
        assert_eq!(task_id_from_message("task "), None);
    }
}
