//! The audio-thread side of a stream. **Everything here runs on the realtime thread.**
//!
//! [`Capture::capture`] stamps a block, pushes its frames into the stream's ring and updates
//! the meters. It never allocates, locks, blocks (except in renders, where waiting is
//! correct), makes a syscall or logs. It never decides whether a block is recorded: it
//! only says where the block is and what it saw; the writer decides from the stamps.
//!
//! A render is either what the host says (`offline`) or what [`RenderSpeed`] measures: some
//! hosts (Ardour 7.3's export) bounce faster than real time while reporting realtime
//! processing. Real-time playback never waits.

use crate::interleave::interleave_with_peaks;
use crate::render_speed::RenderSpeed;
use crate::shared::{SessionShared, StreamStats};
use crate::timeline::{BlockStamp, Clock};
use ringbuf::traits::{Observer, Producer, Raw};
use ringbuf::HeapProd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Stamps shorter than this are merged with the next contiguous block before they are sent,
/// so hosts that send 1- or 3-frame blocks cannot flood the stamp ring.
pub const MIN_STAMP_FRAMES: u32 = 32;

/// Largest timeline position magnitude accepted from a host, in samples.
const MAX_POSITION: i64 = 1 << 53;

/// Longest single stamp (merged tiny blocks never grow past it).
const MAX_STAMP_FRAMES: u32 = 1 << 16;

/// Renders (offline, or detected as faster than real time) wait for the writer instead of
/// dropping, but not forever: a writer that is gone must not hang the host's bounce.
const OFFLINE_WAIT_LIMIT_MS: u32 = 10_000;

/// What the host told this block about its transport (framework-free copy).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TransportInfo {
    pub playing: bool,
    pub recording: bool,
    /// Host timeline position of the block's first sample, if the host gives one.
    pub pos_samples: Option<i64>,
    pub tempo: Option<f64>,
    pub pos_beats: Option<f64>,
    pub time_sig: Option<(i32, i32)>,
}

/// The producer ends of a stream's rings plus what the audio thread needs to stamp blocks.
/// Created by `StreamHandle::attach` on the main thread (in `activate()`); owned by the
/// plugin's audio thread from then on.
pub struct Capture {
    session: Arc<SessionShared>,
    stats: Arc<StreamStats>,
    to_writer_frames: HeapProd<f32>,
    to_writer_stamps: HeapProd<BlockStamp>,
    /// Set when this capture is dropped, so the writer knows no more stamps will come.
    closed: Arc<AtomicBool>,
    /// The latest stamp, held back while tiny contiguous blocks are merged into it.
    pending: Option<BlockStamp>,
    /// Frames dropped since the last stamp that was accepted.
    dropped_since_stamp: u32,
    /// Where this instance's next block sits on the session's free clock, while it uses it.
    free_next: Option<i64>,
    /// Tells a host rendering faster than real time from real-time playback (see
    /// `render_speed`), fed once per call.
    render_speed: RenderSpeed,
    /// The last call was treated as a render (offline, or faster than real time): its blocks
    /// waited for room instead of dropping. Read by [`Capture::rendering_fast`].
    rendering: bool,
    /// Time spent waiting for the writer, in ns since the session started: the render
    /// detector's clock runs without it, so a render this capture throttles does not look
    /// slow because of its own waits.
    waited_nanos: u64,
    channels: u16,
    sample_rate: u32,
    max_block: u32,
}

impl Capture {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        session: Arc<SessionShared>,
        stats: Arc<StreamStats>,
        to_writer_frames: HeapProd<f32>,
        to_writer_stamps: HeapProd<BlockStamp>,
        closed: Arc<AtomicBool>,
        channels: u16,
        sample_rate: u32,
        max_block: u32,
    ) -> Self {
        let max_block = max_block.max(1);
        let ring_frames = to_writer_frames.capacity().get() / channels.max(1) as usize;
        Self {
            session,
            stats,
            to_writer_frames,
            to_writer_stamps,
            closed,
            pending: None,
            dropped_since_stamp: 0,
            free_next: None,
            render_speed: RenderSpeed::new(sample_rate, ring_frames),
            rendering: false,
            waited_nanos: 0,
            channels,
            sample_rate,
            max_block,
        }
    }

    pub fn channels(&self) -> u16 {
        self.channels
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Whether the last block was captured as part of a render: the host said it renders
    /// offline, or it processes audio faster than real time (see `render_speed`). While it
    /// is, blocks wait for room in the ring instead of being dropped. Realtime-safe.
    pub fn rendering_fast(&self) -> bool {
        self.rendering
    }

    /// Capture one block of audio. `input` holds one slice per channel, all of `frames`
    /// length (missing channels read as silence, extra ones are ignored).
    ///
    /// Realtime-safe: no allocation, lock, syscall or I/O; at most one monotonic clock read
    /// (vDSO). In a render (`offline` set, or the host found processing faster than real
    /// time) it may sleep until the writer has made room (bounded), which is what a bounce
    /// wants.
    pub fn capture<C: AsRef<[f32]>>(
        &mut self,
        input: &[C],
        frames: usize,
        transport: &TransportInfo,
        offline: bool,
    ) {
        // One clock read per call at most: the free clock needs it for every block, the render
        // detector once per few hundred frames (its clock runs without our own waits).
        let frames_u32 = frames.min(u32::MAX as usize) as u32;
        let free_clock = !(transport.playing && transport.pos_samples.is_some());
        let mut now = 0; // read below whenever something uses it
        let faster_than_realtime = if free_clock || self.render_speed.needs_clock(frames_u32) {
            now = self.session.nanos_since_start();
            self.render_speed
                .observe(frames_u32, now.saturating_sub(self.waited_nanos))
        } else {
            self.render_speed.extend(frames_u32)
        };
        let render = offline || faster_than_realtime;
        if render != self.rendering {
            // Written only on a change: the GUI reads it, the audio thread rarely writes it.
            self.stats.rendering.store(render, Ordering::Relaxed);
        }
        self.rendering = render;
        let mut done = 0usize;
        // Positions beyond 2^53 samples (a thousand years) are garbage from a host or a
        // fuzzer; clamping keeps all later arithmetic far from overflow.
        let mut host_pos = transport
            .pos_samples
            .map(|p| p.clamp(-MAX_POSITION, MAX_POSITION));
        let mut beats = transport.pos_beats;
        // Hosts may send more than the announced maximum block; take it in pieces.
        while done < frames {
            let n = (frames - done).min(self.max_block as usize);
            self.capture_piece(input, done, n, transport, host_pos, beats, render, &mut now);
            host_pos = host_pos.map(|p| p + n as i64);
            if let (Some(b), Some(tempo)) = (beats, transport.tempo) {
                beats = Some(b + n as f64 / self.sample_rate as f64 * tempo / 60.0);
            }
            done += n;
        }
        if let Some(p) = self.pending {
            if p.frames >= MIN_STAMP_FRAMES {
                self.flush_pending();
            }
        }
        let fill = self.to_writer_frames.occupied_len() as u64 / self.channels.max(1) as u64;
        self.stats.ring_fill_frames.store(fill, Ordering::Relaxed);
    }

    /// `render`: wait for room instead of dropping. `now`: the session clock, read at the
    /// start of the call and moved on by any wait.
    #[allow(clippy::too_many_arguments)]
    fn capture_piece<C: AsRef<[f32]>>(
        &mut self,
        input: &[C],
        offset: usize,
        frames: usize,
        transport: &TransportInfo,
        host_pos: Option<i64>,
        beats: Option<f64>,
        render: bool,
        now: &mut u64,
    ) {
        let (clock, pos) = match host_pos.filter(|_| transport.playing) {
            Some(pos) => {
                self.free_next = None;
                (Clock::Host, pos)
            }
            None => (Clock::Free, self.next_free_pos(frames as i64, *now)),
        };
        let armed = self.session.armed.load(Ordering::Relaxed);
        let trigger = self.session.trigger();
        let stamp = BlockStamp {
            clock,
            pos,
            frames: frames as u32,
            channels: self.channels,
            sample_rate: self.sample_rate,
            wants_record: armed && trigger.records(transport.playing, transport.recording),
            armed,
            dropped_before: self.dropped_since_stamp,
            tempo: transport.tempo.unwrap_or(0.0),
            beats: beats.unwrap_or(f64::NAN),
            time_sig: transport
                .time_sig
                .map(|(n, d)| (n.clamp(0, 255) as u8, d.clamp(0, 255) as u8))
                .unwrap_or((0, 0)),
        };

        let samples = frames * self.channels as usize;
        let mut room = self.room_for(&stamp, samples);
        if room.is_none() && render {
            self.wait_for_room(samples, now);
            room = self.room_for(&stamp, samples);
        }
        let Some(merges) = room else {
            // All or nothing: a partial block would shift everything after it.
            self.dropped_since_stamp = self.dropped_since_stamp.saturating_add(frames as u32);
            self.stats
                .dropped_frames
                .fetch_add(frames as u64, Ordering::Relaxed);
            return;
        };

        self.push_and_meter(input, offset, frames);

        if merges {
            if let Some(p) = self.pending.as_mut() {
                p.frames += stamp.frames;
            }
        } else {
            self.flush_pending();
            self.pending = Some(stamp);
            self.dropped_since_stamp = 0;
        }
    }

    /// Whether a block of `samples` samples stamped `stamp` fits in the rings now: `None` if
    /// not, else whether its stamp merges into the pending one.
    fn room_for(&self, stamp: &BlockStamp, samples: usize) -> Option<bool> {
        let merges = self
            .pending
            .is_some_and(|p| p.can_absorb(stamp) && p.frames + stamp.frames <= MAX_STAMP_FRAMES);
        // A new stamp needs one free slot for the pending one it replaces.
        let stamp_room =
            merges || self.pending.is_none() || self.to_writer_stamps.vacant_len() >= 1;
        (stamp_room && self.to_writer_frames.vacant_len() >= samples).then_some(merges)
    }

    /// The session's free clock: once on it, every instance advances its own position by
    /// its block lengths, so instances processed in the same host cycles stay in lockstep.
    ///
    /// Joining it (new instance, transport just stopped, resumed after a suspension) is the
    /// one place where nothing on a timeline says which host cycle a block belongs to. If
    /// another instance stamped a block less than half a block's time ago, this block is in
    /// the same cycle and starts where that one started; otherwise it starts at the head.
    /// `now`: the session clock (read once per call by `capture`; reading the monotonic
    /// clock is a vDSO call, not a syscall, on the platforms we ship).
    fn next_free_pos(&mut self, frames: i64, now: u64) -> i64 {
        let clock = &self.session.free_clock;
        let head = clock.end.load(Ordering::Relaxed);
        let pos = match self.free_next {
            Some(next) if next + 2 * self.max_block as i64 >= head => next,
            _ => {
                let last_nanos = clock.last_block_nanos.load(Ordering::Relaxed);
                let half_block_nanos = frames as u64 * 500_000_000 / self.sample_rate as u64;
                if last_nanos != 0 && now.saturating_sub(last_nanos) < half_block_nanos {
                    clock.last_block_start.load(Ordering::Relaxed)
                } else {
                    head
                }
            }
        };
        self.free_next = Some(pos + frames);
        clock.end.fetch_max(pos + frames, Ordering::Relaxed);
        clock.last_block_start.store(pos, Ordering::Relaxed);
        clock.last_block_nanos.store(now.max(1), Ordering::Relaxed);
        pos
    }

    /// Interleave the block straight into the ring's free space (checked above) and meter it.
    fn push_and_meter<C: AsRef<[f32]>>(&mut self, input: &[C], offset: usize, frames: usize) {
        let ch = self.channels as usize;
        let (first, second) = self.to_writer_frames.vacant_slices_mut();
        // The ring holds whole frames and only whole frames are pushed or popped, so its
        // wrap point falls between two frames.
        debug_assert!(first.len().is_multiple_of(ch));
        let in_first = (first.len() / ch).min(frames);
        let a = interleave_with_peaks(input, offset, ch, &mut first[..in_first * ch]);
        let b = interleave_with_peaks(
            input,
            offset + in_first,
            ch,
            &mut second[..(frames - in_first) * ch],
        );
        // SAFETY: the two calls above initialized the first `frames * ch` vacant samples.
        unsafe { self.to_writer_frames.advance_write_index(frames * ch) };
        self.stats.note_peak(0, a[0].max(b[0]));
        self.stats.note_peak(1, a[1].max(b[1]));
    }

    fn flush_pending(&mut self) {
        if let Some(p) = self.pending {
            // Room for it was reserved before its frames were pushed.
            if self.to_writer_stamps.try_push(p).is_ok() {
                self.pending = None;
            }
        }
    }

    /// Renders only, when a block does not fit: give the writer time to drain. Sleeping is
    /// allowed here because a render has no deadline; the wait is bounded so a stuck writer
    /// cannot hang it. Time spent waiting moves `now` and is added to `waited_nanos`.
    fn wait_for_room(&mut self, samples: usize, now: &mut u64) {
        let must_wait = |this: &Self| {
            (this.to_writer_frames.vacant_len() < samples || this.to_writer_stamps.vacant_len() < 2)
                && samples <= this.to_writer_frames.capacity().get()
        };
        if !must_wait(self) {
            return;
        }
        // The writer cannot take frames whose stamp it has not seen: a block split into
        // pieces (or tiny blocks being merged) may have filled the ring under the pending
        // stamp, and waiting with it held back would wait for nothing.
        self.flush_pending();
        let before = self.session.nanos_since_start();
        let mut waited_ms = 0;
        while must_wait(self) && waited_ms < OFFLINE_WAIT_LIMIT_MS {
            std::thread::sleep(std::time::Duration::from_millis(1));
            waited_ms += 1;
        }
        let after = self.session.nanos_since_start();
        self.waited_nanos = self
            .waited_nanos
            .saturating_add(after.saturating_sub(before));
        *now = after;
    }
}

impl Drop for Capture {
    /// Runs on the main thread (the plugin replaces its capture in `activate()`/`deactivate()`).
    fn drop(&mut self) {
        self.flush_pending();
        // Not running until the next attach (which sets them again).
        self.stats.sample_rate.store(0, Ordering::Relaxed);
        self.stats.input_channels.store(0, Ordering::Relaxed);
        self.stats.rendering.store(false, Ordering::Relaxed);
        self.closed.store(true, Ordering::Release);
    }
}
