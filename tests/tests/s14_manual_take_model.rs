//! Scenario 14: the take model. In Manual mode one arm -> disarm is ONE take, whatever the
//! transport does meanwhile: each start, stop and locate becomes a segment of it (free clock
//! while stopped, host clock while playing), every file carries a cue point at every segment
//! boundary, and the files hold exactly what was fed, segment by segment. In Follow
//! transport a loop inside a play pass is segments of that pass's take, which the stop ends.
//!
//! Both tests share the process-wide session, so they take turns (`SERIAL`).

use anyhow::{ensure, Result};
use serde_json::json;
use std::sync::Mutex;
use stemtap_e2e::*;
use stemtap_host::take::list_dirs;
use stemtap_host::Transport;

static SERIAL: Mutex<()> = Mutex::new(());

fn specs() -> Vec<TrackSpec> {
    vec![
        TrackSpec::new("Kick", "multitrack"),
        TrackSpec::new("Keys", "stem"),
        TrackSpec::new("Master", "mix"),
    ]
}

/// Manual mode, transport stopped: arm; run; play from 0; run; stop; run; play from 96_000;
/// run; stop; run; disarm. One take of five segments (free, host, free, host, free).
#[test]
fn manual_mode_makes_one_take_per_arm_with_a_segment_per_transport_change() -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::new(specs())?;
    h.start()?;
    h.transport = Transport::stopped_at(0);
    h.run(3)?;

    // (cycles, transport for them): the arm cycle is the first of the first stretch.
    const STRETCHES: [(usize, Option<i64>); 5] = [
        (20, None),
        (30, Some(0)),
        (25, None),
        (20, Some(96_000)),
        (15, None),
    ];
    let mut segments = Vec::new();
    let mut frame = 0u64;
    for (n, (cycles, play)) in STRETCHES.into_iter().enumerate() {
        h.transport = match play {
            Some(pos) => Transport::playing_at(pos),
            // Stopped where it was: the song position does not move while stopped.
            None => Transport::stopped_at(h.transport.pos_samples),
        };
        let record = (n == 0).then_some((1, true));
        let first = h.step(record, |_| Plan::Normal)?;
        h.run(cycles - 1)?;
        segments.push(match play {
            Some(pos) => {
                ensure!(
                    first == pos,
                    "the rig fed {first}, not the song position {pos}"
                );
                ExpectSegment::host(frame, pos)
            }
            None => ExpectSegment::free(frame, first),
        });
        frame += (cycles as u64) * u64::from(BLOCK);
    }
    h.step(Some((1, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    let warnings = h.stop()?;

    let dirs = list_dirs(h.root())?;
    ensure!(dirs.len() == 1, "expected one take folder, found {dirs:?}");
    let take = &takes[0];
    let expect = Expect::segments(segments.clone(), frame).ended_by("disarmed");
    check_take(take, &h.specs, &expect)?;
    // The free-clock segments are StemTap's own clock: it runs on across the played stretch
    // without going backwards, so the later free segments start after the earlier ones end.
    let segs = manifest_segments(take)?;
    let free: Vec<(u64, i64)> = segs
        .iter()
        .filter(|s| s.1 == "free")
        .map(|s| (s.0, s.2))
        .collect();
    for w in free.windows(2) {
        let len = segments
            .iter()
            .find(|s| s.frame > w[0].0)
            .map_or(frame, |s| s.frame)
            - w[0].0;
        ensure!(
            w[1].1 >= w[0].1 + len as i64,
            "free clock went backwards: segments {segs:?}"
        );
    }
    // Independently of check_take: every file has cue points at the four boundaries.
    let want: Vec<u64> = segments[1..].iter().map(|s| s.frame).collect();
    for f in take.files() {
        assert_eq!(
            cue_frames(&take.dir.join(&f.path))?,
            want,
            "{}: cue points",
            f.path
        );
    }
    ensure!(warnings.is_empty(), "plugin warnings: {warnings:?}");
    Ok(())
}

const LOOP_START: i64 = 48_000;
const LOOP_END: i64 = 48_000 + 25_000;
const PASS: u64 = (LOOP_END - LOOP_START) as u64;

/// Follow transport, armed while stopped: a play pass that loops twice and is stopped in its
/// third pass is one take of three segments, which the stop ended ("transport"); nothing of
/// the stopped stretches around it is recorded.
#[test]
fn follow_transport_loop_inside_a_pass_is_segments_of_one_take() -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut h = Harness::new(specs())?;
    h.set_session(&[("trigger", json!("follow_transport"))])?;
    h.start()?;
    h.transport = Transport::stopped_at(LOOP_START);
    h.run(2)?;
    h.step(Some((0, true)), |_| Plan::Normal)?; // armed while stopped
    h.run(10)?;
    h.transport = Transport {
        loop_range: Some((LOOP_START, LOOP_END)),
        ..Transport::playing_at(LOOP_START)
    };
    let cycles = (PASS as f64 * 2.0 / f64::from(BLOCK)).ceil() as usize + 15;
    h.run(cycles)?;
    let stop_at = h.input_pos();
    ensure!(
        stop_at > LOOP_START && stop_at < LOOP_END,
        "stop in the third pass"
    );
    h.transport = Transport::stopped_at(stop_at);
    h.run(12)?;
    h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    let warnings = h.stop()?;
    let dirs = list_dirs(h.root())?;
    ensure!(dirs.len() == 1, "expected one take folder, found {dirs:?}");
    let expect = Expect::segments(
        vec![
            ExpectSegment::host(0, LOOP_START),
            ExpectSegment::host(PASS, LOOP_START),
            ExpectSegment::host(2 * PASS, LOOP_START),
        ],
        2 * PASS + (stop_at - LOOP_START) as u64,
    );
    check_take(&takes[0], &h.specs, &expect.ended_by("transport"))?;
    ensure!(warnings.is_empty(), "plugin warnings: {warnings:?}");
    Ok(())
}
