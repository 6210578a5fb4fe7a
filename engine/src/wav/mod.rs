//! One stream's output file: sample-format conversion, header checkpoints for crash safety,
//! and rollover to a continuation file before the 32-bit RIFF size fields would overflow.
//! The sink runs on the writer thread only; the mono collapse on a background thread.
//!
//! # How a file is written
//! hound stays the authority on the header: [`WavSink`] asks `hound::WavWriter` to write an
//! empty file of the spec into memory (PCMWAVEFORMAT for 16-bit mono/stereo,
//! WAVE_FORMAT_EXTENSIBLE for 24-bit, 32-bit float and more than two channels, exactly what
//! `hound::WavWriter::create` writes) and starts every part with those bytes. Samples are
//! then converted straight into a reusable byte buffer and handed to the OS in
//! [`WRITE_CHUNK_BYTES`] writes, instead of hound's per-sample `write_sample` (a call, a
//! match and a `BufWriter` copy per sample, about half the disk's speed; see BENCHMARKS.md).
//! The two size fields (RIFF size at byte 4, data size in the header's last four bytes) are
//! patched at every checkpoint and when the part is finished, as hound's `flush` does, so
//! files without cue points are byte for byte what hound writes (the tests compare them).
//! 16-bit files are TPDF-dithered; a sample equal to its frame's first sample gets the same
//! dither, so identical channels stay byte-identical and can be collapsed to mono.
//!
//! Cue points (markers) go after the data chunk when a part is finished, preceded by a pad
//! byte when the data chunk has an odd length; checkpoints during recording count only the
//! header and the data, so a crash still leaves a valid file (without its markers).
//!
//! Sizes in the header only ever count bytes the OS has accepted, in whole frames: after a
//! failed write (disk full, file size limit) the file stays readable up to the last frame
//! that reached it.
//!
//! # Modules
//! - `sink`: [`WavSink`], one stream: parts, rollover, peak/clip/identical-channel
//!   tracking, checkpoints.
//! - `part`: one file on disk: the pending buffer, aligned writes, header patching.
//! - `cue`: the markers of a take as `cue ` and `LIST`/`adtl` chunks after the data.
//! - `encode`: float to file bytes (float32, int24, dithered int16) with the peak scan.
//! - `mono`: [`collapse_to_mono`], a finished stereo file with identical channels rewritten
//!   as mono, on a background thread.
//! - `riff`: a finished file's chunk layout and `fmt `, for that rewrite.

mod cue;
mod encode;
mod mono;
mod part;
mod riff;
mod sink;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use encode::{to_i16, to_i24};
pub use mono::{collapse_to_mono, CollapseError, CollapseOutcome};
pub use sink::WavSink;

use crate::settings::SampleFormat;
use std::path::PathBuf;
use std::time::Duration;

/// Largest data chunk one WAV file may hold. RIFF sizes are 32-bit (hound 3.5 wraps them
/// silently in release builds and aborts in debug ones), so we stop 1 MiB short and continue
/// in a new file.
pub const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - (1 << 20);

/// How often headers are rewritten so a crash leaves readable files.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Encoded bytes collected before one `write` to the file. 64 KiB writes reach the disk's
/// sequential speed (BENCHMARKS.md); larger ones gain nothing and cost memory per open file.
pub const WRITE_CHUNK_BYTES: usize = 64 * 1024;

/// How much of a stream's audio (bytes in the file, pending ones included) the writer
/// gathers before handing it to the sink. Float samples reach the disk without a copy in
/// user space only from spans that cover a [`WRITE_CHUNK_BYTES`] boundary; two chunks make
/// the part that still goes through the buffer (the tail past the last boundary) small.
pub const GATHER_BYTES: usize = 2 * WRITE_CHUNK_BYTES;

/// Why a sink could not create or write a file; both name the file.
#[derive(Debug, thiserror::Error)]
pub enum WavError {
    /// The file (or hound's header for the spec) could not be created.
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: hound::Error },
    /// A write or header patch failed; the file stays readable up to its last whole frame.
    #[error("writing {path} failed: {source}")]
    Write { path: PathBuf, source: hound::Error },
}

/// Where and how a sink writes.
#[derive(Debug, Clone)]
pub struct SinkSpec {
    /// Take folder.
    pub take_dir: PathBuf,
    /// Path of the first file relative to the take folder, without `.wav`.
    pub rel_base: String,
    /// Channels of the file (the writer folds the stream to this count before writing).
    pub channels: u16,
    /// Frames per second, written into the header.
    pub sample_rate: u32,
    /// Sample encoding of the file.
    pub format: SampleFormat,
    /// Override of [`MAX_WAV_DATA_BYTES`] (tests use small files); never more than it.
    pub max_data_bytes: u64,
}
