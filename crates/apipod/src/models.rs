//! Typed requests, one type per model.
//!
//! Each type starts from the prompt, has one setter per field the model accepts (enums are
//! the generated `apipod_raw::types` enums, so an invalid value cannot be typed), and is
//! validated against the model's contract from the spec when it is submitted (or with
//! `validate()`): length, item counts, ranges and required images are checked before any
//! request is sent.
//!
//! ```
//! use apipod::models::{SeedreamV45, Wan27ImageEdit};
//! use apipod::types::{SeedreamV45RequestAspectRatio, SeedreamV45RequestQuality};
//! use apipod::IntoRequest;
//!
//! let req = SeedreamV45::new("a lighthouse at dawn")
//!     .aspect_ratio(SeedreamV45RequestAspectRatio::X169)
//!     .quality(SeedreamV45RequestQuality::X4k);
//! assert!(req.validate().is_ok());
//!
//! // An edit model without an input image is rejected before anything is sent.
//! let err = Wan27ImageEdit::new("make it night").into_request().unwrap_err();
//! assert_eq!(err.to_string(), "invalid request: wan2.7-image-edit: `image_urls` is required");
//! ```

use apipod_raw::contract::{self, ModelContract};
use apipod_raw::types;
use serde_json::{Map, Value};

use crate::error::Result;
use crate::request::{GenerationRequest, IntoRequest};

macro_rules! setter {
    (text $field:ident) => {
        #[doc = concat!("Sets `", stringify!($field), "`.")]
        pub fn $field(mut self, value: impl Into<String>) -> Self {
            self.body.insert(stringify!($field).into(), Value::String(value.into()));
            self
        }
    };
    (flag $field:ident) => {
        #[doc = concat!("Sets `", stringify!($field), "`.")]
        pub fn $field(mut self, value: bool) -> Self {
            self.body.insert(stringify!($field).into(), Value::Bool(value));
            self
        }
    };
    (count $field:ident) => {
        #[doc = concat!("Sets `", stringify!($field), "` (checked against the model's allowed values on submit).")]
        pub fn $field(mut self, value: u32) -> Self {
            self.body.insert(stringify!($field).into(), Value::from(value));
            self
        }
    };
    (choice $field:ident $ty:ty) => {
        #[doc = concat!("Sets `", stringify!($field), "`.")]
        pub fn $field(mut self, value: $ty) -> Self {
            self.body.insert(
                stringify!($field).into(),
                serde_json::to_value(value).expect("generated enums serialise to strings"),
            );
            self
        }
    };
    (urls $field:ident $one:ident) => {
        #[doc = concat!("Replaces `", stringify!($field), "` with these URLs.")]
        pub fn $field<I, S>(mut self, urls: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            let list = urls.into_iter().map(|u| Value::String(u.into())).collect();
            self.body.insert(stringify!($field).into(), Value::Array(list));
            self
        }

        #[doc = concat!("Appends one URL to `", stringify!($field), "`.")]
        pub fn $one(mut self, url: impl Into<String>) -> Self {
            let entry = self
                .body
                .entry(stringify!($field))
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(list) = entry {
                list.push(Value::String(url.into()));
            }
            self
        }
    };
}

macro_rules! models {
    ($(
        $(#[$doc:meta])*
        $name:ident = $id:literal as $raw:ident {
            $($kind:ident $field:ident $(($($extra:tt)*))?;)*
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq)]
            pub struct $name {
                body: Map<String, Value>,
            }

            impl $name {
                /// The model id sent as `model`.
                pub const ID: &'static str = $id;

                /// Every field this type can set, `model` and `prompt` included.
                pub const FIELDS: &'static [&'static str] =
                    &["model", "prompt", $(stringify!($field)),*];

                /// A request with this prompt and every other field left to APIPod's default.
                pub fn new(prompt: impl Into<String>) -> Self {
                    let mut body = Map::new();
                    body.insert("model".into(), Value::String($id.into()));
                    body.insert("prompt".into(), Value::String(prompt.into()));
                    Self { body }
                }

                /// The model's contract (fields, allowed values, limits, defaults).
                pub fn contract() -> &'static ModelContract {
                    contract::find($id).expect("every typed model is in the spec")
                }

                /// Checks the request against the contract without sending anything.
                pub fn validate(&self) -> Result<()> {
                    GenerationRequest::from_contract(Self::contract(), self.body.clone()).map(drop)
                }

                /// The body as it will be sent.
                pub fn to_json(&self) -> Value {
                    Value::Object(self.body.clone())
                }

                /// Validates and converts to the generated wire type.
                pub fn into_raw(self) -> Result<types::$raw> {
                    self.validate()?;
                    Ok(serde_json::from_value(Value::Object(self.body))
                        .expect("a body that passed the contract decodes"))
                }

                $(setter!($kind $field $($($extra)*)?);)*
            }

            impl IntoRequest for $name {
                fn into_request(self) -> Result<GenerationRequest> {
                    GenerationRequest::from_contract(Self::contract(), self.body)
                }
            }
        )*

        /// The model ids of every typed request, in spec order.
        pub const TYPED_MODELS: &[(&str, &[&str])] = &[$(($id, $name::FIELDS)),*];
    };
}

models! {
    /// Nano Banana 2 (Gemini 3.1 Flash Image): generation and editing, up to 14 reference images.
    NanoBanana2 = "nano-banana-2" as NanoBanana2Request {
        urls image_urls (image_url);
        choice aspect_ratio (types::NanoBanana2RequestAspectRatio);
        choice quality (types::NanoBanana2RequestQuality);
    }
    /// Nano Banana Pro (Gemini 3 Pro Image): flagship generation and editing, up to 8 reference images.
    NanoBananaPro = "nano-banana-pro" as NanoBananaProRequest {
        urls image_urls (image_url);
        choice quality (types::NanoBananaProRequestQuality);
        choice aspect_ratio (types::NanoBananaProRequestAspectRatio);
        text callback_url;
    }
    /// Seedream 4.5 text-to-image.
    SeedreamV45 = "seedream-v4.5" as SeedreamV45Request {
        choice quality (types::SeedreamV45RequestQuality);
        choice aspect_ratio (types::SeedreamV45RequestAspectRatio);
        text callback_url;
    }
    /// Seedream 4.5 image editing (1-14 input images).
    SeedreamV45Edit = "seedream-v4.5-edit" as SeedreamV45EditRequest {
        urls image_urls (image_url);
        choice quality (types::SeedreamV45EditRequestQuality);
        choice aspect_ratio (types::SeedreamV45EditRequestAspectRatio);
        text callback_url;
    }
    /// Seedream 5.0 Lite text-to-image.
    Seedream50Lite = "seedream-5.0-lite" as Seedream50LiteRequest {
        choice quality (types::Seedream50LiteRequestQuality);
        choice aspect_ratio (types::Seedream50LiteRequestAspectRatio);
    }
    /// Seedream 5.0 Lite image editing (1-14 input images).
    Seedream50LiteEdit = "seedream-5.0-lite-edit" as Seedream50LiteEditRequest {
        urls image_urls (image_url);
        choice quality (types::Seedream50LiteEditRequestQuality);
        choice aspect_ratio (types::Seedream50LiteEditRequestAspectRatio);
    }
    /// WAN 2.7 Image text-to-image (1-4 images).
    Wan27Image = "wan2.7-image" as Wan27ImageRequest {
        choice size (types::Wan27ImageRequestSize);
        choice aspect_ratio (types::Wan27ImageRequestAspectRatio);
        flag thinking_mode;
        flag watermark;
        count n;
    }
    /// WAN 2.7 Image editing (1-9 input images).
    Wan27ImageEdit = "wan2.7-image-edit" as Wan27ImageEditRequest {
        urls image_urls (image_url);
        choice size (types::Wan27ImageEditRequestSize);
        flag watermark;
        count n;
    }
    /// WAN 2.7 Image Pro text-to-image, up to 4K.
    Wan27ImagePro = "wan2.7-image-pro" as Wan27ImageProRequest {
        choice size (types::Wan27ImageProRequestSize);
        choice aspect_ratio (types::Wan27ImageProRequestAspectRatio);
        flag thinking_mode;
        flag watermark;
        count n;
    }
    /// WAN 2.7 Image Pro editing (1-9 input images).
    Wan27ImageProEdit = "wan2.7-image-pro-edit" as Wan27ImageProEditRequest {
        urls image_urls (image_url);
        choice size (types::Wan27ImageProEditRequestSize);
        flag watermark;
        count n;
    }
    /// Veo 3.1 Fast: text-to-video or start/end-frame guided video with audio.
    Veo31Fast = "veo3-1-fast" as Veo31FastRequest {
        urls image_urls (image_url);
        choice aspect_ratio (types::Veo31FastRequestAspectRatio);
        text callback_url;
    }
    /// Seedance 2.0 text-to-video.
    Seedance20T2v = "seedance-2.0-t2v" as Seedance20T2vRequest {
        count duration;
        choice resolution (types::Seedance20T2vRequestResolution);
        choice aspect_ratio (types::Seedance20T2vRequestAspectRatio);
        flag web_search;
        flag watermark;
        flag generate_audio;
        flag return_last_frame;
    }
    /// Seedance 2.0 image-to-video (first frame, optional last frame).
    Seedance20I2v = "seedance-2.0-i2v" as Seedance20I2vRequest {
        urls image_urls (image_url);
        count duration;
        choice resolution (types::Seedance20I2vRequestResolution);
        choice aspect_ratio (types::Seedance20I2vRequestAspectRatio);
        flag watermark;
        flag web_search;
        flag generate_audio;
        flag return_last_frame;
    }
    /// Seedance 2.0 reference-to-video (reference images, videos and audio).
    Seedance20R2v = "seedance-2.0-r2v" as Seedance20R2vRequest {
        urls image_urls (image_url);
        urls video_urls (video_url);
        urls audio_urls (audio_url);
        count duration;
        choice resolution (types::Seedance20R2vRequestResolution);
        choice aspect_ratio (types::Seedance20R2vRequestAspectRatio);
        flag watermark;
        flag web_search;
        flag generate_audio;
        flag return_last_frame;
    }
    /// Seedance 2.0 Fast text-to-video.
    Seedance20FastT2v = "seedance-2.0-fast-t2v" as Seedance20FastT2vRequest {
        choice resolution (types::Seedance20FastT2vRequestResolution);
        choice aspect_ratio (types::Seedance20FastT2vRequestAspectRatio);
        count duration;
        flag web_search;
        flag generate_audio;
        flag watermark;
        flag return_last_frame;
    }
    /// Seedance 2.0 Fast image-to-video.
    Seedance20FastI2v = "seedance-2.0-fast-i2v" as Seedance20FastI2vRequest {
        count duration;
        flag watermark;
        urls image_urls (image_url);
        choice resolution (types::Seedance20FastI2vRequestResolution);
        flag web_search;
        choice aspect_ratio (types::Seedance20FastI2vRequestAspectRatio);
        flag generate_audio;
        flag return_last_frame;
    }
    /// Seedance 2.0 Fast reference-to-video.
    Seedance20FastR2v = "seedance-2.0-fast-r2v" as Seedance20FastR2vRequest {
        count duration;
        flag watermark;
        urls audio_urls (audio_url);
        urls image_urls (image_url);
        choice resolution (types::Seedance20FastR2vRequestResolution);
        urls video_urls (video_url);
        flag web_search;
        choice aspect_ratio (types::Seedance20FastR2vRequestAspectRatio);
        flag generate_audio;
        flag return_last_frame;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn typed_models_cover_the_spec_exactly() {
        let typed: BTreeSet<&str> = TYPED_MODELS.iter().map(|(id, _)| *id).collect();
        let spec: BTreeSet<&str> = contract::MODELS.iter().map(|m| m.id).collect();
        assert_eq!(typed, spec, "a model was added to or removed from the spec");
        for (id, fields) in TYPED_MODELS {
            let typed: BTreeSet<&str> = fields.iter().copied().collect();
            let spec: BTreeSet<&str> = contract::find(id)
                .unwrap()
                .fields
                .iter()
                .map(|f| f.name)
                .collect();
            assert_eq!(typed, spec, "{id}: setters differ from the spec's fields");
        }
    }

    #[test]
    fn builds_the_generated_type() {
        let raw = Seedance20R2v::new("p")
            .image_url("https://x/1.png")
            .video_url("https://x/1.mp4")
            .duration(8)
            .generate_audio(false)
            .into_raw()
            .unwrap();
        assert_eq!(raw.image_urls, vec!["https://x/1.png".to_string()]);
        assert_eq!(raw.generate_audio, Some(false));
    }

    #[test]
    fn rejects_before_sending() {
        let long = "x".repeat(1001);
        let err = Seedance20T2v::new(long).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid request: seedance-2.0-t2v: `prompt` is 1001 characters long; the limit is 1000"
        );
        let err = NanoBananaPro::new("p")
            .image_urls((0..9).map(|i| format!("https://x/{i}.png")))
            .validate()
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("`image_urls` has 9 items; at most 8 allowed")
        );
        let err = Wan27Image::new("p").n(5).validate().unwrap_err();
        assert!(
            err.to_string()
                .contains("`n` is 5; allowed values: 1, 2, 3, 4")
        );
        let err = Seedance20FastI2v::new("p").validate().unwrap_err();
        assert!(err.to_string().contains("`image_urls` is required"));
    }
}
