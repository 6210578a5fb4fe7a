//! One VST3 plugin instance: lifecycle, parameters, state and `process()`.

use super::context::process_context;
use super::module::Vst3Module;
use super::objects::{
    read_string128, ComponentHandler, HostApplication, MemoryStream, ParameterChanges,
};
use crate::Transport;
use anyhow::{bail, ensure, Context, Result};
use std::marker::PhantomData;
use vst3::Steinberg::Vst::BusDirections_::{kInput, kOutput};
use vst3::Steinberg::Vst::MediaTypes_::{kAudio, kEvent};
use vst3::Steinberg::Vst::ProcessModes_::{kOffline, kRealtime};
use vst3::Steinberg::Vst::SymbolicSampleSizes_::kSample32;
use vst3::Steinberg::Vst::{
    AudioBusBuffers, AudioBusBuffers__type0, IAudioProcessor, IAudioProcessorTrait, IComponent,
    IComponentHandler, IComponentTrait, IEditController, IEditControllerTrait, IParameterChanges,
    ParamID, ParameterInfo, ProcessData, ProcessSetup, SpeakerArr, SpeakerArrangement,
};
use vst3::Steinberg::{kResultOk, FUnknown, IBStream, IPluginBaseTrait, TUID};
use vst3::{ComPtr, ComWrapper};

/// How the host will call `process()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessConfig {
    pub sample_rate: f64,
    pub max_block: u32,
    /// Channels of the main input and output bus (1 or 2).
    pub channels: u32,
    /// `kOffline` instead of `kRealtime`.
    pub offline: bool,
}

impl ProcessConfig {
    /// Realtime, stereo.
    pub fn realtime(sample_rate: f64, max_block: u32) -> Self {
        ProcessConfig {
            sample_rate,
            max_block,
            channels: 2,
            offline: false,
        }
    }

    fn mode(&self) -> i32 {
        (if self.offline { kOffline } else { kRealtime }) as i32
    }
}

/// One parameter as `IEditController::getParameterInfo` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    pub id: ParamID,
    pub title: String,
    pub short_title: String,
    pub units: String,
    pub step_count: i32,
    pub default_normalized: f64,
    pub flags: i32,
}

/// Bus counts per media type and direction (`IComponent::getBusCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BusCounts {
    pub audio_in: i32,
    pub audio_out: i32,
    pub event_in: i32,
    pub event_out: i32,
}

/// A single-component VST3 plugin instance (component, processor and controller are one
/// object). It borrows its module so it is always released before `ModuleExit`.
///
/// Lifecycle: [`Vst3Instance::new`] (created, initialised) → [`Vst3Instance::start`] (buses,
/// setup, active, processing) → [`Vst3Instance::process`]... → [`Vst3Instance::stop`] →
/// drop (terminate, release). Dropping at any point unwinds the steps taken.
pub struct Vst3Instance<'m> {
    component: ComPtr<IComponent>,
    processor: ComPtr<IAudioProcessor>,
    controller: ComPtr<IEditController>,
    handler: ComWrapper<ComponentHandler>,
    /// Kept alive for as long as the plugin may hold the context it got in `initialize`.
    _host: ComWrapper<HostApplication>,
    in_changes: ComWrapper<ParameterChanges>,
    out_changes: ComWrapper<ParameterChanges>,
    config: Option<ProcessConfig>,
    active: bool,
    processing: bool,
    in_bufs: Vec<Vec<f32>>,
    out_bufs: Vec<Vec<f32>>,
    continuous_samples: i64,
    _module: PhantomData<&'m Vst3Module>,
}

impl<'m> Vst3Instance<'m> {
    /// Creates class `cid` and initialises it with our host context and component handler.
    pub fn new(module: &'m Vst3Module, cid: &[u8; 16]) -> Result<Self> {
        let component: ComPtr<IComponent> = module.create_instance(cid)?;
        let host = HostApplication::new("StemTap headless VST3 host");
        let context = host
            .as_com_ref::<FUnknown>()
            .expect("IHostApplication derives from FUnknown");
        // SAFETY: `context` points to a live COM object we keep alive in `_host`.
        let r = unsafe { component.initialize(context.as_ptr()) };
        ensure!(r == kResultOk, "IComponent::initialize returned {r}");

        let mut controller_cid: TUID = [0; 16];
        // SAFETY: `controller_cid` is a writable 16-byte TUID.
        let r = unsafe { component.getControllerClassId(&mut controller_cid) };
        let controller_cid = controller_cid.map(|b| b as u8);
        if r == kResultOk && controller_cid != [0; 16] && controller_cid != *cid {
            // SAFETY: balanced with the successful initialize above.
            unsafe { component.terminate() };
            bail!("the plugin has a separate edit controller class; not supported");
        }
        let (Some(processor), Some(controller)) = (
            component.cast::<IAudioProcessor>(),
            component.cast::<IEditController>(),
        ) else {
            // SAFETY: balanced with the successful initialize above.
            unsafe { component.terminate() };
            bail!("the component is not also an IAudioProcessor and an IEditController");
        };
        let handler = ComponentHandler::new();
        let h = handler
            .as_com_ref::<IComponentHandler>()
            .expect("ComponentHandler implements IComponentHandler");
        // SAFETY: `h` points to a live COM object; the plugin adds its own reference if it
        // keeps it, and `handler` keeps ours until drop.
        unsafe { controller.setComponentHandler(h.as_ptr()) };
        Ok(Vst3Instance {
            component,
            processor,
            controller,
            handler,
            _host: host,
            in_changes: ParameterChanges::new(),
            out_changes: ParameterChanges::new(),
            config: None,
            active: false,
            processing: false,
            in_bufs: Vec::new(),
            out_bufs: Vec::new(),
            continuous_samples: 0,
            _module: PhantomData,
        })
    }

    /// What the plugin told us through `IComponentHandler`.
    pub fn handler(&self) -> &ComponentHandler {
        &self.handler
    }

    /// Parameter changes the plugin reported from the last `process()` call.
    pub fn output_changes(&self) -> Vec<(ParamID, Vec<(i32, f64)>)> {
        self.out_changes.snapshot()
    }

    pub fn bus_counts(&self) -> BusCounts {
        let count = |media: u32, dir: u32| {
            // SAFETY: a plain call on a live component.
            unsafe { self.component.getBusCount(media as i32, dir as i32) }
        };
        BusCounts {
            audio_in: count(kAudio, kInput),
            audio_out: count(kAudio, kOutput),
            event_in: count(kEvent, kInput),
            event_out: count(kEvent, kOutput),
        }
    }

    /// Every parameter (`getParameterCount` / `getParameterInfo`).
    pub fn params(&self) -> Result<Vec<ParamInfo>> {
        // SAFETY: a plain call on a live controller.
        let n = unsafe { self.controller.getParameterCount() };
        let mut out = Vec::with_capacity(n.max(0) as usize);
        for i in 0..n {
            // SAFETY: ParameterInfo is plain C data (integers, floats, UTF-16 arrays); all
            // zeroes is a valid value.
            let mut info: ParameterInfo = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid, writable ParameterInfo for the duration of the call.
            let r = unsafe { self.controller.getParameterInfo(i, &mut info) };
            ensure!(r == kResultOk, "getParameterInfo({i}) returned {r}");
            out.push(ParamInfo {
                id: info.id,
                title: read_string128(&info.title),
                short_title: read_string128(&info.shortTitle),
                units: read_string128(&info.units),
                step_count: info.stepCount,
                default_normalized: info.defaultNormalizedValue,
                flags: info.flags,
            });
        }
        Ok(out)
    }

    /// The parameter whose title is exactly `title`.
    pub fn find_param(&self, title: &str) -> Result<ParamInfo> {
        let params = self.params()?;
        params
            .iter()
            .find(|p| p.title == title)
            .cloned()
            .with_context(|| {
                let titles: Vec<_> = params.iter().map(|p| p.title.as_str()).collect();
                format!("no parameter titled {title:?}; the plugin has {titles:?}")
            })
    }

    /// `IEditController::getParamNormalized`.
    pub fn param_normalized(&self, id: ParamID) -> f64 {
        // SAFETY: a plain call on a live controller.
        unsafe { self.controller.getParamNormalized(id) }
    }

    /// `IComponent::getState`: the bytes the plugin writes.
    pub fn get_state(&self) -> Result<Vec<u8>> {
        let stream = MemoryStream::new(Vec::new());
        let s = stream
            .as_com_ref::<IBStream>()
            .expect("implements IBStream");
        // SAFETY: `s` points to a live stream object for the duration of the call.
        let r = unsafe { self.component.getState(s.as_ptr()) };
        ensure!(r == kResultOk, "IComponent::getState returned {r}");
        Ok(stream.bytes())
    }

    /// `IComponent::setState`, then `IEditController::setComponentState` with the same bytes
    /// (what a host does when it restores a project).
    pub fn set_state(&mut self, bytes: &[u8]) -> Result<()> {
        let stream = MemoryStream::new(bytes.to_vec());
        let s = stream
            .as_com_ref::<IBStream>()
            .expect("implements IBStream");
        // SAFETY: `s` points to a live stream object for the duration of the call.
        let r = unsafe { self.component.setState(s.as_ptr()) };
        ensure!(r == kResultOk, "IComponent::setState returned {r}");
        let stream = MemoryStream::new(bytes.to_vec());
        let s = stream
            .as_com_ref::<IBStream>()
            .expect("implements IBStream");
        // SAFETY: as above.
        let r = unsafe { self.controller.setComponentState(s.as_ptr()) };
        ensure!(
            r == kResultOk,
            "IEditController::setComponentState returned {r}"
        );
        Ok(())
    }

    /// `IAudioProcessor::getLatencySamples`.
    pub fn latency_samples(&self) -> u32 {
        // SAFETY: a plain call on a live processor.
        unsafe { self.processor.getLatencySamples() }
    }

    pub fn is_processing(&self) -> bool {
        self.processing
    }

    /// Activates the main audio buses, sets their arrangement, sets up processing and turns
    /// the plugin on: `setActive(true)`, `setProcessing(true)`.
    pub fn start(&mut self, config: ProcessConfig) -> Result<()> {
        ensure!(!self.active, "already active");
        let counts = self.bus_counts();
        ensure!(
            counts.audio_in >= 1 && counts.audio_out >= 1,
            "no main audio buses: {counts:?}"
        );
        let arrangement: SpeakerArrangement = match config.channels {
            1 => SpeakerArr::kMono,
            2 => SpeakerArr::kStereo,
            n => bail!("{n} channels: only mono and stereo are supported"),
        };
        // SAFETY: plain calls on a live component.
        unsafe {
            for dir in [kInput, kOutput] {
                let r = self.component.activateBus(kAudio as i32, dir as i32, 0, 1);
                ensure!(r == kResultOk, "activateBus(audio, {dir}, 0) returned {r}");
            }
        }
        let mut ins = [arrangement];
        let mut outs = [arrangement];
        // SAFETY: both arrays hold one arrangement each, matching the counts passed.
        let r = unsafe {
            self.processor
                .setBusArrangements(ins.as_mut_ptr(), 1, outs.as_mut_ptr(), 1)
        };
        ensure!(
            r == kResultOk,
            "setBusArrangements({arrangement:#x}) returned {r}"
        );
        let mut got: SpeakerArrangement = 0;
        // SAFETY: `got` is a writable SpeakerArrangement.
        let r = unsafe { self.processor.getBusArrangement(kInput as i32, 0, &mut got) };
        ensure!(
            r == kResultOk && got == arrangement,
            "getBusArrangement(input 0) returned {r}, {got:#x}; expected {arrangement:#x}"
        );
        // SAFETY: a plain call on a live processor.
        let r = unsafe { self.processor.canProcessSampleSize(kSample32 as i32) };
        ensure!(r == kResultOk, "canProcessSampleSize(32) returned {r}");
        let mut setup = ProcessSetup {
            processMode: config.mode(),
            symbolicSampleSize: kSample32 as i32,
            maxSamplesPerBlock: config.max_block as i32,
            sampleRate: config.sample_rate,
        };
        // SAFETY: `setup` is a valid ProcessSetup for the duration of the call.
        let r = unsafe { self.processor.setupProcessing(&mut setup) };
        ensure!(r == kResultOk, "setupProcessing returned {r}");
        // SAFETY: a plain call on a live component.
        let r = unsafe { self.component.setActive(1) };
        ensure!(r == kResultOk, "setActive(true) returned {r}");
        self.active = true;
        // SAFETY: a plain call on a live processor, after setActive(true).
        let r = unsafe { self.processor.setProcessing(1) };
        ensure!(r == kResultOk, "setProcessing(true) returned {r}");
        self.processing = true;
        let n = config.max_block as usize;
        self.in_bufs = vec![vec![0.0; n]; config.channels as usize];
        self.out_bufs = vec![vec![0.0; n]; config.channels as usize];
        self.config = Some(config);
        Ok(())
    }

    /// Processes one block. `inputs` has one slice per channel, all of the block's length;
    /// `outputs` likewise. `transport` (if any) describes the block's first sample and goes
    /// to the plugin as its `ProcessContext`; `params` are (id, normalised value) changes
    /// at the block's first sample, one `IParamValueQueue` per parameter.
    pub fn process(
        &mut self,
        inputs: &[&[f32]],
        outputs: &mut [&mut [f32]],
        transport: Option<&Transport>,
        params: &[(ParamID, f64)],
    ) -> Result<()> {
        let config = self.config.context("process() before start()")?;
        ensure!(self.processing, "process() while not processing");
        let channels = config.channels as usize;
        ensure!(
            inputs.len() == channels && outputs.len() == channels,
            "{} inputs and {} outputs given, the buses have {channels} channels",
            inputs.len(),
            outputs.len()
        );
        let frames = inputs[0].len();
        ensure!(
            (1..=config.max_block as usize).contains(&frames)
                && inputs.iter().all(|c| c.len() == frames)
                && outputs.iter().all(|c| c.len() == frames),
            "every channel must hold the same 1..={} frames",
            config.max_block
        );
        for (buf, input) in self.in_bufs.iter_mut().zip(inputs) {
            buf[..frames].copy_from_slice(input);
        }
        for buf in &mut self.out_bufs {
            buf[..frames].fill(0.0);
        }
        self.in_changes.clear();
        for &(id, value) in params {
            ensure!(
                self.in_changes.set(id, 0, value),
                "too many parameter changes in one block"
            );
        }
        self.out_changes.clear();
        let mut context =
            transport.map(|t| process_context(t, config.sample_rate, self.continuous_samples));

        let mut in_ptrs: Vec<*mut f32> = self.in_bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
        let mut out_ptrs: Vec<*mut f32> =
            self.out_bufs.iter_mut().map(|b| b.as_mut_ptr()).collect();
        let mut in_bus = AudioBusBuffers {
            numChannels: channels as i32,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 {
                channelBuffers32: in_ptrs.as_mut_ptr(),
            },
        };
        let mut out_bus = AudioBusBuffers {
            numChannels: channels as i32,
            silenceFlags: 0,
            __field0: AudioBusBuffers__type0 {
                channelBuffers32: out_ptrs.as_mut_ptr(),
            },
        };
        let in_changes = self
            .in_changes
            .as_com_ref::<IParameterChanges>()
            .expect("implements IParameterChanges");
        let out_changes = self
            .out_changes
            .as_com_ref::<IParameterChanges>()
            .expect("implements IParameterChanges");
        let mut data = ProcessData {
            processMode: config.mode(),
            symbolicSampleSize: kSample32 as i32,
            numSamples: frames as i32,
            numInputs: 1,
            numOutputs: 1,
            inputs: &mut in_bus,
            outputs: &mut out_bus,
            inputParameterChanges: in_changes.as_ptr(),
            outputParameterChanges: out_changes.as_ptr(),
            inputEvents: std::ptr::null_mut(),
            outputEvents: std::ptr::null_mut(),
            processContext: context
                .as_mut()
                .map_or(std::ptr::null_mut(), |c| c as *mut _),
        };
        // SAFETY: every pointer in `data` points to memory that lives until the call returns:
        // the bus structs and channel-pointer arrays are locals, each channel buffer holds
        // `max_block` >= `frames` samples, the parameter-change objects are owned by `self`,
        // and the context is a local. Nothing else touches them during the call.
        let r = unsafe { self.processor.process(&mut data) };
        ensure!(r == kResultOk, "process() returned {r}");
        self.continuous_samples += frames as i64;
        for (out, buf) in outputs.iter_mut().zip(&self.out_bufs) {
            out.copy_from_slice(&buf[..frames]);
        }
        Ok(())
    }

    /// `setProcessing(false)`, `setActive(false)`. Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        let mut result = Ok(());
        if self.processing {
            self.processing = false;
            // SAFETY: a plain call on a live processor that is processing.
            let r = unsafe { self.processor.setProcessing(0) };
            if r != kResultOk {
                result = Err(anyhow::anyhow!("setProcessing(false) returned {r}"));
            }
        }
        if self.active {
            self.active = false;
            // SAFETY: a plain call on a live, active component.
            let r = unsafe { self.component.setActive(0) };
            if r != kResultOk && result.is_ok() {
                result = Err(anyhow::anyhow!("setActive(false) returned {r}"));
            }
        }
        self.config = None;
        result
    }
}

impl Drop for Vst3Instance<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("stemtap-host vst3: stopping instance: {e:#}");
        }
        // SAFETY: plain calls on a live controller/component, each once, after it stopped.
        unsafe {
            self.controller.setComponentHandler(std::ptr::null_mut());
            self.component.terminate();
        }
        // The ComPtr fields release our references when they drop, after this.
    }
}
