//! Is the host rendering faster than real time? **Runs on the realtime thread.**
//!
//! Some hosts bounce "in realtime mode": Ardour 7.3 reports realtime processing during its
//! export (freewheel), so the host's offline flag alone does not say that nobody is
//! listening. [`RenderSpeed`] compares the audio a stream was given with the wall-clock time
//! it took. It measures audio processed (frames handed to `process()`), not timeline
//! positions: positions jump on loops and locates and stand still while the transport is
//! stopped, whereas processed frames are exactly what fills the ring.
//!
//! # Entering render mode
//! A real-time host can run ahead of the wall clock, but only by a bounded amount: REAPER's
//! anticipative processing renders up to ~200 ms ahead in bursts, hosts prefill a few device
//! buffers at start and after a stall, callbacks come late and then early. Whatever the
//! pattern, over any stretch of calls a real-time host cannot have processed more than
//! `wall time + that lead`. A render at speed `r` gains `1 - 1/r` seconds of lead per second
//! of audio, without limit. So the detector keeps
//!
//! ```text
//! excess = max over every stretch of recent calls of (audio - RENDER_RATIO * wall time)
//! ```
//!
//! (a running sum clamped at zero, O(1) per call) and enters render mode when it exceeds the
//! entry excess. Counting wall time twice (`RENDER_RATIO = 2`) makes any speed below 2x,
//! including an audio clock that drifts against the system clock by a few hundred ppm over
//! hours of playback, drain the excess instead of accumulating it; the absolute entry excess
//! absorbs bursts. The entry excess is at least [`RENDER_AHEAD_ALLOWANCE_NANOS`] plus
//! [`PREFILL_BLOCKS`] of the largest block seen (safety: real time never reaches it), and
//! otherwise a quarter of the ring, capped at [`MAX_ENTRY_EXCESS_NANOS`] (a larger margin
//! where the ring can afford it). A render at 20x real time reaches it after ~1.1 entry
//! excesses of audio: ~1.1 s of the default 10 s ring, ~0.32 s of a 0.5 s ring. Slower
//! renders take longer (at 3x, three entry excesses) and renders below 2x are never
//! detected: they drop only where the writer is slower than they are.
//!
//! A block's frames are counted at the next call, against the wall time between the two
//! calls: in steady real time that is exact whatever the block size, even 65536 frames.
//! Small blocks are counted in batches: the clock is read once per [`OBSERVE_MIN_FRAMES`]
//! ([`RenderSpeed::needs_clock`]); calls in between join the batch
//! ([`RenderSpeed::extend`]).
//!
//! # Leaving it
//! In render mode the detector measures windows of [`EXIT_WINDOW_NANOS`] (of audio or of wall
//! time, whichever is reached first) and leaves when one ran at no more than
//! [`EXIT_RATIO_TENTHS`]/10 of real time. The gap between 2x (enter) and 1.3x (leave) keeps
//! a render whose speed varies from flapping in and out. Back in real time, render mode ends
//! within one to two windows (the window that straddles the change may still read fast);
//! after a pause of a window's length (the render ended, the user presses play later), at
//! the first call. A stall inside a render has to last ~180 ms to end it.
//!
//! The caller feeds "host time": wall time minus the time it spent waiting for the writer
//! itself, so a render it throttles by waiting does not look slow because of its own waits.

/// Entering render mode needs audio to outrun this many times the wall time: any host at
/// less than twice real time (every real-time host, however far its audio clock drifts from
/// the system clock) never accumulates excess.
const RENDER_RATIO: u64 = 2;

/// How far ahead of the wall clock a real-time host may legitimately run, beyond its block
/// size: REAPER's anticipative processing renders up to ~200 ms ahead, plus a margin.
pub const RENDER_AHEAD_ALLOWANCE_NANOS: u64 = 250_000_000;

/// Lead, in blocks of the largest size seen, that a real-time host's buffering gives it:
/// with three device buffers (prefilled back to back at start, or a late callback followed
/// by an early one) two blocks are counted before their wall time has passed.
pub const PREFILL_BLOCKS: u64 = 2;

/// The entry excess grows with the ring (a quarter of it) up to this: more margin against
/// unusual real-time hosts, still detected after ~1.1 s of audio at 20x.
pub const MAX_ENTRY_EXCESS_NANOS: u64 = 1_000_000_000;

/// Length of the windows measured in render mode, in audio or host time (whichever first).
pub const EXIT_WINDOW_NANOS: u64 = 250_000_000;

/// Render mode ends after a window that ran at or below 1.3x real time (in tenths).
pub const EXIT_RATIO_TENTHS: u64 = 13;

/// With blocks smaller than this, the clock is read once per this many frames (43 ms at
/// 48 kHz) rather than once per call: a clock read costs 40-45 ns on the development VM
/// (more than capturing a 32-frame block, a third of a 512-frame mono one), and the
/// detector's thresholds are hundreds of milliseconds.
pub const OBSERVE_MIN_FRAMES: u32 = 2048;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Detects a host that renders faster than real time, from block lengths and a clock the
/// caller reads (pure: the clock is a parameter, so tests feed synthetic timings).
///
/// Realtime-safe: fixed-size state, O(1) per call, no allocation, no clock read of its own.
#[derive(Debug, Clone)]
pub struct RenderSpeed {
    sample_rate: u64,
    /// A quarter of the ring, in audio nanoseconds: how much audio the detector may take
    /// before it has to know, where that is more than the safety floor.
    ring_quarter_nanos: u64,
    /// Largest block seen, in frames (the entry excess grows with it).
    largest_block: u32,
    /// Excess of audio over `RENDER_RATIO` x host time needed to enter render mode.
    entry_excess_nanos: u64,
    /// The previous observed call: its host time, and its frames plus those of the calls
    /// since (counted at the next observed call).
    last: Option<(u64, u32)>,
    /// Running `max(0, excess + audio - RENDER_RATIO * host time)`, in nanoseconds.
    excess_nanos: u64,
    fast: bool,
    /// Audio and host time of the current exit window (render mode only).
    window_audio_nanos: u64,
    window_host_nanos: u64,
}

impl RenderSpeed {
    /// `ring_frames`: the capacity of the stream's ring, in frames.
    pub fn new(sample_rate: u32, ring_frames: usize) -> Self {
        let sample_rate = sample_rate.max(1) as u64;
        let ring_quarter_nanos = frames_to_nanos(ring_frames as u64 / 4, sample_rate);
        let mut speed = Self {
            sample_rate,
            ring_quarter_nanos,
            largest_block: 0,
            entry_excess_nanos: 0,
            last: None,
            excess_nanos: 0,
            fast: false,
            window_audio_nanos: 0,
            window_host_nanos: 0,
        };
        speed.entry_excess_nanos = speed.entry_excess();
        speed
    }

    /// Note a call of `frames` frames that started at `now_nanos` (a monotonic clock, in
    /// host time: see the module docs). Returns whether the host renders faster than real
    /// time. Realtime-safe, O(1).
    pub fn observe(&mut self, frames: u32, now_nanos: u64) -> bool {
        if frames > self.largest_block {
            self.largest_block = frames;
            self.entry_excess_nanos = self.entry_excess();
        }
        if let Some((last_nanos, last_frames)) = self.last {
            let host = now_nanos.saturating_sub(last_nanos);
            let audio = frames_to_nanos(last_frames as u64, self.sample_rate);
            if self.fast {
                self.window_audio_nanos = self.window_audio_nanos.saturating_add(audio);
                self.window_host_nanos = self.window_host_nanos.saturating_add(host);
                if self.window_audio_nanos >= EXIT_WINDOW_NANOS
                    || self.window_host_nanos >= EXIT_WINDOW_NANOS
                {
                    // audio / host <= 1.3, without a division.
                    let slow = self.window_audio_nanos.saturating_mul(10)
                        <= self.window_host_nanos.saturating_mul(EXIT_RATIO_TENTHS);
                    if slow {
                        self.fast = false;
                        self.excess_nanos = 0;
                    }
                    self.window_audio_nanos = 0;
                    self.window_host_nanos = 0;
                }
            } else {
                self.excess_nanos = self
                    .excess_nanos
                    .saturating_add(audio)
                    .saturating_sub(host.saturating_mul(RENDER_RATIO));
                if self.excess_nanos > self.entry_excess_nanos {
                    self.fast = true;
                    self.excess_nanos = 0;
                    self.window_audio_nanos = 0;
                    self.window_host_nanos = 0;
                }
            }
        }
        self.last = Some((now_nanos, frames));
        self.fast
    }

    /// Whether the caller should read the clock for its next call, of `frames` frames, and
    /// [`RenderSpeed::observe`] it; otherwise it calls [`RenderSpeed::extend`]. Realtime-safe.
    pub fn needs_clock(&self, frames: u32) -> bool {
        match self.last {
            Some((_, batch)) => batch >= OBSERVE_MIN_FRAMES || frames >= OBSERVE_MIN_FRAMES,
            None => true,
        }
    }

    /// Note a call of `frames` frames without a clock read: it joins the batch that started
    /// with the last observed call. Returns whether the host renders faster than real time
    /// (unchanged). Realtime-safe, O(1).
    pub fn extend(&mut self, frames: u32) -> bool {
        if frames > self.largest_block {
            self.largest_block = frames;
            self.entry_excess_nanos = self.entry_excess();
        }
        if let Some((_, batch)) = self.last.as_mut() {
            *batch = batch.saturating_add(frames);
        }
        self.fast
    }

    /// Whether the last call found the host rendering fast.
    #[cfg(test)]
    pub fn is_fast(&self) -> bool {
        self.fast
    }

    /// The excess that enters render mode, in audio nanoseconds (see the module docs).
    #[cfg(test)]
    pub fn entry_excess_nanos(&self) -> u64 {
        self.entry_excess_nanos
    }

    fn entry_excess(&self) -> u64 {
        let block_nanos = frames_to_nanos(self.largest_block as u64, self.sample_rate);
        let floor = RENDER_AHEAD_ALLOWANCE_NANOS + PREFILL_BLOCKS * block_nanos;
        floor.max(self.ring_quarter_nanos.min(MAX_ENTRY_EXCESS_NANOS))
    }
}

fn frames_to_nanos(frames: u64, sample_rate: u64) -> u64 {
    // At most 2^32 frames x 10^9 < 2^62: no overflow.
    frames.saturating_mul(NANOS_PER_SECOND) / sample_rate
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;
    const MS: u64 = 1_000_000;
    /// Ring lengths in frames: the plugin's default 10 s, and a small 0.5 s one.
    const DEFAULT_RING: usize = 480_000;
    const SMALL_RING: usize = 24_000;

    fn nanos(frames: u64) -> u64 {
        frames * NANOS_PER_SECOND / RATE as u64
    }

    /// Feeds calls to a detector and records what it said.
    struct Sim {
        speed: RenderSpeed,
        /// Host time of the next call.
        now: u64,
        /// Audio given so far, in frames.
        audio: u64,
        /// Audio (frames) given when render mode was first entered, and how often it changed.
        entered_at: Option<u64>,
        changes: u32,
        /// Read the clock only when `needs_clock` says so, as the capture does.
        batched: bool,
    }

    impl Sim {
        fn new(ring: usize) -> Self {
            Self {
                speed: RenderSpeed::new(RATE, ring),
                now: 1_000 * MS,
                audio: 0,
                entered_at: None,
                changes: 0,
                batched: false,
            }
        }

        fn batched(ring: usize) -> Self {
            Self {
                batched: true,
                ..Self::new(ring)
            }
        }

        /// One call of `frames` frames now, then `after` nanoseconds pass.
        fn call(&mut self, frames: u32, after: u64) -> bool {
            let was = self.speed.is_fast();
            let fast = if !self.batched || self.speed.needs_clock(frames) {
                self.speed.observe(frames, self.now)
            } else {
                self.speed.extend(frames)
            };
            if fast != was {
                self.changes += 1;
            }
            if fast && self.entered_at.is_none() {
                self.entered_at = Some(self.audio);
            }
            self.audio += frames as u64;
            self.now += after;
            fast
        }

        /// `seconds` of audio in `block`-frame calls at `speed` x real time.
        fn run(&mut self, block: u32, speed: f64, seconds: f64) {
            let calls = (seconds * RATE as f64 / block as f64).ceil() as u64;
            for _ in 0..calls {
                self.call(block, (nanos(block as u64) as f64 / speed) as u64);
            }
        }

        fn never_fast(&self) -> bool {
            self.entered_at.is_none()
        }
    }

    #[test]
    fn steady_real_time_is_never_fast() {
        for ring in [SMALL_RING, DEFAULT_RING] {
            for (block, batched) in [1, 64, 512, 4096, 65_536]
                .into_iter()
                .flat_map(|b| [(b, false), (b, true)])
            {
                let mut sim = if batched {
                    Sim::batched(ring)
                } else {
                    Sim::new(ring)
                };
                let seconds = if block == 1 { 20.0 } else { 600.0 };
                sim.run(block, 1.0, seconds);
                assert!(
                    sim.never_fast(),
                    "ring {ring}, {block}-frame blocks, batched {batched}"
                );
            }
        }
    }

    #[test]
    fn jittery_and_drifting_real_time_is_never_fast() {
        // Callbacks anywhere within their period (late, then early), and an audio clock 1 %
        // fast against the system clock (a bad device is 0.03 %) for an hour.
        let mut rng = fastrand::Rng::with_seed(3);
        for block in [64u32, 512, 4096] {
            let mut sim = Sim::new(SMALL_RING);
            let period = nanos(block as u64) * 99 / 100;
            let calls = 3_600 * RATE as u64 / block as u64;
            let start = sim.now;
            for k in 0..calls {
                sim.now = start + k * period + rng.u64(0..period);
                sim.call(block, 0);
            }
            assert!(sim.never_fast(), "{block}-frame blocks");
        }
    }

    #[test]
    fn bursts_prefill_and_stalls_in_real_time_are_never_fast() {
        for ring in [SMALL_RING, DEFAULT_RING] {
            for block in [64u32, 512, 2048] {
                let mut sim = Sim::new(ring);
                // Prefill: three device buffers back to back (the run's first call is the
                // third), then real time.
                for _ in 0..2 {
                    sim.call(block, 10_000);
                }
                sim.run(block, 1.0, 2.0);
                // REAPER's anticipative processing: 200 ms rendered in a burst (20 us per
                // block), then nothing until the wall clock has caught up.
                let burst_calls = (0.2 * RATE as f64 / block as f64) as u64;
                for cycle in 0..100 {
                    let burst_start = sim.now;
                    for _ in 0..burst_calls {
                        sim.call(block, 20_000);
                    }
                    sim.now = burst_start + nanos(burst_calls * block as u64);
                    if cycle == 50 {
                        // A 2 s stall; then the render-ahead buffer refills at once.
                        sim.now += 2_000 * MS;
                        for _ in 0..burst_calls {
                            sim.call(block, 20_000);
                        }
                        sim.now += nanos(burst_calls * block as u64);
                    }
                }
                sim.run(block, 1.0, 2.0);
                assert!(sim.never_fast(), "ring {ring}, {block}-frame blocks");
            }
        }
    }

    #[test]
    fn huge_blocks_with_prefill_are_never_fast() {
        // Three device buffers processed back to back (the run's first call is the third).
        let mut sim = Sim::new(DEFAULT_RING);
        for _ in 0..2 {
            sim.call(65_536, 1_000);
        }
        sim.run(65_536, 1.0, 120.0);
        assert!(sim.never_fast());
    }

    #[test]
    fn a_20x_render_is_detected_within_the_first_window() {
        // (ring, block, most audio in frames before render mode must be on)
        let cases = [
            // 0.5 s ring: within 0.35 s of audio, so a writer that drains nothing for
            // 7 ms of wall time still leaves room.
            (SMALL_RING, 1, 16_800),
            (SMALL_RING, 64, 16_800),
            (SMALL_RING, 512, 16_800),
            // Default 10 s ring: entry excess 1 s, within 1.2 s of audio.
            (DEFAULT_RING, 512, 57_600),
            (DEFAULT_RING, 4096, 57_600 + 4096),
            // Huge blocks: the ring is at least 4 blocks; detected within 3.5 of them
            // (a 65536-frame block takes 68 ms at 20x: the writer drains between two).
            (4 * 65_536, 65_536, 7 * 65_536 / 2),
        ];
        for (ring, block, within) in cases {
            for mut sim in [Sim::new(ring), Sim::batched(ring)] {
                sim.run(block, 20.0, 10.0);
                let at = sim.entered_at.expect("render mode never engaged");
                assert!(at <= within, "ring {ring}, block {block}: at {at} frames");
                assert!(sim.speed.is_fast(), "ring {ring}, block {block}: left");
                assert_eq!(sim.changes, 1, "ring {ring}, block {block}: flapped");
            }
        }
    }

    #[test]
    fn a_render_that_varies_between_1_5x_and_20x_does_not_flap() {
        let mut sim = Sim::new(SMALL_RING);
        sim.run(512, 20.0, 1.0);
        for _ in 0..20 {
            sim.run(512, 1.5, 0.5);
            sim.run(512, 20.0, 0.5);
        }
        assert_eq!(sim.changes, 1);
    }

    #[test]
    fn renders_below_twice_real_time_are_not_detected() {
        for speed in [1.1, 1.5, 1.9] {
            let mut sim = Sim::new(SMALL_RING);
            sim.run(512, speed, 60.0);
            assert!(sim.never_fast(), "{speed}x");
        }
    }

    #[test]
    fn back_to_real_time_leaves_render_mode_within_two_windows() {
        for (block, batched) in [1u32, 64, 512, 4096]
            .into_iter()
            .flat_map(|b| [(b, false), (b, true)])
        {
            let mut sim = if batched {
                Sim::batched(SMALL_RING)
            } else {
                Sim::new(SMALL_RING)
            };
            sim.run(block, 20.0, 2.0);
            assert!(sim.speed.is_fast());
            let at = sim.audio;
            let mut left_after = None;
            for _ in 0..(RATE / block) {
                if !sim.call(block, nanos(block as u64)) && left_after.is_none() {
                    left_after = Some(sim.audio - at);
                }
            }
            let left_after = left_after.expect("still fast after 1 s of real time");
            // At most two windows of 250 ms (the first may straddle the change), plus the
            // block (or batch) that closes it.
            assert!(
                left_after <= 24_000 + 2 * block.max(OBSERVE_MIN_FRAMES) as u64,
                "{block}-frame blocks: {left_after}"
            );
            assert_eq!(sim.changes, 2, "{block}-frame blocks");
        }
    }

    #[test]
    fn a_pause_after_a_render_ends_render_mode_at_the_next_call() {
        let mut sim = Sim::new(SMALL_RING);
        sim.run(512, 20.0, 2.0);
        assert!(sim.speed.is_fast());
        sim.now += 300 * MS;
        assert!(!sim.call(512, nanos(512)));
        // ...and real time after it builds nothing up.
        sim.run(512, 1.0, 10.0);
        assert_eq!(sim.changes, 2);
    }

    #[test]
    fn a_stall_does_not_delay_detecting_a_render_after_it() {
        // Wall time without audio is not banked as credit against a later render.
        let mut sim = Sim::new(SMALL_RING);
        sim.run(512, 1.0, 1.0);
        sim.now += 60_000 * MS;
        let before = sim.audio;
        sim.run(512, 20.0, 1.0);
        let at = sim.entered_at.expect("render mode never engaged");
        assert!(at - before <= 16_800, "after {} frames", at - before);
    }

    #[test]
    fn the_entry_excess_follows_the_ring_and_the_block_size() {
        let small = RenderSpeed::new(RATE, SMALL_RING);
        assert_eq!(small.entry_excess_nanos(), RENDER_AHEAD_ALLOWANCE_NANOS);
        assert_eq!(
            RenderSpeed::new(RATE, DEFAULT_RING).entry_excess_nanos(),
            MAX_ENTRY_EXCESS_NANOS
        );
        let mut big_blocks = small;
        big_blocks.observe(4_800, 0);
        assert_eq!(
            big_blocks.entry_excess_nanos(),
            RENDER_AHEAD_ALLOWANCE_NANOS + PREFILL_BLOCKS * 100 * MS
        );
    }

    #[test]
    fn small_blocks_read_the_clock_once_per_batch() {
        let mut speed = RenderSpeed::new(RATE, SMALL_RING);
        let mut reads = 0u32;
        for _ in 0..800 {
            if speed.needs_clock(32) {
                speed.observe(32, reads as u64 * 5 * MS);
                reads += 1;
            } else {
                speed.extend(32);
            }
        }
        // One read per batch of OBSERVE_MIN_FRAMES (the first call always reads).
        assert_eq!(reads, (800 * 32u32).div_ceil(OBSERVE_MIN_FRAMES));
        // Large blocks, or a large block among small ones, are observed every time.
        assert!(speed.needs_clock(OBSERVE_MIN_FRAMES));
        speed.observe(4, 0);
        assert!(!speed.needs_clock(4) && speed.needs_clock(4096));
    }

    #[test]
    fn zero_frame_calls_and_a_clock_that_stands_still_are_harmless() {
        let mut sim = Sim::new(SMALL_RING);
        for _ in 0..10_000 {
            sim.call(0, 0);
        }
        sim.run(512, 1.0, 5.0);
        assert!(sim.never_fast());
    }
}
