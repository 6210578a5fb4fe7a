//! Several simulated instances drive one session the way their `process()` calls would; the
//! written files are decoded and checked frame by frame against the timeline.

mod common;

use common::*;
use std::time::Duration;
use stemtap_engine::manifest::{EndReason, Timeline};
use stemtap_engine::{EngineConfig, TransportInfo, TriggerMode, WriterConfig};

fn pace() {
    std::thread::sleep(Duration::from_micros(300));
}

#[test]
fn staggered_arm_and_random_block_sizes_give_bit_exact_aligned_files() {
    let mut rig = Rig::new(EngineConfig::default());
    for name in ["Kick", "Snare", "Bass", "Keys"] {
        rig.add_track(name, 2, 4096);
    }
    let mut rng = fastrand::Rng::with_seed(7);
    let mut pos = 1_000i64;
    let (mut arm_pos, mut disarm_pos) = (0, 0);
    for cycle in 0..160 {
        let n = rng.usize(1..=4096);
        for t in 0..4 {
            // Instances see the arm flag one block apart: 2 and 3 in this cycle, 0 and 1 next.
            if cycle == 50 && t == 2 {
                rig.session.set_armed(true);
                arm_pos = pos;
            }
            if cycle == 120 && t == 1 {
                rig.session.set_armed(false);
                disarm_pos = pos;
            }
            if t == 3 {
                // This host splits the same cycle differently for one instance (even 0 frames).
                let a = rng.usize(0..=n);
                rig.process(t, pos, a, &playing(pos));
                rig.process(t, pos + a as i64, n - a, &playing(pos + a as i64));
            } else {
                rig.process(t, pos, n, &playing(pos));
            }
        }
        pos += n as i64;
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    assert_eq!(takes.len(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.start_sample, arm_pos);
    assert_eq!(m.length_frames, (disarm_pos - arm_pos) as u64);
    assert_eq!(m.timeline, Timeline::Host);
    assert_eq!(m.ended_by, Some(EndReason::Disarmed));
    assert_eq!(m.files.len(), 4);
    for (seed, name) in ["Kick", "Snare", "Bass", "Keys"].iter().enumerate() {
        let file = m.files.iter().find(|f| f.stem_name == *name).unwrap();
        assert_eq!(file.path, format!("Stems/{name}.wav"));
        assert_eq!((file.dropped_frames, file.silent_gap_frames), (0, 0));
        assert_content(
            &dir.join(&file.path),
            seed,
            m.start_sample,
            m.length_frames,
            |_| false,
        );
    }
}

#[test]
fn suspended_and_late_instances_get_silence_in_place() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("Steady", 2, 512);
    rig.add_track("Suspended", 2, 512);
    let block = 512i64;
    let at = |cycle: i64| 48_000 + cycle * block;
    rig.session.set_armed(true);
    for cycle in 0..110 {
        let pos = at(cycle);
        if cycle == 40 {
            rig.add_track("Late", 1, 512);
        }
        if cycle == 100 {
            rig.session.set_armed(false);
        }
        for t in 0..rig.tracks.len() {
            if t == 1 && (30..50).contains(&cycle) {
                continue; // the host does not process this instance for a while
            }
            rig.process(t, pos, block as usize, &playing(pos));
        }
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(
        (m.start_sample, m.length_frames),
        (at(0), 100 * block as u64)
    );
    let file = |name: &str| m.files.iter().find(|f| f.stem_name == name).unwrap();
    assert_content(
        &dir.join(&file("Steady").path),
        0,
        m.start_sample,
        m.length_frames,
        |_| false,
    );
    assert_content(
        &dir.join(&file("Suspended").path),
        1,
        m.start_sample,
        m.length_frames,
        |p| (at(30)..at(50)).contains(&p),
    );
    assert_eq!(file("Suspended").silent_gap_frames, 20 * block as u64);
    assert_content(
        &dir.join(&file("Late").path),
        2,
        m.start_sample,
        m.length_frames,
        |p| p < at(40),
    );
    assert_eq!(file("Late").channels, 1);
}

#[test]
fn ring_overruns_become_counted_silence_without_shifting_anything() {
    let config = EngineConfig {
        ring_seconds: 0.02,
        ..Default::default()
    };
    let mut rig = Rig::new(config);
    rig.add_track("A", 2, 256);
    rig.add_track("B", 2, 256);
    rig.session.set_armed(true);
    let mut pos = 0i64;
    for cycle in 0..400 {
        if cycle == 390 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, pos, 256, &playing(pos));
        }
        pos += 256;
        if cycle % 50 == 0 {
            std::thread::sleep(Duration::from_millis(15)); // let the writer catch up now and then
        }
    }
    for _ in 0..100 {
        for t in 0..2 {
            rig.process(t, pos, 256, &playing(pos));
        }
        pos += 256;
        std::thread::sleep(Duration::from_millis(2));
    }
    let takes = wait_for_takes(rig.root(), 1);
    let mut total_dropped = 0;
    for (dir, m) in &takes {
        for (seed, f) in m.files.iter().enumerate() {
            let (channels, samples) = read_wav(&dir.join(&f.path));
            assert_eq!(samples.len() as u64, m.length_frames * channels as u64);
            let mut silent = 0u64;
            for (k, frame) in samples.chunks_exact(2).enumerate() {
                let p = m.start_sample + k as i64;
                if frame == [0.0, 0.0] {
                    silent += 1;
                } else {
                    assert_eq!(
                        frame,
                        [signal(seed, 0, p), signal(seed, 1, p)],
                        "frame {k} shifted"
                    );
                }
            }
            assert_eq!(silent, f.dropped_frames + f.silent_gap_frames);
            total_dropped += f.dropped_frames;
        }
    }
    let counted: u64 = rig
        .tracks
        .iter()
        .map(|t| {
            t.handle
                .stats()
                .dropped_frames
                .load(std::sync::atomic::Ordering::Relaxed)
        })
        .sum();
    assert!(counted > 0, "the test must actually overrun the rings");
    assert!(
        total_dropped > 0 && total_dropped <= counted,
        "{total_dropped} of {counted}"
    );
    assert!(
        !rig.session.status().errors.is_empty(),
        "dropouts must reach the GUI's banner"
    );
}

#[test]
fn loop_passes_are_segments_of_one_take() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 512);
    rig.add_track("B", 2, 512);
    rig.session.set_armed(true);
    let (loop_start, loop_end) = (4_096i64, 20_480i64);
    let mut pos = 0i64;
    let mut passes = 0;
    while passes < 2 || pos < 10_240 {
        if passes == 2 && pos == 10_240 - 512 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, pos, 512, &playing(pos));
        }
        pos += 512;
        if pos == loop_end {
            pos = loop_start;
            passes += 1;
        }
        pace();
    }
    for _ in 0..20 {
        for t in 0..2 {
            rig.process(t, pos, 512, &playing(pos));
        }
        pos += 512;
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    let segments: Vec<(u64, i64)> = m
        .segments
        .iter()
        .map(|s| (s.frame, s.start_sample))
        .collect();
    assert_eq!(segments, [(0, 0), (20_480, 4_096), (36_864, 4_096)]);
    assert_eq!(m.length_frames, 36_864 + 10_240 - 512 - 4_096);
    assert_eq!(m.ended_by, Some(EndReason::Disarmed));
    assert_every_file_exact(dir, m);
}

#[test]
fn without_a_transport_instances_stay_aligned_on_the_free_clock() {
    let mut rig = Rig::new(EngineConfig::default());
    for name in ["A", "B", "C"] {
        rig.add_track(name, 2, 1024);
    }
    let no_transport = TransportInfo::default();
    let mut pos = 0i64;
    let mut arm_pos = 0;
    for cycle in 0..80 {
        for t in 0..3 {
            if cycle == 20 && t == 1 {
                rig.session.set_armed(true);
                arm_pos = pos;
            }
            if cycle == 60 && t == 2 {
                rig.session.set_armed(false);
            }
            rig.process(t, pos, 1024, &no_transport);
        }
        pos += 1024;
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.timeline, Timeline::Free);
    // The free clock started with the session, so it matches the test's own position.
    assert_eq!(m.start_sample, arm_pos);
    assert_eq!(m.length_frames, 40 * 1024);
    assert_every_file_exact(dir, m);
}

#[test]
fn follow_transport_records_one_take_per_play() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 512);
    rig.add_track("B", 2, 512);
    rig.session.set_trigger(TriggerMode::FollowTransport);
    rig.session.set_armed(true);
    let stopped = |pos| TransportInfo {
        playing: false,
        pos_samples: Some(pos),
        ..Default::default()
    };
    let mut free = 0i64;
    let mut run = |rig: &mut Rig, start: Option<i64>, cycles: i64| {
        for c in 0..cycles {
            for t in 0..2 {
                match start {
                    Some(s) => rig.process(t, s + c * 512, 512, &playing(s + c * 512)),
                    None => rig.process(t, 1_000_000 + free, 512, &stopped(0)),
                }
            }
            free += 512;
            pace();
        }
    };
    run(&mut rig, None, 10);
    run(&mut rig, Some(0), 30);
    run(&mut rig, None, 10);
    run(&mut rig, Some(96_000), 20);
    run(&mut rig, None, 10);
    let takes = wait_for_takes(rig.root(), 2);
    let bounds: Vec<(i64, u64)> = takes
        .iter()
        .map(|(_, m)| (m.start_sample, m.length_frames))
        .collect();
    assert_eq!(bounds, [(0, 30 * 512), (96_000, 20 * 512)]);
    for (dir, m) in &takes {
        assert_eq!(m.timeline, Timeline::Host);
        assert_every_file_exact(dir, m);
    }
}

#[test]
fn a_sample_rate_change_finishes_the_take_and_continues_in_a_new_one() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 512);
    rig.add_track("B", 2, 512);
    rig.session.set_armed(true);
    let mut pos = 0i64;
    for _ in 0..20 {
        for t in 0..2 {
            rig.process(t, pos, 512, &playing(pos));
        }
        pos += 512;
        pace();
    }
    // The host reactivates every instance at 96 kHz.
    for t in 0..2 {
        let track = &mut rig.tracks[t];
        track.capture = None;
        track.capture = Some(track.handle.attach(96_000, 2, 512));
    }
    for cycle in 0..30 {
        if cycle == 25 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, pos, 512, &playing(pos));
        }
        pos += 512;
        pace();
    }
    let takes = wait_for_takes(rig.root(), 2);
    let summary: Vec<(u32, i64, u64)> = takes
        .iter()
        .map(|(_, m)| (m.sample_rate, m.start_sample, m.length_frames))
        .collect();
    assert_eq!(
        summary,
        [(48_000, 0, 20 * 512), (96_000, 20 * 512, 25 * 512)]
    );
    let ends: Vec<_> = takes.iter().map(|(_, m)| m.ended_by).collect();
    assert_eq!(
        ends,
        [Some(EndReason::SampleRateChange), Some(EndReason::Disarmed)]
    );
    for (dir, m) in &takes {
        assert_every_file_exact(dir, m);
    }
}

#[test]
fn big_takes_roll_over_into_continuation_files_that_join_exactly() {
    let config = EngineConfig {
        writer: WriterConfig {
            max_wav_data_bytes: 10_000 * 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut rig = Rig::new(config);
    rig.add_track("Long", 2, 1000);
    rig.session.set_armed(true);
    for cycle in 0..40i64 {
        if cycle == 35 {
            rig.session.set_armed(false);
        }
        rig.process(0, cycle * 1000, 1000, &playing(cycle * 1000));
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    let f = &m.files[0];
    assert_eq!(
        f.continuation_paths,
        [
            "Stems/Long (part 2).wav",
            "Stems/Long (part 3).wav",
            "Stems/Long (part 4).wav"
        ]
    );
    let mut joined = Vec::new();
    for path in std::iter::once(&f.path).chain(&f.continuation_paths) {
        joined.extend(read_wav(&dir.join(path)).1);
    }
    assert_eq!(joined.len(), 35_000 * 2);
    for (k, frame) in joined.chunks_exact(2).enumerate() {
        assert_eq!(frame, [signal(0, 0, k as i64), signal(0, 1, k as i64)]);
    }
}

#[test]
fn disarming_while_the_host_processes_nothing_still_finishes_the_take() {
    let config = EngineConfig {
        writer: WriterConfig {
            quiet_after: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut rig = Rig::new(config);
    rig.add_track("A", 2, 512);
    rig.add_track("B", 2, 512);
    rig.session.set_armed(true);
    for cycle in 0..20i64 {
        for t in 0..2 {
            rig.process(t, cycle * 512, 512, &playing(cycle * 512));
        }
        pace();
    }
    // The host's audio engine stops: no more process() calls. The user disarms in the GUI.
    std::thread::sleep(Duration::from_millis(150));
    rig.session.set_armed(false);
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!((m.start_sample, m.length_frames), (0, 20 * 512));
    assert_eq!(m.ended_by, Some(EndReason::Disarmed));
    assert_every_file_exact(dir, m);
}

#[test]
fn unnamed_streams_get_the_lowest_free_track_number() {
    use parking_lot::RwLock;
    use std::sync::Arc;
    use stemtap_engine::{Session, StreamSettings};
    let session = Arc::new(Session::new(EngineConfig::default()));
    let new = || Arc::new(RwLock::new(StreamSettings::default()));
    let a = session.register(new());
    let b = session.register(new());
    drop(a);
    let c = session.register(new());
    let names: Vec<String> = session.streams().iter().map(|s| s.name.clone()).collect();
    assert_eq!(names, ["Track 2", "Track 1"]);
    drop((b, c));
}

#[test]
fn a_track_with_record_enable_off_gets_no_file_and_the_rest_stay_aligned() {
    use std::sync::atomic::Ordering;
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("On", 2, 512);
    rig.add_track("Off", 2, 512);
    rig.tracks[1]
        .handle
        .stats()
        .excluded
        .store(true, Ordering::Relaxed);
    rig.session.set_armed(true);
    for cycle in 0..30i64 {
        if cycle == 25 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, cycle * 512, 512, &playing(cycle * 512));
        }
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.files.len(), 1);
    assert_eq!(m.files[0].stem_name, "On");
    assert_eq!(m.length_frames, 25 * 512);
    assert_content(&dir.join(&m.files[0].path), 0, 0, m.length_frames, |_| {
        false
    });
}

#[test]
fn offline_renders_wait_for_the_writer_instead_of_dropping() {
    // A ring far smaller than what is pushed at once: realtime would drop, offline waits.
    let mut rig = Rig::new(EngineConfig {
        ring_seconds: 0.02,
        ..Default::default()
    });
    rig.add_track("Bounce", 2, 512);
    rig.session.set_armed(true);
    let mut buf = vec![vec![0.0f32; 512]; 2];
    let mut capture = rig.tracks[0].capture.take().unwrap();
    for cycle in 0..400i64 {
        if cycle == 390 {
            rig.session.set_armed(false);
        }
        let pos = cycle * 512;
        for (c, ch) in buf.iter_mut().enumerate() {
            for (i, x) in ch.iter_mut().enumerate() {
                *x = signal(0, c, pos + i as i64);
            }
        }
        capture.capture(&buf, 512, &playing(pos), true);
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.length_frames, 390 * 512);
    assert_eq!(m.files[0].dropped_frames, 0);
    assert_eq!(
        rig.tracks[0]
            .handle
            .stats()
            .dropped_frames
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_every_file_exact(dir, m);
}

#[test]
fn stats_publish_the_running_audio_configuration() {
    use parking_lot::RwLock;
    use std::sync::atomic::Ordering::Relaxed;
    use std::sync::Arc;
    use stemtap_engine::{Session, StreamSettings};
    let session = Arc::new(Session::new(EngineConfig::default()));
    let stream = session.register(Arc::new(RwLock::new(StreamSettings::default())));
    let stats = stream.stats().clone();
    assert_eq!(
        (
            stats.sample_rate.load(Relaxed),
            stats.input_channels.load(Relaxed)
        ),
        (0, 0)
    );
    let capture = stream.attach(96_000, 1, 512);
    assert_eq!(
        (
            stats.sample_rate.load(Relaxed),
            stats.input_channels.load(Relaxed)
        ),
        (96_000, 1)
    );
    drop(capture); // the host deactivated the instance
    assert_eq!(
        (
            stats.sample_rate.load(Relaxed),
            stats.input_channels.load(Relaxed)
        ),
        (0, 0)
    );
}

/// The writer gathers each stream's audio in its ring before writing it (no copy on the
/// way to the file); a ring the host closes in the middle must still be written in full,
/// and the instance's new ring continues in place.
#[test]
fn a_deactivated_instance_keeps_its_gathered_audio_and_resumes_in_place() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("Steady", 2, 512);
    rig.add_track("Reactivated", 2, 512);
    let block = 512i64;
    let at = |cycle: i64| cycle * block;
    rig.session.set_armed(true);
    for cycle in 0..120 {
        if cycle == 50 {
            // The host deactivates the instance (a latency change, a suspended track).
            rig.tracks[1].capture = None;
        }
        if cycle == 70 {
            let capture = rig.tracks[1].handle.attach(RATE, 2, 512);
            rig.tracks[1].capture = Some(capture);
        }
        if cycle == 110 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, at(cycle), block as usize, &playing(at(cycle)));
        }
        pace();
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!((m.start_sample, m.length_frames), (0, 110 * block as u64));
    let file = |name: &str| m.files.iter().find(|f| f.stem_name == name).unwrap();
    assert_content(
        &dir.join(&file("Steady").path),
        0,
        0,
        m.length_frames,
        |_| false,
    );
    assert_content(
        &dir.join(&file("Reactivated").path),
        1,
        0,
        m.length_frames,
        |p| (at(50)..at(70)).contains(&p),
    );
    assert_eq!(file("Reactivated").silent_gap_frames, 20 * block as u64);
}

/// Gathered audio does not wait past a header checkpoint: while the take goes on, a crash
/// loses no more than before gathering (the header covers everything decided).
#[test]
fn header_checkpoints_cover_gathered_audio_while_recording() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("Vox", 2, 512);
    rig.session.set_armed(true);
    // 2.67 s of audio, not a whole number of gathers; then the host stops calling
    // process() while the session stays armed, so the take stays open.
    let blocks = 250i64;
    for cycle in 0..blocks {
        rig.process(0, cycle * 512, 512, &playing(cycle * 512));
        if cycle % 16 == 0 {
            pace();
        }
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut on_disk = 0;
    while on_disk < blocks as u32 * 512 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
        let files = all_files_under(rig.root());
        let Some(path) = files.iter().find(|p| p.ends_with("Vox.wav")) else {
            continue;
        };
        on_disk = hound::WavReader::open(path).map_or(0, |r| r.duration());
    }
    assert_eq!(
        on_disk,
        blocks as u32 * 512,
        "frames the header covers mid-take"
    );
    rig.session.set_armed(false);
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.length_frames, blocks as u64 * 512);
    assert_every_file_exact(dir, m);
}
