//! Scenario 7: channel modes. A stereo-mode instance writes 2 channels, a mono-mode one
//! folds its stereo input to 1 channel (the average), and a stereo-mode instance on a mono
//! input port writes 1 channel. That track is renamed by the host before playing
//! (track-info `changed`): its file takes the new name.

use stemtap_e2e::*;

#[test]
fn mono_and_stereo_files() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Wide", "stem").mode("stereo"),
        TrackSpec::new("Folded", "stem").mode("mono"),
        TrackSpec::new("Mono Mic", "multitrack")
            .mode("stereo")
            .inputs(1),
    ];
    let mut h = Harness::new(specs)?;
    // The host renames a track: track-info `changed`, the file follows the new name.
    h.rack.instance_mut(2).set_track_name(Some("Renamed Mic"));
    h.specs[2].name = "Renamed Mic".to_owned();
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(3)?;
    let start = h.step(Some((1, true)), |_| Plan::Normal)?;
    h.run(40)?;
    let end = h.step(Some((1, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;
    check_take(&takes[0], &h.specs, &Expect::exact(start, end))?;
    let channels: Vec<u64> = takes[0].files().iter().map(|f| f.channels).collect();
    let mut sorted = channels.clone();
    sorted.sort();
    assert_eq!(sorted, vec![1, 1, 2], "{channels:?}");
    Ok(())
}
