//! Checking and packing finished takes for the window, in the background: each take in
//! Recent takes is checked once (loudness, peaks, tails, the null test: `stemtap check`),
//! its take sheet written into its folder, and its verdict shown; "Pack for..." makes a
//! recipient's zip next to the take (`stemtap pack`). Never on the audio thread, never on
//! the GUI thread: one worker thread, started when there is work and gone when there is
//! none, working on one core so the recording (and the DAW) keep the other.
//!
//! Problems reach the banner like any other. Shared by every window and instance of a
//! session (so forty instances do not check a take forty times), and held by the plugin
//! instances, not the windows: closing a window never waits for a job. When the last
//! instance goes, a running check is cancelled (a pack, which cannot be, is waited for),
//! so nothing of the plugin runs after the host may unload it.

use crate::engine::{Session, StreamId};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use stemtap_delivery::checks::{check_take_with, Level};
use stemtap_delivery::pack::{pack, PackConfig, PackOptions, PackProgress, Recipient};
use stemtap_delivery::repair::{find::find_takes, repair_take};
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

/// Where a pack is.
#[derive(Debug, Clone)]
pub enum PackState {
    Queued,
    /// Percent of the audio converted and stored so far.
    Running(Arc<AtomicUsize>),
    Done(PathBuf),
    Failed(String),
}

/// One piece of background work.
#[derive(Debug, Clone, PartialEq)]
enum Job {
    Check(PathBuf),
    Pack(PathBuf, Recipient),
    /// Look for takes a crash left incomplete under an output root.
    Scan(PathBuf),
    Repair(PathBuf),
}

#[derive(Default)]
struct Jobs {
    states: HashMap<PathBuf, CheckState>,
    packs: HashMap<PathBuf, (Recipient, PackState)>,
    /// The output root last scanned, and the incomplete takes of dead processes found
    /// there (still to repair).
    scanned: Option<PathBuf>,
    incomplete: Vec<PathBuf>,
    /// Repairs queued or running.
    repairing: usize,
    queue: VecDeque<Job>,
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
        jobs.queue.push_back(Job::Check(folder.to_path_buf()));
        self.start_worker(&mut jobs);
        CheckState::Queued
    }

    /// Pack the take in `folder` for `recipient` (a zip next to the take folder).
    pub fn pack(&self, folder: &Path, recipient: Recipient) {
        let mut jobs = self.jobs.lock();
        if matches!(
            jobs.packs.get(folder),
            Some((_, PackState::Queued | PackState::Running(_)))
        ) {
            return;
        }
        jobs.packs
            .insert(folder.to_path_buf(), (recipient, PackState::Queued));
        jobs.queue
            .push_back(Job::Pack(folder.to_path_buf(), recipient));
        self.start_worker(&mut jobs);
    }

    /// Takes a crash left incomplete under `root` (scanned in the background the first time
    /// a root is asked about), and how many repairs are under way.
    pub fn incomplete_takes(&self, root: &Path) -> (Vec<PathBuf>, usize) {
        let mut jobs = self.jobs.lock();
        if jobs.scanned.as_deref() != Some(root) {
            jobs.scanned = Some(root.to_path_buf());
            jobs.incomplete.clear();
            jobs.queue.push_back(Job::Scan(root.to_path_buf()));
            self.start_worker(&mut jobs);
        }
        (jobs.incomplete.clone(), jobs.repairing)
    }

    /// Repair every incomplete take found (`stemtap repair`), in the background.
    pub fn repair_all(&self) {
        let mut jobs = self.jobs.lock();
        let found: Vec<PathBuf> = jobs.incomplete.clone();
        for dir in found {
            if !jobs.queue.contains(&Job::Repair(dir.clone())) {
                jobs.repairing += 1;
                jobs.queue.push_back(Job::Repair(dir));
            }
        }
        self.start_worker(&mut jobs);
    }

    /// The last pack asked for the take in `folder`, if any.
    pub fn pack_state(&self, folder: &Path) -> Option<(Recipient, PackState)> {
        self.jobs.lock().packs.get(folder).cloned()
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
            .name("stemtap-delivery".into())
            .spawn(move || work(&shared, &cancel, &session));
        match spawned {
            Ok(handle) => jobs.worker = Some(handle),
            Err(e) => {
                let why = format!("cannot start a thread: {e}");
                for job in jobs.queue.drain(..).collect::<Vec<_>>() {
                    match job {
                        Job::Check(folder) => {
                            jobs.states.insert(folder, CheckState::Failed(why.clone()));
                        }
                        Job::Pack(folder, r) => {
                            jobs.packs
                                .insert(folder, (r, PackState::Failed(why.clone())));
                        }
                        Job::Scan(_) | Job::Repair(_) => jobs.repairing = 0,
                    }
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

/// The worker: runs queued jobs one after the other until none is left.
fn work(jobs: &Mutex<Jobs>, cancel: &AtomicBool, session: &Session) {
    // One core for the work: the recording and the DAW keep the other.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build();
    loop {
        let Some(job) = jobs.lock().queue.pop_front() else {
            return;
        };
        let run = || match &job {
            Job::Check(folder) => {
                let done = Arc::new(AtomicUsize::new(0));
                check_folder(folder, cancel, jobs, &done).map(|state| {
                    if let CheckState::Failed(message) = &state {
                        session.report_error(
                            None::<StreamId>,
                            format!("Checking {}: {message}", folder.display()),
                        );
                    }
                    jobs.lock().states.insert(folder.clone(), state);
                })
            }
            Job::Pack(folder, recipient) => {
                let state = pack_folder(folder, *recipient, jobs);
                if let PackState::Failed(message) = &state {
                    session.report_error(
                        None::<StreamId>,
                        format!(
                            "Packing {} for {}: {message}",
                            folder.display(),
                            recipient.label()
                        ),
                    );
                }
                jobs.lock()
                    .packs
                    .insert(folder.clone(), (*recipient, state));
                Some(())
            }
            Job::Scan(root) => {
                // A root that is not there yet (it is made with the first take) has none.
                let found: Vec<PathBuf> = find_takes(root)
                    .map(|takes| {
                        takes
                            .into_iter()
                            .filter(|t| t.needs_repair())
                            .map(|t| t.dir)
                            .collect()
                    })
                    .unwrap_or_default();
                let mut j = jobs.lock();
                if j.scanned.as_deref() == Some(root) {
                    j.incomplete = found;
                }
                Some(())
            }
            Job::Repair(dir) => {
                let result = repair_take(dir);
                let mut j = jobs.lock();
                j.repairing = j.repairing.saturating_sub(1);
                j.incomplete.retain(|d| d != dir);
                drop(j);
                if let Err(e) = result {
                    session.report_error(
                        None::<StreamId>,
                        format!("Repairing {}: {e}", dir.display()),
                    );
                }
                Some(())
            }
        };
        let finished = match &pool {
            Ok(pool) => pool.install(run),
            Err(_) => run(),
        };
        if finished.is_none() {
            return; // cancelled: the last instance is gone
        }
    }
}

/// Pack one take for `recipient`, with its config file if it has one.
fn pack_folder(folder: &Path, recipient: Recipient, jobs: &Mutex<Jobs>) -> PackState {
    let take = match Take::open(folder) {
        Ok(take) => take,
        Err(e) => return PackState::Failed(e.to_string()),
    };
    let mut options = PackOptions::new(recipient);
    if let Some(path) = PackConfig::find(folder) {
        match PackConfig::load(&path) {
            Ok(config) => options.config = config,
            Err(e) => return PackState::Failed(e.to_string()),
        }
    }
    let percent = Arc::new(AtomicUsize::new(0));
    jobs.lock().packs.insert(
        folder.to_path_buf(),
        (recipient, PackState::Running(percent.clone())),
    );
    let progress = |p: PackProgress| {
        // Converting is the first half of the work, storing in the zip the second.
        let at = match p {
            PackProgress::Checking => 0,
            PackProgress::Writing { done, total } => 50 * done / total.max(1),
            PackProgress::Zipping { done, total } => 50 + 50 * done / total.max(1),
        };
        percent.store(at as usize, Ordering::Relaxed);
    };
    match pack(&take, &options, &progress) {
        Ok(result) => PackState::Done(result.zip_path),
        Err(e) => PackState::Failed(e.to_string()),
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
