//! The writer thread: one per process, serving every stream (Ardour's butler).
//!
//! Every few milliseconds it reads the stamps each audio thread pushed and decides, from
//! timeline positions alone, where takes start and end ([`plan`] has the take model and
//! its rules). Wall-clock time only decides *when* it may decide (how long to wait for a
//! late stream), never *where*: that is what keeps all files of a take on the same frames
//! whatever the threads' timing.
//!
//! # Modules
//! One poll (this module) reads stamps and cuts segments ([`segments`]), runs the take's
//! life ([`lifecycle`], on the decisions of [`plan`], pure and table-tested) and assigns
//! audio to files ([`staging`]). [`streams`] is one stream's stamps and rings, with the
//! staging rule; [`files`] the take's files; [`takes`] the take, its segments and its
//! manifest; [`mono`] the rewrite of Auto mode's mono files after the take.

mod files;
mod lifecycle;
mod mono;
pub(crate) mod plan;
mod segments;
mod staging;
mod streams;
mod takes;

pub use crate::config::WriterConfig;
use crate::manifest::EndReason;
use crate::registry::SessionInner;
use crate::status::SessionError;
use crate::wav::WavError;
use files::{Nowhere, StagedOut};
use plan::Block;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use streams::{Queued, StreamReader};
use takes::ActiveTake;

/// What can go wrong writing a take, until it becomes text in `take.json` and the banner.
#[derive(Debug, thiserror::Error)]
pub enum WriterError {
    #[error("Cannot create a take folder in {}: {source}. This take is not recorded.", root.display())]
    TakeFolder {
        root: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the folder {}: {source}", path.display())]
    FileFolder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] WavError),
    #[error("cannot write take.json: {0}")]
    Manifest(std::io::Error),
}

/// Key of the one banner entry that counts takes too short to keep.
const SHORT_TAKES_KEY: &str = "short-takes";

pub(crate) struct Writer {
    inner: Arc<SessionInner>,
    streams: Vec<StreamReader>,
    take: Option<ActiveTake>,
    takes_started: u32,
    /// Sample rate of the newest segment data, for converting the holdback to frames.
    segment_rate: u32,
    /// Takes not kept because they were shorter than the minimum, since the session began.
    short_takes: u64,
    /// Auto-mode files being rewritten as mono in the background.
    mono: mono::MonoJobs,
}

/// Run `f` with where staged audio goes: the active take's files, or nowhere.
fn with_out<R>(take: &mut Option<ActiveTake>, f: impl FnOnce(&mut dyn StagedOut) -> R) -> R {
    match take.as_mut() {
        Some(t) => f(&mut t.files),
        None => f(&mut Nowhere),
    }
}

/// The planner's view of a queued stamp.
fn block(q: &Queued) -> Block {
    Block {
        start: q.start(),
        wants: q.stamp.wants_record,
        armed: q.stamp.armed,
    }
}

impl Writer {
    pub fn new(inner: Arc<SessionInner>) -> Self {
        Self {
            inner,
            streams: Vec::new(),
            take: None,
            takes_started: 0,
            segment_rate: 48_000,
            short_takes: 0,
            mono: mono::MonoJobs::default(),
        }
    }

    pub fn run(mut self) {
        loop {
            let stopping = self.inner.stop.load(Ordering::Acquire);
            // A bug here must not silently end recording for every instance in the process:
            // report it, abandon the take (its files are finalized as far as they got), and
            // keep serving.
            let poll =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.poll(stopping)));
            if let Err(panic) = poll {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                self.take = None;
                self.inner.status.lock().push_error(SessionError::session(format!(
                    "Internal error in the disk writer ({what}); the current take was abandoned. Please report this."
                )));
            }
            if stopping {
                break;
            }
            std::thread::sleep(self.inner.config.writer.poll_interval);
        }
        self.mono.stop();
    }

    /// One round: pick up new streams and rings, read stamps, decide and write.
    /// `flush_all`: the session is ending; everything read is final.
    fn poll(&mut self, flush_all: bool) {
        self.sync_registry();
        self.read_stamps();
        self.step(flush_all);
        let now = Instant::now();
        if let Some(take) = self.take.as_mut() {
            for file in &mut take.files.files {
                if let Some(sink) = file.sink.as_mut() {
                    sink.checkpoint_if_due(now);
                }
                if let Some(error) = file.new_sink_error(&take.name) {
                    self.inner.status.lock().push_error(error);
                }
            }
        }
        self.mono.reap(&self.inner);
        self.inner.status.lock().current = self.take.as_ref().and_then(ActiveTake::progress);
    }

    fn sync_registry(&mut self) {
        let inner = self.inner.clone();
        let mut registry = inner.registry.lock();
        for (order, entry) in registry.streams.iter_mut().enumerate() {
            let reader = match self.streams.iter_mut().position(|r| r.id == entry.id) {
                Some(i) => &mut self.streams[i],
                None => {
                    self.streams.push(StreamReader::new(entry, order));
                    self.streams.last_mut().expect("just pushed")
                }
            };
            reader.order = order;
            for ring in entry.new_rings.drain(..) {
                reader.add_ring(ring);
            }
            reader.removed = entry.removed;
        }
        // Forget streams whose instance is gone and whose audio is all written.
        let gone: Vec<_> = self
            .streams
            .iter()
            .filter(|r| r.drained())
            .map(|r| r.id)
            .collect();
        registry.streams.retain(|e| !gone.contains(&e.id));
        drop(registry);
        self.streams.retain(|r| !gone.contains(&r.id));
    }

    /// Shortest take kept, in frames of the take's rate.
    fn min_take_frames(&self, rate: u32) -> u64 {
        (self.inner.config.writer.min_take_seconds * rate as f64).ceil() as u64
    }

    fn armed(&self) -> bool {
        self.inner.shared.armed.load(Ordering::Relaxed)
    }

    fn step(&mut self, flush_all: bool) {
        let quiet_after = self.inner.config.writer.quiet_after;
        // The host stopped processing altogether (audio engine stopped, project closing)
        // and the session was disarmed, or every instance is gone: no "off" stamp will ever
        // come, so what has arrived is all there is.
        let everyone_quiet = self
            .streams
            .iter()
            .all(|r| r.quiet(Instant::now(), quiet_after));
        let flush_all = flush_all
            || (self.take.is_some()
                && everyone_quiet
                && (!self.armed() || self.streams.is_empty()));
        // Each pass finishes at most one segment (one jump per stream that has one), so this
        // ends; the bound only caps one poll's work in a flood of jumps.
        for _ in 0..10_000 {
            let now = Instant::now();
            if let Some(rate) = self
                .streams
                .iter()
                .filter_map(|r| r.segment_stamps().last())
                .map(|q| q.stamp.sample_rate)
                .max()
            {
                self.segment_rate = rate;
            }
            let head = self.head();
            let holdback = self.holdback_frames();
            let boundary = self.segment_boundary(head);
            let boundary_final = boundary.is_some_and(|b| {
                flush_all
                    || self.streams.iter().all(|r| {
                        r.has_break()
                            || r.quiet(now, quiet_after)
                            || r.seg_end.is_some_and(|e| e >= b.saturating_add(holdback))
                    })
            });
            let live_min = self
                .streams
                .iter()
                .filter(|r| !r.quiet(now, quiet_after) && !r.has_break())
                .filter_map(|r| r.seg_end)
                .min();
            let horizon = plan::horizon(head, live_min, holdback, flush_all);
            let limit = match boundary {
                Some(b) if boundary_final => b,
                Some(b) => b.min(horizon),
                None => horizon,
            };
            let data_end = head.unwrap_or(i64::MIN).min(limit);
            self.run_takes(limit, data_end, boundary.filter(|_| boundary_final));
            if boundary_final {
                self.advance_segment(now, quiet_after);
                continue;
            }
            if flush_all && self.take.is_some() {
                // No block said "stop" before the end: still armed, the session (or every
                // instance) ended under the take; disarmed, the disarm came last.
                let reason = if self.armed() {
                    EndReason::Shutdown
                } else {
                    EndReason::Disarmed
                };
                let end = self
                    .take
                    .as_ref()
                    .filter(|t| t.between_segments.is_none())
                    .map(|t| t.files.files.iter().map(|f| f.written_to).max());
                self.finish_take(end.map(|e| e.unwrap_or(data_end)), reason);
            }
            break;
        }
    }
}

/// Silence in every file up to timeline position `end` of the current segment.
fn pad_files_to(take: &mut ActiveTake, end: i64) {
    for f in &mut take.files.files {
        if f.written_to < end {
            f.fill((end - f.written_to) as u64, 0);
        }
    }
}
