//! Assigning each stream's audio to its file: stamps inside the take's current segment are
//! staged (their frames stay in the ring, see `streams`), gaps become silence, and staged
//! audio is written once a write's worth has gathered. Writer thread only.

use super::{with_out, Writer};
use crate::wav::GATHER_BYTES;
use std::sync::atomic::Ordering;
use std::time::Instant;

impl Writer {
    /// Write every stream's audio below `end`. `gather`: audio may stay staged in the rings
    /// until enough of it has come (the take goes on); otherwise all of it is written.
    pub(super) fn write_all_until(&mut self, end: i64, gather: bool) {
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
    pub(super) fn stage_stream_until(&mut self, i: usize, end: i64) {
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
    pub(super) fn staged_due(&self, i: usize, now: Instant) -> bool {
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
}
