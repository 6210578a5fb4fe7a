//! Engine tuning: what the plugin uses by default, and what tests shrink (ring lengths,
//! holdback, file size limits). Plain data, shared by the session and the writer.

use crate::wav::MAX_WAV_DATA_BYTES;
use std::time::Duration;

/// Engine tuning. `Default` is what the plugin uses; tests shrink it.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Ring length per stream, in seconds of audio.
    pub ring_seconds: f32,
    pub writer: WriterConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ring_seconds: 10.0,
            writer: WriterConfig::default(),
        }
    }
}

/// Writer tuning.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    pub poll_interval: Duration,
    /// How far (seconds of audio) behind the newest stream a decision waits for the others.
    pub holdback_seconds: f64,
    /// A stream that sent nothing for this long no longer holds decisions up.
    pub quiet_after: Duration,
    pub max_wav_data_bytes: u64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_millis(5),
            holdback_seconds: 0.5,
            quiet_after: Duration::from_millis(750),
            max_wav_data_bytes: MAX_WAV_DATA_BYTES,
        }
    }
}
