//! The collapse on files written by [`WavSink`], read back by hound (samples) and bwavfile
//! (cue points, an independent reader).

use super::*;
use crate::settings::SampleFormat;
use crate::wav::test_support::{
    chunk, chunk_ids, create, cues_read_by_bwavfile, hound_samples, riff_chunks, spec, test_signal,
};
use crate::wav::{SinkSpec, WavSink, MAX_WAV_DATA_BYTES};

/// The frames of a signal with both channels the same, an odd count (so mono int24 data
/// has an odd size) and, for float stereo, more than one read block.
const FRAMES: usize = 150_001;

/// A stereo file with `left` in both channels, except `right_last` in the last frame's
/// second channel when given, and two cues. Returns its path.
fn stereo_file(dir: &Path, format: SampleFormat, right_last: Option<f32>) -> PathBuf {
    let left = test_signal(FRAMES, 21);
    let mut frames: Vec<f32> = left.iter().flat_map(|&x| [x, x]).collect();
    if let Some(x) = right_last {
        frames[2 * FRAMES - 1] = x;
    }
    let mut sink = create(spec(dir, format, MAX_WAV_DATA_BYTES)).unwrap();
    write_with_cues(&mut sink, &frames);
    dir.join("Kick.wav")
}

fn write_with_cues(sink: &mut WavSink, frames: &[f32]) {
    sink.add_cue(0, "Start");
    sink.add_cue(77_777, "Loop 2");
    sink.write(frames);
    sink.finish();
    assert!(sink.error.is_none(), "{:?}", sink.error);
}

/// Channel 0 of an interleaved stereo sample list.
fn channel_0(samples: &[i64]) -> Vec<i64> {
    samples.iter().step_by(2).copied().collect()
}

/// The files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The body of the `fmt ` chunk of `bytes`.
fn fmt_body(bytes: &[u8]) -> Vec<u8> {
    let (at, size) = chunk(bytes, b"fmt ");
    bytes[at..at + size].to_vec()
}

/// Everything from the data chunk's header to the end of the file.
fn from_data_on(bytes: &[u8]) -> &[u8] {
    &bytes[chunk(bytes, b"data").0 - 8..]
}

#[test]
fn identical_stereo_collapses_to_channel_0_and_keeps_its_cues() {
    for format in SampleFormat::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = stereo_file(dir.path(), format, None);
        let stereo = hound_samples(&path);
        let outcome = collapse_to_mono(&path, &AtomicBool::new(false)).unwrap();
        assert_eq!(outcome, CollapseOutcome::Collapsed, "{format:?}");

        let channels = hound::WavReader::open(&path).unwrap().spec().channels;
        assert_eq!(channels, 1, "{format:?}");
        assert!(
            hound_samples(&path) == channel_0(&stereo),
            "{format:?}: samples"
        );
        assert_eq!(
            cues_read_by_bwavfile(&path),
            [(0, "Start".to_string()), (77_777, "Loop 2".to_string())],
            "{format:?}"
        );
        let bytes = fs::read(&path).unwrap();
        assert_eq!(
            chunk_ids(&bytes),
            ["JUNK", "fmt ", "bext", "iXML", "data", "cue ", "LIST"],
            "{format:?}"
        );
        // The metadata says mono too, read by bwavfile: a CodingHistory line for the
        // collapse after the stereo one, and one iXML track named after the stream.
        let mut reader = bwavfile::WaveReader::open(&path).unwrap();
        let bext = reader.broadcast_extension().unwrap().unwrap();
        let history: Vec<&str> = bext
            .coding_history
            .trim_end_matches('\0')
            .split("\r\n")
            .collect();
        assert!(history[0].contains(",M=stereo,"), "{history:?}");
        assert!(
            history[1].contains(",M=mono,") && history[1].contains("collapse"),
            "{history:?}"
        );
        assert_eq!(bext.time_reference, 48_000);
        let mut ixml = Vec::new();
        reader.read_ixml(&mut ixml).unwrap();
        let ixml = String::from_utf8(ixml).unwrap();
        assert!(ixml.contains("<TRACK_COUNT>1</TRACK_COUNT>"), "{ixml}");
        assert!(
            ixml.contains("<NAME>Kick</NAME>") && !ixml.contains("Kick R"),
            "{ixml}"
        );
        assert_eq!(
            listing(dir.path()),
            ["Kick.wav"],
            "{format:?}: a file left behind"
        );

        // The fmt chunk is what the sink writes for a mono file, but for the channel mask of
        // EXTENSIBLE ones: front centre (KSAUDIO_SPEAKER_MONO), where hound writes front
        // left. For float and int24 (no dither) so is the rest of the file from the data
        // chunk on, cues and pad byte included.
        let mono_dir = dir.path().join("mono");
        fs::create_dir(&mono_dir).unwrap();
        let mut sink = create(SinkSpec {
            channels: 1,
            ..spec(&mono_dir, format, MAX_WAV_DATA_BYTES)
        })
        .unwrap();
        write_with_cues(&mut sink, &test_signal(FRAMES, 21));
        let mut mono = fs::read(mono_dir.join("Kick.wav")).unwrap();
        if format != SampleFormat::Int16 {
            let (fmt_at, _) = chunk(&mono, b"fmt ");
            assert_eq!(mono[fmt_at + 20..fmt_at + 24], 1u32.to_le_bytes());
            mono[fmt_at + 20..fmt_at + 24].copy_from_slice(&4u32.to_le_bytes());
        }
        assert_eq!(fmt_body(&bytes), fmt_body(&mono), "{format:?}: fmt");
        if format != SampleFormat::Int16 {
            assert!(
                from_data_on(&bytes) == from_data_on(&mono),
                "{format:?}: differs from the sink's mono file"
            );
        }
    }
}

#[test]
fn one_differing_sample_in_the_last_frame_leaves_the_file_alone() {
    for format in SampleFormat::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = stereo_file(dir.path(), format, Some(0.75));
        let before = fs::read(&path).unwrap();
        let outcome = collapse_to_mono(&path, &AtomicBool::new(false)).unwrap();
        assert_eq!(outcome, CollapseOutcome::NotIdentical, "{format:?}");
        assert!(fs::read(&path).unwrap() == before, "{format:?}: changed");
        assert_eq!(
            listing(dir.path()),
            ["Kick.wav"],
            "{format:?}: a file left behind"
        );
    }
}

#[test]
fn cancel_leaves_the_original_and_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = stereo_file(dir.path(), SampleFormat::Float32, None);
    let before = fs::read(&path).unwrap();
    let outcome = collapse_to_mono(&path, &AtomicBool::new(true)).unwrap();
    assert_eq!(outcome, CollapseOutcome::Cancelled);
    assert!(fs::read(&path).unwrap() == before);
    assert_eq!(listing(dir.path()), ["Kick.wav"]);
}

#[test]
fn chunks_before_and_after_the_data_survive_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = stereo_file(dir.path(), SampleFormat::Int24, None);
    // Put an odd-sized chunk (another writer's iXML) right before the data.
    let bytes = fs::read(&path).unwrap();
    let (data_at, _) = chunk(&bytes, b"data");
    let extra = b"iXML\x05\x00\x00\x00<x/>!\x00";
    let mut with = bytes[..data_at - 8].to_vec();
    with.extend(extra);
    with.extend(&bytes[data_at - 8..]);
    let riff = (with.len() - 8) as u32;
    with[4..8].copy_from_slice(&riff.to_le_bytes());
    fs::write(&path, &with).unwrap();

    let outcome = collapse_to_mono(&path, &AtomicBool::new(false)).unwrap();
    assert_eq!(outcome, CollapseOutcome::Collapsed);
    let after = fs::read(&path).unwrap();
    let chunks = riff_chunks(&after);
    assert_eq!(
        chunk_ids(&after),
        ["JUNK", "fmt ", "bext", "iXML", "iXML", "data", "cue ", "LIST"]
    );
    // The JUNK and the foreign iXML are copied as they were.
    assert_eq!(after[12..48], with[12..48]);
    let (_, at, size) = chunks[4];
    assert_eq!(&after[at - 8..at + size + 1], extra);
    // The data (3 bytes a frame, odd count) is followed by its pad byte.
    let (_, at, size) = chunks[5];
    assert_eq!((size, after[at + size]), (3 * FRAMES, 0));
    // Everything after the data chunk is the input's, byte for byte.
    let (_, in_cue_at, _) = riff_chunks(&with)[6];
    assert_eq!(after[chunks[6].1 - 8..], with[in_cue_at - 8..]);
    assert_eq!(cues_read_by_bwavfile(&path).len(), 2);
}

#[test]
fn an_extensible_file_without_a_channel_mask_keeps_none() {
    let dir = tempfile::tempdir().unwrap();
    let path = stereo_file(dir.path(), SampleFormat::Float32, None);
    let mut bytes = fs::read(&path).unwrap();
    let (fmt_at, _) = chunk(&bytes, b"fmt ");
    assert_eq!(bytes[fmt_at + 20..fmt_at + 24], 3u32.to_le_bytes());
    bytes[fmt_at + 20..fmt_at + 24].copy_from_slice(&0u32.to_le_bytes());
    fs::write(&path, &bytes).unwrap();
    let outcome = collapse_to_mono(&path, &AtomicBool::new(false)).unwrap();
    assert_eq!(outcome, CollapseOutcome::Collapsed);
    let after = fs::read(&path).unwrap();
    let fmt = fmt_body(&after);
    assert_eq!(fmt[20..24], 0u32.to_le_bytes());
    // nChannels, nAvgBytesPerSec, nBlockAlign for one float channel at 48 kHz.
    assert_eq!(fmt[2..4], 1u16.to_le_bytes());
    assert_eq!(fmt[8..12], (48_000u32 * 4).to_le_bytes());
    assert_eq!(fmt[12..14], 4u16.to_le_bytes());
}

#[test]
fn files_that_are_not_stereo_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    for channels in [1u16, 3] {
        let mut sink = create(SinkSpec {
            channels,
            rel_base: format!("{channels} channels"),
            ..spec(dir.path(), SampleFormat::Int16, MAX_WAV_DATA_BYTES)
        })
        .unwrap();
        sink.write(&vec![0.25; 30 * channels as usize]);
        sink.finish();
        let path = dir.path().join(format!("{channels} channels.wav"));
        let before = fs::read(&path).unwrap();
        let outcome = collapse_to_mono(&path, &AtomicBool::new(false)).unwrap();
        assert_eq!(
            outcome,
            CollapseOutcome::NotIdentical,
            "{channels} channels"
        );
        assert!(fs::read(&path).unwrap() == before);
    }
}

#[test]
fn a_missing_or_foreign_file_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("Gone.wav");
    let err = collapse_to_mono(&missing, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, CollapseError::Read { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let text = dir.path().join("Notes.wav");
    fs::write(&text, "not audio at all").unwrap();
    let err = collapse_to_mono(&text, &AtomicBool::new(false)).unwrap_err();
    assert!(matches!(err, CollapseError::Unsupported { .. }), "{err:?}");
    assert!(err.to_string().contains(&*text.to_string_lossy()), "{err}");
    assert!(err.to_string().contains("not a RIFF file"), "{err}");
    assert_eq!(fs::read(&text).unwrap(), b"not audio at all");
    assert_eq!(listing(dir.path()), ["Notes.wav"]);
}
