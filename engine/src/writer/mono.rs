//! Auto mode's mono files: a take is finished with every file as recorded (stereo), and
//! the files whose two channels were bit-identical for the whole take are then rewritten as
//! mono in the background, each swapped in atomically, with `take.json` updated last. The
//! take is complete and readable at every moment, and stopping never waits for the rewrite.
//!
//! A background thread per finished take, off the writer thread (a long take's rewrite must
//! not hold up the next take's writing). When the session ends, running rewrites get a
//! moment to finish and are then cancelled: a cancelled file stays stereo, which
//! `take.json` still says.

use super::takes::ActiveTake;
use crate::manifest::{EndReason, Manifest, MANIFEST_FILE};
use crate::registry::SessionInner;
use crate::settings::ChannelMode;
use crate::status::SessionError;
use crate::take::write_manifest;
use crate::wav::{collapse_to_mono, CollapseOutcome};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the end of the session waits for running rewrites before cancelling them.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// The rewrites running in the background.
#[derive(Default)]
pub(super) struct MonoJobs {
    /// Set when the session ends: rewrites stop between blocks and leave the file stereo.
    cancel: Arc<AtomicBool>,
    /// Each job returns the problems it met, for the banner.
    jobs: Vec<JoinHandle<Vec<SessionError>>>,
}

/// One take's files to rewrite.
struct Job {
    folder: PathBuf,
    take: String,
    /// Paths relative to the take folder, as in `take.json`.
    files: Vec<String>,
}

impl MonoJobs {
    /// Rewrite the finished `take`'s identical-channel Auto files as mono, in the background.
    pub fn start(&mut self, take: &ActiveTake, _reason: EndReason) {
        let Some(folder) = take.folder.clone() else {
            return;
        };
        let files: Vec<String> = take
            .files
            .files
            .iter()
            .filter(|f| {
                f.channel_mode == ChannelMode::Auto
                    && f.file_channels == 2
                    && f.errors.is_empty()
                    && f.sink.as_ref().is_some_and(|s| {
                        s.channels_identical && s.error.is_none() && s.parts.len() == 1
                    })
            })
            .map(|f| f.path.clone())
            .collect();
        if files.is_empty() {
            return;
        }
        let job = Job {
            folder,
            take: take.name.clone(),
            files,
        };
        let cancel = self.cancel.clone();
        let spawned = std::thread::Builder::new()
            .name("stemtap-mono".into())
            .spawn(move || job.run(&cancel));
        // A thread that cannot be spawned leaves the files stereo, as take.json says.
        if let Ok(handle) = spawned {
            self.jobs.push(handle);
        }
    }

    /// Collect finished jobs and put their problems in the banner.
    pub fn reap(&mut self, inner: &SessionInner) {
        let (done, running): (Vec<_>, Vec<_>) = self.jobs.drain(..).partition(|j| j.is_finished());
        self.jobs = running;
        for job in done {
            for error in job.join().unwrap_or_default() {
                inner.status.lock().push_error(error);
            }
        }
    }

    /// The session ends: give running rewrites a moment, then cancel and wait for them (the
    /// plugin's code must not run after its library may be unloaded).
    pub fn stop(&mut self) {
        let deadline = Instant::now() + STOP_GRACE;
        while self.jobs.iter().any(|j| !j.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.cancel.store(true, Ordering::Release);
        for job in self.jobs.drain(..) {
            let _ = job.join();
        }
    }
}

impl Job {
    fn run(self, cancel: &AtomicBool) -> Vec<SessionError> {
        let mut errors = Vec::new();
        let mut collapsed = Vec::new();
        for rel in &self.files {
            match collapse_to_mono(&self.folder.join(rel), cancel) {
                Ok(CollapseOutcome::Collapsed) => collapsed.push(rel.clone()),
                Ok(CollapseOutcome::NotIdentical | CollapseOutcome::Cancelled) => {}
                Err(e) => errors.push(
                    SessionError::session(format!(
                        "{rel} stays stereo: rewriting it as mono failed: {e}"
                    ))
                    .in_take(&self.take),
                ),
            }
        }
        if !collapsed.is_empty() {
            if let Err(e) = self.update_manifest(&collapsed) {
                errors.push(
                    SessionError::session(format!(
                        "take.json could not be updated after rewriting mono files: {e}"
                    ))
                    .in_take(&self.take),
                );
            }
        }
        errors
    }

    /// `take.json` says 1 channel for every rewritten file.
    fn update_manifest(&self, collapsed: &[String]) -> std::io::Result<()> {
        let path = self.folder.join(MANIFEST_FILE);
        let mut manifest: Manifest =
            serde_json::from_slice(&std::fs::read(&path)?).map_err(std::io::Error::other)?;
        for f in &mut manifest.files {
            if collapsed.contains(&f.path) {
                f.channels = 1;
            }
        }
        write_manifest(&self.folder, &manifest)
    }
}
