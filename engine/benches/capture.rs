//! Audio thread cost: `Capture::capture` (stamp, push, meters) per block, against a plain
//! `copy_from_slice` of the same samples into a buffer as large as the ring.
//!
//! Both run the same schedule: a burst of blocks that fills a quarter of the ring, then an
//! untimed pause of one writer poll (5 ms). The capture needs the pause (its ring is drained
//! by the session's writer, which polls every 5 ms); the copy gets it too, because a copy
//! looping without pause into a buffer it rewrote microseconds ago finds it in cache, which
//! neither a real audio thread (one block every few milliseconds) nor the capture does.
//! Measured on this machine: the copy alone costs 2.7x more with the pause than without.
//!
//! `cargo bench -p stemtap-engine --bench capture` (`STEMTAP_BENCH_QUICK=1` for a short run).
//! Prints a ratio table at the end and writes it to `target/stemtap-bench/capture.md`.

mod common;

use common::Timings;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use parking_lot::RwLock;
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stemtap_engine::{EngineConfig, Session, StreamSettings, TransportInfo};

const RATE: u32 = 48_000;
const CHANNELS: [u16; 3] = [1, 2, 8];
const BLOCKS: [usize; 3] = [32, 512, 4096];

fn transport(pos: i64) -> TransportInfo {
    TransportInfo {
        playing: true,
        recording: false,
        pos_samples: Some(pos),
        tempo: Some(120.0),
        pos_beats: Some(pos as f64 / RATE as f64 * 2.0),
        time_sig: Some((4, 4)),
    }
}

struct Row {
    channels: u16,
    frames: usize,
    copy: (f64, f64),
    capture: (f64, f64),
    /// Median over samples of capture time / copy time, both measured in the same sample.
    ratio: f64,
}

/// The shared schedule: bursts of `burst` blocks with an untimed pause between them, kept
/// across criterion's calls so every sample sees the same pattern.
struct Bursts {
    burst: u64,
    in_burst: u64,
}

impl Bursts {
    fn new(burst: u64) -> Self {
        Self { burst, in_burst: 0 }
    }

    /// Run `iters` blocks; returns the time spent in them (pauses excluded).
    fn run(&mut self, iters: u64, mut pause: impl FnMut(), mut block: impl FnMut()) -> Duration {
        let mut timed = Duration::ZERO;
        let mut start = Instant::now();
        for _ in 0..iters {
            if self.in_burst == self.burst {
                timed += start.elapsed();
                pause();
                self.in_burst = 0;
                start = Instant::now();
            }
            block();
            self.in_burst += 1;
        }
        timed + start.elapsed()
    }
}

/// Busy-wait rather than sleep: both sides stay on a running core.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn main() {
    let quick = common::quick();
    let mut c = Criterion::default()
        // Timed time only: the untimed pauses make a run's wall time 10-50x longer.
        .warm_up_time(Duration::from_millis(if quick { 20 } else { 100 }))
        .measurement_time(Duration::from_millis(if quick { 60 } else { 300 }))
        .sample_size(if quick { 10 } else { 30 })
        .configure_from_args();
    let samples = if quick { 10 } else { 30 };

    // A private session with the plugin's default 10 s rings. It stays disarmed, so its
    // writer discards everything older than its holdback: the ring never fills as long as
    // the benchmark waits for the writer's poll when the ring is half full (not timed).
    let config = EngineConfig::default();
    let pause = config.writer.poll_interval;
    let session = Arc::new(Session::new(config));
    let mut rows = Vec::new();
    for &channels in &CHANNELS {
        for &frames in &BLOCKS {
            let mut group = c.benchmark_group(format!("capture/{channels}ch"));
            group
                .throughput(Throughput::Elements((frames * channels as usize) as u64))
                .sampling_mode(SamplingMode::Flat);
            let input: Vec<Vec<f32>> = (0..channels)
                .map(|ch| common::noise(frames, ch as u64 + 1))
                .collect();
            let handle = session.register(Arc::new(RwLock::new(StreamSettings::default())));
            let mut capture = handle.attach(RATE, channels, frames as u32);
            let stats = handle.stats().clone();
            let ring_frames = stats.ring_capacity_frames.load(Ordering::Relaxed) as usize;

            // Baseline: the same samples copied into a buffer the size of the ring.
            let copy_t = Timings::default();
            let mut ring = vec![0.0f32; ring_frames * channels as usize];
            let burst = (ring_frames / 4 / frames).max(1) as u64;
            let mut at = 0usize;
            let mut copy_schedule = Bursts::new(burst);
            let mut copy_block = || {
                let input = black_box(&input);
                if at + frames * input.len() > ring.len() {
                    at = 0;
                }
                for ch in input {
                    ring[at..at + frames].copy_from_slice(ch);
                    at += frames;
                }
                black_box(&mut ring);
            };

            let capture_t = Timings::default();
            let pos = std::cell::Cell::new(0i64);
            let mut capture_schedule = Bursts::new(burst);
            // Both closures use the capture; they never run at the same time.
            let cell = std::cell::RefCell::new(&mut capture);
            let mut capture_pause = || {
                spin_for(pause);
                let deadline = Instant::now() + Duration::from_secs(5);
                while stats.ring_fill_frames.load(Ordering::Relaxed) as usize > ring_frames / 4 {
                    assert!(Instant::now() < deadline, "the writer stopped draining");
                    std::hint::spin_loop();
                    // A block of no frames only refreshes the fill figure.
                    cell.borrow_mut()
                        .capture(&input, 0, &transport(pos.get()), false);
                }
            };
            let mut capture_block = || {
                let block = black_box(&input);
                let t = transport(pos.get());
                cell.borrow_mut().capture(block, frames, &t, false);
                pos.set(pos.get() + frames as i64);
            };

            // Copy and capture take turns, a burst each, inside every sample: drift of the
            // shared machine then hits both alike (separate runs gave ratios 1.0-1.33x for
            // the same code). Criterion reports the capture's time.
            group.bench_function(BenchmarkId::new("capture", frames), |b| {
                b.iter_custom(|iters| {
                    let (mut copy, mut capture) = (Duration::ZERO, Duration::ZERO);
                    let mut left = iters;
                    while left > 0 {
                        let n = left.min(burst);
                        copy += copy_schedule.run(n, || spin_for(pause), &mut copy_block);
                        capture += capture_schedule.run(n, &mut capture_pause, &mut capture_block);
                        left -= n;
                    }
                    copy_t.record(iters, copy);
                    capture_t.record(iters, capture);
                    capture
                })
            });
            group.finish();
            let dropped = stats.dropped_frames.load(Ordering::Relaxed);
            assert_eq!(
                dropped, 0,
                "the ring filled during the benchmark: not comparable"
            );
            drop(ring);
            drop(capture);
            drop(handle);
            rows.push(Row {
                channels,
                frames,
                copy: (copy_t.median_ns(samples), copy_t.spread(samples)),
                capture: (capture_t.median_ns(samples), capture_t.spread(samples)),
                ratio: 1.0 / common::median_ratio(&copy_t, &capture_t, samples),
            });
        }
    }
    c.final_summary();

    let mut text = String::from(
        "| channels | frames | copy ns/block | capture ns/block | capture ns/sample | capture / copy |\n\
         |---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        let samples = (r.frames * r.channels as usize) as f64;
        text += &format!(
            "| {} | {} | {:.0} (±{:.0}%) | {:.0} (±{:.0}%) | {:.2} | **{:.2}x** |\n",
            r.channels,
            r.frames,
            r.copy.0,
            r.copy.1 * 50.0,
            r.capture.0,
            r.capture.1 * 50.0,
            r.capture.0 / samples,
            r.ratio,
        );
    }
    text += "\n(± is half the min-max spread of the measurement samples. capture / copy is \
             the median of the per-sample ratios: both run in turns, a burst each, within \
             every sample.)\n";
    common::report("capture", &text);
}
