//! Scenario 15: a seeded random host. Four instances are driven for a few thousand cycles
//! with random block sizes, random record toggles on random instances, random transport
//! play / stop / locate / loop changes (with and without host recording), random trigger
//! mode switches, suspended instances, and now and then the whole rack stopped and
//! restarted (deactivate / activate). Whatever the sequence, what is left on disk must obey
//! the take model's invariants:
//! - no folder without audio: every folder under the root has a take.json and a WAV file,
//!   and every take is at least 0.1 s long;
//! - every file of every take has exactly `length_frames` frames (hound and bwavfile) and a
//!   cue point at every segment boundary the take.json lists;
//! - nothing is written outside the output root;
//! - no more folders than 0.1 s pieces of processed audio, and no more frames in all takes
//!   together than the host processed: every file frame holds a processed position (a
//!   jump is a segment, never silence standing in for the skipped-over song).
//!
//! The second test runs another sequence with 0.1 s rings, where the writer opens a take
//! before it knows it will be long enough and must remove it again if it stays short.
//! Both share the process-wide session, so they take turns (`SERIAL`).
//!
//! `STEMTAP_E2E_SEED=<n>` replays one sequence (in both tests).

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use stemtap_e2e::*;
use stemtap_host::take::{list_dirs, wait_for_takes, Take};
use stemtap_host::Transport;

static SERIAL: Mutex<()> = Mutex::new(());

const TRACKS: usize = 4;
const MIN_TAKE_FRAMES: u64 = RATE as u64 / 10;

fn listing(dir: &Path) -> Result<BTreeSet<String>> {
    std::fs::read_dir(dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect()
}

/// What the random host did, for the report.
#[derive(Debug, Default)]
struct Counts {
    frames: u64,
    record_toggles: usize,
    transport_changes: usize,
    trigger_changes: usize,
    restarts: usize,
    skips: usize,
}

fn random_transport(rng: &mut fastrand::Rng, now: &Transport) -> Transport {
    let recording = rng.u8(0..4) != 0;
    match rng.u8(0..5) {
        // Stop where it is.
        0 => Transport::stopped_at(now.pos_samples),
        // Play on from here (or start playing).
        1 => Transport {
            recording,
            ..Transport::playing_at(now.pos_samples)
        },
        // Locate (forward or back) and play.
        2 | 3 => Transport {
            recording,
            ..Transport::playing_at(rng.i64(0..2_000_000))
        },
        // Loop: play inside a random range; often short enough to wrap several times.
        _ => {
            let start = rng.i64(0..1_000_000);
            let len = rng.i64(700..40_000);
            Transport {
                recording,
                loop_range: Some((start, start + len)),
                ..Transport::playing_at(start + rng.i64(0..len))
            }
        }
    }
}

#[test]
fn random_host_leaves_only_well_formed_takes() -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    std::env::remove_var("STEMTAP_RING_SECONDS");
    random_host(0x5EED_0015, 3_000)
}

/// With rings shorter than the shortest take kept, a take's folder is created before the
/// writer knows whether it will stay short; a short one must then be removed entirely.
#[test]
fn random_host_with_small_rings_leaves_only_well_formed_takes() -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Read when the session is created: the previous test's session is gone by now.
    std::env::set_var("STEMTAP_RING_SECONDS", "0.1");
    let result = random_host(0x5EED_0016, 2_000);
    std::env::remove_var("STEMTAP_RING_SECONDS");
    result
}

fn random_host(default_seed: u64, cycles: usize) -> Result<()> {
    let seed: u64 = std::env::var("STEMTAP_E2E_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_seed);
    eprintln!("s15 seed {seed} (STEMTAP_E2E_SEED replays it)");
    let mut rng = fastrand::Rng::with_seed(seed);

    let tmp = tempfile::Builder::new()
        .prefix("stemtap-random-")
        .tempdir()?;
    let parent = tmp.path().to_path_buf();
    // STEMTAP_KEEP_TAKES: leave the takes behind for a look, pass or fail.
    let _cleanup = if std::env::var_os("STEMTAP_KEEP_TAKES").is_some() {
        eprintln!("keeping takes in {}", parent.display());
        let _ = tmp.keep();
        None
    } else {
        Some(tmp)
    };
    let root = parent.join("takes");
    std::fs::create_dir(&root)?;
    let before = listing(&parent)?;

    let specs = (0..TRACKS)
        .map(|i| TrackSpec::new(&format!("T{i}"), if i == 0 { "mix" } else { "stem" }))
        .collect();
    let mut h = Harness::new_in(specs, &root)?;
    h.start()?;
    let mut counts = Counts::default();
    let triggers = ["manual", "follow_transport", "follow_host_record"];

    // What the host did, cycle by cycle (printed with STEMTAP_E2E_LOG set).
    let mut log = Vec::new();
    for cycle in 0..cycles {
        if rng.u8(0..100) < 2 {
            let t = random_transport(&mut rng, &h.transport);
            log.push(format!("{cycle}: transport {t:?}"));
            h.transport = t;
            counts.transport_changes += 1;
        }
        if rng.u16(0..1000) < 3 {
            let trigger = triggers[rng.usize(0..3)];
            log.push(format!("{cycle}: trigger {trigger}"));
            h.set_session(&[("trigger", json!(trigger))])?;
            counts.trigger_changes += 1;
        }
        if rng.u16(0..1000) < 3 {
            log.push(format!("{cycle}: rack restart"));
            h.rack.stop()?;
            h.rack.start()?;
            counts.restarts += 1;
        }
        let record = (rng.u8(0..100) < 3).then(|| (rng.usize(0..TRACKS), rng.bool()));
        counts.record_toggles += usize::from(record.is_some());
        let frames = if rng.bool() {
            BLOCK
        } else {
            rng.u32(1..=BLOCK)
        };
        // Now and then one instance is not processed (never the one getting a toggle).
        let skip = (rng.u8(0..100) < 2)
            .then(|| rng.usize(0..TRACKS))
            .filter(|&s| record.map(|r| r.0) != Some(s));
        counts.skips += usize::from(skip.is_some());
        if record.is_some() || skip.is_some() {
            log.push(format!(
                "{cycle}: at {} record {record:?} skip {skip:?}",
                h.input_pos()
            ));
        }
        h.step_frames(frames, record, |i| {
            if Some(i) == skip {
                Plan::Skip
            } else {
                Plan::Normal
            }
        })?;
        counts.frames += u64::from(frames);
    }
    // Disarm (from every instance), stop, and let the writer finish everything.
    for i in 0..TRACKS {
        h.step(Some((i, false)), |_| Plan::Normal)?;
        counts.frames += u64::from(BLOCK);
    }
    h.transport = Transport::stopped_at(h.transport.pos_samples);
    let settle = (RATE / BLOCK) as usize;
    h.run(settle)?;
    counts.frames += (settle as u64) * u64::from(BLOCK);
    wait_for_takes(&root, 0, Duration::from_secs(20), || h.run(4))?;
    h.stop()?;
    drop(h); // the session ends: whatever the writer had is final now
    eprintln!("{counts:?}");
    if std::env::var_os("STEMTAP_E2E_LOG").is_some() {
        eprintln!("{}", log.join("\n"));
    }

    let dirs = list_dirs(&root)?;
    let max_folders = counts.frames / MIN_TAKE_FRAMES;
    ensure!(
        dirs.len() as u64 <= max_folders,
        "{} take folders from {} frames of audio: more than one per 0.1 s",
        dirs.len(),
        counts.frames
    );
    let mut segments_seen = 0;
    let mut total_frames = 0;
    let mut summary = Vec::new();
    for dir in &dirs {
        let take = Take::read(dir).with_context(|| format!("folder without take.json: {dir:?}"))?;
        check_random_take(&take)?;
        segments_seen += take.manifest["segments"].as_array().map_or(0, Vec::len);
        let length = take.length_frames().unwrap_or(0);
        total_frames += length;
        let files = take.files();
        let gaps = take.manifest["files"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|f| f["silent_gap_frames"].as_u64())
                    .max()
            })
            .unwrap_or_default()
            .unwrap_or(0);
        summary.push(format!(
            "{}: {length} frames, {} segments, max dropped {}, max silent gap {gaps}, ended_by {}",
            take.folder_name(),
            take.manifest["segments"].as_array().map_or(0, Vec::len),
            files.iter().map(|f| f.dropped_frames).max().unwrap_or(0),
            take.manifest["ended_by"]
        ));
    }
    ensure!(
        total_frames <= counts.frames,
        "the takes hold {total_frames} frames in all, but the host processed only {} frames:\n{}",
        counts.frames,
        summary.join("\n")
    );
    eprintln!(
        "{} takes, {segments_seen} segments; ended_by {:?}",
        dirs.len(),
        dirs.iter()
            .map(|d| Take::read(d).map(|t| t.manifest["ended_by"].to_string()))
            .collect::<Result<Vec<_>>>()?
    );
    // The sequence must have exercised something: takes, some with several segments.
    ensure!(!dirs.is_empty(), "the random host recorded nothing");
    ensure!(
        segments_seen > dirs.len(),
        "no take with more than one segment: the sequence did not exercise segments"
    );
    let after = listing(&parent)?;
    ensure!(
        after == before,
        "files appeared outside the output root: before {before:?}, after {after:?}"
    );
    Ok(())
}

/// The invariants of one take folder left by the random host.
fn check_random_take(take: &Take) -> Result<()> {
    let name = take.folder_name();
    let m = &take.manifest;
    ensure!(
        take.complete(),
        "{name}: not complete after the session ended: {m}"
    );
    let length = take.length_frames().context("length_frames")?;
    ensure!(
        length >= MIN_TAKE_FRAMES,
        "{name}: {length} frames, shorter than 0.1 s: such a take must leave no folder"
    );
    ensure!(
        m["ended_by"].is_string(),
        "{name}: complete without ended_by: {m}"
    );
    let segs = manifest_segments(take)?;
    ensure!(
        segs.first().map(|s| s.0) == Some(0),
        "{name}: first segment not at frame 0: {segs:?}"
    );
    ensure!(
        segs.windows(2).all(|w| w[0].0 < w[1].0) && segs.last().unwrap().0 < length,
        "{name}: segment frames not increasing inside the take of {length}: {segs:?}"
    );
    let cues: Vec<u64> = segs[1..].iter().map(|s| s.0).collect();
    let files = take.files();
    ensure!(!files.is_empty(), "{name}: no files in take.json");
    let on_disk = wav_files(&take.dir)?;
    ensure!(
        on_disk.len() == files.len(),
        "{name}: {} WAV files on disk, {} in take.json: {on_disk:?}",
        on_disk.len(),
        files.len()
    );
    for f in &files {
        ensure!(on_disk.contains(&f.path), "{name}: {} not on disk", f.path);
        let wav = take.read_wav(&f.path)?;
        ensure!(
            wav.frames() as u64 == length,
            "{name}: {} has {} frames, take.json says {length}",
            f.path,
            wav.frames()
        );
        let path = take.dir.join(&f.path);
        ensure!(
            bwav_frames(&path)? == length,
            "{name}: {}: bwavfile length differs",
            f.path
        );
        let got = cue_frames(&path)?;
        ensure!(
            got == cues,
            "{name}: {} has cue points {got:?}, segments say {cues:?}",
            f.path
        );
    }
    Ok(())
}
