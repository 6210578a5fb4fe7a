//! The writer's view of one stream: the stamps it has read, the rings its frames sit in,
//! and the audio staged for its file. Writer thread only.
//!
//! # The staging rule
//! Audio assigned to a file stays in its ring ([`Staged`]) until a write's worth has
//! gathered, and goes to the file from there: the ring's memory is the write buffer. Staged
//! frames are the oldest unread frames of their ring, so nothing may read or skip that ring
//! before they are written. This module enforces it: the rings are private, and the only
//! ways frames leave them are [`StreamReader::write_staged`] and
//! [`StreamReader::discard_front`], which writes what is staged first.

use super::files::StagedOut;
use crate::registry::StreamEntry;
use crate::settings::StreamSettings;
use crate::shared::{RingsFromCapture, StreamId, StreamStats};
use crate::timeline::BlockStamp;
use parking_lot::RwLock;
use ringbuf::traits::{Consumer, Observer};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One stamp the writer has read; its frames are still in the ring.
#[derive(Debug, Clone, Copy)]
pub(super) struct Queued {
    pub stamp: BlockStamp,
    /// First stamp of a new segment (the stream jumped before it).
    pub starts_segment: bool,
    /// Frames of this stamp already staged, written or discarded.
    pub consumed: u32,
    /// Which ring holds its frames.
    pub ring: u64,
}

impl Queued {
    /// Timeline position of the first frame not consumed yet.
    pub fn start(&self) -> i64 {
        self.stamp.pos + self.consumed as i64
    }
}

/// Frames of one stream assigned to a file but still in the ring (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(super) struct Staged {
    pub ring: u64,
    pub file: usize,
    pub frames: usize,
}

/// The writer's view of one stream.
pub(super) struct StreamReader {
    pub id: StreamId,
    /// Registration order: the order files are numbered in.
    pub order: usize,
    pub stats: Arc<StreamStats>,
    pub settings: Arc<RwLock<StreamSettings>>,
    /// The stream's rings, oldest first, each with a sequence number stamps refer to. An
    /// instance gets new rings at every activation.
    rings: VecDeque<(u64, RingsFromCapture)>,
    next_ring: u64,
    /// Stamps read and not yet fully consumed, oldest first.
    pub queue: VecDeque<Queued>,
    /// Where the stream's next block is expected (continuity check).
    pub expected: Option<crate::timeline::Expected>,
    /// End of this stream's data in the current segment (read so far).
    pub seg_end: Option<i64>,
    pub last_heard: Instant,
    /// The instance is gone; the writer drains what is left and forgets the stream.
    pub removed: bool,
    /// Index into the active take's files.
    pub file: Option<usize>,
    /// Has wanted to record since the take started (a later "no" then ends the take).
    pub seen_wants: bool,
    /// Session head when this stream's stale jump was first seen.
    pub parked_at: Option<i64>,
    /// Queued stamps that start a segment (kept as a count: asked per stamp read, and
    /// queues grow long after a writer stall).
    pub breaks: usize,
    /// The last take ended by a stop this stream may not have seen yet: its "record" stamps
    /// only count again after it has shown an "off".
    pub must_see_off: bool,
    /// Audio at the front of the ring that belongs to a file; see the module docs.
    staged: Option<Staged>,
}

impl StreamReader {
    pub fn new(entry: &StreamEntry, order: usize) -> Self {
        StreamReader {
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
        }
    }

    /// A ring the instance attached (a new activation); its stamps come after the older
    /// rings' stamps.
    pub fn add_ring(&mut self, ring: RingsFromCapture) {
        self.rings.push_back((self.next_ring, ring));
        self.next_ring += 1;
        self.last_heard = Instant::now();
    }

    /// Whether a queued stamp starts the next segment.
    pub fn has_break(&self) -> bool {
        self.breaks > 0
    }

    /// The instance has not been processed for `quiet_after` (or has no rings at all).
    pub fn quiet(&self, now: Instant, quiet_after: Duration) -> bool {
        self.rings.is_empty() || now.duration_since(self.last_heard) > quiet_after
    }

    /// Whether the stream has rings (the instance has been activated).
    pub fn is_active(&self) -> bool {
        !self.rings.is_empty()
    }

    /// Input channels of the newest ring.
    pub fn newest_channels(&self) -> Option<u16> {
        self.rings.back().map(|(_, r)| r.channels)
    }

    /// The instance is gone and everything it sent has been written or discarded.
    pub fn drained(&self) -> bool {
        self.removed
            && self.queue.is_empty()
            && self.staged.is_none()
            && self
                .rings
                .iter()
                .all(|(_, r)| r.closed.load(Ordering::Acquire) && r.stamps.is_empty())
    }

    /// The queued stamps of the current segment, from the consume point.
    pub fn segment_stamps(&self) -> impl Iterator<Item = &Queued> {
        self.queue.iter().take_while(|q| !q.starts_segment)
    }

    /// The next stamp, from the oldest ring that may still have some (a closed, empty ring
    /// is done; its successor comes next).
    pub fn pop_stamp(&mut self) -> Option<(u64, BlockStamp)> {
        let (seq, ring) = self
            .rings
            .iter_mut()
            .find(|(_, r)| !(r.closed.load(Ordering::Acquire) && r.stamps.is_empty()))?;
        ring.stamps.try_pop().map(|stamp| (*seq, stamp))
    }

    /// Forget rings that are closed, drained of stamps and no longer referenced by a stamp
    /// or by staged audio (the newest ring always stays).
    pub fn drop_finished_rings(&mut self) {
        while self.rings.len() > 1 {
            let (seq, ring) = &self.rings[0];
            let referenced = self.queue.iter().any(|q| q.ring == *seq)
                || self.staged.is_some_and(|st| st.ring == *seq);
            if ring.closed.load(Ordering::Acquire) && ring.stamps.is_empty() && !referenced {
                self.rings.pop_front();
            } else {
                break;
            }
        }
    }

    /// Frames the newest ring holds.
    pub fn newest_ring_frames(&self) -> Option<usize> {
        self.rings
            .back()
            .map(|(seq, _)| self.ring_capacity_frames(*seq))
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

    /// Frames staged and not written yet, and for which file.
    pub fn staged(&self) -> Option<Staged> {
        self.staged
    }

    /// Whether the staged audio takes a quarter of its ring (an offline render waits for
    /// room, so it must not wait for a bigger write).
    pub fn staged_fills_ring(&self) -> bool {
        self.staged
            .is_some_and(|st| st.frames >= self.ring_capacity_frames(st.ring) / 4)
    }

    /// Assign the front stamp's next `frames` frames to `file`: they stay in the ring until
    /// written. Audio staged for another ring or file is written first.
    pub fn stage_front(&mut self, file: usize, frames: u32, out: &mut dyn StagedOut) {
        let Some(q) = self.queue.front().copied() else {
            return;
        };
        match &mut self.staged {
            Some(st) if st.ring == q.ring && st.file == file => st.frames += frames as usize,
            _ => {
                self.write_staged(out);
                self.staged = Some(Staged {
                    ring: q.ring,
                    file,
                    frames: frames as usize,
                });
            }
        }
        self.consume_front(frames);
    }

    /// Throw away `frames` frames of the front stamp, after writing what is staged (it lies
    /// before them in the ring).
    pub fn discard_front(&mut self, frames: u32, out: &mut dyn StagedOut) {
        self.write_staged(out);
        let Some(q) = self.queue.front().copied() else {
            return;
        };
        let channels = q.stamp.channels as usize;
        self.consume_front(frames);
        if let Some(ring) = self.ring(q.ring) {
            ring.frames.skip(frames as usize * channels);
        }
    }

    fn consume_front(&mut self, frames: u32) {
        if let Some(front) = self.queue.front_mut() {
            front.consumed += frames;
            if front.consumed >= front.stamp.frames {
                self.queue.pop_front();
            }
        }
    }

    /// Hand the staged audio to its file straight from the ring, and release it.
    pub fn write_staged(&mut self, out: &mut dyn StagedOut) {
        let Some(st) = self.staged.take() else {
            return;
        };
        // A staged ring is never dropped (see `drop_finished_rings`), so the audio is
        // there; if it ever is not, the file keeps its length with silence.
        let Some(ring) = self.ring(st.ring) else {
            out.write_silence(st.file, st.frames as u64);
            return;
        };
        let channels = ring.channels as usize;
        let samples = st.frames * channels;
        let (first, second) = ring.frames.as_slices();
        let first = &first[..samples.min(first.len())];
        let second = &second[..(samples - first.len()).min(second.len())];
        out.write(st.file, channels, first);
        out.write(st.file, channels, second);
        let read = first.len() + second.len();
        if read < samples {
            // The audio thread pushes frames before their stamp, so this cannot happen; if
            // it ever does, keep alignment with silence.
            out.write_silence(st.file, ((samples - read) / channels) as u64);
        }
        ring.frames.skip(read);
    }
}
