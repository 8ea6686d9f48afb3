//! Uploaded product images: recognised by their bytes, not their names,
//! and stored under the data directory.

use std::path::{Path, PathBuf};

/// Uploads larger than this are refused with 413.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    WebP,
}

impl ImageKind {
    /// Recognises PNG, JPEG and WebP by their signatures.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(ImageKind::Png)
        } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(ImageKind::Jpeg)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(ImageKind::WebP)
        } else {
            None
        }
    }

    pub fn content_type(&self) -> &'static str {
        match self {
            ImageKind::Png => "image/png",
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::WebP => "image/webp",
        }
    }

    pub fn extension(&self) -> &'static str {
        match self {
            ImageKind::Png => "png",
            ImageKind::Jpeg => "jpg",
            ImageKind::WebP => "webp",
        }
    }
}

/// Where uploaded images live: `<data_dir>/images/<image id>.<ext>`.
#[derive(Debug, Clone)]
pub struct ImageStore {
    dir: PathBuf,
}

impl ImageStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Writes the bytes (via a temporary file, so a reader never sees half an
    /// image) and returns the file name.
    pub fn save(&self, image_id: &str, kind: ImageKind, bytes: &[u8]) -> std::io::Result<String> {
        std::fs::create_dir_all(&self.dir)?;
        let name = format!("{image_id}.{}", kind.extension());
        let partial = self.dir.join(format!("{name}.partial"));
        std::fs::write(&partial, bytes)?;
        std::fs::rename(&partial, self.dir.join(&name))?;
        Ok(name)
    }

    /// The path of a stored file; names are ours (`<uuid>.<ext>`), never a
    /// client's, so no traversal is possible.
    pub fn path(&self, stored_file: &str) -> PathBuf {
        self.dir.join(Path::new(stored_file).file_name().unwrap_or_default())
    }

    pub fn remove(&self, stored_file: &str) {
        let _ = std::fs::remove_file(self.path(stored_file));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_images_by_content() {
        assert_eq!(ImageKind::sniff(b"\x89PNG\r\n\x1a\nrest"), Some(ImageKind::Png));
        assert_eq!(ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), Some(ImageKind::Jpeg));
        assert_eq!(ImageKind::sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 "), Some(ImageKind::WebP));
        assert_eq!(ImageKind::sniff(b"GIF89a......"), None);
        assert_eq!(ImageKind::sniff(b"<svg xmlns="), None);
        assert_eq!(ImageKind::sniff(b""), None);
    }
}
