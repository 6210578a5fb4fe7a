//! The null test: do the stems add up to the mix? Sum every stem, subtract the mix, and
//! measure what is left. A clean master bus nulls to nothing (float rounding, below -120
//! dB); a limiter, EQ or glue compressor on the master, or a missing stem, leaves a
//! residual, which is exactly what a mastering engineer wants to know before trusting the
//! stems.

use crate::analysis::db;
use crate::read::WavBlocks;
use crate::take::{check_cancel, TakeError, NEVER_CANCELLED};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// What the null test measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NullResult {
    /// Energy of (sum of stems - mix) relative to the mix's, dB; `None` when the residual
    /// is digital silence (a perfect null).
    pub residual_db: Option<f64>,
    /// Largest residual sample, dBFS.
    pub residual_peak_dbfs: Option<f64>,
    /// How many stems were summed.
    pub stems: usize,
}

/// Sum the files at `stems` and compare them with `mix`, frame by frame. Mono stems go to
/// every channel of the mix (StemTap writes a stem as mono only when both its channels
/// were identical). All files must have the mix's length and rate.
pub fn null_test(stems: &[PathBuf], mix: &Path) -> Result<NullResult, TakeError> {
    null_test_with(stems, mix, &NEVER_CANCELLED)
}

/// [`null_test`], stopping with [`TakeError::Cancelled`] once `cancel` is set.
pub fn null_test_with(
    stems: &[PathBuf],
    mix: &Path,
    cancel: &AtomicBool,
) -> Result<NullResult, TakeError> {
    let mut mix_r = WavBlocks::open(mix)?;
    let out_ch = mix_r.format.channels as usize;
    let mut readers = Vec::new();
    for path in stems {
        let r = WavBlocks::open(path)?;
        let f = r.format;
        if f.frames != mix_r.format.frames || f.sample_rate != mix_r.format.sample_rate {
            return Err(TakeError::Unsupported {
                path: path.clone(),
                message: format!(
                    "cannot be summed against the mix: {} frames at {} Hz, the mix has {} at {} Hz",
                    f.frames, f.sample_rate, mix_r.format.frames, mix_r.format.sample_rate
                ),
            });
        }
        if f.channels as usize != out_ch && f.channels != 1 {
            return Err(TakeError::Unsupported {
                path: path.clone(),
                message: format!(
                    "{} channels cannot be summed into a {out_ch}-channel mix",
                    f.channels
                ),
            });
        }
        readers.push(r);
    }
    let mut sum: Vec<f64> = Vec::new();
    let (mut residual_energy, mut mix_energy, mut residual_peak) = (0.0f64, 0.0f64, 0.0f64);
    while let Some(mix_block) = mix_r.next_block()? {
        check_cancel(cancel)?;
        let mix_block = mix_block.to_vec();
        sum.clear();
        sum.resize(mix_block.len(), 0.0);
        for r in &mut readers {
            let in_ch = r.format.channels as usize;
            let Some(block) = r.next_block()? else {
                break;
            };
            if in_ch == out_ch {
                for (s, &x) in sum.iter_mut().zip(block) {
                    *s += x as f64;
                }
            } else {
                for (frame, &x) in sum.chunks_exact_mut(out_ch).zip(block) {
                    frame.iter_mut().for_each(|s| *s += x as f64);
                }
            }
        }
        for (&s, &m) in sum.iter().zip(&mix_block) {
            let r = s - m as f64;
            residual_energy += r * r;
            mix_energy += m as f64 * m as f64;
            residual_peak = residual_peak.max(r.abs());
        }
    }
    let residual_db = (residual_energy > 0.0 && mix_energy > 0.0)
        .then(|| 10.0 * (residual_energy / mix_energy).log10());
    Ok(NullResult {
        residual_db,
        residual_peak_dbfs: db(residual_peak),
        stems: stems.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, channels: u16, samples: &[f32]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 48_000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        samples.iter().for_each(|&x| w.write_sample(x).unwrap());
        w.finalize().unwrap();
    }

    fn noise(seed: u64, n: usize) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                ((x % 20_000) as f32 / 10_000.0 - 1.0) * 0.2
            })
            .collect()
    }

    #[test]
    fn stems_that_sum_to_the_mix_null_below_minus_120_db() {
        let dir = tempfile::tempdir().unwrap();
        let n = 48_000 * 2;
        let drums = noise(1, 2 * n);
        let bass_mono = noise(2, n);
        let mix: Vec<f32> = drums
            .iter()
            .enumerate()
            .map(|(i, &d)| d + bass_mono[i / 2])
            .collect();
        let p = |name: &str| dir.path().join(name);
        write(&p("drums.wav"), 2, &drums);
        write(&p("bass.wav"), 1, &bass_mono);
        write(&p("mix.wav"), 2, &mix);
        let r = null_test(&[p("drums.wav"), p("bass.wav")], &p("mix.wav")).unwrap();
        assert!(r.residual_db.is_none_or(|d| d < -120.0), "{r:?}");
        assert_eq!(r.stems, 2);

        // A limiter-like gain change on the mix: 1 dB down over its loud half.
        let limited: Vec<f32> = mix
            .iter()
            .enumerate()
            .map(|(i, &m)| {
                if i >= n {
                    m * 10f32.powf(-1.0 / 20.0)
                } else {
                    m
                }
            })
            .collect();
        write(&p("limited.wav"), 2, &limited);
        let r = null_test(&[p("drums.wav"), p("bass.wav")], &p("limited.wav")).unwrap();
        let residual = r.residual_db.unwrap();
        // Half the mix off by 1 dB (a factor 0.891): residual energy 0.0118/2 of the mix's.
        assert!((-25.0..-20.0).contains(&residual), "{residual} dB");
    }

    #[test]
    fn files_of_another_length_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        write(&p("a.wav"), 2, &[0.1; 200]);
        write(&p("mix.wav"), 2, &[0.1; 300]);
        let err = null_test(&[p("a.wav")], &p("mix.wav"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("a.wav") && err.contains("100 frames"), "{err}");
    }
}
