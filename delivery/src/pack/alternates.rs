//! Alternate passes derived from the stems, the way studios print them next to the mix:
//! the instrumental (every stem but the vocals), the a cappella (the vocals only) and the
//! TV track (every stem but the lead vocal). Which stems are vocals is read from their
//! names (or given by the user), and every derived pass is summed in blocks, never a whole
//! file in memory.
//!
//! A derived pass is only worth sending if the stems really add up to the mix: anything on
//! the master bus (a limiter, a glue compressor, EQ) is in the mix and in no stem, so an
//! instrumental summed from the stems would sound different from the mix with the vocal
//! muted. The same pass that writes the alternates therefore sums *every* stem and
//! subtracts the mix: the null test, measured on exactly the samples the alternates were
//! built from. Above [`crate::checks::NULL_DB`] the alternates are not trusted.

use super::{transcode::sink_for, PackError, PackedFile, Staging};
use crate::read::WavBlocks;
use crate::take::Take;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use stemtap_engine::manifest::FileEntry;

/// Words that make a stem a vocal wherever they stand in its name.
const VOCAL_WORDS: &[&str] = &[
    "vox",
    "vocal",
    "vocals",
    "voc",
    "vocs",
    "vx",
    "voice",
    "voices",
    "bv",
    "bvs",
    "bgv",
    "bgvs",
    "choir",
    "choirs",
    "adlib",
    "adlibs",
    "harmony",
    "harmonies",
    "acappella",
    "acapella",
    "rap",
    "singer",
    "sung",
];
/// Words that make a stem a vocal only when nothing else in the name says what it is:
/// `Lead` and `Backing` are vocals, `Lead Guitar` and `Backing Track` are not.
const WEAK_VOCAL_WORDS: &[&str] = &["lead", "leads", "backing", "backings", "backs", "main"];
/// Words that make a vocal a backing vocal (kept in the TV track).
const BACKING_WORDS: &[&str] = &[
    "bv",
    "bvs",
    "bgv",
    "bgvs",
    "backing",
    "backings",
    "backs",
    "choir",
    "choirs",
    "adlib",
    "adlibs",
    "harmony",
    "harmonies",
    "double",
    "doubles",
    "bg",
    "bgvox",
    "ooh",
    "oohs",
    "aah",
];

/// The lower-case words of a stem name: split at anything not a letter or digit, between
/// a lower-case and an upper-case letter (`LeadVox`) and between letters and digits
/// (`Vox2`).
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut prev: Option<char> = None;
    for c in name.chars() {
        let boundary = match prev {
            _ if !c.is_alphanumeric() => true,
            Some(p) => {
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_alphabetic() && c.is_numeric())
                    || (p.is_numeric() && c.is_alphabetic())
            }
            None => false,
        };
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word).to_lowercase());
        }
        if c.is_alphanumeric() {
            word.push(c);
        }
        prev = Some(c);
    }
    if !word.is_empty() {
        out.push(word.to_lowercase());
    }
    out
}

/// Whether a stem named `name` is a vocal, by its name alone.
pub fn is_vocal_name(name: &str) -> bool {
    let w = words(name);
    let strong = w.iter().any(|x| VOCAL_WORDS.contains(&x.as_str()));
    let weak = w.iter().any(|x| WEAK_VOCAL_WORDS.contains(&x.as_str()));
    let only_weak = w
        .iter()
        .all(|x| WEAK_VOCAL_WORDS.contains(&x.as_str()) || x.chars().all(|c| c.is_numeric()));
    strong || (weak && only_weak)
}

/// Whether a vocal stem named `name` is a backing vocal (else it is a lead vocal).
pub fn is_backing_name(name: &str) -> bool {
    words(name)
        .iter()
        .any(|x| BACKING_WORDS.contains(&x.as_str()))
}

/// Which stems are vocals, and which of those are lead vocals.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VocalSplit {
    /// Stem names that are vocals.
    pub vocals: Vec<String>,
    /// Of those, the lead vocals.
    pub lead: Vec<String>,
    /// True when the user named the vocals (`--vocals`, the config file).
    pub given: bool,
}

/// Split `stems` by name, or by the user's lists (case-insensitive, exact names).
pub fn split_vocals(
    stems: &[&FileEntry],
    vocals: Option<&[String]>,
    lead: Option<&[String]>,
) -> VocalSplit {
    let named = |list: &[String], name: &str| list.iter().any(|v| v.eq_ignore_ascii_case(name));
    let vocal: Vec<String> = stems
        .iter()
        .map(|s| s.stem_name.clone())
        .filter(|n| vocals.map_or_else(|| is_vocal_name(n), |list| named(list, n)))
        .collect();
    let lead_list: Vec<String> = vocal
        .iter()
        .filter(|n| lead.map_or_else(|| !is_backing_name(n), |list| named(list, n)))
        .cloned()
        .collect();
    VocalSplit {
        vocals: vocal,
        lead: lead_list,
        given: vocals.is_some(),
    }
}

/// Which stems go into which pass, as indices into the stem list.
#[derive(Debug, Clone)]
pub struct AlternatePlan {
    pub kind: super::Alternate,
    /// The packed file's name.
    pub name: String,
    pub stems: Vec<usize>,
}

/// Sum `plans` from `stems` (with the mix, when there is one, for the null test) into
/// files in the staging folder, in one pass over every file. Returns the files and the
/// residual of (every stem - mix) relative to the mix in dB (`Some(None)`: a perfect null;
/// `None`: no mix to compare with).
pub(super) fn derive(
    take: &Take,
    stems: &[&FileEntry],
    mix: Option<&FileEntry>,
    plans: &[AlternatePlan],
    staging: &Staging,
    done: &AtomicU64,
    tick: &(dyn Fn() + Sync),
) -> Result<(Vec<PackedFile>, Option<Option<f64>>), PackError> {
    let mut readers = Vec::new();
    for s in stems {
        let path = take.file_path(s)?;
        readers.push(WavBlocks::open(&path)?);
    }
    let mut mix_r = match mix {
        Some(m) => Some(WavBlocks::open(&take.file_path(m)?)?),
        None => None,
    };
    let out_ch = mix_r.as_ref().map_or_else(
        || readers.iter().map(|r| r.format.channels).max().unwrap_or(2),
        |m| m.format.channels,
    ) as usize;
    let rate = take.manifest.sample_rate;
    // Every file must line up frame for frame with the mix (the check says so too).
    let frames = mix_r
        .as_ref()
        .map_or_else(|| readers[0].format.frames, |m| m.format.frames);
    for (s, r) in stems.iter().zip(&readers) {
        let ch = r.format.channels as usize;
        if r.format.frames != frames || (ch != out_ch && ch != 1) {
            return Err(PackError::Alternates(format!(
                "{} cannot be summed with the other stems: {} frames of {} channels, the mix has {frames} of {out_ch}",
                s.path, r.format.frames, ch
            )));
        }
    }
    let mut sinks = Vec::new();
    for p in plans {
        sinks.push(sink_for(
            staging,
            &p.name,
            out_ch as u16,
            rate,
            take,
            p.kind.label().0,
            p.kind.id(),
        )?);
    }
    // Per stem, which passes it goes into.
    let into: Vec<Vec<usize>> = (0..stems.len())
        .map(|s| {
            (0..plans.len())
                .filter(|&p| plans[p].stems.contains(&s))
                .collect()
        })
        .collect();
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); plans.len()];
    let mut all: Vec<f64> = Vec::new();
    let mut out: Vec<f32> = Vec::new();
    let (mut residual_energy, mut mix_energy) = (0.0f64, 0.0f64);
    let mut left = frames;
    while left > 0 {
        let n = (left as usize).min(crate::read::BLOCK_FRAMES) * out_ch;
        for s in sums.iter_mut().chain([&mut all]) {
            s.clear();
            s.resize(n, 0.0);
        }
        let mut read_bytes = 0;
        for (i, r) in readers.iter_mut().enumerate() {
            let in_ch = r.format.channels as usize;
            read_bytes += (n / out_ch * in_ch) as u64 * r.format.bits as u64 / 8;
            let block = r.next_block()?.unwrap_or(&[]);
            for target in into[i].iter().map(Some).chain([None]) {
                let sum = match target {
                    Some(&p) => &mut sums[p],
                    None => &mut all,
                };
                if in_ch == out_ch {
                    sum.iter_mut().zip(block).for_each(|(s, &x)| *s += x as f64);
                } else {
                    for (frame, &x) in sum.chunks_exact_mut(out_ch).zip(block) {
                        frame.iter_mut().for_each(|s| *s += x as f64);
                    }
                }
            }
        }
        if let Some(m) = mix_r.as_mut() {
            read_bytes += n as u64 * m.format.bits as u64 / 8;
            let block = m.next_block()?.unwrap_or(&[]);
            for (&s, &m) in all.iter().zip(block) {
                residual_energy += (s - m as f64) * (s - m as f64);
                mix_energy += m as f64 * m as f64;
            }
        }
        for (sum, sink) in sums.iter().zip(&mut sinks) {
            out.clear();
            out.extend(sum.iter().map(|&x| x as f32));
            sink.write(&out);
        }
        left -= (n / out_ch) as u64;
        done.fetch_add(read_bytes, Ordering::Relaxed);
        tick();
    }
    let mut files = Vec::new();
    for (p, mut sink) in plans.iter().zip(sinks) {
        sink.finish();
        if let Some(e) = sink.error.take() {
            return Err(PackError::Wav(e.to_string()));
        }
        let source = p
            .stems
            .iter()
            .map(|&i| stems[i].path.clone())
            .collect::<Vec<_>>()
            .join(" + ");
        files.push(PackedFile {
            name: p.name.clone(),
            role: "alternate".into(),
            alternate: Some(p.kind),
            source,
            channels: out_ch as u16,
            frames: sink.frames_written,
            peak: sink.peak,
            clipped_samples: sink.clipped_samples,
            staged: sink
                .parts
                .iter()
                .map(|rel| staging.dir.join(rel))
                .collect::<Vec<PathBuf>>(),
        });
    }
    let residual = mix_r.map(|_| {
        (residual_energy > 0.0 && mix_energy > 0.0)
            .then(|| 10.0 * (residual_energy / mix_energy).log10())
    });
    Ok((files, residual))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vocals_by_name() {
        for v in [
            "Vox",
            "Lead Vocal",
            "LeadVox",
            "BVs",
            "Backing",
            "Choir",
            "Adlibs",
            "VOC 2",
            "lead",
            "Harmonies",
        ] {
            assert!(is_vocal_name(v), "{v}");
        }
        for n in [
            "Drums",
            "Lead Guitar",
            "Backing Track",
            "Bass",
            "Vocoder Synth",
            "Voxel",
            "Main Keys",
        ] {
            assert!(!is_vocal_name(n), "{n}");
        }
        assert!(is_backing_name("BVs") && is_backing_name("Choir"));
        assert!(!is_backing_name("Lead Vox") && !is_backing_name("Vocals"));
    }
}
