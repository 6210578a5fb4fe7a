//! Scenario 8: arm from one instance, disarm from another.
//!
//! The `record` parameter acts on a *change* of its value (hosts such as REAPER repeat
//! automation events with the same value, and nice-plug reports only changes). An instance
//! whose `record` is already off therefore disarms by toggling it: on (no effect, the
//! session is armed) then off. This is the documented contract (README).

use stemtap_e2e::*;

#[test]
fn another_instance_disarms_by_toggling_record() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Lead", "stem"),
        TrackSpec::new("Pad", "stem"),
    ];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(2)?;
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    h.run(20)?;
    // Setting Pad's record on while the session is armed changes nothing...
    h.step(Some((1, true)), |_| Plan::Normal)?;
    h.run(5)?;
    // ...and switching it off disarms the whole session here.
    let end = h.step(Some((1, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    assert_eq!(takes.len(), 1);
    check_take(&takes[0], &h.specs, &Expect::exact(start, end))?;
    Ok(())
}
