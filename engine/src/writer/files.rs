//! The files of the active take: one per stream, each with its WAV sink, its position and
//! its figures, and the conversion of a stream's channels to its file's. Writer thread only.

use super::WriterError;
use crate::settings::{ChannelMode, Role};
use crate::shared::StreamId;
use crate::status::SessionError;
use crate::wav::WavSink;

/// Frames converted per step when a file's channel count differs from its stream's.
const CONVERT_CHUNK_FRAMES: usize = 4096;

/// Where staged audio goes (see `streams`): the active take's files, or nowhere.
pub(super) trait StagedOut {
    /// Append `samples` (interleaved, `channels` channels) to file `file`.
    fn write(&mut self, file: usize, channels: usize, samples: &[f32]);
    /// Append `frames` frames of silence to file `file`.
    fn write_silence(&mut self, file: usize, frames: u64);
}

/// Where audio goes when there is no take to hold it (a take abandoned after an internal
/// error): it is released from the ring and not written.
pub(super) struct Nowhere;

impl StagedOut for Nowhere {
    fn write(&mut self, _: usize, _: usize, _: &[f32]) {}
    fn write_silence(&mut self, _: usize, _: u64) {}
}

/// One file of the active take.
pub(super) struct TakeFile {
    /// The stream it records: what the GUI's errors and per-take figures are keyed by.
    pub stream: StreamId,
    /// `None` when the file could not be created (the error is in `errors`).
    pub sink: Option<WavSink>,
    /// Relative to the take folder, `/`-separated, with `.wav`.
    pub path: String,
    pub stem_name: String,
    pub role: Role,
    pub channel_mode: ChannelMode,
    pub file_channels: u16,
    pub offset_samples: i64,
    /// Next timeline position this file expects, in the take's current segment.
    pub written_to: i64,
    pub dropped_frames: u64,
    pub silent_gap_frames: u64,
    pub errors: Vec<WriterError>,
    /// The sink's write error has been put in the session's error list (once is enough).
    pub sink_error_reported: bool,
}

impl TakeFile {
    /// The sink's write error (a full disk, a removed drive), the first time it is asked
    /// for: reported while recording, so the banner shows it before the take ends.
    pub fn new_sink_error(&mut self, take: &str) -> Option<SessionError> {
        if self.sink_error_reported {
            return None;
        }
        let message = self.sink.as_ref()?.error.as_ref()?.to_string();
        self.sink_error_reported = true;
        Some(SessionError::stream(self.stream, &self.stem_name, message).in_take(take))
    }

    /// Append `frames` frames of silence where the stream had no audio; `dropped` of them
    /// are where its audio was dropped (ring overrun), the rest a gap (not processed).
    pub fn fill(&mut self, frames: u64, dropped: u64) {
        self.dropped_frames += dropped;
        self.silent_gap_frames += frames - dropped;
        if let Some(sink) = self.sink.as_mut() {
            sink.write_silence(frames);
        }
        self.written_to += frames as i64;
    }

    /// Every error of this file, as the manifest and the GUI show them.
    pub fn error_messages(&self) -> Vec<String> {
        let mut errors: Vec<String> = self.errors.iter().map(ToString::to_string).collect();
        errors.extend(
            self.sink
                .as_ref()
                .and_then(|s| s.error.as_ref())
                .map(|e| e.to_string()),
        );
        errors
    }
}

/// The active take's files, and the buffer channel conversions use.
#[derive(Default)]
pub(super) struct TakeFiles {
    pub files: Vec<TakeFile>,
    convert_buf: Vec<f32>,
}

impl StagedOut for TakeFiles {
    fn write(&mut self, file: usize, channels: usize, samples: &[f32]) {
        let Some(f) = self.files.get_mut(file) else {
            return;
        };
        let Some(sink) = f.sink.as_mut() else {
            return;
        };
        let out_ch = f.file_channels as usize;
        if channels == out_ch {
            sink.write(samples);
            return;
        }
        let need = CONVERT_CHUNK_FRAMES * out_ch;
        if self.convert_buf.len() < need {
            self.convert_buf.resize(need, 0.0);
        }
        for chunk in samples.chunks(CONVERT_CHUNK_FRAMES * channels) {
            sink.write(convert_channels(
                chunk,
                channels,
                out_ch,
                &mut self.convert_buf,
            ));
        }
    }

    fn write_silence(&mut self, file: usize, frames: u64) {
        if let Some(sink) = self.files.get_mut(file).and_then(|f| f.sink.as_mut()) {
            sink.write_silence(frames);
        }
    }
}

/// Convert `input` (interleaved, `in_ch` channels) to `out_ch` channels: folding to mono
/// averages the inputs; a mono input goes to every output channel; otherwise the channels
/// both have are copied and the rest are silent. (An instance re-activated with another
/// layout during a take keeps its file's layout this way.)
pub(super) fn convert_channels<'a>(
    input: &[f32],
    in_ch: usize,
    out_ch: usize,
    buf: &'a mut [f32],
) -> &'a [f32] {
    let frames = input.len() / in_ch;
    let out = &mut buf[..frames * out_ch];
    let scale = 1.0 / in_ch as f32;
    for (frame, o) in input.chunks_exact(in_ch).zip(out.chunks_exact_mut(out_ch)) {
        if out_ch == 1 {
            o[0] = frame.iter().sum::<f32>() * scale;
        } else if in_ch == 1 {
            o.fill(frame[0]);
        } else {
            for (c, x) in o.iter_mut().enumerate() {
                *x = frame.get(c).copied().unwrap_or(0.0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_conversion_table() {
        let mut buf = vec![0.0; 64];
        let cases: &[(&[f32], usize, usize, &[f32])] = &[
            (&[0.5, 0.25, 1.0, 0.0], 2, 1, &[0.375, 0.5]),
            (&[0.5, 0.25], 1, 2, &[0.5, 0.5, 0.25, 0.25]),
            (&[0.1, 0.2, 0.3, 0.4], 2, 3, &[0.1, 0.2, 0.0, 0.3, 0.4, 0.0]),
            (&[0.1, 0.2, 0.3], 3, 2, &[0.1, 0.2]),
        ];
        for (input, in_ch, out_ch, want) in cases {
            assert_eq!(
                convert_channels(input, *in_ch, *out_ch, &mut buf),
                *want,
                "{in_ch} -> {out_ch}"
            );
        }
    }
}
