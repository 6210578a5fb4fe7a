//! Real-time scale, writer stalls, finishing a take, and memory: N simulated instances push
//! 512-frame stereo blocks at real-time pace while the session's writer records them.
//!
//! ```text
//! cargo bench -p stemtap-engine --bench realtime               # everything (about 12 minutes)
//! cargo bench -p stemtap-engine --bench realtime -- scale      # or: stall, finish, memory
//! STEMTAP_BENCH_SCALE=96000:256 cargo bench -p stemtap-engine --bench realtime -- scale  # one point
//! STEMTAP_BENCH_QUICK=1 cargo bench -p stemtap-engine --bench realtime   # about a minute
//! ```
//! One thread plays the host: every 512/rate seconds it calls `Capture::capture` for every
//! instance (a host's single audio thread), sleeping in between. The writer thread is the
//! session's own. Results go to stdout and `target/stemtap-bench/realtime-*.md`.
//!
//! Not a criterion benchmark: each figure is one timed run of many seconds, and the
//! question is a threshold (no dropped frames), not a mean.

mod common;

use parking_lot::RwLock;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stemtap_engine::manifest::{Manifest, MANIFEST_FILE};
use stemtap_engine::timeline::BlockStamp;
use stemtap_engine::{
    Capture, EngineConfig, SampleFormat, Session, SessionSettings, StreamHandle, StreamSettings,
    TransportInfo,
};

const BLOCK: usize = 512;
const CHANNELS: u16 = 2;

#[derive(Clone)]
struct Trial {
    instances: usize,
    rate: u32,
    seconds: f64,
    format: SampleFormat,
    /// Hold the session registry lock (which the writer takes every poll) for this long,
    /// this many seconds into the recording.
    stall: Option<(f64, Duration)>,
}

#[derive(Default, Debug)]
struct Outcome {
    dropped: u64,
    /// Largest ring fill seen, as a fraction of the ring, over all instances.
    max_fill: f64,
    /// Largest ring fill seen while or after the stall (seconds of audio).
    max_fill_seconds: f64,
    /// Ring fill when the recording phase ended (seconds of audio, largest instance).
    end_fill_seconds: f64,
    /// Writer thread CPU during recording, as a fraction of one core.
    writer_cpu: f64,
    /// The host thread: time in `capture` per cycle, as a fraction of the cycle.
    capture_load: f64,
    worst_cycle: Duration,
    /// Minor page faults taken by the host thread while recording (after the first cycle).
    audio_minor_faults: i64,
    /// Disarm to complete take.json.
    finish: Option<Duration>,
    take_frames: u64,
    take_files: usize,
    manifest_dropped: u64,
    /// Time for the rings to get back under 1 s of fill after the stall ended.
    recovered_after: Option<Duration>,
    peak_rss_mb: f64,
}

fn transport(pos: i64, rate: u32) -> TransportInfo {
    TransportInfo {
        playing: true,
        recording: false,
        pos_samples: Some(pos),
        tempo: Some(120.0),
        pos_beats: Some(pos as f64 / rate as f64 * 2.0),
        time_sig: Some((4, 4)),
    }
}

fn thread_minor_faults() -> i64 {
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut usage);
        usage.ru_minflt
    }
}

fn newest_manifest(root: &Path) -> Option<(PathBuf, Manifest)> {
    std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| {
            let dir = e.ok()?.path();
            let json = std::fs::read(dir.join(MANIFEST_FILE)).ok()?;
            Some((dir, serde_json::from_slice::<Manifest>(&json).ok()?))
        })
        .max_by_key(|(d, _)| d.clone())
}

/// Run one trial, print its table row and append it to `text`, then let the disk settle
/// before the next trial.
fn run_and_report(trial: &Trial, text: &mut String) -> Outcome {
    let o = run_trial(trial);
    let line = row(trial, &o);
    print!("{line}");
    *text += &line;
    common::sync_disk();
    o
}

fn run_trial(t: &Trial) -> Outcome {
    let dir = common::scratch_dir("realtime-");
    common::reset_peak_rss();
    let session = Arc::new(Session::new(EngineConfig::default()));
    session.set_settings(SessionSettings {
        output_root: Some(dir.path().to_path_buf()),
        format: t.format,
        ..Default::default()
    });
    let handles: Vec<StreamHandle> = (0..t.instances)
        .map(|i| {
            let settings = StreamSettings {
                name: Some(format!("Bus {i}")),
                ..Default::default()
            };
            session.register(Arc::new(RwLock::new(settings)))
        })
        .collect();
    let mut captures: Vec<Capture> = handles
        .iter()
        .map(|h| h.attach(t.rate, CHANNELS, BLOCK as u32))
        .collect();
    let inputs: Vec<[Vec<f32>; 2]> = (0..t.instances)
        .map(|i| {
            [
                common::noise(BLOCK, 2 * i as u64 + 1),
                common::noise(BLOCK, 2 * i as u64 + 2),
            ]
        })
        .collect();
    let ring_frames = handles[0]
        .stats()
        .ring_capacity_frames
        .load(Ordering::Relaxed) as f64;
    let writer_tid = common::threads_named("stemtap-writer")
        .first()
        .copied()
        .expect("the session's writer thread");

    let period = Duration::from_secs_f64(BLOCK as f64 / t.rate as f64);
    let cycles = (t.seconds * t.rate as f64 / BLOCK as f64) as u64;
    let stall_cycle = t
        .stall
        .map(|(at, _)| (at * t.rate as f64 / BLOCK as f64) as u64);
    let mut out = Outcome::default();
    let mut stall_thread = None;
    let mut stall_end: Option<Instant> = None;
    let mut busy = Duration::ZERO;
    let mut pos = 0i64;
    let fill_of = |handles: &[StreamHandle]| {
        handles
            .iter()
            .map(|h| h.stats().ring_fill_frames.load(Ordering::Relaxed))
            .max()
            .unwrap_or(0) as f64
    };

    session.set_armed(true);
    let writer_cpu0 = common::thread_cpu_seconds(writer_tid).unwrap_or(0.0);
    let t0 = Instant::now();
    let mut faults0 = 0;
    let mut k = 0u64;
    let mut stopped_at: Option<Instant> = None;
    let done = Arc::new(AtomicBool::new(false));
    let mut watcher = None;
    loop {
        let deadline = t0 + period * k as u32;
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        if Some(k) == stall_cycle {
            let (_, hold) = t.stall.expect("stall_cycle implies a stall");
            let s = session.clone();
            let id = handles[0].id();
            stall_thread = Some(std::thread::spawn(move || {
                // Holds the registry lock, which the writer takes at every poll.
                s.update_stream(id, |_| std::thread::sleep(hold));
                Instant::now()
            }));
        }
        let start = Instant::now();
        for (capture, input) in captures.iter_mut().zip(&inputs) {
            capture.capture(input, BLOCK, &transport(pos, t.rate), false);
        }
        let took = start.elapsed();
        if k == 0 {
            faults0 = thread_minor_faults();
        }
        pos += BLOCK as i64;
        k += 1;
        if stopped_at.is_none() {
            busy += took;
            out.worst_cycle = out.worst_cycle.max(took);
            let fill = fill_of(&handles);
            out.max_fill = out.max_fill.max(fill / ring_frames);
            if stall_thread.is_some() || stall_end.is_some() {
                out.max_fill_seconds = out.max_fill_seconds.max(fill / t.rate as f64);
            }
            if let Some(h) = stall_thread.take_if(|h| h.is_finished()) {
                stall_end = Some(h.join().unwrap());
            }
            if let (Some(end), None) = (stall_end, out.recovered_after) {
                if fill < t.rate as f64 {
                    out.recovered_after = Some(end.elapsed());
                }
            }
        }
        if k == cycles {
            // Stop: the host keeps processing, as it does when the user disarms.
            out.audio_minor_faults = thread_minor_faults() - faults0;
            out.end_fill_seconds = fill_of(&handles) / t.rate as f64;
            let wall = t0.elapsed().as_secs_f64();
            out.writer_cpu =
                (common::thread_cpu_seconds(writer_tid).unwrap_or(0.0) - writer_cpu0) / wall;
            out.capture_load = busy.as_secs_f64() / (cycles as f64 * period.as_secs_f64());
            let before = session.status().recent.len();
            let s = session.clone();
            let flag = done.clone();
            session.set_armed(false);
            let disarmed = Instant::now();
            stopped_at = Some(disarmed);
            watcher = Some(std::thread::spawn(move || {
                let limit = disarmed + Duration::from_secs(120);
                while s.status().recent.len() == before && Instant::now() < limit {
                    std::thread::sleep(Duration::from_micros(200));
                }
                let took = disarmed.elapsed();
                flag.store(true, Ordering::Release);
                took
            }));
        }
        if done.load(Ordering::Acquire) {
            break;
        }
    }
    out.finish = watcher.map(|w| w.join().unwrap());
    if out.finish.is_some_and(|f| f >= Duration::from_secs(120)) {
        out.finish = None;
    }
    out.dropped = handles
        .iter()
        .map(|h| h.stats().dropped_frames.load(Ordering::Relaxed))
        .sum();
    if let Some((_, m)) = newest_manifest(dir.path()) {
        out.take_frames = m.length_frames;
        out.take_files = m.files.len();
        out.manifest_dropped = m.files.iter().map(|f| f.dropped_frames).sum();
        assert!(m.complete, "take.json is final");
    }
    out.peak_rss_mb = common::proc_status_kb("VmHWM").unwrap_or(0) as f64 / 1024.0;
    drop(captures);
    drop(handles);
    drop(session);
    out
}

fn mb(bytes: f64) -> String {
    format!("{:.2} MB", bytes / 1e6)
}

/// Bytes the rings of one instance take: the frame ring and the stamp ring (mirrors
/// `StreamHandle::attach`; the capture interleaves straight into the ring, no scratch).
fn ring_bytes(rate: u32, channels: u16, max_block: usize) -> (f64, f64) {
    let frames = ((rate as f32 * EngineConfig::default().ring_seconds) as usize).max(4 * max_block);
    let frame_ring = (frames * channels as usize * 4) as f64;
    let stamp_ring = ((frames / 32 + 64) * std::mem::size_of::<BlockStamp>()) as f64;
    (frame_ring, stamp_ring)
}

fn memory(quick: bool) {
    let mut text = String::from(
        "### Ring memory per stereo instance (10 s rings, 512-frame blocks)\n\n\
         | rate | frame ring | stamp ring | total | RSS per instance after attach |\n\
         |---:|---:|---:|---:|---:|\n",
    );
    for rate in [48_000u32, 96_000] {
        let (frames, stamps) = ring_bytes(rate, 2, BLOCK);
        // Measured: RSS growth from attaching 32 instances (the frame ring is prefaulted).
        let n = 32;
        let session = Arc::new(Session::new(EngineConfig::default()));
        let before = common::proc_status_kb("VmRSS").unwrap_or(0);
        let handles: Vec<StreamHandle> = (0..n)
            .map(|_| session.register(Arc::new(RwLock::new(StreamSettings::default()))))
            .collect();
        let captures: Vec<Capture> = handles.iter().map(|h| h.attach(rate, 2, 512)).collect();
        let after = common::proc_status_kb("VmRSS").unwrap_or(0);
        drop(captures);
        drop(handles);
        drop(session);
        text += &format!(
            "| {} kHz | {} | {} | **{}** | {} |\n",
            rate / 1000,
            mb(frames),
            mb(stamps),
            mb(frames + stamps),
            mb((after.saturating_sub(before)) as f64 * 1024.0 / n as f64),
        );
    }
    text += &format!(
        "\n`BlockStamp` is {} bytes; the stamp ring has one slot per 32 frames of ring.\n",
        std::mem::size_of::<BlockStamp>()
    );

    text += "\n### Peak RSS (VmHWM) recording 256 stereo instances, float32\n\n\
             | rate | seconds | peak RSS | rings alone (computed) |\n|---:|---:|---:|---:|\n";
    for rate in [48_000u32, 96_000] {
        let seconds = if quick { 3.0 } else { 10.0 };
        let o = run_trial(&Trial {
            instances: 256,
            rate,
            seconds,
            format: SampleFormat::Float32,
            stall: None,
        });
        let (f, s) = ring_bytes(rate, 2, BLOCK);
        text += &format!(
            "| {} kHz | {seconds} | **{:.0} MB** | {} |\n",
            rate / 1000,
            o.peak_rss_mb,
            mb(256.0 * (f + s))
        );
    }
    common::report("realtime-memory", &text);
}

fn header() -> String {
    "| rate | instances | seconds | dropped | max ring fill | fill at stop | writer CPU | \
     capture load | worst cycle | audio-thread faults | stop to take.json | take frames | peak RSS |\n\
     |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        .into()
}

fn row(t: &Trial, o: &Outcome) -> String {
    format!(
        "| {} kHz | {} | {} | {} | {:.1}% | {:.2} s | {:.0}% | {:.1}% | {:.2} ms | {} | {} | {} | {:.0} MB |\n",
        t.rate / 1000,
        t.instances,
        t.seconds,
        o.dropped,
        o.max_fill * 100.0,
        o.end_fill_seconds,
        o.writer_cpu * 100.0,
        o.capture_load * 100.0,
        o.worst_cycle.as_secs_f64() * 1e3,
        o.audio_minor_faults,
        o.finish
            .map_or("timeout".into(), |f| format!("{:.0} ms", f.as_secs_f64() * 1e3)),
        o.take_frames,
        o.peak_rss_mb,
    )
}

/// Keeping up: nothing dropped and the rings did not fill past half (a writer slower than
/// real time fills them steadily; a short run must not hide that behind a 10 s ring).
fn keeps_up(o: &Outcome) -> bool {
    o.dropped == 0 && o.manifest_dropped == 0 && o.max_fill < 0.5 && o.finish.is_some()
}

fn available_memory_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        * 1024.0
}

fn scale(quick: bool) {
    // Full runs last the 60 s the issue asks for: long enough that the page cache cannot
    // hide the disk (256 tracks at 96 kHz write 12 GB in a run).
    let seconds = if quick { 4.0 } else { 60.0 };
    let ladder: &[usize] = &[64, 256, 512];
    // `STEMTAP_BENCH_SCALE=96000:256` runs that one point (e.g. under `perf record`).
    let only: Option<(u32, usize)> = std::env::var("STEMTAP_BENCH_SCALE").ok().and_then(|v| {
        let (rate, n) = v.split_once(':')?;
        Some((rate.parse().ok()?, n.parse().ok()?))
    });
    let mut text = format!(
        "### Scale: 512-frame stereo blocks at real-time pace, float32, {seconds} s per run\n\n"
    );
    text += &header();
    let mut best = Vec::new();
    for rate in [48_000u32, 96_000] {
        let mut largest = None;
        for &n in ladder {
            if only.is_some_and(|o| o != (rate, n)) {
                continue;
            }
            let (f, s) = ring_bytes(rate, 2, BLOCK);
            if n as f64 * (f + s) > 0.5 * available_memory_bytes() {
                text += &format!(
                    "| {} kHz | {n} | - | skipped: rings would need {} |\n",
                    rate / 1000,
                    mb(n as f64 * (f + s))
                );
                break;
            }
            let trial = Trial {
                instances: n,
                rate,
                seconds,
                format: SampleFormat::Float32,
                stall: None,
            };
            let o = run_and_report(&trial, &mut text);
            if keeps_up(&o) {
                largest = Some(n);
            } else {
                break;
            }
        }
        best.push((rate, largest));
    }
    text += "\nLargest instance count tried that kept up (no drops, rings below half full):\n";
    for (rate, n) in best {
        text += &format!(
            "- {} kHz: {}\n",
            rate / 1000,
            n.map_or("none".into(), |n| n.to_string())
        );
    }
    common::report("realtime-scale", &text);
}

fn stall(quick: bool) {
    let mut text = String::from(
        "### Writer stalled for 2 s (registry lock held), 256 stereo instances, float32\n\n\
         | rate | dropped | ring fill at worst | ring | headroom | back under 1 s of fill after | writer CPU |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for rate in [48_000u32, 96_000] {
        let trial = Trial {
            instances: 256,
            rate,
            seconds: if quick { 6.0 } else { 10.0 },
            format: SampleFormat::Float32,
            stall: Some((2.0, Duration::from_secs(2))),
        };
        let o = run_trial(&trial);
        let ring_seconds = EngineConfig::default().ring_seconds as f64;
        let line = format!(
            "| {} kHz | {} | {:.2} s | {ring_seconds:.0} s | {:.1} s | {} | {:.0}% |\n",
            rate / 1000,
            o.dropped,
            o.max_fill_seconds,
            ring_seconds - o.max_fill_seconds,
            o.recovered_after
                .map_or("-".into(), |d| format!("{:.2} s", d.as_secs_f64())),
            o.writer_cpu * 100.0,
        );
        print!("{line}");
        text += &line;
        common::sync_disk();
    }
    common::report("realtime-stall", &text);
}

fn finish(quick: bool) {
    let lengths: &[f64] = if quick { &[3.0, 10.0] } else { &[10.0, 60.0] };
    let mut text =
        String::from("### Stop to complete take.json, 256 stereo instances, 48 kHz float32\n\n");
    text += &header();
    for &seconds in lengths {
        let trial = Trial {
            instances: 256,
            rate: 48_000,
            seconds,
            format: SampleFormat::Float32,
            stall: None,
        };
        run_and_report(&trial, &mut text);
    }
    common::report("realtime-finish", &text);
}

fn main() {
    let quick = common::quick();
    // `cargo bench` passes `--bench`; anything else not starting with `-` picks a part.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |p: &str| parts.is_empty() || parts.iter().any(|a| a == p);
    println!(
        "realtime benchmark ({}), scratch folder {}",
        if quick { "quick" } else { "full" },
        common::scratch_root().display()
    );
    if wants("memory") {
        memory(quick);
    }
    if wants("scale") {
        scale(quick);
    }
    if wants("stall") {
        stall(quick);
    }
    if wants("finish") {
        finish(quick);
    }
}
