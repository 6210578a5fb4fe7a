//! Scenario 13: state loaded into an instance while it processes (undo, preset recall).
//! Its own test binary: the session is process-wide.

use anyhow::{ensure, Result};
use serde_json::json;
use stemtap_e2e::*;
use stemtap_host::take::list_dirs;
use stemtap_host::Transport;

/// Hosts load state into an active plugin (undo, preset recall). A project saved while armed
/// must not start recording when it is loaded, and a trigger mode in the loaded state must
/// apply at once: here Follow transport with the transport stopped, so arming records nothing
/// until play.
#[test]
fn state_loaded_while_processing_neither_arms_nor_keeps_the_old_trigger() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("stemtap-live-load-")
        .tempdir()?;
    let specs = vec![TrackSpec::new("A", "stem"), TrackSpec::new("B", "stem")];
    let mut h = Harness::new_in(specs, tmp.path())?;
    h.start()?;
    h.transport = Transport::stopped_at(0);
    h.run(4)?;
    let mut saved_armed = h.rack.instance_mut(0).save_state_json()?;
    // nice-plug stores parameter values tagged by type: {"bool": false}.
    ensure!(
        saved_armed.param("record") == Some(&json!({"bool": false})),
        "{:?}",
        saved_armed.param("record")
    );
    saved_armed.set_param("record", json!({"bool": true}));
    saved_armed.patch_field("session", &[("trigger", json!("follow_transport"))])?;
    h.rack.instance_mut(0).load_state_json(&saved_armed)?;
    h.run(200)?;
    // Loading a state saved while armed did not arm: nothing was recorded.
    ensure!(
        list_dirs(tmp.path())?.is_empty(),
        "loading state started a take: {:?}",
        list_dirs(tmp.path())?
    );
    // Arm for real (B toggles on): Follow transport with a stopped transport records nothing.
    h.step(Some((1, true)), |_| Plan::Normal)?;
    h.run(200)?;
    ensure!(
        list_dirs(tmp.path())?.is_empty(),
        "the loaded trigger mode was not applied: a take was recorded while stopped"
    );
    // Play: now it records, one take per play.
    h.transport = Transport::playing_at(96_000);
    h.run(40)?;
    h.step(Some((1, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    ensure!(
        takes[0].start_sample() == Some(96_000),
        "take starts at {:?}",
        takes[0].start_sample()
    );
    Ok(())
}
