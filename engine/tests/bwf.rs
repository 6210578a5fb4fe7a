//! Every file StemTap writes is a Broadcast Wave file (bext, iXML, cue points) that turns
//! into RF64 past its size threshold, valid at every checkpoint. Checked with readers that
//! are not ours:
//! - bwavfile (crate): bext, iXML, cue points, RF64/ds64, samples;
//! - hound (crate): samples, bit-exact, of every file that is not RF64;
//! - sox (`sox --i`, Debian's `sox`), when it is installed: channels, rate, length. Without
//!   it those checks are skipped with a message on stderr.

mod common;

use common::{playing, signal, wait_for_takes, Rig, RATE};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use stemtap_engine::wav::{
    to_i24, FileMetadata, SinkSpec, WavSink, CHECKPOINT_INTERVAL, MAX_WAV_DATA_BYTES,
    RF64_AFTER_BYTES,
};
use stemtap_engine::{EngineConfig, SampleFormat};

fn spec(dir: &Path, format: SampleFormat, channels: u16) -> SinkSpec {
    SinkSpec {
        take_dir: dir.to_path_buf(),
        rel_base: "Take".into(),
        channels,
        sample_rate: 48_000,
        format,
        max_data_bytes: MAX_WAV_DATA_BYTES,
    }
}

/// Names with every XML special character and a non-ASCII one.
fn metadata() -> FileMetadata {
    FileMetadata {
        start_sample: 1_234_567,
        track_name: "Bass & <Sub> \"Dry\" 'DI' ü".into(),
        role: "multitrack".into(),
        take_name: "2026-11-24 21-04-13 Take 7".into(),
        take_number: Some(7),
        timeline: Some("host".into()),
        tempo_bpm: Some(98.5),
        time_signature: Some((6, 8)),
        start_bar_beat: Some("12.3.480".into()),
        originated: chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .and_then(|d| d.and_hms_opt(21, 4, 13)),
    }
}

/// A deterministic signal in [-1.1, 1.1] with some exact values.
fn test_signal(samples: usize, seed: u32) -> Vec<f32> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..samples)
        .map(|i| match i % 1000 {
            0 => 0.0,
            1 => -1.0,
            2 => 1.0,
            3 => -0.0,
            _ => {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32) * 2.2 - 1.1
            }
        })
        .collect()
}

fn bwav(path: &Path) -> bwavfile::WaveReader<std::io::BufReader<std::fs::File>> {
    bwavfile::WaveReader::open(path).unwrap_or_else(|e| panic!("bwavfile: {path:?}: {e:?}"))
}

/// bwavfile's samples of a float file, as bits.
fn bwav_f32_bits(path: &Path) -> Vec<u32> {
    let mut reader = bwav(path);
    let format = reader.format().unwrap();
    let frames = reader.frame_length().unwrap() as usize;
    let mut buf = vec![0f32; frames * format.channel_count as usize];
    let read = reader
        .audio_frame_reader()
        .unwrap()
        .read_frames(&mut buf)
        .unwrap();
    assert_eq!(read as usize, frames);
    buf.iter().map(|x| x.to_bits()).collect()
}

/// bwavfile's samples of a 24-bit file, as 24-bit integers.
fn bwav_i24(path: &Path) -> Vec<i32> {
    let mut reader = bwav(path);
    let format = reader.format().unwrap();
    let frames = reader.frame_length().unwrap() as usize;
    let mut buf = vec![0i32; frames * format.channel_count as usize];
    reader
        .audio_frame_reader()
        .unwrap()
        .read_frames(&mut buf)
        .unwrap();
    // bwavfile scales 24-bit samples to the i32 range.
    buf.iter().map(|x| x >> 8).collect()
}

fn hound_f32_bits(path: &Path) -> Vec<u32> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<f32>()
        .map(|s| s.unwrap().to_bits())
        .collect()
}

fn hound_i32(path: &Path) -> Vec<i32> {
    hound::WavReader::open(path)
        .unwrap()
        .into_samples::<i32>()
        .map(Result::unwrap)
        .collect()
}

fn ixml(path: &Path) -> String {
    let mut buf = Vec::new();
    bwav(path).read_ixml(&mut buf).unwrap();
    String::from_utf8(buf).unwrap()
}

/// The text between `<tag>` and `</tag>` (first occurrence).
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(&xml[start..end])
}

/// Checks what every file with [`metadata`] must say, read by bwavfile.
fn assert_metadata(path: &Path, time_reference: u64, channels: u16, bits: u32) {
    let mut reader = bwav(path);
    reader.validate_broadcast_wave().unwrap();
    let bext = reader.broadcast_extension().unwrap().expect("a bext chunk");
    assert_eq!(
        bext.description,
        // bext text is ASCII: the 'ü' is written as '?' (iXML has it in UTF-8).
        "Bass & <Sub> \"Dry\" 'DI' ? (multitrack), 2026-11-24 21-04-13 Take 7"
    );
    assert_eq!(bext.originator, "StemTap");
    assert_eq!(bext.origination_date, "2026-11-24");
    assert_eq!(bext.origination_time, "21:04:13");
    assert_eq!(bext.time_reference, time_reference);
    assert_eq!(bext.version, 1);
    let mode = if channels == 1 { "mono" } else { "stereo" };
    assert_eq!(
        bext.coding_history.trim_end_matches('\0'),
        format!(
            "A=PCM,F=48000,W={bits},M={mode},T=StemTap {}{}\r\n",
            env!("CARGO_PKG_VERSION"),
            if bits == 32 { " float" } else { "" }
        )
    );
    let xml = ixml(path);
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert_eq!(element(&xml, "PROJECT"), Some("2026-11-24 21-04-13 Take 7"));
    assert_eq!(element(&xml, "TAPE"), Some("2026-11-24 21-04-13 Take 7"));
    assert_eq!(element(&xml, "TAKE"), Some("7"));
    assert_eq!(element(&xml, "FILE_SAMPLE_RATE"), Some("48000"));
    assert_eq!(element(&xml, "TIMESTAMP_SAMPLE_RATE"), Some("48000"));
    assert_eq!(
        element(&xml, "TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO"),
        Some(time_reference.to_string().as_str())
    );
    assert_eq!(
        element(&xml, "TRACK_COUNT"),
        Some(channels.to_string().as_str())
    );
    let escaped = "Bass &amp; &lt;Sub&gt; &quot;Dry&quot; &apos;DI&apos; ü";
    let first_name = element(&xml, "NAME").unwrap();
    if channels == 1 {
        assert_eq!(first_name, escaped);
    } else {
        assert_eq!(first_name, format!("{escaped} L"));
        assert!(xml.contains(&format!("<NAME>{escaped} R</NAME>")), "{xml}");
    }
    assert_eq!(element(&xml, "TEMPO_BPM"), Some("98.5"));
    assert_eq!(element(&xml, "TIME_SIGNATURE"), Some("6/8"));
    assert!(
        xml.contains("<STEMTAP xmlns=\"urn:x-stemtap:ixml:1\">"),
        "{xml}"
    );
}

/// `sox --i` of `path`: (channels, rate, samples per channel), or `None` (with a message)
/// when sox is not installed.
fn sox_info(path: &Path) -> Option<(u16, u32, u64)> {
    let query = |flag: &str| -> Option<String> {
        let out = Command::new("sox").arg("--i").arg(flag).arg(path).output();
        match out {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => panic!("running sox: {e}"),
            Ok(out) => {
                assert!(
                    out.status.success(),
                    "sox --i {flag} {path:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                Some(String::from_utf8(out.stdout).unwrap().trim().to_string())
            }
        }
    };
    let Some(channels) = query("-c") else {
        eprintln!("sox is not installed: skipping the sox checks (Debian package `sox`)");
        return None;
    };
    Some((
        channels.parse().unwrap(),
        query("-r")?.parse().unwrap(),
        query("-s")?.parse().unwrap(),
    ))
}

#[test]
fn float_stereo_carries_bext_ixml_and_cues_for_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let signal = test_signal(2 * 50_001, 1);
    let mut sink = WavSink::create_with(
        spec(dir.path(), SampleFormat::Float32, 2),
        metadata(),
        RF64_AFTER_BYTES,
    )
    .unwrap();
    sink.add_cue(0, "Start");
    sink.write(&signal[..2 * 20_000]);
    sink.add_cue(20_000, "Segment 2");
    sink.write(&signal[2 * 20_000..]);
    sink.finish();
    assert!(sink.error.is_none(), "{:?}", sink.error);
    let path = dir.path().join("Take.wav");

    assert_metadata(&path, 1_234_567, 2, 32);
    let mut reader = bwav(&path);
    let format = reader.format().unwrap();
    assert_eq!((format.channel_count, format.sample_rate), (2, 48_000));
    assert_eq!(reader.frame_length().unwrap(), 50_001);
    let cues: Vec<(u32, Option<String>)> = reader
        .cue_points()
        .unwrap()
        .into_iter()
        .map(|c| (c.frame, c.label))
        .collect();
    assert_eq!(
        cues,
        [
            (0, Some("Start".into())),
            (20_000, Some("Segment 2".into()))
        ]
    );
    let want: Vec<u32> = signal.iter().map(|x| x.to_bits()).collect();
    assert!(bwav_f32_bits(&path) == want, "bwavfile: samples differ");
    assert!(hound_f32_bits(&path) == want, "hound: samples differ");
    if let Some(info) = sox_info(&path) {
        assert_eq!(info, (2, 48_000, 50_001));
    }
}

#[test]
fn int24_mono_with_an_odd_frame_count_is_padded_and_read_by_every_reader() {
    let dir = tempfile::tempdir().unwrap();
    let signal = test_signal(30_001, 2);
    let meta = FileMetadata {
        start_sample: -480, // before the song start: TimeReference 0
        ..metadata()
    };
    let mut sink = WavSink::create_with(
        spec(dir.path(), SampleFormat::Int24, 1),
        meta,
        RF64_AFTER_BYTES,
    )
    .unwrap();
    sink.write(&signal);
    sink.finish();
    let path = dir.path().join("Take.wav");

    assert_metadata(&path, 0, 1, 24);
    assert!(ixml(&path).contains("<START_SAMPLE>-480</START_SAMPLE>"));
    let bytes = std::fs::read(&path).unwrap();
    // Odd data: the pad byte is there, and the RIFF size counts it.
    assert_eq!(bytes.len() % 2, 0);
    assert_eq!(
        u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize,
        bytes.len() - 8
    );
    assert_eq!(bytes.last(), Some(&0));
    let mut reader = bwav(&path);
    assert_eq!(reader.frame_length().unwrap(), 30_001);
    let want: Vec<i32> = signal.iter().map(|&x| to_i24(x)).collect();
    assert!(bwav_i24(&path) == want, "bwavfile: samples differ");
    assert!(hound_i32(&path) == want, "hound: samples differ");
    if let Some(info) = sox_info(&path) {
        assert_eq!(info, (1, 48_000, 30_001));
    }
}

/// A copy of the file's bytes as they are now, as a crash would leave them.
fn crash_copy(path: &Path, name: &str) -> PathBuf {
    let copy = path.with_file_name(name);
    std::fs::copy(path, &copy).unwrap();
    copy
}

#[test]
fn a_file_read_mid_recording_is_valid_at_every_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let signal = test_signal(2 * 50_000, 3);
    let mut sink = WavSink::create_with(
        spec(dir.path(), SampleFormat::Int24, 2),
        metadata(),
        RF64_AFTER_BYTES,
    )
    .unwrap();
    let path = dir.path().join("Take.wav");
    sink.add_cue(5, "Start");
    let t0 = Instant::now();
    let mut written = 0;
    // Odd frame counts between checkpoints: the data size is odd at some of them.
    for (i, frames) in [7_001usize, 12_345, 3, 20_651].into_iter().enumerate() {
        sink.write(&signal[2 * written..2 * (written + frames)]);
        written += frames;
        sink.checkpoint_if_due(t0 + CHECKPOINT_INTERVAL * (i as u32 + 1));
        // More audio after the checkpoint, not yet counted by the header.
        sink.write(&signal[2 * written..2 * (written + 1_000)]);
        let copy = crash_copy(&path, &format!("crash {i}.wav"));
        assert_metadata(&copy, 1_234_567, 2, 24);
        let mut reader = bwav(&copy);
        assert_eq!(
            reader.frame_length().unwrap() as usize,
            written,
            "checkpoint {i}"
        );
        assert!(
            reader.cue_points().unwrap().is_empty(),
            "no cues before finish"
        );
        let want: Vec<i32> = signal[..2 * written].iter().map(|&x| to_i24(x)).collect();
        assert!(bwav_i24(&copy) == want, "checkpoint {i}: bwavfile samples");
        assert!(hound_i32(&copy) == want, "checkpoint {i}: hound samples");
        if let Some(info) = sox_info(&copy) {
            assert_eq!(info, (2, 48_000, written as u64), "checkpoint {i}");
        }
        written += 1_000;
    }
    drop(sink);
    assert_eq!(bwav(&path).frame_length().unwrap() as usize, written);
    assert_eq!(bwav(&path).cue_points().unwrap().len(), 1);
}

#[test]
fn past_its_threshold_a_file_becomes_rf64_and_stays_valid_throughout() {
    let dir = tempfile::tempdir().unwrap();
    // Float stereo: 8 bytes a frame. The header is about 2.6 KB; switch past 64 KB.
    let threshold: u64 = 64 * 1024;
    let signal = test_signal(2 * 30_000, 4);
    let mut sink = WavSink::create_with(
        spec(dir.path(), SampleFormat::Float32, 2),
        metadata(),
        threshold,
    )
    .unwrap();
    let path = dir.path().join("Take.wav");
    let t0 = Instant::now();
    let mut written = 0;
    let mut kinds = Vec::new();
    for (i, frames) in [4_000usize, 6_000, 10_000, 9_999].into_iter().enumerate() {
        sink.write(&signal[2 * written..2 * (written + frames)]);
        written += frames;
        sink.checkpoint_if_due(t0 + CHECKPOINT_INTERVAL * (i as u32 + 1));
        let copy = crash_copy(&path, &format!("crash {i}.wav"));
        let bytes = std::fs::read(&copy).unwrap();
        let kind = String::from_utf8_lossy(&bytes[..4]).into_owned();
        assert_metadata(&copy, 1_234_567, 2, 32);
        let mut reader = bwav(&copy);
        assert_eq!(
            reader.frame_length().unwrap() as usize,
            written,
            "checkpoint {i}"
        );
        let want: Vec<u32> = signal[..2 * written].iter().map(|x| x.to_bits()).collect();
        assert!(
            bwav_f32_bits(&copy) == want,
            "checkpoint {i}: bwavfile samples"
        );
        if kind == "RIFF" {
            // Not yet past the threshold: plain RIFF, the JUNK reservation untouched.
            let riff = u32::from_le_bytes(bytes[4..8].try_into().unwrap());
            assert_eq!(riff as usize, bytes.len() - 8);
            assert!(riff as u64 <= threshold);
            assert_eq!(&bytes[12..16], b"JUNK");
            assert!(
                hound_f32_bits(&copy) == want,
                "checkpoint {i}: hound samples"
            );
        } else {
            assert_eq!(kind, "RF64");
            assert_eq!(&bytes[4..8], &[0xFF; 4]);
            assert_eq!(&bytes[12..20], b"ds64\x1c\x00\x00\x00");
            let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
            assert_eq!(u64_at(20), bytes.len() as u64 - 8, "ds64 RIFF size");
            assert_eq!(u64_at(28), 8 * written as u64, "ds64 data size");
            assert_eq!(u64_at(36), written as u64, "ds64 sample count");
            // hound reads no RF64: a clean error, not garbage.
            assert!(hound::WavReader::open(&copy).is_err());
        }
        if let Some(info) = sox_info(&copy) {
            assert_eq!(info, (2, 48_000, written as u64), "checkpoint {i} ({kind})");
        }
        kinds.push(kind);
    }
    assert_eq!(kinds, ["RIFF", "RF64", "RF64", "RF64"]);
    sink.add_cue(25_000, "Late");
    sink.finish();
    let mut reader = bwav(&path);
    assert_eq!(reader.frame_length().unwrap() as usize, written);
    let cues: Vec<u32> = reader
        .cue_points()
        .unwrap()
        .iter()
        .map(|c| c.frame)
        .collect();
    assert_eq!(cues, [25_000]);
    // The data size field says "see ds64".
    let bytes = std::fs::read(&path).unwrap();
    let data_at = bytes.windows(4).position(|w| w == b"data").unwrap();
    assert_eq!(&bytes[data_at + 4..data_at + 8], &[0xFF; 4]);
    if let Some(info) = sox_info(&path) {
        assert_eq!(info, (2, 48_000, written as u64));
    }
    // The mono collapse refuses RF64 cleanly and leaves the file alone.
    let err = stemtap_engine::wav::collapse_to_mono(&path, &Default::default()).unwrap_err();
    assert!(err.to_string().contains("RF64"), "{err}");
    assert!(std::fs::read(&path).unwrap() == bytes);
}

#[test]
fn cue_points_after_the_data_can_push_a_file_into_rf64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Take.wav");
    // A new file is its header: measure it with a sink that never switches.
    let spec = spec(dir.path(), SampleFormat::Int16, 2);
    let header = {
        let _sink = WavSink::create_with(spec.clone(), metadata(), RF64_AFTER_BYTES).unwrap();
        std::fs::metadata(&path).unwrap().len()
    };
    // The threshold is the RIFF size of the header and 1000 frames: only the cues pass it.
    let mut sink = WavSink::create_with(spec, metadata(), header - 8 + 4_000).unwrap();
    sink.write(&vec![0.25; 2 * 1_000]);
    sink.checkpoint_if_due(Instant::now() + CHECKPOINT_INTERVAL);
    assert_eq!(&std::fs::read(&path).unwrap()[..4], b"RIFF");
    sink.add_cue(10, "A");
    sink.finish();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..4], b"RF64");
    let mut reader = bwav(&path);
    assert_eq!(reader.frame_length().unwrap(), 1_000);
    assert_eq!(reader.cue_points().unwrap()[0].frame, 10);
    if let Some(info) = sox_info(&path) {
        assert_eq!(info, (2, 48_000, 1_000));
    }
}

/// The writer puts the take's position and the host's tempo into every file.
#[test]
fn a_recorded_take_lands_at_its_timeline_position() {
    let mut rig = Rig::new(EngineConfig::default());
    rig.add_track("Lead <Vox>", 2, 1000);
    rig.add_track("Bass", 1, 1000);
    rig.session.set_armed(true);
    let start = 10 * RATE as i64;
    for cycle in 0..30i64 {
        let pos = start + cycle * 1000;
        if cycle == 25 {
            rig.session.set_armed(false);
        }
        for t in 0..2 {
            rig.process(t, pos, 1000, &playing(pos));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let takes = wait_for_takes(rig.root(), 1);
    let (dir, m) = &takes[0];
    assert!(m.start_sample >= start, "{}", m.start_sample);
    for f in &m.files {
        let seed = if f.stem_name == "Bass" { 1 } else { 0 };
        let path = dir.join(&f.path);
        let mut reader = bwav(&path);
        let bext = reader.broadcast_extension().unwrap().unwrap();
        assert_eq!(bext.time_reference, m.start_sample as u64, "{}", f.path);
        assert!(
            bext.description
                .starts_with(&format!("{} ({}),", f.stem_name, "stem")),
            "{}",
            bext.description
        );
        assert!(bext.description.ends_with(&m.take), "{}", bext.description);
        let xml = ixml(&path);
        assert_eq!(element(&xml, "PROJECT"), Some(m.take.as_str()));
        assert_eq!(element(&xml, "TEMPO_BPM"), Some("120"));
        assert_eq!(element(&xml, "TIME_SIGNATURE"), Some("4/4"));
        assert_eq!(element(&xml, "TIMELINE"), Some("host"));
        assert_eq!(
            element(&xml, "START_BAR_BEAT"),
            m.start_bar_beat.as_deref(),
            "{xml}"
        );
        assert_eq!(reader.frame_length().unwrap(), m.length_frames);
        // Frame 0 is the timeline sample TimeReference names.
        let samples = hound_f32_bits(&path);
        assert_eq!(
            f32::from_bits(samples[0]),
            signal(seed, 0, bext.time_reference as i64)
        );
    }
    assert!(m.files[0].continuation_paths.is_empty());
}
