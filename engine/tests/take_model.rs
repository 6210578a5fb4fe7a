//! The take model, scenario by scenario: what a producer does (arm, play, stop, loop,
//! disarm) and the takes that must come out of it, down to every segment's frame. Each row
//! of a table is a script the rig plays through real captures and the session's writer;
//! every file is then checked sample by sample against its timeline positions.

mod common;

use common::*;
use std::time::Duration;
use stemtap_engine::manifest::{EndReason, Manifest, Timeline};
use stemtap_engine::{EngineConfig, TransportInfo, TriggerMode};

const BLOCK: i64 = 512;

/// One step of a script.
#[derive(Debug, Clone, Copy)]
enum Step {
    Arm,
    Disarm,
    /// Arm in the middle of the next cycle: track 1 sees it in that cycle, track 0 only in
    /// the cycle after (it was processed first).
    ArmStaggered,
    /// The transport starts playing at this song position.
    Play(i64),
    /// The transport stops.
    Stop,
    /// The transport loops: at `end` it jumps back to `start`.
    Loop(i64, i64),
    /// Process this many cycles.
    Run(i64),
}

/// What came out: per take, (segments as (frame, timeline, start_sample), length, end).
type Outcome = Vec<(Vec<(u64, Timeline, i64)>, u64, Option<EndReason>)>;

/// Plays `script` on two tracks; returns the takes (checked bit-exact segment by segment).
fn play(trigger: TriggerMode, script: &[Step], takes: usize) -> Outcome {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, BLOCK as u32);
    rig.add_track("B", 2, BLOCK as u32);
    rig.session.set_trigger(trigger);
    // The song position while playing; StemTap's own clock advances only while stopped,
    // by the blocks processed then, which is what the tracks' input follows there.
    let mut song: Option<i64> = None;
    let mut free = 0i64;
    let mut loop_range: Option<(i64, i64)> = None;
    let mut staggered = false;
    for step in script {
        match *step {
            Step::Arm => rig.session.set_armed(true),
            Step::Disarm => rig.session.set_armed(false),
            Step::ArmStaggered => staggered = true,
            Step::Play(pos) => song = Some(pos),
            Step::Stop => song = None,
            Step::Loop(start, end) => loop_range = Some((start, end)),
            Step::Run(cycles) => {
                for _ in 0..cycles {
                    let (pos, transport) = match song {
                        Some(p) => (p, playing(p)),
                        None => (
                            free,
                            TransportInfo {
                                playing: false,
                                pos_samples: Some(0),
                                ..Default::default()
                            },
                        ),
                    };
                    for t in 0..2 {
                        if staggered && t == 1 {
                            rig.session.set_armed(true);
                        }
                        rig.process(t, pos, BLOCK as usize, &transport);
                    }
                    staggered = false;
                    match song.as_mut() {
                        Some(p) => {
                            *p += BLOCK;
                            if let Some((start, end)) = loop_range {
                                if *p == end {
                                    *p = start;
                                }
                            }
                        }
                        None => free += BLOCK,
                    }
                    std::thread::sleep(Duration::from_micros(300));
                }
            }
        }
    }
    // Let the writer see everything, disarmed.
    rig.session.set_armed(false);
    for _ in 0..60 {
        let pos = song.unwrap_or(free);
        for t in 0..2 {
            rig.process(t, pos, BLOCK as usize, &playing(pos));
        }
        song = Some(pos + BLOCK);
        std::thread::sleep(Duration::from_micros(300));
    }
    let found = wait_for_takes(rig.root(), takes);
    assert_eq!(found.len(), takes, "takes in the output folder");
    found
        .iter()
        .map(|(dir, m)| {
            assert_every_file_exact(dir, m);
            (segments(m), m.length_frames, m.ended_by)
        })
        .collect()
}

fn segments(m: &Manifest) -> Vec<(u64, Timeline, i64)> {
    m.segments
        .iter()
        .map(|s| (s.frame, s.timeline, s.start_sample))
        .collect()
}

use Step::*;
use Timeline::{Free, Host};

#[test]
fn manual_mode_makes_one_take_per_arm_whatever_the_transport_does() {
    let b = BLOCK as u64;
    // Arm while stopped (free clock from 0), play, stop, play elsewhere, stop, disarm.
    let script = [
        Run(4),
        Arm,
        Run(10),
        Play(0),
        Run(30),
        Stop,
        Run(12),
        Play(96_000),
        Run(20),
        Stop,
        Run(8),
        Disarm,
    ];
    let takes = play(TriggerMode::Manual, &script, 1);
    // The free clock: 4 blocks before the arm, then the take's stopped stretches.
    let want_segments = vec![
        (0, Free, 4 * BLOCK),
        (10 * b, Host, 0),
        (40 * b, Free, 14 * BLOCK),
        (52 * b, Host, 96_000),
        (72 * b, Free, 26 * BLOCK),
    ];
    assert_eq!(takes, [(want_segments, 80 * b, Some(EndReason::Disarmed))]);
}

#[test]
fn loops_and_locates_are_markers_not_takes() {
    let b = BLOCK as u64;
    let rows: &[(TriggerMode, &[Step], Outcome)] = &[
        // Manual, armed while playing a loop of 16 blocks: two passes and a half.
        (
            TriggerMode::Manual,
            &[
                Loop(8 * BLOCK, 24 * BLOCK),
                Play(8 * BLOCK),
                Arm,
                Run(40),
                Disarm,
            ],
            vec![(
                vec![
                    (0, Host, 8 * BLOCK),
                    (16 * b, Host, 8 * BLOCK),
                    (32 * b, Host, 8 * BLOCK),
                ],
                40 * b,
                Some(EndReason::Disarmed),
            )],
        ),
        // Follow transport: armed while stopped; one play pass with a locate inside it.
        (
            TriggerMode::FollowTransport,
            &[
                Arm,
                Run(6),
                Play(0),
                Run(20),
                Play(480_000),
                Run(10),
                Stop,
                Run(10),
            ],
            vec![(
                vec![(0, Host, 0), (20 * b, Host, 480_000)],
                30 * b,
                Some(EndReason::Transport),
            )],
        ),
    ];
    for (trigger, script, want) in rows {
        assert_eq!(
            &play(*trigger, script, want.len()),
            want,
            "{trigger:?} {script:?}"
        );
    }
}

#[test]
fn follow_transport_makes_one_take_per_play_pass() {
    let b = BLOCK as u64;
    let script = [
        Arm,
        Run(6),
        Play(0),
        Run(30),
        Stop,
        Run(12),
        Play(96_000),
        Run(20),
        Stop,
        Run(12),
    ];
    let takes = play(TriggerMode::FollowTransport, &script, 2);
    assert_eq!(
        takes,
        [
            (vec![(0, Host, 0)], 30 * b, Some(EndReason::Transport)),
            (vec![(0, Host, 96_000)], 20 * b, Some(EndReason::Transport)),
        ]
    );
}

#[test]
fn an_arm_seen_a_block_apart_across_a_transport_start_is_one_aligned_take() {
    let b = BLOCK as u64;
    // Track 1 sees the arm in the last stopped cycle, track 0 only with the first playing
    // one: the take starts where track 1 saw it, track 0's file has its audio from there
    // too (a stream's blocks belong to the take whatever it saw), and the jump to the song
    // position is a marker.
    let script = [Run(4), ArmStaggered, Run(1), Play(48_000), Run(20), Disarm];
    let takes = play(TriggerMode::Manual, &script, 1);
    assert_eq!(
        takes,
        [(
            vec![(0, Free, 4 * BLOCK), (b, Host, 48_000)],
            21 * b,
            Some(EndReason::Disarmed)
        )]
    );
}

#[test]
fn takes_too_short_to_keep_leave_nothing_on_disk_and_one_banner_line() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 256);
    let mut pos = 0i64;
    let mut cycle = |rig: &mut Rig, armed: Option<bool>| {
        if let Some(a) = armed {
            rig.session.set_armed(a);
        }
        rig.process(0, pos, 256, &playing(pos));
        pos += 256;
        std::thread::sleep(Duration::from_micros(300));
    };
    // Ten takes of 4 blocks (21 ms) each, then one of 40 blocks (213 ms).
    for _ in 0..10 {
        cycle(&mut rig, Some(true));
        for _ in 0..3 {
            cycle(&mut rig, None);
        }
        cycle(&mut rig, Some(false));
        for _ in 0..4 {
            cycle(&mut rig, None);
        }
    }
    cycle(&mut rig, Some(true));
    for _ in 0..39 {
        cycle(&mut rig, None);
    }
    cycle(&mut rig, Some(false));
    for _ in 0..200 {
        cycle(&mut rig, None);
    }
    let takes = wait_for_takes(rig.root(), 1);
    let folders = std::fs::read_dir(rig.root()).unwrap().count();
    assert_eq!(folders, 1, "only the long take has a folder");
    assert_eq!(takes[0].1.length_frames, 40 * 256);
    assert_every_file_exact(&takes[0].0, &takes[0].1);
    let status = rig.session.status();
    let short: Vec<_> = status
        .errors
        .iter()
        .filter(|e| e.message.contains("not kept"))
        .collect();
    assert_eq!(short.len(), 1, "{:?}", status.errors);
    assert!(
        short[0].message.starts_with("10 takes"),
        "{}",
        short[0].message
    );
}

#[test]
fn a_session_ending_while_recording_ends_the_take_as_shutdown() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 512);
    rig.session.set_armed(true);
    for c in 0..40 {
        rig.process(0, c * 512, 512, &playing(c * 512));
        std::thread::sleep(Duration::from_micros(300));
    }
    let root = rig.dir.path().to_path_buf();
    let Rig {
        session,
        dir,
        tracks,
    } = rig;
    drop(tracks);
    drop(session);
    let takes = wait_for_takes(&root, 1);
    assert_eq!(takes[0].1.ended_by, Some(EndReason::Shutdown));
    assert_eq!(takes[0].1.length_frames, 40 * 512);
    assert_every_file_exact(&takes[0].0, &takes[0].1);
    drop(dir);
}

#[test]
fn auto_mode_writes_a_mono_file_when_both_channels_were_identical() {
    use stemtap_engine::ChannelMode;
    let mut rig = Rig::new(EngineConfig::default());
    let same = rig.add_track("Vox", 2, 512);
    let wide = rig.add_track("Pad", 2, 512);
    for t in [same, wide] {
        rig.tracks[t].settings.write().channel_mode = ChannelMode::Auto;
    }
    rig.session.set_armed(true);
    for c in 0..40i64 {
        let pos = c * 512;
        let left: Vec<f32> = (0..512).map(|i| signal(same, 0, pos + i)).collect();
        let track = &mut rig.tracks[same];
        track
            .capture
            .as_mut()
            .unwrap()
            .capture(&[&left[..], &left[..]], 512, &playing(pos), false);
        rig.process(wide, pos, 512, &playing(pos));
        if c == 39 {
            rig.session.set_armed(false);
        }
        std::thread::sleep(Duration::from_micros(300));
    }
    for c in 40..80i64 {
        rig.process(wide, c * 512, 512, &playing(c * 512));
        std::thread::sleep(Duration::from_micros(300));
    }
    let (dir, _) = wait_for_takes(rig.root(), 1).remove(0);
    // take.json says 1 channel once the file has been rewritten.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let m = loop {
        let m: Manifest =
            serde_json::from_slice(&std::fs::read(dir.join("take.json")).unwrap()).unwrap();
        if m.files[0].channels == 1 || std::time::Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(m.length_frames, 40 * 512);
    assert_eq!(
        (m.files[0].channels, m.files[0].channels_identical),
        (1, Some(true))
    );
    assert_eq!(
        (m.files[1].channels, m.files[1].channels_identical),
        (2, Some(false))
    );
    let (channels, samples) = read_wav(&dir.join(&m.files[0].path));
    assert_eq!(channels, 1);
    let want: Vec<u32> = (0..40 * 512)
        .map(|k| signal(same, 0, k).to_bits())
        .collect();
    assert!(samples.iter().map(|x| x.to_bits()).eq(want), "mono samples");
    assert_content(&dir.join(&m.files[1].path), wide, 0, 40 * 512, |_| false);
    let leftovers: Vec<_> = all_files_under(&dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
