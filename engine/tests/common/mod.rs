//! A test rig that drives the engine exactly as the plugin's `process()` does: one
//! `Capture` per instance, fed blocks with host transport stamps, and one session writer.
#![allow(dead_code)]

use parking_lot::RwLock;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stemtap_engine::manifest::Manifest;
use stemtap_engine::{
    Capture, EngineConfig, Session, SessionSettings, StreamHandle, StreamSettings, TransportInfo,
};

pub const RATE: u32 = 48_000;

/// A distinct, never-zero sample for every (track, channel, timeline position): any frame of
/// any file can be checked against where it claims to sit on the timeline.
pub fn signal(track: usize, channel: usize, pos: i64) -> f32 {
    let x = (pos as u64)
        .wrapping_mul(2_654_435_761)
        .wrapping_add(track as u64 * 7_919 + channel as u64 * 104_729);
    ((x % 20_000) as f32 + 0.5) / 10_000.0 - 1.0
}

pub struct Track {
    pub seed: usize,
    pub handle: StreamHandle,
    pub capture: Option<Capture>,
    pub settings: Arc<RwLock<StreamSettings>>,
    pub channels: u16,
    buf: Vec<Vec<f32>>,
}

pub struct Rig {
    pub session: Arc<Session>,
    pub dir: tempfile::TempDir,
    pub tracks: Vec<Track>,
}

impl Rig {
    pub fn new(config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let session = Arc::new(Session::new(config));
        session.set_settings(SessionSettings {
            output_root: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        Rig {
            session,
            dir,
            tracks: Vec::new(),
        }
    }

    pub fn add_track(&mut self, name: &str, channels: u16, max_block: u32) -> usize {
        let settings = Arc::new(RwLock::new(StreamSettings {
            name: Some(name.into()),
            ..Default::default()
        }));
        let handle = self.session.register(settings.clone());
        let capture = Some(handle.attach(RATE, channels, max_block));
        let seed = self.tracks.len();
        self.tracks.push(Track {
            seed,
            handle,
            capture,
            settings,
            channels,
            buf: vec![vec![0.0; 0]; channels as usize],
        });
        seed
    }

    /// One `process()` call of track `t`: `frames` frames whose first sits at timeline `pos`
    /// (the signal is always generated from `pos`, whatever the transport says).
    pub fn process(&mut self, t: usize, pos: i64, frames: usize, transport: &TransportInfo) {
        let track = &mut self.tracks[t];
        for (c, ch) in track.buf.iter_mut().enumerate() {
            ch.clear();
            ch.extend((0..frames as i64).map(|i| signal(track.seed, c, pos + i)));
        }
        if let Some(capture) = track.capture.as_mut() {
            capture.capture(&track.buf, frames, transport, false);
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
}

pub fn playing(pos: i64) -> TransportInfo {
    TransportInfo {
        playing: true,
        pos_samples: Some(pos),
        tempo: Some(120.0),
        time_sig: Some((4, 4)),
        pos_beats: Some(pos as f64 / RATE as f64 * 2.0),
        ..Default::default()
    }
}

/// Wait until `count` complete takes exist under `root`; returns them ordered by start.
pub fn wait_for_takes(root: &Path, count: usize) -> Vec<(PathBuf, Manifest)> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut takes = Vec::new();
        for entry in std::fs::read_dir(root).unwrap() {
            let dir = entry.unwrap().path();
            if let Ok(json) = std::fs::read(dir.join("take.json")) {
                let manifest: Manifest = serde_json::from_slice(&json).unwrap();
                takes.push((dir, manifest));
            }
        }
        if takes.len() >= count && takes.iter().all(|(_, m)| m.complete) {
            takes.sort_by_key(|(d, _)| {
                d.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .split(" Take ")
                    .nth(1)
                    .unwrap()
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap()
            });
            return takes;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} takes, have {}",
            takes.len()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Decode a WAV file as float frames: (channels, interleaved samples).
pub fn read_wav(path: &Path) -> (u16, Vec<f32>) {
    let mut reader =
        hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = reader.spec();
    let samples = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().map(Result::unwrap).collect(),
        hound::SampleFormat::Int => {
            let scale = (1u64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|s| s.unwrap() as f32 / scale)
                .collect()
        }
    };
    (spec.channels, samples)
}

/// Assert that file frame k holds track `seed`'s signal at `start + k`, except where
/// `silent(pos)` says the stream had no audio (then it must be exact silence).
pub fn assert_content(
    path: &Path,
    seed: usize,
    start: i64,
    length: u64,
    silent: impl Fn(i64) -> bool,
) {
    assert_content_at(path, seed, |k| start + k as i64, length, silent)
}

/// Timeline position of file frame `k` of a take, from its segments.
pub fn pos_of_frame(m: &Manifest, k: u64) -> i64 {
    let seg = m
        .segments
        .iter()
        .rev()
        .find(|s| s.frame <= k)
        .expect("a take has a segment at frame 0");
    seg.start_sample + (k - seg.frame) as i64
}

/// Like [`assert_content`], with frame k at timeline position `pos_of(k)`.
pub fn assert_content_at(
    path: &Path,
    seed: usize,
    pos_of: impl Fn(u64) -> i64,
    length: u64,
    silent: impl Fn(i64) -> bool,
) {
    let (channels, samples) = read_wav(path);
    assert_eq!(
        samples.len() as u64,
        length * channels as u64,
        "{}: length",
        path.display()
    );
    for (k, frame) in samples.chunks_exact(channels as usize).enumerate() {
        let pos = pos_of(k as u64);
        for (c, &got) in frame.iter().enumerate() {
            let want = if silent(pos) {
                0.0
            } else {
                signal(seed, c, pos)
            };
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "{}: frame {k} (pos {pos}) ch {c}: got {got}, want {want}",
                path.display()
            );
        }
    }
}

/// Every file of the take holds its track's signal on every frame (track seed = file index,
/// which is registration order), each segment at its own timeline position.
pub fn assert_every_file_exact(dir: &Path, m: &Manifest) {
    assert_eq!(m.segments.first().map(|s| s.frame), Some(0), "segments");
    assert_eq!(m.segments[0].start_sample, m.start_sample);
    for (seed, f) in m.files.iter().enumerate() {
        assert_content_at(
            &dir.join(&f.path),
            seed,
            |k| pos_of_frame(m, k),
            m.length_frames,
            |_| false,
        );
    }
}

/// Every file below `dir`, in any depth of folders.
pub fn all_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(all_files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}
