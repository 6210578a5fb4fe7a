//! `repair` on crafted crash leftovers: takes written with the engine's own `WavSink`
//! through header checkpoints, whose files are copied at arbitrary moments exactly as a
//! killed process leaves them on disk (the header as of the last checkpoint, every byte
//! the OS accepted after it, nothing of what sat in the sink's buffer), with a take.json
//! that says `complete: false`. Every repaired file is read back with hound and with
//! `delivery::read`, and compared byte for byte with what the same sink wrote when it was
//! allowed to finish.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use stemtap_delivery::read::WavBlocks;
use stemtap_delivery::repair::{self, find, Action, RepairError};
use stemtap_engine::settings::SampleFormat;
use stemtap_engine::take_lock::TakeLock;
use stemtap_engine::wav::{SinkSpec, WavSink, MAX_WAV_DATA_BYTES};

const RATE: u32 = 48_000;
/// Where the take's second segment starts (a marker in every file).
const MARKER: u64 = 70_000;

/// A tiny deterministic generator (xorshift64*), so failures reproduce from the seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Input sample of file `file`, channel `ch`, frame `k`: distinct, never zero, in (-0.9, 0.9).
fn signal(file: usize, ch: usize, k: u64) -> f32 {
    let mut x = k ^ ((file as u64) << 40) ^ ((ch as u64) << 56) ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    ((x % 18_000) as f32 + 0.5) / 10_000.0 - 0.9
}

/// The files of the crafted take: (relative path without .wav, channels).
const FILES: [(&str, u16); 4] = [
    ("Stems/Drums", 2),
    ("Stems/Bass", 1),
    ("Multitracks/01 Vox", 1),
    ("Mix", 2),
];

/// A take being written by sinks, as the writer would, with a fake clock for checkpoints.
struct Rig {
    live: tempfile::TempDir,
    sinks: Vec<WavSink>,
    format: SampleFormat,
    clock: Instant,
    written: u64,
}

impl Rig {
    fn new(format: SampleFormat) -> Rig {
        let live = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(live.path().join("Stems")).unwrap();
        std::fs::create_dir_all(live.path().join("Multitracks")).unwrap();
        let sinks = FILES
            .iter()
            .map(|(rel, ch)| {
                let mut sink = WavSink::create(SinkSpec {
                    take_dir: live.path().to_path_buf(),
                    rel_base: rel.to_string(),
                    channels: *ch,
                    sample_rate: RATE,
                    format,
                    max_data_bytes: MAX_WAV_DATA_BYTES,
                })
                .unwrap();
                sink.add_cue(MARKER, "Segment 2");
                sink
            })
            .collect();
        Rig {
            live,
            sinks,
            format,
            clock: Instant::now(),
            written: 0,
        }
    }

    /// `frames` more frames into every file, in lockstep.
    fn write(&mut self, frames: u64) {
        for (f, sink) in self.sinks.iter_mut().enumerate() {
            let ch = sink.channels() as usize;
            let samples: Vec<f32> = (self.written..self.written + frames)
                .flat_map(|k| (0..ch).map(move |c| signal(f, c, k)))
                .collect();
            sink.write(&samples);
        }
        self.written += frames;
    }

    /// One second later on the fake clock: the next checkpoint of every sink is due.
    fn tick(&mut self) {
        self.clock += Duration::from_millis(1_001);
    }

    /// Copy the take as a kill leaves it into a new folder: the files' bytes as the OS
    /// has them now, and take.json (incomplete, as written at a segment start).
    fn snapshot(&self, into: &Path) -> PathBuf {
        let dir = into.join(format!(
            "Take {}",
            std::fs::read_dir(into).unwrap().count() + 1
        ));
        for (rel, _) in FILES {
            let to = dir.join(format!("{rel}.wav"));
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(self.live.path().join(format!("{rel}.wav")), to).unwrap();
        }
        write_manifest(&dir, self.format);
        dir
    }
}

/// take.json as the writer leaves it mid-take: complete false, length 0, two segments.
fn write_manifest(dir: &Path, format: SampleFormat) {
    let files: Vec<Value> = FILES
        .iter()
        .map(|(rel, ch)| {
            let role = if rel.starts_with("Stems") {
                "stem"
            } else if rel.starts_with("Multi") {
                "multitrack"
            } else {
                "mix"
            };
            json!({
                "path": format!("{rel}.wav"), "continuation_paths": [],
                "stem_name": rel.rsplit('/').next().unwrap(), "role": role,
                "channel_mode": "stereo", "channels": ch, "dropped_frames": 0,
                "silent_gap_frames": 0, "peak": 0.0, "peak_dbfs": null, "clipped_samples": 0,
                "channels_identical": null, "offset_samples": 0, "errors": [],
                "a_future_field": "kept"
            })
        })
        .collect();
    let seg = |frame: u64, start: i64| {
        json!({"frame": frame, "timeline": "host", "start_sample": start,
               "start_seconds": start as f64 / RATE as f64, "start_beats": null,
               "start_bar_beat": null})
    };
    let m = json!({
        "format_version": 1, "generator": "StemTap test", "take": dir.file_name().unwrap().to_str(),
        "complete": false, "sample_rate": RATE, "sample_format": format,
        "timeline": "host", "start_sample": 1000, "start_seconds": 1000.0 / RATE as f64,
        "length_frames": 0, "length_seconds": 0.0, "tempo_bpm": null, "time_signature": null,
        "start_beats": null, "start_bar_beat": null, "ended_by": null,
        "segments": [seg(0, 1000), seg(MARKER, 500_000)], "files": files, "errors": []
    });
    std::fs::write(
        dir.join("take.json"),
        serde_json::to_vec_pretty(&m).unwrap(),
    )
    .unwrap();
}

/// Where the audio starts in a file StemTap wrote (found independently of the repair code).
fn data_at(bytes: &[u8]) -> usize {
    bytes
        .windows(4)
        .position(|w| w == b"data")
        .expect("a data chunk")
        + 8
}

/// Frames of a file by its raw length: every whole frame after the header.
fn whole_frames(bytes: &[u8], block_align: usize) -> u64 {
    ((bytes.len() - data_at(bytes)) / block_align) as u64
}

/// The cue points (frames, labels) of a file, from its chunks after the data.
fn cues(bytes: &[u8]) -> Vec<(u32, String)> {
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let data = data_at(bytes);
    let size = if &bytes[..4] == b"RF64" {
        u64::from_le_bytes(bytes[28..36].try_into().unwrap()) as usize
    } else {
        u32_at(data - 4) as usize
    };
    let mut at = data + size + size % 2;
    let riff_end = 8 + u32_at(4) as usize;
    assert_eq!(riff_end, bytes.len(), "the RIFF size counts the whole file");
    let mut frames = Vec::new();
    let mut labels = Vec::new();
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let len = u32_at(at + 4) as usize;
        if id == b"cue " {
            for i in 0..u32_at(at + 8) as usize {
                frames.push(u32_at(at + 12 + 24 * i + 4));
            }
        } else if id == b"LIST" {
            let mut l = at + 12;
            while l < at + 8 + len {
                let n = u32_at(l + 4) as usize;
                labels.push(String::from_utf8_lossy(&bytes[l + 12..l + 8 + n - 1]).into_owned());
                l += 8 + n + n % 2;
            }
        }
        at += 8 + len + len % 2;
    }
    frames.into_iter().zip(labels).collect()
}

fn block_align(format: SampleFormat, channels: u16) -> usize {
    format.bytes_per_sample() as usize * channels as usize
}

/// Everything a repaired take must be: complete and recovered, every file `length` frames
/// by hound and by `delivery::read`, its audio bytes equal to `reference`'s (the finished
/// file of the same sink), its marker present when inside the length.
fn check_repaired(dir: &Path, reference: &Path, format: SampleFormat, length: u64) {
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("take.json")).unwrap()).unwrap();
    assert_eq!(m["complete"], true, "{m}");
    assert_eq!(m["recovered"], true);
    assert_eq!(m["ended_by"], Value::Null);
    assert_eq!(m["length_frames"], length);
    assert_eq!(m["recovery"]["length_frames"], length);
    assert_eq!(
        m["files"][0]["a_future_field"], "kept",
        "unknown fields survive"
    );
    let want_segments = if MARKER < length { 2 } else { 1 };
    assert_eq!(m["segments"].as_array().unwrap().len(), want_segments);
    // The typed reader accepts the recovered take.json.
    stemtap_delivery::Take::open(dir).unwrap();
    for (i, (rel, ch)) in FILES.iter().enumerate() {
        let path = dir.join(format!("{rel}.wav"));
        let bytes = std::fs::read(&path).unwrap();
        let full = std::fs::read(reference.join(format!("{rel}.wav"))).unwrap();
        let ba = block_align(format, *ch);
        let reader = hound::WavReader::open(&path).unwrap();
        assert_eq!(reader.duration() as u64, length, "{rel}: hound's length");
        let samples = reader.len() as usize;
        match format {
            SampleFormat::Float32 => {
                let got: Vec<f32> = reader.into_samples::<f32>().map(Result::unwrap).collect();
                assert_eq!(got.len(), samples);
            }
            _ => {
                let got: Vec<i32> = reader.into_samples::<i32>().map(Result::unwrap).collect();
                assert_eq!(got.len(), samples);
            }
        }
        let mut blocks = WavBlocks::open(&path).unwrap();
        assert_eq!(
            blocks.format.frames, length,
            "{rel}: delivery::read's length"
        );
        let mut n = 0;
        while let Some(b) = blocks.next_block().unwrap() {
            n += b.len();
        }
        assert_eq!(n as u64, length * *ch as u64);
        let (a, b) = (data_at(&bytes), data_at(&full));
        let len = length as usize * ba;
        assert!(
            bytes[a..a + len] == full[b..b + len],
            "{rel}: the repaired audio differs from what was written"
        );
        if format == SampleFormat::Float32 {
            // And against the input itself, frame by frame (float is the input's bits).
            let x: Vec<f32> = bytes[a..a + len]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            for (k, frame) in x.chunks_exact(*ch as usize).enumerate() {
                for (c, v) in frame.iter().enumerate() {
                    assert_eq!(v.to_bits(), signal(i, c, k as u64).to_bits(), "{rel} {k}");
                }
            }
        }
        let want_cues: Vec<(u32, String)> = if MARKER < length {
            vec![(MARKER as u32, "Segment 2".into())]
        } else {
            vec![]
        };
        assert_eq!(cues(&bytes), want_cues, "{rel}: markers");
    }
}

/// All bytes of every file in `dir`, to prove a second run changes nothing.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = find::wav_files(dir)
        .unwrap()
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            (rel, bytes)
        })
        .collect();
    out.push((
        "take.json".into(),
        std::fs::read(dir.join("take.json")).unwrap(),
    ));
    out
}

/// Write a take in random blocks through checkpoints, copy it at random moments (between
/// any two writes, and between two files' checkpoints), finish it, then repair every copy.
fn crash_leftovers(format: SampleFormat, seed: u64) {
    let crashes = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let mut rig = Rig::new(format);
    let mut snapshots = vec![rig.snapshot(crashes.path())]; // right at take start
    while rig.written < 4 * RATE as u64 {
        rig.write(1 + rng.below(6_000));
        if rng.below(4) == 0 {
            rig.tick();
            let now = rig.clock;
            let cut = rng.below(FILES.len() as u64 + 1) as usize;
            for i in 0..FILES.len() {
                if i == cut && rng.below(2) == 0 {
                    // Killed in the middle of a checkpoint round: some headers are newer.
                    snapshots.push(rig.snapshot(crashes.path()));
                }
                rig.sinks[i].checkpoint_if_due(now);
            }
        }
        if rng.below(3) == 0 {
            snapshots.push(rig.snapshot(crashes.path()));
        }
    }
    let written = rig.written;
    for sink in &mut rig.sinks {
        sink.finish();
    }
    let reference = rig.live.path();
    for dir in &snapshots {
        let lengths: Vec<u64> = FILES
            .iter()
            .map(|(rel, ch)| {
                let bytes = std::fs::read(dir.join(format!("{rel}.wav"))).unwrap();
                whole_frames(&bytes, block_align(format, *ch))
            })
            .collect();
        let length = *lengths.iter().min().unwrap();
        let headers: Vec<u64> = FILES
            .iter()
            .map(|(rel, _)| {
                hound::WavReader::open(dir.join(format!("{rel}.wav")))
                    .unwrap()
                    .duration() as u64
            })
            .collect();
        let report = repair::repair_take(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert_eq!(report.action, Action::Repaired);
        let rec = report.recovery.unwrap();
        assert!(
            rec.length_frames >= *headers.iter().min().unwrap(),
            "never less than the headers counted"
        );
        assert_eq!(rec.frames_in_headers, *headers.iter().min().unwrap());
        check_repaired(dir, reference, format, length);
        assert!(length <= written);
        let before = contents(dir);
        let again = repair::repair_take(dir).unwrap();
        assert_eq!(again.action, Action::AlreadyComplete);
        assert_eq!(contents(dir), before, "a second run changes nothing");
    }
}

#[test]
fn crash_leftovers_recover_every_common_frame_bit_exactly_float32() {
    for seed in [1, 2, 3] {
        crash_leftovers(SampleFormat::Float32, seed);
    }
}

#[test]
fn crash_leftovers_recover_every_common_frame_bit_exactly_int24_odd_frames() {
    // Mono 24-bit frames are 3 bytes: odd data lengths, pad bytes, partial frames.
    for seed in [4, 5] {
        crash_leftovers(SampleFormat::Int24, seed);
    }
}

#[test]
fn crash_leftovers_recover_every_common_frame_bit_exactly_int16() {
    crash_leftovers(SampleFormat::Int16, 6);
}

#[test]
fn a_crash_while_finishing_keeps_the_finished_files_and_their_markers() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Int24);
    rig.write(RATE as u64 + 12_345);
    rig.tick();
    let now = rig.clock;
    for sink in &mut rig.sinks {
        sink.checkpoint_if_due(now);
    }
    let at_checkpoint = rig.snapshot(crashes.path());
    rig.write(50_001);
    // Files 0 and 1 finished (cue chunks after the data); the kill came before the others.
    for sink in &mut rig.sinks[..2] {
        sink.finish();
    }
    let dir = rig.snapshot(crashes.path());
    // And file 1 as a kill between writing its cue chunks and patching its sizes leaves
    // it: the finished bytes with the last checkpoint's header.
    let rel = format!("{}.wav", FILES[1].0);
    let mut bytes = std::fs::read(dir.join(&rel)).unwrap();
    let old = std::fs::read(at_checkpoint.join(&rel)).unwrap();
    let h = data_at(&old);
    bytes[..h].copy_from_slice(&old[..h]);
    std::fs::write(dir.join(&rel), &bytes).unwrap();
    for sink in &mut rig.sinks[2..] {
        sink.finish();
    }
    let lengths: Vec<u64> = FILES
        .iter()
        .enumerate()
        .map(|(i, (r, ch))| {
            let b = std::fs::read(dir.join(format!("{r}.wav"))).unwrap();
            if i < 2 {
                rig.written // finished: the trailer is not audio
            } else {
                whole_frames(&b, block_align(SampleFormat::Int24, *ch))
            }
        })
        .collect();
    let length = *lengths.iter().min().unwrap();
    assert!(length > MARKER, "the marker is inside: {length}");
    repair::repair_take(&dir).unwrap();
    check_repaired(&dir, rig.live.path(), SampleFormat::Int24, length);
}

#[test]
fn a_live_lock_refuses_and_a_stale_one_does_not() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(30_000);
    let dir = rig.snapshot(crashes.path());
    let lock = TakeLock::acquire(&dir, "test").unwrap();
    let before = contents(&dir);
    let err = repair::repair_take(&dir).unwrap_err();
    assert!(matches!(err, RepairError::Live { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains(&dir.display().to_string()) && text.contains("stop recording"),
        "{text}"
    );
    assert!(repair::plan_repair(&dir).is_err(), "not even planned");
    assert_eq!(contents(&dir), before, "nothing changed");
    let found = find::find_takes(crashes.path()).unwrap();
    assert!(found[0].live && !found[0].needs_repair());
    // Released (the take finished, or the writer died): repair goes ahead.
    drop(lock);
    assert_eq!(repair::repair_take(&dir).unwrap().action, Action::Repaired);
}

#[test]
fn a_stale_lock_file_does_not_stop_a_repair() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(30_000);
    let dir = rig.snapshot(crashes.path());
    std::fs::write(
        dir.join(stemtap_engine::take_lock::LOCK_FILE),
        "pid: 4242\nhost: gone\n",
    )
    .unwrap();
    assert!(find::find_takes(crashes.path()).unwrap()[0].needs_repair());
    assert_eq!(repair::repair_take(&dir).unwrap().action, Action::Repaired);
    assert!(
        !dir.join(stemtap_engine::take_lock::LOCK_FILE).exists(),
        "the stale lock file goes once the take is complete"
    );
}

#[test]
fn a_plan_changes_nothing_and_a_root_lists_what_needs_repair() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(30_000);
    let a = rig.snapshot(crashes.path());
    rig.write(30_000);
    let b = rig.snapshot(crashes.path());
    let before = contents(&a);
    let plan = repair::plan_repair(&a).unwrap();
    assert_eq!(plan.action, Action::WouldRepair);
    assert_eq!(contents(&a), before);
    repair::repair_take(&b).unwrap();
    let found = find::find_takes(crashes.path()).unwrap();
    let needs: Vec<_> = found
        .iter()
        .filter(|t| t.needs_repair())
        .map(|t| &t.dir)
        .collect();
    assert_eq!(needs, [&a]);
    assert!(found.iter().any(|t| t.dir == b && t.complete));
}

#[test]
fn a_file_that_stopped_early_is_padded_and_does_not_cut_the_take() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(RATE as u64);
    // The Mix file fails (as on a write error): finished where it got.
    let mut mix = rig.sinks.pop().unwrap();
    mix.finish();
    for _ in 0..5 {
        rig.write(RATE as u64);
        rig.tick();
        let now = rig.clock;
        for sink in &mut rig.sinks {
            sink.checkpoint_if_due(now);
        }
    }
    rig.write(7_777);
    let dir = rig.snapshot(crashes.path());
    let report = repair::repair_take(&dir).unwrap();
    let rec = report.recovery.unwrap();
    assert!(rec.length_frames >= 6 * RATE as u64, "{rec:?}");
    let mix_rec = rec.files.iter().find(|f| f.path == "Mix.wav").unwrap();
    assert_eq!(mix_rec.frames_kept, RATE as u64);
    assert_eq!(mix_rec.silence_frames, rec.length_frames - RATE as u64);
    let m: Value = serde_json::from_slice(&std::fs::read(dir.join("take.json")).unwrap()).unwrap();
    let mix_entry = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "Mix.wav")
        .unwrap();
    assert!(
        mix_entry["errors"][0].as_str().unwrap().contains("silence"),
        "{mix_entry}"
    );
    let r = hound::WavReader::open(dir.join("Mix.wav")).unwrap();
    assert_eq!(r.duration() as u64, rec.length_frames);
    let samples: Vec<f32> = r.into_samples().map(Result::unwrap).collect();
    assert!(samples[..2 * RATE as usize].iter().all(|x| *x != 0.0));
    assert!(samples[2 * RATE as usize..].iter().all(|x| *x == 0.0));
}

#[test]
fn a_file_missing_from_take_json_joins_the_take() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(40_000);
    let dir = rig.snapshot(crashes.path());
    // take.json written before the Bass file existed.
    let path = dir.join("take.json");
    let mut m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    m["files"].as_array_mut().unwrap().remove(1);
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let rec = repair::repair_take(&dir).unwrap().recovery.unwrap();
    assert!(rec
        .files
        .iter()
        .any(|f| f.path == "Stems/Bass.wav" && f.unlisted));
    let m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let bass = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "Stems/Bass.wav")
        .unwrap();
    assert_eq!(bass["channels"], 1);
    assert_eq!(bass["role"], "stem");
    assert_eq!(bass["stem_name"], "Bass");
}

#[test]
fn a_file_killed_inside_its_header_is_rewritten_as_silence() {
    let crashes = tempfile::tempdir().unwrap();
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(150_000);
    let dir = rig.snapshot(crashes.path());
    // Killed between creating a file and writing its header (a track added late).
    let drums = dir.join("Stems/Drums.wav");
    let bytes = std::fs::read(&drums).unwrap();
    std::fs::write(&drums, &bytes[..100]).unwrap();
    let others = FILES[1..]
        .iter()
        .map(|(rel, ch)| {
            let b = std::fs::read(dir.join(format!("{rel}.wav"))).unwrap();
            whole_frames(&b, block_align(SampleFormat::Float32, *ch))
        })
        .min()
        .unwrap();
    let rec = repair::repair_take(&dir).unwrap().recovery.unwrap();
    assert_eq!(
        rec.length_frames, others,
        "the other files decide the length"
    );
    let r = hound::WavReader::open(&drums).unwrap();
    assert_eq!(r.duration() as u64, rec.length_frames);
    assert_eq!(r.spec().channels, 2);
    assert!(r.into_samples::<f32>().all(|x| x.unwrap() == 0.0));
    assert_eq!(
        cues(&std::fs::read(&drums).unwrap()),
        [(MARKER as u32, "Segment 2".to_string())]
    );
}

#[test]
fn errors_name_the_file_and_what_to_do() {
    let crashes = tempfile::tempdir().unwrap();
    let err = repair::repair_take(crashes.path()).unwrap_err().to_string();
    assert!(err.contains("take folder?"), "{err}");
    let mut rig = Rig::new(SampleFormat::Float32);
    rig.write(1_000);
    let dir = rig.snapshot(crashes.path());
    std::fs::write(dir.join("Mix.wav"), b"RIFX not a wave file at all").unwrap();
    let err = repair::repair_take(&dir).unwrap_err().to_string();
    assert!(
        err.contains("Mix.wav") && err.contains("repair leaves it alone"),
        "{err}"
    );
}
