//! Typed requests of the synchronous images API, validated before anything is sent.

use std::fmt;

use crate::error::{Error, Result};
use apipod_raw::contract;
use apipod_raw::openai::{self as rules, Refusal, Route, SyncParams};

pub use super::input::EditImage;

/// How the images come back in the answer.
///
/// ```
/// use apipod::openai::ResponseFormat;
/// assert_eq!("url".parse::<ResponseFormat>(), Ok(ResponseFormat::Url));
/// assert_eq!(ResponseFormat::default().as_str(), "b64_json");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseFormat {
    /// Inline, base64-encoded (APIPod's default); decoded to bytes by the SDK.
    #[default]
    B64Json,
    /// As asset URLs, downloaded with [`SyncResult::save_all`](super::SyncResult::save_all).
    Url,
}

/// The image file format, for models that let you choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutputFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP.
    Webp,
}

/// Background handling, for models that let you choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Background {
    /// The model decides.
    Auto,
    /// An opaque background.
    Opaque,
}

macro_rules! wire_names {
    ($($ty:ty { $($variant:ident => $wire:literal),+ $(,)? })+) => {$(
        impl $ty {
            /// The value as sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> std::result::Result<Self, String> {
                match s { $($wire => Ok(Self::$variant),)+ other => Err(format!(
                    "{other:?} is not one of: {}", [$($wire),+].join(", ")
                )) }
            }
        }
    )+};
}

wire_names! {
    ResponseFormat { B64Json => "b64_json", Url => "url" }
    OutputFormat { Png => "png", Jpeg => "jpeg", Webp => "webp" }
    Background { Auto => "auto", Opaque => "opaque" }
}

/// The options both calls share.
#[derive(Debug, Clone, Default, PartialEq)]
struct Common {
    n: Option<u8>,
    size: Option<String>,
    quality: Option<String>,
    response_format: Option<ResponseFormat>,
    output_format: Option<OutputFormat>,
    background: Option<Background>,
}

impl Common {
    fn params(&self, model: &str, prompt: &str) -> SyncParams {
        let mut p = SyncParams::new(model, prompt);
        p.n = self.n.map(i64::from);
        p.size = self.size.clone();
        p.quality = self.quality.clone();
        p.response_format = self.response_format.map(|f| f.as_str().to_string());
        p.output_format = self.output_format.map(|f| f.as_str().to_string());
        p.background = self.background.map(|f| f.as_str().to_string());
        p
    }
}

macro_rules! common_setters {
    ($ty:ident) => {
        impl $ty {
            /// How many images to make (1 to 10; the model's own limit applies too).
            pub fn n(mut self, n: u8) -> Self {
                self.common.n = Some(n);
                self
            }

            /// Output size as `WIDTHxHEIGHT` (e.g. `1024x1024`) or `auto`. A model with an
            /// `aspect_ratio` field must offer the size's ratio.
            pub fn size(mut self, size: impl Into<String>) -> Self {
                self.common.size = Some(size.into());
                self
            }

            /// Quality tier; must be one of the model's `quality` values when it has that
            /// field (see `apipod models MODEL`), ignored otherwise.
            pub fn quality(mut self, quality: impl Into<String>) -> Self {
                self.common.quality = Some(quality.into());
                self
            }

            /// Inline base64 (default) or URLs.
            pub fn response_format(mut self, format: ResponseFormat) -> Self {
                self.common.response_format = Some(format);
                self
            }

            /// The image file format, for models that let you choose.
            pub fn output_format(mut self, format: OutputFormat) -> Self {
                self.common.output_format = Some(format);
                self
            }

            /// Background handling, for models that let you choose.
            pub fn background(mut self, background: Background) -> Self {
                self.common.background = Some(background);
                self
            }

            /// The model id.
            pub fn model(&self) -> &str {
                &self.model
            }
        }
    };
}

/// A synchronous image generation (`POST /openai/v1/images/generations`).
///
/// ```
/// use apipod::openai::{ImageGeneration, ResponseFormat};
///
/// let request = ImageGeneration::new("gpt-image-2", "a watercolor castle above clouds")
///     .size("1536x1024")
///     .n(2)
///     .response_format(ResponseFormat::Url);
/// assert!(request.validate().is_ok());
///
/// // Checked against the docs' limits and the model's contract before anything is sent.
/// let err = ImageGeneration::new("gpt-image-2", "x".repeat(4001)).validate().unwrap_err();
/// assert!(err.to_string().contains("`prompt` is 4001 characters long; the limit is 4000"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageGeneration {
    model: String,
    prompt: String,
    common: Common,
}

common_setters!(ImageGeneration);

impl ImageGeneration {
    /// A generation with any image model of the catalog.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        ImageGeneration {
            model: model.into(),
            prompt: prompt.into(),
            common: Common::default(),
        }
    }

    /// Checks the request as the server would, without sending it.
    pub fn validate(&self) -> Result<()> {
        self.checked().map(|_| ())
    }

    /// The validated JSON body.
    pub(crate) fn checked(&self) -> Result<serde_json::Value> {
        let params = self.common.params(&self.model, &self.prompt);
        refused(rules::check(Route::Generation, &params))?;
        let mut body = serde_json::json!({"model": self.model, "prompt": self.prompt});
        let fields = [
            ("n", params.n.map(serde_json::Value::from)),
            ("size", params.size.map(Into::into)),
            ("quality", params.quality.map(Into::into)),
            ("response_format", params.response_format.map(Into::into)),
            ("output_format", params.output_format.map(Into::into)),
            ("background", params.background.map(Into::into)),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                body[name] = v;
            }
        }
        Ok(body)
    }
}

/// A synchronous image edit (`POST /openai/v1/images/edits`, sent as
/// `multipart/form-data`).
///
/// ```
/// use apipod::openai::{EditImage, ImageEdit};
///
/// let cat = EditImage::new("cat.png", b"\x89PNG\r\n\x1a\n...".to_vec());
/// let request = ImageEdit::new("gpt-image-2", "add a red wool hat").image(cat);
/// assert!(request.validate().is_ok());
///
/// // Edits need a model that takes input images (decided from the contract).
/// let text_only = ImageEdit::new("seedream-v4.5", "add a hat")
///     .image(EditImage::new("a.png", vec![0u8; 8]));
/// assert!(text_only.validate().unwrap_err().to_string().contains("cannot edit"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImageEdit {
    model: String,
    prompt: String,
    pub(crate) images: Vec<EditImage>,
    pub(crate) mask: Option<EditImage>,
    common: Common,
}

common_setters!(ImageEdit);

impl ImageEdit {
    /// An edit with an edit-capable model (one that takes input images).
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        ImageEdit {
            model: model.into(),
            prompt: prompt.into(),
            images: Vec::new(),
            mask: None,
            common: Common::default(),
        }
    }

    /// Adds an input image (1 to 10, at most 10 MB each).
    pub fn image(mut self, image: EditImage) -> Self {
        self.images.push(image);
        self
    }

    /// A PNG whose transparent pixels mark where the edit applies (honoured by the GPT
    /// Image family; other models edit the whole image).
    pub fn mask(mut self, mask: EditImage) -> Self {
        self.mask = Some(mask);
        self
    }

    /// Checks the request as the server would, without sending it.
    pub fn validate(&self) -> Result<()> {
        let mut params = self.common.params(&self.model, &self.prompt);
        params.images = self.images.iter().map(|i| i.len() as u64).collect();
        params.mask = self.mask.as_ref().map(|m| m.len() as u64);
        refused(rules::check(Route::Edit, &params))
    }

    /// The text parts of the form, in order.
    pub(crate) fn text_fields(&self) -> Vec<(&'static str, String)> {
        let p = self.common.params(&self.model, &self.prompt);
        let mut out = vec![("model", p.model), ("prompt", p.prompt)];
        let optional = [
            ("n", p.n.map(|n| n.to_string())),
            ("size", p.size),
            ("quality", p.quality),
            ("response_format", p.response_format),
            ("output_format", p.output_format),
            ("background", p.background),
        ];
        out.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        out
    }
}

fn refused<T>(outcome: std::result::Result<T, Refusal>) -> Result<()> {
    match outcome {
        Ok(_) => Ok(()),
        Err(Refusal::UnknownModel(model)) => Err(Error::UnknownModel {
            model,
            known: contract::MODELS.len(),
        }),
        Err(Refusal::Invalid(violations)) => Err(Error::InvalidRequest {
            model: violations
                .first()
                .map(|v| v.model.clone())
                .unwrap_or_default(),
            violations,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_carry_only_what_was_set() {
        let body = ImageGeneration::new("gpt-image-2", "x")
            .n(2)
            .output_format(OutputFormat::Webp)
            .checked()
            .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"model": "gpt-image-2", "prompt": "x", "n": 2, "output_format": "webp"})
        );
        let edit = ImageEdit::new("gpt-image-2", "x").background(Background::Opaque);
        assert_eq!(
            edit.text_fields(),
            vec![
                ("model", "gpt-image-2".into()),
                ("prompt", "x".into()),
                ("background", "opaque".into())
            ]
        );
    }

    #[test]
    fn unknown_models_and_limits_are_refused_before_sending() {
        assert!(matches!(
            ImageGeneration::new("no-such-model", "x").validate(),
            Err(Error::UnknownModel { .. })
        ));
        let eleven = (0..11).fold(ImageEdit::new("gpt-image-2", "x"), |e, i| {
            e.image(EditImage::new(format!("{i}.png"), vec![0u8; 4]))
        });
        assert!(
            eleven
                .validate()
                .unwrap_err()
                .to_string()
                .contains("at most 10")
        );
        let big = ImageEdit::new("gpt-image-2", "x")
            .image(EditImage::new("big.png", vec![0u8; 10 * 1024 * 1024 + 1]));
        assert!(big.validate().unwrap_err().to_string().contains("bytes"));
        assert_eq!("url".parse::<ResponseFormat>(), Ok(ResponseFormat::Url));
    }
}
