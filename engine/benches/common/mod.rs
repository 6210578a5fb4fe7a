//! Shared by the benchmark binaries: quick mode, where files go, how ratios are collected
//! from criterion runs and where the result tables are written.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// `STEMTAP_BENCH_QUICK=1`: shorter runs and fewer sizes, for a smoke test in a minute.
pub fn quick() -> bool {
    std::env::var("STEMTAP_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Workspace `target/` (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// Where benchmarks write audio: `STEMTAP_BENCH_DIR`, else `target/bench-tmp` (on the same
/// disk as the repo; `/tmp` may be a tmpfs, which would measure memory, not the disk).
pub fn scratch_root() -> PathBuf {
    let dir = std::env::var_os("STEMTAP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("bench-tmp"));
    std::fs::create_dir_all(&dir).expect("creating the benchmark scratch folder");
    dir
}

/// A fresh temporary folder under [`scratch_root`], removed on drop.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(scratch_root())
        .expect("creating a scratch folder")
}

/// Print a result table and keep a copy in `target/stemtap-bench/<name>.md`, from which
/// BENCHMARKS.md is updated.
pub fn report(name: &str, text: &str) {
    println!("\n{text}");
    let dir = target_dir().join("stemtap-bench");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{name}.md"));
    if std::fs::write(&path, text).is_ok() {
        println!("(written to {})", path.display());
    }
}

/// Collects what each `iter_custom` call measured, so the binary can print ratios of
/// benchmarks run in the same process. Criterion calls the routine during warm-up first and
/// then once per sample; the last `sample_size` calls are the measurement.
#[derive(Clone, Default)]
pub struct Timings(Rc<RefCell<Vec<(u64, Duration)>>>);

impl Timings {
    pub fn record(&self, iters: u64, elapsed: Duration) {
        self.0.borrow_mut().push((iters, elapsed));
    }

    /// Median nanoseconds per iteration over the last `samples` calls (all calls when there
    /// are fewer, e.g. under `cargo test --benches`).
    pub fn median_ns(&self, samples: usize) -> f64 {
        let all = self.0.borrow();
        let from = all.len().saturating_sub(samples);
        let mut per_iter: Vec<f64> = all[from..]
            .iter()
            .filter(|(iters, _)| *iters > 0)
            .map(|(iters, d)| d.as_nanos() as f64 / *iters as f64)
            .collect();
        if per_iter.is_empty() {
            return f64::NAN;
        }
        per_iter.sort_by(|a, b| a.total_cmp(b));
        per_iter[per_iter.len() / 2]
    }

    /// Relative spread of the measurement samples: (max - min) / median, per iteration.
    pub fn spread(&self, samples: usize) -> f64 {
        let all = self.0.borrow();
        let from = all.len().saturating_sub(samples);
        let per_iter: Vec<f64> = all[from..]
            .iter()
            .filter(|(iters, _)| *iters > 0)
            .map(|(iters, d)| d.as_nanos() as f64 / *iters as f64)
            .collect();
        let (lo, hi) = per_iter
            .iter()
            .fold((f64::MAX, 0.0f64), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        (hi - lo) / self.median_ns(samples)
    }
}

/// Median over the last `samples` samples of `base`'s time per iteration divided by
/// `other`'s, for two timings recorded in the same samples (paired measurements).
pub fn median_ratio(base: &Timings, other: &Timings, samples: usize) -> f64 {
    let (a, b) = (base.0.borrow(), other.0.borrow());
    let from = a.len().min(b.len()).saturating_sub(samples);
    let mut ratios: Vec<f64> = a[from..]
        .iter()
        .zip(&b[from..])
        .filter(|((_, x), (_, y))| !x.is_zero() && !y.is_zero())
        .map(|((_, x), (_, y))| x.as_secs_f64() / y.as_secs_f64())
        .collect();
    if ratios.is_empty() {
        return f64::NAN;
    }
    ratios.sort_by(|x, y| x.total_cmp(y));
    ratios[ratios.len() / 2]
}

/// Process CPU time of one thread, in seconds, from `/proc/self/task/<tid>/stat`.
pub fn thread_cpu_seconds(tid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // Fields after the parenthesised name: state is field 3; utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / ticks)
}

/// Thread ids of this process whose name is `name`.
pub fn threads_named(name: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim_end() == name)
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
    .collect()
}

/// A `/proc/self/status` field in kB (e.g. `VmHWM`, `VmRSS`).
pub fn proc_status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Reset `VmHWM` to the current RSS (Linux 4.0+), so a later read is the peak since now.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Deterministic noise in [-0.9, 0.9].
pub fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| (rng.f32() * 2.0 - 1.0) * 0.9).collect()
}

/// Flush dirty pages so one benchmark's writeback does not slow the next one.
pub fn sync_disk() {
    // SAFETY: sync has no preconditions.
    unsafe { libc::sync() };
}
