//! Finding takes: the take folders under an output root, which of them are incomplete and
//! whether a live process holds them; and the WAV files inside one take folder.

use crate::take::TakeError;
use serde::Serialize;
use std::path::{Path, PathBuf};
use stemtap_engine::manifest::{Manifest, MANIFEST_FILE};
use stemtap_engine::take_lock::{lock_state, LockState};

/// How deep under a root take folders are looked for: the root itself, its take folders,
/// and two levels more (a root of roots, a folder per project).
const MAX_DEPTH: usize = 4;

/// A take folder found under a root.
#[derive(Debug, Clone, Serialize)]
pub struct FoundTake {
    pub dir: PathBuf,
    /// take.json says complete.
    pub complete: bool,
    /// A live process holds its lock (or the lock cannot be checked): repair leaves it.
    pub live: bool,
    /// take.json could not be read: why.
    pub unreadable: Option<String>,
}

impl FoundTake {
    /// Incomplete, readable, and nobody is writing it.
    pub fn needs_repair(&self) -> bool {
        !self.complete && !self.live && self.unreadable.is_none()
    }
}

/// Every take folder (a folder with a take.json) at or under `root`, sorted by path.
/// Hidden folders are skipped; a take folder's own subfolders are not searched.
pub fn find_takes(root: &Path) -> Result<Vec<FoundTake>, TakeError> {
    if !root.is_dir() {
        return Err(TakeError::NotAFolder(root.to_path_buf()));
    }
    let mut out = Vec::new();
    walk(root, 0, &mut out)?;
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(out)
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<FoundTake>) -> Result<(), TakeError> {
    let manifest = dir.join(MANIFEST_FILE);
    if manifest.is_file() {
        let parsed = std::fs::read(&manifest)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).map_err(|e| e.to_string()));
        let (complete, unreadable) = match parsed {
            Ok(m) => (m.complete, None),
            Err(e) => (false, Some(format!("{}: {e}", manifest.display()))),
        };
        out.push(FoundTake {
            dir: dir.to_path_buf(),
            complete,
            live: !complete && lock_state(dir).may_be_live(),
            unreadable,
        });
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let entries = std::fs::read_dir(dir).map_err(|source| TakeError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_dir() {
            // An unreadable subfolder is not this root's problem.
            let _ = walk(&path, depth + 1, out);
        }
    }
    Ok(())
}

/// Whether `dir` is itself a take folder.
pub fn is_take_folder(dir: &Path) -> bool {
    dir.join(MANIFEST_FILE).is_file()
}

/// The lock state of a take folder, for reports.
pub fn take_lock_state(dir: &Path) -> LockState {
    lock_state(dir)
}

/// Every `.wav` file of a take folder (the top and its subfolders), relative and
/// `/`-separated, sorted.
pub fn wav_files(dir: &Path) -> Result<Vec<String>, TakeError> {
    fn walk(base: &Path, dir: &Path, depth: usize, out: &mut Vec<String>) -> Result<(), TakeError> {
        let entries = std::fs::read_dir(dir).map_err(|source| TakeError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 2 {
                walk(base, &path, depth + 1, out)?;
            } else if path
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("wav"))
            {
                if let Ok(rel) = path.strip_prefix(base) {
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, 0, &mut out)?;
    out.sort();
    Ok(out)
}
