//! How fast `stemtap check` measures a take, as multiples of real time, against a raw read
//! of the same bytes measured in the same run.
//!
//! Target (issue 12): with true peak on, at least 200x real time per stereo track per core,
//! and both cores used. One stereo float file is measured on one thread (`analyse`), then a
//! take of eight on every core (`check_take`: the files in parallel, plus the null test).
//!
//! `cargo bench -p stemtap-delivery --bench check` (`STEMTAP_BENCH_QUICK=1`: shorter).

use criterion::Criterion;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};
use stemtap_delivery::analysis::analyse;
use stemtap_delivery::{check_take, Take};

mod common;

use common::{make_take, quick, target_dir, TRACKS};

/// Durations of every `iter_custom` call of one benchmark, per iteration; the median of
/// the measured samples.
#[derive(Clone, Default)]
struct Timings(Rc<RefCell<Vec<Duration>>>);

impl Timings {
    fn record(&self, iters: u64, elapsed: Duration) {
        self.0.borrow_mut().push(elapsed / iters.max(1) as u32);
    }
    fn median(&self, samples: usize) -> Duration {
        let all = self.0.borrow();
        let mut last: Vec<Duration> = all[all.len().saturating_sub(samples)..].to_vec();
        last.sort();
        last[last.len() / 2]
    }
}

fn main() {
    let seconds = if quick() { 10 } else { 30 };
    let samples = 10;
    let scratch = target_dir().join("bench-tmp");
    std::fs::create_dir_all(&scratch).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("check-")
        .tempdir_in(&scratch)
        .unwrap();
    make_take(dir.path(), seconds);
    let take = Take::open(dir.path()).unwrap();
    let one = dir.path().join("Stems/Track 0.wav");
    let mut c = Criterion::default()
        .sample_size(samples)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(if quick() { 3 } else { 10 }))
        .configure_from_args();
    let (raw, single, whole) = (Timings::default(), Timings::default(), Timings::default());
    let mut g = c.benchmark_group("check");
    let t = raw.clone();
    g.bench_function("raw read of one file", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(std::fs::read(&one).unwrap());
            }
            let e = start.elapsed();
            t.record(iters, e);
            e
        })
    });
    let t = single.clone();
    g.bench_function("analyse one file (one core)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(analyse(&one).unwrap());
            }
            let e = start.elapsed();
            t.record(iters, e);
            e
        })
    });
    let t = whole.clone();
    g.bench_function("check_take, 8 files (every core)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                std::hint::black_box(check_take(&take));
            }
            let e = start.elapsed();
            t.record(iters, e);
            e
        })
    });
    g.finish();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let audio = seconds as f64;
    let (raw, single, whole) = (
        raw.median(samples).as_secs_f64(),
        single.median(samples).as_secs_f64(),
        whole.median(samples).as_secs_f64(),
    );
    let per_core_whole = audio * TRACKS as f64 / whole / cores as f64;
    let text = format!(
        "| what | time | real time | per stereo track per core |\n|---|---:|---:|---:|\n\
         | raw read of one {seconds} s stereo float file | {:.1} ms | {:.0}x | - |\n\
         | analyse one file, one core (true peak on) | {:.1} ms | {:.0}x | **{:.0}x** |\n\
         | check_take, {TRACKS} files + null test, {cores} cores | {:.1} ms | {:.0}x | **{:.0}x** |\n\n\
         (analyse / raw read: {:.1}x; whole take on {cores} cores vs one file on one: {:.2}x the work per second)\n",
        raw * 1e3,
        audio / raw,
        single * 1e3,
        audio / single,
        audio / single,
        whole * 1e3,
        audio * TRACKS as f64 / whole,
        per_core_whole,
        single / raw,
        (audio * TRACKS as f64 / whole) / (audio / single),
    );
    println!("\n{text}");
    let out = target_dir().join("stemtap-bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("check.md"), text);
}
