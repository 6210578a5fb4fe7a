//! What the audio thread and the writer share: stream ids, the session's atomics, each
//! stream's live figures, and the writer's ends of a capture's rings.
//!
//! A leaf module (it imports nothing of the engine but the block stamp and the trigger
//! mode, both leaves themselves), so that the audio
//! side ([`capture`](crate::capture)) and the disk side ([`writer`](crate::writer)) both
//! depend on it and never on each other. **The audio thread touches only atomics here.**

use crate::settings::TriggerMode;
use crate::timeline::BlockStamp;
use ringbuf::HeapCons;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Identifies a stream for the life of the process; never reused.
pub type StreamId = u64;

/// The session state the audio thread reads: atomics only.
#[derive(Debug)]
pub struct SessionShared {
    /// The one arm switch of the whole session.
    pub(crate) armed: AtomicBool,
    /// `TriggerMode` as `u8`, mirrored from the settings for the audio thread.
    pub(crate) trigger: AtomicU8,
    /// The clock instances share while the host gives no position.
    pub(crate) free_clock: FreeClock,
    /// Reference point for `nanos_since_start`.
    epoch: Instant,
}

impl Default for SessionShared {
    fn default() -> Self {
        Self {
            armed: AtomicBool::new(false),
            trigger: AtomicU8::new(0),
            free_clock: FreeClock::default(),
            epoch: Instant::now(),
        }
    }
}

/// StemTap's own timeline for when the host gives none (see `Capture::next_free_pos`).
#[derive(Debug, Default)]
pub(crate) struct FreeClock {
    /// Furthest position any instance has reached.
    pub end: AtomicI64,
    /// Start of the most recently stamped block, and when (monotonic ns since the session
    /// started; 0 = never).
    pub last_block_start: AtomicI64,
    pub last_block_nanos: AtomicU64,
}

impl SessionShared {
    /// Monotonic nanoseconds since the session was created. Realtime-safe (vDSO clock read).
    pub(crate) fn nanos_since_start(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub(crate) fn trigger(&self) -> TriggerMode {
        TriggerMode::from_u8(self.trigger.load(Ordering::Relaxed))
    }
}

/// Per-stream live figures, written by the audio thread and the writer, read by the GUI.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Peak magnitude per channel (f32 bits) since the GUI last took it.
    peak_bits: [AtomicU32; 2],
    /// Frames this stream could not push since it was created.
    pub dropped_frames: AtomicU64,
    /// Frames waiting in the ring for the writer.
    pub ring_fill_frames: AtomicU64,
    /// Ring capacity in frames (set on attach).
    pub ring_capacity_frames: AtomicU64,
    /// Sample rate and input channels of the running audio configuration; 0 while the host
    /// has not activated this instance (or deactivated it).
    pub sample_rate: AtomicU32,
    pub input_channels: AtomicU32,
    /// The instance's "Record enable" is off: it gets no file in takes that start now.
    pub excluded: AtomicBool,
    /// The host renders (offline, or faster than real time while it says realtime): the
    /// audio thread waits for the disk instead of dropping. Written by the audio thread on
    /// a change, read by the GUI.
    pub rendering: AtomicBool,
}

impl StreamStats {
    /// Realtime-safe. For non-negative floats the bit patterns order like the values, so an
    /// integer `fetch_max` keeps the float maximum. Most blocks do not raise the held peak;
    /// they only read it (a read-modify-write costs several times a load).
    pub(crate) fn note_peak(&self, channel: usize, peak: f32) {
        if let Some(slot) = self.peak_bits.get(channel.min(1)) {
            let bits = peak.to_bits();
            if bits > slot.load(Ordering::Relaxed) {
                slot.fetch_max(bits, Ordering::Relaxed);
            }
        }
    }

    /// Take the peaks since the last call (the GUI meters decay on their side).
    pub fn take_peaks(&self) -> [f32; 2] {
        [
            f32::from_bits(self.peak_bits[0].swap(0, Ordering::Relaxed)),
            f32::from_bits(self.peak_bits[1].swap(0, Ordering::Relaxed)),
        ]
    }
}

/// The consumer ends of one `Capture`'s rings, handed to the writer: the audio flows from
/// the capture (audio thread) to the writer through them.
pub(crate) struct RingsFromCapture {
    pub frames: HeapCons<f32>,
    pub stamps: HeapCons<BlockStamp>,
    /// Set when the `Capture` is gone: once drained, this ring is done.
    pub closed: Arc<AtomicBool>,
    pub channels: u16,
}
