//! Scenario 4: the host loops while recording in Manual mode. One arm, one take: every loop
//! wrap becomes a segment of it (a marker), not a new take. Each segment holds a pass from
//! the loop start, every file carries a cue point at each wrap (read back with `bwavfile`),
//! and the take ends at the disarm. The loop length is not a multiple of the block size, so
//! the host splits the block at the loop end like a DAW does.

use stemtap_e2e::*;
use stemtap_host::Transport;

const LOOP_START: i64 = 4_800;
const LOOP_END: i64 = 4_800 + 30_000;
const PASS: u64 = (LOOP_END - LOOP_START) as u64;

#[test]
fn loop_passes_become_segments_of_one_take() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Drums", "stem"),
        TrackSpec::new("Synth", "stem"),
    ];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = Transport {
        loop_range: Some((LOOP_START, LOOP_END)),
        ..Transport::playing_at(LOOP_START)
    };
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    assert_eq!(start, LOOP_START);
    // Two full passes, then part of a third.
    let cycles = (PASS as f64 * 2.0 / f64::from(BLOCK)).ceil() as usize + 20;
    h.run(cycles)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    assert!(end > LOOP_START && end < LOOP_END);
    let takes = h.finish(1)?;
    h.stop()?;
    let expect = Expect::segments(
        vec![
            ExpectSegment::host(0, LOOP_START),
            ExpectSegment::host(PASS, LOOP_START),
            ExpectSegment::host(2 * PASS, LOOP_START),
        ],
        2 * PASS + (end - LOOP_START) as u64,
    );
    check_take(&takes[0], &h.specs, &expect.ended_by("disarmed"))?;
    // Independently of check_take: the cue points sit at the wraps, read by bwavfile.
    for f in takes[0].files() {
        assert_eq!(
            cue_frames(&takes[0].dir.join(&f.path))?,
            vec![30_000, 60_000],
            "{}",
            f.path
        );
    }
    Ok(())
}
