//! Helpers shared by the tests of the `wav` modules: the reference conversions, a test
//! signal with the hard cases in it, and hound's per-sample writer as the reference file.

use super::SinkSpec;
use crate::settings::SampleFormat;
use std::path::Path;

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
/// reference conversions and the sink's dither sequence.
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
    let mut put = |w: &mut hound::WavWriter<_>, x: f32| match format {
        SampleFormat::Float32 => w.write_sample(x).unwrap(),
        SampleFormat::Int24 => w.write_sample(reference_i24(x)).unwrap(),
        SampleFormat::Int16 => {
            let tpdf = dither.f32() - dither.f32();
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
