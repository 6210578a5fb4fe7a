//! `take.json`: the description of a take that travels with its files. Its field names are
//! part of the public contract (documented in the README); add fields, never rename them.

use crate::settings::{ChannelMode, Role, SampleFormat};
use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "take.json";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// `StemTap <version>`.
    pub generator: String,
    /// The take folder's name.
    pub take: String,
    /// False while recording; true once every file is finished and padded to the same length.
    pub complete: bool,
    pub sample_rate: u32,
    pub sample_format: SampleFormat,
    /// `host`: positions are the host's timeline. `free`: the host gave no (running)
    /// transport, positions are StemTap's own session clock.
    pub timeline: String,
    /// Timeline position (samples) of frame 0 of every file.
    pub start_sample: i64,
    pub start_seconds: f64,
    /// Frames in every file (the same for all files of the take).
    pub length_frames: u64,
    pub length_seconds: f64,
    /// Host tempo and meter at the start, and the start as bar.beat (1-based), when known.
    pub tempo_bpm: Option<f64>,
    pub time_signature: Option<[u8; 2]>,
    pub start_beats: Option<f64>,
    pub start_bar_beat: Option<String>,
    /// Why the take ended: `disarmed`, `transport` (trigger condition ended), `discontinuity`
    /// (loop, locate, transport start/stop, sample-rate or channel change), `shutdown`.
    pub ended_by: Option<String>,
    pub files: Vec<FileEntry>,
    /// Take-wide problems (folder could not be created, ...).
    pub errors: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path relative to the take folder, `/`-separated.
    pub path: String,
    /// Continuation files, when the take outgrew one WAV file (4 GiB); `path` is part 1.
    pub continuation_paths: Vec<String>,
    pub stem_name: String,
    pub role: Role,
    pub channel_mode: ChannelMode,
    pub channels: u16,
    /// Frames of silence written where the stream's audio was dropped (ring overrun).
    pub dropped_frames: u64,
    /// Frames of silence written where the stream had no audio (suspended, added late).
    pub silent_gap_frames: u64,
    /// Largest sample magnitude written (1.0 = full scale).
    pub peak: f32,
    pub peak_dbfs: Option<f32>,
    /// Samples beyond full scale (they clip in the integer formats).
    pub clipped_samples: u64,
    /// Auto mode: both channels were identical for the whole take (a mono source).
    pub channels_identical: Option<bool>,
    pub offset_samples: i64,
    pub errors: Vec<String>,
}

/// Bar and beat (1-based, `bar.beat.ticks` with 960 ticks per beat) of a position given in
/// quarter notes, assuming the meter held from the song start.
pub fn bar_beat(quarter_notes: f64, time_sig: (u8, u8)) -> Option<String> {
    let (num, den) = time_sig;
    if !quarter_notes.is_finite() || quarter_notes < 0.0 || num == 0 || den == 0 {
        return None;
    }
    let beat_len = 4.0 / den as f64; // quarter notes per beat
    let beats = quarter_notes / beat_len;
    let bar = (beats / num as f64).floor();
    let beat_in_bar = beats - bar * num as f64;
    let ticks = ((beat_in_bar.fract()) * 960.0).round() as u32 % 960;
    Some(format!(
        "{}.{}.{:03}",
        bar as u64 + 1,
        beat_in_bar.floor() as u64 + 1,
        ticks
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bar_beat_table() {
        assert_eq!(bar_beat(0.0, (4, 4)).as_deref(), Some("1.1.000"));
        assert_eq!(bar_beat(4.0, (4, 4)).as_deref(), Some("2.1.000"));
        assert_eq!(bar_beat(5.5, (4, 4)).as_deref(), Some("2.2.480"));
        assert_eq!(bar_beat(3.0, (3, 4)).as_deref(), Some("2.1.000"));
        assert_eq!(bar_beat(1.5, (6, 8)).as_deref(), Some("1.4.000"));
        assert_eq!(bar_beat(f64::NAN, (4, 4)), None);
        assert_eq!(bar_beat(1.0, (0, 0)), None);
    }
}
