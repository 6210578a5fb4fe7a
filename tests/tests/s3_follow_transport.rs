//! Scenario 3: trigger mode follow_transport, armed while stopped; play, stop, play (from
//! elsewhere), stop: two takes, each aligned, exactly as long as its play span, and ended by
//! the transport (the disarm comes after the second stop).

use serde_json::json;
use stemtap_e2e::*;
use stemtap_host::Transport;

#[test]
fn follow_transport_makes_a_take_per_play() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Guitar", "multitrack"),
        TrackSpec::new("Bus", "stem"),
    ];
    let mut h = Harness::new(specs)?;
    h.set_session(&[("trigger", json!("follow_transport"))])?;
    h.start()?;
    h.transport = Transport::stopped_at(0);
    h.run(2)?;
    h.step(Some((1, true)), |_| Plan::Normal)?; // armed while stopped
    h.run(10)?;

    h.transport = Transport::playing_at(0);
    h.run(30)?;
    h.transport = Transport::stopped_at(30 * 512);
    h.run(12)?;

    let second = 48_000;
    h.transport = Transport::playing_at(second);
    h.run(20)?;
    h.transport = Transport::stopped_at(second + 20 * 512);
    h.run(12)?;
    h.step(Some((1, false)), |_| Plan::Normal)?;

    let takes = h.finish(2)?;
    h.stop()?;
    let mut takes = takes;
    takes.sort_by_key(|t| t.start_sample());
    let expect = [(0i64, 30 * 512u64), (second, 20 * 512)];
    for (take, (start, length)) in takes.iter().zip(expect) {
        // Each play pass ends the take while still armed: the transport ended it.
        check_take(
            take,
            &h.specs,
            &Expect::exact(start, start + length as i64).ended_by("transport"),
        )?;
    }
    Ok(())
}
