//! The Seedance asset library: register a file by URL, read it back, wait until it is usable.
//!
//! Seedance 2.0/2.5 requests accept `assetId://{id}` wherever they take an image, video or
//! audio URL, but only once the asset is `ACTIVE`. [`Client::upload_asset`] registers a file,
//! [`Client::asset`] reads one, and [`Client::wait_for_asset`] polls until it is `ACTIVE`.
//!
//! [`Client::upload_asset`]: crate::Client::upload_asset
//! [`Client::asset`]: crate::Client::asset
//! [`Client::wait_for_asset`]: crate::Client::wait_for_asset

use std::fmt;
use std::time::Duration;

use apipod_raw::contract::{Problem, Violation};
use apipod_raw::types;

use crate::error::{Error, Result};

mod requests;
pub(crate) mod status;

pub use status::AssetStatus;

/// The prefix of an asset reference: `assetId://{id}`.
pub const ASSET_REFERENCE_PREFIX: &str = "assetId://";

/// Longest asset id accepted (without the `assetId://` prefix).
pub const MAX_ASSET_ID_LEN: usize = 255;

/// Default deadline of [`Client::wait_for_asset`](crate::Client::wait_for_asset): 10 minutes.
pub const DEFAULT_ASSET_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// The kind of media an asset holds.
///
/// ```
/// use apipod::AssetType;
/// assert_eq!(AssetType::Video.as_str(), "Video");
/// assert_eq!(AssetType::from_wire("audio"), Some(AssetType::Audio));
/// assert_eq!(AssetType::from_wire("text"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssetType {
    /// A picture (Seedance `image_url`/`image_urls`).
    Image,
    /// A video clip (Seedance `video_urls`).
    Video,
    /// A sound track (Seedance `audio_url`/`audio_urls`).
    Audio,
}

impl AssetType {
    /// Every documented type.
    pub const ALL: [AssetType; 3] = [AssetType::Image, AssetType::Video, AssetType::Audio];

    /// The wire text: `Image`, `Video` or `Audio`.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetType::Image => "Image",
            AssetType::Video => "Video",
            AssetType::Audio => "Audio",
        }
    }

    /// The type named by `s`, compared case-insensitively as APIPod does; `None` for a type
    /// this version does not know.
    pub fn from_wire(s: &str) -> Option<AssetType> {
        AssetType::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s.trim()))
    }

    fn to_raw(self) -> types::AssetUploadRequestAssetType {
        match self {
            AssetType::Image => types::AssetUploadRequestAssetType::Image,
            AssetType::Video => types::AssetUploadRequestAssetType::Video,
            AssetType::Audio => types::AssetUploadRequestAssetType::Audio,
        }
    }
}

impl fmt::Display for AssetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request to register a file in the asset library: its URL, its type and an optional
/// name. Checked before sending by [`Client::upload_asset`](crate::Client::upload_asset).
///
/// ```
/// use apipod::{AssetType, AssetUpload};
/// let upload = AssetUpload::new("https://cdn.example.com/person.png", AssetType::Image)
///     .with_name("Person reference");
/// assert_eq!(upload.name(), Some("Person reference"));
/// assert!(upload.validate().is_ok());
/// assert!(AssetUpload::new("data:image/png;base64,AAAA", AssetType::Image).validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetUpload {
    url: String,
    asset_type: AssetType,
    name: Option<String>,
}

impl AssetUpload {
    /// A file at `url` (http or https, reachable by APIPod) of this type.
    pub fn new(url: impl Into<String>, asset_type: AssetType) -> Self {
        Self {
            url: url.into(),
            asset_type,
            name: None,
        }
    }

    /// Sets the asset's name (APIPod keeps its first 50 characters).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The file's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The file's type.
    pub fn asset_type(&self) -> AssetType {
        self.asset_type
    }

    /// The name, when set.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Checks the request: `url` must be an absolute http(s) URL. Fails with
    /// [`Error::InvalidRequest`] naming the field.
    pub fn validate(&self) -> Result<()> {
        let problem = if self.url.trim().is_empty() {
            Some(Problem::Missing)
        } else {
            match reqwest::Url::parse(self.url.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => None,
                _ => Some(Problem::NotAllowed {
                    found: serde_json::Value::from(self.url.as_str()).to_string(),
                    allowed: vec!["an http:// or https:// URL"],
                }),
            }
        };
        match problem {
            None => Ok(()),
            Some(problem) => Err(Error::InvalidRequest {
                model: "asset".into(),
                violations: vec![Violation {
                    model: "asset".into(),
                    field: "url".into(),
                    problem,
                }],
            }),
        }
    }

    fn to_raw(&self) -> types::AssetUploadRequest {
        types::AssetUploadRequest {
            asset_type: self.asset_type.to_raw(),
            name: self.name.clone(),
            url: self.url.trim().to_string(),
        }
    }
}

/// One read of an asset of the Seedance asset library.
///
/// ```
/// use apipod::{Asset, AssetStatus, AssetType};
/// let detail: apipod::raw::types::AssetDetail = serde_json::from_value(serde_json::json!({
///     "assetId": "asset-1", "assetType": "Image", "status": "ACTIVE",
///     "url": "https://cdn.example.com/a.png", "name": "a", "errorMessage": null,
///     "someFieldAddedLater": 1
/// })).unwrap();
/// let asset = Asset::from_raw(detail);
/// assert_eq!(asset.reference(), "assetId://asset-1");
/// assert_eq!(asset.asset_type(), Some(AssetType::Image));
/// assert_eq!(asset.status(), &AssetStatus::Active);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Asset {
    detail: types::AssetDetail,
    status: AssetStatus,
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

impl Asset {
    /// An asset from a decoded `data` object of the generated wire layer.
    pub fn from_raw(detail: crate::raw::types::AssetDetail) -> Self {
        let status = AssetStatus::from_wire(&detail.status);
        Self {
            detail,
            status,
            request_id: None,
            retry_after: None,
        }
    }

    /// The asset id (bare, as APIPod returns it).
    pub fn id(&self) -> &str {
        &self.detail.asset_id
    }

    /// The reference to put in a Seedance request: `assetId://{id}`.
    pub fn reference(&self) -> String {
        format!("{ASSET_REFERENCE_PREFIX}{}", self.detail.asset_id)
    }

    /// The type, when it is one this version knows (see [`Asset::asset_type_str`]).
    pub fn asset_type(&self) -> Option<AssetType> {
        self.detail
            .asset_type
            .as_deref()
            .and_then(AssetType::from_wire)
    }

    /// The type as sent, when sent.
    pub fn asset_type_str(&self) -> Option<&str> {
        self.detail.asset_type.as_deref()
    }

    /// The source URL the asset was registered from, when sent.
    pub fn url(&self) -> Option<&str> {
        self.detail.url.as_deref()
    }

    /// The asset's name, when sent (and not empty).
    pub fn name(&self) -> Option<&str> {
        self.detail.name.as_deref().filter(|n| !n.is_empty())
    }

    /// The processing state (unknown values kept).
    pub fn status(&self) -> &AssetStatus {
        &self.status
    }

    /// True when the asset can be used in a generation request.
    pub fn is_active(&self) -> bool {
        self.status.is_active()
    }

    /// Why processing failed, when APIPod says.
    pub fn error_message(&self) -> Option<&str> {
        self.detail
            .error_message
            .as_deref()
            .filter(|m| !m.is_empty())
    }

    /// `X-Request-ID` of the request that returned this state.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The decoded `data` object exactly as the generated wire layer holds it, for fields
    /// this type has no accessor for.
    pub fn raw(&self) -> &crate::raw::types::AssetDetail {
        &self.detail
    }
}

/// The bare id in `input` (a bare id or `assetId://{id}`), checked: 1 to 255 characters,
/// no whitespace, control characters, slashes, `?`, `#` or dot-only ids.
pub(crate) fn bare_asset_id(input: &str) -> Result<&str> {
    let id = input.strip_prefix(ASSET_REFERENCE_PREFIX).unwrap_or(input);
    let problem = if id.is_empty() {
        Some("it is empty".to_string())
    } else if id.chars().count() > MAX_ASSET_ID_LEN {
        Some(format!("it is longer than {MAX_ASSET_ID_LEN} characters"))
    } else if let Some(c) = id
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '/' | '\\' | '?' | '#'))
    {
        Some(format!("it contains {c:?}"))
    } else if id.chars().all(|c| c == '.') {
        Some("it is only dots".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(id),
        Some(why) => Err(Error::InvalidArgument {
            argument: "asset_id",
            message: format!(
                "{:?} is not an asset id: {why} (expected e.g. asset-20260722164336-p4mms or \
                 {ASSET_REFERENCE_PREFIX}asset-20260722164336-p4mms)",
                crate::error::excerpt(input.as_bytes())
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_before_sending() {
        assert_eq!(bare_asset_id("asset-1").unwrap(), "asset-1");
        assert_eq!(bare_asset_id("assetId://asset-1").unwrap(), "asset-1");
        for bad in ["", "assetId://", "a b", "a/b", "..", "a\n", "x?y", "a#b"] {
            assert!(
                matches!(bare_asset_id(bad), Err(Error::InvalidArgument { .. })),
                "{bad:?}"
            );
        }
        assert!(bare_asset_id(&"a".repeat(255)).is_ok());
        assert!(bare_asset_id(&"a".repeat(256)).is_err());
    }

    #[test]
    fn uploads_need_an_http_url() {
        let ok = AssetUpload::new(" https://x.example/a.mp4 ", AssetType::Video);
        assert!(ok.validate().is_ok());
        assert_eq!(ok.to_raw().url, "https://x.example/a.mp4");
        for bad in [
            "",
            "ftp://x.example/a",
            "not a url",
            "data:audio/mp3;base64,AA",
        ] {
            let err = AssetUpload::new(bad, AssetType::Audio)
                .validate()
                .unwrap_err();
            assert!(err.to_string().contains("`url`"), "{err}");
        }
    }
}
