//! Scenario 12: an absurd alignment offset in saved state must not stop the session (it
//! once overflowed the writer's arithmetic and killed recording for the whole process).
//! Its own test binary: the session is process-wide.

use anyhow::{ensure, Context, Result};
use serde_json::json;
use std::time::Duration;
use stemtap_e2e::*;
use stemtap_host::take::wait_for_takes;
use stemtap_host::Transport;

/// An `offset_samples` near `i64::MAX` in saved state once overflowed the writer's position
/// arithmetic and killed the writer thread for the whole process. Offsets are now clamped
/// on load and applied with saturating arithmetic.
#[test]
fn huge_offset_in_state_does_not_stop_the_session() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("stemtap-offset-")
        .tempdir()?;
    let specs = vec![
        TrackSpec::new("Shifted", "stem"),
        TrackSpec::new("Normal", "stem"),
    ];
    let mut h = Harness::new_in(specs, tmp.path())?;
    h.rack
        .instance_mut(0)
        .edit_state(|st| st.patch_field("stream", &[("offset_samples", json!(i64::MAX))]))?;
    h.start()?;
    h.transport = Transport::playing_at(48_000);
    h.run(4)?;
    let start = h.step(Some((1, true)), |_| Plan::Normal)?;
    h.run(40)?;
    h.step(Some((1, false)), |_| Plan::Normal)?;
    h.run(50)?;
    // However the plugin treats the absurd offset, the session must keep working: a take
    // completes and the unshifted track's file holds its audio.
    let takes = wait_for_takes(tmp.path(), 1, Duration::from_secs(8), || h.run(4))
        .context("no complete take: the session stopped recording")?;
    let take = &takes[0];
    let normal = take
        .files()
        .into_iter()
        .find(|f| f.stem_name == "Normal")
        .context("no Normal file")?;
    let wav = take.read_wav(&normal.path)?;
    let first = take.start_sample().context("start_sample")?;
    ensure!(
        first <= start,
        "take starts at {first}, after the arm at {start}"
    );
    for (k, x) in wav.channels[0].iter().enumerate() {
        let pos = first + k as i64;
        if pos >= start {
            ensure!(
                x.to_bits() == h.specs[1].expected(0, pos).to_bits(),
                "Normal frame {k} (timeline {pos}) is {x}"
            );
        }
    }
    h.stop()?;
    Ok(())
}
