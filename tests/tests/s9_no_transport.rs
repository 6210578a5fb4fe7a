//! Scenario 9: a host that sends no transport at all. The plugin runs its own clock, which
//! all instances advance together: the take is still one folder of aligned files whose
//! content matches the input block for block.

use stemtap_e2e::*;

#[test]
fn no_transport_still_aligns() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Left", "stem"),
        TrackSpec::new("Right", "stem"),
    ];
    let mut h = Harness::new(specs)?;
    h.send_transport = false;
    h.start()?;
    // The rig's own position counter drives the inputs; the plugin sees no transport.
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(5)?;
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    h.run(30)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    // One segment on the plugin's own clock (its start_sample is not the rig's count): the
    // content must be the input from the arm on.
    let expect = Expect::segments(vec![ExpectSegment::free(0, start)], (end - start) as u64);
    check_take(&takes[0], &h.specs, &expect.ended_by("disarmed"))?;
    Ok(())
}
