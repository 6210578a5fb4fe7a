//! [`WavSink`]: one stream's audio as one file or a run of continuation parts, with the
//! statistics the manifest reports. Writer thread only; every call may block on I/O.

use super::cue::Cues;
use super::encode::{encode_f32, encode_i16, encode_i24, peak_and_clipped, Dither};
use super::header::{fmt_body, header_bytes, AudioInfo};
use super::part::Part;
use super::{FileMetadata, SinkSpec, WavError, CHECKPOINT_INTERVAL, RF64_AFTER_BYTES};
use crate::settings::SampleFormat;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Samples encoded per step while zero-filling.
const SILENCE_CHUNK_SAMPLES: usize = 8192;

/// One stream's output: encodes float frames into the file's format, keeps the header's
/// sizes current (RF64 past 4 GiB), rolls over to a new part if the spec asks for parts,
/// and tracks what the manifest reports about the audio.
pub struct WavSink {
    /// Where and how to write, as the writer asked.
    spec: SinkSpec,
    /// The file being written; `None` once finished or after an error.
    part: Option<Part>,
    /// The `fmt ` chunk's body (hound's, for this spec).
    fmt: Vec<u8>,
    /// What the `bext` and `iXML` chunks of every part say.
    metadata: FileMetadata,
    /// RIFF size past which a part turns into RF64.
    rf64_after_bytes: u64,
    /// Relative paths of every part written so far (part 1 first).
    pub parts: Vec<String>,
    /// Frames in the current part: decides the rollover.
    frames_in_part: u64,
    /// Whole frames that fit one part's data chunk (from `max_data_bytes`; `u64::MAX`
    /// when the stream is not split).
    max_frames_per_part: u64,
    /// Frames written across all parts (silence included), for the manifest.
    pub frames_written: u64,
    /// Largest magnitude written (NaN ignored), in full scale, for the manifest.
    pub peak: f32,
    /// Samples beyond full scale, clipped in integer files, for the manifest.
    pub clipped_samples: u64,
    /// Every frame so far had identical channels (meaningful for 2 channels).
    pub channels_identical: bool,
    /// The first error; once set the file is closed and later audio is not written.
    /// Shared (`Arc`) so the writer can report it and keep it for `take.json`.
    pub error: Option<Arc<WavError>>,
    /// When the header was last rewritten, for [`CHECKPOINT_INTERVAL`].
    last_checkpoint: Instant,
    /// TPDF dither of 16-bit files, seeded so the same input gives the same file.
    dither: Dither,
    /// Zeros for [`WavSink::write_silence`], allocated once.
    silence: Vec<f32>,
    /// Markers waiting for their part to be finished (see [`WavSink::add_cue`]).
    cues: Cues,
}

impl WavSink {
    /// A sink with empty metadata (no names, timeline position 0) that turns into RF64 at
    /// [`RF64_AFTER_BYTES`]: for benchmarks and tests; the writer uses [`Self::create_with`].
    pub fn create(spec: SinkSpec) -> Result<Self, WavError> {
        Self::create_with(spec, FileMetadata::default(), RF64_AFTER_BYTES)
    }

    /// Create the stream's first file, with `metadata` in its `bext` and `iXML` chunks;
    /// files turn into RF64 once their RIFF size would pass `rf64_after_bytes`
    /// ([`RF64_AFTER_BYTES`] outside tests; it is capped there).
    pub fn create_with(
        spec: SinkSpec,
        mut metadata: FileMetadata,
        rf64_after_bytes: u64,
    ) -> Result<Self, WavError> {
        let bytes_per_frame = spec.format.bytes_per_sample() * spec.channels.max(1) as u64;
        let max_frames_per_part = (spec.max_data_bytes / bytes_per_frame).max(1);
        let fmt = fmt_body(&audio_info(&spec)).map_err(|source| WavError::Create {
            path: spec.take_dir.join(format!("{}.wav", spec.rel_base)),
            source,
        })?;
        // Every part says the same date and time.
        metadata.originated = Some(metadata.originated());
        let channels = spec.channels;
        let mut sink = WavSink {
            spec,
            part: None,
            fmt,
            metadata,
            rf64_after_bytes: rf64_after_bytes.min(RF64_AFTER_BYTES),
            parts: Vec::new(),
            frames_in_part: 0,
            max_frames_per_part,
            frames_written: 0,
            peak: 0.0,
            clipped_samples: 0,
            channels_identical: true,
            error: None,
            last_checkpoint: Instant::now(),
            // Fixed seed: the same input gives the same file, which tests rely on.
            dither: Dither::new(0x5743_4d54, channels),
            silence: vec![0.0; SILENCE_CHUNK_SAMPLES],
            cues: Cues::default(),
        };
        sink.open_part()?;
        Ok(sink)
    }

    pub fn channels(&self) -> u16 {
        self.spec.channels
    }

    pub fn bytes_per_sample(&self) -> usize {
        self.spec.format.bytes_per_sample() as usize
    }

    /// Encoded bytes waiting for the next write.
    pub fn buffered_bytes(&self) -> usize {
        self.part.as_ref().map_or(0, |p| p.len)
    }

    /// Whether [`Self::checkpoint_if_due`] would rewrite the header at `now`.
    pub fn checkpoint_due(&self, now: Instant) -> bool {
        now.duration_since(self.last_checkpoint) >= CHECKPOINT_INTERVAL
    }

    fn open_part(&mut self) -> Result<(), WavError> {
        let part = self.parts.len() + 1;
        let rel = if part == 1 {
            format!("{}.wav", self.spec.rel_base)
        } else {
            format!("{} (part {part}).wav", self.spec.rel_base)
        };
        let path = self.spec.take_dir.join(&rel);
        let bytes_per_frame =
            self.spec.format.bytes_per_sample() * self.spec.channels.max(1) as u64;
        // A part's timeline position is where its first frame sits in the take.
        let header = header_bytes(
            &self.fmt,
            &self.metadata,
            &audio_info(&self.spec),
            self.frames_written,
        );
        let part =
            Part::create(&path, &header, bytes_per_frame, self.rf64_after_bytes).map_err(|e| {
                WavError::Create {
                    path,
                    source: e.into(),
                }
            })?;
        self.part = Some(part);
        self.parts.push(rel);
        self.frames_in_part = 0;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        self.spec
            .take_dir
            .join(self.parts.last().map(String::as_str).unwrap_or(""))
    }

    /// Write interleaved frames (already in the file's channel count). Peak and clip count
    /// are taken while encoding, so they cover what reached the file.
    pub fn write(&mut self, samples: &[f32]) {
        let ch = self.spec.channels as usize;
        if ch == 2 && self.channels_identical {
            self.channels_identical = samples.chunks_exact(2).all(|f| f[0] == f[1]);
        }
        self.write_frames(samples);
    }

    /// Write `frames` frames of digital silence.
    pub fn write_silence(&mut self, frames: u64) {
        let ch = self.spec.channels as u64;
        let mut left = frames * ch;
        let silence = std::mem::take(&mut self.silence);
        while left > 0 {
            let n = left.min(silence.len() as u64 - silence.len() as u64 % ch) as usize;
            self.write_frames(&silence[..n]);
            left -= n as u64;
        }
        self.silence = silence;
    }

    fn write_frames(&mut self, samples: &[f32]) {
        let ch = self.spec.channels as usize;
        let mut rest = samples;
        while !rest.is_empty() && self.error.is_none() {
            if self.frames_in_part >= self.max_frames_per_part {
                if let Err(e) = self.roll_over() {
                    self.fail(e);
                    return;
                }
            }
            let room = (self.max_frames_per_part - self.frames_in_part).saturating_mul(ch as u64);
            let (now, later) = rest.split_at((rest.len() as u64).min(room) as usize);
            if let Err(e) = self.encode(now) {
                let path = self.current_path();
                let source = e.into();
                self.fail(WavError::Write { path, source });
                return;
            }
            let frames = (now.len() / ch) as u64;
            self.frames_in_part += frames;
            self.frames_written += frames;
            rest = later;
        }
    }

    /// Convert `samples` into the part's buffer, writing it out whenever it fills.
    fn encode(&mut self, samples: &[f32]) -> io::Result<()> {
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        let format = self.spec.format;
        #[cfg(target_endian = "little")]
        if format == SampleFormat::Float32 {
            // The file's bytes are the samples' bytes: scan them (read only) and let the
            // kernel copy them once the span reaches a chunk boundary.
            let bytes: &[u8] = bytemuck::cast_slice(samples);
            if part.len + bytes.len() >= part.fill_limit() {
                let (peak, clipped) = peak_and_clipped(samples);
                self.peak = self.peak.max(peak);
                self.clipped_samples += clipped;
                return part.write_through(bytes);
            }
        }
        let bps = format.bytes_per_sample() as usize;
        let mut rest = samples;
        while !rest.is_empty() {
            let limit = part.fill_limit();
            if part.len >= limit {
                part.write_out(limit)?;
                continue;
            }
            // Whole samples up to the limit, the last one may cross it by a few bytes.
            let room = (limit - part.len).div_ceil(bps);
            let (now, later) = rest.split_at(rest.len().min(room));
            let out = &mut part.buf[part.len..part.len + now.len() * bps];
            // Float is a copy, so its scan rides along in the same pass; the integer
            // formats scan first (they convert per sample anyway).
            let (peak, clipped) = match format {
                SampleFormat::Float32 => encode_f32(now, out),
                SampleFormat::Int24 => encode_i24(now, out),
                SampleFormat::Int16 => {
                    let stats = peak_and_clipped(now);
                    encode_i16(now, out, &mut self.dither);
                    stats
                }
            };
            self.peak = self.peak.max(peak);
            self.clipped_samples += clipped;
            part.len += now.len() * bps;
            rest = later;
        }
        Ok(())
    }

    fn roll_over(&mut self) -> Result<(), WavError> {
        self.close_part(false).map_err(|e| WavError::Write {
            path: self.current_path(),
            source: e.into(),
        })?;
        self.open_part()
    }

    /// Finish the current part with the cue points it holds; `last` when no part follows
    /// (finish, failure, drop), so it takes every marker left.
    fn close_part(&mut self, last: bool) -> io::Result<()> {
        let Some(part) = self.part.take() else {
            return Ok(());
        };
        let start = self.frames_written - self.frames_in_part;
        let trailer = self.cues.take_chunks(start, self.frames_in_part, last);
        part.finish(&trailer)
    }

    /// Mark stream frame `frame` (counted from the start of the whole stream, across
    /// continuation parts) with a cue point labelled `label`. It is written when the part
    /// that holds the frame is finished, at the part-relative frame; a marker exactly at a
    /// part's end opens the next part. Markers may be added before their frame is written.
    /// One past the end of the stream when the sink finishes is kept at the end of the last
    /// part; one for a part already finished goes at the start of the current part. Labels
    /// are written as UTF-8 bytes (most readers expect ASCII), NUL bytes removed.
    ///
    /// Writer thread; allocates, no I/O.
    pub fn add_cue(&mut self, frame: u64, label: &str) {
        self.cues.add(frame, label);
    }

    fn fail(&mut self, error: WavError) {
        if self.error.is_none() {
            self.error = Some(Arc::new(error));
        }
        // Finish the file as far as it got; a second error here adds nothing.
        let _ = self.close_part(true);
    }

    /// Rewrite the header about once a second so the file is readable after a crash.
    pub fn checkpoint_if_due(&mut self, now: Instant) {
        if !self.checkpoint_due(now) {
            return;
        }
        self.last_checkpoint = now;
        if let Some(part) = self.part.as_mut() {
            if let Err(e) = part.checkpoint() {
                let path = self.current_path();
                self.fail(WavError::Write {
                    path,
                    source: e.into(),
                });
            }
        }
    }

    /// Finalize the current file: pending bytes, cue points after the data, header.
    pub fn finish(&mut self) {
        if let Err(e) = self.close_part(true) {
            let path = self.current_path();
            self.fail(WavError::Write {
                path,
                source: e.into(),
            });
        }
    }

    pub fn take_dir(&self) -> &Path {
        &self.spec.take_dir
    }
}

impl Drop for WavSink {
    /// Like hound's writer: an unfinished file still gets its header, and its cue points
    /// (errors unobservable).
    fn drop(&mut self) {
        let _ = self.close_part(true);
    }
}

fn audio_info(spec: &SinkSpec) -> AudioInfo {
    AudioInfo {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        format: spec.format,
    }
}
