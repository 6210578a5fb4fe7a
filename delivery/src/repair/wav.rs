//! One WAV file a crash left behind: what its header says, what is really on disk
//! ([`scan`]), and the few positioned writes that make the header count exactly the frames
//! a repair keeps ([`fix`]). Any thread but the audio thread; blocking I/O.
//!
//! # What a crash leaves (the layout is the engine's, `engine/src/wav/header.rs`)
//! ```text
//! RIFF|RF64 size WAVE  JUNK(28)|ds64  fmt  bext  iXML  data size  samples...  [pad] [cue LIST]
//! ```
//! The writer patches the RIFF and data sizes (or `ds64`) about once a second, so after a
//! crash the header counts the audio up to the last checkpoint, while more whole frames may
//! sit on disk past it (and maybe part of a frame, and a checkpoint's pad byte). A file the
//! writer was finishing may also carry its `cue `/`LIST` chunks past the audio before the
//! sizes were patched to count them. [`scan`] tells these apart:
//! - the header is *consistent* (its RIFF size ends exactly at the end of the file): every
//!   byte is accounted for; the frames are the ones it counts;
//! - otherwise, if the writer's own trailing chunks (`cue ` then `LIST`/`adtl`, ending exactly
//!   at the end of the file) start right after a whole frame, the audio ends there;
//! - otherwise every whole frame after the header is audio; a partial last frame (or a pad
//!   byte) is ignored.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use stemtap_engine::wav::RF64_AFTER_BYTES;

/// The 32-bit size that means "see `ds64`" in an RF64 file.
const RF64_SIZE_MARKER: u32 = u32::MAX;
/// Body length of the engine's `ds64` chunk (and of the `JUNK` chunk reserving it).
const DS64_BODY_LEN: u32 = 28;
/// How far from the end of a file the writer's trailing chunks are looked for: far more
/// than the markers of any take (about 50 bytes each).
const TRAILER_WINDOW_BYTES: u64 = 4 << 20;
/// Zeros written per call when a file is padded with silence.
const SILENCE_CHUNK_BYTES: usize = 64 * 1024;

/// What a file's `fmt ` chunk says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    /// Bytes per frame.
    pub block_align: u64,
}

/// One file as found on disk.
#[derive(Debug, Clone)]
pub struct Scan {
    pub path: PathBuf,
    pub file_len: u64,
    pub format: Format,
    /// The file says `RF64` (its sizes are in `ds64`).
    pub rf64: bool,
    /// Where the 28-byte `JUNK` reservation (or the `ds64` chunk) starts: what a switch to
    /// RF64 rewrites. `None` in a file StemTap did not write.
    pub reserve_at: Option<u64>,
    /// Where the first sample is (the data chunk's size field is the 4 bytes before it).
    pub data_at: u64,
    /// Frames the header counts.
    pub header_frames: u64,
    /// Whole frames really on disk.
    pub found_frames: u64,
    /// The header's RIFF size ends exactly at the end of the file: nothing was written
    /// after its last patch (a finished file, or a crash right after a checkpoint).
    pub consistent: bool,
}

impl Scan {
    /// Whether the header already counts every frame found.
    pub fn header_counts_all(&self) -> bool {
        self.header_frames == self.found_frames
    }
}

/// A file a repair cannot make sense of, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum WavProblem {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    /// The file ends inside its header: it holds no audio (killed as it was created).
    #[error("{}: it ends inside its header, so it holds no audio", path.display())]
    NoHeader { path: PathBuf },
}

/// Read the header of `path` and find the whole frames on disk.
pub fn scan(path: &Path) -> Result<Scan, WavProblem> {
    let io = |source| WavProblem::Io {
        path: path.to_path_buf(),
        source,
    };
    let invalid = |message: &str| WavProblem::Invalid {
        path: path.to_path_buf(),
        message: message.to_string(),
    };
    let mut file = File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut head = [0u8; 12];
    let no_header = || WavProblem::NoHeader {
        path: path.to_path_buf(),
    };
    if file_len < 12 {
        return Err(no_header());
    }
    file.read_exact(&mut head).map_err(io)?;
    let rf64 = match &head[..4] {
        b"RIFF" => false,
        b"RF64" => true,
        _ => return Err(invalid("not a RIFF/RF64 file; repair leaves it alone")),
    };
    if &head[8..12] != b"WAVE" {
        return Err(invalid("not a WAVE file; repair leaves it alone"));
    }
    let riff32 = u32_le(&head[4..8]);
    let mut at = 12u64;
    let mut reserve_at = None;
    let mut ds64: Option<(u64, u64)> = None;
    let mut format = None;
    let (data_at, data32) = loop {
        let mut chunk = [0u8; 8];
        if at + 8 > file_len {
            return Err(no_header());
        }
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        file.read_exact(&mut chunk).map_err(io)?;
        let id = &chunk[..4];
        let size = u32_le(&chunk[4..8]);
        let body_at = at + 8;
        if id == b"data" {
            break (body_at, size);
        }
        if body_at + size as u64 > file_len {
            return Err(no_header());
        }
        let mut body = vec![0u8; size as usize];
        if id == b"fmt " || id == b"ds64" {
            file.read_exact(&mut body).map_err(io)?;
        }
        match id {
            b"JUNK" | b"ds64" if at == 12 && size >= DS64_BODY_LEN => {
                reserve_at = Some(at);
                if id == b"ds64" {
                    ds64 = Some((u64_le(&body[0..8]), u64_le(&body[8..16])));
                }
            }
            b"fmt " => format = Some(parse_fmt(&body).map_err(|m| invalid(&m))?),
            _ => {}
        }
        at = body_at + size as u64 + size as u64 % 2;
    };
    let format = format.ok_or_else(|| invalid("no fmt chunk before the audio"))?;
    let ba = format.block_align;
    let (riff_size, data_size) = match (rf64, ds64) {
        (true, Some((riff, data))) => (
            if riff32 == RF64_SIZE_MARKER {
                riff
            } else {
                riff32 as u64
            },
            if data32 == RF64_SIZE_MARKER {
                data
            } else {
                data32 as u64
            },
        ),
        (true, None) => return Err(invalid("an RF64 file without a ds64 chunk")),
        // A crash inside the switch to RF64 may leave `ds64` in a RIFF file: its 32-bit
        // sizes are then the valid ones (see the engine's `switch_to_rf64`).
        (false, _) => (riff32 as u64, data32 as u64),
    };
    let avail = file_len.saturating_sub(data_at);
    let header_frames = data_size.min(avail) / ba;
    let consistent = 8 + riff_size == file_len && data_size <= avail;
    let found_frames = if consistent {
        data_size / ba
    } else if let Some(frames) =
        find_trailer(&mut file, data_at, data_size, file_len, ba).map_err(io)?
    {
        frames
    } else {
        avail / ba
    };
    Ok(Scan {
        path: path.to_path_buf(),
        file_len,
        format,
        rf64,
        reserve_at,
        data_at,
        header_frames,
        found_frames,
        consistent,
    })
}

/// Where the writer's trailing chunks (`cue ` then `LIST`/`adtl`, ending exactly at the end
/// of the file) start right after a whole frame at or past the header's data size: the
/// frames before them, or `None` when there are none.
fn find_trailer(
    file: &mut File,
    data_at: u64,
    data_size: u64,
    file_len: u64,
    ba: u64,
) -> io::Result<Option<u64>> {
    let first = (data_at + data_size).max(file_len.saturating_sub(TRAILER_WINDOW_BYTES));
    if file_len < first + 12 {
        return Ok(None);
    }
    let mut tail = vec![0u8; (file_len - first) as usize];
    file.seek(SeekFrom::Start(first))?;
    file.read_exact(&mut tail)?;
    for rel in 0..tail.len().saturating_sub(12) {
        if &tail[rel..rel + 4] != b"cue " || !is_trailer(&tail[rel..]) {
            continue;
        }
        let after_data = first + rel as u64 - data_at;
        // The data ends right there, or one pad byte before (an odd data length).
        let data = [after_data, after_data.wrapping_sub(1)]
            .into_iter()
            .find(|&d| d <= after_data && d % ba == 0 && after_data - d == d % 2);
        if let Some(data) = data.filter(|&d| d >= data_size - data_size % ba) {
            return Ok(Some(data / ba));
        }
    }
    Ok(None)
}

/// `bytes` is exactly a `cue ` chunk and then a `LIST`/`adtl` chunk, as the writer lays them
/// out (the last one padded or not).
fn is_trailer(bytes: &[u8]) -> bool {
    let len = bytes.len() as u64;
    let cue = u32_le(&bytes[4..8]) as u64;
    let points = u32_le(&bytes[8..12]) as u64;
    if points == 0 || cue != 4 + 24 * points || 8 + cue + 12 > len {
        return false;
    }
    let list = &bytes[(8 + cue) as usize..];
    let size = u32_le(&list[4..8]) as u64;
    &list[..4] == b"LIST" && &list[8..12] == b"adtl" && {
        let end = 8 + cue + 8 + size;
        end == len || end + size % 2 == len
    }
}

fn parse_fmt(body: &[u8]) -> Result<Format, String> {
    if body.len() < 16 {
        return Err(format!("its fmt chunk is {} bytes", body.len()));
    }
    let u16_at = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]);
    let mut tag = u16_at(0);
    if tag == 0xFFFE && body.len() >= 26 {
        tag = u16_at(24);
    }
    let channels = u16_at(2);
    let bits = u16_at(14);
    let float = match (tag, bits) {
        (3, 32) => true,
        (1, 16 | 24 | 32) => false,
        _ => {
            return Err(format!(
                "format {tag} with {bits} bits is not one StemTap writes"
            ))
        }
    };
    if channels == 0 {
        return Err("its fmt chunk says 0 channels".into());
    }
    Ok(Format {
        channels,
        sample_rate: u32_le(&body[4..8]),
        bits,
        float,
        block_align: channels as u64 * bits as u64 / 8,
    })
}

/// What [`fix`] makes of a file.
#[derive(Debug, Clone)]
pub struct Target {
    /// Frames of the file's own audio kept (at most `found_frames`).
    pub keep_frames: u64,
    /// Frames of digital silence appended after them.
    pub silence_frames: u64,
    /// Chunks to put after the data (and its pad byte): the markers; may be empty.
    pub trailer: Vec<u8>,
}

/// Make the file at `scan.path` hold `target`: append silence if asked, then patch the
/// sizes, then write the pad byte and the trailing chunks, cut the file right after them,
/// and count them. Returns whether anything changed (nothing, for a file already so).
///
/// The order keeps the file valid if the repair itself is interrupted: the sizes never
/// count a byte before it is on disk, except the trailer, which is counted only once
/// written. Audio is never moved; bytes past the kept frames are replaced or cut off.
pub fn fix(scan: &Scan, target: &Target) -> Result<bool, WavProblem> {
    let path = &scan.path;
    let io = |source| WavProblem::Io {
        path: path.clone(),
        source,
    };
    let ba = scan.format.block_align;
    debug_assert!(target.keep_frames <= scan.found_frames);
    let data = (target.keep_frames + target.silence_frames) * ba;
    let pad = data % 2;
    let mut tail = vec![0u8; pad as usize];
    tail.extend_from_slice(&target.trailer);
    let data_end = scan.data_at + data;
    let file_end = data_end + tail.len() as u64;
    let riff_data_only = data_end + pad - 8;
    let riff_full = file_end - 8;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    if is_already(&mut file, scan, data, riff_full, &tail).map_err(io)? {
        return Ok(false);
    }
    if target.silence_frames > 0 {
        let zeros = vec![0u8; SILENCE_CHUNK_BYTES];
        let mut at = scan.data_at + target.keep_frames * ba;
        file.seek(SeekFrom::Start(at)).map_err(io)?;
        while at < data_end {
            let n = (data_end - at).min(SILENCE_CHUNK_BYTES as u64) as usize;
            file.write_all(&zeros[..n]).map_err(io)?;
            at += n as u64;
        }
    }
    let mut rf64 = scan.rf64;
    patch_sizes(&mut file, scan, &mut rf64, riff_data_only, data)
        .map_err(|e| invalid_or_io(path, e))?;
    write_at(&mut file, data_end, &tail).map_err(io)?;
    file.set_len(file_end).map_err(io)?;
    if riff_full != riff_data_only {
        patch_sizes(&mut file, scan, &mut rf64, riff_full, data)
            .map_err(|e| invalid_or_io(path, e))?;
    }
    // Durable before take.json says the take is complete.
    file.sync_all().map_err(io)?;
    Ok(true)
}

fn invalid_or_io(path: &Path, e: io::Error) -> WavProblem {
    if e.kind() == io::ErrorKind::InvalidData {
        WavProblem::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    } else {
        WavProblem::Io {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

/// The file already has these sizes, this tail and this length.
fn is_already(file: &mut File, scan: &Scan, data: u64, riff: u64, tail: &[u8]) -> io::Result<bool> {
    if scan.file_len != riff + 8
        || !scan.consistent
        || scan.header_frames * scan.format.block_align != data
    {
        return Ok(false);
    }
    let mut got = vec![0u8; tail.len()];
    file.seek(SeekFrom::Start(scan.data_at + data))?;
    file.read_exact(&mut got)?;
    Ok(got == tail)
}

/// Write RIFF size `riff` and data size `data`: the 32-bit fields of a RIFF file, or
/// `ds64` of an RF64 one. A RIFF size past the engine's RF64 threshold turns the file into
/// RF64 the way the engine does (`ds64` first, then `RF64`, then the data size), so that it
/// is valid after each write.
fn patch_sizes(
    file: &mut File,
    scan: &Scan,
    rf64: &mut bool,
    riff: u64,
    data: u64,
) -> io::Result<()> {
    if *rf64 || riff > RF64_AFTER_BYTES {
        let at = scan.reserve_at.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "its audio passes 4 GiB but it has no JUNK chunk to turn into ds64 (not written by StemTap); repair cannot count it",
            )
        })?;
        let mut ds64 = Vec::with_capacity(36);
        ds64.extend_from_slice(b"ds64");
        ds64.extend_from_slice(&DS64_BODY_LEN.to_le_bytes());
        ds64.extend_from_slice(&riff.to_le_bytes());
        ds64.extend_from_slice(&data.to_le_bytes());
        ds64.extend_from_slice(&(data / scan.format.block_align).to_le_bytes());
        ds64.extend_from_slice(&0u32.to_le_bytes());
        write_at(file, at, &ds64)?;
        let mut head = b"RF64".to_vec();
        head.extend_from_slice(&RF64_SIZE_MARKER.to_le_bytes());
        write_at(file, 0, &head)?;
        *rf64 = true;
        return write_at(file, scan.data_at - 4, &RF64_SIZE_MARKER.to_le_bytes());
    }
    // Both fit in 32 bits: `riff` is at most the RF64 threshold.
    write_at(file, 4, &(riff as u32).to_le_bytes())?;
    write_at(file, scan.data_at - 4, &(data as u32).to_le_bytes())
}

fn write_at(file: &mut File, at: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}

/// A `cue ` chunk with one point per `(frame, label)` and a `LIST`/`adtl` chunk of labels,
/// the engine's own (`stemtap_engine::wav::cue_chunks`). Empty for no points.
pub fn cue_chunks(points: &[(u32, String)]) -> Vec<u8> {
    let points: Vec<(u32, &str)> = points.iter().map(|(f, l)| (*f, l.as_str())).collect();
    stemtap_engine::wav::cue_chunks(&points)
}

fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn u64_le(b: &[u8]) -> u64 {
    u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]))
}
