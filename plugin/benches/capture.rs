//! Audio thread cost: `Capture::capture` (stamp, push, meters) per block, against a plain
//! `copy_from_slice` of the same samples into a buffer as large as the ring.
//!
//! `cargo bench -p stemtap --bench capture` (`STEMTAP_BENCH_QUICK=1` for a short run).
//! Prints a ratio table at the end and writes it to `target/stemtap-bench/capture.md`.

mod common;

use common::Timings;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use parking_lot::RwLock;
use ringbuf::traits::{Consumer, Observer, Split};
use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use stemtap::engine::{EngineConfig, Session, StreamSettings, TransportInfo};

/// What `Capture::capture` does per block apart from stamp bookkeeping (stamps of
/// contiguous blocks merge, so they cost nothing here), written three ways, to show where
/// its time goes and what a rework of `capture.rs` could gain. Not the engine's code.
mod kernel {
    use ringbuf::traits::{Observer, Producer, Raw};
    use ringbuf::HeapProd;
    use std::mem::MaybeUninit;
    use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

    #[derive(Default)]
    pub struct Meters {
        peaks: [AtomicU32; 2],
        fill: AtomicU64,
    }

    impl Meters {
        fn note(&self, c: usize, bits: u32) {
            self.peaks[c.min(1)].fetch_max(bits, Ordering::Relaxed);
        }
    }

    /// As in capture.rs today: indexed interleave into the scratch buffer with an `f32::max`
    /// peak per sample, then `push_slice` into the ring.
    pub fn current(
        input: &[Vec<f32>],
        frames: usize,
        scratch: &mut [f32],
        ring: &mut HeapProd<f32>,
        m: &Meters,
    ) {
        let ch = input.len();
        for (c, src) in input.iter().enumerate() {
            let mut peak = 0.0f32;
            for (i, &x) in src[..frames].iter().enumerate() {
                scratch[i * ch + c] = x;
                peak = peak.max(x.abs());
            }
            m.note(c, peak.to_bits());
        }
        ring.push_slice(&scratch[..frames * ch]);
        m.fill.store(ring.occupied_len() as u64, Ordering::Relaxed);
    }

    /// Peak on the bit patterns (`abs` bits order like the values; NaN ignored), which
    /// vectorizes; interleave by iterators (no bounds checks).
    fn peak_bits(src: &[f32]) -> u32 {
        src.iter().fold(0u32, |m, &x| {
            let a = x.to_bits() & 0x7fff_ffff;
            m.max(if a > 0x7f80_0000 { 0 } else { a })
        })
    }

    fn interleave(input: &[Vec<f32>], from: usize, frames: usize, out: &mut [MaybeUninit<f32>]) {
        let ch = input.len();
        if frames == 0 {
            return;
        }
        match ch {
            1 => {
                for (o, &x) in out.iter_mut().zip(&input[0][from..from + frames]) {
                    o.write(x);
                }
            }
            2 => {
                let (l, r) = (
                    &input[0][from..from + frames],
                    &input[1][from..from + frames],
                );
                for ((o, &l), &r) in out.chunks_exact_mut(2).zip(l).zip(r) {
                    o[0].write(l);
                    o[1].write(r);
                }
            }
            _ => {
                for (c, src) in input.iter().enumerate() {
                    for (o, &x) in out[c..]
                        .iter_mut()
                        .step_by(ch)
                        .zip(&src[from..from + frames])
                    {
                        o.write(x);
                    }
                }
            }
        }
    }

    /// Vectorized peak and iterator interleave into scratch, then `push_slice`.
    pub fn bits_scratch(
        input: &[Vec<f32>],
        frames: usize,
        scratch: &mut [MaybeUninit<f32>],
        ring: &mut HeapProd<f32>,
        m: &Meters,
    ) {
        let ch = input.len();
        for (c, src) in input.iter().enumerate() {
            m.note(c, peak_bits(&src[..frames]));
        }
        interleave(input, 0, frames, &mut scratch[..frames * ch]);
        // SAFETY: interleave initialized all frames * ch samples.
        let done: &[f32] =
            unsafe { std::slice::from_raw_parts(scratch.as_ptr().cast(), frames * ch) };
        ring.push_slice(done);
        m.fill.store(ring.occupied_len() as u64, Ordering::Relaxed);
    }

    /// Vectorized peak, interleave straight into the ring's free space (no scratch copy).
    pub fn bits_direct(input: &[Vec<f32>], frames: usize, ring: &mut HeapProd<f32>, m: &Meters) {
        let ch = input.len();
        for (c, src) in input.iter().enumerate() {
            m.note(c, peak_bits(&src[..frames]));
        }
        let (a, b) = ring.vacant_slices_mut();
        // The ring holds whole frames and is pushed whole blocks, so its wrap point falls
        // between frames.
        let first = (a.len() / ch).min(frames);
        interleave(input, 0, first, &mut a[..first * ch]);
        interleave(
            input,
            first,
            frames - first,
            &mut b[..(frames - first) * ch],
        );
        // SAFETY: frames * ch samples were initialized above, in order.
        unsafe { ring.advance_write_index(frames * ch) };
        m.fill.store(ring.occupied_len() as u64, Ordering::Relaxed);
    }
}

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
    /// Median ns/block of the kernels: current, bits_scratch, bits_direct.
    kernels: [f64; 3],
}

fn main() {
    let quick = common::quick();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(if quick { 200 } else { 1000 }))
        .measurement_time(Duration::from_millis(if quick { 500 } else { 2000 }))
        .sample_size(if quick { 10 } else { 30 })
        .configure_from_args();
    let samples = if quick { 10 } else { 30 };

    // A private session with the plugin's default 10 s rings. It stays disarmed, so its
    // writer discards everything older than its holdback: the ring never fills as long as
    // the benchmark gives the writer a poll when the ring is half full (not timed).
    let session = Arc::new(Session::new(EngineConfig::default()));
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
            let mut at = 0usize;
            group.bench_function(BenchmarkId::new("copy", frames), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let input = black_box(&input);
                        if at + frames * input.len() > ring.len() {
                            at = 0;
                        }
                        for ch in input {
                            ring[at..at + frames].copy_from_slice(ch);
                            at += frames;
                        }
                        black_box(&mut ring);
                    }
                    let elapsed = start.elapsed();
                    copy_t.record(iters, elapsed);
                    elapsed
                })
            });
            drop(ring);

            let capture_t = Timings::default();
            let mut pos = 0i64;
            group.bench_function(BenchmarkId::new("capture", frames), |b| {
                b.iter_custom(|iters| {
                    let mut timed = Duration::ZERO;
                    let mut start = Instant::now();
                    for _ in 0..iters {
                        if stats.ring_fill_frames.load(Ordering::Relaxed) as usize > ring_frames / 2
                        {
                            // Not timed: let the writer discard (it polls every 5 ms).
                            timed += start.elapsed();
                            std::thread::sleep(Duration::from_millis(15));
                            start = Instant::now();
                        }
                        capture.capture(black_box(&input), frames, &transport(pos), false);
                        pos += frames as i64;
                    }
                    timed += start.elapsed();
                    capture_t.record(iters, timed);
                    timed
                })
            });

            // The kernels on a ring of the same size, drained (not timed) when half full.
            let mut kernel_t = Vec::new();
            for variant in ["current", "bits_scratch", "bits_direct"] {
                let (mut prod, mut cons) =
                    ringbuf::HeapRb::<f32>::new(ring_frames * channels as usize).split();
                let mut scratch = vec![0.0f32; frames * channels as usize];
                let mut uninit =
                    vec![std::mem::MaybeUninit::<f32>::new(0.0); frames * channels as usize];
                let meters = kernel::Meters::default();
                let t = Timings::default();
                group.bench_function(BenchmarkId::new(format!("kernel_{variant}"), frames), |b| {
                    b.iter_custom(|iters| {
                        let mut timed = Duration::ZERO;
                        let mut start = Instant::now();
                        for _ in 0..iters {
                            if prod.vacant_len() < ring_frames * channels as usize / 2 {
                                timed += start.elapsed();
                                cons.clear();
                                start = Instant::now();
                            }
                            let input = black_box(&input);
                            match variant {
                                "current" => {
                                    kernel::current(input, frames, &mut scratch, &mut prod, &meters)
                                }
                                "bits_scratch" => kernel::bits_scratch(
                                    input,
                                    frames,
                                    &mut uninit,
                                    &mut prod,
                                    &meters,
                                ),
                                _ => kernel::bits_direct(input, frames, &mut prod, &meters),
                            }
                        }
                        timed += start.elapsed();
                        t.record(iters, timed);
                        timed
                    })
                });
                kernel_t.push(t);
            }
            group.finish();
            let dropped = stats.dropped_frames.load(Ordering::Relaxed);
            assert_eq!(
                dropped, 0,
                "the ring filled during the benchmark: not comparable"
            );
            drop(capture);
            drop(handle);
            rows.push(Row {
                channels,
                frames,
                copy: (copy_t.median_ns(samples), copy_t.spread(samples)),
                capture: (capture_t.median_ns(samples), capture_t.spread(samples)),
                kernels: [0, 1, 2].map(|i| kernel_t[i].median_ns(samples)),
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
            r.capture.0 / r.copy.0,
        );
    }
    text += "\n(± is half the min-max spread of the measurement samples.)\n\n\
             Kernels (benches/capture.rs `mod kernel`, same ring size, ratio to the same copy):\n\n\
             | channels | frames | current ns | current / copy | bits_scratch / copy | bits_direct / copy |\n\
             |---:|---:|---:|---:|---:|---:|\n";
    for r in &rows {
        text += &format!(
            "| {} | {} | {:.0} | {:.2}x | {:.2}x | **{:.2}x** |\n",
            r.channels,
            r.frames,
            r.kernels[0],
            r.kernels[0] / r.copy.0,
            r.kernels[1] / r.copy.0,
            r.kernels[2] / r.copy.0,
        );
    }
    common::report("capture", &text);
}
