//! Import helpers: a project that opens with every packed file at its place on the
//! timeline, so a recipient does not line files up by hand.
//! - [`reaper_project`]: a REAPER project (`.RPP`, plain text): the take's tempo and meter,
//!   one track per file, each file one item at the take's start, the take's segments as
//!   markers.
//! - [`audacity_lof`]: an Audacity "list of files" (`.lof`): each file with its offset.
//!
//! Both refer to the files by relative path (the project sits next to them in the pack), so
//! they work wherever the zip is unpacked. Positions are the take's `start_seconds` on the
//! host's timeline, clamped at 0 (a take that began in a count-in before the song start
//! cannot sit before a DAW's zero).

use super::PackedFile;
use crate::take::Take;
use std::fmt::Write;

/// Where the take starts in a project, seconds (clamped at 0).
pub fn take_position_seconds(take: &Take) -> f64 {
    take.manifest.start_seconds.max(0.0)
}

/// A string as REAPER quotes it: in double quotes, or single quotes or back-ticks when it
/// holds double quotes.
fn quote(s: &str) -> String {
    if !s.contains('"') {
        format!("\"{s}\"")
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        format!("`{}`", s.replace('`', "'"))
    }
}

/// Seconds with enough digits to place a sample exactly at 192 kHz.
fn secs(x: f64) -> String {
    format!("{x:.10}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
}

/// The REAPER project for `files` (in pack order).
pub fn reaper_project(take: &Take, files: &[PackedFile]) -> String {
    let m = &take.manifest;
    let rate = m.sample_rate.max(1) as f64;
    let position = take_position_seconds(take);
    let mut out = String::new();
    let _ = writeln!(out, "<REAPER_PROJECT 0.1 \"6.0/stemtap\" 0");
    let (num, den) = m.time_signature.map_or((4, 4), |[n, d]| (n, d));
    let _ = writeln!(
        out,
        "  TEMPO {} {num} {den}",
        secs(m.tempo_bpm.unwrap_or(120.0))
    );
    // Project sample rate forced to the take's, so nothing is resampled on import.
    let _ = writeln!(out, "  SAMPLERATE {} 1 0", m.sample_rate);
    for (i, seg) in m.segments.iter().enumerate().skip(1) {
        let at = position + seg.frame as f64 / rate;
        let _ = writeln!(
            out,
            "  MARKER {i} {} {} 0",
            secs(at),
            quote(&format!("Segment {}", i + 1))
        );
    }
    for f in files {
        let track = f.name.strip_suffix(".wav").unwrap_or(&f.name);
        let _ = writeln!(out, "  <TRACK");
        let _ = writeln!(out, "    NAME {}", quote(track));
        let _ = writeln!(out, "    NCHAN {}", f.channels.max(2));
        let _ = writeln!(out, "    <ITEM");
        let _ = writeln!(out, "      POSITION {}", secs(position));
        let _ = writeln!(out, "      LENGTH {}", secs(f.frames as f64 / rate));
        let _ = writeln!(out, "      NAME {}", quote(&f.name));
        let _ = writeln!(out, "      <SOURCE WAVE");
        let _ = writeln!(out, "        FILE {}", quote(&f.name));
        let _ = writeln!(out, "      >");
        let _ = writeln!(out, "    >");
        let _ = writeln!(out, "  >");
    }
    let _ = writeln!(out, ">");
    out
}

/// The Audacity list of files: `File > Import > Audio` of this file places each one.
pub fn audacity_lof(take: &Take, files: &[PackedFile]) -> String {
    let position = secs(take_position_seconds(take));
    files
        .iter()
        .map(|f| format!("file \"{}\" offset {position}\n", f.name))
        .collect()
}
