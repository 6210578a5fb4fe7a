//! How fast `stemtap pack` converts a take to 24-bit and zips it, against a raw copy of
//! the same bytes (the limit: any pack reads every byte of the take and writes its files),
//! measured side by side: each sample runs the copy and the pack in turn, and the figure
//! is the median of the per-sample ratios.
//!
//! Target (issue 12): pack to int24 at least 0.5x the speed of the raw copy.
//!
//! The take: 8 stereo 32-bit float files (7 stems and their mix), about 100 MB. The pack
//! is for mastering (every stem and the mix, 24-bit, stored in one zip).
//! - `raw copy`: every file of the take read and written to a new folder in 1 MiB blocks
//!   (`read` + `write_all`; `std::fs::copy` may clone extents in the kernel without
//!   moving a byte, which is not a limit for a pack, so it is shown apart).
//! - `pack (checked)`: [`pack_checked`] with the check's report already made (what pack
//!   does after its check): convert through `WavSink`, stage, zip.
//! - `pack (whole)`: [`pack`], the check included (it measures loudness and true peak on
//!   every file: the check benchmark's figures), a few runs.
//!
//! `cargo bench -p stemtap-delivery --bench pack` (`STEMTAP_BENCH_QUICK=1`: 30 MB, fewer
//! samples). The table also goes to `target/stemtap-bench/pack.md`.
//!
//! Measured (2-core VM, 2026-12-01): **0.64x** (per-sample 0.53-0.66x) in a quiet spell;
//! 0.35-0.40x while other builds held the load average near 4.7 (the pack converts on both
//! cores, the copy needs one, so a busy machine costs the pack more). About half of a
//! pack's time is storing the staged files in the zip: the engine's `WavSink` writes files,
//! so every byte is written twice; a sink that writes into any `Write` would remove that.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Instant;
use stemtap_delivery::check_take;
use stemtap_delivery::pack::{pack, pack_checked, PackOptions, PackProgress, Recipient};
use stemtap_delivery::Take;

mod common;

use common::{make_take, quick, target_dir, TRACKS};

const COPY_BYTES: usize = 1 << 20;

/// Read every file of `take` and write it into `to`, in 1 MiB blocks; returns the bytes.
fn raw_copy(take: &Take, to: &Path) -> u64 {
    std::fs::create_dir_all(to).unwrap();
    let mut buf = vec![0u8; COPY_BYTES];
    let mut bytes = 0;
    for (i, f) in take.manifest.files.iter().enumerate() {
        let mut src = std::fs::File::open(take.file_path(f).unwrap()).unwrap();
        let mut dst = std::fs::File::create(to.join(format!("{i}.wav"))).unwrap();
        loop {
            let n = src.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n]).unwrap();
            bytes += n as u64;
        }
    }
    bytes
}

fn fs_copy(take: &Take, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for (i, f) in take.manifest.files.iter().enumerate() {
        std::fs::copy(take.file_path(f).unwrap(), to.join(format!("{i}.wav"))).unwrap();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // Criterion's own flags (`--bench`) are accepted and ignored: this bench pairs its
    // runs itself.
    let seconds = if quick() { 10 } else { 34 };
    let samples = if quick() { 5 } else { 11 };
    let scratch = target_dir().join("bench-tmp");
    std::fs::create_dir_all(&scratch).unwrap();
    let dir = tempfile::Builder::new()
        .prefix("pack-")
        .tempdir_in(&scratch)
        .unwrap();
    let take_dir = dir.path().join("Bench Take");
    make_take(&take_dir, seconds);
    let take = Take::open(&take_dir).unwrap();
    let out = dir.path().join("out");
    let copy_to = dir.path().join("copy");
    let mut options = PackOptions::new(Recipient::Mastering);
    options.out_dir = Some(out.clone());
    let report = check_take(&take);
    let clean = || {
        let _ = std::fs::remove_dir_all(&out);
        let _ = std::fs::remove_dir_all(&copy_to);
    };
    let time = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        f();
        start.elapsed().as_secs_f64()
    };
    // Warm-up: the take in the page cache, the code paths hot.
    let bytes = raw_copy(&take, &copy_to);
    pack_checked(&take, report.clone(), &options, &|_| {}).unwrap();
    clean();
    let (mut raw, mut packed, mut ratios, mut cloned) = (vec![], vec![], vec![], vec![]);
    // Where a pack's time goes: converting (until the first zip progress), storing in the
    // zip (until the last), the rest (documents, rename, removing the staging folder).
    let (mut converting, mut zipping) = (vec![], vec![]);
    for _ in 0..samples {
        let r = time(&mut || {
            raw_copy(&take, &copy_to);
        });
        clean();
        let marks: Mutex<(Option<Instant>, Option<Instant>)> = Mutex::new((None, None));
        let start = Instant::now();
        let p = time(&mut || {
            let mark = |p: PackProgress| {
                if let PackProgress::Zipping { .. } = p {
                    let mut m = marks.lock().unwrap();
                    let now = Instant::now();
                    m.0.get_or_insert(now);
                    m.1 = Some(now);
                }
            };
            pack_checked(&take, report.clone(), &options, &mark).unwrap();
        });
        let (first, last) = *marks.lock().unwrap();
        converting.push((first.unwrap() - start).as_secs_f64());
        zipping.push((last.unwrap() - first.unwrap()).as_secs_f64());
        clean();
        let c = time(&mut || fs_copy(&take, &copy_to));
        clean();
        raw.push(r);
        packed.push(p);
        cloned.push(c);
        ratios.push(r / p);
    }
    let whole: Vec<f64> = (0..3)
        .map(|_| {
            let t = time(&mut || {
                pack(&take, &options, &|_| {}).unwrap();
            });
            clean();
            t
        })
        .collect();
    let mb = bytes as f64 / 1e6;
    let (raw, packed, cloned, whole) = (median(raw), median(packed), median(cloned), median(whole));
    let ratio = median(ratios.clone());
    let (converting, zipping) = (median(converting), median(zipping));
    let (lo, hi) = (
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max),
    );
    let text = format!(
        "| what ({mb:.0} MB take, {TRACKS} stereo float files, {samples} paired samples) | time | MB/s | vs raw copy |\n\
         |---|---:|---:|---:|\n\
         | raw copy (read + write_all, 1 MiB blocks) | {:.0} ms | {:.0} | 1.00x |\n\
         | pack to int24 for mastering, check done (convert, stage, zip) | {:.0} ms | {:.0} | **{ratio:.2}x** (per-sample {lo:.2}-{hi:.2}x) |\n\
         | of which: converting (read, WavSink to staging, 8 files on every core) | {:.0} ms | | |\n\
         | of which: storing in the zip (read back, CRC-32, write) | {:.0} ms | | |\n\
         | std::fs::copy (may clone extents in the kernel) | {:.0} ms | {:.0} | {:.2}x |\n\
         | pack, the check included (median of 3) | {:.0} ms | {:.0} | {:.2}x |\n",
        raw * 1e3,
        mb / raw,
        packed * 1e3,
        mb / packed,
        converting * 1e3,
        zipping * 1e3,
        cloned * 1e3,
        mb / cloned,
        raw / cloned,
        whole * 1e3,
        mb / whole,
        raw / whole,
    );
    println!("\n{text}");
    let dest = target_dir().join("stemtap-bench");
    let _ = std::fs::create_dir_all(&dest);
    let _ = std::fs::write(dest.join("pack.md"), &text);
}
