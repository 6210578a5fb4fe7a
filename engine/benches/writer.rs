//! Writer throughput: encode and write stereo tracks the way the writer thread does (one
//! span of [`GATHER_BYTES`] of file data per track in turn, as the writer hands each
//! stream's audio over once that much has gathered in its ring, a header checkpoint per
//! track every second of audio, a new take every 60 s of audio), against
//! - `raw`: the same audio, encoded ahead of time, written per track with `write_all` in
//!   64 KiB chunks to the same disk (the limit for any writer going through the page
//!   cache: the kernel copies the same bytes from the same amount of memory), and
//! - `hound`: the naive path, hound `write_sample` per sample (what `WavSink` did before).
//!
//! One criterion iteration is one second of audio for every track; takes continue across
//! iterations, so the figures are the steady state of 60 s takes, file creation and
//! finishing included. Checkpoints follow audio time (one per second of audio per file),
//! which is what the writer does in real time and far more than wall-clock checkpoints
//! would give a faster-than-real-time benchmark.
//!
//! `cargo bench -p stemtap-engine --bench writer` (`STEMTAP_BENCH_QUICK=1` for a short run).

mod common;

use common::Timings;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};
use stemtap_engine::wav::{to_i24, SinkSpec, WavSink, GATHER_BYTES, MAX_WAV_DATA_BYTES};
use stemtap_engine::SampleFormat;

const RATE: usize = 48_000;
const CHANNELS: usize = 2;
const TAKE_SECONDS: usize = 60;
const RAW_CHUNK: usize = 64 * 1024;

/// One way of getting `tracks` stereo files onto the disk.
trait Target {
    fn open(&mut self, dir: &Path, tracks: usize, format: SampleFormat);
    fn block(&mut self, track: usize, samples: &[f32]);
    /// Called once per second of audio with the audio-time clock.
    fn checkpoint(&mut self, now: Instant);
    fn close(&mut self);
}

#[derive(Default)]
struct Raw {
    /// Per file: the file, bytes owed to it, where its next chunk starts in `encoded`.
    files: Vec<(File, usize, usize)>,
    bytes_per_sample: usize,
    /// The driver's source audio in the file's sample format.
    encoded: Vec<u8>,
}

impl Target for Raw {
    fn open(&mut self, dir: &Path, tracks: usize, format: SampleFormat) {
        // The same audio the other targets get, encoded once for the whole benchmark, so
        // the kernel copies the same bytes from the same amount of memory: the limit is
        // writing this audio, not re-sending one cache-hot buffer.
        if self.encoded.is_empty() {
            self.bytes_per_sample = format.bytes_per_sample() as usize;
            let source = source();
            self.encoded = match format {
                SampleFormat::Float32 => source.iter().flat_map(|x| x.to_le_bytes()).collect(),
                _ => source
                    .iter()
                    .flat_map(|&x| to_i24(x).to_le_bytes().into_iter().take(3))
                    .collect(),
            };
        }
        self.files = (0..tracks)
            .map(|t| {
                let file = File::create(dir.join(format!("{t}.raw"))).unwrap();
                (file, 0, t * 37 * CHANNELS * self.bytes_per_sample)
            })
            .collect();
    }
    fn block(&mut self, track: usize, samples: &[f32]) {
        let room = self.encoded.len() - RAW_CHUNK;
        let (file, owed, at) = &mut self.files[track];
        *owed += samples.len() * self.bytes_per_sample;
        while *owed >= RAW_CHUNK {
            file.write_all(&self.encoded[*at..*at + RAW_CHUNK]).unwrap();
            *owed -= RAW_CHUNK;
            *at = (*at + RAW_CHUNK) % room;
        }
    }
    fn checkpoint(&mut self, _now: Instant) {}
    fn close(&mut self) {
        for (mut file, owed, at) in self.files.drain(..) {
            file.write_all(&self.encoded[at..at + owed]).unwrap();
        }
    }
}

/// Two seconds of stereo noise: what every target writes, over and over.
fn source() -> Vec<f32> {
    common::noise(2 * RATE * CHANNELS, 3)
}

#[derive(Default)]
struct StemTap {
    sinks: Vec<WavSink>,
}

impl Target for StemTap {
    fn open(&mut self, dir: &Path, tracks: usize, format: SampleFormat) {
        self.sinks = (0..tracks)
            .map(|t| {
                WavSink::create(SinkSpec {
                    take_dir: dir.to_path_buf(),
                    rel_base: format!("Track {t}"),
                    channels: CHANNELS as u16,
                    sample_rate: RATE as u32,
                    format,
                    max_data_bytes: MAX_WAV_DATA_BYTES,
                })
                .unwrap()
            })
            .collect();
    }
    fn block(&mut self, track: usize, samples: &[f32]) {
        self.sinks[track].write(samples);
    }
    fn checkpoint(&mut self, now: Instant) {
        for sink in &mut self.sinks {
            sink.checkpoint_if_due(now);
        }
    }
    fn close(&mut self) {
        for mut sink in self.sinks.drain(..) {
            sink.finish();
            assert!(sink.error.is_none(), "{:?}", sink.error);
        }
    }
}

#[derive(Default)]
struct Hound {
    writers: Vec<hound::WavWriter<BufWriter<File>>>,
    format: SampleFormat,
}

impl Target for Hound {
    fn open(&mut self, dir: &Path, tracks: usize, format: SampleFormat) {
        self.format = format;
        let (bits, sample_format) = match format {
            SampleFormat::Float32 => (32, hound::SampleFormat::Float),
            SampleFormat::Int24 => (24, hound::SampleFormat::Int),
            SampleFormat::Int16 => (16, hound::SampleFormat::Int),
        };
        let spec = hound::WavSpec {
            channels: CHANNELS as u16,
            sample_rate: RATE as u32,
            bits_per_sample: bits,
            sample_format,
        };
        self.writers = (0..tracks)
            .map(|t| hound::WavWriter::create(dir.join(format!("{t}.wav")), spec).unwrap())
            .collect();
    }
    fn block(&mut self, track: usize, samples: &[f32]) {
        let w = &mut self.writers[track];
        match self.format {
            SampleFormat::Float32 => samples.iter().for_each(|&x| w.write_sample(x).unwrap()),
            _ => samples
                .iter()
                .for_each(|&x| w.write_sample(to_i24(x)).unwrap()),
        }
    }
    fn checkpoint(&mut self, _now: Instant) {
        for w in &mut self.writers {
            w.flush().unwrap();
        }
    }
    fn close(&mut self) {
        for w in self.writers.drain(..) {
            w.finalize().unwrap();
        }
    }
}

/// Drives a target through takes, one second of audio per `second()`.
struct Driver<T: Target> {
    target: T,
    tracks: usize,
    format: SampleFormat,
    source: Vec<f32>,
    dir: Option<tempfile::TempDir>,
    seconds_in_take: usize,
    take_clock: Instant,
    blocks: usize,
    /// Frames of every track not handed over yet (less than one span).
    owed: usize,
}

impl<T: Target> Driver<T> {
    fn new(target: T, tracks: usize, format: SampleFormat) -> Self {
        Self {
            target,
            tracks,
            format,
            source: source(),
            dir: None,
            seconds_in_take: 0,
            take_clock: Instant::now(),
            blocks: 0,
            owed: 0,
        }
    }

    /// Not timed: remove the last take's files.
    fn cleanup(&mut self) {
        if self.dir.is_none() {
            return;
        }
        self.target.close();
        self.dir = None;
    }

    /// Timed part: one second of audio for every track. Returns time spent outside
    /// `cleanup` (which callers do not time).
    fn second(&mut self) -> Duration {
        let mut untimed = Duration::ZERO;
        let start = Instant::now();
        let span = GATHER_BYTES / (CHANNELS * self.format.bytes_per_sample() as usize);
        if self.seconds_in_take == TAKE_SECONDS {
            // The take ends: the writer hands over what is left, however little.
            self.hand_over(self.owed);
            self.owed = 0;
            self.target.close();
            let t = Instant::now();
            self.dir = None; // deleting 60 s of files is not the writer's work
            untimed += t.elapsed();
            self.seconds_in_take = 0;
        }
        if self.dir.is_none() {
            let dir = common::scratch_dir("writer-");
            self.target.open(dir.path(), self.tracks, self.format);
            self.dir = Some(dir);
            self.take_clock = Instant::now();
        }
        self.owed += RATE;
        while self.owed >= span {
            self.hand_over(span);
            self.owed -= span;
        }
        self.seconds_in_take += 1;
        self.target
            .checkpoint(self.take_clock + Duration::from_secs(self.seconds_in_take as u64));
        start.elapsed() - untimed
    }

    /// `frames` of every track, one track after the other.
    fn hand_over(&mut self, frames: usize) {
        let room = self.source.len() - frames * CHANNELS;
        for t in 0..self.tracks {
            let at = ((self.blocks * 4099 + t * 37) * CHANNELS) % room;
            self.target
                .block(t, &self.source[at..at + frames * CHANNELS]);
        }
        self.blocks += 1;
    }
}

struct Row {
    format: SampleFormat,
    tracks: usize,
    raw: (f64, f64),
    stemtap: (f64, f64),
    /// Median over samples of raw time / StemTap time, both measured in the same sample.
    ratio: f64,
    hound: (f64, f64),
}

fn run<T: Target>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    target: T,
    tracks: usize,
    format: SampleFormat,
    samples: usize,
) -> (f64, f64) {
    let timings = Timings::default();
    let mut driver = Driver::new(target, tracks, format);
    common::sync_disk();
    group.bench_function(BenchmarkId::new(name, tracks), |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            for _ in 0..iters {
                elapsed += driver.second();
            }
            timings.record(iters, elapsed);
            elapsed
        })
    });
    driver.cleanup();
    (timings.median_ns(samples), timings.spread(samples))
}

/// StemTap and raw in turns, one second of audio each: the machine's drift (other guests
/// of the VM, writeback of earlier runs) then hits both alike, which separate runs a few
/// seconds apart do not get (their ratio wandered by ±10 % between runs). Criterion
/// reports StemTap's time; raw's is kept alongside. Returns (raw, stemtap, paired ratio).
fn run_paired(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    tracks: usize,
    format: SampleFormat,
    samples: usize,
) -> ((f64, f64), (f64, f64), f64) {
    let (raw_t, stemtap_t) = (Timings::default(), Timings::default());
    let mut raw = Driver::new(Raw::default(), tracks, format);
    let mut stemtap = Driver::new(StemTap::default(), tracks, format);
    common::sync_disk();
    group.bench_function(BenchmarkId::new("stemtap", tracks), |b| {
        b.iter_custom(|iters| {
            let (mut r, mut s) = (Duration::ZERO, Duration::ZERO);
            for _ in 0..iters {
                r += raw.second();
                s += stemtap.second();
            }
            raw_t.record(iters, r);
            stemtap_t.record(iters, s);
            s
        })
    });
    raw.cleanup();
    stemtap.cleanup();
    (
        (raw_t.median_ns(samples), raw_t.spread(samples)),
        (stemtap_t.median_ns(samples), stemtap_t.spread(samples)),
        common::median_ratio(&raw_t, &stemtap_t, samples),
    )
}

fn main() {
    let quick = common::quick();
    let samples = 10;
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(if quick { 300 } else { 1000 }))
        .measurement_time(Duration::from_secs(if quick { 1 } else { 4 }))
        .sample_size(samples)
        .configure_from_args();
    let mut rows = Vec::new();
    for format in [SampleFormat::Float32, SampleFormat::Int24] {
        for tracks in [1usize, 16, 64, 256] {
            let mut group = c.benchmark_group(format!("writer/{format:?}"));
            let bytes = tracks * RATE * CHANNELS * format.bytes_per_sample() as usize;
            group
                .throughput(Throughput::Bytes(bytes as u64))
                .sampling_mode(SamplingMode::Flat);
            let (raw, stemtap, ratio) = run_paired(&mut group, tracks, format, samples);
            let hound = run(
                &mut group,
                "hound",
                Hound::default(),
                tracks,
                format,
                samples,
            );
            group.finish();
            rows.push(Row {
                format,
                tracks,
                raw,
                stemtap,
                ratio,
                hound,
            });
        }
    }
    c.final_summary();

    let mut text = String::from(
        "| format | tracks | raw MB/s | stemtap MB/s | hound MB/s | stemtap / raw | hound / raw |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let bytes = (r.tracks * RATE * CHANNELS) as f64 * r.format.bytes_per_sample() as f64;
        let mbs = |ns: f64| bytes / ns * 1e3;
        text += &format!(
            "| {:?} | {} | {:.0} (±{:.0}%) | {:.0} (±{:.0}%) | {:.0} (±{:.0}%) | **{:.2}x** | {:.2}x |\n",
            r.format,
            r.tracks,
            mbs(r.raw.0),
            r.raw.1 * 50.0,
            mbs(r.stemtap.0),
            r.stemtap.1 * 50.0,
            mbs(r.hound.0),
            r.hound.1 * 50.0,
            r.ratio,
            r.raw.0 / r.hound.0,
        );
    }
    text += "\n(MB/s of WAV data, 10^6 bytes; ± is half the min-max spread of the samples. \
             A track is stereo 48 kHz; one iteration is one second of audio for every track. \
             stemtap / raw is the median of the per-sample ratios: both run in turns, one \
             second of audio each, within every sample.)\n";
    common::report("writer", &text);
}
