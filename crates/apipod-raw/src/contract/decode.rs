//! Decoding a request body straight into its model's generated wire type.
//!
//! The per-kind request enums (`ImageGenerationRequest`, `VideoGenerationRequest`) are
//! untagged: serde would try their variants one by one, paying one failed decode for each
//! model listed before the right one. Each contract entry carries instead a [`Decoder`]
//! for its own generated type, instantiated by the generated table.

use std::fmt;

use serde_json::Value;

use crate::types::{ImageGenerationRequest, VideoGenerationRequest};

/// A request body in its generated wire type.
#[derive(Debug, Clone, PartialEq)]
pub enum WireBody {
    /// An image generation request.
    Image(ImageGenerationRequest),
    /// A video generation request.
    Video(VideoGenerationRequest),
}

/// Decodes one model's bodies into its generated type (see
/// [`ModelContract::decoder`](super::ModelContract::decoder)).
#[derive(Clone, Copy)]
pub struct Decoder(pub(super) fn(Value) -> Result<WireBody, serde_json::Error>);

impl Decoder {
    /// `body` as the model's generated request type, wrapped in its kind's enum.
    pub fn decode(&self, body: Value) -> Result<WireBody, serde_json::Error> {
        (self.0)(body)
    }
}

/// A decoder follows from its contract's `kind` and `schema`, which the contract's own
/// equality compares; function pointers themselves have no meaningful equality.
impl PartialEq for Decoder {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Decoder")
    }
}

/// The decoder of an image model whose generated type is `T`.
pub(super) const fn image<T>() -> Decoder
where
    T: serde::de::DeserializeOwned + Into<ImageGenerationRequest>,
{
    Decoder(|body| serde_json::from_value::<T>(body).map(|b| WireBody::Image(b.into())))
}

/// The decoder of a video model whose generated type is `T`.
pub(super) const fn video<T>() -> Decoder
where
    T: serde::de::DeserializeOwned + Into<VideoGenerationRequest>,
{
    Decoder(|body| serde_json::from_value::<T>(body).map(|b| WireBody::Video(b.into())))
}
