//! Scenario 4: the host loops while recording. A backward jump ends the take's segment and,
//! still recording, a new take starts: one take per pass (the documented behaviour), each
//! aligned. The loop length is not a multiple of the block size, so the host splits the
//! block at the loop end like a DAW does.

use stemtap_e2e::*;
use stemtap_host::Transport;

const LOOP_START: i64 = 4_800;
const LOOP_END: i64 = 4_800 + 30_000;

#[test]
fn loop_passes_become_takes() -> anyhow::Result<()> {
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
    let pass = (LOOP_END - LOOP_START) as f64 / 512.0;
    let cycles = (pass * 2.0).ceil() as usize + 20;
    h.run(cycles)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    assert!(end > LOOP_START && end < LOOP_END);
    let takes = h.finish(3)?;
    h.stop()?;
    let mut takes = takes;
    takes.sort_by_key(|t| t.folder_name());
    let full = (LOOP_END - LOOP_START) as u64;
    let expect = [full, full, (end - LOOP_START) as u64];
    // Folder names sort by take number only within the same second; order by length pattern
    // instead of trusting names: the short take is the last pass.
    let mut lengths: Vec<_> = takes.iter().map(|t| t.length_frames()).collect();
    lengths.sort();
    let mut want: Vec<_> = expect.iter().map(|l| Some(*l)).collect();
    want.sort();
    assert_eq!(lengths, want, "take lengths");
    for take in &takes {
        let length = take.length_frames().unwrap();
        check_take(
            take,
            &h.specs,
            &Expect {
                start: LOOP_START,
                length,
                silent: &never_silent,
            },
        )?;
    }
    Ok(())
}
