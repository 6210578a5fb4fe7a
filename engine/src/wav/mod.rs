//! One stream's output file: sample-format conversion, Broadcast Wave metadata, header
//! checkpoints for crash safety, and RF64 past 4 GiB.
//! The sink runs on the writer thread only; the mono collapse on a background thread.
//!
//! # How a file is written
//! Every file is a Broadcast Wave file that lands in place in a DAW: `RIFF`/`WAVE`, a `JUNK`
//! chunk reserved for `ds64`, `fmt ` (the one hound writes for the same spec, so hound reads
//! every file that is not RF64), `bext` (EBU Tech 3285 v1: TimeReference = the take's
//! position on the timeline), `iXML` (take, track names, timestamp, tempo and meter), then
//! `data`; see `header` for the byte layout. The header is built once per file from the
//! [`FileMetadata`] the writer passes in. Samples are then converted straight into a
//! reusable byte buffer and handed to the OS in [`WRITE_CHUNK_BYTES`] writes, instead of
//! hound's per-sample `write_sample` (a call, a match and a `BufWriter` copy per sample,
//! about half the disk's speed; see BENCHMARKS.md).
//! The size fields are patched at every checkpoint and when the file is finished. When the
//! RIFF size would pass [`RF64_AFTER_BYTES`] (4 GiB less 1 MiB by default), the file turns
//! into RF64 the EBU way (Tech 3306): the `JUNK` chunk becomes `ds64` with the 64-bit sizes,
//! `RIFF` becomes `RF64` and the 32-bit sizes 0xFFFFFFFF. A long take is one file.
//! 16-bit files are TPDF-dithered; a sample equal to its frame's first sample gets the same
//! dither, so identical channels stay byte-identical and can be collapsed to mono.
//!
//! Cue points (markers) go after the data chunk when a file is finished, preceded by the pad
//! byte RIFF requires when the data chunk has an odd length (written whether or not cues
//! follow); checkpoints during recording count only the header and the data, so a crash
//! still leaves a valid file (without its markers). A checkpoint is valid at every step:
//! before the RF64 switch a plain RIFF file, after it a valid RF64 file, and in between
//! (the switch is three positioned writes, in an order chosen for it) one or the other.
//!
//! Sizes in the header only ever count bytes the OS has accepted, in whole frames: after a
//! failed write (disk full, file size limit) the file stays readable up to the last frame
//! that reached it.
//!
//! # Continuation files
//! `SinkSpec::max_data_bytes` can still split a stream into `Name (part 2).wav`... before a
//! data chunk passes that size. It is off by default ([`MAX_WAV_DATA_BYTES`] = no limit):
//! RF64 keeps a take in one file. The split stays as an option because RF64 does not help
//! everywhere: a FAT32 drive refuses any file past 4 GiB, and some tools still read only
//! RIFF. Each part is a complete Broadcast Wave file whose TimeReference is where its first
//! frame sits on the timeline, so the parts also land in place, one after the other.
//!
//! # Modules
//! - `sink`: [`WavSink`], one stream: parts, peak/clip/identical-channel tracking,
//!   checkpoints.
//! - `part`: one file on disk: the pending buffer, aligned writes, header patching, the
//!   RF64 switch.
//! - `header`: the bytes before the audio, and the `ds64` chunk.
//! - `bext`, `ixml`: the metadata chunks.
//! - `cue`: the markers of a take as `cue ` and `LIST`/`adtl` chunks after the data.
//! - `encode`: float to file bytes (float32, int24, dithered int16) with the peak scan.
//! - `mono`: [`collapse_to_mono`], a finished stereo file with identical channels rewritten
//!   as mono, on a background thread.
//! - `riff`: a finished file's chunk layout and `fmt `, for that rewrite.

mod bext;
mod cue;
mod encode;
mod header;
mod ixml;
mod mono;
mod part;
mod riff;
mod sink;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

pub use cue::cue_chunks;
pub use encode::{to_i16, to_i24};
pub use mono::{collapse_to_mono, CollapseError, CollapseOutcome};
pub use sink::WavSink;

use crate::settings::SampleFormat;
use std::path::PathBuf;
use std::time::Duration;

/// The default of [`SinkSpec::max_data_bytes`]: no limit, a file never splits into
/// continuation parts (it becomes RF64 past [`RF64_AFTER_BYTES`] instead).
pub const MAX_WAV_DATA_BYTES: u64 = u64::MAX;

/// The RIFF size (bytes after its size field) past which a file turns into RF64: 1 MiB
/// below the 32-bit limit. The margin costs nothing (the switch is a few header bytes) and
/// keeps the last RIFF sizes away from 0xFFFFFFFF, which means "see ds64" in RF64, and from
/// readers that wrap near 4 GiB.
pub const RF64_AFTER_BYTES: u64 = u32::MAX as u64 - (1 << 20);

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
    /// Split into continuation parts (`Name (part 2).wav`, ...) before a data chunk passes
    /// this many bytes; [`MAX_WAV_DATA_BYTES`] (no limit) by default. See the module docs.
    pub max_data_bytes: u64,
}

/// What a file says about itself in its `bext` and `iXML` chunks. Built by the writer
/// from the take and the stream, so that the sink knows nothing of takes; plain data.
/// `Default` is a file with no names, at timeline position 0, originated when created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileMetadata {
    /// Timeline position of the file's first frame, in samples: the take's first segment's
    /// start. Negative before the song start; `bext` TimeReference and the iXML timestamp
    /// (unsigned) then say 0, and iXML's `STEMTAP/START_SAMPLE` keeps the real value.
    pub start_sample: i64,
    /// The stream's name (the stem or track): `bext` Description, iXML track names.
    pub track_name: String,
    /// What the file is for (`stem`, `multitrack`, `mix`).
    pub role: String,
    /// The take folder's name: `bext` Description, iXML `PROJECT` and `TAPE`.
    pub take_name: String,
    /// The take's number: iXML `TAKE`.
    pub take_number: Option<u32>,
    /// Which clock `start_sample` is on (`host`, `free`), as in take.json.
    pub timeline: Option<String>,
    /// Host tempo at the take start, when the host gave one.
    pub tempo_bpm: Option<f64>,
    /// Host time signature at the take start, when the host gave one.
    pub time_signature: Option<(u8, u8)>,
    /// The take start as bar.beat.ticks, when the host gave beats and a meter.
    pub start_bar_beat: Option<String>,
    /// Local date and time of the recording (`bext` OriginationDate/Time); `None`: when
    /// the file is created.
    pub originated: Option<chrono::NaiveDateTime>,
}

impl FileMetadata {
    /// `bext` TimeReference of a file whose first frame is `frames_before` frames into the
    /// take (continuation parts): the timeline position, 0 before the song start.
    pub(crate) fn time_reference(&self, frames_before: u64) -> u64 {
        let at = self.start_sample.saturating_add_unsigned(frames_before);
        at.max(0) as u64
    }

    /// [`Self::originated`], or now.
    pub(crate) fn originated(&self) -> chrono::NaiveDateTime {
        self.originated
            .unwrap_or_else(|| chrono::Local::now().naive_local())
    }
}
