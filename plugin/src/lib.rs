//! StemTap: a plugin for every bus and track of a DAW that records all of them, sample
//! aligned, into one take folder.
//!
//! This file is the nice-plug glue only. The recorder itself is [`engine`] (no plugin
//! framework in it); the GUI is [`editor`].

pub mod editor;
/// The recorder (its own crate, with no plugin framework in it), under the name the glue and
/// the editor use.
pub use stemtap_engine as engine;
pub mod params;

use engine::{Capture, Session, StreamHandle, StreamSettings, TransportInfo};
use nice_plug::prelude::*;
use params::StemTapParams;
use parking_lot::RwLock;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The CLAP id; part of the public contract.
pub const CLAP_ID: &str = "audio.stemtap.recorder";

pub struct StemTap {
    params: Arc<StemTapParams>,
    /// This instance's membership in the process-wide session; shared with the editor, which
    /// forwards the host's track name and shows the session.
    stream: Arc<StreamHandle>,
    /// The audio thread's end of this instance's rings; replaced in `activate()`.
    capture: Option<Capture>,
    /// Last value of the `record` parameter seen in `process()`; a change arms or disarms
    /// the session.
    last_record: bool,
    /// `params.state_loads` when `last_record` was taken: a state load since then means a
    /// new `record` value came from the project, not from the user.
    seen_state_loads: u32,
    /// Offline bounce: waiting for the writer is allowed instead of dropping.
    offline: bool,
    /// The session's background checks and packs: held by the instances, not the windows,
    /// so closing a window never waits for them (the last instance to go does).
    _delivery: Arc<editor::delivery::DeliveryJobs>,
}

impl Default for StemTap {
    fn default() -> Self {
        let session = Session::global();
        let stream_settings = Arc::new(RwLock::new(StreamSettings::default()));
        let params = Arc::new(StemTapParams::new(stream_settings.clone(), session.clone()));
        let stream = Arc::new(session.register(stream_settings));
        let delivery = editor::delivery::DeliveryJobs::for_session(&session);
        Self {
            _delivery: delivery,
            params,
            stream,
            capture: None,
            last_record: false,
            seen_state_loads: 0,
            offline: false,
        }
    }
}

impl Plugin for StemTap {
    const NAME: &'static str = "StemTap";
    const VENDOR: &'static str = "StemTap";
    const URL: &'static str = "https://stemtap.audio";
    const EMAIL: &'static str = "support@stemtap.audio";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    const AUDIO_IO_LAYOUTS: &'static [AudioIOLayout] = &[
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(2),
            main_output_channels: NonZeroU32::new(2),
            ..AudioIOLayout::const_default()
        },
        AudioIOLayout {
            main_input_channels: NonZeroU32::new(1),
            main_output_channels: NonZeroU32::new(1),
            ..AudioIOLayout::const_default()
        },
    ];

    const SAMPLE_ACCURATE_AUTOMATION: bool = false;

    type SysExMessage = ();
    type BackgroundTask = ();
    type Editor = editor::StemTapEditor;

    fn params(&self) -> Arc<dyn Params> {
        self.params.clone()
    }

    fn editor(&mut self, _async_executor: AsyncExecutor<Self>) -> Option<Self::Editor> {
        editor::create(self.params.clone(), self.stream.clone())
    }

    fn activate(
        &mut self,
        audio_io_layout: &AudioIOLayout,
        buffer_config: &BufferConfig,
        _context: &mut impl ActivateContext<Self>,
    ) -> bool {
        let channels = audio_io_layout
            .main_input_channels
            .map_or(2, NonZeroU32::get) as u16;
        // Drop the old rings first: the writer drains them before it reads the new ones.
        self.capture = None;
        self.capture = Some(self.stream.attach(
            buffer_config.sample_rate.round() as u32,
            channels,
            buffer_config.max_buffer_size,
        ));
        self.offline = buffer_config.process_mode == ProcessMode::Offline;
        // Restoring a project saved while armed must not start recording by itself.
        self.last_record = self.params.record.value();
        self.seen_state_loads = self.params.state_loads.load(Ordering::Acquire);
        true
    }

    fn deactivate(&mut self) {
        self.capture = None;
    }

    fn process(
        &mut self,
        buffer: &mut Buffer,
        _aux: &mut AuxiliaryBuffers,
        context: &mut impl ProcessContext<Self>,
    ) -> ProcessStatus {
        let record = self.params.record.value();
        let state_loads = self.params.state_loads.load(Ordering::Acquire);
        if state_loads != self.seen_state_loads {
            // A state was loaded while active (undo, preset): adopt its value, do not act on it.
            self.seen_state_loads = state_loads;
            self.last_record = record;
        }
        if record != self.last_record {
            self.last_record = record;
            self.stream.session().set_armed(record);
        }
        self.stream
            .stats()
            .excluded
            .store(!self.params.enabled.value(), Ordering::Relaxed);
        let t = context.transport();
        let transport = TransportInfo {
            playing: t.playing,
            recording: t.recording,
            pos_samples: t.pos_samples(),
            tempo: t.tempo,
            pos_beats: t.pos_beats(),
            time_sig: t.time_sig_numerator.zip(t.time_sig_denominator),
        };
        let frames = buffer.samples();
        if let Some(capture) = self.capture.as_mut() {
            capture.capture(
                buffer.as_slice_immutable(),
                frames,
                &transport,
                self.offline,
            );
        }
        // Audio passes through untouched (nice-plug already copied input to output).
        // Never let the host put us to sleep: a silent track is still part of the take.
        ProcessStatus::KeepAlive
    }
}

impl ClapPlugin for StemTap {
    const CLAP_ID: &'static str = CLAP_ID;
    const CLAP_DESCRIPTION: Option<&'static str> =
        Some("Records every bus or track it is on, sample aligned, into one take folder");
    const CLAP_MANUAL_URL: Option<&'static str> = None;
    const CLAP_SUPPORT_URL: Option<&'static str> = None;
    const CLAP_FEATURES: &'static [ClapFeature] = &[
        ClapFeature::AudioEffect,
        ClapFeature::Utility,
        ClapFeature::Analyzer,
        ClapFeature::Stereo,
        ClapFeature::Mono,
    ];
}

impl Vst3Plugin for StemTap {
    /// Fixed forever: hosts identify saved instances by it.
    const VST3_CLASS_ID: [u8; 16] = *b"StemTapRecorder1";
    const VST3_SUBCATEGORIES: &'static [Vst3SubCategory] = &[
        Vst3SubCategory::Fx,
        Vst3SubCategory::Tools,
        Vst3SubCategory::Analyzer,
    ];
}

nice_export_clap!(StemTap);
nice_export_vst3!(StemTap);
