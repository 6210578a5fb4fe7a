//! Reading a finished RIFF WAVE file's layout: its chunks in file order and the fields of
//! its `fmt ` chunk, so a rewrite (the mono collapse) can copy every chunk it does not need
//! to understand verbatim. Any thread but the audio thread; blocking reads, no allocation
//! per byte.
//!
//! A file this cannot make sense of is an `io::ErrorKind::InvalidData` error whose message
//! says what is wrong; the caller adds the path.

use std::io::{self, Read, Seek, SeekFrom};

/// `wFormatTag` of integer PCM.
pub(super) const WAVE_FORMAT_PCM: u16 = 1;
/// `wFormatTag` of IEEE float.
pub(super) const WAVE_FORMAT_IEEE_FLOAT: u16 = 3;
/// `wFormatTag` of WAVE_FORMAT_EXTENSIBLE: the real format is the sub-format GUID's first
/// two bytes, and the chunk carries a channel mask.
pub(super) const WAVE_FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// One chunk of the file.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Chunk {
    /// The four-character code, e.g. `b"data"`.
    pub id: [u8; 4],
    /// Where the body starts in the file (after the 8-byte chunk header).
    pub body_at: u64,
    /// Body length in bytes as the header says, without the pad byte.
    pub size: u32,
}

/// The chunks of the RIFF WAVE file `file` of `len` bytes, in file order. The walk follows
/// the RIFF size, steps over the pad byte after odd-sized chunks, and accepts a final odd
/// chunk without one (hound writes no pad byte at the end of a file). Bytes past the RIFF
/// size are not part of the file's chunks and are not listed.
pub(super) fn chunks<R: Read + Seek>(file: &mut R, len: u64) -> io::Result<Vec<Chunk>> {
    let mut head = [0u8; 12];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut head).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => invalid("shorter than a RIFF header".into()),
        _ => e,
    })?;
    match &head[..4] {
        b"RIFF" => {}
        b"RF64" => return Err(invalid("an RF64 file (not supported here)".into())),
        _ => return Err(invalid("not a RIFF file".into())),
    }
    if &head[8..12] != b"WAVE" {
        return Err(invalid("a RIFF file but not WAVE".into()));
    }
    let riff_end = 8 + u32_le(&head[4..8]) as u64;
    if riff_end > len {
        return Err(invalid(format!(
            "its RIFF size says {riff_end} bytes but it has {len} (cut short?)"
        )));
    }
    let mut chunks = Vec::new();
    let mut at = 12u64;
    while at < riff_end {
        if riff_end - at < 8 {
            return Err(invalid(format!("{} stray bytes at its end", riff_end - at)));
        }
        let mut header = [0u8; 8];
        file.seek(SeekFrom::Start(at))?;
        file.read_exact(&mut header)?;
        let id: [u8; 4] = [header[0], header[1], header[2], header[3]];
        let size = u32_le(&header[4..8]);
        let end = at + 8 + size as u64;
        if end > riff_end {
            return Err(invalid(format!(
                "its '{}' chunk ends past the RIFF size",
                String::from_utf8_lossy(&id)
            )));
        }
        chunks.push(Chunk {
            id,
            body_at: at + 8,
            size,
        });
        at = (end + size as u64 % 2).min(riff_end);
    }
    Ok(chunks)
}

/// The fields of a `fmt ` chunk that a byte-level rewrite needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Fmt {
    /// `wFormatTag` as written (PCM, IEEE float, EXTENSIBLE or another).
    pub tag: u16,
    /// The encoding of the samples: `tag`, or for EXTENSIBLE the sub-format's tag.
    pub encoding: u16,
    /// `nChannels`.
    pub channels: u16,
    /// `nSamplesPerSec`.
    pub sample_rate: u32,
    /// `nBlockAlign`: bytes per frame.
    pub block_align: u16,
    /// `wBitsPerSample`.
    pub bits_per_sample: u16,
}

/// The KSDATAFORMAT GUID suffix shared by the PCM and IEEE float sub-formats (after their
/// first two bytes, the tag, and two zero bytes).
const KSDATAFORMAT_SUFFIX: [u8; 12] = [
    0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

impl Fmt {
    /// Parse a `fmt ` chunk's body.
    pub(super) fn parse(body: &[u8]) -> io::Result<Fmt> {
        if body.len() < 16 {
            return Err(invalid(format!("its fmt chunk is {} bytes", body.len())));
        }
        let u16_at = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]);
        let tag = u16_at(0);
        let encoding = if tag == WAVE_FORMAT_EXTENSIBLE {
            if body.len() < 40 {
                return Err(invalid(format!(
                    "its EXTENSIBLE fmt chunk is {} bytes",
                    body.len()
                )));
            }
            let guid = &body[24..40];
            if guid[2..4] != [0, 0] || guid[4..16] != KSDATAFORMAT_SUFFIX {
                return Err(invalid("an unknown EXTENSIBLE sub-format".into()));
            }
            u16_at(24)
        } else {
            tag
        };
        Ok(Fmt {
            tag,
            encoding,
            channels: u16_at(2),
            sample_rate: u32_le(&body[4..8]),
            block_align: u16_at(12),
            bits_per_sample: u16_at(14),
        })
    }
}

/// A little-endian `u32` from the first four bytes of `b`.
pub(super) fn u32_le(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn chunk(id: &[u8; 4], body: &[u8], pad: bool) -> Vec<u8> {
        let mut out = id.to_vec();
        out.extend((body.len() as u32).to_le_bytes());
        out.extend(body);
        if pad {
            out.push(0);
        }
        out
    }

    fn riff(chunks: &[Vec<u8>], size_extra: i64) -> Vec<u8> {
        let body: Vec<u8> = chunks.concat();
        let mut out = b"RIFF".to_vec();
        out.extend(((4 + body.len() as i64 + size_extra) as u32).to_le_bytes());
        out.extend(b"WAVE");
        out.extend(body);
        out
    }

    fn walk(bytes: &[u8]) -> io::Result<Vec<([u8; 4], u64, u32)>> {
        let chunks = super::chunks(&mut Cursor::new(bytes), bytes.len() as u64)?;
        Ok(chunks.iter().map(|c| (c.id, c.body_at, c.size)).collect())
    }

    #[test]
    fn the_walk_steps_over_pad_bytes_and_accepts_a_final_one_missing() {
        let padded = riff(
            &[
                chunk(b"fmt ", &[0; 16], false),
                chunk(b"data", &[1; 3], true),
                chunk(b"LIST", &[2; 5], true),
            ],
            0,
        );
        assert_eq!(
            walk(&padded).unwrap(),
            [(*b"fmt ", 20, 16), (*b"data", 44, 3), (*b"LIST", 56, 5)]
        );
        let unpadded_end = riff(
            &[
                chunk(b"fmt ", &[0; 16], false),
                chunk(b"data", &[1; 3], false),
            ],
            0,
        );
        assert_eq!(
            walk(&unpadded_end).unwrap(),
            [(*b"fmt ", 20, 16), (*b"data", 44, 3)]
        );
        // Bytes past the RIFF size are not chunks.
        let mut trailing = unpadded_end.clone();
        trailing.extend([9; 20]);
        assert_eq!(walk(&trailing).unwrap().len(), 2);
    }

    #[test]
    fn broken_files_are_invalid_data_that_says_why() {
        let ok = riff(&[chunk(b"fmt ", &[0; 16], false)], 0);
        let cases: [(Vec<u8>, &str); 5] = [
            (b"RIFF".to_vec(), "shorter"),
            ([b"RF64", &ok[4..]].concat(), "RF64"),
            ([b"RIFX", &ok[4..]].concat(), "not a RIFF"),
            (riff(&[chunk(b"fmt ", &[0; 16], false)], 8), "cut short"),
            (
                riff(&[chunk(b"fmt ", &[0; 16], false), vec![0; 3]], 0),
                "stray",
            ),
        ];
        for (bytes, why) in cases {
            let err = walk(&bytes).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{why}");
            assert!(err.to_string().contains(why), "{err} lacks {why}");
        }
        let mut long_chunk = riff(&[chunk(b"data", &[0; 4], false)], 0);
        long_chunk[16] = 200;
        assert!(walk(&long_chunk)
            .unwrap_err()
            .to_string()
            .contains("'data'"));
    }
}
