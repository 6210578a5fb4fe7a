//! The audio-thread path must never allocate. This test installs the allocator nice-plug's
//! `assert_process_allocs` feature installs in the plugin: it aborts on any allocation inside
//! `assert_no_alloc` (debug builds), which is how the real `process()` runs in the
//! end-to-end tests too.

use nice_assert_no_alloc::{assert_no_alloc, AllocDisabler};
use parking_lot::RwLock;
use std::sync::Arc;
use stemtap_engine::{EngineConfig, Session, StreamSettings, TransportInfo};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

#[test]
fn the_capture_path_never_allocates_whatever_the_host_sends() {
    let dir = tempfile::tempdir().unwrap();
    let session = Arc::new(Session::new(EngineConfig {
        ring_seconds: 0.1,
        ..Default::default()
    }));
    let mut settings = session.settings().read().clone();
    settings.output_root = Some(dir.path().to_path_buf());
    session.set_settings(settings);
    let stream = session.register(Arc::new(RwLock::new(StreamSettings::default())));
    let mut capture = stream.attach(48_000, 2, 4096);
    let block = vec![vec![0.25f32; 65_536]; 2];
    let transports = [
        TransportInfo {
            playing: true,
            pos_samples: Some(0),
            tempo: Some(120.0),
            pos_beats: Some(0.0),
            time_sig: Some((4, 4)),
            ..Default::default()
        },
        TransportInfo::default(),
        TransportInfo {
            playing: false,
            pos_samples: Some(1234),
            ..Default::default()
        },
        TransportInfo {
            playing: true,
            recording: true,
            pos_samples: Some(-500),
            ..Default::default()
        },
    ];
    assert_no_alloc(|| {
        let mut pos = 0i64;
        for round in 0..400 {
            // Odd block sizes, a block larger than the announced maximum, and enough audio
            // to overrun the small ring (drops are counted, not allocated).
            let frames = [0usize, 1, 3, 512, 4096, 65_536][round % 6];
            session.set_armed(round % 7 < 5);
            let mut transport = transports[round % transports.len()];
            if transport.playing {
                transport.pos_samples = Some(pos);
            }
            capture.capture(&block, frames, &transport, false);
            pos += frames as i64;
        }
    });
    // The writer really ran alongside (the test is not vacuous): something was recorded.
    drop(capture);
    drop(stream);
    drop(session);
    assert!(std::fs::read_dir(dir.path()).unwrap().count() > 0);
}

/// Proves the guard is live in this test binary: a child process allocates inside
/// `assert_no_alloc` and must die for it.
#[test]
fn the_allocation_guard_is_live() {
    if std::env::var_os("STEMTAP_ALLOC_CANARY").is_some() {
        assert_no_alloc(|| std::hint::black_box(vec![1u8; 64]));
        return;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "the_allocation_guard_is_live",
            "--test-threads=1",
        ])
        .env("STEMTAP_ALLOC_CANARY", "1")
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(
        !status.success(),
        "allocating inside assert_no_alloc did not abort: the guard is off"
    );
}
