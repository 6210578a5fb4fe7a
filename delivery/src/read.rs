//! Streams a WAV file as blocks of interleaved float frames, never the whole file in
//! memory. Reads what StemTap writes and what a recipient's tools expect: 16/24/32-bit PCM
//! and 32-bit float, plain `WAVE_FORMAT` or `EXTENSIBLE`, RIFF or RF64 (sizes from `ds64`).

use crate::take::TakeError;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Frames per block handed to the caller.
pub const BLOCK_FRAMES: usize = 16_384;

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavFormat {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    /// Frames in the data chunk.
    pub frames: u64,
}

/// A WAV file open for reading in blocks.
pub struct WavBlocks {
    path: PathBuf,
    reader: BufReader<File>,
    pub format: WavFormat,
    /// Frames not read yet.
    left: u64,
    bytes: Vec<u8>,
    samples: Vec<f32>,
}

fn unsupported(path: &Path, message: impl Into<String>) -> TakeError {
    TakeError::Unsupported {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

impl WavBlocks {
    pub fn open(path: &Path) -> Result<WavBlocks, TakeError> {
        let io = |source| TakeError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut reader = BufReader::new(File::open(path).map_err(io)?);
        let mut head = [0u8; 12];
        reader.read_exact(&mut head).map_err(io)?;
        let rf64 = match &head[..4] {
            b"RIFF" => false,
            b"RF64" => true,
            _ => return Err(unsupported(path, "not a RIFF/RF64 file")),
        };
        if &head[8..12] != b"WAVE" {
            return Err(unsupported(path, "not a WAVE file"));
        }
        let mut ds64_data: Option<u64> = None;
        let mut fmt: Option<(u16, u16, u32, u16)> = None;
        loop {
            let mut chunk = [0u8; 8];
            if reader.read_exact(&mut chunk).is_err() {
                return Err(unsupported(path, "no data chunk"));
            }
            let id = [chunk[0], chunk[1], chunk[2], chunk[3]];
            let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]) as u64;
            match &id {
                b"ds64" => {
                    let mut body = vec![0u8; size as usize];
                    reader.read_exact(&mut body).map_err(io)?;
                    if body.len() >= 16 {
                        ds64_data =
                            Some(u64::from_le_bytes(body[8..16].try_into().unwrap_or([0; 8])));
                    }
                }
                b"fmt " => {
                    let mut body = vec![0u8; size as usize];
                    reader.read_exact(&mut body).map_err(io)?;
                    if body.len() < 16 {
                        return Err(unsupported(path, "fmt chunk too short"));
                    }
                    let le16 = |i: usize| u16::from_le_bytes([body[i], body[i + 1]]);
                    let mut tag = le16(0);
                    if tag == 0xFFFE && body.len() >= 26 {
                        tag = le16(24); // the sub-format GUID starts with the format tag
                    }
                    let rate = u32::from_le_bytes(body[4..8].try_into().unwrap_or([0; 4]));
                    fmt = Some((tag, le16(2), rate, le16(14)));
                    if size % 2 == 1 {
                        reader.seek_relative(1).map_err(io)?;
                    }
                }
                b"data" => {
                    let (tag, channels, sample_rate, bits) =
                        fmt.ok_or_else(|| unsupported(path, "data before fmt"))?;
                    let float = match (tag, bits) {
                        (3, 32) => true,
                        (1, 16 | 24 | 32) => false,
                        _ => {
                            return Err(unsupported(
                                path,
                                format!("format {tag} with {bits} bits is not supported"),
                            ))
                        }
                    };
                    if channels == 0 {
                        return Err(unsupported(path, "no channels"));
                    }
                    let data_bytes = match (rf64, size) {
                        (true, 0xFFFF_FFFF) => ds64_data
                            .ok_or_else(|| unsupported(path, "RF64 without a ds64 chunk"))?,
                        _ => size,
                    };
                    let block_align = channels as u64 * bits as u64 / 8;
                    // A file cut short (a crash) holds fewer bytes than its header says.
                    let here = reader.stream_position().map_err(io)?;
                    let len = reader.get_ref().metadata().map_err(io)?.len();
                    let available = len.saturating_sub(here).min(data_bytes);
                    let frames = available / block_align;
                    return Ok(WavBlocks {
                        path: path.to_path_buf(),
                        reader,
                        format: WavFormat {
                            channels,
                            sample_rate,
                            bits,
                            float,
                            frames,
                        },
                        left: frames,
                        bytes: Vec::new(),
                        samples: Vec::new(),
                    });
                }
                _ => {
                    reader
                        .seek(SeekFrom::Current((size + size % 2) as i64))
                        .map_err(io)?;
                }
            }
        }
    }

    /// The next block of interleaved frames, `None` at the end.
    pub fn next_block(&mut self) -> Result<Option<&[f32]>, TakeError> {
        if self.left == 0 {
            return Ok(None);
        }
        let f = self.format;
        let frames = (self.left as usize).min(BLOCK_FRAMES);
        let bps = f.bits as usize / 8;
        let n = frames * f.channels as usize;
        self.bytes.resize(n * bps, 0);
        self.reader
            .read_exact(&mut self.bytes)
            .map_err(|source| TakeError::Read {
                path: self.path.clone(),
                source,
            })?;
        self.samples.clear();
        let b = &self.bytes;
        match (f.float, bps) {
            (true, _) => self.samples.extend(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            ),
            (false, 2) => self.samples.extend(
                b.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]) as f32 / 32_768.0),
            ),
            (false, 3) => self
                .samples
                .extend(b.chunks_exact(3).map(|c| {
                    (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f32 / 8_388_608.0
                })),
            _ => self
                .samples
                .extend(b.chunks_exact(4).map(|c| {
                    i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32 / 2_147_483_648.0
                })),
        }
        self.left -= frames as u64;
        Ok(Some(&self.samples))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, bits: u16, float: bool, channels: u16, samples: &[f32]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 48_000,
            bits_per_sample: bits,
            sample_format: if float {
                hound::SampleFormat::Float
            } else {
                hound::SampleFormat::Int
            },
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &x in samples {
            match (float, bits) {
                (true, _) => w.write_sample(x).unwrap(),
                (false, 16) => w.write_sample((x * 32_768.0) as i16).unwrap(),
                _ => w.write_sample((x * 8_388_608.0) as i32).unwrap(),
            }
        }
        w.finalize().unwrap();
    }

    #[test]
    fn reads_every_format_stemtap_writes_bit_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let samples: Vec<f32> = (0..40_001)
            .map(|i| ((i % 200) as f32 - 100.0) / 128.0)
            .collect();
        for (bits, float, channels) in [(32, true, 2), (24, false, 1), (16, false, 2)] {
            let n = samples.len() - samples.len() % channels as usize;
            let path = dir.path().join(format!("{bits}-{channels}.wav"));
            write(&path, bits, float, channels, &samples[..n]);
            let mut r = WavBlocks::open(&path).unwrap();
            assert_eq!(r.format.frames as usize, n / channels as usize);
            let mut got = Vec::new();
            while let Some(block) = r.next_block().unwrap() {
                got.extend_from_slice(block);
            }
            assert_eq!(got, &samples[..n], "{bits} bits");
        }
    }

    #[test]
    fn a_file_cut_short_reads_the_frames_it_has() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cut.wav");
        write(&path, 32, true, 2, &[0.5; 2_000]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4 * 2 * 100 - 3]).unwrap();
        let r = WavBlocks::open(&path).unwrap();
        assert_eq!(r.format.frames, 1_000 - 101);
    }

    #[test]
    fn not_a_wav_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        std::fs::write(&path, b"hello, this is not audio").unwrap();
        let err = WavBlocks::open(&path).err().unwrap().to_string();
        assert!(err.contains("x.wav") && err.contains("not a RIFF"), "{err}");
    }
}
