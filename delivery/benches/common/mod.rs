//! Shared by the delivery benchmarks: quick mode, where results go, and the synthetic take
//! they measure.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const RATE: u32 = 48_000;
/// Files in the benchmark take: seven stems and their mix.
pub const TRACKS: usize = 8;

/// `STEMTAP_BENCH_QUICK=1`: shorter runs, for a smoke test.
pub fn quick() -> bool {
    std::env::var("STEMTAP_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Workspace `target/` (or `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A take of `TRACKS` stereo float files of noise-like music, `seconds` long: stems and
/// a mix that is their sum (so the null test passes, as on a clean master bus).
pub fn make_take(dir: &Path, seconds: u32) {
    let frames = (RATE * seconds) as usize;
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    std::fs::create_dir_all(dir.join("Stems")).unwrap();
    let mut files = Vec::new();
    let mut mix = vec![0.0f32; 2 * frames];
    for t in 0..TRACKS {
        let (path, role) = if t == TRACKS - 1 {
            ("Mix.wav".to_string(), "mix")
        } else {
            (format!("Stems/Track {t}.wav"), "stem")
        };
        let mut w = hound::WavWriter::create(dir.join(&path), spec).unwrap();
        let mut x = 0x9E37_79B9u32.wrapping_mul(t as u32 + 1);
        for (i, m) in mix.iter_mut().enumerate() {
            let s = if role == "mix" {
                *m
            } else {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let v = ((x % 20_000) as f32 / 10_000.0 - 1.0) * 0.1 * (i as f32 * 0.0001).sin();
                *m += v;
                v
            };
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        files.push(serde_json::json!({
            "path": path, "continuation_paths": [], "stem_name": format!("Track {t}"),
            "role": role, "channel_mode": "stereo", "channels": 2, "dropped_frames": 0,
            "silent_gap_frames": 0, "peak": 0.5, "peak_dbfs": -6.0, "clipped_samples": 0,
            "channels_identical": null, "offset_samples": 0, "errors": []
        }));
    }
    let manifest = serde_json::json!({
        "format_version": 1, "generator": "bench", "take": "bench", "complete": true,
        "sample_rate": RATE, "sample_format": "float32", "timeline": "host",
        "start_sample": 0, "start_seconds": 0.0, "length_frames": frames,
        "length_seconds": seconds, "tempo_bpm": null, "time_signature": null,
        "start_beats": null, "start_bar_beat": null, "ended_by": "disarmed",
        "segments": [], "files": files, "errors": []
    });
    std::fs::write(dir.join("take.json"), manifest.to_string()).unwrap();
}
