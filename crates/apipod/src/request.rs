//! What `submit` sends: a validated body for one model, typed or raw.

use apipod_raw::contract::{self, TaskKind};
use apipod_raw::types;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// A request ready to submit: the model, its kind and a body that passed validation.
///
/// Build one from a typed model (`SeedreamV45::new(..)`), from JSON with
/// [`GenerationRequest::from_json`] (validated against the model's contract), or with
/// [`GenerationRequest::raw`] for a model this SDK does not know yet.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationRequest {
    pub(crate) model: String,
    pub(crate) kind: TaskKind,
    pub(crate) body: Body,
    /// The body's `callback_url`, when set (kept apart: submits need it, and reading it from
    /// the wire type would mean serialising the body).
    pub(crate) callback_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Image(types::ImageGenerationRequest),
    Video(types::VideoGenerationRequest),
    Raw(Value),
}

impl GenerationRequest {
    /// Validates a JSON body against its model's contract (the model comes from `"model"`)
    /// and converts it to the generated wire type.
    ///
    /// ```
    /// use apipod::GenerationRequest;
    ///
    /// let ok = GenerationRequest::from_json(serde_json::json!({
    ///     "model": "seedream-v4.5", "prompt": "a lighthouse", "quality": "4K"
    /// }));
    /// assert!(ok.is_ok());
    /// let err = GenerationRequest::from_json(serde_json::json!({
    ///     "model": "seedream-v4.5", "prompt": "a lighthouse", "quality": "8K"
    /// })).unwrap_err();
    /// assert!(err.to_string().contains("`quality` is \"8K\"; allowed values: 2K, 4K"));
    /// ```
    pub fn from_json(body: Value) -> Result<Self> {
        let Value::Object(map) = body else {
            return Err(Error::InvalidArgument {
                argument: "body",
                message: "a request body must be a JSON object".into(),
            });
        };
        let model = match map.get("model") {
            Some(Value::String(m)) => m.clone(),
            _ => {
                return Err(Error::InvalidArgument {
                    argument: "body",
                    message: "the request body has no \"model\" string".into(),
                });
            }
        };
        Self::for_model(&model, map)
    }

    /// Validates `map` as a body for model `id` and converts it to the wire type.
    pub(crate) fn for_model(id: &str, map: Map<String, Value>) -> Result<Self> {
        let contract = contract::find(id).ok_or_else(|| Error::UnknownModel {
            model: id.to_string(),
            known: contract::MODELS.len(),
        })?;
        Self::from_contract(contract, map)
    }

    pub(crate) fn from_contract(
        contract: &'static contract::ModelContract,
        map: Map<String, Value>,
    ) -> Result<Self> {
        let violations = contract.validate(&map);
        if !violations.is_empty() {
            return Err(Error::InvalidRequest {
                model: contract.id.to_string(),
                violations,
            });
        }
        let callback_url = callback_url_in(&map);
        // Straight into the model's own generated type: the per-kind enum is untagged, and
        // letting serde try its variants in order would cost one failed decode per model
        // listed before this one.
        let body = match contract.decoder.decode(Value::Object(map)) {
            Ok(contract::WireBody::Image(b)) => Body::Image(b),
            Ok(contract::WireBody::Video(b)) => Body::Video(b),
            Err(e) => {
                return Err(Error::InvalidArgument {
                    argument: "body",
                    message: format!(
                        "{}: body passed the contract but not the generated wire type ({e}); please report this",
                        contract.id
                    ),
                });
            }
        };
        Ok(Self {
            model: contract.id.to_string(),
            kind: contract.kind,
            body,
            callback_url,
        })
    }

    /// A body sent as is, for a model this SDK does not type yet. Only the presence of a
    /// `"model"` string is checked; APIPod validates the rest.
    pub fn raw(kind: TaskKind, body: Value) -> Result<Self> {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidArgument {
                argument: "body",
                message: "a raw request body needs a \"model\" string".into(),
            })?
            .to_string();
        let callback_url = body.as_object().and_then(callback_url_in);
        Ok(Self {
            model,
            kind,
            body: Body::Raw(body),
            callback_url,
        })
    }

    /// Model id.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Image or video.
    pub fn kind(&self) -> TaskKind {
        self.kind
    }

    /// The body as JSON, exactly as it will be sent.
    pub fn to_json(&self) -> Value {
        match &self.body {
            Body::Image(b) => serde_json::to_value(b),
            Body::Video(b) => serde_json::to_value(b),
            Body::Raw(b) => Ok(b.clone()),
        }
        .unwrap_or(Value::Null)
    }

    /// The `callback_url` in the body, if any.
    pub fn callback_url(&self) -> Option<String> {
        self.callback_url.clone()
    }
}

/// Anything `submit` accepts: typed model requests, [`GenerationRequest`].
pub trait IntoRequest {
    /// Validates and converts.
    fn into_request(self) -> Result<GenerationRequest>;
}

impl IntoRequest for GenerationRequest {
    fn into_request(self) -> Result<GenerationRequest> {
        Ok(self)
    }
}

impl IntoRequest for Result<GenerationRequest> {
    fn into_request(self) -> Result<GenerationRequest> {
        self
    }
}

/// A body's `callback_url`, when it is a non-empty string.
fn callback_url_in(body: &Map<String, Value>) -> Option<String> {
    match body.get("callback_url") {
        Some(Value::String(url)) if !url.is_empty() => Some(url.clone()),
        _ => None,
    }
}
