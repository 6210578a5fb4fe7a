//! From measurements to verdicts: what a mix or mastering engineer would send back. Every
//! finding says what is wrong in words and is `ok`, `warn` (worth a look, allowed) or `fail`
//! (the delivery is not right). Files are analysed in parallel, one per core.

use crate::analysis::{analyse_with, FileAnalysis};
use crate::null_test::{null_test_with, NullResult};
use crate::take::{Take, NEVER_CANCELLED};
use rayon::prelude::*;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use stemtap_engine::manifest::FileEntry;
use stemtap_engine::settings::Role;

/// Nothing above this (dBFS) in a whole file: usually a routing mistake.
pub const SILENT_DBFS: f64 = -80.0;
/// True peaks above this (dBTP) leave less headroom than any recipient wants.
pub const HEADROOM_DBTP: f64 = -1.0;
/// A channel whose mean is beyond this (linear, -60 dBFS) carries DC.
pub const DC_LIMIT: f64 = 0.001;
/// Louder than this (dBFS) in the last moments: still sounding, the tail may be cut.
pub const TAIL_DBFS: f64 = -60.0;
/// Louder than this (dBFS) in the first moments: the attack may be missing.
pub const ATTACK_DBFS: f64 = -30.0;
/// A residual below this (dB relative to the mix) is a null: the stems add up.
pub const NULL_DB: f64 = -90.0;

/// How bad a finding is. Ordered: the worst finding is a line's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "FAIL",
        }
    }
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub level: Level,
    /// Short id of the check (`silent`, `true_peak`, `null_test`...), for scripts.
    pub check: &'static str,
    pub message: String,
}

fn finding(level: Level, check: &'static str, message: impl Into<String>) -> Finding {
    Finding {
        level,
        check,
        message: message.into(),
    }
}

/// One file's measurements and findings.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub stem_name: String,
    pub role: Role,
    /// `None` when the file could not be read (the finding says why).
    pub analysis: Option<FileAnalysis>,
    pub findings: Vec<Finding>,
    pub verdict: Level,
}

/// Everything `stemtap check` found in a take.
#[derive(Debug, Clone, Serialize)]
pub struct TakeReport {
    pub take: String,
    pub dir: PathBuf,
    pub sample_rate: u32,
    pub length_frames: u64,
    /// Marker positions (file frames of every segment after the first).
    pub markers: Vec<u64>,
    pub files: Vec<FileReport>,
    /// Findings about the take as a whole (formats, lengths, completeness, the null test).
    pub take_findings: Vec<Finding>,
    pub null_test: Option<NullResult>,
    /// Files that could not be read at all.
    pub read_errors: usize,
    pub verdict: Level,
}

/// Check every file of `take` (in parallel) and the take as a whole.
pub fn check_take(take: &Take) -> TakeReport {
    check_take_with(take, &NEVER_CANCELLED, &AtomicUsize::new(0)).expect("never cancelled")
}

/// [`check_take`]; `None` once `cancel` is set (checked between blocks of audio).
/// `files_done` counts the files measured so far, for a progress display.
pub fn check_take_with(
    take: &Take,
    cancel: &AtomicBool,
    files_done: &AtomicUsize,
) -> Option<TakeReport> {
    let m = &take.manifest;
    let files: Vec<FileReport> = m
        .files
        .par_iter()
        .map(|entry| {
            let report = check_file(take, entry, cancel);
            files_done.fetch_add(1, Ordering::Relaxed);
            report
        })
        .collect();
    if cancel.load(Ordering::Relaxed) {
        return None;
    }
    let read_errors = files.iter().filter(|f| f.analysis.is_none()).count();
    let mut take_findings = take_level_findings(take, &files);
    let null = run_null_test(take, &files, &mut take_findings, cancel);
    if cancel.load(Ordering::Relaxed) {
        return None;
    }
    let verdict = files
        .iter()
        .map(|f| f.verdict)
        .chain(take_findings.iter().map(|f| f.level))
        .max()
        .unwrap_or(Level::Ok);
    Some(TakeReport {
        take: take.name(),
        dir: take.dir.clone(),
        sample_rate: m.sample_rate,
        length_frames: m.length_frames,
        markers: m.segments.iter().skip(1).map(|s| s.frame).collect(),
        files,
        take_findings,
        null_test: null,
        read_errors,
        verdict,
    })
}

fn check_file(take: &Take, entry: &FileEntry, cancel: &AtomicBool) -> FileReport {
    let analysis = take
        .file_path(entry)
        .and_then(|path| analyse_with(&path, cancel))
        .map_err(|e| e.to_string());
    let mut findings = Vec::new();
    match &analysis {
        Ok(a) => findings.extend(file_findings(entry, a)),
        Err(e) => findings.push(finding(Level::Fail, "read", e.clone())),
    }
    if entry.dropped_frames > 0 {
        findings.push(finding(
            Level::Fail,
            "dropped",
            format!(
                "{} frames were dropped while recording (the computer fell behind); they are silence",
                entry.dropped_frames
            ),
        ));
    }
    if entry.silent_gap_frames > 0 {
        findings.push(finding(
            Level::Warn,
            "gaps",
            format!(
                "{} frames are silence where the track was not processed (suspended or added late)",
                entry.silent_gap_frames
            ),
        ));
    }
    for e in &entry.errors {
        findings.push(finding(Level::Fail, "recording", e.clone()));
    }
    let verdict = findings.iter().map(|f| f.level).max().unwrap_or(Level::Ok);
    FileReport {
        path: entry.path.clone(),
        stem_name: entry.stem_name.clone(),
        role: entry.role,
        analysis: analysis.ok(),
        findings,
        verdict,
    }
}

/// The per-file checks on a file's measurements.
pub fn file_findings(entry: &FileEntry, a: &FileAnalysis) -> Vec<Finding> {
    let mut out = Vec::new();
    let peak = a.sample_peak_dbfs.unwrap_or(f64::NEG_INFINITY);
    if peak < SILENT_DBFS {
        out.push(finding(
            Level::Warn,
            "silent",
            format!("silent: nothing above {SILENT_DBFS} dBFS (is the track routed to StemTap?)"),
        ));
    }
    if a.clipped_samples > 0 {
        let (level, why) = if a.float {
            (
                Level::Warn,
                "they clip once converted to 24 or 16 bits: lower the level",
            )
        } else {
            (Level::Fail, "the file is clipped")
        };
        out.push(finding(
            level,
            "clipped",
            format!("{} samples at or over full scale: {why}", a.clipped_samples),
        ));
    }
    if let Some(tp) = a.true_peak_dbtp.filter(|&tp| tp > HEADROOM_DBTP) {
        out.push(finding(
            Level::Warn,
            "true_peak",
            format!("true peak {tp:+.1} dBTP: less than {} dB of headroom (about 6 dB is the usual ask)", -HEADROOM_DBTP),
        ));
    }
    for (c, dc) in a.dc_offset.iter().enumerate() {
        if dc.abs() > DC_LIMIT {
            out.push(finding(
                Level::Warn,
                "dc_offset",
                format!(
                    "DC offset on channel {} ({:+.4}): a high-pass filter removes it",
                    c + 1,
                    dc
                ),
            ));
        }
    }
    if a.channels_identical && a.channels == 2 && peak >= SILENT_DBFS {
        out.push(finding(
            Level::Warn,
            "identical_channels",
            "both channels are identical: this could be a mono file",
        ));
    }
    if let Some(tail) = a.tail_peak_dbfs.filter(|&t| t > TAIL_DBFS) {
        out.push(finding(
            Level::Warn,
            "tail_cut",
            format!("still sounding at the last frame ({tail:.0} dBFS): the tail may be cut (stop later)"),
        ));
    }
    if let Some(head) = a.head_peak_dbfs.filter(|&h| h > ATTACK_DBFS) {
        out.push(finding(
            Level::Warn,
            "attack_missing",
            format!("loud at the first frame ({head:.0} dBFS): the attack may be missing (start earlier)"),
        ));
    }
    if a.channels as u64 != entry.channels as u64 {
        out.push(finding(
            Level::Fail,
            "manifest",
            format!("{} channels, take.json says {}", a.channels, entry.channels),
        ));
    }
    out
}

/// Same rate, format and length everywhere, and a complete take.
fn take_level_findings(take: &Take, files: &[FileReport]) -> Vec<Finding> {
    let m = &take.manifest;
    let mut out = Vec::new();
    if !m.complete {
        out.push(finding(
            Level::Fail,
            "incomplete",
            "the take is not complete (still recording, or the DAW stopped before it was finished)",
        ));
    }
    if m.recovered {
        out.push(finding(
            Level::Warn,
            "recovered",
            "recovered by stemtap repair after a crash: the last moments before the crash are missing (take.json's recovery says how much)",
        ));
    }
    let measured: Vec<(&FileReport, &FileAnalysis)> = files
        .iter()
        .filter_map(|f| Some((f, f.analysis.as_ref()?)))
        .collect();
    for (f, a) in &measured {
        if a.sample_rate != m.sample_rate {
            out.push(finding(
                Level::Fail,
                "sample_rate",
                format!(
                    "{} is at {} Hz, the take at {} Hz",
                    f.path, a.sample_rate, m.sample_rate
                ),
            ));
        }
        if a.frames != m.length_frames {
            out.push(finding(
                Level::Fail,
                "length",
                format!(
                    "{} has {} frames, the take {}: files must all be the same length",
                    f.path, a.frames, m.length_frames
                ),
            ));
        }
    }
    let formats: std::collections::BTreeSet<(u16, bool)> =
        measured.iter().map(|(_, a)| (a.bits, a.float)).collect();
    if formats.len() > 1 {
        out.push(finding(
            Level::Fail,
            "format",
            format!("the files mix sample formats: {formats:?} (bits, float)"),
        ));
    }
    if out.is_empty() && !measured.is_empty() {
        out.push(finding(
            Level::Ok,
            "format",
            format!(
                "{} files, same rate, format and length ({} frames)",
                measured.len(),
                m.length_frames
            ),
        ));
    }
    out
}

/// The stems against the mix, when the take has both.
fn run_null_test(
    take: &Take,
    files: &[FileReport],
    out: &mut Vec<Finding>,
    cancel: &AtomicBool,
) -> Option<NullResult> {
    let readable = |role: Role| -> Vec<PathBuf> {
        take.files_of(role)
            .filter(|e| {
                files
                    .iter()
                    .any(|f| f.path == e.path && f.analysis.is_some())
            })
            .filter_map(|e| take.file_path(e).ok())
            .collect()
    };
    let stems = readable(Role::Stem);
    let mix = readable(Role::Mix);
    let (Some(mix), false) = (mix.first(), stems.is_empty()) else {
        return None;
    };
    match null_test_with(&stems, mix, cancel) {
        Ok(r) => {
            match r.residual_db {
                Some(d) if d > NULL_DB => out.push(finding(
                    Level::Warn,
                    "null_test",
                    format!(
                        "the stems do not add up to the mix: residual {d:.1} dB (processing on the master bus, such as a limiter, or a stem missing)"
                    ),
                )),
                d => out.push(finding(
                    Level::Ok,
                    "null_test",
                    format!(
                        "the {} stems add up to the mix (residual {})",
                        r.stems,
                        d.map_or("none".into(), |d| format!("{d:.0} dB"))
                    ),
                )),
            }
            Some(r)
        }
        Err(e) => {
            out.push(finding(
                Level::Warn,
                "null_test",
                format!("null test not possible: {e}"),
            ));
            None
        }
    }
}
