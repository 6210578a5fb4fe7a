//! Scenario 21: a host recording 8 tracks through the real built plugin is killed
//! (`SIGKILL`) at seeded random moments: right at the take's start, around its first
//! header checkpoint, anywhere in the middle, and while the take is being finished. After
//! each kill, every file of the take must be readable by hound and hold exactly what the
//! host fed, as far as its header says; after `repair` (the library `stemtap repair`
//! uses) the take must be complete, every file the same length, bit-exact against the
//! input up to that length, and the lock file must be gone or stale (never live).
//!
//! Reproduce a run with `STEMTAP_KILL_SEED=<seed printed below>`.

use anyhow::{ensure, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stemtap_delivery::repair::{self, Action, RepairError};
use stemtap_delivery::TakeError;
use stemtap_e2e::kill::{kill_specs, KillHost, ARMED};
use stemtap_e2e::{signal, RATE};
use stemtap_engine::take_lock::{lock_state, LockState};

/// Kill trials per run.
const TRIALS: usize = 24;
/// The child runs this much faster than real time, so that a second of wall clock (one
/// header checkpoint) is a few seconds of audio.
const SPEED: f64 = 3.0;
/// Cycles recorded before the disarm: about 1.3 s of wall clock at [`SPEED`], past the
/// first checkpoint (1 s after the files are created).
const RECORD_CYCLES: usize = 370;
/// Cycles recorded in the "while finishing" trials, which kill around the disarm.
const SHORT_RECORD_CYCLES: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    /// 0..15 ms after the take folder appears.
    Start,
    /// Within +-40 ms of the first header checkpoint (1 s after the files are created).
    Checkpoint,
    /// Anywhere in the recording.
    Middle,
    /// From 4 cycles before the disarm to 12 ms after it: before, during or after the take
    /// is finished.
    Finishing,
}

/// Per trial: the take's figures, for the report.
struct Loss {
    /// The take was incomplete and repaired (not finished before the kill).
    repaired: bool,
    fed: u64,
    in_headers: u64,
    recovered: u64,
}

#[test]
fn killed_hosts_leave_readable_takes_that_repair_makes_whole() -> Result<()> {
    let began = Instant::now();
    let seed: u64 = std::env::var("STEMTAP_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..1_000_000));
    eprintln!("s21_kill: seed {seed} (STEMTAP_KILL_SEED={seed} reproduces the kill moments)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let plugin = stemtap_host::built_plugin()?;
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_stemtap-e2e-host"));
    // (trial, when, loss, repaired) of every trial that opened a take.
    let mut losses = Vec::new();
    let mut unequal_headers = 0;
    for trial in 0..TRIALS {
        let when = [When::Start, When::Checkpoint, When::Middle, When::Finishing][trial % 4];
        let root = tempfile::Builder::new().prefix("stemtap-s21-").tempdir()?;
        let (loss, unequal) = one_trial(&exe, &plugin, root.path(), when, &mut rng)
            .with_context(|| format!("trial {trial} ({when:?}), seed {seed}"))?;
        unequal_headers += usize::from(unequal);
        if let Some(l) = loss {
            losses.push((trial, when, l));
        }
        if std::env::var_os("STEMTAP_KEEP_TAKES").is_some() {
            eprintln!("keeping {}", root.keep().display());
        }
    }
    let s = |f: u64| f as f64 / RATE as f64;
    let line = |what: &str, (trial, when, l): &(usize, When, Loss)| {
        eprintln!(
            "s21_kill: {what} (trial {trial}, {when:?}): fed {:.3} s; lost before repair {:.3} s (headers count {:.3} s), after repair {:.3} s",
            s(l.fed),
            s(l.fed - l.in_headers.min(l.fed)),
            s(l.in_headers),
            s(l.fed - l.recovered.min(l.fed)),
        );
    };
    if let Some(last) = losses.last() {
        line("last trial", last);
    }
    if let Some(last) = losses.iter().rev().find(|(_, _, l)| l.repaired) {
        line("last repaired trial", last);
    }
    let worst = |f: fn(&Loss) -> u64| losses.iter().map(|(_, _, l)| l.fed - f(l).min(l.fed)).max();
    for when in [When::Start, When::Checkpoint, When::Middle, When::Finishing] {
        let of = |r: bool| {
            losses
                .iter()
                .filter(|(_, w, l)| *w == when && l.repaired == r)
                .count()
        };
        eprintln!(
            "s21_kill: {when:?}: {} take(s) repaired, {} already complete when killed",
            of(true),
            of(false)
        );
    }
    eprintln!(
        "s21_kill: worst loss over {} takes: before repair {:.3} s, after {:.3} s",
        losses.len(),
        s(worst(|l| l.in_headers).unwrap_or(0)),
        s(worst(|l| l.recovered).unwrap_or(0)),
    );
    eprintln!(
        "s21_kill: {TRIALS} trials in {:.1} s; {unequal_headers} left headers of unequal lengths before repair (killed between two files' checkpoints)",
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One kill; returns the loss figures of the take (if one was opened) and whether its
/// headers counted unequal lengths before the repair.
fn one_trial(
    exe: &Path,
    plugin: &Path,
    root: &Path,
    when: When,
    rng: &mut fastrand::Rng,
) -> Result<(Option<Loss>, bool)> {
    let cycles = if when == When::Finishing {
        SHORT_RECORD_CYCLES
    } else {
        RECORD_CYCLES
    };
    let mut host = KillHost::spawn(exe, plugin, root, cycles, SPEED)?;
    host.wait_for(ARMED, Duration::from_secs(60))?;
    let host = if when == When::Finishing {
        // The take ends within a writer poll of the disarm: kill from a few cycles before
        // the disarm to a few milliseconds after it.
        let start = host.armed.context("no ARMED line")?;
        let before = rng.u64(0..4) as i64;
        let kill_at = start + (cycles as i64 - before) * i64::from(stemtap_e2e::BLOCK);
        let deadline = Instant::now() + Duration::from_secs(30);
        while host.fed_end.is_none_or(|f| f < kill_at) && host.disarmed.is_none() {
            ensure!(Instant::now() < deadline, "the host stopped feeding");
            host.poll();
            std::thread::sleep(Duration::from_micros(200));
        }
        std::thread::sleep(Duration::from_micros(rng.u64(0..12_000)));
        host.kill()?
    } else {
        let opened = wait_for_take_folder(root, Duration::from_secs(20))?;
        let delay = match when {
            When::Start => rng.u64(0..15),
            When::Checkpoint => 1_000 + rng.u64(0..80) - 40,
            _ => rng.u64(0..1_200),
        };
        let at = opened + Duration::from_millis(delay);
        let mut host = host;
        // While it records, the take is live: repair refuses it and changes nothing.
        if let Some(dir) = take_folders(root)?.first() {
            match repair::plan_repair(dir) {
                Err(RepairError::Live { .. }) => {}
                // The folder is made a moment before its lock, and take.json after it: a
                // folder seen in between has no take.json, so nothing can be repaired.
                Err(RepairError::Take(TakeError::NoManifest(_))) => {}
                other => anyhow::bail!("a live take was not refused: {other:?}"),
            }
        }
        while Instant::now() < at {
            host.poll();
            std::thread::sleep(Duration::from_millis(1));
        }
        host.kill()?
    };
    let start = host.armed.context("no ARMED line")?;
    let fed_end = host.fed_end.context("no FED line")?;
    let take_end = host.disarmed.map_or(fed_end, |d| d.min(fed_end));
    let fed = (take_end - start).max(0) as u64;
    let mut loss = None;
    let mut unequal = false;
    for dir in take_folders(root)? {
        let name = dir.display().to_string();
        ensure!(
            !lock_state(&dir).may_be_live(),
            "{name}: still locked after the host died"
        );
        if !dir.join("take.json").is_file() {
            // Killed between creating the folder and writing take.json: only headers.
            // A file may even be cut inside its header (killed between creating it and
            // writing its header): no audio in either case.
            for f in wav_files(&dir)? {
                match repair::wav::scan(&dir.join(&f)) {
                    Ok(scan) => {
                        ensure!(scan.found_frames == 0, "{name}/{f}: audio but no take.json")
                    }
                    Err(repair::wav::WavProblem::NoHeader { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            eprintln!("s21_kill: {name}: killed before take.json was written; no audio in it");
            continue;
        }
        // Before repair: every file readable, and what it counts is what was fed.
        let m = manifest(&dir)?;
        let take_start = m["start_sample"].as_i64().context("start_sample")?;
        ensure!(
            take_start == start,
            "{name}: starts at {take_start}, armed at {start}"
        );
        let mut headers = Vec::new();
        for (path, track) in files(&m)? {
            headers.push(check_file(&dir.join(&path), track, take_start, None)?);
        }
        unequal |= headers.windows(2).any(|w| w[0] != w[1]);
        let in_headers = headers.iter().copied().min().unwrap_or(0);
        let was_complete = m["complete"] == true;
        let report = repair::repair_take(&dir).with_context(|| format!("repairing {name}"))?;
        let m = manifest(&dir)?;
        ensure!(m["complete"] == true, "{name}: not complete after repair");
        let length = m["length_frames"].as_u64().context("length_frames")?;
        if was_complete {
            ensure!(
                report.action == Action::AlreadyComplete,
                "{name}: {report:?}"
            );
            ensure!(
                m["recovered"].is_null(),
                "{name}: a complete take was touched"
            );
        } else {
            ensure!(report.action == Action::Repaired, "{name}: {report:?}");
            ensure!(m["recovered"] == true, "{name}: recovered flag");
            ensure!(
                length >= in_headers,
                "{name}: repair lost audio the headers counted"
            );
        }
        for (path, track) in files(&m)? {
            check_file(&dir.join(&path), track, take_start, Some(length))?;
        }
        ensure!(
            repair::repair_take(&dir)?.action == Action::AlreadyComplete,
            "{name}: a second repair found work"
        );
        ensure!(
            lock_state(&dir) == LockState::Absent,
            "{name}: the lock file is left after the take is complete"
        );
        loss = Some(Loss {
            repaired: !was_complete,
            fed,
            in_headers,
            recovered: length,
        });
    }
    Ok((loss, unequal))
}

/// Read a file with hound and check every frame against the input fed at `take_start + k`;
/// with `want`, also its length. Returns its length.
fn check_file(path: &Path, track: usize, take_start: i64, want: Option<u64>) -> Result<u64> {
    let name = path.display();
    let r = hound::WavReader::open(path).with_context(|| format!("hound cannot open {name}"))?;
    let frames = u64::from(r.duration());
    if let Some(want) = want {
        ensure!(frames == want, "{name}: {frames} frames, the take {want}");
    }
    let ch = r.spec().channels as usize;
    for (i, x) in r.into_samples::<f32>().enumerate() {
        let x = x.with_context(|| format!("{name}: sample {i}"))?;
        let (k, c) = (i / ch, i % ch);
        let want = signal(track, c, take_start + k as i64);
        ensure!(
            x.to_bits() == want.to_bits(),
            "{name}: frame {k} ch {c} is {x}, fed {want}"
        );
    }
    Ok(frames)
}

/// take.json's files as (path, track index by stem name).
fn files(m: &Value) -> Result<Vec<(String, usize)>> {
    let specs = kill_specs();
    m["files"]
        .as_array()
        .context("files")?
        .iter()
        .map(|f| {
            let name = f["stem_name"].as_str().context("stem_name")?;
            let track = specs
                .iter()
                .position(|s| s.name == name)
                .with_context(|| format!("unknown stem {name}"))?;
            Ok((f["path"].as_str().context("path")?.to_owned(), track))
        })
        .collect()
}

fn manifest(dir: &Path) -> Result<Value> {
    Ok(serde_json::from_slice(&std::fs::read(
        dir.join("take.json"),
    )?)?)
}

fn take_folders(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

fn wav_files(dir: &Path) -> Result<Vec<String>> {
    stemtap_e2e::wav_files(dir)
}

/// Wait until the first take folder exists; returns when it appeared.
fn wait_for_take_folder(root: &Path, timeout: Duration) -> Result<Instant> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if !take_folders(root)?.is_empty() {
            return Ok(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    anyhow::bail!("no take folder in {} after {timeout:?}", root.display())
}
