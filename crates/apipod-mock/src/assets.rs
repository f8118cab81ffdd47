//! The Seedance asset library: `POST /v1/assets` and `GET /v1/assets/{assetId}`.
//!
//! Like tasks, an asset stores only when it was created and a plan; its status is derived
//! from its age (tokio's clock) on every read: `NONE` → `UPLOADING` → `PROCESSING` → `ACTIVE`
//! (1.5 s in all with fixed timing, 6-35 s with [`Timing::Realistic`]), unless a marker in
//! its URL ([`asset_markers`]) picks another ending.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use apipod_raw::types::{AssetDetail, AssetResponse};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::config::{MockConfig, Timing};
use crate::faults::{mix, unit};

/// Markers in an asset's `url` that decide how its processing ends.
///
/// ```
/// use apipod_mock::asset_markers;
/// let url = format!("https://cdn.example.com/{}/a.png", asset_markers::FAIL);
/// assert_eq!(url, "https://cdn.example.com/mock-fail/a.png");
/// ```
pub mod asset_markers {
    /// The asset ends `FAILED` with an `errorMessage`.
    pub const FAIL: &str = "mock-fail";
    /// The asset ends `EXPIRED`.
    pub const EXPIRE: &str = "mock-expire";
    /// The asset ends `DELETED`.
    pub const DELETE: &str = "mock-delete";
    /// The asset never finishes: it stays `PROCESSING` (for deadline tests).
    pub const STUCK: &str = "mock-stuck";
}

/// The `errorMessage` of an asset whose URL carries [`asset_markers::FAIL`].
pub const ASSET_FAILURE_MESSAGE: &str =
    "the file could not be processed: unsupported or corrupt media";

/// Longest `name` kept, in characters (longer names are truncated, as APIPod does).
const MAX_NAME_CHARS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    Active,
    Failed,
    Expired,
    Deleted,
    Never,
}

/// One registered asset.
#[derive(Debug)]
pub(crate) struct Asset {
    pub(crate) id: String,
    pub(crate) owner: String,
    asset_type: &'static str,
    url: String,
    name: String,
    created: Instant,
    none: Duration,
    uploading: Duration,
    processing: Duration,
    ending: Ending,
}

impl Asset {
    /// The status at `now`, from the asset's age.
    pub(crate) fn status_at(&self, now: Instant) -> &'static str {
        let age = now.saturating_duration_since(self.created);
        if age < self.none {
            "NONE"
        } else if age < self.none + self.uploading {
            "UPLOADING"
        } else if age < self.none + self.uploading + self.processing {
            "PROCESSING"
        } else {
            match self.ending {
                Ending::Active => "ACTIVE",
                Ending::Failed => "FAILED",
                Ending::Expired => "EXPIRED",
                Ending::Deleted => "DELETED",
                Ending::Never => "PROCESSING",
            }
        }
    }

    /// The `{code, message, data}` body reporting `status` (`errorMessage` is always
    /// present, null unless failed, as in APIPod's examples).
    pub(crate) fn body(&self, status: &str) -> Value {
        let failed = status == "FAILED";
        let body = AssetResponse {
            code: 200,
            message: "success".into(),
            data: AssetDetail {
                asset_id: self.id.clone(),
                asset_type: Some(self.asset_type.into()),
                url: Some(self.url.clone()),
                name: Some(self.name.clone()),
                status: status.into(),
                error_message: failed.then(|| ASSET_FAILURE_MESSAGE.into()),
            },
        };
        let mut value = serde_json::to_value(&body).expect("response types serialise");
        value["data"]
            .as_object_mut()
            .expect("data is an object")
            .entry("errorMessage")
            .or_insert(Value::Null);
        value
    }
}

/// All assets of one server.
#[derive(Debug, Default)]
pub(crate) struct AssetStore {
    assets: Mutex<HashMap<String, Arc<Asset>>>,
    created: AtomicUsize,
    sequence: AtomicU64,
}

impl AssetStore {
    /// Number of assets created.
    pub fn created(&self) -> usize {
        self.created.load(Ordering::Relaxed)
    }

    /// The asset with this id.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Asset>> {
        self.assets
            .lock()
            .expect("asset store lock")
            .get(id)
            .cloned()
    }

    /// Registers an upload of `owner`.
    pub(crate) fn create(&self, upload: Upload, owner: &str, config: &MockConfig) -> Arc<Asset> {
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let (none, uploading, processing) = match config.timing {
            Timing::Realistic => {
                let h = mix(config.seed ^ 0xA55E_7000, seq);
                (
                    Duration::from_millis(500),
                    Duration::from_secs_f64(1.0 + 4.0 * unit(h)),
                    Duration::from_secs_f64(5.0 + 25.0 * unit(mix(h, 1))),
                )
            }
            _ => (
                Duration::from_millis(100),
                Duration::from_millis(300),
                Duration::from_millis(1100),
            ),
        };
        let ending = [
            (asset_markers::STUCK, Ending::Never),
            (asset_markers::FAIL, Ending::Failed),
            (asset_markers::EXPIRE, Ending::Expired),
            (asset_markers::DELETE, Ending::Deleted),
        ]
        .into_iter()
        .find(|(marker, _)| upload.url.contains(marker))
        .map_or(Ending::Active, |(_, e)| e);
        let asset = Arc::new(Asset {
            id: new_id(seq),
            owner: owner.to_string(),
            asset_type: upload.asset_type,
            url: upload.url,
            name: upload.name,
            created: Instant::now(),
            none,
            uploading,
            processing,
            ending,
        });
        self.assets
            .lock()
            .expect("asset store lock")
            .insert(asset.id.clone(), asset.clone());
        self.created.fetch_add(1, Ordering::Relaxed);
        asset
    }
}

/// An id shaped like APIPod's: `asset-<UTC yyyymmddhhmmss>-<8 lowercase letters/digits>`.
fn new_id(seq: u64) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(SystemTime::now())
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut bits = uuid::Uuid::new_v4().as_u128() ^ u128::from(seq);
    let suffix: String = (0..8)
        .map(|_| {
            let c = b"abcdefghijklmnopqrstuvwxyz0123456789"[(bits % 36) as usize];
            bits /= 36;
            char::from(c)
        })
        .collect();
    format!("asset-{stamp}-{suffix}")
}

/// A checked upload body.
pub(crate) struct Upload {
    asset_type: &'static str,
    url: String,
    name: String,
}

/// Checks an upload body field by field; the error names the field.
pub(crate) fn parse_upload(body: &[u8]) -> Result<Upload, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err("the request body must be a JSON object".into());
    };
    let text = |field: &str, object: &Map<String, Value>| match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(other) => Err(format!("`{field}` must be a string, got {other}")),
    };
    let asset_type = match text("assetType", object)? {
        None => return Err("`assetType` is required (Image, Video or Audio)".into()),
        Some(t) => ["Image", "Video", "Audio"]
            .into_iter()
            .find(|k| k.eq_ignore_ascii_case(&t))
            .ok_or_else(|| {
                format!("invalid assetType {t:?}: must be one of Image, Video, Audio")
            })?,
    };
    let url = match text("url", object)? {
        None => return Err("`url` is required".into()),
        Some(u) => u,
    };
    let parsed = reqwest::Url::parse(&url).ok();
    if !parsed.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
        return Err(format!(
            "invalid url {url:?}: must be an http(s) URL the server can fetch (no Base64 data)"
        ));
    }
    let name = text("name", object)?
        .unwrap_or_default()
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    Ok(Upload {
        asset_type,
        url,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_are_checked_field_by_field() {
        let ok = parse_upload(br#"{"assetType":"video","url":"https://x.example/a.mp4"}"#)
            .ok()
            .unwrap();
        assert_eq!(ok.asset_type, "Video");
        assert_eq!(ok.name, "");
        let long = format!(
            r#"{{"assetType":"Image","url":"http://x.example/a","name":"{}"}}"#,
            "é".repeat(60)
        );
        assert_eq!(
            parse_upload(long.as_bytes())
                .ok()
                .unwrap()
                .name
                .chars()
                .count(),
            50
        );
        for (body, field) in [
            (r#"{"url":"https://x.example/a"}"#, "assetType"),
            (
                r#"{"assetType":"Text","url":"https://x.example/a"}"#,
                "assetType",
            ),
            (r#"{"assetType":"Image"}"#, "url"),
            (
                r#"{"assetType":"Image","url":"data:image/png;base64,AA"}"#,
                "url",
            ),
            (
                r#"{"assetType":"Image","url":"https://x.example/a","name":5}"#,
                "name",
            ),
        ] {
            let err = parse_upload(body.as_bytes()).err().unwrap();
            assert!(err.contains(field), "{body}: {err}");
        }
    }

    #[test]
    fn ids_look_like_apipods() {
        let id = new_id(3);
        assert!(id.starts_with("asset-") && id.len() == "asset-20260722164336-".len() + 8);
        assert_ne!(new_id(1), new_id(1));
    }
}
