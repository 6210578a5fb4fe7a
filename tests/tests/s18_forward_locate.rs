//! Scenario 18: forward locates inside a Manual-mode take. A forward jump of the host's
//! song position is a segment of the take, like a backward one: the files go on with the
//! audio from the new position, and no silence stands in for the skipped-over song.
//! Found by s15's random host, whose takes held up to ~20 s of silence per forward locate
//! that was soon followed by a backward jump (a loop wrap or another locate).
//!
//! The tests share the process-wide session, so they take turns (`SERIAL`).

use anyhow::Result;
use std::sync::Mutex;
use stemtap_e2e::*;
use stemtap_host::Transport;

static SERIAL: Mutex<()> = Mutex::new(());

/// Plays from `first`, arms, runs `first_cycles` cycles, then for each `(position, cycles)` locates
/// there (playing) and runs that many cycles; disarms. Expects one take with a segment per
/// locate, bit-exact.
fn locate_through(first: i64, first_cycles: u64, jumps: &[(i64, u64)]) -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let specs = vec![TrackSpec::new("A", "stem"), TrackSpec::new("B", "stem")];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = Transport::playing_at(first - 2 * i64::from(BLOCK));
    h.run(2)?;
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    assert_eq!(start, first);
    h.run(first_cycles as usize - 1)?;
    let mut frame = first_cycles * u64::from(BLOCK);
    let mut segments = vec![ExpectSegment::host(0, first)];
    for &(pos, cycles) in jumps {
        h.transport = Transport::playing_at(pos);
        h.run(cycles as usize)?;
        segments.push(ExpectSegment::host(frame, pos));
        frame += cycles * u64::from(BLOCK);
    }
    h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    check_take(
        &takes[0],
        &h.specs,
        &Expect::segments(segments, frame).ended_by("disarmed"),
    )
}

/// A forward locate, then playing on.
#[test]
fn forward_locate_is_a_segment() -> Result<()> {
    locate_through(96_000, 20, &[(1_000_000, 20)])
}

/// A forward locate one block after the arm.
#[test]
fn forward_locate_right_after_the_arm() -> Result<()> {
    locate_through(96_000, 1, &[(1_000_000, 20)])
}

/// A forward locate, then back (to a position between the two) within a quarter second.
#[test]
fn forward_locate_soon_followed_by_a_backward_one() -> Result<()> {
    locate_through(96_000, 20, &[(1_000_000, 20 / 4), (500_000, 20)])
}

/// A forward locate into a loop range: the loop wraps (backward jumps) soon after.
#[test]
fn forward_locate_into_a_loop() -> Result<()> {
    const LOOP: (i64, i64) = (196_988, 199_892);
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let specs = vec![TrackSpec::new("A", "stem"), TrackSpec::new("B", "stem")];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = Transport::playing_at(96_000);
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    h.run(19)?;
    let first_span = 20 * u64::from(BLOCK);
    let enter = 199_231;
    h.transport = Transport {
        loop_range: Some(LOOP),
        ..Transport::playing_at(enter)
    };
    let cycles = 25u64;
    h.run(cycles as usize)?;
    let end = h.input_pos();
    h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    // 661 frames to the loop end, then whole passes of 2904 from the loop start.
    let pass = (LOOP.1 - LOOP.0) as u64;
    let mut segments = vec![
        ExpectSegment::host(0, start),
        ExpectSegment::host(first_span, enter),
    ];
    let mut frame = first_span + (LOOP.1 - enter) as u64;
    let length = first_span + cycles * u64::from(BLOCK);
    while frame < length {
        segments.push(ExpectSegment::host(frame, LOOP.0));
        frame += pass;
    }
    assert_eq!(
        segments.last().map(|s| end - LOOP.0 + s.frame as i64),
        Some(length as i64)
    );
    check_take(
        &takes[0],
        &h.specs,
        &Expect::segments(segments, length).ended_by("disarmed"),
    )
}

/// The s15 sequence that first showed it: arm, locate forward into a loop one block later,
/// loop, locate forward out of the loop, then back.
#[test]
fn forward_locates_around_a_loop_right_after_the_arm() -> Result<()> {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let specs = vec![TrackSpec::new("A", "stem"), TrackSpec::new("B", "stem")];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = Transport::playing_at(96_000);
    h.run(2)?;
    let from = h.tape.len();
    h.step(Some((0, true)), |_| Plan::Normal)?;
    h.transport = Transport {
        loop_range: Some((196_988, 199_892)),
        ..Transport::playing_at(199_231)
    };
    h.run(25)?;
    h.transport = Transport::playing_at(1_138_435);
    h.run(4)?;
    h.transport = Transport::playing_at(657_504);
    h.run(20)?;
    let to = h.tape.len();
    h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    let (segments, length) = segments_from_tape(&h.tape[from..to]);
    check_take(
        &takes[0],
        &h.specs,
        &Expect::segments(segments, length).ended_by("disarmed"),
    )
}
