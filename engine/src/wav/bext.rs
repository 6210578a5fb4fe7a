//! The Broadcast Wave `bext` chunk (EBU Tech 3285, version 1): where a DAW finds the
//! file's timeline position (`TimeReference`) when it spots or imports it "at its original
//! time". Writer thread (and the mono collapse's thread); pure data, no I/O.
//!
//! Version 1, not 2: version 2 adds five loudness fields, and a reader would take their
//! zeros for a measured 0 LUFS. StemTap measures no loudness while it records, so the
//! 190 bytes after the UMID stay reserved zeros, as version 1 defines them.

use super::header::AudioInfo;
use super::FileMetadata;
use crate::settings::SampleFormat;

/// `Originator`: the application that wrote the file.
const ORIGINATOR: &str = "StemTap";
/// Bytes of the fixed part, before `CodingHistory`.
pub(super) const BEXT_FIXED_LEN: usize = 602;
/// Where `CodingHistory` starts in the body.
const CODING_HISTORY_AT: usize = BEXT_FIXED_LEN;

/// The chunk's body for a file whose first frame is `frames_before` frames after the
/// take's start (0, or the frames in earlier continuation parts).
pub(super) fn bext_chunk_body(
    meta: &FileMetadata,
    audio: &AudioInfo,
    frames_before: u64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(BEXT_FIXED_LEN + 64);
    push_ascii(&mut out, &description(meta), 256);
    push_ascii(&mut out, ORIGINATOR, 32);
    // OriginatorReference: left empty; nothing StemTap knows is a unique source id.
    push_ascii(&mut out, "", 32);
    let originated = meta.originated();
    push_ascii(&mut out, &originated.format("%Y-%m-%d").to_string(), 10);
    push_ascii(&mut out, &originated.format("%H:%M:%S").to_string(), 8);
    out.extend(meta.time_reference(frames_before).to_le_bytes());
    out.extend(1u16.to_le_bytes()); // Version
    out.extend([0u8; 64]); // UMID: none
    out.extend([0u8; 190]); // Reserved (version 1)
    debug_assert_eq!(out.len(), CODING_HISTORY_AT);
    out.extend(coding_history_line(audio).as_bytes());
    pad_even(&mut out);
    out
}

/// `Description`: stem name, role and take, e.g. `Drums (stem), 2026-11-24 21-04-13 Take 3`.
fn description(meta: &FileMetadata) -> String {
    match (meta.track_name.is_empty(), meta.role.is_empty()) {
        (true, _) => meta.take_name.clone(),
        (false, true) => format!("{}, {}", meta.track_name, meta.take_name),
        (false, false) => format!("{} ({}), {}", meta.track_name, meta.role, meta.take_name),
    }
}

/// One line of `CodingHistory` (EBU R98): `A=PCM,F=48000,W=24,M=stereo,T=StemTap 0.1.0`
/// and CR LF. Float files say `A=PCM` too (R98 has no float algorithm) and name the
/// encoding in the free text.
fn coding_history_line(audio: &AudioInfo) -> String {
    let mode = match audio.channels {
        1 => "mono".to_string(),
        2 => "stereo".to_string(),
        n => format!("multichannel {n}"),
    };
    let float = if audio.format == SampleFormat::Float32 {
        " float"
    } else {
        ""
    };
    format!(
        "A=PCM,F={},W={},M={mode},T=StemTap {}{float}\r\n",
        audio.sample_rate,
        audio.bits(),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The body of a `bext` chunk read from a file, with a `CodingHistory` line appended that
/// records the mono collapse (R98: every process that changes the audio adds a line).
/// `None` when the body is too short to be a `bext` chunk (it is then copied unchanged).
pub(super) fn with_mono_collapse_line(body: &[u8], sample_rate: u32, bits: u16) -> Option<Vec<u8>> {
    if body.len() < BEXT_FIXED_LEN {
        return None;
    }
    // The history ends at its last non-NUL byte (writers pad it with NULs).
    let end = body.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let end = end.max(CODING_HISTORY_AT);
    let mut out = body[..end].to_vec();
    if end > CODING_HISTORY_AT && !out.ends_with(b"\r\n") {
        out.extend(b"\r\n");
    }
    out.extend(
        format!(
            "A=PCM,F={sample_rate},W={bits},M=mono,T=StemTap {} mono collapse of identical channels\r\n",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    );
    pad_even(&mut out);
    Some(out)
}

/// A NUL at the end if the length is odd: chunks before the audio must have even sizes
/// (see `header`), and a NUL ends the text for every reader.
fn pad_even(out: &mut Vec<u8>) {
    if out.len() % 2 == 1 {
        out.push(0);
    }
}

/// `text` as a fixed field of `len` bytes: ASCII only (other characters become `?`, as the
/// field is ASCII by the specification), cut to `len`, NUL-padded.
fn push_ascii(out: &mut Vec<u8>, text: &str, len: usize) {
    let mut bytes: Vec<u8> = text
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c as u8
            } else {
                b'?'
            }
        })
        .take(len)
        .collect();
    bytes.resize(len, 0);
    out.extend(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audio(format: SampleFormat, channels: u16) -> AudioInfo {
        AudioInfo {
            channels,
            sample_rate: 48_000,
            format,
        }
    }

    #[test]
    fn fields_sit_where_ebu_3285_puts_them() {
        let meta = FileMetadata {
            start_sample: 96_000,
            track_name: "Bässe & <Drums>".into(),
            role: "stem".into(),
            take_name: "2026-11-24 21-04-13 Take 3".into(),
            originated: chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
                .and_then(|d| d.and_hms_opt(21, 4, 13)),
            ..FileMetadata::default()
        };
        let body = bext_chunk_body(&meta, &audio(SampleFormat::Int24, 2), 1_000);
        assert_eq!(body.len() % 2, 0);
        let text = |at: usize, len: usize| {
            String::from_utf8(body[at..at + len].to_vec())
                .unwrap()
                .trim_end_matches('\0')
                .to_string()
        };
        assert_eq!(
            text(0, 256),
            "B?sse & <Drums> (stem), 2026-11-24 21-04-13 Take 3"
        );
        assert_eq!(text(256, 32), "StemTap");
        assert_eq!(text(320, 10), "2026-11-24");
        assert_eq!(text(330, 8), "21:04:13");
        assert_eq!(
            u64::from_le_bytes(body[338..346].try_into().unwrap()),
            97_000
        );
        assert_eq!(u16::from_le_bytes([body[346], body[347]]), 1);
        assert_eq!(
            text(602, body.len() - 602),
            format!(
                "A=PCM,F=48000,W=24,M=stereo,T=StemTap {}\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn a_position_before_the_song_start_is_written_as_zero() {
        let meta = FileMetadata {
            start_sample: -5_000,
            ..FileMetadata::default()
        };
        let body = bext_chunk_body(&meta, &audio(SampleFormat::Float32, 1), 0);
        assert_eq!(u64::from_le_bytes(body[338..346].try_into().unwrap()), 0);
        // A later part starts later on the timeline.
        let body = bext_chunk_body(&meta, &audio(SampleFormat::Float32, 1), 8_000);
        assert_eq!(
            u64::from_le_bytes(body[338..346].try_into().unwrap()),
            3_000
        );
    }

    #[test]
    fn the_mono_collapse_appends_a_coding_history_line() {
        let body = bext_chunk_body(&FileMetadata::default(), &audio(SampleFormat::Int16, 2), 0);
        let out = with_mono_collapse_line(&body, 48_000, 16).unwrap();
        assert_eq!(out.len() % 2, 0);
        let history = String::from_utf8(out[602..].to_vec()).unwrap();
        let lines: Vec<&str> = history.trim_end_matches('\0').split("\r\n").collect();
        assert!(lines[0].contains("M=stereo"), "{history}");
        assert!(
            lines[1].starts_with("A=PCM,F=48000,W=16,M=mono,"),
            "{history}"
        );
        assert_eq!(lines[2], "");
        assert!(with_mono_collapse_line(&body[..100], 48_000, 16).is_none());
    }
}
