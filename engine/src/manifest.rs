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
    /// The first segment's timeline (see [`Segment::timeline`]).
    pub timeline: Timeline,
    /// Timeline position (samples) of frame 0 of every file: the first segment's.
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
    /// Why the take ended; `None` while it is recorded.
    pub ended_by: Option<EndReason>,
    /// The continuous stretches of the take, in file order: the first starts at frame 0,
    /// each later one at a marker (a cue point in every file).
    #[serde(default)]
    pub segments: Vec<Segment>,
    pub files: Vec<FileEntry>,
    /// Take-wide problems (folder could not be created, ...).
    pub errors: Vec<String>,
    /// Made whole by `stemtap repair` after a crash (its `recovery` record says what came
    /// back). Not written for takes that finished normally.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub recovered: bool,
}

/// Which clock a segment's positions are on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Timeline {
    /// The host's song position (transport playing).
    Host,
    /// StemTap's own session clock: the host gave no position or was stopped.
    Free,
}

/// Why a take ended. The names are the public contract (README).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The session was disarmed.
    Disarmed,
    /// Follow modes: the play (or host record) pass ended while still armed.
    Transport,
    /// The host changed the sample rate: the files cannot hold two rates, so the take ends
    /// and, still recording, the next one starts.
    SampleRateChange,
    /// The session ended while recording (the host closed the project or quit, or every
    /// StemTap instance was removed).
    Shutdown,
}

/// One continuous stretch of a take: frames `frame..` of every file hold the timeline from
/// `start_sample` on, until the next segment's `frame`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Offset in the files (frames).
    pub frame: u64,
    pub timeline: Timeline,
    /// Timeline position of that frame (samples).
    pub start_sample: i64,
    pub start_seconds: f64,
    /// Song position in quarter notes and as bar.beat, when the host gives them.
    pub start_beats: Option<f64>,
    pub start_bar_beat: Option<String>,
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
    /// Auto mode: both channels were identical for the whole take (a mono source); such
    /// a file is rewritten as mono right after the take (then `channels` is 1).
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
