//! Engine tuning: what the plugin uses by default, and what tests shrink (ring lengths,
//! holdback, file splitting). Plain data, shared by the session and the writer.

use crate::wav::MAX_WAV_DATA_BYTES;
use std::time::Duration;

/// Engine tuning. `Default` is what the plugin uses; tests shrink it.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Ring length per stream, in seconds of audio.
    pub ring_seconds: f32,
    pub writer: WriterConfig,
}

/// Environment variable that sets the ring length (seconds of audio per stream) of the
/// plugin's session, between 0.05 and 10: for tests that need a ring that overflows quickly,
/// and for a machine that cannot spare 10 s of audio per instance.
pub const RING_SECONDS_ENV: &str = "STEMTAP_RING_SECONDS";

impl EngineConfig {
    /// The plugin's configuration: the defaults, with the ring length from
    /// [`RING_SECONDS_ENV`] when it is set to a number in range.
    pub fn from_env() -> Self {
        let ring_seconds = std::env::var(RING_SECONDS_ENV)
            .ok()
            .and_then(|v| v.trim().parse::<f32>().ok())
            .filter(|s| (0.05..=10.0).contains(s));
        let mut config = EngineConfig::default();
        if let Some(seconds) = ring_seconds {
            config.ring_seconds = seconds;
        }
        config
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ring_seconds: 10.0,
            writer: WriterConfig::default(),
        }
    }
}

/// Shortest take kept, in seconds: a tenth of a second is shorter than any take a person
/// means to record, and longer than the blocks a host's validation or fuzzing runs process.
pub const MIN_TAKE_SECONDS: f64 = 0.1;

/// Writer tuning.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub poll_interval: Duration,
    /// How far (seconds of audio) behind the newest stream a decision waits for the others.
    pub holdback_seconds: f64,
    /// A stream that sent nothing for this long no longer holds decisions up.
    pub quiet_after: Duration,
    /// Split each file into continuation files (`Name (part 2).wav`, ...) before its data
    /// chunk passes this many bytes. Default [`MAX_WAV_DATA_BYTES`]: never; a file past
    /// 4 GiB becomes RF64 and a take stays one file per stream. A limit below 4 GiB keeps
    /// every file plain RIFF, for a FAT32 drive (no file past 4 GiB) or a tool that reads
    /// no RF64; take.json lists the parts in `continuation_paths`.
    pub max_wav_data_bytes: u64,
    /// Takes shorter than this (seconds) are not kept: no folder is left for them, and the
    /// banner counts them. A host that toggles record or the transport at random (a
    /// validator, a fuzzer, a mis-mapped controller) must not flood the output folder.
    pub min_take_seconds: f64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(5),
            holdback_seconds: 0.5,
            quiet_after: Duration::from_millis(750),
            max_wav_data_bytes: MAX_WAV_DATA_BYTES,
            min_take_seconds: MIN_TAKE_SECONDS,
        }
    }
}
