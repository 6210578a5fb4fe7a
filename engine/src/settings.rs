//! User-facing settings: what each stream is (name, role, channels) and how the session
//! records (trigger, output root, format). These are persisted with the host project, so
//! their serde names are part of the public contract (see the README).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What a stream is for. Decides the sub-folder and file naming inside a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A group mixdown with its processing (StemTap last on the bus).
    #[default]
    Stem,
    /// An individual source kept dry (StemTap first in the track's chain).
    Multitrack,
    /// The full mix, as a reference for whoever receives the take.
    Mix,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Stem, Role::Multitrack, Role::Mix];

    pub fn label(self) -> &'static str {
        match self {
            Role::Stem => "Stem",
            Role::Multitrack => "Multitrack",
            Role::Mix => "Mix",
        }
    }
}

/// How many channels a stream's file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelMode {
    /// As many channels as the input (a mono input stays mono).
    #[default]
    Stereo,
    /// Fold to one channel: the average of the input channels.
    Mono,
    /// Stereo, flagged in the manifest when both channels were identical for the whole take.
    Auto,
}

impl ChannelMode {
    pub const ALL: [ChannelMode; 3] = [ChannelMode::Stereo, ChannelMode::Mono, ChannelMode::Auto];

    pub fn label(self) -> &'static str {
        match self {
            ChannelMode::Stereo => "Stereo",
            ChannelMode::Mono => "Mono",
            ChannelMode::Auto => "Auto",
        }
    }

    /// Channels written to the file for `input_channels` channels of input.
    pub fn file_channels(self, input_channels: u16) -> u16 {
        match self {
            ChannelMode::Mono => 1,
            ChannelMode::Stereo | ChannelMode::Auto => input_channels.max(1),
        }
    }
}

/// When the armed session actually records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerMode {
    /// Records for as long as the session is armed, transport or not.
    #[default]
    Manual,
    /// Armed: records while the host plays; each play/stop is a take.
    FollowTransport,
    /// Armed: records while the host itself records.
    FollowHostRecord,
}

impl TriggerMode {
    pub const ALL: [TriggerMode; 3] = [
        TriggerMode::Manual,
        TriggerMode::FollowTransport,
        TriggerMode::FollowHostRecord,
    ];

    pub fn label(self) -> &'static str {
        match self {
            TriggerMode::Manual => "Manual",
            TriggerMode::FollowTransport => "Follow transport",
            TriggerMode::FollowHostRecord => "Follow host record",
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(value: u8) -> Self {
        match value {
            1 => TriggerMode::FollowTransport,
            2 => TriggerMode::FollowHostRecord,
            _ => TriggerMode::Manual,
        }
    }

    /// Whether an armed session records a block with this transport state.
    pub fn records(self, playing: bool, host_recording: bool) -> bool {
        match self {
            TriggerMode::Manual => true,
            TriggerMode::FollowTransport => playing,
            TriggerMode::FollowHostRecord => host_recording,
        }
    }
}

/// Sample format of the written WAV files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleFormat {
    /// 32-bit IEEE float: bit-exact with what the host sent, never clips.
    #[default]
    Float32,
    /// 24-bit integer.
    Int24,
    /// 16-bit integer with TPDF dither.
    Int16,
}

impl SampleFormat {
    pub const ALL: [SampleFormat; 3] = [
        SampleFormat::Float32,
        SampleFormat::Int24,
        SampleFormat::Int16,
    ];

    pub fn label(self) -> &'static str {
        match self {
            SampleFormat::Float32 => "32-bit float",
            SampleFormat::Int24 => "24-bit",
            SampleFormat::Int16 => "16-bit (dithered)",
        }
    }

    pub fn bytes_per_sample(self) -> u64 {
        match self {
            SampleFormat::Float32 => 4,
            SampleFormat::Int24 => 3,
            SampleFormat::Int16 => 2,
        }
    }
}

/// Per-instance settings, persisted in the instance's state as the field `stream`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct StreamSettings {
    /// The user's name for this stream; `None` uses the host's track name.
    pub name: Option<String>,
    pub role: Role,
    pub channel_mode: ChannelMode,
    /// Added to this stream's host positions when aligning (an escape hatch for a host that
    /// compensates latency wrongly). Positive moves the audio later in the file.
    pub offset_samples: i64,
}

/// Session-wide settings, persisted in every instance's state as the field `session`. All
/// instances share one copy, so saving any instance saves the session, and loading any
/// instance's state sets it for the whole process.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionSettings {
    pub trigger: TriggerMode,
    /// Where take folders go; `None` uses the platform default. `STEMTAP_OUTPUT_DIR` overrides both.
    pub output_root: Option<PathBuf>,
    pub format: SampleFormat,
}

/// Largest per-stream alignment offset accepted from saved state or the GUI: 10 s at 192 kHz.
pub const MAX_OFFSET_SAMPLES: i64 = 1_920_000;

/// Environment variable that overrides the output root.
pub const OUTPUT_DIR_ENV: &str = "STEMTAP_OUTPUT_DIR";

/// The folder take folders go into: `STEMTAP_OUTPUT_DIR`, else the user's choice, else the
/// platform's music folder (`~/Music/StemTap`), else the home folder, else the working folder.
pub fn resolve_output_root(chosen: Option<&std::path::Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os(OUTPUT_DIR_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = chosen {
        return dir.to_path_buf();
    }
    default_output_root()
}

/// The platform's per-user default: the music folder, then home, then the working folder.
pub fn default_output_root() -> PathBuf {
    dirs::audio_dir()
        .or_else(dirs::home_dir)
        .unwrap_or_else(|| PathBuf::from("."))
        .join("StemTap")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_json_and_tolerate_missing_fields() {
        let s = StreamSettings {
            name: Some("Kick".into()),
            role: Role::Multitrack,
            channel_mode: ChannelMode::Mono,
            offset_samples: -3,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"name":"Kick","role":"multitrack","channel_mode":"mono","offset_samples":-3}"#
        );
        assert_eq!(serde_json::from_str::<StreamSettings>(&json).unwrap(), s);
        // Older or hand-written state with fields missing still loads.
        let partial: StreamSettings = serde_json::from_str(r#"{"role":"mix"}"#).unwrap();
        assert_eq!(partial.role, Role::Mix);
        assert_eq!(partial.name, None);
        let session: SessionSettings =
            serde_json::from_str(r#"{"trigger":"follow_transport"}"#).unwrap();
        assert_eq!(session.trigger, TriggerMode::FollowTransport);
        assert_eq!(session.format, SampleFormat::Float32);
    }

    #[test]
    fn trigger_modes_round_trip_through_u8() {
        for mode in TriggerMode::ALL {
            assert_eq!(TriggerMode::from_u8(mode.to_u8()), mode);
        }
    }

    #[test]
    fn channel_mode_decides_file_channels() {
        assert_eq!(ChannelMode::Stereo.file_channels(2), 2);
        assert_eq!(ChannelMode::Stereo.file_channels(1), 1);
        assert_eq!(ChannelMode::Mono.file_channels(2), 1);
        assert_eq!(ChannelMode::Auto.file_channels(2), 2);
    }
}
