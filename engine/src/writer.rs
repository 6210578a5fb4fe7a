//! The writer thread: one per process, serving every stream (Ardour's butler).
//!
//! Every few milliseconds it reads the stamps each audio thread pushed and decides, from
//! timeline positions alone, where takes start and end. Wall-clock time only decides *when*
//! it may decide (how long to wait for a late stream), never *where*: that is what keeps all
//! files of a take on the same frames whatever the threads' timing.
//!
//! # The model
//! - The session timeline is cut into **segments** by discontinuities: a loop or locate, the
//!   transport starting or stopping (host clock <-> free clock), a sample-rate or
//!   channel-count change. Each stream sees the same discontinuity at the same host cycle;
//!   the writer ends the segment at the *latest* pre-jump position any stream reached, once
//!   every stream has shown the jump, gone quiet, or run contiguously past it.
//! - Inside a segment, a take starts at the earliest block any stream stamped as wanting to
//!   record (the first instance to see the arm), and ends at the earliest block that stopped
//!   wanting it after having wanted it, or at the segment end. A segment end that falls
//!   inside a take ends it; if the session still wants to record, the next segment starts a
//!   new take: one take per loop pass.
//! - Decisions wait until no stream can still report an earlier position: everything below
//!   `max(newest position - holdback, oldest live stream position)` is final.
//! - Inside a take, every stream's file gets exactly the frames of [start, end): its own
//!   audio where it has some, silence where it has none (suspended, dropped, added late).
//! - Audio assigned to a file stays in its ring ([`Staged`]) until a write's worth has
//!   gathered, and goes to the file from there: the ring's memory is the write buffer.

pub use crate::config::WriterConfig;
use crate::manifest::{bar_beat, FileEntry, Manifest, FORMAT_VERSION};
use crate::registry::SessionInner;
use crate::settings::{
    resolve_output_root, ChannelMode, Role, SampleFormat, StreamSettings, MAX_OFFSET_SAMPLES,
};
use crate::shared::{RingsFromCapture, StreamId, StreamStats};
use crate::status::{SessionError, TakeProgress, TakeStream, TakeSummary};
use crate::take::{create_take_folder, folder_timestamp, write_manifest, TakeNamer};
use crate::timeline::{classify, gap_is_locate, BlockStamp, Clock, Continuity, Expected};
use crate::wav::{SinkSpec, WavSink, GATHER_BYTES};
use parking_lot::RwLock;
use ringbuf::traits::{Consumer, Observer};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Frames converted per step when a file's channel count differs from its stream's.
const READ_CHUNK_FRAMES: usize = 4096;

/// One stamp the writer has read; its frames are still in the ring.
#[derive(Debug, Clone, Copy)]
struct Queued {
    stamp: BlockStamp,
    /// First stamp of a new segment (the stream jumped before it).
    starts_segment: bool,
    /// Frames of this stamp already written or discarded.
    consumed: u32,
    /// Which ring holds its frames.
    ring: u64,
}

impl Queued {
    fn start(&self) -> i64 {
        self.stamp.pos + self.consumed as i64
    }
}

/// Frames of one stream assigned to its file but still in the ring. The writer gathers a
/// stream's audio until it is worth a write of its own ([`GATHER_BYTES`]) and then hands it
/// to the sink straight from the ring's memory: for float files the kernel copies it from
/// there, with no copy in between.
#[derive(Debug, Clone, Copy)]
struct Staged {
    ring: u64,
    file: usize,
    frames: usize,
}

/// The writer's view of one stream.
struct StreamReader {
    id: StreamId,
    order: usize,
    stats: Arc<StreamStats>,
    settings: Arc<RwLock<StreamSettings>>,
    rings: VecDeque<(u64, RingsFromCapture)>,
    next_ring: u64,
    queue: VecDeque<Queued>,
    expected: Option<Expected>,
    /// End of this stream's data in the current segment (read so far).
    seg_end: Option<i64>,
    last_heard: Instant,
    removed: bool,
    /// Index into the active take's files.
    file: Option<usize>,
    /// Has wanted to record since the take started (a later "no" then ends the take).
    seen_wants: bool,
    /// Session head when this stream's stale jump was first seen.
    parked_at: Option<i64>,
    /// Queued stamps that start a segment.
    breaks: usize,
    /// The last take ended by a stop this stream may not have seen yet: its "record" stamps
    /// only count again after it has shown an "off".
    must_see_off: bool,
    /// Audio at the front of the ring that belongs to the take's file (its stamps are
    /// consumed already); nothing else may read or skip ring frames before it is written.
    staged: Option<Staged>,
}

impl StreamReader {
    /// Whether a queued stamp starts the next segment (kept as a count: this is asked per
    /// stamp read, and queues grow long after a writer stall).
    fn has_break(&self) -> bool {
        self.breaks > 0
    }

    fn quiet(&self, now: Instant, quiet_after: Duration) -> bool {
        self.rings.is_empty() || now.duration_since(self.last_heard) > quiet_after
    }

    fn drained(&self) -> bool {
        self.removed
            && self.queue.is_empty()
            && self.staged.is_none()
            && self
                .rings
                .iter()
                .all(|(_, r)| r.closed.load(Ordering::Acquire) && r.stamps.is_empty())
    }

    /// First stamp in the current segment at or after the consume point.
    fn segment_stamps(&self) -> impl Iterator<Item = &Queued> {
        self.queue.iter().take_while(|q| !q.starts_segment)
    }

    /// The next stamp, from the oldest ring that may still have some (a closed, empty ring
    /// is done; its successor comes next).
    fn pop_stamp(&mut self) -> Option<(u64, BlockStamp)> {
        let (seq, ring) = self
            .rings
            .iter_mut()
            .find(|(_, r)| !(r.closed.load(Ordering::Acquire) && r.stamps.is_empty()))?;
        ring.stamps.try_pop().map(|stamp| (*seq, stamp))
    }

    fn ring_capacity_frames(&self, seq: u64) -> usize {
        self.rings
            .iter()
            .find(|(s, _)| *s == seq)
            .map_or(0, |(_, r)| {
                r.frames.capacity().get() / r.channels.max(1) as usize
            })
    }

    fn ring(&mut self, seq: u64) -> Option<&mut RingsFromCapture> {
        self.rings
            .iter_mut()
            .find(|(s, _)| *s == seq)
            .map(|(_, r)| r)
    }

    /// Throw away `frames` frames of the front stamp.
    fn discard_front(&mut self, frames: u32) {
        debug_assert!(self.staged.is_none(), "staged audio would be skipped");
        let Some(q) = self.queue.front_mut() else {
            return;
        };
        let (seq, channels) = (q.ring, q.stamp.channels as usize);
        q.consumed += frames;
        if q.consumed >= q.stamp.frames {
            self.queue.pop_front();
        }
        if let Some(ring) = self.ring(seq) {
            ring.frames.skip(frames as usize * channels);
        }
    }
}

/// One file of the active take.
struct TakeFile {
    /// The stream it records: what the GUI's errors and per-take figures are keyed by.
    stream: StreamId,
    sink: Option<WavSink>,
    path: String,
    stem_name: String,
    role: Role,
    channel_mode: ChannelMode,
    input_channels: u16,
    file_channels: u16,
    offset_samples: i64,
    /// Next timeline position this file expects.
    written_to: i64,
    dropped_frames: u64,
    silent_gap_frames: u64,
    errors: Vec<String>,
    /// The sink's write error has been put in the session's error list (once is enough).
    sink_error_reported: bool,
}

impl TakeFile {
    /// The sink's write error (a full disk, a removed drive), the first time it is asked
    /// for: reported while recording, so the banner shows it before the take ends.
    fn new_sink_error(&mut self, take: &str) -> Option<SessionError> {
        if self.sink_error_reported {
            return None;
        }
        let message = self.sink.as_ref()?.error.clone()?;
        self.sink_error_reported = true;
        Some(SessionError::stream(self.stream, &self.stem_name, message).in_take(take))
    }
}

struct ActiveTake {
    name: String,
    folder: Option<PathBuf>,
    clock: Clock,
    start: i64,
    sample_rate: u32,
    format: SampleFormat,
    first_stamp: BlockStamp,
    namer: TakeNamer,
    files: Vec<TakeFile>,
    errors: Vec<String>,
    started: Instant,
    /// An end for this take has been seen but is not final yet.
    ending_seen: bool,
}

pub(crate) struct Writer {
    inner: Arc<SessionInner>,
    streams: Vec<StreamReader>,
    take: Option<ActiveTake>,
    takes_started: u32,
    /// Sample rate of the newest segment data, for converting the holdback to frames.
    segment_rate: u32,
    /// Audio converted to a file's channel count (folding to mono).
    fold_buf: Vec<f32>,
}

impl Writer {
    pub fn new(inner: Arc<SessionInner>) -> Self {
        Self {
            inner,
            streams: Vec::new(),
            take: None,
            takes_started: 0,
            segment_rate: 48_000,
            fold_buf: vec![0.0; READ_CHUNK_FRAMES * 2],
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
    }

    /// One round: pick up new streams and rings, read stamps, decide and write.
    /// `flush_all`: the session is ending; everything read is final.
    fn poll(&mut self, flush_all: bool) {
        self.sync_registry();
        self.read_stamps();
        self.step(flush_all);
        let now = Instant::now();
        if let Some(take) = self.take.as_mut() {
            for file in &mut take.files {
                if let Some(sink) = file.sink.as_mut() {
                    sink.checkpoint_if_due(now);
                }
                if let Some(error) = file.new_sink_error(&take.name) {
                    self.inner.status.lock().push_error(error);
                }
            }
        }
        self.publish_progress();
    }

    fn sync_registry(&mut self) {
        let inner = self.inner.clone();
        let mut registry = inner.registry.lock();
        for (order, entry) in registry.streams.iter_mut().enumerate() {
            let reader = match self.streams.iter_mut().position(|r| r.id == entry.id) {
                Some(i) => &mut self.streams[i],
                None => {
                    self.streams.push(StreamReader {
                        id: entry.id,
                        order,
                        stats: entry.stats.clone(),
                        settings: entry.settings.clone(),
                        rings: VecDeque::new(),
                        next_ring: 0,
                        queue: VecDeque::new(),
                        expected: None,
                        seg_end: None,
                        last_heard: Instant::now(),
                        removed: false,
                        file: None,
                        seen_wants: false,
                        parked_at: None,
                        breaks: 0,
                        must_see_off: false,
                        staged: None,
                    });
                    self.streams.last_mut().expect("just pushed")
                }
            };
            reader.order = order;
            for ring in entry.new_rings.drain(..) {
                reader.rings.push_back((reader.next_ring, ring));
                reader.next_ring += 1;
                reader.last_heard = Instant::now();
            }
            reader.removed = entry.removed;
        }
        // Forget streams whose instance is gone and whose audio is all written.
        let gone: Vec<StreamId> = self
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
            // Drop rings that are closed, drained of stamps and no longer referenced.
            while reader.rings.len() > 1 {
                let (seq, ring) = &reader.rings[0];
                let referenced = reader.queue.iter().any(|q| q.ring == *seq)
                    || reader.staged.is_some_and(|st| st.ring == *seq);
                if ring.closed.load(Ordering::Acquire) && ring.stamps.is_empty() && !referenced {
                    reader.rings.pop_front();
                } else {
                    break;
                }
            }
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

    fn step(&mut self, flush_all: bool) {
        let quiet_after = self.inner.config.writer.quiet_after;
        // The host stopped processing altogether (audio engine stopped, project closing)
        // and the session was disarmed: no "off" stamp will ever come, so what has arrived
        // is all there is. Finish the take with it instead of waiting for audio.
        let everyone_quiet = self
            .streams
            .iter()
            .all(|r| r.quiet(Instant::now(), quiet_after));
        let disarmed = !self.inner.shared.armed.load(Ordering::Relaxed);
        let flush_all = flush_all
            || (self.take.is_some() && everyone_quiet && (disarmed || self.streams.is_empty()));
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
            let slack = self.stale_slack();

            // Where does the current segment end, and is that final?
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
            let boundary_final = match boundary {
                Some(b) => {
                    flush_all
                        || self.streams.iter().all(|r| {
                            r.has_break()
                                || r.quiet(now, quiet_after)
                                || r.seg_end.is_some_and(|e| e >= b.saturating_add(holdback))
                        })
                }
                None => false,
            };

            let live_min = self
                .streams
                .iter()
                .filter(|r| !r.quiet(now, quiet_after) && !r.has_break())
                .filter_map(|r| r.seg_end)
                .min();
            let horizon = if flush_all {
                i64::MAX
            } else {
                match (head, live_min) {
                    (Some(h), Some(m)) => (h - holdback).max(m),
                    (Some(h), None) => h - holdback,
                    _ => i64::MIN,
                }
            };
            let limit = match boundary {
                Some(b) if boundary_final => b,
                Some(b) => b.min(horizon),
                None => horizon,
            };

            self.run_takes(limit, boundary_final.then_some(boundary).flatten());

            if boundary_final {
                self.advance_segment(now, quiet_after);
                continue;
            }
            if flush_all {
                if let Some(end) = self.take.as_ref().map(|t| {
                    t.files
                        .iter()
                        .map(|f| f.written_to)
                        .max()
                        .unwrap_or(t.start)
                }) {
                    let stopping = self.inner.stop.load(Ordering::Acquire);
                    self.finish_take(end, if stopping { "shutdown" } else { "disarmed" });
                }
            }
            break;
        }
    }

    /// Every stream moves into the next segment.
    fn advance_segment(&mut self, now: Instant, quiet_after: Duration) {
        self.write_all_staged();
        for r in &mut self.streams {
            // Anything left before its jump lies past the boundary: nothing can use it.
            while r.queue.front().is_some_and(|q| !q.starts_segment) && r.has_break() {
                let left = r.queue[0].stamp.frames - r.queue[0].consumed;
                r.discard_front(left);
            }
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

    /// Start, write and finish takes inside the current segment, up to `limit`.
    fn run_takes(&mut self, limit: i64, segment_end: Option<i64>) {
        for _ in 0..64 {
            if self.take.is_none() {
                let first_wants = self
                    .streams
                    .iter()
                    .filter_map(|r| {
                        // After a take ended, a stream that had not yet seen the stop still
                        // says "record" for a block or so; only a fresh "on" after an "off"
                        // starts the next take.
                        let mut off_seen = !r.must_see_off;
                        r.segment_stamps()
                            .find(|q| {
                                if !q.stamp.wants_record {
                                    off_seen = true;
                                }
                                off_seen && q.stamp.wants_record && q.start() < limit
                            })
                            .copied()
                    })
                    .min_by_key(|q| q.start());
                match first_wants {
                    Some(q) => {
                        let start = q.start();
                        self.discard_all_before(start);
                        self.start_take(start, q.stamp);
                        continue;
                    }
                    None => {
                        self.discard_all_before(limit);
                        return;
                    }
                }
            }

            // Recording: the earliest "stopped wanting it" after "wanted it", per stream.
            let take_end = self
                .streams
                .iter()
                .filter_map(|r| {
                    let mut seen = r.seen_wants;
                    r.segment_stamps().find_map(|q| {
                        if q.stamp.wants_record {
                            seen = true;
                            None
                        } else if seen {
                            Some(q.start())
                        } else {
                            None
                        }
                    })
                })
                .min();
            if let Some(take) = self.take.as_mut() {
                take.ending_seen = take_end.is_some() || segment_end.is_some();
            }
            let write_to = take_end.map_or(limit, |e| e.min(limit));
            self.write_all_until(write_to, true);
            match (take_end, segment_end) {
                (Some(end), _) if end <= limit => {
                    let reason = if self.inner.shared.armed.load(Ordering::Relaxed) {
                        "transport"
                    } else {
                        "disarmed"
                    };
                    self.finish_take(end, reason);
                    continue;
                }
                (_, Some(end)) => {
                    self.finish_take(end, "discontinuity");
                    return;
                }
                _ => return,
            }
        }
    }

    fn discard_all_before(&mut self, pos: i64) {
        self.write_all_staged();
        for r in &mut self.streams {
            while let Some(q) = r.queue.front().copied() {
                if q.starts_segment || q.start() >= pos {
                    break;
                }
                if !q.stamp.wants_record {
                    r.must_see_off = false;
                }
                let frames = (q.stamp.end().min(pos) - q.start()) as u32;
                r.discard_front(frames);
            }
        }
    }

    fn start_take(&mut self, start: i64, first: BlockStamp) {
        self.takes_started += 1;
        let settings = self.inner.settings.read().clone();
        let root = resolve_output_root(settings.output_root.as_deref());
        let mut take = ActiveTake {
            name: String::new(),
            folder: None,
            clock: first.clock,
            start,
            sample_rate: first.sample_rate,
            format: settings.format,
            first_stamp: first,
            namer: TakeNamer::default(),
            files: Vec::new(),
            errors: Vec::new(),
            started: Instant::now(),
            ending_seen: false,
        };
        match create_take_folder(&root, &folder_timestamp(), self.takes_started) {
            Ok((dir, name)) => {
                take.folder = Some(dir);
                take.name = name;
            }
            Err(e) => {
                let message = format!(
                    "Cannot create a take folder in {}: {e}. This take is not recorded.",
                    root.display()
                );
                self.inner
                    .status
                    .lock()
                    .push_error(SessionError::session(message.clone()));
                take.errors.push(message);
            }
        }
        self.take = Some(take);
        for r in &mut self.streams {
            r.file = None;
            r.seen_wants = false;
        }
        // Every stream that is active now gets a file, even if it sends nothing.
        let mut order: Vec<usize> = (0..self.streams.len())
            .filter(|&i| {
                let r = &self.streams[i];
                !r.rings.is_empty() && !r.removed && !r.stats.excluded.load(Ordering::Relaxed)
            })
            .collect();
        order.sort_by_key(|&i| self.streams[i].order);
        for i in order {
            self.open_file(i, None);
        }
        self.write_manifest(false, None);
    }

    /// Create stream `i`'s file in the active take. `channels`: the input channels, when a
    /// stamp tells them; else the ring's.
    fn open_file(&mut self, i: usize, channels: Option<u16>) {
        let reader = &mut self.streams[i];
        let Some(take) = self.take.as_mut() else {
            return;
        };
        let input_channels = channels
            .or_else(|| reader.rings.back().map(|(_, r)| r.channels))
            .unwrap_or(2);
        let (display, settings) = {
            let registry = self.inner.registry.lock();
            let entry = registry.streams.iter().find(|e| e.id == reader.id);
            (
                entry
                    .map(|e| e.display_name())
                    .unwrap_or_else(|| format!("Track {}", reader.id)),
                reader.settings.read().clone(),
            )
        };
        let rel = take.namer.path_for(settings.role, &display);
        let file_channels = settings.channel_mode.file_channels(input_channels);
        let mut file = TakeFile {
            stream: reader.id,
            sink: None,
            path: format!("{rel}.wav"),
            stem_name: display,
            role: settings.role,
            channel_mode: settings.channel_mode,
            input_channels,
            file_channels,
            offset_samples: settings.offset_samples,
            written_to: take.start,
            dropped_frames: 0,
            silent_gap_frames: 0,
            errors: Vec::new(),
            sink_error_reported: false,
        };
        if let Some(dir) = &take.folder {
            let parent = dir.join(&rel);
            let made = parent.parent().map_or(Ok(()), std::fs::create_dir_all);
            let sink = made.map_err(|e| e.to_string()).and_then(|_| {
                WavSink::create(SinkSpec {
                    take_dir: dir.clone(),
                    rel_base: rel.clone(),
                    channels: file_channels,
                    sample_rate: take.sample_rate,
                    format: take.format,
                    max_data_bytes: self.inner.config.writer.max_wav_data_bytes,
                })
                .map_err(|e| e.to_string())
            });
            match sink {
                Ok(sink) => file.sink = Some(sink),
                Err(e) => {
                    self.inner.status.lock().push_error(
                        SessionError::stream(file.stream, &file.stem_name, &e).in_take(&take.name),
                    );
                    file.errors.push(e);
                }
            }
        }
        take.files.push(file);
        reader.file = Some(take.files.len() - 1);
    }

    /// Write every stream's audio below `end`. `gather`: audio may stay staged in the rings
    /// until enough of it has come (the take goes on); otherwise all of it is written.
    fn write_all_until(&mut self, end: i64, gather: bool) {
        let now = Instant::now();
        for i in 0..self.streams.len() {
            self.stage_stream_until(i, end);
            if !gather || self.staged_due(i, now) {
                self.write_staged(i);
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
            let (take_rate, take_start) = (take.sample_rate, take.start);
            let Some(q) = self.streams[i].queue.front().copied() else {
                return;
            };
            if q.starts_segment || q.start() >= end {
                return;
            }
            let upto = q.stamp.end().min(end);
            if q.stamp.sample_rate != take_rate {
                // Joined with another rate (no jump seen): it cannot share this take.
                self.discard_front(i, (upto - q.start()) as u32);
                continue;
            }
            if q.stamp.wants_record {
                self.streams[i].seen_wants = true;
            }
            if self.streams[i].file.is_none() {
                if self.streams[i].stats.excluded.load(Ordering::Relaxed) {
                    // Record enable is off: this take has no file for it.
                    self.discard_front(i, (upto - q.start()) as u32);
                    continue;
                }
                self.open_file(i, Some(q.stamp.channels));
            }
            let file_index = self.streams[i].file.expect("opened above");
            let take = self.take.as_ref().expect("checked above");
            let file = &take.files[file_index];
            if q.stamp.channels != file.input_channels {
                // Another channel layout without a jump (it rejoined late): cannot go here.
                self.discard_front(i, (upto - q.start()) as u32);
                continue;
            }
            let already = file.written_to.max(take_start);
            if q.start() < already {
                // Positions this file already has (or before the take): skip them.
                self.discard_front(i, (upto.min(already) - q.start()) as u32);
                continue;
            }
            if q.start() > file.written_to {
                // Silence goes after what is staged.
                self.write_staged(i);
                let take = self.take.as_mut().expect("checked above");
                let file = &mut take.files[file_index];
                let gap = (q.start() - file.written_to) as u64;
                let dropped = if q.consumed == 0 {
                    gap.min(q.stamp.dropped_before as u64)
                } else {
                    0
                };
                file.dropped_frames += dropped;
                file.silent_gap_frames += gap - dropped;
                if let Some(sink) = file.sink.as_mut() {
                    sink.write_silence(gap);
                }
                file.written_to = q.start();
            }
            let frames = (upto - q.start()) as usize;
            let reader = &mut self.streams[i];
            match &mut reader.staged {
                Some(st) if st.ring == q.ring && st.file == file_index => st.frames += frames,
                _ => {
                    // Another ring (the instance was reconfigured): the first one goes first.
                    self.write_staged(i);
                    self.streams[i].staged = Some(Staged {
                        ring: q.ring,
                        file: file_index,
                        frames,
                    });
                }
            }
            let reader = &mut self.streams[i];
            if let Some(front) = reader.queue.front_mut() {
                front.consumed += frames as u32;
                if front.consumed >= front.stamp.frames {
                    reader.queue.pop_front();
                }
            }
            let take = self.take.as_mut().expect("checked above");
            take.files[file_index].written_to += frames as i64;
        }
    }

    /// Throw away `frames` frames of stream `i`'s front stamp, after writing what is staged
    /// (it lies before them in the ring).
    fn discard_front(&mut self, i: usize, frames: u32) {
        self.write_staged(i);
        self.streams[i].discard_front(frames);
    }

    /// Whether stream `i`'s staged audio should be written now: it makes a write of
    /// [`GATHER_BYTES`] with what the sink holds, it takes a quarter of the ring (an
    /// offline render waits for room), its file is due a checkpoint (the header should
    /// cover what has arrived), or its instance is gone.
    fn staged_due(&self, i: usize, now: Instant) -> bool {
        let reader = &self.streams[i];
        let Some(st) = reader.staged else {
            return false;
        };
        let Some(sink) = self
            .take
            .as_ref()
            .and_then(|t| t.files.get(st.file))
            .and_then(|f| f.sink.as_ref())
        else {
            return true;
        };
        let ring_frames = reader.ring_capacity_frames(st.ring);
        let bytes = st.frames * sink.channels() as usize * sink.bytes_per_sample();
        reader.removed
            || sink.buffered_bytes() + bytes >= GATHER_BYTES
            || st.frames >= ring_frames / 4
            || sink.checkpoint_due(now)
    }

    /// Before anything else reads or skips ring frames (the staged ones come first).
    fn write_all_staged(&mut self) {
        for i in 0..self.streams.len() {
            self.write_staged(i);
        }
    }

    /// Hand stream `i`'s staged audio to its file straight from the ring, and release it.
    fn write_staged(&mut self, i: usize) {
        let reader = &mut self.streams[i];
        let Some(st) = reader.staged.take() else {
            return;
        };
        let sink = self
            .take
            .as_mut()
            .and_then(|t| t.files.get_mut(st.file))
            .and_then(|f| Some((f.file_channels as usize, f.sink.as_mut()?)));
        // A staged ring is never dropped (see `read_stamps`), so the audio is there; if it
        // ever is not, the file keeps its length with silence.
        let Some(ring) = reader.ring(st.ring) else {
            if let Some((_, sink)) = sink {
                sink.write_silence(st.frames as u64);
            }
            return;
        };
        let in_ch = ring.channels as usize;
        let samples = st.frames * in_ch;
        let (first, second) = ring.frames.as_slices();
        let first = &first[..samples.min(first.len())];
        let second = &second[..(samples - first.len()).min(second.len())];
        if let Some((out_ch, sink)) = sink {
            for span in [first, second] {
                if in_ch == out_ch {
                    sink.write(span);
                } else {
                    let need = READ_CHUNK_FRAMES * out_ch;
                    if self.fold_buf.len() < need {
                        self.fold_buf.resize(need, 0.0);
                    }
                    for chunk in span.chunks(READ_CHUNK_FRAMES * in_ch) {
                        sink.write(fold(chunk, in_ch, out_ch, &mut self.fold_buf));
                    }
                }
            }
            let missing = samples - first.len() - second.len();
            if missing > 0 {
                // The audio thread pushes frames before their stamp, so this cannot happen;
                // if it ever does, keep alignment with silence.
                sink.write_silence((missing / in_ch) as u64);
            }
        }
        let read = first.len() + second.len();
        ring.frames.skip(read);
    }

    fn finish_take(&mut self, end: i64, reason: &str) {
        self.write_all_until(end, false);
        let Some(mut take) = self.take.take() else {
            return;
        };
        let end = end.max(take.start);
        for file in &mut take.files {
            if file.written_to < end {
                let gap = (end - file.written_to) as u64;
                file.silent_gap_frames += gap;
                if let Some(sink) = file.sink.as_mut() {
                    sink.write_silence(gap);
                }
                file.written_to = end;
            }
            if let Some(sink) = file.sink.as_mut() {
                sink.finish();
            }
        }
        let stopped = reason != "discontinuity";
        for r in &mut self.streams {
            r.file = None;
            r.seen_wants = false;
            r.must_see_off = stopped;
        }
        let length = (end - take.start) as u64;
        self.take = Some(take);
        self.write_manifest(true, Some(reason));
        let mut take = self.take.take().expect("just put back");
        let mut status = self.inner.status.lock();
        let dropped: u64 = take.files.iter().map(|f| f.dropped_frames).sum();
        // Files that could not be created were reported when they failed; write errors may
        // not have been yet (the take can end in the poll that hit them).
        let file_errors: usize = take
            .files
            .iter()
            .map(|f| f.errors.len() + f.sink.as_ref().map_or(0, |s| s.error.is_some() as usize))
            .sum();
        for file in &mut take.files {
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
        if let Some(folder) = &take.folder {
            status.push_take(TakeSummary {
                name: take.name.clone(),
                folder: folder.clone(),
                length_frames: length,
                sample_rate: take.sample_rate,
                files: take.files.len(),
                streams: take_streams(&take.files),
                dropped_frames: dropped,
                errors: file_errors + take.errors.len(),
            });
        }
        status.current = None;
    }

    fn write_manifest(&mut self, complete: bool, ended_by: Option<&str>) {
        let Some(take) = self.take.as_ref() else {
            return;
        };
        let Some(folder) = take.folder.clone() else {
            return;
        };
        let length = take
            .files
            .iter()
            .map(|f| f.written_to - take.start)
            .max()
            .unwrap_or(0)
            .max(0) as u64;
        let rate = take.sample_rate.max(1) as f64;
        let first = take.first_stamp;
        let known_meter = first.time_sig != (0, 0);
        let manifest = Manifest {
            format_version: FORMAT_VERSION,
            generator: format!("StemTap {}", env!("CARGO_PKG_VERSION")),
            take: take.name.clone(),
            complete,
            sample_rate: take.sample_rate,
            sample_format: take.format,
            timeline: match take.clock {
                Clock::Host => "host".into(),
                Clock::Free => "free".into(),
            },
            start_sample: take.start,
            start_seconds: take.start as f64 / rate,
            length_frames: length,
            length_seconds: length as f64 / rate,
            tempo_bpm: (first.tempo > 0.0).then_some(first.tempo),
            time_signature: known_meter.then_some([first.time_sig.0, first.time_sig.1]),
            start_beats: first.beats.is_finite().then_some(first.beats),
            start_bar_beat: bar_beat(first.beats, first.time_sig),
            ended_by: ended_by.map(str::to_string),
            files: take
                .files
                .iter()
                .map(|f| {
                    let sink = f.sink.as_ref();
                    let peak = sink.map_or(0.0, |s| s.peak);
                    let mut errors = f.errors.clone();
                    errors.extend(sink.and_then(|s| s.error.clone()));
                    let parts = sink.map(|s| s.parts.clone()).unwrap_or_default();
                    FileEntry {
                        path: f.path.clone(),
                        continuation_paths: parts.into_iter().skip(1).collect(),
                        stem_name: f.stem_name.clone(),
                        role: f.role,
                        channel_mode: f.channel_mode,
                        channels: f.file_channels,
                        dropped_frames: f.dropped_frames,
                        silent_gap_frames: f.silent_gap_frames,
                        peak,
                        peak_dbfs: (peak > 0.0).then(|| 20.0 * peak.log10()),
                        clipped_samples: sink.map_or(0, |s| s.clipped_samples),
                        channels_identical: (f.channel_mode == ChannelMode::Auto
                            && f.file_channels == 2)
                            .then(|| sink.is_some_and(|s| s.channels_identical)),
                        offset_samples: f.offset_samples,
                        errors,
                    }
                })
                .collect(),
            errors: take.errors.clone(),
        };
        if let Err(e) = write_manifest(&folder, &manifest) {
            self.inner.status.lock().push_error(
                SessionError::session(format!("cannot write take.json: {e}")).in_take(&take.name),
            );
        }
    }

    fn publish_progress(&self) {
        let mut status = self.inner.status.lock();
        status.current = self.take.as_ref().and_then(|take| {
            Some(TakeProgress {
                name: take.name.clone(),
                folder: take.folder.clone()?,
                started: take.started,
                sample_rate: take.sample_rate,
                frames: take
                    .files
                    .iter()
                    .map(|f| (f.written_to - take.start).max(0) as u64)
                    .max()
                    .unwrap_or(0),
                files: take.files.len(),
                streams: take_streams(&take.files),
                finishing: take.ending_seen,
            })
        });
    }
}

/// Each file's stream and its dropped frames so far, for the GUI's per-take figures.
fn take_streams(files: &[TakeFile]) -> Vec<TakeStream> {
    files
        .iter()
        .map(|f| TakeStream {
            id: f.stream,
            dropped_frames: f.dropped_frames,
        })
        .collect()
}

/// Convert `input` (interleaved, `in_ch` channels) to `out_ch` channels: the same samples, or
/// the average of the inputs when folding to mono.
fn fold<'a>(input: &'a [f32], in_ch: usize, out_ch: usize, buf: &'a mut [f32]) -> &'a [f32] {
    if in_ch == out_ch {
        return input;
    }
    let frames = input.len() / in_ch;
    let scale = 1.0 / in_ch as f32;
    for (f, frame) in input.chunks_exact(in_ch).enumerate() {
        let mono = frame.iter().sum::<f32>() * scale;
        for c in 0..out_ch {
            buf[f * out_ch + c] = mono;
        }
    }
    &buf[..frames * out_ch]
}
