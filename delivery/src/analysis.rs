//! One file, one pass: sample and true peak, EBU R128 loudness and loudness range, clipped
//! samples, DC offset, whether the channels are identical, how loud the first and last
//! moments are (a cut attack or tail), and a waveform overview for the take sheet.

use crate::read::WavBlocks;
use crate::take::{check_cancel, TakeError, NEVER_CANCELLED};
use ebur128::{Channel, EbuR128, Mode};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// The stretch at each end of a file that decides "attack missing" and "tail cut", in ms:
/// the first and last frames, give or take a cycle of a low note.
pub const EDGE_MS: f64 = 1.0;

/// Min/max pairs in a file's waveform overview (the take sheet's width in points).
pub const OVERVIEW_BUCKETS: usize = 1_000;

/// What one file measures.
#[derive(Debug, Clone, Serialize)]
pub struct FileAnalysis {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    pub frames: u64,
    /// Largest sample magnitude, dBFS; `None` for digital silence.
    pub sample_peak_dbfs: Option<f64>,
    /// Largest magnitude between samples (ITU-R BS.1770 4x oversampling), dBTP.
    pub true_peak_dbtp: Option<f64>,
    /// EBU R128 integrated loudness, LUFS; `None` when everything is below the gate.
    pub integrated_lufs: Option<f64>,
    /// EBU R128 loudness range, LU.
    pub loudness_range_lu: Option<f64>,
    /// Samples at or beyond full scale (a float file's overs clip in any integer format).
    pub clipped_samples: u64,
    /// Mean of each channel (1.0 = full scale).
    pub dc_offset: Vec<f64>,
    /// Two or more channels, all identical in every frame: the file could be mono.
    pub channels_identical: bool,
    /// Peak of the first and last [`EDGE_MS`], dBFS.
    pub head_peak_dbfs: Option<f64>,
    pub tail_peak_dbfs: Option<f64>,
    /// Per overview bucket, the smallest and largest sample of any channel.
    #[serde(skip)]
    pub overview: Vec<(f32, f32)>,
}

/// 20 log10 of a magnitude, `None` for zero (or NaN).
pub fn db(x: f64) -> Option<f64> {
    (x > 0.0 && x.is_finite()).then(|| 20.0 * x.log10())
}

/// Measure the WAV file at `path`.
pub fn analyse(path: &Path) -> Result<FileAnalysis, TakeError> {
    analyse_with(path, &NEVER_CANCELLED)
}

/// [`analyse`], stopping with [`TakeError::Cancelled`] once `cancel` is set.
pub fn analyse_with(path: &Path, cancel: &AtomicBool) -> Result<FileAnalysis, TakeError> {
    let mut wav = WavBlocks::open(path)?;
    let f = wav.format;
    let ch = f.channels as usize;
    let unsupported = |message: String| TakeError::Unsupported {
        path: path.to_path_buf(),
        message,
    };
    let mut meter = EbuR128::new(
        f.channels as u32,
        f.sample_rate,
        Mode::I | Mode::LRA | Mode::TRUE_PEAK | Mode::SAMPLE_PEAK,
    )
    .map_err(|e| unsupported(format!("loudness meter: {e}")))?;
    if ch == 1 {
        // A mono file plays on both speakers: measured as dual mono, like its stereo twin.
        meter
            .set_channel(0, Channel::DualMono)
            .map_err(|e| unsupported(format!("loudness meter: {e}")))?;
    }
    let edge = ((EDGE_MS / 1000.0 * f.sample_rate as f64).ceil() as usize).max(1);
    let bucket_frames = f.frames.div_ceil(OVERVIEW_BUCKETS as u64).max(1);
    let mut overview = vec![(0.0f32, 0.0f32); f.frames.div_ceil(bucket_frames) as usize];
    // Integer files clip at their largest code (one step below 1.0), float files at 1.0.
    let clip_at = if f.float {
        1.0
    } else {
        1.0 - 1.0 / (1u64 << (f.bits - 1)) as f32
    };
    let mut clipped = 0u64;
    let mut sums = vec![0.0f64; ch];
    let mut identical = ch >= 2;
    let mut head_peak = 0.0f32;
    // The last `edge` frames seen, interleaved.
    let mut tail: Vec<f32> = Vec::with_capacity(edge * ch);
    let mut frame_index = 0u64;
    while let Some(block) = wav.next_block()? {
        check_cancel(cancel)?;
        meter
            .add_frames_f32(block)
            .map_err(|e| unsupported(format!("loudness meter: {e}")))?;
        let block_frames = block.len() / ch;
        // Overview and clip count, bucket by bucket (whole slices: the compiler vectorizes).
        let mut k = 0usize;
        while k < block_frames {
            let at = frame_index + k as u64;
            let b = (at / bucket_frames) as usize;
            let n = (((b as u64 + 1) * bucket_frames - at) as usize).min(block_frames - k);
            let span = &block[k * ch..(k + n) * ch];
            let bucket = &mut overview[b];
            let (lo, hi, over) = span
                .iter()
                .fold((bucket.0, bucket.1, 0u32), |(lo, hi, o), &x| {
                    (lo.min(x), hi.max(x), o + (x.abs() >= clip_at) as u32)
                });
            *bucket = (lo, hi);
            clipped += over as u64;
            k += n;
        }
        // DC: one running sum per channel.
        for frame in block.chunks_exact(ch) {
            for (sum, &x) in sums.iter_mut().zip(frame) {
                *sum += x as f64;
            }
        }
        if identical {
            identical = block
                .chunks_exact(ch)
                .all(|frame| frame[1..].iter().all(|x| x.to_bits() == frame[0].to_bits()));
        }
        if frame_index < edge as u64 {
            let head = (edge - frame_index as usize).min(block_frames) * ch;
            head_peak = block[..head].iter().fold(head_peak, |m, x| m.max(x.abs()));
        }
        frame_index += block_frames as u64;
        // Keep the last `edge` frames.
        let keep = block.len().min(edge * ch);
        let excess = (tail.len() + keep).saturating_sub(edge * ch);
        tail.drain(..excess);
        tail.extend_from_slice(&block[block.len() - keep..]);
    }
    let frames = f.frames.max(1) as f64;
    let dc: Vec<f64> = sums.iter().map(|s| s / frames).collect();
    // The tail's peak around each channel's mean: DC alone is not "still sounding".
    let tail_peak = tail
        .chunks_exact(ch)
        .flat_map(|frame| frame.iter().zip(&dc).map(|(&x, &d)| (x as f64 - d).abs()))
        .fold(0.0f64, f64::max);
    let peak = (0..f.channels as u32)
        .filter_map(|c| meter.sample_peak(c).ok())
        .fold(0.0f64, f64::max);
    let true_peak = (0..f.channels as u32)
        .filter_map(|c| meter.true_peak(c).ok())
        .fold(0.0f64, f64::max);
    Ok(FileAnalysis {
        channels: f.channels,
        sample_rate: f.sample_rate,
        bits: f.bits,
        float: f.float,
        frames: f.frames,
        sample_peak_dbfs: db(peak),
        true_peak_dbtp: db(true_peak),
        integrated_lufs: meter.loudness_global().ok().filter(|l| l.is_finite()),
        loudness_range_lu: meter
            .loudness_range()
            .ok()
            .filter(|l| l.is_finite() && f.frames > 0),
        clipped_samples: clipped,
        dc_offset: dc,
        channels_identical: identical && f.frames > 0,
        head_peak_dbfs: db(head_peak as f64),
        tail_peak_dbfs: db(tail_peak),
        overview,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_float(path: &Path, channels: u16, rate: u32, samples: &[f32]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        samples.iter().for_each(|&x| w.write_sample(x).unwrap());
        w.finalize().unwrap();
    }

    /// A stereo sine of `freq` Hz at `amplitude`, both channels in phase.
    fn sine(freq: f64, amplitude: f64, seconds: f64, rate: u32, phase: f64) -> Vec<f32> {
        let n = (seconds * rate as f64) as usize;
        (0..n)
            .flat_map(|i| {
                let x = (amplitude
                    * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64 + phase).sin())
                    as f32;
                [x, x]
            })
            .collect()
    }

    #[test]
    fn a_1khz_sine_at_minus_23_lufs_reads_minus_23() {
        // EBU Tech 3341 test case 1: a 1 kHz stereo sine at -23.0 dBFS per channel (dBFS
        // of a sine as AES17 has it: a full-scale sine is 0 dBFS) reads -23.0 +- 0.1 LUFS.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sine.wav");
        let amplitude = 10f64.powf(-23.0 / 20.0);
        write_float(
            &path,
            2,
            48_000,
            &sine(1_000.0, amplitude, 20.0, 48_000, 0.0),
        );
        let a = analyse(&path).unwrap();
        let lufs = a.integrated_lufs.unwrap();
        assert!((lufs + 23.0).abs() <= 0.1, "{lufs} LUFS");
        assert!(a.loudness_range_lu.unwrap() < 0.5);
        assert!(a.channels_identical);
    }

    #[test]
    fn true_peak_finds_the_peak_between_samples() {
        // A sine at a quarter of the rate, sampled 45 degrees off its crests: every sample
        // sits at 0.7071 of the crest, the waveform between them reaches the crest.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("isp.wav");
        let samples = sine(12_000.0, 1.0, 1.0, 48_000, std::f64::consts::FRAC_PI_4);
        write_float(&path, 2, 48_000, &samples);
        let a = analyse(&path).unwrap();
        let sample = a.sample_peak_dbfs.unwrap();
        let tp = a.true_peak_dbtp.unwrap();
        assert!((sample + 3.01).abs() < 0.05, "sample peak {sample}");
        assert!(tp > -0.6, "true peak {tp} dBTP");
    }

    #[test]
    fn edges_dc_clipping_and_silence_are_measured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.wav");
        let rate = 48_000;
        let mut s = vec![0.0f32; 2 * rate as usize];
        // Loud at frame 0, quiet middle, a DC of 0.01 on the left, overs, loud last frame.
        for (i, x) in s.iter_mut().enumerate() {
            if i % 2 == 0 {
                *x = 0.01;
            }
        }
        s[0] = 0.9;
        s[1001] = 1.5;
        s[1003] = -1.0;
        let n = s.len();
        s[n - 1] = 0.5;
        write_float(&path, 2, rate, &s);
        let a = analyse(&path).unwrap();
        assert!(a.head_peak_dbfs.unwrap() > -1.0);
        assert!((a.tail_peak_dbfs.unwrap() - db(0.5).unwrap()).abs() < 1e-3);
        assert_eq!(a.clipped_samples, 2);
        assert!((a.dc_offset[0] - 0.01).abs() < 1e-4, "{:?}", a.dc_offset);
        assert!(!a.channels_identical);
        assert_eq!(a.overview.len(), OVERVIEW_BUCKETS);

        let silent = dir.path().join("silent.wav");
        write_float(&silent, 1, rate, &vec![0.0; 4_800]);
        let a = analyse(&silent).unwrap();
        assert_eq!(
            (a.sample_peak_dbfs, a.integrated_lufs, a.channels_identical),
            (None, None, false)
        );
    }
}
