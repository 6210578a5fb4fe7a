//! One stream's output file: sample-format conversion, header checkpoints for crash safety,
//! and rollover to a continuation file before hound's 32-bit size fields would overflow.
//! Runs on the writer thread only.

use super::settings::SampleFormat;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest data chunk one WAV file may hold. RIFF sizes are 32-bit; hound 3.5 wraps them
/// silently (release) or aborts (debug) past 4 GiB, so we stop 1 MiB short and continue in
/// a new file.
pub const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - (1 << 20);

/// How often headers are rewritten so a crash leaves readable files.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Samples encoded per `write` call while zero-filling.
const SILENCE_CHUNK_SAMPLES: usize = 8192;

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot create {path}: {source}")]
    Create { path: PathBuf, source: hound::Error },
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
    pub channels: u16,
    pub sample_rate: u32,
    pub format: SampleFormat,
    /// Override of [`MAX_WAV_DATA_BYTES`] (tests use small files).
    pub max_data_bytes: u64,
}

pub struct WavSink {
    spec: SinkSpec,
    writer: Option<hound::WavWriter<BufWriter<File>>>,
    /// Relative paths of every part written so far (part 1 first).
    pub parts: Vec<String>,
    frames_in_part: u64,
    max_frames_per_part: u64,
    pub frames_written: u64,
    pub peak: f32,
    pub clipped_samples: u64,
    /// Every frame so far had identical channels (meaningful for 2 channels).
    pub channels_identical: bool,
    /// The first error; once set the file is closed and later audio is not written.
    pub error: Option<String>,
    last_checkpoint: Instant,
    dither: fastrand::Rng,
    silence: Vec<f32>,
}

impl WavSink {
    pub fn create(spec: SinkSpec) -> Result<Self, WavError> {
        let bytes_per_frame = spec.format.bytes_per_sample() * spec.channels as u64;
        let max_frames_per_part = (spec.max_data_bytes / bytes_per_frame).max(1);
        let mut sink = WavSink {
            spec,
            writer: None,
            parts: Vec::new(),
            frames_in_part: 0,
            max_frames_per_part,
            frames_written: 0,
            peak: 0.0,
            clipped_samples: 0,
            channels_identical: true,
            error: None,
            last_checkpoint: Instant::now(),
            // Fixed seed: the same input gives the same file, which tests rely on.
            dither: fastrand::Rng::with_seed(0x5743_4d54),
            silence: vec![0.0; SILENCE_CHUNK_SAMPLES],
        };
        sink.open_part()?;
        Ok(sink)
    }

    pub fn channels(&self) -> u16 {
        self.spec.channels
    }

    fn hound_spec(&self) -> hound::WavSpec {
        let (bits, sample_format) = match self.spec.format {
            SampleFormat::Float32 => (32, hound::SampleFormat::Float),
            SampleFormat::Int24 => (24, hound::SampleFormat::Int),
            SampleFormat::Int16 => (16, hound::SampleFormat::Int),
        };
        hound::WavSpec {
            channels: self.spec.channels,
            sample_rate: self.spec.sample_rate,
            bits_per_sample: bits,
            sample_format,
        }
    }

    fn open_part(&mut self) -> Result<(), WavError> {
        let part = self.parts.len() + 1;
        let rel = if part == 1 {
            format!("{}.wav", self.spec.rel_base)
        } else {
            format!("{} (part {part}).wav", self.spec.rel_base)
        };
        let path = self.spec.take_dir.join(&rel);
        let writer = hound::WavWriter::create(&path, self.hound_spec())
            .map_err(|source| WavError::Create { path, source })?;
        self.writer = Some(writer);
        self.parts.push(rel);
        self.frames_in_part = 0;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        self.spec
            .take_dir
            .join(self.parts.last().map(String::as_str).unwrap_or(""))
    }

    /// Write interleaved frames (already in the file's channel count).
    pub fn write(&mut self, samples: &[f32]) {
        let ch = self.spec.channels as usize;
        if ch == 2 && self.channels_identical {
            self.channels_identical = samples.chunks_exact(2).all(|f| f[0] == f[1]);
        }
        for &x in samples {
            let a = x.abs();
            if a > self.peak {
                self.peak = a;
            }
            if a > 1.0 {
                self.clipped_samples += 1;
            }
        }
        self.write_frames(samples);
    }

    /// Write `frames` frames of digital silence.
    pub fn write_silence(&mut self, frames: u64) {
        let ch = self.spec.channels as u64;
        let mut left = frames * ch;
        let silence = std::mem::take(&mut self.silence);
        while left > 0 {
            let n = left.min(silence.len() as u64 - silence.len() as u64 % ch) as usize;
            self.write_frames(&silence[..n]);
            left -= n as u64;
        }
        self.silence = silence;
    }

    fn write_frames(&mut self, samples: &[f32]) {
        let ch = self.spec.channels as usize;
        let mut rest = samples;
        while !rest.is_empty() && self.error.is_none() {
            if self.frames_in_part >= self.max_frames_per_part {
                if let Err(e) = self.roll_over() {
                    self.fail(e.to_string());
                    return;
                }
            }
            let room = (self.max_frames_per_part - self.frames_in_part) as usize * ch;
            let (now, later) = rest.split_at(rest.len().min(room));
            if let Err(source) = self.encode(now) {
                let path = self.current_path();
                self.fail(WavError::Write { path, source }.to_string());
                return;
            }
            let frames = (now.len() / ch) as u64;
            self.frames_in_part += frames;
            self.frames_written += frames;
            rest = later;
        }
    }

    fn encode(&mut self, samples: &[f32]) -> Result<(), hound::Error> {
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        match self.spec.format {
            SampleFormat::Float32 => {
                for &x in samples {
                    writer.write_sample(x)?;
                }
            }
            SampleFormat::Int24 => {
                for &x in samples {
                    writer.write_sample(to_i24(x))?;
                }
            }
            SampleFormat::Int16 => {
                for &x in samples {
                    // TPDF dither: the difference of two uniform values spans +-1 LSB.
                    let tpdf = self.dither.f32() - self.dither.f32();
                    writer.write_sample(to_i16(x, tpdf))?;
                }
            }
        }
        Ok(())
    }

    fn roll_over(&mut self) -> Result<(), WavError> {
        if let Some(writer) = self.writer.take() {
            let path = self.current_path();
            writer
                .finalize()
                .map_err(|source| WavError::Write { path, source })?;
        }
        self.open_part()
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
        // Finish the file as far as it got; a second error here adds nothing.
        if let Some(writer) = self.writer.take() {
            let _ = writer.finalize();
        }
    }

    /// Rewrite the header about once a second so the file is readable after a crash.
    pub fn checkpoint_if_due(&mut self, now: Instant) {
        if now.duration_since(self.last_checkpoint) < CHECKPOINT_INTERVAL {
            return;
        }
        self.last_checkpoint = now;
        if let Some(writer) = self.writer.as_mut() {
            if let Err(source) = writer.flush() {
                let path = self.current_path();
                self.fail(WavError::Write { path, source }.to_string());
            }
        }
    }

    /// Finalize the current file (header and flush).
    pub fn finish(&mut self) {
        if let Some(writer) = self.writer.take() {
            if let Err(source) = writer.finalize() {
                let path = self.current_path();
                self.fail(WavError::Write { path, source }.to_string());
            }
        }
    }

    pub fn take_dir(&self) -> &Path {
        &self.spec.take_dir
    }
}

/// Float to 24-bit: full scale maps to 2^23, clipped to the integer range.
pub fn to_i24(x: f32) -> i32 {
    ((x as f64 * 8_388_608.0).round()).clamp(-8_388_608.0, 8_388_607.0) as i32
}

/// Float to 16-bit with `dither` (in LSB) added before rounding.
pub fn to_i16(x: f32, dither: f32) -> i16 {
    ((x as f64 * 32_768.0 + dither as f64).round()).clamp(-32_768.0, 32_767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_conversion_table() {
        assert_eq!(to_i24(0.0), 0);
        assert_eq!(to_i24(1.0), 8_388_607);
        assert_eq!(to_i24(-1.0), -8_388_608);
        assert_eq!(to_i24(2.0), 8_388_607);
        assert_eq!(to_i24(0.5), 4_194_304);
        assert_eq!(to_i16(0.0, 0.0), 0);
        assert_eq!(to_i16(0.5, 0.0), 16_384);
        assert_eq!(to_i16(-1.5, 0.0), -32_768);
        assert_eq!(to_i16(1.0, 0.9), 32_767);
        assert_eq!(to_i16(0.0, 0.6), 1);
        assert_eq!(to_i16(0.0, -0.6), -1);
    }

    fn spec(dir: &Path, format: SampleFormat, max_data_bytes: u64) -> SinkSpec {
        SinkSpec {
            take_dir: dir.to_path_buf(),
            rel_base: "Kick".into(),
            channels: 2,
            sample_rate: 48_000,
            format,
            max_data_bytes,
        }
    }

    #[test]
    fn float_files_are_bit_exact_and_roll_over_on_frame_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        // 10 frames of stereo float per part.
        let mut sink = WavSink::create(spec(dir.path(), SampleFormat::Float32, 80)).unwrap();
        let samples: Vec<f32> = (0..50).map(|i| i as f32 * 0.01 - 0.2).collect();
        sink.write(&samples[..6]);
        sink.write_silence(4);
        sink.write(&samples[6..]);
        sink.finish();
        assert_eq!(sink.frames_written, 3 + 4 + 22);
        assert_eq!(
            sink.parts,
            ["Kick.wav", "Kick (part 2).wav", "Kick (part 3).wav"]
        );
        let mut all = Vec::new();
        for part in &sink.parts {
            let mut reader = hound::WavReader::open(dir.path().join(part)).unwrap();
            all.extend(reader.samples::<f32>().map(Result::unwrap));
        }
        let mut want = samples[..6].to_vec();
        want.extend([0.0; 8]);
        want.extend(&samples[6..]);
        assert_eq!(all, want);
        assert!((sink.peak - 0.29).abs() < 1e-6);
    }

    #[test]
    fn checkpointed_file_is_readable_before_finish() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink =
            WavSink::create(spec(dir.path(), SampleFormat::Int24, MAX_WAV_DATA_BYTES)).unwrap();
        sink.write(&[0.5, -0.5, 0.25, -0.25]);
        sink.checkpoint_if_due(Instant::now() + CHECKPOINT_INTERVAL);
        // Not finished: a crash now still leaves a readable file with both frames.
        let reader = hound::WavReader::open(dir.path().join("Kick.wav")).unwrap();
        let got: Vec<i32> = reader.into_samples::<i32>().map(Result::unwrap).collect();
        assert_eq!(got, [4_194_304, -4_194_304, 2_097_152, -2_097_152]);
        drop(sink);
    }

    #[test]
    fn identical_channels_and_clipping_are_tracked() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink =
            WavSink::create(spec(dir.path(), SampleFormat::Int16, MAX_WAV_DATA_BYTES)).unwrap();
        sink.write(&[0.1, 0.1, 1.5, 1.5]);
        assert!(sink.channels_identical);
        assert_eq!(sink.clipped_samples, 2);
        sink.write(&[0.1, 0.2]);
        assert!(!sink.channels_identical);
        sink.finish();
        let reader = hound::WavReader::open(dir.path().join("Kick.wav")).unwrap();
        assert_eq!(reader.spec().bits_per_sample, 16);
        assert_eq!(reader.len(), 6);
    }

    #[test]
    fn a_missing_folder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let err = WavSink::create(spec(&missing, SampleFormat::Float32, 1 << 20))
            .err()
            .unwrap();
        assert!(err.to_string().contains("cannot create"), "{err}");
    }
}
