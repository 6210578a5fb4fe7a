//! Bounces a host reports as realtime (Ardour 7.3's export): several instances are driven
//! faster than real time with `offline = false`, and the captures must notice, wait for the
//! writer instead of dropping, and never do so while the host plays in real time.

mod common;

use common::*;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use stemtap_engine::{EngineConfig, WriterConfig};

const BLOCK: usize = 512;
const TRACKS: [&str; 4] = ["Kick", "Snare", "Bass", "Keys"];

/// A host's schedule: block `k` is due once `k` blocks of audio have played at `speed` x
/// real time. Late, it catches up at once, but never by more than 100 ms (a real-time host
/// that falls further behind loses the time, as in an xrun), so a test thread the machine
/// deschedules does not turn into a burst no real host sends.
struct Schedule {
    start: Instant,
    speed: f64,
    /// Audio (frames) the schedule has been moved on by after falling too far behind.
    skipped_frames: u64,
}

impl Schedule {
    fn new(speed: f64) -> Self {
        Self {
            start: Instant::now(),
            speed,
            skipped_frames: 0,
        }
    }

    /// Sleep until `frames` frames of audio are due.
    fn wait_until_due(&mut self, frames: u64) {
        let due = |s: &Self| {
            let audio = (frames + s.skipped_frames) as f64 / RATE as f64;
            s.start + Duration::from_secs_f64(audio / s.speed)
        };
        let now = Instant::now();
        if let Some(late) = now.checked_duration_since(due(self)) {
            let max_late = Duration::from_millis(100);
            if late > max_late {
                let skip = (late - max_late).as_secs_f64() * self.speed * RATE as f64;
                self.skipped_frames += skip as u64;
            }
        } else {
            std::thread::sleep(due(self) - now);
        }
    }
}

fn rig_with_small_rings(writer: WriterConfig) -> Rig {
    let mut rig = Rig::new(EngineConfig {
        ring_seconds: 0.5,
        writer,
    });
    for name in TRACKS {
        rig.add_track(name, 2, BLOCK as u32);
    }
    rig
}

fn rendering_fast(rig: &Rig, t: usize) -> bool {
    rig.tracks[t].capture.as_ref().unwrap().rendering_fast()
}

#[test]
fn a_20x_bounce_the_host_calls_realtime_drops_nothing_with_half_second_rings() {
    bounce_at_20x_then_play(WriterConfig::default());
}

/// With the default writer (polls every 5 ms) the rings above never fill, even without
/// render mode. Here the writer polls every 40 ms (busy with other streams, a slow disk):
/// 40 ms at 20x is 0.8 s of audio, more than the ring holds, so nothing is lost only because
/// the captures wait for it.
#[test]
fn a_20x_bounce_waits_for_a_writer_that_drains_late() {
    bounce_at_20x_then_play(WriterConfig {
        poll_interval: Duration::from_millis(40),
        ..Default::default()
    });
}

/// Four stereo tracks with 0.5 s rings render 10 s at 20x real time, `offline = false`, then
/// play 0.75 s in real time. Nothing may be dropped; render mode must engage within its
/// first window and end within two windows of real time.
fn bounce_at_20x_then_play(writer: WriterConfig) {
    let mut rig = rig_with_small_rings(writer);
    let start_pos = 48_000i64;
    let blocks = 10 * RATE as usize / BLOCK + 1; // 10 s of audio
    let mut detected_at = [None::<usize>; TRACKS.len()];
    rig.session.set_armed(true);
    let mut render = Schedule::new(20.0);
    for k in 0..blocks {
        render.wait_until_due((k * BLOCK) as u64);
        let pos = start_pos + (k * BLOCK) as i64;
        for (t, detected) in detected_at.iter_mut().enumerate() {
            rig.process(t, pos, BLOCK, &playing(pos));
            if rendering_fast(&rig, t) && detected.is_none() {
                *detected = Some(k);
            }
        }
    }
    let render_wall = render.start.elapsed();
    let end_pos = start_pos + (blocks * BLOCK) as i64;
    rig.session.set_armed(false);

    // The host stops rendering and plays in real time: render mode ends within two windows
    // of 250 ms (the first may straddle the change) and stays off.
    let mut playback = Schedule::new(1.0);
    let playback_blocks = (0.75 * RATE as f64 / BLOCK as f64) as usize;
    let mut left_at = [None::<usize>; TRACKS.len()];
    for k in 0..playback_blocks {
        playback.wait_until_due((k * BLOCK) as u64);
        let pos = end_pos + (k * BLOCK) as i64;
        for (t, left) in left_at.iter_mut().enumerate() {
            rig.process(t, pos, BLOCK, &playing(pos));
            match (rendering_fast(&rig, t), *left) {
                (false, None) => *left = Some(k),
                (true, Some(at)) => panic!("track {t} re-entered render mode at {k} after {at}"),
                _ => {}
            }
        }
    }

    // The test really rendered fast, and every capture noticed within its first window
    // (0.35 s of audio: the entry excess for a 0.5 s ring is 0.28 s, reached after 0.31 s at
    // 20x, counted one block late).
    assert!(
        render_wall < Duration::from_secs(5),
        "the render took {render_wall:?}: not faster than real time"
    );
    for (t, at) in detected_at.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("track {t} never entered render mode"));
        assert!(
            at * BLOCK <= 16_800,
            "track {t} entered render mode at block {at}"
        );
    }
    for (t, at) in left_at.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("track {t} stayed in render mode"));
        assert!(
            at * BLOCK <= 24_000 + 2 * BLOCK,
            "track {t} left render mode at block {at}"
        );
    }

    let takes = wait_for_takes(rig.root(), 1);
    assert_eq!(takes.len(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(
        (m.start_sample, m.length_frames),
        (start_pos, (end_pos - start_pos) as u64)
    );
    assert_eq!(m.files.len(), TRACKS.len());
    for f in &m.files {
        assert_eq!(
            (f.dropped_frames, f.silent_gap_frames),
            (0, 0),
            "{}",
            f.path
        );
    }
    assert_every_file_exact(dir, m);
    for track in &rig.tracks {
        assert_eq!(
            track.handle.stats().dropped_frames.load(Ordering::Relaxed),
            0
        );
    }
}

#[test]
fn real_time_playback_never_enters_render_mode() {
    let mut rig = rig_with_small_rings(WriterConfig::default());
    rig.session.set_armed(true);
    let mut playback = Schedule::new(1.0);
    let blocks = (1.5 * RATE as f64 / BLOCK as f64) as usize;
    for k in 0..blocks {
        // Hosts prefill: the first three blocks come back to back.
        if k >= 3 {
            playback.wait_until_due(((k - 2) * BLOCK) as u64);
        }
        let pos = (k * BLOCK) as i64;
        for t in 0..TRACKS.len() {
            rig.process(t, pos, BLOCK, &playing(pos));
            assert!(
                !rendering_fast(&rig, t),
                "track {t} entered render mode at block {k} in real time"
            );
        }
    }
    // The playback really was real time (not slower than half speed).
    let audio = Duration::from_secs_f64((blocks * BLOCK) as f64 / RATE as f64);
    assert!(playback.start.elapsed() < audio * 2);
    rig.session.set_armed(false);
}
