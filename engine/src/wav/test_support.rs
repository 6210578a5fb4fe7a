//! Helpers shared by the tests of the `wav` modules: the reference conversions, a test
//! signal with the hard cases in it, and hound's per-sample writer as the reference file.

use super::{FileMetadata, SinkSpec, WavError, WavSink, RF64_AFTER_BYTES};
use crate::settings::SampleFormat;
use std::path::Path;

/// The metadata of the test files: a name and a fixed date, so two files written by the
/// same steps are byte-identical.
pub fn test_metadata() -> FileMetadata {
    FileMetadata {
        start_sample: 48_000,
        track_name: "Kick".into(),
        role: "stem".into(),
        take_name: "2026-11-24 21-04-13 Take 3".into(),
        take_number: Some(3),
        originated: chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(21, 4, 13)),
        ..FileMetadata::default()
    }
}

/// A sink for `spec` with [`test_metadata`].
pub fn create(spec: SinkSpec) -> Result<WavSink, WavError> {
    WavSink::create_with(spec, test_metadata(), RF64_AFTER_BYTES)
}

/// Where the body of the first chunk `id` of the RIFF file `bytes` starts, and its size.
pub fn chunk(bytes: &[u8], id: &[u8; 4]) -> (usize, usize) {
    let (_, at, size) = *riff_chunks(bytes)
        .iter()
        .find(|(i, _, _)| i == id)
        .unwrap_or_else(|| panic!("no {} chunk", String::from_utf8_lossy(id)));
    (at, size)
}

/// The data chunk's body of the WAV file at `path`.
pub fn data_body(path: &Path) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let (at, size) = chunk(&bytes, b"data");
    bytes[at..at + size].to_vec()
}

/// The conversions as first written (libm `round`); the fast ones must agree exactly.
pub fn reference_i24(x: f32) -> i32 {
    ((x as f64 * 8_388_608.0).round()).clamp(-8_388_608.0, 8_388_607.0) as i32
}

pub fn reference_i16(x: f32, dither: f32) -> i16 {
    ((x as f64 * 32_768.0 + dither as f64).round()).clamp(-32_768.0, 32_767.0) as i16
}

pub fn spec(dir: &Path, format: SampleFormat, max_data_bytes: u64) -> SinkSpec {
    SinkSpec {
        take_dir: dir.to_path_buf(),
        rel_base: "Kick".into(),
        channels: 2,
        sample_rate: 48_000,
        format,
        max_data_bytes,
    }
}

/// What a sink is asked to write, in order.
pub enum Op {
    Samples(Vec<f32>),
    Silence(u64),
    Checkpoint,
}

/// The same operations written the naive way: hound `write_sample` per sample with the
/// reference conversions and the sink's dither sequence (a sample equal to its frame's
/// first sample reuses that sample's dither).
pub fn write_reference(path: &Path, channels: u16, format: SampleFormat, ops: &[Op]) {
    let (bits, sample_format) = match format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    let spec = hound::WavSpec {
        channels,
        sample_rate: 48_000,
        bits_per_sample: bits,
        sample_format,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    let mut dither = fastrand::Rng::with_seed(0x5743_4d54);
    let mut index = 0u64;
    let mut first = (0.0f32, 0.0f32);
    let mut put = |w: &mut hound::WavWriter<_>, x: f32| match format {
        SampleFormat::Float32 => w.write_sample(x).unwrap(),
        SampleFormat::Int24 => w.write_sample(reference_i24(x)).unwrap(),
        SampleFormat::Int16 => {
            let mut tpdf = dither.f32() - dither.f32();
            if index.is_multiple_of(channels as u64) {
                first = (x, tpdf);
            } else if x == first.0 {
                tpdf = first.1;
            }
            index += 1;
            w.write_sample(reference_i16(x, tpdf)).unwrap()
        }
    };
    for op in ops {
        match op {
            Op::Samples(s) => s.iter().for_each(|&x| put(&mut w, x)),
            Op::Silence(frames) => (0..frames * channels as u64).for_each(|_| put(&mut w, 0.0)),
            Op::Checkpoint => w.flush().unwrap(),
        }
    }
    w.finalize().unwrap();
}

pub fn test_signal(samples: usize, seed: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let specials = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1.5,
        -2.0,
        0.5 / 8_388_608.0,
        -0.5 / 8_388_608.0,
        0.5 / 32_768.0,
        1e-30,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    (0..samples)
        .map(|i| match i % 997 {
            k if k < specials.len() => specials[k],
            _ => (rng.f32() * 2.0 - 1.0) * 1.1,
        })
        .collect()
}

/// The cue points of the file at `path` as bwavfile (an independent reader) sees them:
/// `(frame, label)`, checking that both position fields agree.
pub fn cues_read_by_bwavfile(path: &Path) -> Vec<(u32, String)> {
    let mut reader = bwavfile::WaveReader::open(path).unwrap();
    reader
        .cue_points()
        .unwrap()
        .into_iter()
        .map(|c| {
            assert_eq!(c.frame, c.offset, "{}", path.display());
            (c.frame, c.label.unwrap_or_default())
        })
        .collect()
}

/// `(id, offset of the body, size)` of every chunk of the RIFF file `bytes`, walked with the
/// pad byte after odd sizes (a final one may be missing, as in hound's files); asserts
/// that the RIFF size covers exactly the file.
pub fn riff_chunks(bytes: &[u8]) -> Vec<([u8; 4], usize, usize)> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WAVE");
    assert_eq!(u32_at(4) + 8, bytes.len(), "RIFF size");
    let mut chunks = Vec::new();
    let mut at = 12;
    while at < bytes.len() {
        let size = u32_at(at + 4);
        chunks.push((bytes[at..at + 4].try_into().unwrap(), at + 8, size));
        // A final odd chunk may lack its pad byte (hound writes none).
        at = (at + 8 + size + size % 2).min(bytes.len().max(at + 8 + size));
    }
    assert_eq!(at, bytes.len(), "chunks end with the file");
    chunks
}

/// The chunk ids of `bytes` in file order, as text.
pub fn chunk_ids(bytes: &[u8]) -> Vec<String> {
    riff_chunks(bytes)
        .iter()
        .map(|(id, _, _)| String::from_utf8_lossy(id).into_owned())
        .collect()
}

/// Every sample of the file at `path` as hound reads it, as bit patterns (float) or
/// integers, so equality is bit-exact.
pub fn hound_samples(path: &Path) -> Vec<i64> {
    let reader = hound::WavReader::open(path).unwrap();
    match reader.spec().sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .map(|s| s.unwrap().to_bits() as i64)
            .collect(),
        hound::SampleFormat::Int => reader
            .into_samples::<i32>()
            .map(|s| s.unwrap() as i64)
            .collect(),
    }
}
