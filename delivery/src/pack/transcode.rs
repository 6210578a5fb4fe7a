//! One file of the take into the pack's format: streamed in blocks from [`WavBlocks`] into
//! the engine's [`WavSink`], so a packed file gets the same conversions (24-bit rounding,
//! TPDF-dithered 16-bit), the same Broadcast-WAV header (`bext` TimeReference = the take's
//! position on the timeline, `iXML` names, tempo and meter, RF64 past 4 GiB) and the take's
//! markers as cue points, exactly as if StemTap had recorded it in that format.

use super::{PackError, PackedFile, Staging};
use crate::read::WavBlocks;
use crate::take::Take;
use std::sync::atomic::{AtomicU64, Ordering};
use stemtap_engine::manifest::FileEntry;
use stemtap_engine::wav::{FileMetadata, SinkSpec, WavSink, MAX_WAV_DATA_BYTES, RF64_AFTER_BYTES};

/// The number in a take folder's name (`... Take 3`), as the engine's writer reads it.
fn take_number(name: &str) -> Option<u32> {
    let (_, after) = name.rsplit_once(" Take ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The Broadcast-WAV metadata of a packed file: the source take's, as StemTap's writer
/// gives it to the take's own files (the same position, names, tempo, meter and date), so
/// a packed file lands where the original would ("BWF timestamps kept").
pub(super) fn metadata(take: &Take, track_name: &str, role: &str) -> FileMetadata {
    let m = &take.manifest;
    let first = m.segments.first();
    let name = take.name();
    FileMetadata {
        start_sample: first.map_or(m.start_sample, |s| s.start_sample),
        track_name: track_name.to_string(),
        role: role.to_string(),
        take_number: take_number(&name),
        timeline: serde_json::to_value(first.map_or(m.timeline, |s| s.timeline))
            .ok()
            .and_then(|v| v.as_str().map(str::to_string)),
        tempo_bpm: m.tempo_bpm,
        time_signature: m.time_signature.map(|[n, d]| (n, d)),
        start_bar_beat: m.start_bar_beat.clone(),
        // The take folder is named after the time the take was opened.
        originated: name
            .get(..19)
            .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H-%M-%S").ok()),
        take_name: name,
    }
}

/// A sink writing `name` (`... .wav`) into the staging folder in the pack's format, with
/// the take's metadata (`track_name`, `role`) and its segment markers as cue points.
pub(super) fn sink_for(
    staging: &Staging,
    name: &str,
    channels: u16,
    sample_rate: u32,
    take: &Take,
    track_name: &str,
    role: &str,
) -> Result<WavSink, PackError> {
    let rel_base = name.strip_suffix(".wav").unwrap_or(name).to_string();
    let spec = SinkSpec {
        take_dir: staging.dir.clone(),
        rel_base,
        channels,
        sample_rate,
        format: staging.format,
        max_data_bytes: MAX_WAV_DATA_BYTES,
    };
    let mut sink = WavSink::create_with(spec, metadata(take, track_name, role), RF64_AFTER_BYTES)
        .map_err(|e| PackError::Wav(e.to_string()))?;
    // The same labels StemTap's writer gives them, so a packed file's markers read like
    // the original's.
    for (i, seg) in take.manifest.segments.iter().enumerate().skip(1) {
        sink.add_cue(seg.frame, &format!("Segment {}", i + 1));
    }
    Ok(sink)
}

/// Copy the take's file `entry` into the staging folder as `name`, counting the source
/// bytes read into `done`.
pub(super) fn transcode(
    take: &Take,
    entry: &FileEntry,
    name: &str,
    staging: &Staging,
    done: &AtomicU64,
    tick: &(dyn Fn() + Sync),
) -> Result<PackedFile, PackError> {
    let path = take.file_path(entry)?;
    let mut reader = WavBlocks::open(&path)?;
    let f = reader.format;
    let bytes_per_frame = f.channels as u64 * f.bits as u64 / 8;
    let mut sink = sink_for(
        staging,
        name,
        f.channels,
        f.sample_rate,
        take,
        &entry.stem_name,
        role_id(entry),
    )?;
    while let Some(block) = reader.next_block()? {
        sink.write(block);
        let frames = (block.len() / f.channels as usize) as u64;
        done.fetch_add(frames * bytes_per_frame, Ordering::Relaxed);
        tick();
    }
    sink.finish();
    if let Some(e) = sink.error.take() {
        return Err(PackError::Wav(e.to_string()));
    }
    Ok(PackedFile {
        name: name.to_string(),
        role: role_id(entry).into(),
        alternate: None,
        source: entry.path.clone(),
        channels: f.channels,
        frames: sink.frames_written,
        peak: sink.peak,
        clipped_samples: sink.clipped_samples,
        staged: sink.parts.iter().map(|rel| staging.dir.join(rel)).collect(),
    })
}

/// A role's name as in take.json.
pub(super) fn role_id(entry: &FileEntry) -> &'static str {
    match entry.role {
        stemtap_engine::settings::Role::Stem => "stem",
        stemtap_engine::settings::Role::Multitrack => "multitrack",
        stemtap_engine::settings::Role::Mix => "mix",
    }
}
