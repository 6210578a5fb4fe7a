//! A take folder as the delivery tools see it: its manifest and where its files are.

use std::path::{Path, PathBuf};
use stemtap_engine::manifest::{FileEntry, Manifest, MANIFEST_FILE};
use stemtap_engine::settings::Role;

/// What can go wrong opening or reading a take. Every message names the file and, where
/// there is one, what to do.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error("{} is not a folder", .0.display())]
    NotAFolder(PathBuf),
    #[error("take.json is missing in {}: is this a take folder?", .0.display())]
    NoManifest(PathBuf),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is not a take.json StemTap can read: {source}", path.display())]
    BadManifest {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{} is not a WAV file hound can read: {source}", path.display())]
    BadWav { path: PathBuf, source: hound::Error },
    #[error("{}: {message}", path.display())]
    Unsupported { path: PathBuf, message: String },
    #[error("take.json lists {path:?}, which would lie outside the take folder")]
    OutsideTake { path: String },
    #[error("cancelled")]
    Cancelled,
}

/// Never set: for callers that do not cancel.
pub static NEVER_CANCELLED: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Stop long work between blocks once `cancel` is set.
pub fn check_cancel(cancel: &std::sync::atomic::AtomicBool) -> Result<(), TakeError> {
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        Err(TakeError::Cancelled)
    } else {
        Ok(())
    }
}

/// An opened take folder.
#[derive(Debug, Clone)]
pub struct Take {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Take {
    /// Read `dir/take.json`.
    pub fn open(dir: &Path) -> Result<Take, TakeError> {
        if !dir.is_dir() {
            return Err(TakeError::NotAFolder(dir.to_path_buf()));
        }
        let path = dir.join(MANIFEST_FILE);
        if !path.is_file() {
            return Err(TakeError::NoManifest(dir.to_path_buf()));
        }
        let bytes = std::fs::read(&path).map_err(|source| TakeError::Read {
            path: path.clone(),
            source,
        })?;
        let manifest = serde_json::from_slice(&bytes)
            .map_err(|source| TakeError::BadManifest { path, source })?;
        let take = Take {
            dir: dir.to_path_buf(),
            manifest,
        };
        for f in &take.manifest.files {
            take.file_path(f)?;
        }
        Ok(take)
    }

    /// The folder's name (`2026-11-24 21-04-13 Take 3`).
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.manifest.take.clone())
    }

    /// Where a file of the manifest is. A path that would leave the take folder (a
    /// hand-edited or hostile take.json) is refused.
    pub fn file_path(&self, file: &FileEntry) -> Result<PathBuf, TakeError> {
        let rel = Path::new(&file.path);
        let safe = rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !safe || file.path.is_empty() {
            return Err(TakeError::OutsideTake {
                path: file.path.clone(),
            });
        }
        Ok(self.dir.join(rel))
    }

    /// The files of one role, in manifest order.
    pub fn files_of(&self, role: Role) -> impl Iterator<Item = &FileEntry> {
        self.manifest.files.iter().filter(move |f| f.role == role)
    }
}
