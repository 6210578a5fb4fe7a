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
pub mod kill;

pub const RATE: u32 = 48_000;
pub const BLOCK: u32 = 512;
/// Impulses sit on every track at input positions that are multiples of this.
pub const IMPULSE_PERIOD: i64 = 4_800;
/// The impulse value: above anything [`signal`] produces otherwise, below clipping.
pub const IMPULSE: f32 = 0.995;
/// How much faster than real time the rig processes (realtime process mode throughout).
pub const SPEED: f64 = 12.0;
/// The harness's input position when it first processes with the transport stopped: while
/// stopped the input runs on from here (audio does not freeze when a DAW stops), far from
/// any song position a scenario plays, so a stopped stretch can never pass for a played one.
pub const FREE_INPUT_START: i64 = IMPULSE_PERIOD * 1_000_000;

/// A distinct sample for every (track, channel, input position), in (-0.9, 0.9) and never
/// zero, with [`IMPULSE`] at multiples of [`IMPULSE_PERIOD`]: every frame of every file can
/// be checked against the input position it claims to hold (the song position while the
/// transport plays, see [`Segment::input`]).
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
    /// Every input channel gets channel 0's signal (a mono source on a stereo track).
    pub dual_mono: bool,
}

impl TrackSpec {
    pub fn new(name: &str, role: &str) -> Self {
        TrackSpec {
            name: name.to_owned(),
            role: role.to_owned(),
            channel_mode: "stereo".to_owned(),
            input_channels: 2,
            seed: usize::MAX,
            dual_mono: false,
        }
    }

    /// Feed the same signal on every input channel.
    pub fn dual_mono(mut self) -> Self {
        self.dual_mono = true;
        self
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

    /// Channels the file should have (in "auto" mode: once a dual-mono file was collapsed).
    pub fn file_channels(&self) -> usize {
        let collapses = self.channel_mode == "auto" && self.dual_mono;
        if self.channel_mode == "mono" || collapses {
            1
        } else {
            self.input_channels as usize
        }
    }

    /// The input this track gets at `pos`, channel `ch`.
    pub fn input(&self, ch: usize, pos: i64) -> f32 {
        signal(self.seed, if self.dual_mono { 0 } else { ch }, pos)
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
    /// The input position of its first frame: the song position while playing, the
    /// harness's free-running input counter while stopped.
    pub input: i64,
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
    /// The input position of the next frame processed with the transport stopped.
    pub free_input: i64,
    /// Every host segment processed so far, in order (see [`segments_from_tape`]).
    pub tape: Vec<Segment>,
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
            free_input: FREE_INPUT_START,
            tape: Vec::new(),
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

    /// The input position of the next cycle's first frame (what [`Harness::step`] returns
    /// for it).
    pub fn input_pos(&self) -> i64 {
        self.segments(1)[0].input
    }

    /// The host segments of the next cycle of `frames`: the transport split at a loop end.
    fn segments(&self, frames: u32) -> Vec<Segment> {
        let mut segs = Vec::new();
        let mut t = self.transport;
        let mut free = self.free_input;
        let mut left = frames;
        while left > 0 {
            let mut n = left;
            if let (true, Some((ls, le))) = (t.playing, t.loop_range) {
                if t.pos_samples >= le {
                    t.pos_samples = ls;
                }
                n = n.min((le - t.pos_samples) as u32);
            }
            let input = if t.playing { t.pos_samples } else { free };
            if !t.playing {
                free += i64::from(n);
            }
            segs.push(Segment {
                frames: n,
                transport: t,
                input,
            });
            t = t.advanced(n);
            left -= n;
        }
        segs
    }

    /// Processes one cycle of [`BLOCK`] frames on every track, then advances the transport.
    /// `record`: (instance, on) sets the record parameter in that instance at the cycle's
    /// first sample. Returns the input position of the cycle's first sample (the song
    /// position while playing).
    pub fn step(
        &mut self,
        record: Option<(usize, bool)>,
        plan: impl Fn(usize) -> Plan,
    ) -> Result<i64> {
        self.step_frames(BLOCK, record, plan)
    }

    /// [`Harness::step`] with a cycle of `frames` (1..=[`BLOCK`]) frames.
    pub fn step_frames(
        &mut self,
        frames: u32,
        record: Option<(usize, bool)>,
        plan: impl Fn(usize) -> Plan,
    ) -> Result<i64> {
        ensure!(
            (1..=BLOCK).contains(&frames),
            "cycle of {frames} frames: the rack is configured for 1..={BLOCK}"
        );
        let segs = self.segments(frames);
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
                            (0..i64::from(s.frames)).map(move |k| spec.input(ch, s.input + k))
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
                expect_pos.push(s.input + k);
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
        let first = segs[0].input;
        self.tape.extend(segs.iter().copied());
        self.free_input += segs
            .iter()
            .filter(|s| !s.transport.playing)
            .map(|s| i64::from(s.frames))
            .sum::<i64>();
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

/// One segment a take should have: frames `frame..` (up to the next segment's) of every
/// file hold what the harness fed from input position `input` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectSegment {
    /// The segment's first file frame (take.json `segments[i].frame`, a cue point there).
    pub frame: u64,
    /// The harness's input position at that frame (see [`Segment::input`]).
    pub input: i64,
    /// take.json's `timeline` for it: `"host"` (then its `start_sample` must be `input`, the
    /// song position) or `"free"` (StemTap's own clock: its `start_sample` is not ours).
    pub timeline: &'static str,
}

impl ExpectSegment {
    /// A segment played on the host's timeline from song position `pos`.
    pub fn host(frame: u64, pos: i64) -> Self {
        ExpectSegment {
            frame,
            input: pos,
            timeline: "host",
        }
    }

    /// A segment on StemTap's free clock, holding the input fed from `input` on.
    pub fn free(frame: u64, input: i64) -> Self {
        ExpectSegment {
            frame,
            input,
            timeline: "free",
        }
    }
}

/// The segments a take recorded over `tape` (a slice of [`Harness::tape`], from the arm
/// cycle to the one before the disarm) should have, with the take's length: a new segment
/// wherever the input does not continue the previous frame's (a locate, loop wrap, start
/// or stop). Assumes every track was processed in every cycle (no padding).
pub fn segments_from_tape(tape: &[Segment]) -> (Vec<ExpectSegment>, u64) {
    let mut out: Vec<ExpectSegment> = Vec::new();
    let mut frame = 0u64;
    let mut next: Option<(i64, bool)> = None;
    for s in tape {
        if next != Some((s.input, s.transport.playing)) {
            out.push(if s.transport.playing {
                ExpectSegment::host(frame, s.input)
            } else {
                ExpectSegment::free(frame, s.input)
            });
        }
        frame += u64::from(s.frames);
        next = Some((s.input + i64::from(s.frames), s.transport.playing));
    }
    (out, frame)
}

/// What a take should hold.
pub struct Expect<'a> {
    /// In file order, the first at frame 0.
    pub segments: Vec<ExpectSegment>,
    pub length: u64,
    /// Frames at these (track, input position)s are silence (the track was not processed).
    pub silent: &'a dyn Fn(usize, i64) -> bool,
    /// take.json's `ended_by`, when the scenario knows it.
    pub ended_by: Option<&'static str>,
}

impl Expect<'static> {
    /// Every track has audio for the whole take, one segment played on the host's timeline
    /// over `start..end`.
    pub fn exact(start: i64, end: i64) -> Self {
        Self::segments(vec![ExpectSegment::host(0, start)], (end - start) as u64)
    }

    /// Every track has audio for the whole take of `length` frames, cut into `segments`.
    pub fn segments(segments: Vec<ExpectSegment>, length: u64) -> Self {
        Expect {
            segments,
            length,
            silent: &never_silent,
            ended_by: None,
        }
    }
}

impl<'a> Expect<'a> {
    /// The same expectation with silence where `silent` says.
    pub fn with_silence<'b>(self, silent: &'b dyn Fn(usize, i64) -> bool) -> Expect<'b> {
        Expect {
            segments: self.segments,
            length: self.length,
            silent,
            ended_by: self.ended_by,
        }
    }

    pub fn ended_by(mut self, reason: &'static str) -> Self {
        self.ended_by = Some(reason);
        self
    }

    /// The input position file frame `frame` should hold.
    pub fn input_at(&self, frame: u64) -> i64 {
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|s| s.frame <= frame)
            .unwrap_or(&self.segments[0]);
        seg.input + (frame as i64 - seg.frame as i64)
    }
}

/// take.json's `segments`, as (frame, timeline, start_sample).
pub fn manifest_segments(take: &Take) -> Result<Vec<(u64, String, i64)>> {
    let name = take.folder_name();
    let segs = take.manifest["segments"]
        .as_array()
        .with_context(|| format!("{name}: no segments array: {}", take.manifest))?;
    segs.iter()
        .map(|s| {
            Ok((
                s["frame"].as_u64().context("segment frame")?,
                s["timeline"]
                    .as_str()
                    .context("segment timeline")?
                    .to_owned(),
                s["start_sample"].as_i64().context("segment start_sample")?,
            ))
        })
        .collect::<Result<_>>()
        .with_context(|| format!("{name}: malformed segments {}", take.manifest["segments"]))
}

/// The cue points of a WAV file as frames, read by an independent reader (`bwavfile`, not
/// our parser). Fails if the cue's position and sample offset disagree.
pub fn cue_frames(path: &Path) -> Result<Vec<u64>> {
    let mut reader = bwavfile::WaveReader::open(path)
        .map_err(|e| anyhow::anyhow!("bwavfile cannot open {}: {e:?}", path.display()))?;
    let cues = reader
        .cue_points()
        .map_err(|e| anyhow::anyhow!("bwavfile cannot read cues of {}: {e:?}", path.display()))?;
    cues.iter()
        .map(|c| {
            ensure!(
                c.frame == c.offset,
                "{}: cue {:?} has position {} but sample offset {}",
                path.display(),
                c.label,
                c.frame,
                c.offset
            );
            Ok(u64::from(c.frame))
        })
        .collect()
}

/// Frames of a WAV file according to `bwavfile`.
pub fn bwav_frames(path: &Path) -> Result<u64> {
    let mut reader = bwavfile::WaveReader::open(path)
        .map_err(|e| anyhow::anyhow!("bwavfile cannot open {}: {e:?}", path.display()))?;
    reader
        .frame_length()
        .map_err(|e| anyhow::anyhow!("bwavfile: length of {}: {e:?}", path.display()))
}

/// Checks a take against the specs: one file per track named after it, identical lengths,
/// the manifest's numbers and segments, a cue point at every segment boundary in every file
/// (read with `bwavfile`), and every sample bit-exact against the input the harness fed at
/// the position its segment says.
pub fn check_take(take: &Take, specs: &[TrackSpec], expect: &Expect) -> Result<()> {
    let name = take.folder_name();
    ensure!(
        expect.segments.first().map(|s| s.frame) == Some(0),
        "bad expectation: the first segment must start at frame 0"
    );
    ensure!(take.complete(), "{name}: not complete");
    ensure!(
        take.sample_rate() == Some(u64::from(RATE)),
        "{name}: sample_rate {:?}",
        take.manifest["sample_rate"]
    );
    let segs = manifest_segments(take)?;
    let got: Vec<(u64, &str)> = segs.iter().map(|(f, t, _)| (*f, t.as_str())).collect();
    let want: Vec<(u64, &str)> = expect
        .segments
        .iter()
        .map(|s| (s.frame, s.timeline))
        .collect();
    ensure!(
        got == want,
        "{name}: segments (frame, timeline) {got:?}, expected {want:?}; take.json: {}",
        take.manifest["segments"]
    );
    for (s, (frame, _, start)) in expect.segments.iter().zip(&segs) {
        ensure!(
            s.timeline != "host" || *start == s.input,
            "{name}: host segment at frame {frame} starts at song position {start}, expected {}",
            s.input
        );
    }
    ensure!(
        take.start_sample() == Some(segs[0].2) && take.timeline() == Some(segs[0].1.as_str()),
        "{name}: start_sample {:?} / timeline {:?} differ from the first segment's {:?}",
        take.manifest["start_sample"],
        take.manifest["timeline"],
        segs[0]
    );
    ensure!(
        take.length_frames() == Some(expect.length),
        "{name}: length_frames {:?}, expected {}",
        take.manifest["length_frames"],
        expect.length
    );
    if let Some(reason) = expect.ended_by {
        ensure!(
            take.manifest["ended_by"].as_str() == Some(reason),
            "{name}: ended_by {}, expected {reason:?}",
            take.manifest["ended_by"]
        );
    }
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
    let cues_wanted: Vec<u64> = expect.segments[1..].iter().map(|s| s.frame).collect();
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
        let path = take.dir.join(&f.path);
        let bwav_len = bwav_frames(&path)?;
        ensure!(
            bwav_len == expect.length,
            "{}: bwavfile reads {bwav_len} frames, expected {}",
            f.path,
            expect.length
        );
        let cues = cue_frames(&path)?;
        ensure!(
            cues == cues_wanted,
            "{}: cue points at {cues:?}, expected one per segment after the first at {cues_wanted:?}",
            f.path
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
            .filter(|k| {
                let pos = expect.input_at(*k as u64);
                !(0..specs.len()).any(|tt| (expect.silent)(tt, pos))
            })
            .collect();
        ensure!(
            !idx.is_empty() || expect.length < IMPULSE_PERIOD as u64 * 2,
            "{}: no impulse found",
            f.path
        );
        for k in &idx {
            let pos = expect.input_at(*k as u64);
            ensure!(
                pos.rem_euclid(IMPULSE_PERIOD) == 0,
                "{}: impulse at index {k} = input position {pos} is not on the impulse grid",
                f.path,
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
            let pos = expect.input_at(k as u64);
            let want = if (expect.silent)(t, pos) {
                0.0
            } else {
                spec.expected(ch, pos)
            };
            if x.to_bits() != want.to_bits() {
                // Diagnose an offset: where on the timeline does this value come from?
                let found = (-4096i64..=4096)
                    .find(|d| spec.expected(ch, pos + d).to_bits() == x.to_bits())
                    .map(|d| format!("; it is the input at {} (offset {d:+})", pos + d))
                    .unwrap_or_default();
                bail!(
                    "{path}: ch {ch} frame {k} (input position {pos}) is {x}, expected {want}{found}"
                );
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
