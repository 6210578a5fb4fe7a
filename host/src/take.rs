//! Reading what the plugin wrote: take folders, their `take.json`, and WAV files.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One take folder and its manifest as last read.
#[derive(Debug, Clone)]
pub struct Take {
    pub dir: PathBuf,
    pub manifest: Value,
}

/// One entry of the manifest's `files`.
#[derive(Debug, Clone, PartialEq)]
pub struct TakeFile {
    /// Relative to the take folder, e.g. `Stems/Kick.wav`.
    pub path: String,
    pub stem_name: String,
    pub role: String,
    pub channels: u64,
    pub dropped_frames: u64,
    pub peak: f64,
    pub clipped_samples: u64,
    pub errors: Vec<String>,
}

impl Take {
    /// Reads `<dir>/take.json`.
    pub fn read(dir: &Path) -> Result<Take> {
        let path = dir.join("take.json");
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let manifest: Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        Ok(Take {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// The folder's name (`2026-11-24 21-04-13 Take 3`).
    pub fn folder_name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn complete(&self) -> bool {
        self.manifest["complete"].as_bool() == Some(true)
    }

    pub fn start_sample(&self) -> Option<i64> {
        self.manifest["start_sample"].as_i64()
    }

    pub fn length_frames(&self) -> Option<u64> {
        self.manifest["length_frames"].as_u64()
    }

    pub fn sample_rate(&self) -> Option<u64> {
        self.manifest["sample_rate"].as_u64()
    }

    pub fn timeline(&self) -> Option<&str> {
        self.manifest["timeline"].as_str()
    }

    pub fn files(&self) -> Vec<TakeFile> {
        let Some(files) = self.manifest["files"].as_array() else {
            return Vec::new();
        };
        let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        files
            .iter()
            .map(|f| TakeFile {
                path: s(&f["path"]),
                stem_name: s(&f["stem_name"]),
                role: s(&f["role"]),
                channels: f["channels"].as_u64().unwrap_or(0),
                dropped_frames: f["dropped_frames"].as_u64().unwrap_or(0),
                peak: f["peak"].as_f64().unwrap_or(f64::NAN),
                clipped_samples: f["clipped_samples"].as_u64().unwrap_or(0),
                errors: f["errors"]
                    .as_array()
                    .map(|e| e.iter().map(|x| x.to_string()).collect())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// Reads a file of the take by its manifest path.
    pub fn read_wav(&self, rel: &str) -> Result<Wav> {
        read_wav(&self.dir.join(rel))
    }
}

/// Take folders (sub-folders holding a readable `take.json`) under `root`, sorted by
/// manifest start time then folder name.
pub fn find_takes(root: &Path) -> Result<Vec<Take>> {
    let mut takes = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(takes),
        Err(e) => return Err(e).with_context(|| format!("listing {}", root.display())),
    };
    for entry in entries {
        let dir = entry?.path();
        if dir.join("take.json").is_file() {
            // A manifest being rewritten may read as invalid for a moment: skip it now.
            if let Ok(t) = Take::read(&dir) {
                takes.push(t);
            }
        }
    }
    takes.sort_by_key(Take::folder_name);
    Ok(takes)
}

/// Sub-folders of `root` (take folders, complete or not, readable or not).
pub fn list_dirs(root: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root) {
        for entry in entries {
            let p = entry?.path();
            if p.is_dir() {
                dirs.push(p);
            }
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Polls until at least `count` take folders under `root` say `"complete": true` and none
/// says false, calling `keep_processing` between polls (the writer only finishes takes while
/// the host keeps processing). Fails after `timeout`.
pub fn wait_for_takes(
    root: &Path,
    count: usize,
    timeout: Duration,
    keep_processing: impl FnMut() -> Result<()>,
) -> Result<Vec<Take>> {
    wait_for_takes_where(root, count, timeout, |_| true, keep_processing)
}

/// [`wait_for_takes`] counting only the takes `filter` accepts.
pub fn wait_for_takes_where(
    root: &Path,
    count: usize,
    timeout: Duration,
    filter: impl Fn(&Take) -> bool,
    mut keep_processing: impl FnMut() -> Result<()>,
) -> Result<Vec<Take>> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut takes = find_takes(root)?;
        takes.retain(|t| filter(t));
        let complete = takes.iter().filter(|t| t.complete()).count();
        if complete >= count && complete == takes.len() {
            return Ok(takes);
        }
        if Instant::now() > deadline {
            let state: Vec<_> = takes
                .iter()
                .map(|t| format!("{} complete={}", t.folder_name(), t.complete()))
                .collect();
            bail!(
                "timed out after {timeout:?} waiting for {count} complete take(s) in {}; found {state:?}",
                root.display()
            );
        }
        keep_processing()?;
    }
}

/// A decoded WAV file, samples as f32 per channel (integers scaled to [-1, 1)).
#[derive(Debug, Clone)]
pub struct Wav {
    pub spec: hound::WavSpec,
    pub channels: Vec<Vec<f32>>,
}

impl Wav {
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    /// Largest absolute sample over all channels.
    pub fn peak(&self) -> f32 {
        self.channels
            .iter()
            .flatten()
            .fold(0.0f32, |m, x| m.max(x.abs()))
    }
}

/// Reads a whole WAV file.
pub fn read_wav(path: &Path) -> Result<Wav> {
    let mut reader =
        hound::WavReader::open(path).with_context(|| format!("opening {}", path.display()))?;
    let spec = reader.spec();
    let n = usize::from(spec.channels);
    if n == 0 {
        bail!("{}: zero channels", path.display());
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .collect::<std::result::Result<_, _>>()
            .with_context(|| format!("decoding {}", path.display()))?,
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| s as f32 / scale))
                .collect::<std::result::Result<_, _>>()
                .with_context(|| format!("decoding {}", path.display()))?
        }
    };
    if !interleaved.len().is_multiple_of(n) {
        bail!("{}: partial frame at the end", path.display());
    }
    let mut channels = vec![Vec::with_capacity(interleaved.len() / n); n];
    for frame in interleaved.chunks_exact(n) {
        for (c, x) in channels.iter_mut().zip(frame) {
            c.push(*x);
        }
    }
    Ok(Wav { spec, channels })
}

/// dBFS of a linear peak (`-inf` for silence).
pub fn dbfs(peak: f64) -> f64 {
    20.0 * peak.log10()
}
