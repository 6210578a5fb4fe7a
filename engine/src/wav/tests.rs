//! End-to-end tests of [`WavSink`]: files written through the sink, read back by hound
//! and compared with hound's own per-sample files (their data chunks: the headers differ
//! since StemTap writes its own, with `bext` and `iXML`).

use super::test_support::{
    chunk, chunk_ids, create, cues_read_by_bwavfile, data_body, hound_samples, riff_chunks, spec,
    test_signal, write_reference, Op,
};
use super::*;
use crate::settings::SampleFormat;
use std::path::Path;
use std::time::Instant;

#[test]
fn fast_path_data_is_byte_identical_to_hound_per_sample_files() {
    for format in SampleFormat::ALL {
        for channels in [1u16, 2] {
            let dir = tempfile::tempdir().unwrap();
            let ch = channels as usize;
            let signal = test_signal(60_000 * ch, channels as u64);
            // Irregular writes: single frames, odd sizes, one larger than the write
            // buffer, silence and a checkpoint in between.
            let cuts = [1, 7, 512, 4096, 30_000, 1, 3, 20_000];
            let mut ops = Vec::new();
            let mut at = 0;
            for (i, &frames) in cuts.iter().cycle().enumerate() {
                if at >= signal.len() {
                    break;
                }
                let end = (at + frames * ch).min(signal.len());
                ops.push(Op::Samples(signal[at..end].to_vec()));
                at = end;
                match i % 5 {
                    2 => ops.push(Op::Silence(9_000)),
                    3 => ops.push(Op::Checkpoint),
                    _ => {}
                }
            }
            let reference = dir.path().join("reference.wav");
            write_reference(&reference, channels, format, &ops);

            let mut sink = create(SinkSpec {
                channels,
                ..spec(dir.path(), format, MAX_WAV_DATA_BYTES)
            })
            .unwrap();
            let t0 = Instant::now();
            for (i, op) in ops.iter().enumerate() {
                match op {
                    Op::Samples(s) => sink.write(s),
                    Op::Silence(frames) => sink.write_silence(*frames),
                    Op::Checkpoint => {
                        sink.checkpoint_if_due(t0 + CHECKPOINT_INTERVAL * (i as u32 + 1))
                    }
                }
            }
            sink.finish();
            assert!(sink.error.is_none(), "{:?}", sink.error);
            let fast = dir.path().join("Kick.wav");

            let what = format!("{format:?}, {channels} channels");
            let (a, b) = (
                hound::WavReader::open(&reference).unwrap(),
                hound::WavReader::open(&fast).unwrap(),
            );
            assert_eq!(a.spec(), b.spec(), "{what}");
            assert_eq!(a.len(), b.len(), "{what}");
            assert_eq!(
                b.len() as u64,
                sink.frames_written * channels as u64,
                "{what}"
            );
            match format {
                SampleFormat::Float32 => {
                    let bits = |r: hound::WavReader<_>| -> Vec<u32> {
                        r.into_samples::<f32>()
                            .map(|s| s.unwrap().to_bits())
                            .collect()
                    };
                    assert!(bits(a) == bits(b), "{what}: samples differ");
                }
                _ => {
                    let ints = |r: hound::WavReader<_>| -> Vec<i32> {
                        r.into_samples::<i32>().map(Result::unwrap).collect()
                    };
                    assert!(ints(a) == ints(b), "{what}: samples differ");
                }
            }
            assert!(
                data_body(&reference) == data_body(&fast),
                "{what}: data chunks differ"
            );
            // The same `fmt ` chunk as hound's.
            let (reference, fast) = (
                std::fs::read(&reference).unwrap(),
                std::fs::read(&fast).unwrap(),
            );
            let (a, n) = chunk(&reference, b"fmt ");
            let (b, m) = chunk(&fast, b"fmt ");
            assert_eq!(reference[a..a + n], fast[b..b + m], "{what}: fmt");
        }
    }
}

#[test]
fn float_files_are_bit_exact_and_roll_over_on_frame_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    // 10 frames of stereo float per part.
    let mut sink = create(spec(dir.path(), SampleFormat::Float32, 80)).unwrap();
    let samples: Vec<f32> = (0..50).map(|i| i as f32 * 0.01 - 0.2).collect();
    sink.write(&samples[..6]);
    sink.write_silence(4);
    sink.write(&samples[6..]);
    sink.finish();
    assert_eq!(sink.frames_written, 3 + 4 + 22);
    assert_eq!(
        sink.parts,
        ["Kick.wav", "Kick (part 2).wav", "Kick (part 3).wav"]
    );
    let mut all = Vec::new();
    for part in &sink.parts {
        let mut reader = hound::WavReader::open(dir.path().join(part)).unwrap();
        all.extend(reader.samples::<f32>().map(Result::unwrap));
    }
    let mut want = samples[..6].to_vec();
    want.extend([0.0; 8]);
    want.extend(&samples[6..]);
    assert_eq!(all, want);
    assert!((sink.peak - 0.29).abs() < 1e-6);
}

#[test]
fn odd_sized_int24_mono_parts_roll_over_and_match_hound_data() {
    let dir = tempfile::tempdir().unwrap();
    // 7 frames of mono 24-bit (21 bytes, odd) per part.
    let mut sink = create(SinkSpec {
        channels: 1,
        ..spec(dir.path(), SampleFormat::Int24, 23)
    })
    .unwrap();
    let samples = test_signal(30, 3);
    sink.write(&samples);
    sink.finish();
    assert_eq!(sink.parts.len(), 5);
    for (i, part) in sink.parts.iter().enumerate() {
        let chunk = &samples[i * 7..((i + 1) * 7).min(samples.len())];
        let reference = dir.path().join(format!("reference {i}.wav"));
        write_reference(
            &reference,
            1,
            SampleFormat::Int24,
            &[Op::Samples(chunk.to_vec())],
        );
        assert!(
            data_body(&reference) == data_body(&dir.path().join(part)),
            "{part}"
        );
    }
}

#[test]
fn checkpointed_file_is_readable_before_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = create(spec(dir.path(), SampleFormat::Int24, MAX_WAV_DATA_BYTES)).unwrap();
    sink.write(&[0.5, -0.5, 0.25, -0.25]);
    sink.checkpoint_if_due(Instant::now() + CHECKPOINT_INTERVAL);
    // Not finished: a crash now still leaves a readable file with both frames.
    let reader = hound::WavReader::open(dir.path().join("Kick.wav")).unwrap();
    let got: Vec<i32> = reader.into_samples::<i32>().map(Result::unwrap).collect();
    assert_eq!(got, [4_194_304, -4_194_304, 2_097_152, -2_097_152]);
    drop(sink);
}

#[test]
fn a_new_file_is_a_valid_empty_wav_and_drop_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = create(spec(dir.path(), SampleFormat::Float32, MAX_WAV_DATA_BYTES)).unwrap();
    let path = dir.path().join("Kick.wav");
    assert_eq!(hound::WavReader::open(&path).unwrap().len(), 0);
    sink.write(&[0.25, -0.25]);
    drop(sink);
    let got: Vec<f32> = hound::WavReader::open(&path)
        .unwrap()
        .into_samples::<f32>()
        .map(Result::unwrap)
        .collect();
    assert_eq!(got, [0.25, -0.25]);
}

#[test]
fn identical_channels_and_clipping_are_tracked() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = create(spec(dir.path(), SampleFormat::Int16, MAX_WAV_DATA_BYTES)).unwrap();
    sink.write(&[0.1, 0.1, 1.5, 1.5]);
    assert!(sink.channels_identical);
    assert_eq!(sink.clipped_samples, 2);
    sink.write(&[0.1, 0.2]);
    assert!(!sink.channels_identical);
    sink.write(&[f32::NAN, -3.0]);
    assert_eq!(sink.clipped_samples, 3);
    assert_eq!(sink.peak, 3.0);
    sink.finish();
    let reader = hound::WavReader::open(dir.path().join("Kick.wav")).unwrap();
    assert_eq!(reader.spec().bits_per_sample, 16);
    assert_eq!(reader.len(), 8);
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    let err = create(spec(&missing, SampleFormat::Float32, 1 << 20))
        .err()
        .unwrap();
    assert!(err.to_string().contains("cannot create"), "{err}");
}

// Cue points: read back by bwavfile, an independent reader, with the samples unchanged.

/// `(frame, label)` pairs as owned strings, for comparing with what bwavfile reads.
fn cues(points: &[(u32, &str)]) -> Vec<(u32, String)> {
    points.iter().map(|&(f, l)| (f, l.to_string())).collect()
}

/// The same audio through a sink without cues: the reference for the file's samples.
fn without_cues(dir: &Path, spec: SinkSpec, samples: &[f32]) -> Vec<u8> {
    let spec = SinkSpec {
        take_dir: dir.join("plain"),
        ..spec
    };
    std::fs::create_dir(&spec.take_dir).unwrap();
    let path = spec.take_dir.join(format!("{}.wav", spec.rel_base));
    let mut sink = create(spec).unwrap();
    sink.write(samples);
    sink.finish();
    std::fs::read(path).unwrap()
}

#[test]
fn float_stereo_cues_are_read_by_bwavfile_and_samples_stay_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let spec = spec(dir.path(), SampleFormat::Float32, MAX_WAV_DATA_BYTES);
    let signal = test_signal(2 * 70_001, 11);
    let mut sink = create(spec.clone()).unwrap();
    // Added out of order, one before its frame is written, one at the very end.
    sink.add_cue(30_000, "Loop 2");
    sink.add_cue(0, "Start");
    sink.write(&signal[..2 * 40_000]);
    sink.add_cue(40_000, "Locate");
    sink.write(&signal[2 * 40_000..]);
    sink.add_cue(70_001, "Stop");
    sink.finish();
    assert!(sink.error.is_none(), "{:?}", sink.error);

    let path = dir.path().join("Kick.wav");
    assert_eq!(
        cues_read_by_bwavfile(&path),
        cues(&[
            (0, "Start"),
            (30_000, "Loop 2"),
            (40_000, "Locate"),
            (70_001, "Stop")
        ])
    );
    let mut reader = bwavfile::WaveReader::open(&path).unwrap();
    assert_eq!(reader.frame_length().unwrap(), 70_001);
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        chunk_ids(&bytes),
        ["JUNK", "fmt ", "bext", "iXML", "data", "cue ", "LIST"]
    );
    // Everything up to the end of the data is what the sink writes without cues, but
    // the RIFF size.
    let plain = without_cues(dir.path(), spec, &signal);
    assert_eq!(bytes[8..plain.len()], plain[8..]);
    assert_eq!(bytes[..4], plain[..4]);
    let want: Vec<i64> = signal.iter().map(|x| x.to_bits() as i64).collect();
    assert!(hound_samples(&path) == want, "samples differ");
}

#[test]
fn odd_sized_int24_mono_data_gets_a_pad_byte_before_the_cues() {
    let dir = tempfile::tempdir().unwrap();
    let spec = SinkSpec {
        channels: 1,
        ..spec(dir.path(), SampleFormat::Int24, MAX_WAV_DATA_BYTES)
    };
    let signal = test_signal(1_001, 5);
    let mut sink = create(spec.clone()).unwrap();
    sink.add_cue(1, "A");
    sink.add_cue(1_000, "Last frame");
    sink.write(&signal);
    sink.finish();

    let path = dir.path().join("Kick.wav");
    let bytes = std::fs::read(&path).unwrap();
    let chunks = riff_chunks(&bytes);
    let (_, data_at, data_len) = chunks[chunks.len() - 3];
    assert_eq!(data_len, 3 * 1_001);
    assert_eq!(bytes[data_at + data_len], 0, "pad byte");
    assert_eq!(&bytes[data_at + data_len + 1..][..4], b"cue ");
    assert_eq!(
        cues_read_by_bwavfile(&path),
        cues(&[(1, "A"), (1_000, "Last frame")])
    );
    let plain = without_cues(dir.path(), spec, &signal);
    assert_eq!(bytes[8..plain.len()], plain[8..]);
    let want: Vec<i64> = signal.iter().map(|&x| to_i24(x) as i64).collect();
    assert_eq!(hound_samples(&path), want);
}

#[test]
fn cues_go_into_the_part_that_holds_their_frame() {
    let dir = tempfile::tempdir().unwrap();
    // 10 frames of stereo float per part; 25 frames make three parts.
    let mut sink = create(spec(dir.path(), SampleFormat::Float32, 80)).unwrap();
    let signal: Vec<f32> = (0..50).map(|i| i as f32 / 64.0).collect();
    for (frame, label) in [(3, "a"), (10, "b"), (14, "c"), (19, "d"), (25, "end")] {
        sink.add_cue(frame, label);
    }
    sink.write(&signal);
    sink.finish();
    assert_eq!(sink.parts.len(), 3);
    let read = |i: usize| cues_read_by_bwavfile(&dir.path().join(&sink.parts[i]));
    assert_eq!(read(0), cues(&[(3, "a")]));
    // A cue exactly at a part's end is the first frame of the next one.
    assert_eq!(read(1), cues(&[(0, "b"), (4, "c"), (9, "d")]));
    assert_eq!(read(2), cues(&[(5, "end")]));
    let mut all = Vec::new();
    for part in &sink.parts {
        all.extend(hound_samples(&dir.path().join(part)));
    }
    let want: Vec<i64> = signal.iter().map(|x| x.to_bits() as i64).collect();
    assert_eq!(all, want);
}

#[test]
fn checkpoints_leave_out_the_cues_and_drop_writes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = create(spec(dir.path(), SampleFormat::Int16, MAX_WAV_DATA_BYTES)).unwrap();
    let path = dir.path().join("Kick.wav");
    sink.add_cue(1, "Play");
    sink.write(&[0.5, 0.5, -0.5, -0.5, 0.25, 0.25]);
    sink.checkpoint_if_due(Instant::now() + CHECKPOINT_INTERVAL);
    // Mid-recording (as after a crash): a valid file of header and data only.
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(chunk_ids(&bytes), ["JUNK", "fmt ", "bext", "iXML", "data"]);
    assert!(cues_read_by_bwavfile(&path).is_empty());
    assert_eq!(hound_samples(&path).len(), 6);
    drop(sink);
    assert_eq!(cues_read_by_bwavfile(&path), cues(&[(1, "Play")]));
    assert_eq!(hound_samples(&path).len(), 6);
}
