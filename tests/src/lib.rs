//! Shared rig for the end-to-end scenarios in `tests/tests/`: loads the real built plugin,
//! hosts one instance per track in a [`Rack`], drives a host transport, and checks the take
//! folders the plugin writes, sample by sample.
//!
//! All instances in one process share one recording session and `STEMTAP_OUTPUT_DIR` is
//! process-wide, so every scenario is its own test binary (one process each).

use anyhow::{bail, ensure, Context, Result};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use stemtap_host::take::{wait_for_takes_where, Take, Wav};
use stemtap_host::{
    AudioConfig, Instance, ParamChange, PluginLibrary, Rack, TrackBlock, Transport, STEMTAP_ID,
};

pub use stemtap_host;

pub mod gui;

pub const RATE: u32 = 48_000;
pub const BLOCK: u32 = 512;
/// Impulses sit on every track at timeline positions that are multiples of this.
pub const IMPULSE_PERIOD: i64 = 4_800;
/// The impulse value: above anything [`signal`] produces otherwise, below clipping.
pub const IMPULSE: f32 = 0.995;
/// How much faster than real time the rig processes (realtime process mode throughout).
pub const SPEED: f64 = 12.0;

/// A distinct sample for every (track, channel, timeline position), in (-0.9, 0.9) and never
/// zero, with [`IMPULSE`] at multiples of [`IMPULSE_PERIOD`]: every frame of every file can
/// be checked against the timeline position it claims to hold.
pub fn signal(track: usize, channel: usize, pos: i64) -> f32 {
    if pos.rem_euclid(IMPULSE_PERIOD) == 0 {
        return IMPULSE;
    }
    let mut x =
        (pos as u64) ^ ((track as u64) << 40) ^ ((channel as u64) << 56) ^ 0x9E37_79B9_7F4A_7C15;
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    ((x % 18_000) as f32 + 0.5) / 10_000.0 - 0.9
}

/// One track of a scenario.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    /// Track name reported through track-info; also the expected stem name.
    pub name: String,
    /// `stem` | `multitrack` | `mix`
    pub role: String,
    /// `stereo` | `mono` | `auto`
    pub channel_mode: String,
    /// Channels of the instance's main input port (1 selects a mono port layout).
    pub input_channels: u32,
    /// Signal seed; defaults to the track's index.
    pub seed: usize,
}

impl TrackSpec {
    pub fn new(name: &str, role: &str) -> Self {
        TrackSpec {
            name: name.to_owned(),
            role: role.to_owned(),
            channel_mode: "stereo".to_owned(),
            input_channels: 2,
            seed: usize::MAX,
        }
    }

    pub fn mode(mut self, mode: &str) -> Self {
        self.channel_mode = mode.to_owned();
        self
    }

    pub fn inputs(mut self, channels: u32) -> Self {
        self.input_channels = channels;
        self
    }

    pub fn seed(mut self, seed: usize) -> Self {
        self.seed = seed;
        self
    }

    /// Channels the file should have.
    pub fn file_channels(&self) -> usize {
        if self.channel_mode == "mono" {
            1
        } else {
            self.input_channels as usize
        }
    }

    /// The input this track gets at `pos`, channel `ch`.
    pub fn input(&self, ch: usize, pos: i64) -> f32 {
        signal(self.seed, ch, pos)
    }

    /// What the file should hold at `pos`, channel `ch` (before any silence).
    pub fn expected(&self, ch: usize, pos: i64) -> f32 {
        if self.channel_mode == "mono" && self.input_channels == 2 {
            (self.input(0, pos) + self.input(1, pos)) * 0.5
        } else {
            self.input(ch, pos)
        }
    }
}

/// How one track takes part in a cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    /// One `process()` per host segment.
    Normal,
    /// Not processed at all (suspended by the host).
    Skip,
    /// The cycle (a single segment) cut into `process()` calls of these sizes.
    Split(Vec<u32>),
}

/// One stretch of a cycle with a continuous transport (a loop wrap makes two).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub frames: u32,
    pub transport: Transport,
}

/// The rig: a rack of StemTap instances, a host transport, an output root.
pub struct Harness {
    pub rack: Rack,
    pub specs: Vec<TrackSpec>,
    pub record_id: u32,
    /// The host transport at the next cycle's first sample.
    pub transport: Transport,
    /// `false`: process with no transport at all.
    pub send_transport: bool,
    root: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
}

impl Harness {
    /// A rig recording into a fresh temporary folder.
    pub fn new(specs: Vec<TrackSpec>) -> Result<Self> {
        let tempdir = tempfile::Builder::new().prefix("stemtap-e2e-").tempdir()?;
        let root = tempdir.path().to_path_buf();
        let keep = std::env::var_os("STEMTAP_KEEP_TAKES").is_some();
        let mut h = Self::new_in(specs, &root)?;
        if keep {
            eprintln!("keeping takes in {}", root.display());
            let _ = tempdir.keep();
        } else {
            h._tempdir = Some(tempdir);
        }
        Ok(h)
    }

    /// A rig recording into `root` (set as `STEMTAP_OUTPUT_DIR` for this process).
    pub fn new_in(mut specs: Vec<TrackSpec>, root: &Path) -> Result<Self> {
        // SAFETY-free in edition 2021; done before the plugin is loaded and before any
        // other thread of this rig exists.
        std::env::set_var("STEMTAP_OUTPUT_DIR", root);
        let lib = PluginLibrary::load(stemtap_host::built_plugin()?)?;
        let mut rack = Rack::new(AudioConfig::new(f64::from(RATE), 1, BLOCK));
        rack.set_speed(Some(SPEED));
        for (i, spec) in specs.iter_mut().enumerate() {
            if spec.seed == usize::MAX {
                spec.seed = i;
            }
            let mut inst = Instance::new(&lib, STEMTAP_ID, Some(&spec.name))?;
            if spec.input_channels != 2 {
                inst.select_channels(spec.input_channels).with_context(|| {
                    format!("{}: selecting {} channels", spec.name, spec.input_channels)
                })?;
            }
            let (role, mode) = (spec.role.clone(), spec.channel_mode.clone());
            inst.edit_state(|st| {
                st.patch_field(
                    "stream",
                    &[
                        ("name", Value::Null),
                        ("role", json!(role)),
                        ("channel_mode", json!(mode)),
                    ],
                )
            })
            .with_context(|| format!("{}: setting role/mode through state", spec.name))?;
            rack.add(inst);
        }
        let record_id = rack
            .instance_mut(0)
            .find_param("record")
            .context("finding the record parameter")?
            .id;
        let mut h = Harness {
            rack,
            specs,
            record_id,
            transport: Transport::stopped_at(0),
            send_transport: true,
            root: root.to_path_buf(),
            _tempdir: None,
        };
        h.set_session(&[("format", json!("float32")), ("trigger", json!("manual"))])?;
        Ok(h)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Changes session settings by editing instance 0's saved state and loading it back.
    pub fn set_session(&mut self, patch: &[(&str, Value)]) -> Result<()> {
        self.rack
            .instance_mut(0)
            .edit_state(|st| st.patch_field("session", patch))
    }

    pub fn start(&mut self) -> Result<()> {
        self.rack.start()
    }

    /// The host segments of the next cycle of `frames`: the transport split at a loop end.
    fn segments(&self, frames: u32) -> Vec<Segment> {
        let mut segs = Vec::new();
        let mut t = self.transport;
        let mut left = frames;
        while left > 0 {
            let mut n = left;
            if let (true, Some((ls, le))) = (t.playing, t.loop_range) {
                if t.pos_samples >= le {
                    t.pos_samples = ls;
                }
                n = n.min((le - t.pos_samples) as u32);
            }
            segs.push(Segment {
                frames: n,
                transport: t,
            });
            t = t.advanced(n);
            left -= n;
        }
        segs
    }

    /// Processes one cycle of [`BLOCK`] frames on every track, then advances the transport.
    /// `record`: (instance, on) sets the record parameter in that instance at the cycle's
    /// first sample. Returns the timeline position of the cycle's first sample.
    pub fn step(
        &mut self,
        record: Option<(usize, bool)>,
        plan: impl Fn(usize) -> Plan,
    ) -> Result<i64> {
        let segs = self.segments(BLOCK);
        let mut blocks = Vec::with_capacity(self.specs.len());
        for (i, spec) in self.specs.iter().enumerate() {
            let params: Vec<ParamChange> = match record {
                Some((j, on)) if j == i => vec![ParamChange {
                    id: self.record_id,
                    value: if on { 1.0 } else { 0.0 },
                }],
                _ => Vec::new(),
            };
            let plan = plan(i);
            if plan == Plan::Skip {
                blocks.push(TrackBlock::skip());
                continue;
            }
            let inputs: Vec<Vec<f32>> = (0..spec.input_channels as usize)
                .map(|ch| {
                    segs.iter()
                        .flat_map(|s| {
                            (0..i64::from(s.frames))
                                .map(move |k| spec.input(ch, s.transport.pos_samples + k))
                        })
                        .collect()
                })
                .collect();
            let tr = |t: Transport| self.send_transport.then_some(t);
            let block = match plan {
                Plan::Split(sizes) => {
                    ensure!(segs.len() == 1, "split plans need a single host segment");
                    TrackBlock::split(inputs, tr(segs[0].transport), params, &sizes)
                }
                _ => {
                    let mut subs = Vec::new();
                    let mut params = Some(params);
                    for s in &segs {
                        subs.push(stemtap_host::SubBlock {
                            frames: s.frames,
                            transport: tr(s.transport),
                            params: params.take().unwrap_or_default(),
                        });
                    }
                    TrackBlock { inputs, subs }
                }
            };
            blocks.push(block);
        }
        let outputs = self.rack.cycle(blocks)?;
        // Pass-through check: the plugin must not alter the audio.
        let mut expect_pos = Vec::new();
        for s in &segs {
            for k in 0..i64::from(s.frames) {
                expect_pos.push(s.transport.pos_samples + k);
            }
        }
        for (i, out) in outputs.iter().enumerate() {
            let Some(out) = out else { continue };
            for (ch, data) in out.iter().enumerate() {
                for (k, x) in data.iter().enumerate() {
                    let want = self.specs[i].input(ch, expect_pos[k]);
                    if x.to_bits() != want.to_bits() {
                        bail!(
                            "{}: output ch {ch} frame {k} is {x}, input was {want}: audio must pass through unchanged",
                            self.specs[i].name
                        );
                    }
                }
            }
        }
        let first = segs[0].transport.pos_samples;
        self.transport = segs
            .last()
            .map(|s| {
                let mut t = s.transport.advanced(s.frames);
                t.loop_range = self.transport.loop_range;
                t
            })
            .unwrap_or(self.transport);
        Ok(first)
    }

    /// `n` normal cycles.
    pub fn run(&mut self, n: usize) -> Result<()> {
        for _ in 0..n {
            self.step(None, |_| Plan::Normal)?;
        }
        Ok(())
    }

    /// Keeps processing (about half a second, then until done) until `count` complete takes
    /// exist; returns them sorted by folder name.
    pub fn finish(&mut self, count: usize) -> Result<Vec<Take>> {
        self.finish_where(count, |_| true)
    }

    /// Like [`Harness::finish`], counting only takes that `mine` accepts (other processes
    /// may record into the same root).
    pub fn finish_where(
        &mut self,
        count: usize,
        mine: impl Fn(&Take) -> bool,
    ) -> Result<Vec<Take>> {
        self.run((RATE / 2 / BLOCK) as usize)?;
        let root = self.root.clone();
        let takes =
            wait_for_takes_where(&root, count, Duration::from_secs(20), &mine, || self.run(4))?;
        ensure!(
            takes.len() == count,
            "expected {count} take(s), found {}: {:?}",
            takes.len(),
            takes.iter().map(Take::folder_name).collect::<Vec<_>>()
        );
        Ok(takes)
    }

    /// Stops the rack and reports plugin log lines at warning level or above.
    pub fn stop(&mut self) -> Result<Vec<String>> {
        self.rack.stop()?;
        let mut warnings = Vec::new();
        for i in 0..self.rack.len() {
            for e in self.rack.instance(i).logs() {
                if e.severity >= stemtap_host::LogSeverity::Warning {
                    warnings.push(format!(
                        "{}: {:?} {}",
                        self.specs[i].name, e.severity, e.message
                    ));
                }
            }
        }
        Ok(warnings)
    }
}

/// What a take should hold.
pub struct Expect<'a> {
    pub start: i64,
    pub length: u64,
    /// Frames at these timeline positions are silence for this track (not processed).
    pub silent: &'a dyn Fn(usize, i64) -> bool,
}

impl Expect<'static> {
    /// Every track has audio for the whole take, which spans `start..end`.
    pub fn exact(start: i64, end: i64) -> Self {
        Expect {
            start,
            length: (end - start) as u64,
            silent: &never_silent,
        }
    }
}

/// Checks a take against the specs: one file per track named after it, identical lengths,
/// the manifest's numbers, and every sample bit-exact at its timeline position.
pub fn check_take(take: &Take, specs: &[TrackSpec], expect: &Expect) -> Result<()> {
    let name = take.folder_name();
    ensure!(take.complete(), "{name}: not complete");
    ensure!(
        take.sample_rate() == Some(u64::from(RATE)),
        "{name}: sample_rate {:?}",
        take.manifest["sample_rate"]
    );
    ensure!(
        take.start_sample() == Some(expect.start),
        "{name}: start_sample {:?}, expected {}",
        take.manifest["start_sample"],
        expect.start
    );
    ensure!(
        take.length_frames() == Some(expect.length),
        "{name}: length_frames {:?}, expected {}",
        take.manifest["length_frames"],
        expect.length
    );
    let files = take.files();
    ensure!(
        files.len() == specs.len(),
        "{name}: {} files in manifest, expected {}: {:?}",
        files.len(),
        specs.len(),
        files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    let on_disk = wav_files(&take.dir)?;
    ensure!(
        on_disk.len() == specs.len(),
        "{name}: {} WAV files on disk, expected {}: {on_disk:?}",
        on_disk.len(),
        specs.len()
    );
    let mut impulses: Option<(String, Vec<usize>)> = None;
    for (t, spec) in specs.iter().enumerate() {
        let f = files
            .iter()
            .find(|f| f.stem_name == spec.name)
            .with_context(|| {
                format!(
                    "{name}: no file with stem_name {:?}; manifest has {:?}",
                    spec.name,
                    files.iter().map(|f| &f.stem_name).collect::<Vec<_>>()
                )
            })?;
        check_path(&f.path, spec)?;
        ensure!(
            f.role == spec.role,
            "{}: role {:?}, expected {:?}",
            f.path,
            f.role,
            spec.role
        );
        ensure!(
            f.dropped_frames == 0,
            "{}: {} dropped frames",
            f.path,
            f.dropped_frames
        );
        ensure!(f.errors.is_empty(), "{}: errors {:?}", f.path, f.errors);
        ensure!(
            f.clipped_samples == 0,
            "{}: {} clipped samples",
            f.path,
            f.clipped_samples
        );
        let wav = take.read_wav(&f.path)?;
        ensure!(
            wav.spec.sample_format == hound::SampleFormat::Float && wav.spec.bits_per_sample == 32,
            "{}: not float32: {:?}",
            f.path,
            wav.spec
        );
        ensure!(
            wav.spec.sample_rate == RATE,
            "{}: rate {}",
            f.path,
            wav.spec.sample_rate
        );
        ensure!(
            wav.channels.len() == spec.file_channels()
                && f.channels as usize == spec.file_channels(),
            "{}: {} channels in file, {} in manifest, expected {}",
            f.path,
            wav.channels.len(),
            f.channels,
            spec.file_channels()
        );
        ensure!(
            wav.frames() as u64 == expect.length,
            "{}: {} frames, expected {}",
            f.path,
            wav.frames(),
            expect.length
        );
        check_samples(&f.path, &wav, t, spec, expect)?;
        let peak = f64::from(wav.peak());
        ensure!(
            (f.peak - peak).abs() < 1e-4 || (f.peak - stemtap_host::take::dbfs(peak)).abs() < 0.01,
            "{}: manifest peak {} but the file's peak is {peak}",
            f.path,
            f.peak
        );
        // Impulses (where not silent) at the same index in every file.
        let idx: Vec<usize> = wav.channels[0]
            .iter()
            .enumerate()
            .filter(|(_, x)| **x == IMPULSE)
            .map(|(k, _)| k)
            .filter(|k| !(0..specs.len()).any(|tt| (expect.silent)(tt, expect.start + *k as i64)))
            .collect();
        ensure!(
            !idx.is_empty() || expect.length < IMPULSE_PERIOD as u64 * 2,
            "{}: no impulse found",
            f.path
        );
        for k in &idx {
            ensure!(
                (expect.start + *k as i64).rem_euclid(IMPULSE_PERIOD) == 0,
                "{}: impulse at index {k} = timeline {} is not on the impulse grid",
                f.path,
                expect.start + *k as i64
            );
        }
        if let Some((other, prev)) = &impulses {
            ensure!(
                idx == *prev,
                "impulses differ: {} {idx:?} vs {other} {prev:?}",
                f.path
            );
        } else {
            impulses = Some((f.path.clone(), idx));
        }
    }
    Ok(())
}

fn check_path(path: &str, spec: &TrackSpec) -> Result<()> {
    let ok = match spec.role.as_str() {
        "stem" => path == format!("Stems/{}.wav", spec.name),
        "mix" => path == "Mix.wav",
        "multitrack" => {
            let rest = path.strip_prefix("Multitracks/").unwrap_or("");
            let (nn, tail) = rest.split_at(rest.len().min(3));
            nn.len() == 3
                && nn[..2].chars().all(|c| c.is_ascii_digit())
                && nn.ends_with(' ')
                && tail == format!("{}.wav", spec.name)
        }
        _ => false,
    };
    ensure!(
        ok,
        "file {path:?} is not where a {} named {:?} belongs",
        spec.role,
        spec.name
    );
    Ok(())
}

fn check_samples(path: &str, wav: &Wav, t: usize, spec: &TrackSpec, expect: &Expect) -> Result<()> {
    for (ch, data) in wav.channels.iter().enumerate() {
        for (k, x) in data.iter().enumerate() {
            let pos = expect.start + k as i64;
            let want = if (expect.silent)(t, pos) {
                0.0
            } else {
                spec.expected(ch, pos)
            };
            if x.to_bits() != want.to_bits() {
                // Diagnose an offset: where on the timeline does this value come from?
                let found = (-4096i64..=4096)
                    .find(|d| spec.expected(ch, pos + d).to_bits() == x.to_bits())
                    .map(|d| format!("; it is the input at timeline {} (offset {d:+})", pos + d))
                    .unwrap_or_default();
                bail!("{path}: ch {ch} frame {k} (timeline {pos}) is {x}, expected {want}{found}");
            }
        }
    }
    Ok(())
}

/// All `.wav` files under `dir`, relative paths, sorted.
pub fn wav_files(dir: &Path) -> Result<Vec<String>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(base, &p, out)?;
            } else if p.extension().is_some_and(|x| x == "wav") {
                out.push(p.strip_prefix(base)?.to_string_lossy().replace('\\', "/"));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    Ok(out)
}

/// No silence anywhere.
pub fn never_silent(_: usize, _: i64) -> bool {
    false
}
