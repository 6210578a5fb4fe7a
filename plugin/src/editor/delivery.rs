//! Checking finished takes for the window, in the background: each take in Recent takes is
//! checked once (loudness, peaks, tails, the null test: `stemtap check`), its take sheet
//! written into its folder, and its verdict shown. Never on the audio thread, never on the
//! GUI thread: one worker thread, started when there is work and gone when there is none,
//! measuring on one core so the recording (and the DAW) keep the other.
//!
//! Problems reach the banner like any other. Shared by every window of a session (so forty
//! instances do not check a take forty times); cancelled and joined when the last window
//! goes, so nothing of the plugin runs after the host may unload it.

use crate::engine::{Session, StreamId};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use stemtap_delivery::checks::{check_take_with, Level};
use stemtap_delivery::{sheet, Take};

/// Name of the take sheet in the take folder (as `stemtap check` writes it).
pub const SHEET_FILE: &str = "take.html";

/// Where a take's check is.
#[derive(Debug, Clone)]
pub enum CheckState {
    Queued,
    /// Measuring: `done` of `total` files so far.
    Running {
        done: Arc<AtomicUsize>,
        total: usize,
    },
    /// The verdict and what to read about it (the findings that are not ok, one a line).
    Done {
        verdict: Level,
        details: String,
    },
    Failed(String),
}

#[derive(Default)]
struct Jobs {
    states: HashMap<PathBuf, CheckState>,
    queue: VecDeque<PathBuf>,
    worker: Option<JoinHandle<()>>,
}

/// The background checks of one session's takes.
pub struct DeliveryJobs {
    session: Arc<Session>,
    jobs: Arc<Mutex<Jobs>>,
    /// Set when the last window goes: the check stops between blocks of audio.
    cancel: Arc<AtomicBool>,
}

/// One `DeliveryJobs` per session, shared by its windows.
static SHARED: Mutex<Vec<(Weak<Session>, Weak<DeliveryJobs>)>> = Mutex::new(Vec::new());

impl DeliveryJobs {
    /// The jobs of `session`'s windows, created by the first window that asks.
    pub fn for_session(session: &Arc<Session>) -> Arc<DeliveryJobs> {
        let mut shared = SHARED.lock();
        shared.retain(|(s, j)| s.strong_count() > 0 && j.strong_count() > 0);
        if let Some(jobs) = shared
            .iter()
            .find(|(s, _)| s.as_ptr() == Arc::as_ptr(session))
            .and_then(|(_, j)| j.upgrade())
        {
            return jobs;
        }
        let jobs = Arc::new(DeliveryJobs {
            session: session.clone(),
            jobs: Arc::default(),
            cancel: Arc::default(),
        });
        shared.push((Arc::downgrade(session), Arc::downgrade(&jobs)));
        jobs
    }

    /// The check of the take in `folder`, queued the first time it is asked for.
    pub fn check(&self, folder: &Path) -> CheckState {
        let mut jobs = self.jobs.lock();
        if let Some(state) = jobs.states.get(folder) {
            return state.clone();
        }
        jobs.states.insert(folder.to_path_buf(), CheckState::Queued);
        jobs.queue.push_back(folder.to_path_buf());
        self.start_worker(&mut jobs);
        CheckState::Queued
    }

    /// Check the take in `folder` again (its files may have changed).
    pub fn recheck(&self, folder: &Path) {
        let mut jobs = self.jobs.lock();
        if matches!(
            jobs.states.get(folder),
            Some(CheckState::Queued | CheckState::Running { .. })
        ) {
            return;
        }
        jobs.states.remove(folder);
        drop(jobs);
        self.check(folder);
    }

    fn start_worker(&self, jobs: &mut Jobs) {
        if jobs.worker.as_ref().is_some_and(|w| !w.is_finished()) {
            return;
        }
        if let Some(done) = jobs.worker.take() {
            let _ = done.join();
        }
        let (shared, cancel, session) =
            (self.jobs.clone(), self.cancel.clone(), self.session.clone());
        let spawned = std::thread::Builder::new()
            .name("stemtap-check".into())
            .spawn(move || work(&shared, &cancel, &session));
        match spawned {
            Ok(handle) => jobs.worker = Some(handle),
            Err(e) => {
                for folder in jobs.queue.drain(..) {
                    jobs.states.insert(
                        folder,
                        CheckState::Failed(format!("cannot start a thread: {e}")),
                    );
                }
            }
        }
    }
}

impl Drop for DeliveryJobs {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
        let worker = self.jobs.lock().worker.take();
        if let Some(worker) = worker {
            let _ = worker.join();
        }
    }
}

/// The worker: checks queued takes one after the other until none is left.
fn work(jobs: &Mutex<Jobs>, cancel: &AtomicBool, session: &Session) {
    // One core for the checks: the recording and the DAW keep the other.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    loop {
        let Some(folder) = jobs.lock().queue.pop_front() else {
            return;
        };
        let done = Arc::new(AtomicUsize::new(0));
        let run = || check_folder(&folder, cancel, jobs, &done);
        let state = match &pool {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        };
        let Some(state) = state else {
            return; // cancelled: the window is gone
        };
        if let CheckState::Failed(message) = &state {
            session.report_error(
                None::<StreamId>,
                format!("Checking {}: {message}", folder.display()),
            );
        }
        jobs.lock().states.insert(folder, state);
    }
}

/// Check one take and write its sheet; `None` when cancelled.
fn check_folder(
    folder: &Path,
    cancel: &AtomicBool,
    jobs: &Mutex<Jobs>,
    done: &Arc<AtomicUsize>,
) -> Option<CheckState> {
    let take = match Take::open(folder) {
        Ok(take) => take,
        Err(e) => return Some(CheckState::Failed(e.to_string())),
    };
    jobs.lock().states.insert(
        folder.to_path_buf(),
        CheckState::Running {
            done: done.clone(),
            total: take.manifest.files.len(),
        },
    );
    let report = check_take_with(&take, cancel, done)?;
    let sheet_path = folder.join(SHEET_FILE);
    if let Err(e) = std::fs::write(&sheet_path, sheet::take_sheet(&take, &report)) {
        return Some(CheckState::Failed(format!(
            "cannot write the take sheet {}: {e}",
            sheet_path.display()
        )));
    }
    let details: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| {
            f.findings
                .iter()
                .filter(|x| x.level > Level::Ok)
                .map(move |x| format!("{}: {}", f.path, x.message))
        })
        .chain(
            report
                .take_findings
                .iter()
                .filter(|x| x.level > Level::Ok)
                .map(|x| x.message.clone()),
        )
        .collect();
    Some(CheckState::Done {
        verdict: report.verdict,
        details: if details.is_empty() {
            "Every check passed.".into()
        } else {
            details.join("\n")
        },
    })
}
