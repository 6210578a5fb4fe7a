//! The track sheet (`Track Sheet.txt`): what a recipient reads before opening anything.
//! Plain text, so it reads the same in any editor and in an e-mail: the project, when it
//! was packed, tempo and meter, key (when known), sample rate and format, every file with
//! its role, peak and loudness, the markers, and the check's verdicts.

use super::{PackResult, PackedFile};
use crate::analysis::db;
use crate::checks::{Level, TakeReport};
use crate::take::Take;
use std::fmt::Write;

fn num(x: Option<f64>, unit: &str) -> String {
    x.map_or("-".into(), |v| format!("{v:.1}{unit}"))
}

/// `seconds` as `m:ss.mmm` (`-` before zero).
pub fn clock(seconds: f64) -> String {
    let sign = if seconds < 0.0 { "-" } else { "" };
    let ms = (seconds.abs() * 1000.0).round() as u64;
    format!(
        "{sign}{}:{:02}.{:03}",
        ms / 60_000,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Peak (dBFS) and integrated loudness (LUFS) of a packed file: the check's measurement
/// of its source, or what the pack wrote for a derived pass (no loudness then).
fn figures(f: &PackedFile, report: &TakeReport) -> (Option<f64>, Option<f64>) {
    match report
        .files
        .iter()
        .find(|r| f.alternate.is_none() && r.path == f.source)
        .and_then(|r| r.analysis.as_ref())
    {
        Some(a) => (a.sample_peak_dbfs, a.integrated_lufs),
        None => (db(f.peak as f64), None),
    }
}

/// The track sheet of a finished pack.
pub fn track_sheet(take: &Take, result: &PackResult, packed_at: &str) -> String {
    let m = &take.manifest;
    let report = &result.check;
    let rate = m.sample_rate.max(1) as f64;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: pack for the {}",
        result.project,
        result.preset.recipient.label().to_lowercase()
    );
    let _ = writeln!(
        out,
        "Packed {packed_at} by StemTap {}\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(out, "Take:         {}", take.name());
    let tempo = match (m.tempo_bpm, m.time_signature) {
        (Some(t), Some([n, d])) => format!("{t:.2} BPM, {n}/{d}"),
        (Some(t), None) => format!("{t:.2} BPM"),
        (None, _) => "not given by the host".into(),
    };
    let _ = writeln!(out, "Tempo:        {tempo}");
    let _ = writeln!(out, "Key:          not known (StemTap does not record one)");
    let bar = m
        .start_bar_beat
        .as_deref()
        .map(|b| format!(", bar {b}"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Starts at:    {} on the {} timeline{bar} (sample {})",
        clock(m.start_seconds),
        serde_json::to_value(m.timeline)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        m.start_sample
    );
    let _ = writeln!(
        out,
        "Length:       {} ({} frames)",
        clock(m.length_frames as f64 / rate),
        m.length_frames
    );
    let _ = writeln!(
        out,
        "Audio:        {} Hz, {}",
        m.sample_rate,
        result.preset.format.label()
    );
    let _ = writeln!(
        out,
        "Check:        {} ({} warning{}, {} failure{})",
        report.verdict.word(),
        count(report, Level::Warn),
        plural(count(report, Level::Warn)),
        count(report, Level::Fail),
        plural(count(report, Level::Fail)),
    );
    let _ = writeln!(out, "\nFiles (every file starts at the take's start)\n");
    let width = result
        .files
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:<12}  {:>2}  {:>7}  {:>6}  check",
        "file", "role", "ch", "peak", "LUFS"
    );
    for f in &result.files {
        let (peak, lufs) = figures(f, report);
        let verdict = report
            .files
            .iter()
            .find(|r| f.alternate.is_none() && r.path == f.source)
            .map_or("-", |r| r.verdict.word());
        let role = f.alternate.map_or(f.role.clone(), |a| a.id().to_string());
        let _ = writeln!(
            out,
            "{:<width$}  {:<12}  {:>2}  {:>7}  {:>6}  {verdict}",
            f.name,
            role,
            f.channels,
            num(peak, ""),
            num(lufs, "")
        );
    }
    let derived: Vec<&PackedFile> = result
        .files
        .iter()
        .filter(|f| f.alternate.is_some())
        .collect();
    if !derived.is_empty() {
        let _ = writeln!(out, "\nDerived passes (summed from the stems)\n");
        for f in derived {
            let _ = writeln!(out, "{}: {}", f.name, f.source);
        }
        let _ = writeln!(out, "{}", result.alternates_note);
    }
    if m.segments.len() > 1 {
        let _ = writeln!(out, "\nMarkers\n");
        for (i, s) in m.segments.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                "Segment {}  at {} in the files, song position {}{}",
                i + 1,
                clock(s.frame as f64 / rate),
                clock(s.start_seconds),
                s.start_bar_beat
                    .as_deref()
                    .map(|b| format!(" (bar {b})"))
                    .unwrap_or_default()
            );
        }
    }
    let notes: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| {
            f.findings
                .iter()
                .filter(|x| x.level > Level::Ok)
                .map(move |x| format!("{:<4}  {}: {}", x.level.word(), f.path, x.message))
        })
        .chain(
            report
                .take_findings
                .iter()
                .map(|x| format!("{:<4}  {}", x.level.word(), x.message)),
        )
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\nCheck findings (on the take as recorded)\n");
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    if !result.warnings.is_empty() {
        let _ = writeln!(out, "\nNotes from packing\n");
        for w in &result.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
    let _ = writeln!(
        out,
        "\nImport: open {} in REAPER, or {} in Audacity, to get every file in place; in \
         any other DAW, place each file at {} (or at its Broadcast-WAV time stamp, when it \
         has one).",
        result.documents.reaper,
        result.documents.audacity,
        clock(super::reaper::take_position_seconds(take))
    );
    out
}

fn count(report: &TakeReport, level: Level) -> usize {
    report
        .files
        .iter()
        .flat_map(|f| &f.findings)
        .chain(&report.take_findings)
        .filter(|f| f.level == level)
        .count()
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_reads_like_a_daw() {
        assert_eq!(clock(0.0), "0:00.000");
        assert_eq!(clock(75.5), "1:15.500");
        assert_eq!(clock(-1.25), "-0:01.250");
    }
}
