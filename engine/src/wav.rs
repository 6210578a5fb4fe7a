//! One stream's output file: sample-format conversion, header checkpoints for crash safety,
//! and rollover to a continuation file before the 32-bit RIFF size fields would overflow.
//! Runs on the writer thread only.
//!
//! # How a file is written
//! hound stays the authority on the header: [`WavSink`] asks `hound::WavWriter` to write an
//! empty file of the spec into memory (PCMWAVEFORMAT for 16-bit mono/stereo,
//! WAVE_FORMAT_EXTENSIBLE for 24-bit, 32-bit float and more than two channels, exactly what
//! `hound::WavWriter::create` writes) and starts every part with those bytes. Samples are
//! then converted straight into a reusable byte buffer and handed to the OS in
//! [`WRITE_CHUNK_BYTES`] writes, instead of hound's per-sample `write_sample` (a call, a
//! match and a `BufWriter` copy per sample, about half the disk's speed; see BENCHMARKS.md).
//! The two size fields (RIFF size at byte 4, data size in the header's last four bytes) are
//! patched at every checkpoint and when the part is finished, as hound's `flush` does, so
//! the files are byte for byte what hound writes (the tests compare them).
//!
//! Sizes in the header only ever count bytes the OS has accepted, in whole frames: after a
//! failed write (disk full, file size limit) the file stays readable up to the last frame
//! that reached it.

use crate::settings::SampleFormat;
use std::fs::File;
use std::io::{self, Write};
#[cfg(not(unix))]
use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Largest data chunk one WAV file may hold. RIFF sizes are 32-bit (hound 3.5 wraps them
/// silently in release builds and aborts in debug ones), so we stop 1 MiB short and continue
/// in a new file.
pub const MAX_WAV_DATA_BYTES: u64 = u32::MAX as u64 - (1 << 20);

/// How often headers are rewritten so a crash leaves readable files.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Samples encoded per step while zero-filling.
const SILENCE_CHUNK_SAMPLES: usize = 8192;

/// Encoded bytes collected before one `write` to the file. 64 KiB writes reach the disk's
/// sequential speed (BENCHMARKS.md); larger ones gain nothing and cost memory per open file.
pub const WRITE_CHUNK_BYTES: usize = 64 * 1024;

/// How much of a stream's audio (bytes in the file, pending ones included) the writer
/// gathers before handing it to the sink. Float samples reach the disk without a copy in
/// user space only from spans that cover a [`WRITE_CHUNK_BYTES`] boundary; two chunks make
/// the part that still goes through the buffer (the tail past the last boundary) small.
pub const GATHER_BYTES: usize = 2 * WRITE_CHUNK_BYTES;

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
    /// Override of [`MAX_WAV_DATA_BYTES`] (tests use small files); never more than it.
    pub max_data_bytes: u64,
}

/// The file currently being written and its pending bytes.
struct Part {
    file: File,
    /// Length of the header; the data chunk starts here and its size field ends here.
    header_len: u64,
    /// Encoded samples not yet handed to the OS: `buf[..len]`.
    buf: Box<[u8]>,
    len: usize,
    /// Data bytes the OS has accepted.
    on_disk: u64,
    bytes_per_frame: u64,
}

impl Part {
    fn create(path: &Path, header: &[u8], bytes_per_frame: u64) -> io::Result<Part> {
        let mut file = File::create(path)?;
        // A valid empty file from the start.
        file.write_all(header)?;
        Ok(Part {
            file,
            header_len: header.len() as u64,
            // Room for one sample past the limit.
            buf: vec![0u8; WRITE_CHUNK_BYTES + 4].into_boxed_slice(),
            len: 0,
            on_disk: 0,
            bytes_per_frame,
        })
    }

    /// Where the buffer should be written out: at the next [`WRITE_CHUNK_BYTES`] boundary
    /// of the file, so that (after the header's first write) every write covers whole,
    /// aligned pages. Unaligned writes cost the kernel about 40% more per byte here
    /// (BENCHMARKS.md).
    fn fill_limit(&self) -> usize {
        WRITE_CHUNK_BYTES - ((self.header_len + self.on_disk) % WRITE_CHUNK_BYTES as u64) as usize
    }

    /// Hand the pending bytes and then `bytes` to the OS, up to the last
    /// [`WRITE_CHUNK_BYTES`] boundary of the file they reach, in one vectored write; the
    /// rest of `bytes` becomes the new pending buffer. This is how float samples reach the
    /// file without a copy in user space: the kernel reads them straight from the caller.
    /// Bytes that do not reach a boundary are only added to the pending buffer.
    fn write_through(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len > self.fill_limit() {
            // A sample already crosses the boundary (headers of odd length).
            self.write_out(self.fill_limit())?;
        }
        let limit = self.fill_limit();
        let total = self.len + bytes.len();
        if total < limit {
            self.buf[self.len..total].copy_from_slice(bytes);
            self.len = total;
            return Ok(());
        }
        let through = limit + (total - limit) / WRITE_CHUNK_BYTES * WRITE_CHUNK_BYTES - self.len;
        let (now, later) = bytes.split_at(through);
        let mut slices = [
            io::IoSlice::new(&self.buf[..self.len]),
            io::IoSlice::new(now),
        ];
        let mut slices = &mut slices[..];
        let result = loop {
            if slices.is_empty() {
                break Ok(());
            }
            match self.file.write_vectored(slices) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    self.on_disk += k as u64;
                    io::IoSlice::advance_slices(&mut slices, k);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // On an error the rest is lost: the sink stops writing this file anyway.
        self.len = 0;
        result?;
        self.buf[..later.len()].copy_from_slice(later);
        self.len = later.len();
        Ok(())
    }

    /// Hand everything pending to the OS.
    fn drain(&mut self) -> io::Result<()> {
        self.write_out(self.len)
    }

    /// Hand the first `n` pending bytes to the OS, counting exactly what it took, and keep
    /// the rest (part of a sample that crossed the boundary) at the front of the buffer.
    fn write_out(&mut self, n: usize) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == n {
                break Ok(());
            }
            match self.file.write(&self.buf[done..n]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    done += k;
                    self.on_disk += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if result.is_ok() {
            self.buf.copy_within(n..self.len, 0);
            self.len -= n;
        } else {
            // The rest is lost: the sink stops writing this file anyway.
            self.len = 0;
        }
        result
    }

    /// Write the RIFF and data sizes for the whole frames on disk.
    fn patch_header(&mut self) -> io::Result<()> {
        let data = self.on_disk - self.on_disk % self.bytes_per_frame;
        let riff = self.header_len - 8 + data;
        // The part limit keeps both below 2^32 (checked in `WavSink::create`).
        #[cfg(unix)]
        {
            // Positioned writes: two syscalls instead of five, and the file position
            // (where the next chunk goes) is left alone.
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(&(riff as u32).to_le_bytes(), 4)?;
            self.file
                .write_all_at(&(data as u32).to_le_bytes(), self.header_len - 4)?;
        }
        #[cfg(not(unix))]
        {
            self.seek_patch(riff, data)?;
        }
        Ok(())
    }

    /// Patch the sizes by seeking (Windows' positioned writes move the file position too).
    #[cfg(not(unix))]
    fn seek_patch(&mut self, riff: u64, data: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&(riff as u32).to_le_bytes())?;
        self.file.seek(SeekFrom::Start(self.header_len - 4))?;
        self.file.write_all(&(data as u32).to_le_bytes())?;
        self.file
            .seek(SeekFrom::Start(self.header_len + self.on_disk))?;
        Ok(())
    }

    /// Everything written so far becomes readable (hound's `flush`).
    fn checkpoint(&mut self) -> io::Result<()> {
        let drained = self.drain();
        // Patch even after a failed write: the file then ends at the last whole frame
        // that reached it.
        let patched = self.patch_header();
        drained.and(patched)
    }
}

pub struct WavSink {
    spec: SinkSpec,
    part: Option<Part>,
    /// hound's header for this spec, sizes of an empty file.
    header: Vec<u8>,
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
        let bytes_per_frame = spec.format.bytes_per_sample() * spec.channels.max(1) as u64;
        let max_data_bytes = spec.max_data_bytes.min(MAX_WAV_DATA_BYTES);
        let max_frames_per_part = (max_data_bytes / bytes_per_frame).max(1);
        let header = header_bytes(hound_spec(&spec)).map_err(|source| WavError::Create {
            path: spec.take_dir.join(format!("{}.wav", spec.rel_base)),
            source,
        })?;
        let mut sink = WavSink {
            spec,
            part: None,
            header,
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

    pub fn bytes_per_sample(&self) -> usize {
        self.spec.format.bytes_per_sample() as usize
    }

    /// Encoded bytes waiting for the next write.
    pub fn buffered_bytes(&self) -> usize {
        self.part.as_ref().map_or(0, |p| p.len)
    }

    /// Whether [`Self::checkpoint_if_due`] would rewrite the header at `now`.
    pub fn checkpoint_due(&self, now: Instant) -> bool {
        now.duration_since(self.last_checkpoint) >= CHECKPOINT_INTERVAL
    }

    fn open_part(&mut self) -> Result<(), WavError> {
        let part = self.parts.len() + 1;
        let rel = if part == 1 {
            format!("{}.wav", self.spec.rel_base)
        } else {
            format!("{} (part {part}).wav", self.spec.rel_base)
        };
        let path = self.spec.take_dir.join(&rel);
        let bytes_per_frame =
            self.spec.format.bytes_per_sample() * self.spec.channels.max(1) as u64;
        let part =
            Part::create(&path, &self.header, bytes_per_frame).map_err(|e| WavError::Create {
                path,
                source: e.into(),
            })?;
        self.part = Some(part);
        self.parts.push(rel);
        self.frames_in_part = 0;
        Ok(())
    }

    fn current_path(&self) -> PathBuf {
        self.spec
            .take_dir
            .join(self.parts.last().map(String::as_str).unwrap_or(""))
    }

    /// Write interleaved frames (already in the file's channel count). Peak and clip count
    /// are taken while encoding, so they cover what reached the file.
    pub fn write(&mut self, samples: &[f32]) {
        let ch = self.spec.channels as usize;
        if ch == 2 && self.channels_identical {
            self.channels_identical = samples.chunks_exact(2).all(|f| f[0] == f[1]);
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
            if let Err(e) = self.encode(now) {
                let path = self.current_path();
                let source = e.into();
                self.fail(WavError::Write { path, source }.to_string());
                return;
            }
            let frames = (now.len() / ch) as u64;
            self.frames_in_part += frames;
            self.frames_written += frames;
            rest = later;
        }
    }

    /// Convert `samples` into the part's buffer, writing it out whenever it fills.
    fn encode(&mut self, samples: &[f32]) -> io::Result<()> {
        let Some(part) = self.part.as_mut() else {
            return Ok(());
        };
        let format = self.spec.format;
        #[cfg(target_endian = "little")]
        if format == SampleFormat::Float32 {
            // The file's bytes are the samples' bytes: scan them (read only) and let the
            // kernel copy them once the span reaches a chunk boundary.
            let bytes: &[u8] = bytemuck::cast_slice(samples);
            if part.len + bytes.len() >= part.fill_limit() {
                let (peak, clipped) = peak_and_clipped(samples);
                self.peak = self.peak.max(peak);
                self.clipped_samples += clipped;
                return part.write_through(bytes);
            }
        }
        let bps = format.bytes_per_sample() as usize;
        let mut rest = samples;
        while !rest.is_empty() {
            let limit = part.fill_limit();
            if part.len >= limit {
                part.write_out(limit)?;
                continue;
            }
            // Whole samples up to the limit, the last one may cross it by a few bytes.
            let room = (limit - part.len).div_ceil(bps);
            let (now, later) = rest.split_at(rest.len().min(room));
            let out = &mut part.buf[part.len..part.len + now.len() * bps];
            // Float is a copy, so its scan rides along in the same pass; the integer
            // formats scan first (they convert per sample anyway).
            let (peak, clipped) = match format {
                SampleFormat::Float32 => encode_f32(now, out),
                SampleFormat::Int24 => encode_i24(now, out),
                SampleFormat::Int16 => {
                    let stats = peak_and_clipped(now);
                    encode_i16(now, out, &mut self.dither);
                    stats
                }
            };
            self.peak = self.peak.max(peak);
            self.clipped_samples += clipped;
            part.len += now.len() * bps;
            rest = later;
        }
        Ok(())
    }

    fn roll_over(&mut self) -> Result<(), WavError> {
        if let Some(mut part) = self.part.take() {
            part.checkpoint().map_err(|e| WavError::Write {
                path: self.current_path(),
                source: e.into(),
            })?;
        }
        self.open_part()
    }

    fn fail(&mut self, message: String) {
        if self.error.is_none() {
            self.error = Some(message);
        }
        // Finish the file as far as it got; a second error here adds nothing.
        if let Some(mut part) = self.part.take() {
            let _ = part.checkpoint();
        }
    }

    /// Rewrite the header about once a second so the file is readable after a crash.
    pub fn checkpoint_if_due(&mut self, now: Instant) {
        if !self.checkpoint_due(now) {
            return;
        }
        self.last_checkpoint = now;
        if let Some(part) = self.part.as_mut() {
            if let Err(e) = part.checkpoint() {
                let path = self.current_path();
                self.fail(
                    WavError::Write {
                        path,
                        source: e.into(),
                    }
                    .to_string(),
                );
            }
        }
    }

    /// Finalize the current file (header and flush).
    pub fn finish(&mut self) {
        if let Some(mut part) = self.part.take() {
            if let Err(e) = part.checkpoint() {
                let path = self.current_path();
                self.fail(
                    WavError::Write {
                        path,
                        source: e.into(),
                    }
                    .to_string(),
                );
            }
        }
    }

    /// TEMPORARY until the wav split lands: cue points.
    pub fn add_cue(&mut self, _frame: u64, _label: &str) {}

    pub fn take_dir(&self) -> &Path {
        &self.spec.take_dir
    }
}

impl Drop for WavSink {
    /// Like hound's writer: an unfinished file still gets its header (errors unobservable).
    fn drop(&mut self) {
        if let Some(part) = self.part.as_mut() {
            let _ = part.checkpoint();
        }
    }
}

/// TEMPORARY until the wav split lands.
pub enum CollapseOutcome {
    Collapsed,
    NotIdentical,
    Cancelled,
}

/// TEMPORARY until the wav split lands.
pub fn collapse_to_mono(
    _path: &Path,
    _cancel: &std::sync::atomic::AtomicBool,
) -> Result<CollapseOutcome, WavError> {
    Ok(CollapseOutcome::NotIdentical)
}

fn hound_spec(spec: &SinkSpec) -> hound::WavSpec {
    let (bits, sample_format) = match spec.format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    hound::WavSpec {
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        bits_per_sample: bits,
        sample_format,
    }
}

/// The header hound writes for `spec` (everything up to the data chunk's samples), with
/// the sizes of an empty file. Its last four bytes are the data size.
fn header_bytes(spec: hound::WavSpec) -> Result<Vec<u8>, hound::Error> {
    let mut bytes = Vec::new();
    hound::WavWriter::new(io::Cursor::new(&mut bytes), spec)?.finalize()?;
    debug_assert!(bytes.len() >= 44 && &bytes[bytes.len() - 8..bytes.len() - 4] == b"data");
    Ok(bytes)
}

/// Largest magnitude (NaN ignored) and how many samples exceed full scale.
fn peak_and_clipped(samples: &[f32]) -> (f32, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { peak_and_clipped_avx2(samples) };
    }
    peak_and_clipped_body(samples)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn peak_and_clipped_avx2(samples: &[f32]) -> (f32, u64) {
    peak_and_clipped_body(samples)
}

/// Works on the bit patterns (for non-NaN floats, `abs` bits order like the values) with
/// 32-bit counters, which vectorizes; baseline x86-64 (SSE2) lacks the unsigned 32-bit
/// max, so AVX2 machines get their own copy of this loop.
#[inline(always)]
fn peak_and_clipped_body(samples: &[f32]) -> (f32, u64) {
    const INF: u32 = 0x7f80_0000;
    const ONE: u32 = 0x3f80_0000;
    let mut peak = 0u32;
    let mut clipped = 0u64;
    for chunk in samples.chunks(1 << 20) {
        let mut count = 0u32;
        for &x in chunk {
            let a = x.to_bits() & 0x7fff_ffff;
            let a = if a > INF { 0 } else { a };
            peak = peak.max(a);
            count += (a > ONE) as u32;
        }
        clipped += count as u64;
    }
    (f32::from_bits(peak), clipped)
}

/// Copy float samples into the file's bytes (little-endian) and return their peak and clip
/// count, in one pass.
fn encode_f32(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    #[cfg(all(target_arch = "x86_64", target_endian = "little"))]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { encode_f32_avx2(samples, out) };
    }
    for (o, &x) in out.chunks_exact_mut(4).zip(samples) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    peak_and_clipped(samples)
}

/// Eight samples per step: an unaligned store of the samples as they are (the file is
/// little-endian, like the CPU), and [`ScanAvx2`] on the same register.
#[cfg(all(target_arch = "x86_64", target_endian = "little"))]
#[target_feature(enable = "avx2")]
unsafe fn encode_f32_avx2(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    use std::arch::x86_64::*;
    const STEP: usize = 8;
    assert!(out.len() >= 4 * samples.len());
    let done = samples.len() / STEP * STEP;
    let mut scan = ScanAvx2::new();
    // SAFETY: loads read `samples` below `done`; stores write `out` below `4 * done`,
    // which the assert above keeps in bounds; all unaligned.
    unsafe {
        let (src, dst) = (samples.as_ptr(), out.as_mut_ptr());
        for at in (0..done).step_by(STEP) {
            let x = _mm256_loadu_si256(src.add(at).cast());
            _mm256_storeu_si256(dst.add(4 * at).cast(), x);
            scan.step(x);
        }
    }
    for (o, &x) in out[4 * done..].chunks_exact_mut(4).zip(&samples[done..]) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    scan.finish(&samples[done..])
}

/// The scan of [`peak_and_clipped_body`] eight samples at a time, for the AVX2 encoders to
/// run on the registers they load anyway: magnitude bits, NaN as zero, unsigned max, count
/// above 1.0.
#[cfg(target_arch = "x86_64")]
struct ScanAvx2 {
    peak: std::arch::x86_64::__m256i,
    /// Per lane; 32-bit, so folded into `clipped` before it could overflow.
    count: std::arch::x86_64::__m256i,
    steps: u32,
    clipped: u64,
}

#[cfg(target_arch = "x86_64")]
impl ScanAvx2 {
    #[target_feature(enable = "avx2")]
    fn new() -> Self {
        use std::arch::x86_64::*;
        Self {
            peak: _mm256_setzero_si256(),
            count: _mm256_setzero_si256(),
            steps: 0,
            clipped: 0,
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn step(&mut self, samples: std::arch::x86_64::__m256i) {
        use std::arch::x86_64::*;
        let a = _mm256_and_si256(samples, _mm256_set1_epi32(0x7fff_ffff));
        // Magnitudes are below 2^31, so signed compares order them correctly.
        let inf = _mm256_set1_epi32(0x7f80_0000);
        let not_nan = _mm256_andnot_si256(_mm256_cmpgt_epi32(a, inf), a);
        self.peak = _mm256_max_epu32(self.peak, not_nan);
        // cmpgt gives -1 per lane above full scale.
        let one = _mm256_set1_epi32(0x3f80_0000);
        self.count = _mm256_sub_epi32(self.count, _mm256_cmpgt_epi32(not_nan, one));
        self.steps += 1;
        if self.steps == 1 << 24 {
            self.fold_count();
        }
    }

    #[target_feature(enable = "avx2")]
    fn fold_count(&mut self) {
        use std::arch::x86_64::*;
        let mut lanes = [0u32; 8];
        // SAFETY: an unaligned store of 32 bytes into a 32-byte array.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.count) };
        self.clipped += lanes.iter().map(|&c| c as u64).sum::<u64>();
        self.count = _mm256_setzero_si256();
        self.steps = 0;
    }

    /// Peak and clip count of everything stepped through and of `tail`.
    #[target_feature(enable = "avx2")]
    fn finish(mut self, tail: &[f32]) -> (f32, u64) {
        use std::arch::x86_64::*;
        self.fold_count();
        let mut lanes = [0u32; 8];
        // SAFETY: as in `fold_count`.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.peak) };
        let (tail_peak, tail_clipped) = peak_and_clipped_body(tail);
        let peak = lanes.into_iter().max().unwrap_or(0);
        (
            f32::from_bits(peak).max(tail_peak),
            self.clipped + tail_clipped,
        )
    }
}

/// Convert float samples to 24-bit little-endian and return their peak and clip count (one
/// pass where the CPU has AVX2, like [`encode_f32`]).
fn encode_i24(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { encode_i24_avx2(samples, out) };
    }
    encode_i24_body(samples, out);
    peak_and_clipped(samples)
}

/// [`to_i24`] on eight samples at a time, then a byte shuffle drops each value's top byte
/// (four 3-byte values per 128-bit lane) and two overlapping 16-byte stores lay the 24
/// bytes down. The loop stops while 4 bytes of room remain past the last step (the second
/// store writes 4 bytes it does not own; the next step or the scalar tail overwrites them).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn encode_i24_avx2(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    use std::arch::x86_64::*;
    const STEP: usize = 8;
    let n = samples.len().min(out.len() / 3);
    // Steps whose 28 bytes of stores stay inside `out`.
    let steps = if 3 * n >= 4 { (3 * n - 4) / 24 } else { 0 }.min(n / STEP);
    let done = steps * STEP;
    let mut scan = ScanAvx2::new();
    // SAFETY: loads read `samples` below `done <= n`; the stores of step `i` cover bytes
    // `24 i .. 24 i + 28`, and `24 (steps - 1) + 28 <= 3 n <= out.len()` by the choice of
    // `steps`. All unaligned.
    unsafe {
        let scale = _mm256_set1_ps(8_388_608.0);
        let (lo, hi) = (_mm256_set1_ps(-8_388_610.0), _mm256_set1_ps(8_388_609.0));
        let (half, neg_half) = (_mm256_set1_ps(0.5), _mm256_set1_ps(-0.5));
        let (min_i, max_i) = (_mm256_set1_epi32(-8_388_608), _mm256_set1_epi32(8_388_607));
        // Per lane: bytes 0-2, 4-6, 8-10, 12-14; the last four zeroed.
        let pack = _mm256_setr_epi8(
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, //
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
        );
        let (src, dst) = (samples.as_ptr(), out.as_mut_ptr());
        for i in 0..steps {
            let x = _mm256_loadu_ps(src.add(i * STEP));
            scan.step(_mm256_castps_si256(x));
            let v = _mm256_mul_ps(x, scale);
            // NaN becomes 0, as `NaN as i32` does in `to_i24`.
            let v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
            let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
            let t = _mm256_cvttps_epi32(v);
            let frac = _mm256_sub_ps(v, _mm256_cvtepi32_ps(t));
            // Compare masks are -1 where true: subtracting "up" adds one.
            let up = _mm256_castps_si256(_mm256_cmp_ps(frac, half, _CMP_GE_OQ));
            let down = _mm256_castps_si256(_mm256_cmp_ps(frac, neg_half, _CMP_LE_OQ));
            let r = _mm256_add_epi32(_mm256_sub_epi32(t, up), down);
            let r = _mm256_min_epi32(_mm256_max_epi32(r, min_i), max_i);
            let packed = _mm256_shuffle_epi8(r, pack);
            let o = dst.add(i * 24);
            _mm_storeu_si128(o.cast(), _mm256_castsi256_si128(packed));
            _mm_storeu_si128(o.add(12).cast(), _mm256_extracti128_si256::<1>(packed));
        }
    }
    encode_i24_body(&samples[done..n], &mut out[3 * done..3 * n]);
    scan.finish(&samples[done..n])
}

/// Four samples at a time into three little-endian words (12 bytes), so the stores are
/// whole words rather than three bytes each.
#[inline(always)]
fn encode_i24_body(samples: &[f32], out: &mut [u8]) {
    let mut quads = samples.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(12);
    for (s, o) in (&mut quads).zip(&mut outs) {
        let [a, b, c, d] = [s[0], s[1], s[2], s[3]].map(|x| to_i24(x) as u32 & 0xff_ffff);
        o[0..4].copy_from_slice(&(a | b << 24).to_le_bytes());
        o[4..8].copy_from_slice(&(b >> 8 | c << 16).to_le_bytes());
        o[8..12].copy_from_slice(&(c >> 16 | d << 8).to_le_bytes());
    }
    let rest = &mut out[samples.len() / 4 * 12..];
    for (o, &x) in rest.chunks_exact_mut(3).zip(quads.remainder()) {
        o.copy_from_slice(&to_i24(x).to_le_bytes()[..3]);
    }
}

fn encode_i16(samples: &[f32], out: &mut [u8], dither: &mut fastrand::Rng) {
    for (o, &x) in out.chunks_exact_mut(2).zip(samples) {
        // TPDF dither: the difference of two uniform values spans +-1 LSB.
        let tpdf = dither.f32() - dither.f32();
        o.copy_from_slice(&to_i16(x, tpdf).to_le_bytes());
    }
}

/// `v.round()` (half away from zero) clamped to `lo..=hi`, without the libm `round` call
/// that baseline x86-64 makes for it. Exact: `v - trunc(v)` is exact in binary floating
/// point, so the half-way test sees the true fraction. NaN gives 0, like `NaN as i32`.
#[inline(always)]
fn round_clamped(v: f64, lo: i32, hi: i32) -> i32 {
    // Keep the conversion in range; values past the limits stay past them.
    let v = v.clamp(lo as f64 - 2.0, hi as f64 + 2.0);
    let t = v as i32;
    let frac = v - t as f64;
    let r = t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32;
    r.clamp(lo, hi)
}

/// Float to 24-bit: full scale maps to 2^23, rounded half away from zero, clipped to the
/// integer range. Computed in `f32`, which is exact here (a power-of-two scale, and
/// `v - trunc(v)` is exact), so it vectorizes twice as wide as the `f64` formula it equals
/// (checked for all 2^32 inputs by an ignored test).
#[inline]
pub fn to_i24(x: f32) -> i32 {
    let v = (x * 8_388_608.0).clamp(-8_388_610.0, 8_388_609.0);
    let t = v as i32;
    let frac = v - t as f32;
    let r = t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32;
    r.clamp(-8_388_608, 8_388_607)
}

/// Float to 16-bit with `dither` (in LSB) added before rounding (half away from zero).
#[inline]
pub fn to_i16(x: f32, dither: f32) -> i16 {
    round_clamped(x as f64 * 32_768.0 + dither as f64, -32_768, 32_767) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The conversions as first written (libm `round`); the fast ones must agree exactly.
    fn reference_i24(x: f32) -> i32 {
        ((x as f64 * 8_388_608.0).round()).clamp(-8_388_608.0, 8_388_607.0) as i32
    }

    fn reference_i16(x: f32, dither: f32) -> i16 {
        ((x as f64 * 32_768.0 + dither as f64).round()).clamp(-32_768.0, 32_767.0) as i16
    }

    #[test]
    fn integer_conversion_table() {
        assert_eq!(to_i24(0.0), 0);
        assert_eq!(to_i24(1.0), 8_388_607);
        assert_eq!(to_i24(-1.0), -8_388_608);
        assert_eq!(to_i24(2.0), 8_388_607);
        assert_eq!(to_i24(0.5), 4_194_304);
        assert_eq!(to_i24(f32::NAN), 0);
        assert_eq!(to_i24(f32::INFINITY), 8_388_607);
        assert_eq!(to_i24(f32::NEG_INFINITY), -8_388_608);
        assert_eq!(to_i24(1.5 / 8_388_608.0), 2);
        assert_eq!(to_i24(-1.5 / 8_388_608.0), -2);
        assert_eq!(to_i24(0.5 / 8_388_608.0), 1);
        assert_eq!(to_i24(-0.5 / 8_388_608.0), -1);
        assert_eq!(to_i16(0.0, 0.0), 0);
        assert_eq!(to_i16(0.5, 0.0), 16_384);
        assert_eq!(to_i16(-1.5, 0.0), -32_768);
        assert_eq!(to_i16(1.0, 0.9), 32_767);
        assert_eq!(to_i16(0.0, 0.6), 1);
        assert_eq!(to_i16(0.0, -0.6), -1);
        assert_eq!(to_i16(0.0, 0.5), 1);
        assert_eq!(to_i16(0.0, -0.5), -1);
        assert_eq!(to_i16(f32::NAN, 0.3), 0);
    }

    /// Every float near the integer grid, every 1009th bit pattern overall, and the dithered
    /// 16-bit path with the sink's own dither source.
    #[test]
    fn fast_conversions_match_the_reference_formulas() {
        let check = |x: f32| assert_eq!(to_i24(x), reference_i24(x), "{x:e} ({:#x})", x.to_bits());
        for bits in (0..=u32::MAX).step_by(1009) {
            check(f32::from_bits(bits));
        }
        for k in -40_000i32..40_000 {
            for frac in [-0.5f64, -0.25, 0.0, 0.25, 0.5] {
                let v = ((k * 211) as f64 + frac) / 8_388_608.0;
                let x = v as f32;
                check(x);
                check(f32::from_bits(x.to_bits() + 1));
                check(f32::from_bits(x.to_bits().wrapping_sub(1)));
            }
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for bits in (0..=u32::MAX).step_by(4099) {
            let x = f32::from_bits(bits);
            let d = rng.f32() - rng.f32();
            assert_eq!(to_i16(x, d), reference_i16(x, d), "{x:e} {d:e}");
        }
        for k in -33_000i32..33_000 {
            for d in [-0.5f32, 0.0, 0.5, rng.f32() - rng.f32()] {
                let x = k as f32 / 32_768.0;
                assert_eq!(to_i16(x, d), reference_i16(x, d), "{x:e} {d:e}");
                let y = (k as f32 + 0.5) / 32_768.0;
                assert_eq!(to_i16(y, d), reference_i16(y, d), "{y:e} {d:e}");
            }
        }
    }

    /// All 2^32 inputs of `to_i24` (half a minute in release: `cargo test --release -p
    /// stemtap --lib -- --ignored exhaustive`).
    #[test]
    #[ignore = "exhaustive; run in release"]
    fn exhaustive_i24_conversion_matches_the_reference() {
        for bits in 0..=u32::MAX {
            let x = f32::from_bits(bits);
            assert_eq!(to_i24(x), reference_i24(x), "{bits:#x}");
        }
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

    /// What a sink is asked to write, in order.
    enum Op {
        Samples(Vec<f32>),
        Silence(u64),
        Checkpoint,
    }

    /// The same operations written the naive way: hound `write_sample` per sample with the
    /// reference conversions and the sink's dither sequence.
    fn write_reference(path: &Path, channels: u16, format: SampleFormat, ops: &[Op]) {
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

    fn test_signal(samples: usize, seed: u64) -> Vec<f32> {
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

    #[test]
    fn fast_path_files_are_byte_identical_to_hound_per_sample_files() {
        for format in SampleFormat::ALL {
            for channels in [1u16, 2] {
                let dir = tempfile::tempdir().unwrap();
                let ch = channels as usize;
                let signal = test_signal(60_000 * ch, channels as u64);
                // Irregular writes: single frames, odd sizes, one larger than the write
                // buffer, silence and a checkpoint in between.
                let cuts = [1, 7, 512, 4096, 30_000, 1, 3, 20_000];
                let mut ops = Vec::new();
                let mut at = 0;
                for (i, &frames) in cuts.iter().cycle().enumerate() {
                    if at >= signal.len() {
                        break;
                    }
                    let end = (at + frames * ch).min(signal.len());
                    ops.push(Op::Samples(signal[at..end].to_vec()));
                    at = end;
                    match i % 5 {
                        2 => ops.push(Op::Silence(9_000)),
                        3 => ops.push(Op::Checkpoint),
                        _ => {}
                    }
                }
                let reference = dir.path().join("reference.wav");
                write_reference(&reference, channels, format, &ops);

                let mut sink = WavSink::create(SinkSpec {
                    channels,
                    ..spec(dir.path(), format, MAX_WAV_DATA_BYTES)
                })
                .unwrap();
                let t0 = Instant::now();
                for (i, op) in ops.iter().enumerate() {
                    match op {
                        Op::Samples(s) => sink.write(s),
                        Op::Silence(frames) => sink.write_silence(*frames),
                        Op::Checkpoint => {
                            sink.checkpoint_if_due(t0 + CHECKPOINT_INTERVAL * (i as u32 + 1))
                        }
                    }
                }
                sink.finish();
                assert!(sink.error.is_none(), "{:?}", sink.error);
                let fast = dir.path().join("Kick.wav");

                let what = format!("{format:?}, {channels} channels");
                let (a, b) = (
                    hound::WavReader::open(&reference).unwrap(),
                    hound::WavReader::open(&fast).unwrap(),
                );
                assert_eq!(a.spec(), b.spec(), "{what}");
                assert_eq!(a.len(), b.len(), "{what}");
                assert_eq!(
                    b.len() as u64,
                    sink.frames_written * channels as u64,
                    "{what}"
                );
                match format {
                    SampleFormat::Float32 => {
                        let bits = |r: hound::WavReader<_>| -> Vec<u32> {
                            r.into_samples::<f32>()
                                .map(|s| s.unwrap().to_bits())
                                .collect()
                        };
                        assert!(bits(a) == bits(b), "{what}: samples differ");
                    }
                    _ => {
                        let ints = |r: hound::WavReader<_>| -> Vec<i32> {
                            r.into_samples::<i32>().map(Result::unwrap).collect()
                        };
                        assert!(ints(a) == ints(b), "{what}: samples differ");
                    }
                }
                assert!(
                    std::fs::read(&reference).unwrap() == std::fs::read(&fast).unwrap(),
                    "{what}: files differ"
                );
            }
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
    fn odd_sized_int24_mono_parts_roll_over_and_match_hound() {
        let dir = tempfile::tempdir().unwrap();
        // 7 frames of mono 24-bit (21 bytes, odd) per part.
        let mut sink = WavSink::create(SinkSpec {
            channels: 1,
            ..spec(dir.path(), SampleFormat::Int24, 23)
        })
        .unwrap();
        let samples = test_signal(30, 3);
        sink.write(&samples);
        sink.finish();
        assert_eq!(sink.parts.len(), 5);
        for (i, part) in sink.parts.iter().enumerate() {
            let chunk = &samples[i * 7..((i + 1) * 7).min(samples.len())];
            let reference = dir.path().join(format!("reference {i}.wav"));
            write_reference(
                &reference,
                1,
                SampleFormat::Int24,
                &[Op::Samples(chunk.to_vec())],
            );
            assert!(
                std::fs::read(&reference).unwrap() == std::fs::read(dir.path().join(part)).unwrap(),
                "{part}"
            );
        }
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
    fn a_new_file_is_a_valid_empty_wav_and_drop_finishes_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink =
            WavSink::create(spec(dir.path(), SampleFormat::Float32, MAX_WAV_DATA_BYTES)).unwrap();
        let path = dir.path().join("Kick.wav");
        assert_eq!(hound::WavReader::open(&path).unwrap().len(), 0);
        sink.write(&[0.25, -0.25]);
        drop(sink);
        let got: Vec<f32> = hound::WavReader::open(&path)
            .unwrap()
            .into_samples::<f32>()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, [0.25, -0.25]);
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
        sink.write(&[f32::NAN, -3.0]);
        assert_eq!(sink.clipped_samples, 3);
        assert_eq!(sink.peak, 3.0);
        sink.finish();
        let reader = hound::WavReader::open(dir.path().join("Kick.wav")).unwrap();
        assert_eq!(reader.spec().bits_per_sample, 16);
        assert_eq!(reader.len(), 8);
    }

    #[test]
    fn float_encoding_copies_bytes_and_scans_like_the_reference() {
        for len in [0, 1, 7, 8, 9, 64, 1000, 4099] {
            let mut samples = test_signal(len, len as u64 + 1);
            for (i, x) in samples.iter_mut().enumerate() {
                match i % 97 {
                    3 => *x = f32::NAN,
                    5 => *x = -1.5,
                    11 => *x = f32::INFINITY,
                    13 => *x = 1.0,
                    _ => {}
                }
            }
            let mut out = vec![0u8; 4 * len];
            let (peak, clipped) = encode_f32(&samples, &mut out);
            let expected: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
            assert_eq!(out, expected, "{len} samples");
            let finite = samples.iter().filter(|x| !x.is_nan());
            let expected_peak = finite.clone().fold(0.0f32, |m, x| m.max(x.abs()));
            let expected_clipped = finite.filter(|x| x.abs() > 1.0).count() as u64;
            assert_eq!(
                (peak, clipped),
                (expected_peak, expected_clipped),
                "{len} samples"
            );
        }
    }

    #[test]
    fn int24_encoding_matches_the_scalar_conversion() {
        // Every 4099th bit pattern (a million values across every exponent, NaN and
        // infinities included), then lengths around the vector step.
        let spread: Vec<f32> = (0..=u32::MAX / 4099)
            .map(|i| f32::from_bits(i * 4099))
            .collect();
        let mut cases = vec![spread];
        cases.extend([0, 1, 2, 7, 8, 9, 10, 11, 16, 17, 100].map(|n| test_signal(n, n as u64)));
        for samples in cases {
            let mut out = vec![0xAAu8; 3 * samples.len() + 5];
            let (peak, clipped) = encode_i24(&samples, &mut out[..3 * samples.len()]);
            let (want_peak, want_clipped) = peak_and_clipped_body(&samples);
            assert_eq!(
                (peak.to_bits(), clipped),
                (want_peak.to_bits(), want_clipped),
                "peak and clip count of {} samples",
                samples.len()
            );
            for (i, (o, &x)) in out.chunks_exact(3).zip(&samples).enumerate() {
                assert_eq!(
                    o,
                    &to_i24(x).to_le_bytes()[..3],
                    "sample {i} ({:#x})",
                    x.to_bits()
                );
            }
            assert_eq!(out[3 * samples.len()..], [0xAA; 5], "wrote past the end");
        }
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
