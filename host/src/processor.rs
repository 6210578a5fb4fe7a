//! The audio side of one instance: `Send`, so it can live on its own audio thread.

use crate::handlers::{AudioThreadGuard, StemTapHost};
use anyhow::{anyhow, bail, ensure, Result};
use clack_host::events::event_types::{ParamValueEvent, TransportEvent, TransportFlags};
use clack_host::events::EventFlags;
use clack_host::prelude::*;
use clack_host::utils::{BeatTime, SecondsTime};

/// Sample rate and block sizes for `activate`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AudioConfig {
    pub sample_rate: f64,
    pub min_block: u32,
    pub max_block: u32,
}

impl AudioConfig {
    pub fn new(sample_rate: f64, min_block: u32, max_block: u32) -> Self {
        AudioConfig {
            sample_rate,
            min_block,
            max_block,
        }
    }
}

/// What the host's transport looks like at the first sample of a block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transport {
    pub playing: bool,
    pub recording: bool,
    /// Song position of the block's first sample, in samples.
    pub pos_samples: i64,
    /// Tempo in BPM; `None` sends no tempo and no beat timeline.
    pub tempo: Option<f64>,
    /// Time signature (numerator, denominator).
    pub time_signature: Option<(u16, u16)>,
    /// Active loop `[start, end)` in samples.
    pub loop_range: Option<(i64, i64)>,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            playing: false,
            recording: false,
            pos_samples: 0,
            tempo: Some(120.0),
            time_signature: Some((4, 4)),
            loop_range: None,
        }
    }
}

/// Seconds as CLAP fixed point (`CLAP_SECTIME_FACTOR`), rounded to nearest.
pub fn samples_to_sectime(samples: i64, sample_rate: f64) -> SecondsTime {
    let factor = SecondsTime::FACTOR as f64;
    // samples * factor is exact in f64 up to 2^22 samples (~87 s at 48 kHz) and within
    // 1e-16 relative beyond: far below one sample.
    SecondsTime::from_bits((samples as f64 * factor / sample_rate).round() as i64)
}

impl Transport {
    /// A playing transport at `pos_samples`, 120 BPM 4/4.
    pub fn playing_at(pos_samples: i64) -> Self {
        Transport {
            playing: true,
            pos_samples,
            ..Default::default()
        }
    }

    /// A stopped transport at `pos_samples`, 120 BPM 4/4.
    pub fn stopped_at(pos_samples: i64) -> Self {
        Transport {
            playing: false,
            pos_samples,
            ..Default::default()
        }
    }

    /// The transport `frames` samples later: the position moves only while playing.
    pub fn advanced(&self, frames: u32) -> Self {
        let mut t = *self;
        if t.playing {
            t.pos_samples += i64::from(frames);
        }
        t
    }

    /// The CLAP event for this transport.
    pub fn to_event(&self, sample_rate: f64) -> TransportEvent {
        let mut flags = TransportFlags::HAS_SECONDS_TIMELINE;
        if self.playing {
            flags |= TransportFlags::IS_PLAYING;
        }
        if self.recording {
            flags |= TransportFlags::IS_RECORDING;
        }
        if self.loop_range.is_some() {
            flags |= TransportFlags::IS_LOOP_ACTIVE;
        }
        let secs = |s: i64| samples_to_sectime(s, sample_rate);
        let tempo = self.tempo.unwrap_or(0.0);
        let beats_f = |s: i64| s as f64 / sample_rate * tempo / 60.0;
        let beats = |s: i64| BeatTime::from_float(beats_f(s));
        let (mut bar_start, mut bar_number) = (BeatTime::from_int(0), 0);
        let (num, den) = self.time_signature.unwrap_or((0, 0));
        if self.tempo.is_some() {
            flags |= TransportFlags::HAS_TEMPO | TransportFlags::HAS_BEATS_TIMELINE;
            if num > 0 && den > 0 {
                let beats_per_bar = f64::from(num) * 4.0 / f64::from(den);
                let bar = (beats_f(self.pos_samples) / beats_per_bar).floor();
                bar_number = bar as i32;
                bar_start = BeatTime::from_float(bar * beats_per_bar);
            }
        }
        if num > 0 && den > 0 {
            flags |= TransportFlags::HAS_TIME_SIGNATURE;
        }
        let (ls, le) = self.loop_range.unwrap_or((0, 0));
        TransportEvent {
            header: EventHeader::new_core(0, EventFlags::empty()),
            flags,
            song_pos_beats: beats(self.pos_samples),
            song_pos_seconds: secs(self.pos_samples),
            tempo,
            tempo_inc: 0.0,
            loop_start_beats: beats(ls),
            loop_end_beats: beats(le),
            loop_start_seconds: secs(ls),
            loop_end_seconds: secs(le),
            bar_start,
            bar_number,
            time_signature_numerator: num,
            time_signature_denominator: den,
        }
    }
}

/// A parameter change sent with a block, at the block's first sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamChange {
    pub id: u32,
    pub value: f64,
}

/// An activated instance's audio processor. Create with [`crate::Instance::activate`],
/// give back with [`crate::Instance::deactivate`] on the main thread.
pub struct Processor {
    inner: PluginAudioProcessor<StemTapHost>,
    config: AudioConfig,
    channels: usize,
    in_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    in_ports: AudioPorts,
    out_ports: AudioPorts,
    events: EventBuffer,
    out_events: EventBuffer,
    steady_time: u64,
}

impl Processor {
    pub(crate) fn new(
        stopped: StoppedPluginAudioProcessor<StemTapHost>,
        config: AudioConfig,
        channels: usize,
    ) -> Self {
        let n = config.max_block as usize;
        Processor {
            inner: stopped.into(),
            config,
            channels,
            in_bufs: vec![vec![0.0; n]; channels],
            out_bufs: vec![vec![0.0; n]; channels],
            in_ports: AudioPorts::with_capacity(channels, 1),
            out_ports: AudioPorts::with_capacity(channels, 1),
            events: EventBuffer::with_capacity(8),
            out_events: EventBuffer::with_capacity(8),
            steady_time: 0,
        }
    }

    pub fn config(&self) -> AudioConfig {
        self.config
    }

    /// Audio channels per block (main input = main output).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// `start_processing` (no-op when started).
    pub fn start_processing(&mut self) -> Result<()> {
        let _audio = AudioThreadGuard::enter();
        self.inner
            .ensure_processing_started()
            .map(|_| ())
            .map_err(|e| anyhow!("start_processing failed: {e}"))
    }

    /// `stop_processing` (no-op when stopped).
    pub fn stop_processing(&mut self) {
        let _audio = AudioThreadGuard::enter();
        self.inner.ensure_processing_stopped();
    }

    pub fn is_processing(&self) -> bool {
        self.inner.is_started()
    }

    pub(crate) fn into_stopped(mut self) -> StoppedPluginAudioProcessor<StemTapHost> {
        self.stop_processing();
        self.inner.into_stopped()
    }

    /// Processes one block. `inputs` has one slice per channel, all of the block's length
    /// (at most `max_block`); `outputs` likewise, or empty to discard the output. The
    /// transport (if any) describes the block's first sample; parameter changes apply at it.
    /// Starts processing first if needed.
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        transport: Option<&Transport>,
        params: &[ParamChange],
    ) -> Result<ProcessStatus> {
        ensure!(
            inputs.len() == self.channels,
            "{} input channels given, the plugin has {}",
            inputs.len(),
            self.channels
        );
        let frames = inputs.first().map_or(0, |c| c.len());
        ensure!(
            inputs.iter().all(|c| c.len() == frames),
            "input channels differ in length"
        );
        ensure!(
            frames >= 1 && frames <= self.config.max_block as usize,
            "block of {frames} frames outside 1..={}",
            self.config.max_block
        );
        ensure!(
            outputs.is_empty()
                || (outputs.len() == self.channels && outputs.iter().all(|c| c.len() == frames)),
            "outputs must be empty or {} channels of {frames} frames",
            self.channels
        );
        for (buf, input) in self.in_bufs.iter_mut().zip(inputs) {
            buf[..frames].copy_from_slice(input);
        }
        for buf in &mut self.out_bufs {
            buf[..frames].fill(0.0);
        }
        self.events.clear();
        for p in params {
            let id = ClapId::from_raw(p.id).ok_or_else(|| anyhow!("invalid param id"))?;
            self.events
                .push(&ParamValueEvent::new(0, id, Pckn::match_all(), p.value));
        }
        self.out_events.clear();
        let transport_event = transport.map(|t| t.to_event(self.config.sample_rate));

        let _audio = AudioThreadGuard::enter();
        let started = self
            .inner
            .ensure_processing_started()
            .map_err(|e| anyhow!("start_processing failed: {e}"))?;
        let input_audio = self.in_ports.with_input_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_input_only(
                self.in_bufs
                    .iter_mut()
                    .map(|b| InputChannel::variable(&mut b[..frames])),
            ),
        }]);
        let mut output_audio = self.out_ports.with_output_buffers([AudioPortBuffer {
            latency: 0,
            channels: AudioPortBufferType::f32_output_only(
                self.out_bufs.iter_mut().map(|b| &mut b[..frames]),
            ),
        }]);
        let status = started
            .process(
                &input_audio,
                &mut output_audio,
                &self.events.as_input(),
                &mut self.out_events.as_output(),
                Some(self.steady_time),
                transport_event.as_ref(),
            )
            .map_err(|e| anyhow!("process failed: {e}"))?;
        self.steady_time += frames as u64;
        for (out, buf) in outputs.iter_mut().zip(&self.out_bufs) {
            out.copy_from_slice(&buf[..frames]);
        }
        Ok(status)
    }

    /// Like [`Processor::process`] with owned per-channel vectors; returns the outputs.
    pub fn process_vecs(
        &mut self,
        inputs: &[Vec<f32>],
        transport: Option<&Transport>,
        params: &[ParamChange],
    ) -> Result<Vec<Vec<f32>>> {
        let frames = inputs.first().map_or(0, Vec::len);
        let ins: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
        let mut outs = vec![vec![0.0f32; frames]; self.channels];
        {
            let mut out_refs: Vec<&mut [f32]> = outs.iter_mut().map(Vec::as_mut_slice).collect();
            self.process(&ins, &mut out_refs, transport, params)?;
        }
        if inputs.len() != self.channels {
            bail!("channel count mismatch");
        }
        Ok(outs)
    }
}
