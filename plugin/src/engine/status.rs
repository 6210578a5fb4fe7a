//! What the writer reports for the GUI: the current take, recent takes, and errors that
//! stay until the user acknowledges them.

use std::path::PathBuf;
use std::time::Instant;

/// Most recent takes kept for the GUI's list.
pub const RECENT_TAKES: usize = 16;

/// Errors kept for the banner (oldest dropped first).
pub const MAX_ERRORS: usize = 64;

#[derive(Debug, Clone, Default)]
pub struct SessionStatus {
    /// The take being written, if any.
    pub current: Option<TakeProgress>,
    /// Finished takes, newest last.
    pub recent: Vec<TakeSummary>,
    /// Problems the user has not acknowledged yet (write errors, dropouts, bad folders).
    pub errors: Vec<String>,
}

impl SessionStatus {
    pub(crate) fn push_error(&mut self, message: String) {
        if self.errors.len() >= MAX_ERRORS {
            self.errors.remove(0);
        }
        self.errors.push(message);
    }

    pub(crate) fn push_take(&mut self, take: TakeSummary) {
        if self.recent.len() >= RECENT_TAKES {
            self.recent.remove(0);
        }
        self.recent.push(take);
    }
}

#[derive(Debug, Clone)]
pub struct TakeProgress {
    pub name: String,
    pub folder: PathBuf,
    pub started: Instant,
    pub sample_rate: u32,
    /// Frames written so far (of the longest file).
    pub frames: u64,
    pub files: usize,
    /// The take's end has been seen (disarm, transport stop, a jump); the writer is waiting
    /// for every stream to reach it before it closes the files.
    pub finishing: bool,
}

#[derive(Debug, Clone)]
pub struct TakeSummary {
    pub name: String,
    pub folder: PathBuf,
    pub length_frames: u64,
    pub sample_rate: u32,
    pub files: usize,
    pub dropped_frames: u64,
    pub errors: usize,
}
