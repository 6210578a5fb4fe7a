//! `pack` end to end on synthetic takes: for each recipient the zip is opened and every
//! file decoded (with hound, independently of the reader the pack uses): which files, their
//! names, format, length and samples (bit-exact in float, to the LSB in 24-bit, TPDF
//! statistics in 16-bit); the alternates are the sums they claim to be and are refused
//! when the stems do not null against the mix; the REAPER project places every file; a
//! failing check stops the pack unless forced.

use serde_json::json;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use stemtap_delivery::pack::{
    pack, Alternate, Naming, PackError, PackOptions, PackResult, PackSettings, Recipient,
};
use stemtap_delivery::Take;
use stemtap_engine::SampleFormat;

const RATE: u32 = 48_000;

fn write(path: &Path, channels: u16, samples: &[f32]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let spec = hound::WavSpec {
        channels,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    samples.iter().for_each(|&x| w.write_sample(x).unwrap());
    w.finalize().unwrap();
}

/// A clean stereo signal (as in tests/checks.rs): two tones at about -12 dBFS, faded in
/// and out with silence at each end, so no check warns; `f` sets the pitch.
fn clean(frames: usize, f: f32) -> Vec<f32> {
    let fade = (RATE / 10) as f32;
    let pad = (RATE / 20) as usize;
    (0..frames)
        .flat_map(|i| {
            let t = i as f32 / RATE as f32;
            let from_edge = i.min(frames - 1 - i).saturating_sub(pad);
            let env = (from_edge as f32 / fade).min(1.0);
            let l = 0.2 * env * (2.0 * std::f32::consts::PI * f * t).sin();
            let r = 0.2 * env * (2.0 * std::f32::consts::PI * 1.5 * f * t).sin();
            [l, r]
        })
        .collect()
}

struct File {
    path: &'static str,
    role: &'static str,
    name: &'static str,
    channels: u16,
    samples: Vec<f32>,
    dropped: u64,
}

fn file(path: &'static str, role: &'static str, name: &'static str, samples: Vec<f32>) -> File {
    File {
        path,
        role,
        name,
        channels: 2,
        samples,
        dropped: 0,
    }
}

/// Where a take sits on the host's timeline.
struct At {
    start_sample: i64,
    tempo: Option<f64>,
    /// File frames where a new segment begins (a marker each).
    segments: Vec<u64>,
}

const AT_ZERO: At = At {
    start_sample: 0,
    tempo: Some(120.0),
    segments: Vec::new(),
};

/// Write a take folder `dir` (float files, as StemTap writes by default) and open it.
fn take(dir: &Path, files: &[File], frames: u64, at: &At) -> Take {
    let mut entries = Vec::new();
    for f in files {
        write(&dir.join(f.path), f.channels, &f.samples);
        entries.push(json!({
            "path": f.path, "continuation_paths": [], "stem_name": f.name,
            "role": f.role, "channel_mode": "stereo", "channels": f.channels,
            "dropped_frames": f.dropped, "silent_gap_frames": 0, "peak": 0.5,
            "peak_dbfs": -6.0, "clipped_samples": 0, "channels_identical": null,
            "offset_samples": 0, "errors": []
        }));
    }
    let secs = |s: i64| s as f64 / RATE as f64;
    let mut segments = vec![json!({"frame": 0, "timeline": "host",
        "start_sample": at.start_sample, "start_seconds": secs(at.start_sample),
        "start_beats": null, "start_bar_beat": null})];
    for &frame in &at.segments {
        // A jump back to the start of the take: a loop pass.
        segments.push(json!({"frame": frame, "timeline": "host",
            "start_sample": at.start_sample, "start_seconds": secs(at.start_sample),
            "start_beats": null, "start_bar_beat": null}));
    }
    let manifest = json!({
        "format_version": 1, "generator": "StemTap test", "take": "Take 1",
        "complete": true, "sample_rate": RATE, "sample_format": "float32",
        "timeline": "host", "start_sample": at.start_sample,
        "start_seconds": secs(at.start_sample),
        "length_frames": frames, "length_seconds": frames as f64 / RATE as f64,
        "tempo_bpm": at.tempo, "time_signature": at.tempo.map(|_| [4, 4]),
        "start_beats": null, "start_bar_beat": null, "ended_by": "disarmed",
        "segments": segments, "files": entries, "errors": []
    });
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("take.json"), manifest.to_string()).unwrap();
    Take::open(dir).unwrap()
}

fn sum(parts: &[&[f32]]) -> Vec<f32> {
    (0..parts[0].len())
        .map(|i| parts.iter().map(|p| p[i] as f64).sum::<f64>() as f32)
        .collect()
}

/// The band's take: four stems (two of them vocals), two multitracks, and a mix that is
/// exactly the sum of the stems (a clean master bus).
struct Band {
    _dir: tempfile::TempDir,
    take: Take,
    drums: Vec<f32>,
    bass: Vec<f32>,
    vox: Vec<f32>,
    bvs: Vec<f32>,
    kick: Vec<f32>,
}

const FRAMES: usize = RATE as usize;

fn band_with(mix_of: impl Fn(&[f32]) -> Vec<f32>, at: &At) -> Band {
    let dir = tempfile::tempdir().unwrap();
    let (drums, bass, vox, bvs) = (
        clean(FRAMES, 110.0),
        clean(FRAMES, 55.0),
        clean(FRAMES, 440.0),
        clean(FRAMES, 660.0),
    );
    let kick = clean(FRAMES, 50.0);
    let mix = mix_of(&sum(&[&drums, &bass, &vox, &bvs]));
    let files = vec![
        file("Stems/Drums.wav", "stem", "Drums", drums.clone()),
        file("Stems/Bass.wav", "stem", "Bass", bass.clone()),
        file("Stems/Lead Vox.wav", "stem", "Lead Vox", vox.clone()),
        file("Stems/BVs.wav", "stem", "BVs", bvs.clone()),
        file(
            "Multitracks/01 Kick.wav",
            "multitrack",
            "Kick",
            kick.clone(),
        ),
        file(
            "Multitracks/02 Snare.wav",
            "multitrack",
            "Snare",
            clean(FRAMES, 200.0),
        ),
        file("Mix.wav", "mix", "Mix", mix),
    ];
    let take = take(&dir.path().join("Night Drive"), &files, FRAMES as u64, at);
    Band {
        _dir: dir,
        take,
        drums,
        bass,
        vox,
        bvs,
        kick,
    }
}

fn band() -> Band {
    band_with(|m| m.to_vec(), &AT_ZERO)
}

fn options(recipient: Recipient, out: &Path) -> PackOptions {
    PackOptions {
        out_dir: Some(out.to_path_buf()),
        ..PackOptions::new(recipient)
    }
}

fn run(take: &Take, options: &PackOptions) -> Result<PackResult, PackError> {
    pack(take, options, &|_| {})
}

/// The zip's entries: name -> bytes.
fn unzip(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..z.len())
        .map(|i| {
            let mut f = z.by_index(i).unwrap();
            assert_eq!(
                f.compression(),
                zip::CompressionMethod::Stored,
                "stored, not deflated"
            );
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (f.name().unwrap().to_string(), bytes)
        })
        .collect()
}

/// A decoded WAV: its spec and samples as integers (or float bits) and as float.
struct Wav {
    spec: hound::WavSpec,
    ints: Vec<i32>,
    floats: Vec<f32>,
}

fn decode(bytes: &[u8]) -> Wav {
    let mut r = hound::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
    let spec = r.spec();
    let (ints, floats) = match spec.sample_format {
        hound::SampleFormat::Float => {
            let f: Vec<f32> = r.samples::<f32>().map(Result::unwrap).collect();
            (Vec::new(), f)
        }
        hound::SampleFormat::Int => {
            let i: Vec<i32> = r.samples::<i32>().map(Result::unwrap).collect();
            let scale = (1u32 << (spec.bits_per_sample - 1)) as f32;
            let f = i.iter().map(|&x| x as f32 / scale).collect();
            (i, f)
        }
    };
    Wav { spec, ints, floats }
}

fn wavs(entries: &[(String, Vec<u8>)]) -> Vec<(String, Wav)> {
    entries
        .iter()
        .filter(|(n, _)| n.ends_with(".wav"))
        .map(|(n, b)| (n.rsplit('/').next().unwrap().to_string(), decode(b)))
        .collect()
}

/// The `bext` chunk's TimeReference (samples since midnight, here: the timeline position).
fn time_reference(wav: &[u8]) -> Option<u64> {
    let mut at = 12;
    while at + 8 <= wav.len() {
        let id = &wav[at..at + 4];
        let size = u32::from_le_bytes(wav[at + 4..at + 8].try_into().unwrap()) as usize;
        if id == b"bext" {
            // Description 256, Originator 32, OriginatorReference 32, date 10, time 8.
            let body = &wav[at + 8..];
            return Some(u64::from_le_bytes(body[338..346].try_into().unwrap()));
        }
        if id == b"data" {
            return None;
        }
        at += 8 + size + size % 2;
    }
    None
}

fn names(entries: &[(String, Vec<u8>)]) -> BTreeSet<String> {
    entries.iter().map(|(n, _)| n.clone()).collect()
}

fn doc(entries: &[(String, Vec<u8>)], suffix: &str) -> String {
    let (_, b) = entries.iter().find(|(n, _)| n.ends_with(suffix)).unwrap();
    String::from_utf8(b.clone()).unwrap()
}

fn expected(folder: &str, audio: &[&str]) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = audio
        .iter()
        .map(|a| format!("{folder}/Night Drive - {a}.wav"))
        .collect();
    out.insert(format!("{folder}/"));
    for d in ["Track Sheet.txt", "Take Sheet.html"] {
        out.insert(format!("{folder}/{d}"));
    }
    out.insert(format!("{folder}/{folder}.RPP"));
    out.insert(format!("{folder}/{folder}.lof"));
    out
}

#[test]
fn every_recipient_gets_its_files_in_24_bit_named_after_the_project() {
    let b = band();
    let out = tempfile::tempdir().unwrap();
    let stems = ["Drums", "Bass", "Lead Vox", "BVs"];
    let cases: [(Recipient, Vec<String>); 4] = [
        (
            Recipient::MixEngineer,
            vec!["01 Kick".into(), "02 Snare".into(), "Mix".into()],
        ),
        (
            Recipient::Mastering,
            stems
                .iter()
                .map(|s| s.to_string())
                .chain(["Mix".into()])
                .collect(),
        ),
        (
            Recipient::Remixer,
            stems
                .iter()
                .chain(&["Mix"])
                .map(|s| format!("{s} (120 BPM)"))
                .collect(),
        ),
        (
            Recipient::Vocalist,
            stems
                .iter()
                .map(|s| s.to_string())
                .chain(["Mix".into(), "Instrumental".into()])
                .collect(),
        ),
    ];
    for (recipient, audio) in cases {
        let r = run(&b.take, &options(recipient, out.path())).unwrap();
        let folder = format!("Night Drive - {}", recipient.label());
        assert_eq!(r.zip_path, out.path().join(format!("{folder}.zip")));
        let entries = unzip(&r.zip_path);
        let audio: Vec<&str> = audio.iter().map(String::as_str).collect();
        assert_eq!(names(&entries), expected(&folder, &audio), "{recipient:?}");
        for (name, w) in wavs(&entries) {
            assert_eq!(w.spec.bits_per_sample, 24, "{name}");
            assert_eq!(w.spec.sample_format, hound::SampleFormat::Int, "{name}");
            assert_eq!(w.spec.sample_rate, RATE, "{name}");
            assert_eq!(w.spec.channels, 2, "{name}");
            assert_eq!(w.ints.len(), 2 * FRAMES, "{name}");
        }
        assert!(doc(&entries, "Take Sheet.html").contains("<html"));
        let sheet = doc(&entries, "Track Sheet.txt");
        assert!(
            sheet.contains("120.00 BPM, 4/4") && sheet.contains("24-bit"),
            "{sheet}"
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
    // Each 24-bit file is its source to the LSB (rounded, never truncated).
    let r = run(&b.take, &options(Recipient::MixEngineer, out.path())).unwrap();
    let entries = unzip(&r.zip_path);
    let (_, kick) = wavs(&entries)
        .into_iter()
        .find(|(n, _)| n == "Night Drive - 01 Kick.wav")
        .unwrap();
    let worst = kick
        .ints
        .iter()
        .zip(&b.kick)
        .map(|(&got, &x)| (got as f64 - x as f64 * 8_388_608.0).abs())
        .fold(0.0, f64::max);
    assert!(worst <= 0.5, "off by {worst} LSB");
    // Nothing left behind in the output folder but the zips.
    let left: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".zip"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn float32_is_bit_exact_and_the_alternates_are_the_sums_they_claim() {
    let b = band();
    let out = tempfile::tempdir().unwrap();
    let mut o = options(Recipient::Vocalist, out.path());
    o.overrides = PackSettings {
        format: Some(SampleFormat::Float32),
        alternates: Some(Alternate::ALL.to_vec()),
        ..PackSettings::default()
    };
    let r = run(&b.take, &o).unwrap();
    let split = r.vocals.clone().unwrap();
    assert_eq!(split.vocals, ["Lead Vox", "BVs"]);
    assert_eq!(split.lead, ["Lead Vox"]);
    assert!(
        r.alternates_note.starts_with("Verified"),
        "{}",
        r.alternates_note
    );
    let entries = unzip(&r.zip_path);
    let get = |name: &str| {
        wavs(&entries)
            .into_iter()
            .find(|(n, _)| n == &format!("Night Drive - {name}.wav"))
            .unwrap_or_else(|| panic!("{name} missing"))
            .1
    };
    for (name, src) in [("Drums", &b.drums), ("Lead Vox", &b.vox)] {
        let w = get(name);
        assert_eq!(w.spec.sample_format, hound::SampleFormat::Float);
        assert!(
            w.floats
                .iter()
                .zip(src.iter())
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "{name} is not bit-exact"
        );
    }
    assert_eq!(get("Instrumental").floats, sum(&[&b.drums, &b.bass]));
    assert_eq!(get("A Cappella").floats, sum(&[&b.vox, &b.bvs]));
    assert_eq!(get("TV Track").floats, sum(&[&b.drums, &b.bass, &b.bvs]));
}

#[test]
fn sixteen_bit_is_tpdf_dithered() {
    // A constant 0.3 LSB, and a very quiet tone (+-2 LSB): without dither both would
    // turn into a few fixed values (0 for the constant); with TPDF dither the error has
    // mean 0, variance 1/6 (the dither) + 1/12 (the rounding) = 1/4 LSB^2, and stays
    // within 1.5 LSB.
    let dir = tempfile::tempdir().unwrap();
    let lsb = 1.0 / 32_768.0;
    let n = 4 * FRAMES;
    let constant: Vec<f32> = vec![0.3 * lsb; n];
    let quiet: Vec<f32> = (0..n)
        .map(|i| 2.0 * lsb * (i as f32 * 0.01).sin())
        .collect();
    let mono = |path, name, samples| File {
        channels: 1,
        ..file(path, "stem", name, samples)
    };
    let mix = sum(&[&constant, &quiet]);
    let files = vec![
        mono("Stems/Constant.wav", "Constant", constant.clone()),
        mono("Stems/Quiet.wav", "Quiet", quiet.clone()),
        File {
            role: "mix",
            ..mono("Mix.wav", "Mix", mix)
        },
    ];
    let t = take(&dir.path().join("Night Drive"), &files, n as u64, &AT_ZERO);
    let mut o = options(Recipient::Mastering, dir.path());
    o.overrides.format = Some(SampleFormat::Int16);
    let r = run(&t, &o).unwrap();
    let entries = unzip(&r.zip_path);
    for (name, src) in [("Constant", &constant), ("Quiet", &quiet)] {
        let (_, w) = wavs(&entries)
            .into_iter()
            .find(|(n, _)| n == &format!("Night Drive - {name}.wav"))
            .unwrap();
        assert_eq!(w.spec.bits_per_sample, 16);
        let err: Vec<f64> = w
            .ints
            .iter()
            .zip(src.iter())
            .map(|(&q, &x)| q as f64 - x as f64 * 32_768.0)
            .collect();
        let mean = err.iter().sum::<f64>() / err.len() as f64;
        let var = err.iter().map(|e| (e - mean) * (e - mean)).sum::<f64>() / err.len() as f64;
        let max = err.iter().fold(0.0f64, |m, e| m.max(e.abs()));
        assert!(mean.abs() < 0.01, "{name}: mean error {mean} LSB");
        assert!((0.23..0.27).contains(&var), "{name}: variance {var} LSB^2");
        assert!(max <= 1.5, "{name}: error up to {max} LSB");
        let values: BTreeSet<i32> = w.ints.iter().copied().collect();
        assert!(values.len() >= 3, "{name}: {values:?}");
    }
    // The constant: 0, +1 or -1 only, each side as often as the dither says
    // (P(+1) = P(d > 0.2) = 0.32, P(-1) = P(d < -0.8) = 0.02).
    let (_, w) = wavs(&entries)
        .into_iter()
        .find(|(n, _)| n == "Night Drive - Constant.wav")
        .unwrap();
    let share = |v: i32| w.ints.iter().filter(|&&x| x == v).count() as f64 / n as f64;
    assert!(w.ints.iter().all(|x| (-1..=1).contains(x)));
    assert!((share(1) - 0.32).abs() < 0.01, "{}", share(1));
    assert!((share(-1) - 0.02).abs() < 0.005, "{}", share(-1));
}

#[test]
fn stems_that_do_not_null_against_the_mix_give_no_alternates_unless_forced() {
    // A limiter on the master bus: the mix is the sum, clipped at 0.3.
    let b = band_with(|m| m.iter().map(|x| x.clamp(-0.3, 0.3)).collect(), &AT_ZERO);
    let out = tempfile::tempdir().unwrap();
    let r = run(&b.take, &options(Recipient::Vocalist, out.path())).unwrap();
    let entries = unzip(&r.zip_path);
    assert!(!names(&entries).iter().any(|n| n.contains("Instrumental")));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("left out") && w.contains("master bus")),
        "{:?}",
        r.warnings
    );
    assert!(doc(&entries, "Track Sheet.txt").contains("master bus"));

    let mut o = options(Recipient::Vocalist, out.path());
    o.force = true;
    let r = run(&b.take, &o).unwrap();
    let entries = unzip(&r.zip_path);
    assert!(names(&entries)
        .iter()
        .any(|n| n.ends_with("Night Drive - Instrumental.wav")));
    assert!(r.alternates_residual_db.unwrap() > -90.0);
    assert!(r.alternates_note.starts_with("NOT verified"));
}

#[test]
fn the_reaper_project_places_every_file_at_the_take_start_with_its_markers() {
    // The take starts 12.5 s into the song; a loop pass begins 0.5 s into the files.
    let at = At {
        start_sample: 600_000,
        tempo: Some(96.0),
        segments: vec![24_000],
    };
    let b = band_with(|m| m.to_vec(), &at);
    let out = tempfile::tempdir().unwrap();
    let r = run(&b.take, &options(Recipient::Mastering, out.path())).unwrap();
    let entries = unzip(&r.zip_path);
    let rpp = doc(&entries, ".RPP");
    assert!(rpp.starts_with("<REAPER_PROJECT"), "{rpp}");
    assert!(
        rpp.contains("TEMPO 96 4 4") && rpp.contains("SAMPLERATE 48000"),
        "{rpp}"
    );
    assert!(rpp.contains("MARKER 1 13 \"Segment 2\" 0"), "{rpp}");
    let audio: Vec<String> = wavs(&entries).into_iter().map(|(n, _)| n).collect();
    assert_eq!(audio.len(), 5);
    assert_eq!(rpp.matches("<TRACK").count(), audio.len());
    // Each item: at 12.5 s, one second long, the file next to the project.
    for item in rpp.split("<ITEM").skip(1) {
        assert!(item.contains("POSITION 12.5\n"), "{item}");
        assert!(item.contains("LENGTH 1\n"), "{item}");
    }
    for name in &audio {
        assert!(
            rpp.contains(&format!("FILE \"{name}\"")),
            "{name} not in {rpp}"
        );
    }
    // Broadcast-WAV time stamps kept: every file's TimeReference is the take's position.
    for (name, bytes) in entries.iter().filter(|(n, _)| n.ends_with(".wav")) {
        assert_eq!(time_reference(bytes), Some(600_000), "{name}");
    }
    let lof = doc(&entries, ".lof");
    for name in &audio {
        assert!(
            lof.contains(&format!("file \"{name}\" offset 12.5")),
            "{lof}"
        );
    }

    // Before the song start (a count-in): at 0, not before it.
    let at = At {
        start_sample: -48_000,
        tempo: None,
        segments: vec![],
    };
    let b = band_with(|m| m.to_vec(), &at);
    let r = run(&b.take, &options(Recipient::Mastering, out.path())).unwrap();
    let rpp = doc(&unzip(&r.zip_path), ".RPP");
    assert!(
        rpp.contains("POSITION 0\n") && !rpp.contains("POSITION -"),
        "{rpp}"
    );
}

#[test]
fn a_failing_check_stops_the_pack_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let mut dropped = file("Stems/Drums.wav", "stem", "Drums", clean(FRAMES, 110.0));
    dropped.dropped = 512;
    let files = vec![dropped, file("Mix.wav", "mix", "Mix", clean(FRAMES, 110.0))];
    let t = take(
        &dir.path().join("Night Drive"),
        &files,
        FRAMES as u64,
        &AT_ZERO,
    );
    let out = tempfile::tempdir().unwrap();
    let err = run(&t, &options(Recipient::Mastering, out.path())).unwrap_err();
    assert!(matches!(err, PackError::CheckFailed { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("dropped") && msg.contains("--force"), "{msg}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    let mut o = options(Recipient::Mastering, out.path());
    o.force = true;
    let r = run(&t, &o).unwrap();
    assert!(r.zip_path.is_file());
    assert!(r.warnings.iter().any(|w| w.contains("--force")));
}

#[test]
fn pe_wing_names_and_the_default_output_folder() {
    let b = band();
    let mut o = PackOptions::new(Recipient::Remixer);
    o.overrides = PackSettings {
        naming: Some(Naming::PeWing),
        artist: Some("Ada Byron".into()),
        title: Some("Night Drive".into()),
        revision: Some(2),
        ..PackSettings::default()
    };
    let r = run(&b.take, &o).unwrap();
    // Next to the take folder.
    let parent: PathBuf = b.take.dir.parent().unwrap().canonicalize().unwrap();
    assert_eq!(r.zip_path, parent.join("Night Drive - Remixer.zip"));
    let audio: BTreeSet<String> = wavs(&unzip(&r.zip_path))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let want: BTreeSet<String> = ["Drums", "Bass", "LeadVox", "BVs", "Mix"]
        .iter()
        .map(|s| format!("AB_NightDrive_MX02_{s}_48k24_120bpm.wav"))
        .collect();
    assert_eq!(audio, want);
}
