//! The asset status, kept open to values APIPod adds later.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An asset's processing state, kept open to values APIPod adds later.
///
/// `NONE`, `UPLOADING` and `PROCESSING` are transient; `ACTIVE` is the only usable state;
/// `FAILED`, `EXPIRED` and `DELETED` end a wait with [`Error::AssetUnusable`](crate::Error::AssetUnusable). Decoding is
/// tolerant (and case-insensitive): an unlisted value becomes [`AssetStatus::Unknown`] with
/// the text kept.
///
/// ```
/// use apipod::AssetStatus;
/// let s: AssetStatus = serde_json::from_str("\"ACTIVE\"").unwrap();
/// assert!(s.is_active());
/// let later: AssetStatus = serde_json::from_str("\"ARCHIVED\"").unwrap();
/// assert_eq!(later, AssetStatus::Unknown("ARCHIVED".into()));
/// assert_eq!(serde_json::to_string(&later).unwrap(), "\"ARCHIVED\"");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AssetStatus {
    /// Recorded, processing not started.
    None,
    /// The file is being fetched.
    Uploading,
    /// The file is being processed.
    Processing,
    /// Processed: usable as `assetId://{id}`.
    Active,
    /// Processing failed (see the asset's error message).
    Failed,
    /// The asset expired; upstream may reprocess it, otherwise upload it again.
    Expired,
    /// The asset was deleted or invalidated.
    Deleted,
    /// A value this version does not know, as sent.
    Unknown(String),
}

impl AssetStatus {
    /// Every documented status.
    pub const KNOWN: [AssetStatus; 7] = [
        AssetStatus::None,
        AssetStatus::Uploading,
        AssetStatus::Processing,
        AssetStatus::Active,
        AssetStatus::Failed,
        AssetStatus::Expired,
        AssetStatus::Deleted,
    ];

    /// The wire text, e.g. `PROCESSING`.
    pub fn as_str(&self) -> &str {
        match self {
            AssetStatus::None => "NONE",
            AssetStatus::Uploading => "UPLOADING",
            AssetStatus::Processing => "PROCESSING",
            AssetStatus::Active => "ACTIVE",
            AssetStatus::Failed => "FAILED",
            AssetStatus::Expired => "EXPIRED",
            AssetStatus::Deleted => "DELETED",
            AssetStatus::Unknown(s) => s,
        }
    }

    /// Tolerant, case-insensitive conversion from wire text.
    pub fn from_wire(s: &str) -> AssetStatus {
        AssetStatus::KNOWN
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .unwrap_or_else(|| AssetStatus::Unknown(s.to_string()))
    }

    /// True for `ACTIVE`, the only state a generation request accepts.
    pub fn is_active(&self) -> bool {
        matches!(self, AssetStatus::Active)
    }

    /// True for `NONE`, `UPLOADING` and `PROCESSING`: read again later.
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            AssetStatus::None | AssetStatus::Uploading | AssetStatus::Processing
        )
    }

    /// True for `FAILED`, `EXPIRED` and `DELETED`: the asset cannot be used as it is.
    pub fn is_unusable(&self) -> bool {
        matches!(
            self,
            AssetStatus::Failed | AssetStatus::Expired | AssetStatus::Deleted
        )
    }

    /// True for a value this version does not know.
    pub fn is_unknown(&self) -> bool {
        matches!(self, AssetStatus::Unknown(_))
    }
}

impl fmt::Display for AssetStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AssetStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AssetStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        Ok(AssetStatus::from_wire(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_values_are_kept() {
        for status in AssetStatus::KNOWN {
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(serde_json::from_str::<AssetStatus>(&json).unwrap(), status);
        }
        assert_eq!(AssetStatus::from_wire("active"), AssetStatus::Active);
        let s = AssetStatus::from_wire("QUARANTINED");
        assert!(s.is_unknown() && !s.is_pending() && !s.is_unusable());
        assert!(AssetStatus::Expired.is_unusable());
        assert!(AssetStatus::None.is_pending());
    }
}
