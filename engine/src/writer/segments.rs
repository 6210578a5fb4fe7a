//! Reading stamps and cutting the timeline into segments: each stream's stamps are
//! classified against what it sent before (contiguous, a gap, a jump), and the segment ends
//! at the latest pre-jump position once every stream has shown the jump, gone quiet or run
//! past it. A stream whose jump lies far behind the others was not processed for a while:
//! it waits for the others' jump and rejoins the segment if none comes. Writer thread only.

use super::streams::Queued;
use super::{with_out, Writer};
use crate::settings::MAX_OFFSET_SAMPLES;
use crate::timeline::{classify, gap_is_locate, Clock, Continuity, Expected};
use std::time::{Duration, Instant};

impl Writer {
    /// Move every available stamp into the stream queues, classifying continuity.
    pub(super) fn read_stamps(&mut self) {
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
                        // Past a queued jump this segment's head says nothing about the
                        // stamp's segment (see `gap_is_locate`).
                        let head = head.filter(|_| !already_past_break);
                        starts_segment = gap_is_locate(&stamp, frames, head, slack);
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
    pub(super) fn head(&self) -> Option<i64> {
        self.streams.iter().filter_map(|r| r.seg_end).max()
    }
    pub(super) fn holdback_frames(&self) -> i64 {
        (self.inner.config.writer.holdback_seconds * self.segment_rate as f64) as i64
    }
    /// A jump whose pre-jump position lies this far behind the head comes from a stream that
    /// was not processed for a while; it does not end the segment for everyone.
    pub(super) fn stale_slack(&self) -> i64 {
        self.holdback_frames() / 2
    }
    /// Where the current segment ends, if a stream has jumped: the latest pre-jump position
    /// of the streams that jumped near the head. Streams with a stale jump are parked, and
    /// rejoin the segment when the others run on without one.
    pub(super) fn segment_boundary(&mut self, head: Option<i64>) -> Option<i64> {
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
    pub(super) fn advance_segment(&mut self, now: Instant, quiet_after: Duration) {
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
}
