//! What the writer reports for the GUI, checked against what it wrote: per-take dropped
//! frames per stream (live and after the take), and errors that carry the stream they
//! concern rather than its name.

mod common;

use common::*;
use std::time::{Duration, Instant};
use stemtap_engine::EngineConfig;

const BLOCK: usize = 512;
/// Small enough that one burst overruns it, big enough (~90 blocks) that the paced blocks
/// around it never do.
const RING_SECONDS: f32 = 1.0;
/// Three rings' worth of blocks, sent in one `process()` call.
const BURST_CYCLES: i64 = 3 * (RATE as i64 * RING_SECONDS as i64) / BLOCK as i64;

/// One block per track but `skip`, per cycle, at about ten times real time.
fn feed(rig: &mut Rig, cycles: std::ops::Range<i64>, skip: Option<usize>) {
    for cycle in cycles {
        let pos = cycle * BLOCK as i64;
        for t in 0..rig.tracks.len() {
            if skip != Some(t) {
                rig.process(t, pos, BLOCK, &playing(pos));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn dropped_frames_are_reported_per_stream_and_take_and_errors_carry_the_stream() {
    let mut rig = Rig::new(EngineConfig {
        ring_seconds: RING_SECONDS,
        ..Default::default()
    });
    let steady = rig.add_track("Bass DI", 2, BLOCK as u32);
    let victim = rig.add_track("Keys", 2, BLOCK as u32);
    let (steady_id, victim_id) = (
        rig.tracks[steady].handle.id(),
        rig.tracks[victim].handle.id(),
    );
    rig.session.set_armed(true);
    feed(&mut rig, 0..20, None);
    // The victim's host hands it far more than its ring holds at once: a dropout.
    rig.process(
        victim,
        20 * BLOCK as i64,
        BURST_CYCLES as usize * BLOCK,
        &playing(20 * BLOCK as i64),
    );
    feed(&mut rig, 20..20 + BURST_CYCLES, Some(victim));
    let mut cycle = 20 + BURST_CYCLES;

    // While the take records, the writer publishes the victim's dropped frames, and only
    // the victim's.
    let deadline = Instant::now() + Duration::from_secs(20);
    let live = loop {
        feed(&mut rig, cycle..cycle + 10, None);
        cycle += 10;
        let status = rig.session.status();
        let take = status.current.as_ref().expect("a take is being written");
        let dropped = take.stream(victim_id).unwrap().dropped_frames;
        if dropped > 0 {
            assert_eq!(take.stream(steady_id).unwrap().dropped_frames, 0);
            break dropped;
        }
        assert!(Instant::now() < deadline, "the dropout never showed");
    };
    rig.session.set_armed(false);
    feed(&mut rig, cycle..cycle + 5, None);
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    let file = |name: &str| m.files.iter().find(|f| f.stem_name == name).unwrap();
    assert_eq!(file("Keys").dropped_frames, live);
    assert!(live >= 2 * RATE as u64, "at least two rings' worth: {live}");

    // The finished take keeps the same figures, per stream.
    let status = rig.session.status();
    let summary = status.recent.last().unwrap();
    assert_eq!(summary.stream(victim_id).unwrap().dropped_frames, live);
    assert_eq!(
        summary.stream(steady_id).unwrap().dropped_frames,
        file("Bass DI").dropped_frames
    );
    assert_eq!(
        summary.dropped_frames,
        live + file("Bass DI").dropped_frames
    );

    // The banner's error names the victim by id, in this take.
    let error = status
        .stream_error(victim_id)
        .expect("the dropout is reported");
    let take_name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(error.take.as_deref(), Some(take_name.as_str()));
    assert_eq!(error.stream.as_ref().unwrap().name, "Keys");
    assert!(status.stream_error(steady_id).is_none());

    // Renamed afterwards (to a prefix of another stream's name), it is still the victim's.
    rig.session.rename_stream(victim_id, Some("Bass".into()));
    let status = rig.session.status();
    let error = status.stream_error(victim_id).unwrap();
    assert_eq!(
        error.describe(Some("Bass")),
        format!(
            "{take_name}: Bass: {live} frames were dropped (written as silence; see take.json)."
        )
    );
    assert!(status.stream_error(steady_id).is_none());
}

#[test]
fn errors_reported_from_outside_the_writer_name_their_stream() {
    let mut rig = Rig::new(EngineConfig::default());
    let t = rig.add_track("Vocals", 2, 512);
    let id = rig.tracks[t].handle.id();
    rig.session.report_error(Some(id), "cannot open the file");
    rig.session.report_error(None, "the output folder is gone");
    let status = rig.session.status();
    let error = status.stream_error(id).unwrap();
    assert_eq!(error.describe(None), "Vocals: cannot open the file");
    assert_eq!(status.errors.len(), 2);
    assert_eq!(status.errors[1].describe(None), "the output folder is gone");
    rig.session.acknowledge_errors();
    assert!(rig.session.status().errors.is_empty());
}
