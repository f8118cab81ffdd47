//! The input files of an edit.

use std::fmt;
use std::path::Path;

use bytes::Bytes;

use crate::error::{Error, Result};

/// One input file of an edit: its bytes, the file name sent with it and its media type.
#[derive(Clone, PartialEq)]
pub struct EditImage {
    pub(crate) file_name: String,
    pub(crate) content_type: &'static str,
    pub(crate) bytes: Bytes,
}

impl fmt::Debug for EditImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EditImage")
            .field("file_name", &self.file_name)
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl EditImage {
    /// An image from memory; its media type is read from its first bytes (PNG, JPEG, WebP,
    /// GIF), else `application/octet-stream`.
    ///
    /// ```
    /// let image = apipod::openai::EditImage::new("cat.png", b"\x89PNG\r\n\x1a\n...".to_vec());
    /// assert_eq!(image.len(), 11);
    /// ```
    pub fn new(file_name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        EditImage {
            file_name: file_name.into(),
            content_type: sniff(&bytes),
            bytes,
        }
    }

    /// Reads an image file.
    pub async fn from_path(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = tokio::fs::read(path).await.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        Ok(EditImage::new(name, bytes))
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// True when it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The media type of an image from its signature.
pub(crate) fn sniff(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => "image/webp",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_come_from_the_signature() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), "image/jpeg");
        assert_eq!(
            EditImage::new("a", b"\x89PNG\r\n\x1a\n".to_vec()).content_type,
            "image/png"
        );
        assert_eq!(sniff(b"text"), "application/octet-stream");
    }
}
