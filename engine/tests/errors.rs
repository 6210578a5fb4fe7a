//! Bad input must give a clear error and lose nothing else: hostile names, unusable output
//! folders, and a file that cannot be written any further (as on a full disk).

mod common;

use common::*;
use std::time::Duration;
use stemtap_engine::{EngineConfig, SessionSettings};

fn record_blocks(rig: &mut Rig, cycles: i64, block: usize) {
    rig.session.set_armed(true);
    for cycle in 0..cycles {
        if cycle == cycles - 5 {
            rig.session.set_armed(false);
        }
        let pos = cycle * block as i64;
        for t in 0..rig.tracks.len() {
            rig.process(t, pos, block, &playing(pos));
        }
        std::thread::sleep(Duration::from_micros(300));
    }
}

/// The session's errors as the banner words them, one per line.
fn banner_text(rig: &Rig) -> String {
    let errors = rig.session.status().errors;
    let lines: Vec<String> = errors.iter().map(|e| e.describe(None)).collect();
    lines.join("\n")
}

#[test]
fn hostile_stem_names_stay_inside_the_take_folder() {
    let mut rig = Rig::new(EngineConfig::default());
    let long = "a".repeat(500);
    let names = [
        "../../x",
        "CON",
        "",
        long.as_str(),
        "🥁 Drums",
        "a/b\\c",
        "kick",
        "Kick",
    ];
    for name in names {
        rig.add_track(name, 2, 512);
    }
    record_blocks(&mut rig, 30, 512);
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    let mut paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
    paths.sort();
    let long_name = format!("Stems/{}.wav", "a".repeat(64));
    let mut want = vec![
        "Stems/_.._x.wav",
        "Stems/_CON.wav",
        "Stems/Track 3.wav",
        long_name.as_str(),
        "Stems/🥁 Drums.wav",
        "Stems/a_b_c.wav",
        "Stems/kick.wav",
        "Stems/Kick 2.wav",
    ];
    want.sort();
    assert_eq!(paths, want);
    // Everything written is inside the take folder, and nothing else was written at the root.
    let root_entries: Vec<_> = std::fs::read_dir(rig.root()).unwrap().collect();
    assert_eq!(root_entries.len(), 1);
    let files = all_files_under(dir);
    assert_eq!(files.len(), names.len() + 1, "{files:?}");
    assert_every_file_exact(dir, m);
}

#[test]
fn an_unusable_output_folder_is_reported_and_the_next_take_works() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("A", 2, 512);
    let not_a_folder = rig.root().join("a file");
    std::fs::write(&not_a_folder, b"x").unwrap();
    rig.session.set_settings(SessionSettings {
        output_root: Some(not_a_folder.clone()),
        ..Default::default()
    });
    record_blocks(&mut rig, 30, 512);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while rig.session.status().errors.is_empty() {
        assert!(std::time::Instant::now() < deadline, "no error reported");
        std::thread::sleep(Duration::from_millis(10));
    }
    let error = banner_text(&rig);
    assert!(
        error.contains("Cannot create a take folder") && error.contains("a file"),
        "{error}"
    );
    assert_eq!(
        std::fs::read(&not_a_folder).unwrap(),
        b"x",
        "the file in the way is untouched"
    );

    // The user picks a folder that does not exist yet: it is created and the take works.
    let fresh = rig.root().join("new/folder");
    rig.session.set_settings(SessionSettings {
        output_root: Some(fresh.clone()),
        ..Default::default()
    });
    let mut pos = 30 * 512;
    rig.session.set_armed(true);
    for cycle in 0..30 {
        if cycle == 25 {
            rig.session.set_armed(false);
        }
        rig.process(0, pos, 512, &playing(pos));
        pos += 512;
        std::thread::sleep(Duration::from_micros(300));
    }
    let takes = wait_for_takes(&fresh, 1);
    assert_eq!(takes[0].1.length_frames, 25 * 512);
}

/// Runs in a child process whose files may not grow past 256 KiB (RLIMIT_FSIZE), the way a
/// full disk stops one file: writes fail with an error instead of completing.
#[test]
fn a_file_that_cannot_be_written_is_finished_and_the_others_keep_recording() {
    if std::env::var_os("STEMTAP_FSIZE_CHILD").is_some() {
        return fsize_child();
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_file_that_cannot_be_written_is_finished_and_the_others_keep_recording",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("STEMTAP_FSIZE_CHILD", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fsize_child() {
    // SAFETY: plain libc calls on this process only, before any file is opened.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: 256 * 1024,
            rlim_max: 256 * 1024,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("Big", 2, 512); // 8 bytes a frame: hits the limit
    rig.add_track("Small", 1, 512); // 4 bytes a frame: stays under it
    record_blocks(&mut rig, 70, 512); // 65 * 512 frames recorded
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert_eq!(m.length_frames, 65 * 512);
    let big = m.files.iter().find(|f| f.stem_name == "Big").unwrap();
    let small = m.files.iter().find(|f| f.stem_name == "Small").unwrap();
    assert!(
        !big.errors.is_empty(),
        "the failing file must carry its error"
    );
    assert!(small.errors.is_empty());
    assert_content(
        &dir.join(&small.path),
        1,
        m.start_sample,
        m.length_frames,
        |_| false,
    );
    // The failed file is readable up to where it got, and what it has is right.
    let (channels, samples) = read_wav(&dir.join(&big.path));
    assert_eq!(channels, 2);
    let frames = samples.len() / 2;
    assert!(frames > 20_000 && frames < 65 * 512, "{frames} frames");
    for (k, frame) in samples.chunks_exact(2).enumerate() {
        assert_eq!(frame, [signal(0, 0, k as i64), signal(0, 1, k as i64)]);
    }
    let banner = banner_text(&rig);
    assert!(banner.contains("Big"), "{banner}");
    let big_id = rig.tracks[0].handle.id();
    assert!(
        rig.session.status().stream_error(big_id).is_some(),
        "the write error is Big's, for its row in the GUI"
    );
    assert!(rig
        .session
        .status()
        .stream_error(rig.tracks[1].handle.id())
        .is_none());
}
