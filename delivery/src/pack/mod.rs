//! `stemtap pack`: a take made ready for one recipient, as one zip. The check runs first
//! (a failing check stops the pack unless forced); the files the recipient needs are
//! converted to the delivery format through the engine's `WavSink` (the same conversions,
//! dither and header as a recording); alternate passes (instrumental, a cappella, TV
//! track) are summed from the stems and trusted only if the stems null against the mix;
//! a track sheet, the take sheet and import helpers (a REAPER project, an Audacity list)
//! go with them; and everything is stored in `<out>/<Project> - <Recipient>.zip`, written
//! under a temporary name and renamed when complete.
//!
//! # Modules
//! - `preset`: [`Recipient`], [`Preset`], the config file ([`PackConfig`]).
//! - `naming`: file names, `simple` and P&E Wing.
//! - `alternates`: vocal detection and the derived passes.
//! - `transcode`: one file into the pack's format.
//! - `reaper`: the import helpers.
//! - `track_sheet`: the text track sheet.
//! - `archive`: the zip.
//!
//! Work runs in parallel across files (rayon); audio is streamed in blocks. The files are
//! written to a staging folder next to the zip first (`WavSink` writes files), then stored
//! in the zip: the second copy comes from the page cache.

pub mod alternates;
mod archive;
pub mod naming;
pub mod preset;
pub mod reaper;
pub mod track_sheet;
mod transcode;

pub use alternates::VocalSplit;
pub use naming::NameParts;
pub use preset::{Alternate, Naming, PackConfig, PackSettings, Preset, Recipient, CONFIG_FILE};

use crate::checks::{check_take, Level, TakeReport, NULL_DB};
use crate::take::{Take, TakeError};
use alternates::AlternatePlan;
use rayon::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use stemtap_engine::manifest::FileEntry;
use stemtap_engine::settings::Role;
use stemtap_engine::SampleFormat;

/// What to pack and how. Settings are layered: `overrides` (the command line) over the
/// config file's section for the recipient, over its `[defaults]`, over the built-in
/// preset.
#[derive(Debug, Clone)]
pub struct PackOptions {
    pub recipient: Recipient,
    /// Folder the zip goes into; `None`: the take folder's parent.
    pub out_dir: Option<PathBuf>,
    /// The config file's contents (empty when there is none).
    pub config: PackConfig,
    /// The command line's settings.
    pub overrides: PackSettings,
    /// Pack even when the check fails, and keep alternates the null test did not confirm.
    pub force: bool,
}

impl PackOptions {
    pub fn new(recipient: Recipient) -> PackOptions {
        PackOptions {
            recipient,
            out_dir: None,
            config: PackConfig::default(),
            overrides: PackSettings::default(),
            force: false,
        }
    }
}

/// How far a pack has got, for a progress bar. Sent from worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackProgress {
    /// The check is measuring every file (one pass over the take).
    Checking,
    /// Converting: bytes of the take's audio read so far, of `total`.
    Writing { done: u64, total: u64 },
    /// Storing the files in the zip: bytes stored so far, of `total`.
    Zipping { done: u64, total: u64 },
}

/// Why a pack did not happen. Every message names the file or says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error(transparent)]
    Take(#[from] TakeError),
    #[error("the check failed for {take} ({failures}); fix the take, or pack anyway with --force")]
    CheckFailed { take: String, failures: String },
    #[error("config file {}: {message}", path.display())]
    Config { path: PathBuf, message: String },
    #[error("nothing to pack for the {recipient}: the take has no {roles} files (the config file can choose other roles)")]
    NothingToPack { recipient: String, roles: String },
    #[error("{0}")]
    Wav(String),
    #[error("alternate passes: {0}")]
    Alternates(String),
    #[error("cannot write {}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the zip {}: {source}", path.display())]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
}

/// One audio file in a pack.
#[derive(Debug, Clone, Serialize)]
pub struct PackedFile {
    /// Its name in the pack (`Night Drive - Drums.wav`).
    pub name: String,
    /// `stem`, `multitrack`, `mix` or `alternate`.
    pub role: String,
    /// Which pass, for a derived file.
    pub alternate: Option<Alternate>,
    /// The take's file it came from, or the stems it was summed from (`a + b`).
    pub source: String,
    pub channels: u16,
    pub frames: u64,
    /// Largest sample written (full scale = 1).
    pub peak: f32,
    /// Samples clipped by the conversion to an integer format.
    pub clipped_samples: u64,
    /// Where it was staged before the zip (more than one only for a file split into
    /// continuation parts).
    #[serde(skip)]
    pub staged: Vec<PathBuf>,
}

/// Names of the documents in a pack.
#[derive(Debug, Clone, Serialize)]
pub struct Documents {
    /// The folder every entry of the zip is in (`Night Drive - Mastering`).
    pub folder: String,
    pub track_sheet: String,
    pub take_sheet: String,
    pub reaper: String,
    pub audacity: String,
}

/// What a pack made.
#[derive(Debug, Clone, Serialize)]
pub struct PackResult {
    pub zip_path: PathBuf,
    pub zip_bytes: u64,
    pub project: String,
    pub preset: Preset,
    /// The audio files, in the order they are in the zip.
    pub files: Vec<PackedFile>,
    pub documents: Documents,
    /// Which stems counted as vocals (when alternates were asked for).
    pub vocals: Option<VocalSplit>,
    /// The null test of every stem against the mix, measured while the alternates were
    /// summed: dB, `None` for a perfect null or when nothing was derived.
    pub alternates_residual_db: Option<f64>,
    /// One line on how far the alternates can be trusted (for the track sheet).
    pub alternates_note: String,
    /// What the recipient or the user should know (alternates left out, clipping...).
    pub warnings: Vec<String>,
    /// The check that ran first.
    pub check: TakeReport,
}

/// The staging folder and the format files are written in.
pub(crate) struct Staging {
    pub dir: PathBuf,
    pub format: SampleFormat,
}

/// Check `take`, then pack it (see the module docs).
pub fn pack(
    take: &Take,
    options: &PackOptions,
    progress: &(dyn Fn(PackProgress) + Sync),
) -> Result<PackResult, PackError> {
    progress(PackProgress::Checking);
    let report = check_take(take);
    pack_checked(take, report, options, progress)
}

/// Pack `take` whose check `report` the caller already has (it is not run again).
pub fn pack_checked(
    take: &Take,
    report: TakeReport,
    options: &PackOptions,
    progress: &(dyn Fn(PackProgress) + Sync),
) -> Result<PackResult, PackError> {
    let settings = options
        .overrides
        .over(&options.config.settings_for(options.recipient));
    let preset = Preset::builtin(options.recipient).with(&settings);
    if report.verdict == Level::Fail && !options.force {
        return Err(PackError::CheckFailed {
            take: take.dir.display().to_string(),
            failures: failures(&report),
        });
    }
    let mut warnings = Vec::new();
    if report.verdict == Level::Fail {
        warnings.push(format!(
            "packed with --force although the check failed: {}",
            failures(&report)
        ));
    }
    let m = &take.manifest;
    // The project name: given, else the song title, else the take folder's name.
    let project = naming::sanitize(
        settings
            .project
            .as_deref()
            .or(settings.title.as_deref())
            .unwrap_or(&take.name()),
    );
    let tempo = match (preset.tempo_in_names, m.tempo_bpm) {
        (true, None) => {
            warnings
                .push("no tempo in take.json (the host gave none): the names carry none".into());
            None
        }
        (true, t) => t,
        (false, _) => None,
    };
    if preset.naming == Naming::PeWing && settings.artist.is_none() {
        warnings.push("no artist given (--artist): the P&E Wing initials are XX".into());
    }
    let parts = NameParts {
        project: project.clone(),
        artist: settings.artist.clone(),
        title: settings.title.clone().unwrap_or_else(|| project.clone()),
        revision: settings.revision.unwrap_or(1),
        sample_rate: m.sample_rate,
        format: preset.format,
        tempo_bpm: tempo,
    };

    // The take's files the preset asks for, role by role in the preset's order.
    let entries: Vec<&FileEntry> = preset
        .roles
        .iter()
        .flat_map(|&role| take.files_of(role))
        .collect();
    let alt = plan_alternates(
        take,
        &report,
        &preset,
        &settings,
        options.force,
        &mut warnings,
    );
    if entries.is_empty() && alt.plans.is_empty() {
        return Err(PackError::NothingToPack {
            recipient: options.recipient.label().to_lowercase(),
            roles: preset
                .roles
                .iter()
                .map(|r| role_word(*r))
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    let mut names: Vec<String> = entries
        .iter()
        .map(|e| naming::wav_name(preset.naming, &parts, &display_name(e)))
        .chain(alt.plans.iter().map(|p| {
            let (words, one) = p.kind.label();
            let label = if preset.naming == Naming::PeWing {
                one
            } else {
                words
            };
            naming::wav_name(preset.naming, &parts, label)
        }))
        .collect();
    naming::make_unique(&mut names);
    let mut plans = alt.plans;
    for (p, name) in plans.iter_mut().zip(&names[entries.len()..]) {
        p.name = name.clone();
    }

    let out_dir = match &options.out_dir {
        Some(d) => d.clone(),
        None => take
            .dir
            .canonicalize()
            .ok()
            .and_then(|d| d.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    std::fs::create_dir_all(&out_dir).map_err(|source| PackError::Io {
        path: out_dir.clone(),
        source,
    })?;
    let staging_dir = tempfile::Builder::new()
        .prefix(".stemtap-pack-")
        .tempdir_in(&out_dir)
        .map_err(|source| PackError::Io {
            path: out_dir.clone(),
            source,
        })?;
    let staging = Staging {
        dir: staging_dir.path().to_path_buf(),
        format: preset.format,
    };

    // Convert every file in parallel; the alternates (one pass over every stem) start
    // first, as the longest job.
    let stems: Vec<&FileEntry> = take.files_of(Role::Stem).collect();
    let mix = take.files_of(Role::Mix).next();
    let total = source_bytes(&report, entries.iter().copied())
        + if plans.is_empty() {
            0
        } else {
            source_bytes(&report, stems.iter().copied().chain(mix))
        };
    let done = AtomicU64::new(0);
    let tick = || {
        progress(PackProgress::Writing {
            done: done.load(Ordering::Relaxed),
            total,
        })
    };
    enum Job<'a> {
        Derive,
        File(usize, &'a FileEntry),
    }
    let jobs: Vec<Job> = (!plans.is_empty())
        .then_some(Job::Derive)
        .into_iter()
        .chain(entries.iter().enumerate().map(|(i, e)| Job::File(i, e)))
        .collect();
    type Out = (Vec<PackedFile>, Option<Option<f64>>);
    let results: Vec<Result<Out, PackError>> = jobs
        .par_iter()
        .map(|job| match job {
            Job::Derive => alternates::derive(take, &stems, mix, &plans, &staging, &done, &tick),
            Job::File(i, e) => transcode::transcode(take, e, &names[*i], &staging, &done, &tick)
                .map(|f| (vec![f], None)),
        })
        .collect();
    let mut files = Vec::new();
    let mut derived = Vec::new();
    let mut residual = None;
    for (job, r) in jobs.iter().zip(results) {
        let (out, res) = r?;
        match job {
            Job::Derive => {
                derived = out;
                residual = res;
            }
            Job::File(..) => files.extend(out),
        }
    }

    // The derived passes are trusted only if the stems they were summed from null against
    // the mix, measured in the same pass.
    let mut alternates_residual_db = None;
    let mut alternates_note = alt.note;
    if !derived.is_empty() {
        let verdict = match residual {
            Some(None) => Ok("the stems null against the mix perfectly".to_string()),
            Some(Some(d)) if d < NULL_DB => Ok(format!(
                "the stems null against the mix (residual {d:.0} dB, below {NULL_DB} dB)"
            )),
            Some(Some(d)) => Err(format!(
                "the stems do not null against the mix (residual {d:.1} dB, {NULL_DB} dB needed)"
            )),
            None => Err("there is no mix to compare them with".to_string()),
        };
        alternates_residual_db = residual.flatten();
        match verdict {
            Ok(why) => alternates_note = format!("Verified: {why}."),
            Err(why) if options.force => {
                alternates_note = format!(
                    "NOT verified: {why}. Packed with --force: processing on the master bus is not in them."
                );
                warnings.push(format!("alternate passes kept with --force although {why}"));
            }
            Err(why) => {
                alternates_note = format!("Left out: {why}.");
                warnings.push(format!(
                    "alternate passes left out: {why}, so processing on the master bus (a limiter, EQ, compression) would be missing from them; pack with --force to keep them anyway"
                ));
                derived.clear();
            }
        }
    }
    files.extend(derived);
    for f in files.iter().filter(|f| f.clipped_samples > 0) {
        warnings.push(format!(
            "{}: {} samples clipped in the conversion to {}",
            f.name,
            f.clipped_samples,
            preset.format.label()
        ));
    }

    let folder = naming::sanitize(&format!("{project} - {}", options.recipient.label()));
    let documents = Documents {
        folder: folder.clone(),
        track_sheet: "Track Sheet.txt".into(),
        take_sheet: "Take Sheet.html".into(),
        reaper: format!("{folder}.RPP"),
        audacity: format!("{folder}.lof"),
    };
    let zip_path = out_dir.join(format!("{folder}.zip"));
    let mut result = PackResult {
        zip_path,
        zip_bytes: 0,
        project,
        preset,
        files,
        documents,
        vocals: alt.split,
        alternates_residual_db,
        alternates_note,
        warnings,
        check: report,
    };
    let now = chrono::Local::now().naive_local();
    let docs = vec![
        (
            result.documents.track_sheet.clone(),
            track_sheet::track_sheet(take, &result, &now.format("%Y-%m-%d %H:%M").to_string())
                .into_bytes(),
        ),
        (
            result.documents.take_sheet.clone(),
            crate::sheet::take_sheet(take, &result.check).into_bytes(),
        ),
        (
            result.documents.reaper.clone(),
            reaper::reaper_project(take, &result.files).into_bytes(),
        ),
        (
            result.documents.audacity.clone(),
            reaper::audacity_lof(take, &result.files).into_bytes(),
        ),
    ];
    result.zip_bytes = archive::write_zip(&result, &docs, now, progress)?;
    drop(staging_dir);
    Ok(result)
}

/// The check's failures in one line.
fn failures(report: &TakeReport) -> String {
    let lines: Vec<String> = report
        .files
        .iter()
        .flat_map(|f| {
            f.findings
                .iter()
                .filter(|x| x.level == Level::Fail)
                .map(move |x| format!("{}: {}", f.path, x.message))
        })
        .chain(
            report
                .take_findings
                .iter()
                .filter(|x| x.level == Level::Fail)
                .map(|x| x.message.clone()),
        )
        .collect();
    lines.join("; ")
}

fn role_word(role: Role) -> &'static str {
    match role {
        Role::Stem => "stem",
        Role::Multitrack => "multitrack",
        Role::Mix => "mix",
    }
}

/// The name a file goes by in file names: a stem's name, a multitrack's `01 Kick` (its
/// number keeps the session's order), `Mix`.
fn display_name(e: &FileEntry) -> String {
    match e.role {
        Role::Stem => e.stem_name.clone(),
        Role::Multitrack => Path::new(&e.path)
            .file_stem()
            .map_or_else(|| e.stem_name.clone(), |s| s.to_string_lossy().into_owned()),
        Role::Mix => "Mix".into(),
    }
}

/// Bytes of audio in these files, from the check's measurements.
fn source_bytes<'a>(report: &TakeReport, entries: impl Iterator<Item = &'a FileEntry>) -> u64 {
    entries
        .filter_map(|e| report.files.iter().find(|f| f.path == e.path))
        .filter_map(|f| f.analysis.as_ref())
        .map(|a| a.frames * a.channels as u64 * a.bits as u64 / 8)
        .sum()
}

struct AltPlan {
    plans: Vec<AlternatePlan>,
    split: Option<VocalSplit>,
    note: String,
}

/// Which alternates to derive from which stems, or why none.
fn plan_alternates(
    take: &Take,
    report: &TakeReport,
    preset: &Preset,
    settings: &PackSettings,
    force: bool,
    warnings: &mut Vec<String>,
) -> AltPlan {
    let mut out = AltPlan {
        plans: Vec::new(),
        split: None,
        note: String::new(),
    };
    if preset.alternates.is_empty() {
        return out;
    }
    let stems: Vec<&FileEntry> = take.files_of(Role::Stem).collect();
    if stems.is_empty() {
        warnings
            .push("alternate passes left out: the take has no stems to derive them from".into());
        return out;
    }
    // The check already ran the null test: when it failed, nothing derived from the stems
    // could be trusted, so do not spend a pass on it (unless forced).
    let null_ok = report
        .null_test
        .as_ref()
        .is_some_and(|n| n.residual_db.is_none_or(|d| d < NULL_DB));
    if !null_ok && !force {
        let why = match &report.null_test {
            Some(n) => format!(
                "the stems do not null against the mix (residual {:.1} dB, {NULL_DB} dB needed)",
                n.residual_db.unwrap_or(0.0)
            ),
            None => "the null test of the stems against the mix could not be run (no mix?)".into(),
        };
        warnings.push(format!(
            "alternate passes left out: {why}, so processing on the master bus (a limiter, EQ, compression) would be missing from them; pack with --force to keep them anyway"
        ));
        out.note = format!("Left out: {why}.");
        return out;
    }
    let split = alternates::split_vocals(
        &stems,
        settings.vocals.as_deref(),
        settings.lead_vocals.as_deref(),
    );
    let is_vocal = |i: usize| split.vocals.contains(&stems[i].stem_name);
    let is_lead = |i: usize| split.lead.contains(&stems[i].stem_name);
    let all: Vec<usize> = (0..stems.len()).collect();
    for &kind in &preset.alternates {
        let picked: Vec<usize> = match kind {
            Alternate::Instrumental => all.iter().copied().filter(|&i| !is_vocal(i)).collect(),
            Alternate::ACappella => all.iter().copied().filter(|&i| is_vocal(i)).collect(),
            Alternate::TvTrack => all.iter().copied().filter(|&i| !is_lead(i)).collect(),
        };
        let why_not = if split.vocals.is_empty() {
            Some("no stem is named like a vocal (name them with --vocals)".to_string())
        } else if picked.is_empty() {
            Some("it would hold no stem".into())
        } else if picked.len() == stems.len() {
            Some("it would hold every stem, the mix itself".into())
        } else if kind == Alternate::TvTrack && split.lead.len() == split.vocals.len() {
            Some("no backing vocals: it would be the instrumental (name the lead vocals with --lead-vocals)".into())
        } else {
            None
        };
        match why_not {
            Some(why) => warnings.push(format!("{} left out: {why}", kind.label().0)),
            None => out.plans.push(AlternatePlan {
                kind,
                name: String::new(),
                stems: picked,
            }),
        }
    }
    out.split = Some(split);
    out
}
