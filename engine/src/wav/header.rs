//! The bytes in front of the audio, and the size fields patched at every checkpoint.
//! Writer thread only; pure data, no I/O.
//!
//! # Layout
//! ```text
//! offset  size  what
//!      0     4  "RIFF" ("RF64" once the file passed the RF64 threshold)
//!      4     4  RIFF size: bytes after this field (0xFFFFFFFF in RF64)
//!      8     4  "WAVE"
//!     12     8  "JUNK", 28          becomes "ds64", 28 (EBU Tech 3306)
//!     20    28  zeros               ds64: RIFF size, data size, frames (u64), table length 0
//!     48  8+16  "fmt ", PCMWAVEFORMAT (16-bit mono/stereo)
//!      or 8+40  "fmt ", WAVE_FORMAT_EXTENSIBLE (24-bit, float, more than two channels)
//!        8+602+n  "bext", version 1 (EBU Tech 3285), CodingHistory of n bytes
//!        8+m    "iXML", an XML document of m bytes
//!          8    "data", size (0xFFFFFFFF in RF64)   <- the header ends here
//!               samples
//!               after finish only: pad byte (odd data), "cue ", "LIST"/"adtl"
//! ```
//! Every chunk before `data` has an even size, so no pad byte is needed between them:
//! hound (the reader the project's tools use) skips unknown chunks by their size alone.
//! The `fmt ` chunk is the one hound writes for the same spec (taken from hound's own
//! header), so hound keeps reading every file that is not RF64.
//!
//! The JUNK chunk sits first, right after `WAVE`, because EBU Tech 3306 puts `ds64` there:
//! turning a RIFF file into RF64 then rewrites bytes in place and never moves the audio.

use super::bext::bext_chunk_body;
use super::ixml::ixml_document;
use super::FileMetadata;
use crate::settings::SampleFormat;
use std::io;

/// Where the RIFF size field is.
pub(super) const RIFF_SIZE_AT: u64 = 4;
/// Where the reserved `JUNK` chunk (later `ds64`) starts: its id, then its size.
pub(super) const DS64_CHUNK_AT: u64 = 12;
/// Body of the `ds64` chunk without a table: RIFF size, data size, sample count (u64 each)
/// and the table length (u32). EBU Tech 3306 reserves exactly this in its `JUNK` chunk.
pub(super) const DS64_BODY_LEN: usize = 28;
/// Where the `ds64` body (and the `JUNK` reservation) starts.
pub(super) const DS64_BODY_AT: u64 = DS64_CHUNK_AT + 8;
/// The 32-bit size that means "see `ds64`" in an RF64 file.
pub(super) const RF64_SIZE_MARKER: u32 = u32::MAX;

/// The header of one file: everything up to the first sample, with the sizes of an empty
/// file. Its last four bytes are the data size.
pub(super) fn header_bytes(
    fmt_body: &[u8],
    meta: &FileMetadata,
    audio: &AudioInfo,
    frames_before: u64,
) -> Vec<u8> {
    let bext = bext_chunk_body(meta, audio, frames_before);
    let ixml = ixml_document(meta, audio, frames_before);
    let mut out = Vec::with_capacity(64 + fmt_body.len() + bext.len() + ixml.len());
    out.extend(b"RIFF");
    out.extend(0u32.to_le_bytes()); // patched below
    out.extend(b"WAVE");
    push_even_chunk(&mut out, b"JUNK", &[0; DS64_BODY_LEN]);
    push_even_chunk(&mut out, b"fmt ", fmt_body);
    push_even_chunk(&mut out, b"bext", &bext);
    push_even_chunk(&mut out, b"iXML", &ixml);
    out.extend(b"data");
    out.extend(0u32.to_le_bytes());
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    debug_assert_eq!(out.len() % 2, 0);
    out
}

/// What the metadata says about the audio itself.
#[derive(Debug, Clone, Copy)]
pub(super) struct AudioInfo {
    pub channels: u16,
    pub sample_rate: u32,
    pub format: SampleFormat,
}

impl AudioInfo {
    pub(super) fn bits(&self) -> u32 {
        self.format.bytes_per_sample() as u32 * 8
    }
}

/// Append a chunk whose body has an even length (the callers make sure of it).
fn push_even_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    debug_assert_eq!(body.len() % 2, 0, "{}", String::from_utf8_lossy(id));
    out.extend(id);
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
}

/// The `ds64` chunk (id, size, body) for a file whose RIFF size is `riff`, whose data
/// chunk holds `data` bytes and `frames` frames.
pub(super) fn ds64_chunk(riff: u64, data: u64, frames: u64) -> [u8; 8 + DS64_BODY_LEN] {
    let mut out = [0u8; 8 + DS64_BODY_LEN];
    out[..4].copy_from_slice(b"ds64");
    out[4..8].copy_from_slice(&(DS64_BODY_LEN as u32).to_le_bytes());
    out[8..16].copy_from_slice(&riff.to_le_bytes());
    out[16..24].copy_from_slice(&data.to_le_bytes());
    out[24..32].copy_from_slice(&frames.to_le_bytes());
    // tableLength (u32) stays 0: no other chunk needs a 64-bit size.
    out
}

/// The `fmt ` body hound writes for this format: PCMWAVEFORMAT for 16-bit mono and stereo,
/// WAVE_FORMAT_EXTENSIBLE (with hound's channel mask) for the rest.
pub(super) fn fmt_body(audio: &AudioInfo) -> Result<Vec<u8>, hound::Error> {
    let (bits, sample_format) = match audio.format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels: audio.channels,
        sample_rate: audio.sample_rate,
        bits_per_sample: bits,
        sample_format,
    };
    let mut bytes = Vec::new();
    hound::WavWriter::new(io::Cursor::new(&mut bytes), spec)?.finalize()?;
    // hound writes RIFF, WAVE, then `fmt ` first.
    let size = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
    debug_assert_eq!(&bytes[12..16], b"fmt ");
    Ok(bytes[20..20 + size].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_has_the_documented_layout() {
        let audio = AudioInfo {
            channels: 2,
            sample_rate: 48_000,
            format: SampleFormat::Int24,
        };
        let fmt = fmt_body(&audio).unwrap();
        assert_eq!(fmt.len(), 40);
        let bytes = header_bytes(&fmt, &FileMetadata::default(), &audio, 0);
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u32_at(4) as usize, bytes.len() - 8);
        assert_eq!(&bytes[8..12], b"WAVE");
        assert_eq!(&bytes[12..16], b"JUNK");
        assert_eq!(u32_at(16), 28);
        assert_eq!(&bytes[48..52], b"fmt ");
        assert_eq!(u32_at(52), 40);
        assert_eq!(&bytes[96..100], b"bext");
        let bext = u32_at(100) as usize;
        assert_eq!(bext % 2, 0);
        let ixml_at = 104 + bext;
        assert_eq!(&bytes[ixml_at..ixml_at + 4], b"iXML");
        let ixml = u32_at(ixml_at + 4) as usize;
        assert_eq!(ixml % 2, 0);
        assert_eq!(&bytes[ixml_at + 8 + ixml..][..4], b"data");
        assert_eq!(bytes.len(), ixml_at + 8 + ixml + 8);
    }

    #[test]
    fn ds64_fits_the_junk_reservation() {
        let chunk = ds64_chunk(1 << 33, (1 << 33) - 100, 7);
        assert_eq!(chunk.len(), 36);
        assert_eq!(&chunk[..4], b"ds64");
        assert_eq!(
            u64::from_le_bytes(chunk[8..16].try_into().unwrap()),
            1 << 33
        );
        assert_eq!(u64::from_le_bytes(chunk[24..32].try_into().unwrap()), 7);
        assert_eq!(chunk[32..], [0; 4]);
    }
}
