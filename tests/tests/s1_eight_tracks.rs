//! Scenario 1: eight instances named by track-info, roles from saved state, a distinct
//! signal each; the transport plays from 0; `record` is switched on in one instance during
//! playback and off again later. One take, eight aligned files, bit-exact content.

use stemtap_e2e::*;

#[test]
fn eight_tracks_record_one_aligned_take() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Kick", "multitrack"),
        TrackSpec::new("Snare", "multitrack"),
        TrackSpec::new("Bass", "multitrack"),
        TrackSpec::new("Keys", "multitrack"),
        TrackSpec::new("Vocals", "multitrack"),
        TrackSpec::new("Drums Bus", "stem"),
        TrackSpec::new("Music Bus", "stem"),
        TrackSpec::new("Mix", "mix"),
    ];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(20)?;
    let start = h.step(Some((3, true)), |_| Plan::Normal)?;
    h.run(98)?;
    let end = h.step(Some((3, false)), |_| Plan::Normal)?;
    assert_eq!((start, end), (20 * 512, 119 * 512));

    let takes = h.finish(1)?;
    let warnings = h.stop()?;
    let take = &takes[0];
    check_take(take, &h.specs, &Expect::exact(start, end))?;
    assert_eq!(take.timeline(), Some("host"), "{}", take.manifest);
    // The folder holds exactly the eight files and the manifest.
    let mut entries = wav_files(&take.dir)?;
    entries.sort();
    assert_eq!(entries.len(), 8, "{entries:?}");
    assert!(take.dir.join("take.json").is_file());
    let name = take.folder_name();
    assert!(
        name.contains(" Take "),
        "take folder name {name:?} does not follow '<date time> Take N'"
    );
    assert!(warnings.is_empty(), "plugin warnings: {warnings:#?}");
    Ok(())
}
