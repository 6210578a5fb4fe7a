//! The writer thread: one per process, serving every stream (Ardour's butler).
//!
//! Every few milliseconds it reads the stamps each audio thread pushed and decides, from
//! timeline positions alone, where takes start and end ([`plan`] has the take model and
//! its rules). Wall-clock time only decides *when* it may decide (how long to wait for a
//! late stream), never *where*: that is what keeps all files of a take on the same frames
//! whatever the threads' timing.
//!
//! # Segments
//! Each stream sees a discontinuity (loop, locate, transport start/stop) at the same host
//! cycle; the writer ends the segment at the *latest* pre-jump position any stream
//! reached, once every stream has shown the jump, gone quiet, or run contiguously past it.
//! A stream whose jump lies far behind the others' positions was not processed for a while
//! (suspended): it waits for the others' jump and rejoins the segment if none comes.
//!
//! # Modules
//! [`streams`]: one stream's stamps and rings, and the staging rule; [`files`]: the take's
//! files; [`takes`]: the take, its segments and its manifest; [`plan`]: the decisions;
//! [`mono`]: Auto mode's files rewritten as mono after the take.

mod files;
mod mono;
pub(crate) mod plan;
mod streams;
mod takes;

pub use crate::config::WriterConfig;
use crate::manifest::EndReason;
use crate::registry::SessionInner;
use crate::settings::{resolve_output_root, MAX_OFFSET_SAMPLES};
use crate::status::SessionError;
use crate::take::write_manifest;
use crate::timeline::{classify, gap_is_locate, Clock, Continuity, Expected};
use crate::wav::{WavError, GATHER_BYTES};
use files::{Nowhere, StagedOut};
use plan::{AtNextSegment, Block, SegmentStart};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
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

    /// Move every available stamp into the stream queues, classifying continuity.
    fn read_stamps(&mut self) {
        let now = Instant::now();
        let slack = self.stale_slack();
        for i in 0..self.streams.len() {
            let head = self.head();
            let reader = &mut self.streams[i];
            while let Some((seq, mut stamp)) = reader.pop_stamp() {
                reader.last_heard = now;
                let offset = reader
                    .settings
                    .read()
                    .offset_samples
                    .clamp(-MAX_OFFSET_SAMPLES, MAX_OFFSET_SAMPLES);
                if stamp.clock == Clock::Host {
                    stamp.pos = stamp.pos.saturating_add(offset);
                }
                let already_past_break = reader.has_break();
                let mut starts_segment = false;
                match classify(reader.expected, &stamp) {
                    Continuity::Start => {}
                    Continuity::Contiguous { pos } => stamp.pos = pos,
                    Continuity::Gap { frames } => {
                        if !already_past_break
                            && head.is_some_and(|h| gap_is_locate(&stamp, frames, h, slack))
                        {
                            starts_segment = true;
                        }
                    }
                    Continuity::Break => starts_segment = true,
                }
                reader.expected = Some(Expected::after(&stamp));
                if !already_past_break && !starts_segment {
                    reader.seg_end = Some(stamp.end());
                }
                reader.breaks += starts_segment as usize;
                reader.queue.push_back(Queued {
                    stamp,
                    starts_segment,
                    consumed: 0,
                    ring: seq,
                });
            }
            reader.drop_finished_rings();
        }
    }

    /// Newest position any stream reached in the current segment.
    fn head(&self) -> Option<i64> {
        self.streams.iter().filter_map(|r| r.seg_end).max()
    }

    fn holdback_frames(&self) -> i64 {
        (self.inner.config.writer.holdback_seconds * self.segment_rate as f64) as i64
    }

    /// A jump whose pre-jump position lies this far behind the head comes from a stream that
    /// was not processed for a while; it does not end the segment for everyone.
    fn stale_slack(&self) -> i64 {
        self.holdback_frames() / 2
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
                let reason = if self.inner.stop.load(Ordering::Acquire) || self.armed() {
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

    /// Where the current segment ends, if a stream has jumped: the latest pre-jump position
    /// of the streams that jumped near the head. Streams with a stale jump are parked, and
    /// rejoin the segment when the others run on without one.
    fn segment_boundary(&mut self, head: Option<i64>) -> Option<i64> {
        let slack = self.stale_slack();
        let holdback = self.holdback_frames();
        let mut boundary: Option<i64> = None;
        for r in &mut self.streams {
            if !r.has_break() {
                r.parked_at = None;
                continue;
            }
            match (r.seg_end, head) {
                (Some(end), Some(head)) if end >= head - slack => {
                    boundary = Some(boundary.map_or(end, |b: i64| b.max(end)));
                }
                _ => {
                    // A stale jump: this stream was not processed for a while. It waits
                    // for the others' jump, unless they run on without one.
                    r.parked_at.get_or_insert(head.unwrap_or(i64::MIN));
                }
            }
        }
        if boundary.is_none() {
            for r in &mut self.streams {
                if let (Some(parked), Some(head)) = (r.parked_at, head) {
                    if head > parked.saturating_add(holdback) {
                        // Nobody else jumped: its jump was its own; it rejoins this segment.
                        for q in r.queue.iter_mut() {
                            q.starts_segment = false;
                        }
                        r.breaks = 0;
                        r.parked_at = None;
                        r.seg_end = r.queue.back().map(|q| q.stamp.end());
                    }
                }
            }
        }
        if boundary.is_none() && self.streams.iter().any(|r| r.has_break()) && head.is_none() {
            // Only jumps, no data in this segment at all: end it where it is.
            boundary = Some(i64::MIN);
        }
        boundary
    }

    /// Every stream moves into the next segment.
    fn advance_segment(&mut self, now: Instant, quiet_after: Duration) {
        for r in &mut self.streams {
            // Anything left before its jump lies past the boundary: nothing can use it.
            while r.queue.front().is_some_and(|q| !q.starts_segment) && r.has_break() {
                let left = r.queue[0].stamp.frames - r.queue[0].consumed;
                with_out(&mut self.take, |out| r.discard_front(left, out));
            }
            with_out(&mut self.take, |out| r.write_staged(out));
            if let Some(q) = r.queue.front_mut() {
                if q.starts_segment {
                    q.starts_segment = false;
                    r.breaks -= 1;
                }
            }
            r.must_see_off = false;
            if r.quiet(now, quiet_after) && r.queue.is_empty() {
                // It missed the jump; its next block is a fresh start, wherever it lands.
                r.expected = None;
            }
            r.seg_end = r.segment_stamps().last().map(|q| q.stamp.end());
        }
    }

    /// Start, write and finish takes inside the current segment, up to `limit`. `data_end`:
    /// how far the streams' audio reaches below `limit`; `segment_end`: the segment ends
    /// there (final).
    fn run_takes(&mut self, limit: i64, data_end: i64, segment_end: Option<i64>) {
        for _ in 0..64 {
            let Some(take) = self.take.as_ref() else {
                let first = self
                    .streams
                    .iter()
                    .filter_map(|r| {
                        let start = plan::first_wanted(
                            r.segment_stamps().map(block),
                            r.must_see_off,
                            limit,
                        )?;
                        let q = r.segment_stamps().find(|q| q.start() == start)?;
                        Some((start, q.stamp))
                    })
                    .min_by_key(|(start, _)| *start);
                match first {
                    Some((start, stamp)) => {
                        self.discard_all_before(start);
                        let format = self.inner.settings.read().format;
                        self.take = Some(ActiveTake::new(start, stamp, format));
                        for r in &mut self.streams {
                            r.file = None;
                            r.seen_wants = false;
                        }
                        continue;
                    }
                    None => {
                        self.discard_all_before(limit);
                        return;
                    }
                }
            };

            if let Some(frames) = take.between_segments {
                let next = self
                    .streams
                    .iter()
                    .filter_map(|r| r.segment_stamps().next())
                    .min_by_key(|q| q.start())
                    .copied();
                let take_end = self.take_end();
                let decision = plan::at_next_segment(
                    next.map(|q| SegmentStart {
                        anchor: q.start(),
                        sample_rate: q.stamp.sample_rate,
                    }),
                    take_end,
                    limit,
                    take.sample_rate,
                );
                match (decision, next) {
                    (AtNextSegment::Continue { anchor }, Some(q)) => {
                        let take = self.take.as_mut().expect("checked above");
                        take.begin_segment(frames, anchor, q.stamp);
                        self.write_manifest(false, None);
                        continue;
                    }
                    (AtNextSegment::End(reason), _) => {
                        self.finish_take(None, reason);
                        continue;
                    }
                    _ => return,
                }
            }

            // Recording inside the current segment.
            let take_end = self.take_end();
            // Held audio must never fill a ring: with small rings the take opens sooner
            // (and is still removed at its end if it stays short).
            let smallest_ring = self
                .streams
                .iter()
                .filter_map(StreamReader::newest_ring_frames)
                .min()
                .unwrap_or(usize::MAX);
            let min_take = self.min_take_frames(take.sample_rate);
            let min_hold = min_take.min(smallest_ring as u64 / 4);
            let take = self.take.as_mut().expect("checked above");
            take.ending_seen = take_end.is_some() || segment_end.is_some();
            if !take.opened {
                // Its audio waits in the rings until the take is long enough to keep, or
                // its end is known.
                let known_end = take_end
                    .map(|e| e.at)
                    .filter(|&e| e <= limit)
                    .or(segment_end);
                let keep = match known_end {
                    Some(end) if take_end.is_some_and(|e| e.at <= limit) => {
                        take.frames_at(end) >= min_take
                    }
                    // A segment boundary: the take goes on past it, so it is kept if it has
                    // audio at all (a short one is removed when it ends).
                    Some(end) => take.frames_at(end) > 0,
                    None => take.frames_at(data_end) >= min_hold,
                };
                if keep {
                    self.open_take();
                } else if let Some(end) = known_end {
                    let reason = take_end.map_or(EndReason::Transport, |e| e.reason);
                    self.drop_short_take(end, reason);
                    continue;
                } else {
                    return;
                }
            }
            let write_to = take_end.map_or(limit, |e| e.at.min(limit));
            self.write_all_until(write_to, true);
            match (take_end, segment_end) {
                (Some(end), _) if end.at <= limit => {
                    self.finish_take(Some(end.at), end.reason);
                    continue;
                }
                (_, Some(end)) => {
                    self.end_segment(end);
                    return;
                }
                _ => return,
            }
        }
    }

    /// Where the running take stops being wanted in the current segment, if anywhere yet:
    /// the earliest "off" after "on" of any stream.
    fn take_end(&self) -> Option<plan::TakeEnd> {
        self.streams
            .iter()
            .filter_map(|r| plan::first_unwanted(r.segment_stamps().map(block), r.seen_wants))
            .min_by_key(|e| e.at)
    }

    fn discard_all_before(&mut self, pos: i64) {
        for r in &mut self.streams {
            while let Some(q) = r.queue.front().copied() {
                if q.starts_segment || q.start() >= pos {
                    break;
                }
                if !q.stamp.wants_record {
                    r.must_see_off = false;
                }
                let frames = (q.stamp.end().min(pos) - q.start()) as u32;
                with_out(&mut self.take, |out| r.discard_front(frames, out));
            }
        }
    }

    /// Create the take's folder and a file for every stream that is active now (even if it
    /// sends nothing).
    fn open_take(&mut self) {
        self.takes_started += 1;
        let settings = self.inner.settings.read().clone();
        let root = resolve_output_root(settings.output_root.as_deref());
        let take = self.take.as_mut().expect("a take to open");
        if let Err(e) = take.open(&root, self.takes_started) {
            self.inner
                .status
                .lock()
                .push_error(SessionError::session(e.to_string()));
            take.errors.push(e);
        }
        let mut order: Vec<usize> = (0..self.streams.len())
            .filter(|&i| {
                let r = &self.streams[i];
                r.is_active() && !r.removed && !r.stats.excluded.load(Ordering::Relaxed)
            })
            .collect();
        order.sort_by_key(|&i| self.streams[i].order);
        for i in order {
            self.open_file(i, None);
        }
        self.write_manifest(false, None);
    }

    /// Create stream `i`'s file in the active take. `channels`: the input channels, when a
    /// stamp tells them; else the newest ring's.
    fn open_file(&mut self, i: usize, channels: Option<u16>) {
        let reader = &mut self.streams[i];
        let Some(take) = self.take.as_mut() else {
            return;
        };
        let input_channels = channels.or(reader.newest_channels()).unwrap_or(2);
        let display = self
            .inner
            .registry
            .lock()
            .display_name(reader.id)
            .unwrap_or_default();
        let (index, error) = take.add_file(
            reader,
            display,
            input_channels,
            self.inner.config.writer.max_wav_data_bytes,
        );
        reader.file = Some(index);
        if let Some(e) = error {
            let file = &mut take.files.files[index];
            self.inner.status.lock().push_error(
                SessionError::stream(file.stream, &file.stem_name, e.to_string())
                    .in_take(&take.name),
            );
            file.errors.push(e);
        }
    }

    /// Write every stream's audio below `end`. `gather`: audio may stay staged in the rings
    /// until enough of it has come (the take goes on); otherwise all of it is written.
    fn write_all_until(&mut self, end: i64, gather: bool) {
        let now = Instant::now();
        for i in 0..self.streams.len() {
            self.stage_stream_until(i, end);
            if !gather || self.staged_due(i, now) {
                let r = &mut self.streams[i];
                with_out(&mut self.take, |out| r.write_staged(out));
            }
        }
    }

    /// Assign stream `i`'s audio for positions below `end` to its file: stage it (it stays
    /// in the ring), with silence for any positions it skipped.
    fn stage_stream_until(&mut self, i: usize, end: i64) {
        loop {
            let Some(take) = self.take.as_ref() else {
                return;
            };
            if !take.opened || take.between_segments.is_some() {
                return;
            }
            let (take_rate, seg_start) = (take.sample_rate, take.current().start);
            let Some(q) = self.streams[i].queue.front().copied() else {
                return;
            };
            if q.starts_segment || q.start() >= end {
                return;
            }
            let upto = q.stamp.end().min(end);
            let frames = (upto - q.start()) as u32;
            if q.stamp.sample_rate != take_rate {
                // Joined with another rate (no jump seen): it cannot share this take.
                let r = &mut self.streams[i];
                with_out(&mut self.take, |out| r.discard_front(frames, out));
                continue;
            }
            if q.stamp.wants_record {
                self.streams[i].seen_wants = true;
            }
            if self.streams[i].file.is_none() {
                if self.streams[i].stats.excluded.load(Ordering::Relaxed) {
                    // Record enable is off: this take has no file for it.
                    let r = &mut self.streams[i];
                    with_out(&mut self.take, |out| r.discard_front(frames, out));
                    continue;
                }
                self.open_file(i, Some(q.stamp.channels));
            }
            let file_index = self.streams[i].file.expect("opened above");
            let written_to =
                self.take.as_ref().expect("checked above").files.files[file_index].written_to;
            let already = written_to.max(seg_start);
            if q.start() < already {
                // Positions this file already has (or before the segment): skip them.
                let skip = (upto.min(already) - q.start()) as u32;
                let r = &mut self.streams[i];
                with_out(&mut self.take, |out| r.discard_front(skip, out));
                continue;
            }
            if q.start() > written_to {
                // Silence goes after what is staged.
                let r = &mut self.streams[i];
                with_out(&mut self.take, |out| r.write_staged(out));
                let gap = (q.start() - written_to) as u64;
                let dropped = if q.consumed == 0 {
                    gap.min(q.stamp.dropped_before as u64)
                } else {
                    0
                };
                let take = self.take.as_mut().expect("checked above");
                take.files.files[file_index].fill(gap, dropped);
            }
            let r = &mut self.streams[i];
            with_out(&mut self.take, |out| r.stage_front(file_index, frames, out));
            let take = self.take.as_mut().expect("checked above");
            take.files.files[file_index].written_to += frames as i64;
        }
    }

    /// Whether stream `i`'s staged audio should be written now: it makes a write of
    /// [`GATHER_BYTES`] with what the sink holds, it takes a quarter of the ring (an
    /// offline render waits for room), its file is due a checkpoint (the header should
    /// cover what has arrived), or its instance is gone.
    fn staged_due(&self, i: usize, now: Instant) -> bool {
        let reader = &self.streams[i];
        let Some(st) = reader.staged() else {
            return false;
        };
        let Some(sink) = self
            .take
            .as_ref()
            .and_then(|t| t.files.files.get(st.file))
            .and_then(|f| f.sink.as_ref())
        else {
            return true;
        };
        let bytes = st.frames * sink.channels() as usize * sink.bytes_per_sample();
        reader.removed
            || sink.buffered_bytes() + bytes >= GATHER_BYTES
            || reader.staged_fills_ring()
            || sink.checkpoint_due(now)
    }

    /// The current segment ends at `end`: write everything before it and pad every file to
    /// it; the take waits for the next segment's start.
    fn end_segment(&mut self, end: i64) {
        self.write_all_until(end, false);
        let Some(take) = self.take.as_mut() else {
            return;
        };
        pad_files_to(take, end);
        take.between_segments = Some(take.frames_at(end));
    }

    /// Finish the take at `end` in its current segment (`None`: where its files are, at a
    /// segment boundary), write its manifest, and report it.
    fn finish_take(&mut self, end: Option<i64>, reason: EndReason) {
        if let Some(end) = end {
            self.write_all_until(end, false);
            if let Some(take) = self.take.as_mut() {
                let end = end.max(take.current().start);
                pad_files_to(take, end);
            }
        }
        for r in &mut self.streams {
            with_out(&mut self.take, |out| r.write_staged(out));
            r.file = None;
            r.seen_wants = false;
            r.must_see_off = reason != EndReason::SampleRateChange;
        }
        let Some(mut take) = self.take.take() else {
            return;
        };
        let frames = take.frames();
        if frames < self.min_take_frames(take.sample_rate) {
            for f in &mut take.files.files {
                f.sink = None;
            }
            if let Some(folder) = take.folder.take() {
                // Our own folder, holding only what this take wrote.
                let _ = std::fs::remove_dir_all(folder);
            }
            self.note_short_take();
            self.inner.status.lock().current = None;
            return;
        }
        for file in &mut take.files.files {
            if let Some(sink) = file.sink.as_mut() {
                sink.finish();
            }
        }
        self.take = Some(take);
        self.write_manifest(true, Some(reason));
        let mut take = self.take.take().expect("just put back");
        let mut status = self.inner.status.lock();
        for file in &mut take.files.files {
            if file.dropped_frames > 0 {
                status.push_error(
                    SessionError::stream(
                        file.stream,
                        &file.stem_name,
                        format!(
                            "{} frames were dropped (written as silence; see take.json).",
                            file.dropped_frames
                        ),
                    )
                    .in_take(&take.name),
                );
            }
            if let Some(error) = file.new_sink_error(&take.name) {
                status.push_error(error);
            }
        }
        if let Some(summary) = take.summary() {
            status.push_take(summary);
        }
        status.current = None;
        drop(status);
        self.mono.start(&take, reason);
    }

    /// A take that stopped at `end` before it was long enough to keep: its audio is
    /// discarded and the banner counts it.
    fn drop_short_take(&mut self, end: i64, reason: EndReason) {
        self.take = None;
        self.discard_all_before(end);
        for r in &mut self.streams {
            r.file = None;
            r.seen_wants = false;
            r.must_see_off = reason != EndReason::SampleRateChange;
        }
        self.note_short_take();
    }

    /// One banner line for all takes too short to keep, updated in place: a host toggling
    /// record at random must not flood the banner, but nothing is dropped silently.
    fn note_short_take(&mut self) {
        self.short_takes += 1;
        let seconds = self.inner.config.writer.min_take_seconds;
        let n = self.short_takes;
        let message = if n == 1 {
            format!("A take shorter than {seconds} s was not kept (record or the transport was switched on and off at once).")
        } else {
            format!("{n} takes shorter than {seconds} s were not kept (record or the transport was switched on and off at once).")
        };
        self.inner
            .status
            .lock()
            .push_or_update_error(SHORT_TAKES_KEY, SessionError::session(message));
    }

    fn write_manifest(&mut self, complete: bool, ended_by: Option<EndReason>) {
        let Some(take) = self.take.as_ref() else {
            return;
        };
        let Some(folder) = take.folder.as_deref() else {
            return;
        };
        if let Err(e) = write_manifest(folder, &take.manifest(complete, ended_by)) {
            self.inner.status.lock().push_error(
                SessionError::session(WriterError::Manifest(e).to_string()).in_take(&take.name),
            );
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
