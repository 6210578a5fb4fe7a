//! Each check against a crafted take: a file made to trip it gets the warning or failure,
//! and a clean file gets none. The take folders are written here with hound and a
//! hand-made take.json, the way StemTap writes them.

use serde_json::json;
use std::path::Path;
use stemtap_delivery::checks::Level;
use stemtap_delivery::{check_take, Take};

const RATE: u32 = 48_000;

fn write(path: &Path, channels: u16, bits: u16, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let float = bits == 32;
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for &x in samples {
        if float {
            w.write_sample(x).unwrap();
        } else {
            w.write_sample((x.clamp(-1.0, 1.0) * 8_388_607.0) as i32)
                .unwrap();
        }
    }
    w.finalize().unwrap();
}

/// A clean stereo signal: a 220 Hz/330 Hz tone at about -12 dBFS, faded in and out over
/// 100 ms with 50 ms of silence at each end, as a well-trimmed file is.
fn clean(frames: usize) -> Vec<f32> {
    let fade = (RATE / 10) as f32;
    let pad = (RATE / 20) as usize;
    (0..frames)
        .flat_map(|i| {
            let t = i as f32 / RATE as f32;
            let from_edge = i.min(frames - 1 - i).saturating_sub(pad);
            let env = (from_edge as f32 / fade).min(1.0);
            let l = 0.25 * env * (2.0 * std::f32::consts::PI * 220.0 * t).sin();
            let r = 0.25 * env * (2.0 * std::f32::consts::PI * 330.0 * t).sin();
            [l, r]
        })
        .collect()
}

struct Spec {
    path: &'static str,
    role: &'static str,
    channels: u16,
    samples: Vec<f32>,
    dropped: u64,
}

/// Write a take folder with these files (24-bit when `bits` is 24) and its take.json.
fn take(dir: &Path, files: &[Spec], bits: u16, frames: u64) -> Take {
    let mut entries = Vec::new();
    for f in files {
        write(&dir.join(f.path), f.channels, bits, &f.samples);
        entries.push(json!({
            "path": f.path, "continuation_paths": [], "stem_name": f.path,
            "role": f.role, "channel_mode": "stereo", "channels": f.channels,
            "dropped_frames": f.dropped, "silent_gap_frames": 0, "peak": 0.5,
            "peak_dbfs": -6.0, "clipped_samples": 0, "channels_identical": null,
            "offset_samples": 0, "errors": []
        }));
    }
    let manifest = json!({
        "format_version": 1, "generator": "StemTap test", "take": "Take 1",
        "complete": true, "sample_rate": RATE,
        "sample_format": if bits == 32 { "float32" } else { "int24" },
        "timeline": "host", "start_sample": 0, "start_seconds": 0.0,
        "length_frames": frames, "length_seconds": frames as f64 / RATE as f64,
        "tempo_bpm": null, "time_signature": null, "start_beats": null,
        "start_bar_beat": null, "ended_by": "disarmed",
        "segments": [{"frame": 0, "timeline": "host", "start_sample": 0,
                      "start_seconds": 0.0, "start_beats": null, "start_bar_beat": null}],
        "files": entries, "errors": []
    });
    std::fs::write(dir.join("take.json"), manifest.to_string()).unwrap();
    Take::open(dir).unwrap()
}

/// The checks a file's findings name, at `level` or worse.
fn checks_of(report: &stemtap_delivery::TakeReport, path: &str, level: Level) -> Vec<&'static str> {
    let f = report.files.iter().find(|f| f.path == path).unwrap();
    f.findings
        .iter()
        .filter(|x| x.level >= level)
        .map(|x| x.check)
        .collect()
}

#[test]
fn every_check_trips_on_the_file_made_for_it_and_only_there() {
    let dir = tempfile::tempdir().unwrap();
    let n = RATE as usize * 2;
    let stereo = |path, samples| Spec {
        path,
        role: "multitrack",
        channels: 2,
        samples,
        dropped: 0,
    };
    // Loud up to the last frame: a tone that never fades out.
    let mut cut_tail = clean(n);
    for (i, x) in cut_tail[2 * (n - 2_000)..].iter_mut().enumerate() {
        *x = 0.3 * (i as f32 * 0.05).sin();
    }
    let mut no_attack = clean(n);
    no_attack[0] = 0.5;
    no_attack[1] = 0.5;
    let mut clipped = clean(n);
    clipped[5_000] = 1.0;
    clipped[5_002] = -1.0;
    let dc: Vec<f32> = clean(n).iter().map(|x| x + 0.01).collect();
    let mono_in_stereo: Vec<f32> = clean(n).chunks(2).flat_map(|f| [f[0], f[0]]).collect();
    let mut dropped = stereo("Multitracks/08 Dropped.wav", clean(n));
    dropped.dropped = 512;
    let files = vec![
        stereo("Multitracks/01 Clean.wav", clean(n)),
        stereo("Multitracks/02 Silent.wav", vec![0.0; 2 * n]),
        stereo("Multitracks/03 Tail.wav", cut_tail),
        stereo("Multitracks/04 Attack.wav", no_attack),
        stereo("Multitracks/05 Clipped.wav", clipped),
        stereo("Multitracks/06 DC.wav", dc),
        stereo("Multitracks/07 Mono.wav", mono_in_stereo),
        dropped,
    ];
    let t = take(dir.path(), &files, 24, n as u64);
    let r = check_take(&t);
    let warn = |p| checks_of(&r, p, Level::Warn);
    assert_eq!(warn("Multitracks/01 Clean.wav"), Vec::<&str>::new());
    assert_eq!(warn("Multitracks/02 Silent.wav"), ["silent"]);
    assert_eq!(warn("Multitracks/03 Tail.wav"), ["tail_cut"]);
    assert_eq!(warn("Multitracks/04 Attack.wav"), ["attack_missing"]);
    // 24-bit: samples at full scale are clipped, a failure; the true peak is over too.
    assert_eq!(
        checks_of(&r, "Multitracks/05 Clipped.wav", Level::Fail),
        ["clipped"]
    );
    assert_eq!(warn("Multitracks/06 DC.wav"), ["dc_offset", "dc_offset"]);
    assert_eq!(warn("Multitracks/07 Mono.wav"), ["identical_channels"]);
    assert_eq!(
        checks_of(&r, "Multitracks/08 Dropped.wav", Level::Fail),
        ["dropped"]
    );
    assert_eq!(r.verdict, Level::Fail);
    assert_eq!(r.read_errors, 0);
}

#[test]
fn lengths_rates_and_a_missing_file_are_take_failures() {
    let dir = tempfile::tempdir().unwrap();
    let n = RATE as usize;
    let files = vec![
        Spec {
            path: "Stems/A.wav",
            role: "stem",
            channels: 2,
            samples: clean(n),
            dropped: 0,
        },
        Spec {
            path: "Stems/Short.wav",
            role: "stem",
            channels: 2,
            samples: clean(n - 100),
            dropped: 0,
        },
    ];
    let t = take(dir.path(), &files, 32, n as u64);
    let r = check_take(&t);
    assert!(r
        .take_findings
        .iter()
        .any(|f| f.check == "length" && f.level == Level::Fail && f.message.contains("Short.wav")));
    assert!(!r.take_findings.iter().any(|f| f.check == "recovered"));

    // A take stemtap repair made whole says so.
    let path = dir.path().join("take.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["recovered"] = serde_json::Value::Bool(true);
    std::fs::write(&path, m.to_string()).unwrap();
    let r = check_take(&Take::open(dir.path()).unwrap());
    assert!(r
        .take_findings
        .iter()
        .any(|f| f.check == "recovered" && f.level == Level::Warn));

    std::fs::remove_file(dir.path().join("Stems/A.wav")).unwrap();
    let r = check_take(&t);
    assert_eq!(r.read_errors, 1);
    assert_eq!(r.verdict, Level::Fail);
}

#[test]
fn the_null_test_reports_a_mix_that_is_not_the_sum_of_its_stems() {
    let dir = tempfile::tempdir().unwrap();
    let n = RATE as usize;
    let a = clean(n);
    let b: Vec<f32> = clean(n).iter().map(|x| x * 0.5).collect();
    let sum: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    let limited: Vec<f32> = sum.iter().map(|x| x.clamp(-0.3, 0.3)).collect();
    let spec = |path, role, samples| Spec {
        path,
        role,
        channels: 2,
        samples,
        dropped: 0,
    };
    let files = vec![
        spec("Stems/A.wav", "stem", a.clone()),
        spec("Stems/B.wav", "stem", b.clone()),
        spec("Mix.wav", "mix", sum),
    ];
    let r = check_take(&take(dir.path(), &files, 32, n as u64));
    let null = r
        .take_findings
        .iter()
        .find(|f| f.check == "null_test")
        .unwrap();
    assert_eq!(null.level, Level::Ok, "{}", null.message);
    assert!(r.null_test.unwrap().residual_db.is_none_or(|d| d < -120.0));

    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        spec("Stems/A.wav", "stem", a),
        spec("Stems/B.wav", "stem", b),
        spec("Mix.wav", "mix", limited),
    ];
    let r = check_take(&take(dir.path(), &files, 32, n as u64));
    let null = r
        .take_findings
        .iter()
        .find(|f| f.check == "null_test")
        .unwrap();
    assert_eq!(null.level, Level::Warn);
    let residual = r.null_test.unwrap().residual_db.unwrap();
    assert!(residual > -40.0 && residual < -3.0, "{residual}");
}
