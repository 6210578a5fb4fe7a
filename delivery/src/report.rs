//! `stemtap check`'s terminal table: one line per file with its figures and verdict, the
//! reasons under it, then the take's own findings. (`--json` prints the [`TakeReport`]
//! itself.)

use crate::analysis::FileAnalysis;
use crate::checks::{Level, TakeReport};
use std::fmt::Write;

fn num(x: Option<f64>, decimals: usize) -> String {
    x.map_or("-".into(), |v| format!("{v:.decimals$}"))
}

/// The report as text for a terminal (no colours: it goes to files and CI logs too).
pub fn table(report: &TakeReport) -> String {
    let mut out = String::new();
    let rate = report.sample_rate.max(1) as f64;
    let _ = writeln!(
        out,
        "{}  ({} files, {:.2} s at {} Hz, {} marker{})",
        report.take,
        report.files.len(),
        report.length_frames as f64 / rate,
        report.sample_rate,
        report.markers.len(),
        if report.markers.len() == 1 { "" } else { "s" }
    );
    let _ = writeln!(out);
    let width = report
        .files
        .iter()
        .map(|f| f.path.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<width$}  {:>4}  {:>7}  {:>7}  {:>6}  {:>5}  verdict",
        "file", "ch", "peak", "dBTP", "LUFS", "LRA"
    );
    for f in &report.files {
        let a: Option<&FileAnalysis> = f.analysis.as_ref();
        let _ = writeln!(
            out,
            "{:<width$}  {:>4}  {:>7}  {:>7}  {:>6}  {:>5}  {}",
            f.path,
            a.map_or("-".into(), |a| a.channels.to_string()),
            num(a.and_then(|a| a.sample_peak_dbfs), 1),
            num(a.and_then(|a| a.true_peak_dbtp), 1),
            num(a.and_then(|a| a.integrated_lufs), 1),
            num(a.and_then(|a| a.loudness_range_lu), 1),
            f.verdict.word()
        );
        for finding in f.findings.iter().filter(|x| x.level > Level::Ok) {
            let _ = writeln!(out, "    {:<4}  {}", finding.level.word(), finding.message);
        }
    }
    let _ = writeln!(out);
    for finding in &report.take_findings {
        let _ = writeln!(out, "{:<4}  {}", finding.level.word(), finding.message);
    }
    let _ = writeln!(
        out,
        "\n{}: {}",
        report.verdict.word(),
        match report.verdict {
            Level::Ok => "ready to send",
            Level::Warn => "can be sent; look at the warnings first",
            Level::Fail => "not ready: fix what failed",
        }
    );
    out
}
