//! Repair of takes a crash left incomplete (`stemtap repair`). Any thread but the audio
//! thread; blocking I/O, never a whole file in memory.
//!
//! # What a repair does
//! A take whose `take.json` says `"complete": false` and that no live process holds (see
//! `stemtap_engine::take_lock`) is made whole:
//! 1. Every file (and continuation part) is scanned ([`wav::scan`]): the frames its header
//!    counts (audio up to the last ~1 s checkpoint) and the whole frames really on disk.
//!    Files on disk that `take.json` does not list yet (a track added after the manifest
//!    was last written) join the take.
//! 2. One common length is chosen: the **shortest** length among the files that were still
//!    being written when the process died (see [`common_length`] for why not the longest).
//! 3. Every file is brought to it by rewriting its size fields in place ([`wav::fix`]):
//!    audio is never moved, and nothing the common length keeps is rewritten. Frames past
//!    it (a few write buffers' worth, in some files only) are cut off, and the markers
//!    (`cue `/`LIST` chunks) of the take's segments inside the length go after the data.
//! 4. `take.json` is rewritten last, atomically, as complete with `"recovered": true` and a
//!    `recovery` record of what each file had and kept. `ended_by` stays `null`: nothing
//!    ended the take, its writer died; `recovered` says so. The dead writer's stale lock
//!    file is removed after it.
//!
//! Running it twice changes nothing the second time (the take is complete); a repair that
//! is itself interrupted leaves valid files and an incomplete take, and can be run again.
//!
//! # Modules
//! [`wav`]: one file's scan and fix; [`find`]: the takes under an output root.

pub mod find;
pub mod wav;

use crate::read::WavBlocks;
use crate::take::{Take, TakeError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};
use stemtap_engine::manifest::{FileEntry, MANIFEST_FILE};
use stemtap_engine::settings::{ChannelMode, Role};
use stemtap_engine::take_lock::{lock_state, LockState, LOCK_FILE};
use stemtap_engine::wav::{GATHER_BYTES, WRITE_CHUNK_BYTES};
use wav::{Scan, Target, WavProblem};

/// A file more than this many seconds shorter than the longest file of the take, whose
/// header counts every frame it has (nothing was written to it after its last header
/// patch), stopped early (a write error) rather than at the crash: it does not decide the
/// take's length and is padded with silence instead. Beyond the write buffers (below), a
/// live file can lag the others only by what one poll of the writer writes.
pub const STOPPED_EARLY_SECONDS: f64 = 2.0;

/// Why a take cannot be repaired. Every message names the folder or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum RepairError {
    #[error(transparent)]
    Take(#[from] TakeError),
    #[error("{} is being recorded right now by a running StemTap ({holder}): stop recording (or close the DAW) first; repair never touches a live take", dir.display())]
    Live { dir: PathBuf, holder: String },
    #[error("cannot tell whether a running StemTap is recording {}: {error}. If nothing records into it, delete {} and run repair again", dir.display(), dir.join(LOCK_FILE).display())]
    LockUnknown { dir: PathBuf, error: String },
    #[error(transparent)]
    Wav(#[from] WavProblem),
    #[error("no file of the take in {} could be read, so there is nothing to recover; take.json was left as it is", .0.display())]
    NothingToRecover(PathBuf),
    #[error("repaired the files but cannot write {}: {source}. Free space or fix permissions and run repair again", path.display())]
    Manifest {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("after repair, {} reads as {got} frames instead of {want}: please report this", path.display())]
    Verify { path: PathBuf, got: u64, want: u64 },
}

/// What became (or would become) of one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecovery {
    /// Relative to the take folder, `/`-separated (part 1 of a split stream).
    pub path: String,
    /// Frames the file's header counted before the repair (what a DAW saw).
    pub frames_in_header: u64,
    /// Whole frames found on disk.
    pub frames_found: u64,
    /// Frames of its own audio kept (the common length, or all it had).
    pub frames_kept: u64,
    /// Frames of silence appended (a file that stopped early), 0 otherwise.
    pub silence_frames: u64,
    /// Not in take.json before the repair: found on disk.
    #[serde(default)]
    pub unlisted: bool,
}

/// What a repair did (or, planned only, would do) to one take. Also written into the
/// repaired `take.json` as `recovery` (without `dir` and `action`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// `stemtap repair <version>`.
    pub tool: String,
    /// How the common length was chosen (`shortest`; see [`common_length`]).
    pub common_length: String,
    pub sample_rate: u32,
    /// Frames every file has now.
    pub length_frames: u64,
    pub length_seconds: f64,
    /// The shortest length the headers counted before the repair: what every file could
    /// be trusted to hold (the files were readable up to there).
    pub frames_in_headers: u64,
    /// Markers (segment starts) written into every file.
    pub markers: usize,
    pub files: Vec<FileRecovery>,
}

/// What happened to a take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// It was repaired now.
    Repaired,
    /// A plan only: it would be repaired.
    WouldRepair,
    /// It was complete already; nothing was changed.
    AlreadyComplete,
}

/// The outcome of [`repair_take`] or [`plan_repair`].
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    pub dir: PathBuf,
    pub action: Action,
    /// `None` when the take was complete already.
    pub recovery: Option<Recovery>,
}

/// One stream of the take: its manifest entry (or a new one) and its parts on disk.
struct Stream {
    /// Index in take.json's `files`; `None` for a file found only on disk.
    index: Option<usize>,
    entry: FileEntry,
    /// Scanned parts in order (part 1 first); missing files are left out.
    parts: Vec<(String, Scan)>,
    /// What it had before, for the report.
    header_frames: u64,
    found_frames: u64,
    /// It stopped before the crash (an error is on record, or see [`STOPPED_EARLY_SECONDS`]).
    stopped_early: bool,
    /// Its only file ends inside its header (the writer was killed as it created it): it
    /// holds no audio and is written anew, a plain WAV file of silence.
    rebuild: Option<(PathBuf, hound::WavSpec)>,
}

/// Look at the take in `dir` and say what a repair would do, changing nothing.
pub fn plan_repair(dir: &Path) -> Result<RepairReport, RepairError> {
    run(dir, false)
}

/// Repair the incomplete take in `dir` (see the module docs). A complete take is left
/// alone ([`Action::AlreadyComplete`]); a take held by a live process is refused.
pub fn repair_take(dir: &Path) -> Result<RepairReport, RepairError> {
    run(dir, true)
}

fn run(dir: &Path, apply: bool) -> Result<RepairReport, RepairError> {
    // The lock first: a live take may not have its take.json yet.
    let live = lock_state(dir);
    let take = match Take::open(dir) {
        Ok(take) => take,
        Err(e) => {
            refuse_if_live(dir, &live)?;
            return Err(e.into());
        }
    };
    if take.manifest.complete {
        return Ok(RepairReport {
            dir: dir.to_path_buf(),
            action: Action::AlreadyComplete,
            recovery: None,
        });
    }
    refuse_if_live(dir, &live)?;
    let mut streams = scan_streams(&take)?;
    if streams.is_empty() {
        return Err(RepairError::NothingToRecover(dir.to_path_buf()));
    }
    let rate = take.manifest.sample_rate.max(1);
    let length = common_length(&mut streams, rate);
    let markers: Vec<(u64, String)> = take
        .manifest
        .segments
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, s)| s.frame > 0 && s.frame < length)
        .map(|(i, s)| (s.frame, format!("Segment {}", i + 1)))
        .collect();
    let mut files = Vec::new();
    for s in &streams {
        let kept = s.found_frames.min(length);
        files.push(FileRecovery {
            path: s.entry.path.clone(),
            frames_in_header: s.header_frames,
            frames_found: s.found_frames,
            frames_kept: kept,
            silence_frames: length - kept,
            unlisted: s.index.is_none(),
        });
    }
    let recovery = Recovery {
        tool: format!("stemtap repair {}", env!("CARGO_PKG_VERSION")),
        common_length: "shortest".into(),
        sample_rate: rate,
        length_frames: length,
        length_seconds: length as f64 / rate as f64,
        frames_in_headers: streams.iter().map(|s| s.header_frames).min().unwrap_or(0),
        markers: markers.len(),
        files,
    };
    if !apply {
        return Ok(RepairReport {
            dir: dir.to_path_buf(),
            action: Action::WouldRepair,
            recovery: Some(recovery),
        });
    }
    let mut peaks = Vec::new();
    for s in &streams {
        fix_stream(s, length, &markers)?;
        peaks.push(peak_of(s)?);
    }
    write_recovered_manifest(&take, &streams, &peaks, &recovery)?;
    // The dead writer's lock file (checked above: nobody holds it) has no use left.
    if matches!(live, LockState::Stale { .. }) {
        let _ = std::fs::remove_file(dir.join(LOCK_FILE));
    }
    Ok(RepairReport {
        dir: dir.to_path_buf(),
        action: Action::Repaired,
        recovery: Some(recovery),
    })
}

/// The error for a take a live process (maybe) holds.
fn refuse_if_live(dir: &Path, live: &LockState) -> Result<(), RepairError> {
    match live {
        LockState::Live { holder } => Err(RepairError::Live {
            dir: dir.to_path_buf(),
            holder: if holder.is_empty() {
                "see its lock file".into()
            } else {
                holder.clone()
            },
        }),
        LockState::Unknown { error, .. } => Err(RepairError::LockUnknown {
            dir: dir.to_path_buf(),
            error: error.clone(),
        }),
        LockState::Absent | LockState::Stale { .. } => Ok(()),
    }
}

/// Every stream of the take, listed or found on disk, with its parts scanned. A listed
/// file that does not exist (it could not be created) is left out.
fn scan_streams(take: &Take) -> Result<Vec<Stream>, RepairError> {
    let mut streams = Vec::new();
    let mut listed: Vec<String> = Vec::new();
    for (i, entry) in take.manifest.files.iter().enumerate() {
        listed.push(entry.path.clone());
        listed.extend(entry.continuation_paths.iter().cloned());
        streams.push((Some(i), entry.clone()));
    }
    for rel in find::wav_files(&take.dir)? {
        if listed.contains(&rel) {
            continue;
        }
        // `Name (part N).wav` of a listed `Name.wav`: a part the manifest does not know yet.
        if let Some(owner) =
            part_owner(&rel).and_then(|base| streams.iter_mut().find(|(_, e)| e.path == base))
        {
            owner.1.continuation_paths.push(rel.clone());
            continue;
        }
        if part_owner(&rel).is_some() {
            continue; // a later part of an unlisted file: picked up with it below
        }
        streams.push((None, unlisted_entry(&rel)));
    }
    let all = find::wav_files(&take.dir)?;
    let mut out = Vec::new();
    for (index, mut entry) in streams {
        if index.is_none() {
            // Later parts of a file found on disk.
            let base = entry.path.trim_end_matches(".wav").to_string();
            let mut more: Vec<(u32, String)> = all
                .iter()
                .filter_map(|p| Some((part_number(p, &base)?, p.clone())))
                .collect();
            more.sort();
            entry.continuation_paths = more.into_iter().map(|(_, p)| p).collect();
        } else {
            let base = entry.path.trim_end_matches(".wav").to_string();
            entry
                .continuation_paths
                .sort_by_key(|p| part_number(p, &base).unwrap_or(0));
        }
        let mut parts = Vec::new();
        let mut rebuild = None;
        for rel in std::iter::once(&entry.path).chain(&entry.continuation_paths) {
            let path = take.file_path(&FileEntry {
                path: rel.clone(),
                ..entry.clone()
            })?;
            if !path.is_file() {
                continue;
            }
            match wav::scan(&path) {
                Ok(scan) => parts.push((rel.clone(), scan)),
                Err(WavProblem::NoHeader { .. }) if parts.is_empty() && entry.channels > 0 => {
                    rebuild = Some((path, silence_spec(&take.manifest, entry.channels)));
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if parts.is_empty() && rebuild.is_none() {
            continue;
        }
        let header_frames = parts.iter().map(|(_, s)| s.header_frames).sum();
        let found_frames = parts.iter().map(|(_, s)| s.found_frames).sum();
        out.push(Stream {
            stopped_early: !entry.errors.is_empty() || rebuild.is_some(),
            rebuild,
            index,
            entry,
            parts,
            header_frames,
            found_frames,
        });
    }
    Ok(out)
}

/// The common length of the take: the shortest of the files that were still being written
/// when the writer died. Files that stopped earlier get silence after their audio instead,
/// as the writer itself fills a stream's gaps.
///
/// Why the shortest and not silence to the longest: the writer keeps every file on the
/// same timeline position, so after a crash the files differ only by what sat in each
/// file's write buffers (at most [`GATHER_BYTES`] + [`WRITE_CHUNK_BYTES`] per file, a
/// fraction of a second): frames past the shortest exist in some files only. Padding the
/// others with silence would make them claim the music stopped where it did not (a stem
/// would no longer null against the mix, a DAW would show a clean cut that never
/// happened). Cutting costs those few buffers at the very end of a take that ended in a
/// crash anyway, and no file claims audio it lacks. The frames cut are reported per file.
fn common_length(streams: &mut [Stream], rate: u32) -> u64 {
    let longest = streams.iter().map(|s| s.found_frames).max().unwrap_or(0);
    for s in streams.iter_mut() {
        let ba = s
            .parts
            .last()
            .map_or(1, |(_, p)| p.format.block_align.max(1));
        let buffers = (GATHER_BYTES + WRITE_CHUNK_BYTES) as u64 / ba;
        let slack = buffers + (STOPPED_EARLY_SECONDS * rate as f64) as u64;
        let untouched = s.parts.last().is_some_and(|(_, p)| p.header_counts_all());
        if untouched && s.found_frames + slack < longest {
            s.stopped_early = true;
        }
    }
    let live = streams
        .iter()
        .filter(|s| !s.stopped_early)
        .map(|s| s.found_frames)
        .min();
    live.unwrap_or_else(|| streams.iter().map(|s| s.found_frames).min().unwrap_or(0))
}

/// Bring every part of `s` to its share of `length` frames, with its markers.
fn fix_stream(s: &Stream, length: u64, markers: &[(u64, String)]) -> Result<(), RepairError> {
    if let Some((path, spec)) = &s.rebuild {
        return write_silence_file(path, *spec, length, markers);
    }
    let mut start = 0u64;
    let last = s.parts.len() - 1;
    for (i, (_, scan)) in s.parts.iter().enumerate() {
        let keep = scan.found_frames.min(length - start.min(length));
        let silence = if i == last {
            length - start.min(length) - keep
        } else {
            0
        };
        let frames = keep + silence;
        let end = start + frames;
        let points: Vec<(u32, String)> = markers
            .iter()
            .filter(|(f, _)| *f >= start && (*f < end || (i == last && *f <= end)))
            .map(|(f, l)| (u32::try_from(f - start).unwrap_or(u32::MAX), l.clone()))
            .collect();
        let target = Target {
            keep_frames: keep,
            silence_frames: silence,
            trailer: wav::cue_chunks(&points),
        };
        wav::fix(scan, &target)?;
        let after = wav::scan(&scan.path)?;
        if after.found_frames != frames || after.header_frames != frames {
            return Err(RepairError::Verify {
                path: scan.path.clone(),
                got: after.header_frames,
                want: frames,
            });
        }
        start = end;
    }
    Ok(())
}

/// The largest sample magnitude of a repaired stream, read back through the delivery
/// reader (which also proves every part decodes).
fn peak_of(s: &Stream) -> Result<f32, RepairError> {
    let mut peak = 0f32;
    if let Some((path, _)) = &s.rebuild {
        WavBlocks::open(path)?;
        return Ok(0.0);
    }
    for (_, scan) in &s.parts {
        let mut blocks = WavBlocks::open(&scan.path)?;
        while let Some(block) = blocks.next_block()? {
            peak = block
                .iter()
                .filter(|x| !x.is_nan())
                .fold(peak, |p, x| p.max(x.abs()));
        }
    }
    Ok(peak)
}

/// Rewrite take.json as complete and recovered, keeping every field it had (also those
/// this version does not know), atomically.
fn write_recovered_manifest(
    take: &Take,
    streams: &[Stream],
    peaks: &[f32],
    recovery: &Recovery,
) -> Result<(), RepairError> {
    let path = take.dir.join(MANIFEST_FILE);
    let read = |source| TakeError::Read {
        path: path.clone(),
        source,
    };
    let bytes = std::fs::read(&path).map_err(read)?;
    let mut m: Value = serde_json::from_slice(&bytes).map_err(|source| TakeError::BadManifest {
        path: path.clone(),
        source,
    })?;
    let length = recovery.length_frames;
    m["complete"] = Value::Bool(true);
    m["recovered"] = Value::Bool(true);
    m["length_frames"] = length.into();
    m["length_seconds"] = recovery.length_seconds.into();
    if let Some(segments) = m["segments"].as_array_mut() {
        // Segments that start past the recovered audio hold nothing.
        let mut i = 0;
        segments.retain(|s| {
            i += 1;
            i == 1 || s["frame"].as_u64().is_some_and(|f| f < length)
        });
    }
    let mut files: Vec<Value> = m["files"].as_array().cloned().unwrap_or_default();
    for ((s, peak), rec) in streams.iter().zip(peaks).zip(&recovery.files) {
        let mut entry = s.entry.clone();
        if let Some((_, first)) = s.parts.first() {
            entry.channels = first.format.channels;
        }
        entry.peak = *peak;
        entry.peak_dbfs = (*peak > 0.0).then(|| 20.0 * peak.log10());
        if s.rebuild.is_some() {
            entry.silent_gap_frames += rec.silence_frames;
            entry.errors.push(format!(
                "This file was cut inside its header (the recording stopped as it was created) and held no audio; repair rewrote it as {} frames of silence.",
                rec.silence_frames
            ));
        } else if rec.silence_frames > 0 {
            entry.silent_gap_frames += rec.silence_frames;
            entry.errors.push(format!(
                "This file stopped {:.3} s before the others (a write error?); repair added {} frames of silence at its end.",
                rec.silence_frames as f64 / recovery.sample_rate as f64,
                rec.silence_frames
            ));
        }
        let value = serde_json::to_value(&entry).map_err(|e| RepairError::Manifest {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        match s.index {
            Some(i) => {
                // Keep fields this version does not know: overwrite only its own.
                if let (Some(old), Value::Object(new)) = (files[i].as_object_mut(), value) {
                    old.extend(new);
                }
            }
            None => files.push(value),
        }
    }
    m["files"] = Value::Array(files);
    m["recovery"] = serde_json::to_value(recovery).unwrap_or(Value::Null);
    let write = |source| RepairError::Manifest {
        path: path.clone(),
        source,
    };
    let json = serde_json::to_vec_pretty(&m).map_err(|e| write(std::io::Error::other(e)))?;
    let tmp = take.dir.join(format!("{MANIFEST_FILE}.tmp"));
    std::fs::write(&tmp, json).map_err(write)?;
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(write)?;
    std::fs::rename(&tmp, &path).map_err(write)?;
    Ok(())
}

/// The WAV format of a take's files (hound's names), for a file written anew.
fn silence_spec(m: &stemtap_engine::manifest::Manifest, channels: u16) -> hound::WavSpec {
    use stemtap_engine::settings::SampleFormat;
    let (bits, sample_format) = match m.sample_format {
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
        SampleFormat::Int24 => (24, hound::SampleFormat::Int),
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
    };
    hound::WavSpec {
        channels,
        sample_rate: m.sample_rate,
        bits_per_sample: bits,
        sample_format,
    }
}

/// Write `path` anew: `length` frames of silence and the markers (a plain RIFF header from
/// hound, without StemTap's metadata chunks: none were left), the silence appended by the
/// same [`wav::fix`] as every other file.
fn write_silence_file(
    path: &Path,
    spec: hound::WavSpec,
    length: u64,
    markers: &[(u64, String)],
) -> Result<(), RepairError> {
    let io = |e: hound::Error| WavProblem::Io {
        path: path.to_path_buf(),
        source: match e {
            hound::Error::IoError(e) => e,
            other => std::io::Error::other(other.to_string()),
        },
    };
    hound::WavWriter::create(path, spec)
        .and_then(|w| w.finalize())
        .map_err(io)?;
    let scan = wav::scan(path)?;
    let points: Vec<(u32, String)> = markers
        .iter()
        .map(|(f, l)| (u32::try_from(*f).unwrap_or(u32::MAX), l.clone()))
        .collect();
    let target = Target {
        keep_frames: 0,
        silence_frames: length,
        trailer: wav::cue_chunks(&points),
    };
    wav::fix(&scan, &target)?;
    Ok(())
}

/// `Stems/Bass (part 2).wav` -> `Stems/Bass.wav`.
fn part_owner(rel: &str) -> Option<String> {
    let stem = rel.strip_suffix(").wav")?;
    let (base, n) = stem.rsplit_once(" (part ")?;
    n.parse::<u32>().ok()?;
    Some(format!("{base}.wav"))
}

/// N of `<base> (part N).wav`.
fn part_number(rel: &str, base: &str) -> Option<u32> {
    rel.strip_prefix(base)?
        .strip_prefix(" (part ")?
        .strip_suffix(").wav")?
        .parse()
        .ok()
}

/// A manifest entry for a file found on disk but not in take.json: its role from its
/// folder, its name from the file's.
fn unlisted_entry(rel: &str) -> FileEntry {
    let name = rel
        .rsplit('/')
        .next()
        .unwrap_or(rel)
        .trim_end_matches(".wav");
    let (role, stem_name) = if rel.starts_with("Stems/") {
        (Role::Stem, name.to_string())
    } else if rel.starts_with("Multitracks/") {
        let unnumbered = name
            .split_once(' ')
            .filter(|(nn, _)| nn.chars().all(|c| c.is_ascii_digit()))
            .map_or(name, |(_, rest)| rest);
        (Role::Multitrack, unnumbered.to_string())
    } else {
        (Role::Mix, name.to_string())
    };
    FileEntry {
        path: rel.to_string(),
        continuation_paths: Vec::new(),
        stem_name,
        role,
        channel_mode: ChannelMode::Stereo,
        channels: 0,
        dropped_frames: 0,
        silent_gap_frames: 0,
        peak: 0.0,
        peak_dbfs: None,
        clipped_samples: 0,
        channels_identical: None,
        offset_samples: 0,
        errors: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names() {
        assert_eq!(
            part_owner("Stems/Bass (part 2).wav").as_deref(),
            Some("Stems/Bass.wav")
        );
        assert_eq!(part_owner("Stems/Bass (live).wav"), None);
        assert_eq!(part_number("Mix (part 12).wav", "Mix"), Some(12));
        assert_eq!(part_number("Mix 2 (part 2).wav", "Mix"), None);
        let e = unlisted_entry("Multitracks/07 Lead Vox.wav");
        assert_eq!(
            (e.role, e.stem_name.as_str()),
            (Role::Multitrack, "Lead Vox")
        );
        assert_eq!(unlisted_entry("Mix.wav").role, Role::Mix);
    }
}
