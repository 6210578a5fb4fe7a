//! Many instances played together like a DAW plays its tracks: each instance's processor
//! lives on its own audio thread; the main thread runs one cycle at a time (every track
//! processes its block(s) in parallel, the cycle ends when all are done), then services
//! main-thread callbacks. Optionally paced to a multiple of real time.

use crate::handlers::mark_audio_thread;
use crate::instance::Instance;
use crate::processor::{AudioConfig, ParamChange, Processor, Transport};
use anyhow::{anyhow, bail, ensure, Context, Result};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One `process()` call inside a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct SubBlock {
    pub frames: u32,
    /// Transport at the sub-block's first sample; `None` sends no transport.
    pub transport: Option<Transport>,
    pub params: Vec<ParamChange>,
}

/// What one track does in a cycle: its input audio (one vector per channel, the cycle's
/// length) and how the cycle is cut into `process()` calls. No sub-blocks: not processed.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackBlock {
    pub inputs: Vec<Vec<f32>>,
    pub subs: Vec<SubBlock>,
}

impl TrackBlock {
    /// One `process()` call for the whole block.
    pub fn whole(
        inputs: Vec<Vec<f32>>,
        transport: Option<Transport>,
        params: Vec<ParamChange>,
    ) -> Self {
        let frames = inputs.first().map_or(0, Vec::len) as u32;
        TrackBlock {
            inputs,
            subs: vec![SubBlock {
                frames,
                transport,
                params,
            }],
        }
    }

    /// The block cut into calls of `sizes` frames; the transport advances across them and
    /// `params` go with the first.
    pub fn split(
        inputs: Vec<Vec<f32>>,
        transport: Option<Transport>,
        params: Vec<ParamChange>,
        sizes: &[u32],
    ) -> Self {
        let mut subs = Vec::new();
        let mut t = transport;
        let mut params = Some(params);
        for &n in sizes {
            subs.push(SubBlock {
                frames: n,
                transport: t,
                params: params.take().unwrap_or_default(),
            });
            t = t.map(|t| t.advanced(n));
        }
        TrackBlock { inputs, subs }
    }

    /// The instance is not processed this cycle (a host suspending it).
    pub fn skip() -> Self {
        TrackBlock {
            inputs: Vec::new(),
            subs: Vec::new(),
        }
    }

    fn frames(&self) -> u32 {
        self.subs.iter().map(|s| s.frames).sum()
    }
}

type Reply = Result<Option<Vec<Vec<f32>>>>;

struct Worker {
    jobs: mpsc::Sender<TrackBlock>,
    replies: mpsc::Receiver<Reply>,
    thread: JoinHandle<Processor>,
}

struct RackTrack {
    instance: Instance,
    worker: Option<Worker>,
}

/// A set of instances processed in lock-step cycles, each on its own audio thread.
pub struct Rack {
    config: AudioConfig,
    tracks: Vec<RackTrack>,
    speed: Option<f64>,
    clock: Option<(Instant, u64)>,
}

impl Rack {
    pub fn new(config: AudioConfig) -> Self {
        Rack {
            config,
            tracks: Vec::new(),
            speed: None,
            clock: None,
        }
    }

    /// Limits processing to `speed` times real time (None: as fast as possible). A plugin in
    /// realtime mode may drop audio when fed much faster than its disk writer drains it, as
    /// it would if a real DAW did that; tests keep this modest.
    pub fn set_speed(&mut self, speed: Option<f64>) {
        self.speed = speed;
    }

    pub fn config(&self) -> AudioConfig {
        self.config
    }

    /// Adds an (inactive) instance; returns its index.
    pub fn add(&mut self, instance: Instance) -> usize {
        self.tracks.push(RackTrack {
            instance,
            worker: None,
        });
        self.tracks.len() - 1
    }

    pub fn len(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    pub fn instance(&self, i: usize) -> &Instance {
        &self.tracks[i].instance
    }

    /// The instance on the main thread (state, params, track info). Works while running.
    pub fn instance_mut(&mut self, i: usize) -> &mut Instance {
        &mut self.tracks[i].instance
    }

    pub fn instances_mut(&mut self) -> impl Iterator<Item = &mut Instance> {
        self.tracks.iter_mut().map(|t| &mut t.instance)
    }

    pub fn is_running(&self) -> bool {
        self.tracks.iter().any(|t| t.worker.is_some())
    }

    /// Activates every instance and starts one audio thread per instance, which calls
    /// `start_processing` there.
    pub fn start(&mut self) -> Result<()> {
        ensure!(!self.is_running(), "rack already running");
        for (i, track) in self.tracks.iter_mut().enumerate() {
            let mut processor = track
                .instance
                .activate(self.config)
                .with_context(|| format!("activating {}", track.instance.label()))?;
            let (jobs, job_rx) = mpsc::channel::<TrackBlock>();
            let (reply_tx, replies) = mpsc::channel::<Reply>();
            let name = format!("audio {i} {}", track.instance.label());
            let thread = std::thread::Builder::new()
                .name(name)
                .spawn(move || {
                    mark_audio_thread(true);
                    let started = processor.start_processing();
                    let _ = reply_tx.send(started.map(|_| None));
                    for job in job_rx {
                        let reply = run_job(&mut processor, job);
                        if reply_tx.send(reply).is_err() {
                            break;
                        }
                    }
                    processor.stop_processing();
                    processor
                })
                .context("spawning audio thread")?;
            let worker = Worker {
                jobs,
                replies,
                thread,
            };
            worker
                .replies
                .recv()
                .map_err(|_| anyhow!("audio thread died"))??;
            track.worker = Some(worker);
        }
        self.clock = None;
        self.poll_main_thread();
        Ok(())
    }

    /// One cycle: `blocks[i]` goes to track `i`. All tracks process in parallel; returns each
    /// track's output (None where skipped). Services main-thread callbacks afterwards.
    pub fn cycle(&mut self, blocks: Vec<TrackBlock>) -> Result<Vec<Option<Vec<Vec<f32>>>>> {
        ensure!(
            blocks.len() == self.tracks.len(),
            "{} blocks for {} tracks",
            blocks.len(),
            self.tracks.len()
        );
        let frames = blocks.iter().map(TrackBlock::frames).max().unwrap_or(0);
        let mut sent = Vec::with_capacity(blocks.len());
        for (track, block) in self.tracks.iter().zip(blocks) {
            let worker = track.worker.as_ref().context("rack not started")?;
            let skip = block.subs.is_empty();
            if !skip {
                worker
                    .jobs
                    .send(block)
                    .map_err(|_| anyhow!("audio thread of {} died", track.instance.label()))?;
            }
            sent.push(!skip);
        }
        let mut outputs = Vec::with_capacity(sent.len());
        let mut first_err = None;
        for (track, sent) in self.tracks.iter().zip(sent) {
            if !sent {
                outputs.push(None);
                continue;
            }
            let worker = track.worker.as_ref().expect("checked above");
            match worker.replies.recv() {
                Ok(Ok(out)) => outputs.push(out),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e.context(track.instance.label().to_owned()));
                    outputs.push(None);
                }
                Err(_) => {
                    first_err
                        .get_or_insert(anyhow!("audio thread of {} died", track.instance.label()));
                    outputs.push(None);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        self.poll_main_thread();
        self.pace(frames);
        Ok(outputs)
    }

    fn pace(&mut self, frames: u32) {
        let Some(speed) = self.speed else { return };
        let (start, done) = self.clock.get_or_insert_with(|| (Instant::now(), 0));
        *done += u64::from(frames);
        let due = Duration::from_secs_f64(*done as f64 / self.config.sample_rate / speed);
        let elapsed = start.elapsed();
        if due > elapsed {
            std::thread::sleep(due - elapsed);
        }
    }

    /// Runs pending `on_main_thread` callbacks of every instance.
    pub fn poll_main_thread(&mut self) {
        for t in &mut self.tracks {
            t.instance.poll_main_thread();
        }
    }

    /// Stops the audio threads (`stop_processing` on each), then deactivates every instance.
    pub fn stop(&mut self) -> Result<()> {
        let mut first_err = None;
        for track in &mut self.tracks {
            let Some(worker) = track.worker.take() else {
                continue;
            };
            drop(worker.jobs);
            match worker.thread.join() {
                Ok(processor) => {
                    if let Err(e) = track.instance.deactivate(processor) {
                        first_err.get_or_insert(e);
                    }
                }
                Err(_) => {
                    first_err.get_or_insert(anyhow!(
                        "audio thread of {} panicked",
                        track.instance.label()
                    ));
                }
            }
        }
        self.poll_main_thread();
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Stops if running and hands back the instances.
    pub fn into_instances(mut self) -> Result<Vec<Instance>> {
        self.stop()?;
        Ok(std::mem::take(&mut self.tracks)
            .into_iter()
            .map(|t| t.instance)
            .collect())
    }
}

impl Drop for Rack {
    fn drop(&mut self) {
        if self.is_running() {
            if let Err(e) = self.stop() {
                eprintln!("stemtap-host: stopping rack: {e:#}");
            }
        }
    }
}

fn run_job(processor: &mut Processor, job: TrackBlock) -> Reply {
    let channels = processor.channels();
    if job.inputs.len() != channels {
        bail!(
            "{} input channels given, the plugin has {channels}",
            job.inputs.len()
        );
    }
    let total = job.frames() as usize;
    if job.inputs.iter().any(|c| c.len() != total) {
        bail!("input length differs from the sub-blocks' total {total}");
    }
    let mut outputs = vec![vec![0.0f32; total]; channels];
    let mut offset = 0usize;
    for sub in &job.subs {
        let n = sub.frames as usize;
        let ins: Vec<&[f32]> = job.inputs.iter().map(|c| &c[offset..offset + n]).collect();
        let mut outs: Vec<&mut [f32]> = outputs
            .iter_mut()
            .map(|c| &mut c[offset..offset + n])
            .collect();
        processor.process(&ins, &mut outs, sub.transport.as_ref(), &sub.params)?;
        offset += n;
    }
    Ok(Some(outputs))
}
