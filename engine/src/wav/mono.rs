//! Collapse a finished stereo WAV file whose two channels are identical into a mono file,
//! for the "Auto" channel mode: the take is finished as stereo (fast, nothing to decide on
//! the writer thread), then a background thread calls [`collapse_to_mono`].
//!
//! The rewrite works on the file's bytes, never on decoded samples: 16-bit files are
//! dithered, and decoding and encoding again would change them. Every chunk is copied
//! verbatim and in order (cue points, labels, `JUNK`, and any other chunk before or after
//! the data survive) except `fmt ` (rewritten for one channel), `data` (channel 0's bytes
//! of each frame), `bext` (a CodingHistory line is appended that records the collapse, as
//! EBU R98 asks of every process that changes the audio; the stereo line stays, it is the
//! history) and StemTap's own `iXML` (its TRACK_LIST cut to one track, so it names the
//! channels the file has; another writer's iXML is copied as it is). The result is written to a temporary file next to the original,
//! synced, and renamed over it, so a crash at any point leaves either the stereo file or
//! the mono one, never half of one.
//!
//! Background thread only: it blocks on I/O for as long as the file takes to read.

use super::bext::with_mono_collapse_line;
use super::ixml::with_mono_track_list;
use super::riff::{self, Chunk, Fmt, WAVE_FORMAT_EXTENSIBLE, WAVE_FORMAT_IEEE_FLOAT};
use super::riff::{u32_le, WAVE_FORMAT_PCM};
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes read per step. Big enough that the disk, not the syscalls, sets the pace; small
/// enough that `cancel` is seen within a few milliseconds and memory stays bounded.
const BLOCK_BYTES: usize = 1 << 20;

/// `dwChannelMask` of a mono file: front centre (what hound writes for one channel).
const SPEAKER_FRONT_CENTER: u32 = 0x4;

/// What [`collapse_to_mono`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollapseOutcome {
    /// The file is now mono (channel 0's samples), every other chunk kept.
    Collapsed,
    /// Not a two-channel file whose channels are byte-identical in every frame: left as
    /// it was.
    NotIdentical,
    /// `cancel` became true: the original is untouched and no temporary file is left.
    Cancelled,
}

/// Why a collapse failed. The original file is untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum CollapseError {
    /// Opening or reading the original failed (e.g. it does not exist).
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    /// The original is not a WAV file this can rewrite; the reason says what is wrong.
    #[error("cannot collapse {path} to mono: {reason}")]
    Unsupported { path: PathBuf, reason: String },
    /// Writing, syncing or renaming the temporary file failed (it is removed).
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Rewrite the stereo WAV file at `path` as mono if its two channels are byte-identical in
/// every frame; otherwise leave it alone. Streams in [`BLOCK_BYTES`] blocks (never the
/// whole file in memory) in one pass that checks each block before writing it, so an
/// identical file (the expected case) is read once. Writes `<name>.mono.tmp` in the same
/// folder, syncs it and renames it over the original (atomic on POSIX; on Windows the
/// rename replaces the file too). `cancel` is checked between blocks.
///
/// Files that are not stereo PCM or float (mono, more channels, compressed) are
/// [`CollapseOutcome::NotIdentical`]; files that are not readable RIFF WAVE (RF64
/// included) are [`CollapseError::Unsupported`]. Odd-sized chunks of the result are
/// followed by a pad byte as RIFF requires, including a final one.
///
/// Blocking; call it from a background thread, never the audio thread.
pub fn collapse_to_mono(
    path: &Path,
    cancel: &AtomicBool,
) -> Result<CollapseOutcome, CollapseError> {
    let read_err = |source| CollapseError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let layout = match read_layout(&mut file, len) {
        Ok(Some(layout)) => layout,
        Ok(None) => return Ok(CollapseOutcome::NotIdentical),
        Err(e) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(CollapseError::Unsupported {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })
        }
        Err(e) => return Err(read_err(e)),
    };
    let tmp = temp_path(path);
    let written = write_mono(&mut file, &layout, &tmp, cancel);
    // Closed before the rename: Windows cannot replace a file that is still open.
    drop(file);
    match written {
        Ok(CollapseOutcome::Collapsed) => {}
        other => {
            // Nothing to keep: a mismatch, a cancel or an error. A failed removal leaves
            // only a `.tmp` file next to an intact original.
            let _ = fs::remove_file(&tmp);
            return other.map_err(|e| e.into_error(path, &tmp));
        }
    }
    if let Err(source) = fs::rename(&tmp, path) {
        let _ = fs::remove_file(&tmp);
        return Err(CollapseError::Write {
            path: path.to_path_buf(),
            source,
        });
    }
    sync_folder(path);
    Ok(CollapseOutcome::Collapsed)
}

/// `<file name>.mono.tmp` in the folder of `path`.
fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(OsString::from).unwrap_or_default();
    name.push(".mono.tmp");
    path.with_file_name(name)
}

/// What the rewrite needs to know about a stereo file.
struct Layout {
    /// Every chunk in file order.
    chunks: Vec<Chunk>,
    /// The rewritten `fmt ` body (same length as the original).
    mono_fmt: Vec<u8>,
    /// Bytes per stereo frame.
    frame_bytes: usize,
    /// New bodies of metadata chunks (`bext`, `iXML`), by index in `chunks`.
    rewritten: Vec<(usize, Vec<u8>)>,
}

/// Metadata chunks larger than this are copied as they are rather than read into memory
/// to be rewritten (StemTap's are about 2 KB).
const MAX_REWRITTEN_CHUNK_BYTES: u32 = 1 << 20;

/// The layout of the file; `None` when it is valid but not something to collapse (not
/// two channels of PCM or float); an `InvalidData` error saying why when it is not a WAV
/// file this can rewrite.
fn read_layout(file: &mut File, len: u64) -> io::Result<Option<Layout>> {
    let chunks = riff::chunks(file, len)?;
    let find = |id: &[u8; 4]| chunks.iter().position(|c| &c.id == id);
    let (Some(fmt_at), Some(data_at)) = (find(b"fmt "), find(b"data")) else {
        return Err(invalid("it has no fmt or no data chunk"));
    };
    if data_at < fmt_at {
        return Err(invalid("its data chunk comes before its fmt chunk"));
    }
    let fmt_chunk = &chunks[fmt_at];
    let mut body = vec![0u8; fmt_chunk.size as usize];
    file.seek(SeekFrom::Start(fmt_chunk.body_at))?;
    file.read_exact(&mut body)?;
    let fmt = Fmt::parse(&body)?;
    let pcm_or_float = matches!(fmt.encoding, WAVE_FORMAT_PCM | WAVE_FORMAT_IEEE_FLOAT);
    let sample_bytes = fmt.bits_per_sample.div_ceil(8);
    if fmt.channels != 2 || !pcm_or_float || fmt.block_align != 2 * sample_bytes {
        return Ok(None);
    }
    if chunks[data_at].size % fmt.block_align as u32 != 0 {
        return Err(invalid("its data chunk does not hold whole frames"));
    }
    let mut rewritten = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        if !matches!(&chunk.id, b"bext" | b"iXML") || chunk.size > MAX_REWRITTEN_CHUNK_BYTES {
            continue;
        }
        let mut body = vec![0u8; chunk.size as usize];
        file.seek(SeekFrom::Start(chunk.body_at))?;
        file.read_exact(&mut body)?;
        let new = match &chunk.id {
            b"bext" => with_mono_collapse_line(&body, fmt.sample_rate, fmt.bits_per_sample),
            _ => with_mono_track_list(&body),
        };
        if let Some(new) = new {
            rewritten.push((i, new));
        }
    }
    Ok(Some(Layout {
        mono_fmt: mono_fmt(&body, fmt),
        chunks,
        frame_bytes: fmt.block_align as usize,
        rewritten,
    }))
}

/// The `fmt ` body for one channel: `nChannels`, `nAvgBytesPerSec`, `nBlockAlign`, and for
/// EXTENSIBLE `dwChannelMask` (front centre, or none if the stereo file assigned none).
/// Everything else (extension bytes included) stays as it was.
fn mono_fmt(body: &[u8], fmt: Fmt) -> Vec<u8> {
    let mut out = body.to_vec();
    let block_align = fmt.block_align / 2;
    out[2..4].copy_from_slice(&1u16.to_le_bytes());
    let avg = fmt.sample_rate.wrapping_mul(block_align as u32);
    out[8..12].copy_from_slice(&avg.to_le_bytes());
    out[12..14].copy_from_slice(&block_align.to_le_bytes());
    if fmt.tag == WAVE_FORMAT_EXTENSIBLE {
        let mask = if u32_le(&body[20..24]) == 0 {
            0
        } else {
            SPEAKER_FRONT_CENTER
        };
        out[20..24].copy_from_slice(&mask.to_le_bytes());
    }
    out
}

/// How writing the temporary file went wrong, before the paths are attached.
enum Failure {
    Read(io::Error),
    Write(io::Error),
}

impl Failure {
    fn into_error(self, path: &Path, tmp: &Path) -> CollapseError {
        match self {
            Failure::Read(source) => CollapseError::Read {
                path: path.to_path_buf(),
                source,
            },
            Failure::Write(source) => CollapseError::Write {
                path: tmp.to_path_buf(),
                source,
            },
        }
    }
}

/// Write the mono file to `tmp` and sync it. `Collapsed` means `tmp` is complete; any
/// other result leaves it for the caller to remove.
fn write_mono(
    file: &mut File,
    layout: &Layout,
    tmp: &Path,
    cancel: &AtomicBool,
) -> Result<CollapseOutcome, Failure> {
    let out = File::create(tmp).map_err(Failure::Write)?;
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let new_body = |i: usize| {
        layout
            .rewritten
            .iter()
            .find(|(at, _)| *at == i)
            .map(|(_, body)| body.as_slice())
    };
    let size_of = |i: usize, c: &Chunk| match new_body(i) {
        Some(body) => body.len() as u32,
        None if &c.id == b"data" => c.size / 2,
        None => c.size,
    };
    let riff_size: u64 = 4 + layout
        .chunks
        .iter()
        .enumerate()
        .map(|(i, c)| 8 + size_of(i, c) as u64 + size_of(i, c) as u64 % 2)
        .sum::<u64>();
    // Smaller than the input's unless its data is empty and a final odd chunk gains the
    // pad byte the input lacked.
    let riff_size = u32::try_from(riff_size)
        .map_err(|_| Failure::Write(invalid("the mono file would exceed 4 GiB")))?;
    let mut head = b"RIFF".to_vec();
    head.extend(riff_size.to_le_bytes());
    head.extend(b"WAVE");
    out.write_all(&head).map_err(Failure::Write)?;
    let mut block = vec![0u8; BLOCK_BYTES / layout.frame_bytes * layout.frame_bytes];
    for (i, chunk) in layout.chunks.iter().enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Ok(CollapseOutcome::Cancelled);
        }
        let size = size_of(i, chunk);
        out.write_all(&chunk.id).map_err(Failure::Write)?;
        out.write_all(&size.to_le_bytes()).map_err(Failure::Write)?;
        file.seek(SeekFrom::Start(chunk.body_at))
            .map_err(Failure::Read)?;
        match (&chunk.id, new_body(i)) {
            (_, Some(body)) => out.write_all(body).map_err(Failure::Write)?,
            (b"fmt ", None) => out.write_all(&layout.mono_fmt).map_err(Failure::Write)?,
            (b"data", None) => {
                let frames = CopyFrames {
                    frame_bytes: layout.frame_bytes,
                    len: chunk.size as u64,
                };
                if let Some(outcome) = frames.run(file, &mut out, &mut block, cancel)? {
                    return Ok(outcome);
                }
            }
            _ => {
                let len = chunk.size as u64;
                if let Some(outcome) = copy_bytes(file, &mut out, len, &mut block, cancel)? {
                    return Ok(outcome);
                }
            }
        }
        if size % 2 == 1 {
            out.write_all(&[0]).map_err(Failure::Write)?;
        }
    }
    let out = out
        .into_inner()
        .map_err(|e| Failure::Write(e.into_error()))?;
    // On disk before the rename makes it the file: a crash then leaves a whole file.
    out.sync_all().map_err(Failure::Write)?;
    Ok(CollapseOutcome::Collapsed)
}

/// Copies channel 0 of a stereo data chunk, checking every frame's channels first.
struct CopyFrames {
    /// Bytes per stereo frame; channel 0 is the first half.
    frame_bytes: usize,
    /// Bytes of the stereo data chunk (whole frames).
    len: u64,
}

impl CopyFrames {
    /// `None` when done, or the outcome that stops the collapse (a frame whose channels
    /// differ, or `cancel`).
    fn run(
        &self,
        file: &mut File,
        out: &mut impl Write,
        block: &mut [u8],
        cancel: &AtomicBool,
    ) -> Result<Option<CollapseOutcome>, Failure> {
        let half = self.frame_bytes / 2;
        let mut left = self.len;
        while left > 0 {
            if cancel.load(Ordering::Relaxed) {
                return Ok(Some(CollapseOutcome::Cancelled));
            }
            let n = left.min(block.len() as u64) as usize;
            let block = &mut block[..n];
            file.read_exact(block).map_err(Failure::Read)?;
            if !block
                .chunks_exact(self.frame_bytes)
                .all(|f| f[..half] == f[half..])
            {
                return Ok(Some(CollapseOutcome::NotIdentical));
            }
            // In place: frame k's channel 0 moves to `k * half`, never ahead of a frame
            // still to be read.
            for k in 0..n / self.frame_bytes {
                block.copy_within(k * self.frame_bytes..k * self.frame_bytes + half, k * half);
            }
            out.write_all(&block[..n / 2]).map_err(Failure::Write)?;
            left -= n as u64;
        }
        Ok(None)
    }
}

/// Copy `len` bytes from `file`'s position to `out`, a block at a time; `Some(Cancelled)`
/// if `cancel` stopped it.
fn copy_bytes(
    file: &mut File,
    out: &mut impl Write,
    len: u64,
    block: &mut [u8],
    cancel: &AtomicBool,
) -> Result<Option<CollapseOutcome>, Failure> {
    let mut left = len;
    while left > 0 {
        if cancel.load(Ordering::Relaxed) {
            return Ok(Some(CollapseOutcome::Cancelled));
        }
        let n = left.min(block.len() as u64) as usize;
        file.read_exact(&mut block[..n]).map_err(Failure::Read)?;
        out.write_all(&block[..n]).map_err(Failure::Write)?;
        left -= n as u64;
    }
    Ok(None)
}

/// Make the rename durable (POSIX: the folder's entry is synced separately from the file).
/// Best effort: the collapse has already happened, and a failure here only matters after a
/// power cut, when the stereo file would come back, which is still a valid take.
fn sync_folder(path: &Path) {
    #[cfg(unix)]
    if let Some(folder) = path.parent() {
        let folder = if folder.as_os_str().is_empty() {
            Path::new(".")
        } else {
            folder
        };
        if let Ok(dir) = File::open(folder) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests;
