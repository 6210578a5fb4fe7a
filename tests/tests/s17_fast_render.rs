//! Scenario 17: a host rendering faster than real time while it says "realtime" (a DAW's
//! fast bounce, a render farm driving the plugin as if live). With a short ring
//! (`STEMTAP_RING_SECONDS=0.25`) and 20x real time, four armed tracks record 20 s of audio:
//! the take must drop nothing and be bit-exact. This needs the engine to notice it is fed
//! faster than real time and hold the audio thread for the writer as in offline mode.

use anyhow::{ensure, Result};
use std::time::Instant;
use stemtap_e2e::*;

const SECONDS: u32 = 20;
const SPEED: f64 = 20.0;

#[test]
fn rendering_at_20x_realtime_drops_nothing() -> Result<()> {
    // Read when the first instance creates the session: set before the plugin loads, like
    // Harness::new sets STEMTAP_OUTPUT_DIR.
    std::env::set_var("STEMTAP_RING_SECONDS", "0.25");
    let specs = vec![
        TrackSpec::new("Kick", "multitrack"),
        TrackSpec::new("Bass", "stem"),
        TrackSpec::new("Pad", "stem"),
        TrackSpec::new("Print", "mix"),
    ];
    let mut h = Harness::new(specs)?;
    h.rack.set_speed(Some(SPEED));
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(4)?;
    let began = Instant::now();
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    let cycles = (SECONDS * RATE / BLOCK) as usize;
    h.run(cycles)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    let wall = began.elapsed().as_secs_f64();
    let takes = h.finish(1)?;
    h.stop()?;
    let audio = (end - start) as f64 / f64::from(RATE);
    eprintln!(
        "{audio:.1} s of audio in {wall:.2} s: {:.1}x real time",
        audio / wall
    );
    let dropped: Vec<(String, u64)> = takes[0]
        .files()
        .iter()
        .map(|f| (f.path.clone(), f.dropped_frames))
        .collect();
    ensure!(
        dropped.iter().all(|d| d.1 == 0),
        "dropped frames at {:.1}x real time with a 0.25 s ring: {dropped:?}",
        audio / wall
    );
    check_take(
        &takes[0],
        &h.specs,
        &Expect::exact(start, end).ended_by("disarmed"),
    )?;
    Ok(())
}
