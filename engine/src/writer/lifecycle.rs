//! A take's life: started where the first stream wants it, held in the rings until it is
//! long enough to keep, opened (folder and files), carried across segment boundaries,
//! finished where it stops being wanted, and reported. The decisions are `plan`'s; this
//! carries them out. Writer thread only.

use super::plan::{self, AtNextSegment, SegmentStart};
use super::streams::StreamReader;
use super::takes::ActiveTake;
use super::{block, pad_files_to, with_out, Writer, WriterError, SHORT_TAKES_KEY};
use crate::manifest::EndReason;
use crate::settings::resolve_output_root;
use crate::status::SessionError;
use crate::take::write_manifest;
use std::sync::atomic::Ordering;

impl Writer {
    /// Start, write and finish takes inside the current segment, up to `limit`. `data_end`:
    /// how far the streams' audio reaches below `limit`; `segment_end`: the segment ends
    /// there (final).
    pub(super) fn run_takes(&mut self, limit: i64, data_end: i64, segment_end: Option<i64>) {
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
    pub(super) fn take_end(&self) -> Option<plan::TakeEnd> {
        self.streams
            .iter()
            .filter_map(|r| plan::first_unwanted(r.segment_stamps().map(block), r.seen_wants))
            .min_by_key(|e| e.at)
    }
    pub(super) fn discard_all_before(&mut self, pos: i64) {
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
    pub(super) fn open_take(&mut self) {
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
        for e in &take.lock_errors {
            self.inner
                .status
                .lock()
                .push_error(SessionError::session(e.clone()).in_take(&take.name));
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
    pub(super) fn open_file(&mut self, i: usize, channels: Option<u16>) {
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
    /// The current segment ends at `end`: write everything before it and pad every file to
    /// it; the take waits for the next segment's start.
    pub(super) fn end_segment(&mut self, end: i64) {
        self.write_all_until(end, false);
        let Some(take) = self.take.as_mut() else {
            return;
        };
        pad_files_to(take, end);
        take.between_segments = Some(take.frames_at(end));
    }
    /// Finish the take at `end` in its current segment (`None`: where its files are, at a
    /// segment boundary), write its manifest, and report it.
    pub(super) fn finish_take(&mut self, end: Option<i64>, reason: EndReason) {
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
            // Before the folder goes: Windows removes no folder with an open file in it.
            take.release_lock();
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
        // take.json says complete: no repair touches the take now. Released after the
        // summary so that whoever sees the complete take.json finds it in the status too.
        take.release_lock();
        self.mono.start(&take, reason);
    }
    /// A take that stopped at `end` before it was long enough to keep: its audio is
    /// discarded and the banner counts it.
    pub(super) fn drop_short_take(&mut self, end: i64, reason: EndReason) {
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
    pub(super) fn note_short_take(&mut self) {
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
    pub(super) fn write_manifest(&mut self, complete: bool, ended_by: Option<EndReason>) {
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
