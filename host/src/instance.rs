//! One plugin instance on the main thread: creation, track info, parameters, state,
//! audio-port configuration, activation and main-thread callbacks.

use crate::handlers::{HostMain, HostShared, LogEntry, LogSink, StemTapHost};
use crate::library::PluginLibrary;
use crate::processor::{AudioConfig, Processor};
use crate::state::PluginStateJson;
use anyhow::{anyhow, bail, Context, Result};
use clack_extensions::audio_ports::{AudioPortInfoBuffer, PluginAudioPorts};
use clack_extensions::audio_ports_config::{AudioPortsConfigBuffer, PluginAudioPortsConfig};
use clack_extensions::params::{ParamInfoBuffer, PluginParams};
use clack_extensions::state::PluginState;
use clack_extensions::track_info::PluginTrackInfo;
use clack_host::events::io::EventBuffer;
use clack_host::prelude::*;
use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The plugin id StemTap registers.
pub const STEMTAP_ID: &str = "audio.stemtap.recorder";

/// One parameter as the plugin describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDesc {
    /// The CLAP parameter id (for nice-plug: a hash of the string id).
    pub id: u32,
    pub name: String,
    pub module: String,
    pub min: f64,
    pub max: f64,
    pub default: f64,
}

/// The id nice-plug derives from a parameter's string id (`hash_param_id`).
pub fn nice_plug_param_hash(string_id: &str) -> u32 {
    let mut hash: u32 = 0;
    for b in string_id.bytes() {
        hash = hash.wrapping_mul(31).wrapping_add(u32::from(b));
    }
    hash & !(1 << 31)
}

/// A plugin instance, owned by the thread that created it (its main thread).
pub struct Instance {
    plugin: PluginInstance<StemTapHost>,
    label: String,
    log: Arc<LogSink>,
    params: Option<PluginParams>,
    state: Option<PluginState>,
    track_info: Option<PluginTrackInfo>,
    ports: Option<PluginAudioPorts>,
    ports_config: Option<PluginAudioPortsConfig>,
}

impl Instance {
    /// Creates plugin `plugin_id` from `lib` on the current thread, which becomes this
    /// instance's main thread. `track_name` is what track-info reports (None: no name).
    pub fn new(lib: &PluginLibrary, plugin_id: &str, track_name: Option<&str>) -> Result<Self> {
        let label = track_name.unwrap_or(plugin_id).to_owned();
        let echo = std::env::var_os("STEMTAP_HOST_LOG").is_some_and(|v| v != "0");
        let log = Arc::new(LogSink::new(echo));
        let host_info = HostInfo::new(
            "StemTap headless host",
            "StemTap",
            "https://github.com/stemtap",
            env!("CARGO_PKG_VERSION"),
        )?;
        let id = CString::new(plugin_id)?;
        let shared_label = label.clone();
        let shared_log = log.clone();
        let track = track_name.map(str::to_owned);
        let plugin = PluginInstance::<StemTapHost>::new(
            move |_| HostShared::new(shared_label, shared_log),
            move |shared| HostMain::new(shared, track.as_deref()),
            &lib.entry,
            &id,
            &host_info,
        )
        .map_err(|e| anyhow!("cannot create plugin {plugin_id}: {e}"))?;
        let handle = plugin.plugin_shared_handle();
        let params = handle.get_extension::<PluginParams>();
        let state = handle.get_extension::<PluginState>();
        let track_info = handle.get_extension::<PluginTrackInfo>();
        let ports = handle.get_extension::<PluginAudioPorts>();
        let ports_config = handle.get_extension::<PluginAudioPortsConfig>();
        let mut instance = Instance {
            plugin,
            label,
            log,
            params,
            state,
            track_info,
            ports,
            ports_config,
        };
        instance.poll_main_thread();
        Ok(instance)
    }

    /// The track name (or plugin id) used to label log lines and threads.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the plugin implements `clap_plugin_track_info`.
    pub fn supports_track_info(&self) -> bool {
        self.track_info.is_some()
    }

    /// Changes the track name reported by track-info and tells the plugin (`changed`).
    pub fn set_track_name(&mut self, name: Option<&str>) {
        self.plugin.access_handler(|h| {
            h.track_name.set(name.map(crate::handlers::leak_name));
        });
        if let Some(name) = name {
            self.label = name.to_owned();
        }
        if let Some(ti) = self.track_info {
            ti.changed(&self.plugin.plugin_handle());
        }
        self.poll_main_thread();
    }

    /// Runs `on_main_thread` if the plugin asked for it; returns whether it ran.
    pub fn poll_main_thread(&mut self) -> bool {
        let requested = self
            .plugin
            .access_shared_handler(|s| s.callback_requested.swap(false, Ordering::SeqCst));
        if requested {
            self.plugin.call_on_main_thread_callback();
        }
        requested
    }

    /// Whether the plugin asked for a restart (deactivate + activate) since the last call.
    pub fn take_restart_request(&self) -> bool {
        self.plugin
            .access_shared_handler(|s| s.restart_requested.swap(false, Ordering::SeqCst))
    }

    /// Whether the plugin called `clap_host_state.mark_dirty` since the last call.
    pub fn take_state_dirty(&self) -> bool {
        self.plugin.access_handler(|h| h.state_dirty.replace(false))
    }

    /// Log messages the plugin sent so far.
    pub fn logs(&self) -> Vec<LogEntry> {
        self.log.entries()
    }

    /// Echo the plugin's log messages to stderr (also on with env `STEMTAP_HOST_LOG=1`).
    pub fn set_log_echo(&self, on: bool) {
        self.log.set_echo(on);
    }

    /// All parameters.
    pub fn params(&mut self) -> Result<Vec<ParamDesc>> {
        let ext = self.params.context("plugin has no params extension")?;
        let handle = self.plugin.plugin_handle();
        let mut buf = ParamInfoBuffer::new();
        let mut out = Vec::new();
        for i in 0..ext.count(&handle) {
            let info = ext
                .get_info(&handle, i, &mut buf)
                .with_context(|| format!("param #{i}: get_info failed"))?;
            out.push(ParamDesc {
                id: info.id.get(),
                name: String::from_utf8_lossy(info.name).into_owned(),
                module: String::from_utf8_lossy(info.module).into_owned(),
                min: info.min_value,
                max: info.max_value,
                default: info.default_value,
            });
        }
        Ok(out)
    }

    /// Finds a parameter by its nice-plug string id (matching the hashed CLAP id), or failing
    /// that, by display name (case-insensitive).
    pub fn find_param(&mut self, key: &str) -> Result<ParamDesc> {
        let params = self.params()?;
        let hash = nice_plug_param_hash(key);
        params
            .iter()
            .find(|p| p.id == hash)
            .or_else(|| params.iter().find(|p| p.name.eq_ignore_ascii_case(key)))
            .cloned()
            .with_context(|| {
                let names: Vec<_> = params.iter().map(|p| p.name.as_str()).collect();
                format!("no parameter {key:?}; the plugin has {names:?}")
            })
    }

    /// A parameter's current value, as the plugin reports it.
    pub fn param_value(&mut self, id: u32) -> Result<f64> {
        let ext = self.params.context("plugin has no params extension")?;
        let id = ClapId::from_raw(id).context("invalid param id")?;
        ext.get_value(&self.plugin.plugin_handle(), id)
            .context("get_value failed")
    }

    /// Sets a parameter while the plugin is not active, through `params.flush`.
    /// (While it is processing, send the change with the next block instead.)
    pub fn set_param_inactive(&mut self, id: u32, value: f64) -> Result<()> {
        let ext = self.params.context("plugin has no params extension")?;
        let id = ClapId::from_raw(id).context("invalid param id")?;
        let mut handle = self
            .plugin
            .inactive_plugin_handle()
            .context("plugin is active: send the change with a process block")?;
        let mut input = EventBuffer::with_capacity(1);
        input.push(&clack_host::events::event_types::ParamValueEvent::new(
            0,
            id,
            Pckn::match_all(),
            value,
        ));
        let mut output = EventBuffer::new();
        ext.flush(
            &mut handle,
            &input.as_input(),
            &mut OutputEvents::from_buffer(&mut output),
        );
        Ok(())
    }

    /// Saves the plugin's state (the raw bytes of the CLAP state stream).
    pub fn save_state(&mut self) -> Result<Vec<u8>> {
        let ext = self.state.context("plugin has no state extension")?;
        let mut out = Vec::new();
        ext.save(&self.plugin.plugin_handle(), &mut out)
            .map_err(|e| anyhow!("state save failed: {e:?}"))?;
        Ok(out)
    }

    /// Loads state bytes as saved by [`Instance::save_state`].
    pub fn load_state(&mut self, bytes: &[u8]) -> Result<()> {
        let ext = self.state.context("plugin has no state extension")?;
        let mut reader = bytes;
        ext.load(&self.plugin.plugin_handle(), &mut reader)
            .map_err(|e| anyhow!("state load failed: {e:?}"))?;
        self.poll_main_thread();
        Ok(())
    }

    /// Saves state and decodes nice-plug's JSON.
    pub fn save_state_json(&mut self) -> Result<PluginStateJson> {
        PluginStateJson::from_clap_bytes(&self.save_state()?)
    }

    /// Loads an (edited) nice-plug JSON state.
    pub fn load_state_json(&mut self, state: &PluginStateJson) -> Result<()> {
        self.load_state(&state.to_clap_bytes())
    }

    /// Saves state, lets `edit` change it, loads it back.
    pub fn edit_state(
        &mut self,
        edit: impl FnOnce(&mut PluginStateJson) -> Result<()>,
    ) -> Result<()> {
        let mut st = self.save_state_json()?;
        edit(&mut st)?;
        self.load_state_json(&st)
    }

    /// Channel count of the main input port in the current configuration.
    pub fn main_input_channels(&mut self) -> Option<u32> {
        let ext = self.ports?;
        let handle = self.plugin.plugin_handle();
        let mut buf = AudioPortInfoBuffer::new();
        if ext.count(&handle, true) == 0 {
            return Some(0);
        }
        ext.get(&handle, 0, true, &mut buf).map(|p| p.channel_count)
    }

    /// Selects the audio-ports configuration whose main input and output have `channels`
    /// channels (for example 1 for mono). Only while inactive.
    pub fn select_channels(&mut self, channels: u32) -> Result<()> {
        if self.main_input_channels() == Some(channels) {
            return Ok(());
        }
        let ext = self
            .ports_config
            .context("plugin has no audio-ports-config extension")?;
        let handle = self.plugin.plugin_handle();
        let mut buf = AudioPortsConfigBuffer::new();
        let mut found = None;
        for i in 0..ext.count(&handle) {
            if let Some(c) = ext.get(&handle, i, &mut buf) {
                let ch = |p: Option<clack_extensions::audio_ports_config::MainPortInfo>| {
                    p.map(|p| p.channel_count)
                };
                if ch(c.main_input) == Some(channels) && ch(c.main_output) == Some(channels) {
                    found = Some(c.id);
                    break;
                }
            }
        }
        let id =
            found.with_context(|| format!("no audio-ports config with {channels} channels"))?;
        ext.select(&handle, id)
            .map_err(|_| anyhow!("plugin refused audio-ports config {id:?}"))?;
        if self.main_input_channels() != Some(channels) {
            bail!("selected a {channels}-channel config but the main input port disagrees");
        }
        Ok(())
    }

    /// Activates the plugin; the returned processor may move to an audio thread.
    /// The processor uses as many channels as the main input port has.
    pub fn activate(&mut self, config: AudioConfig) -> Result<Processor> {
        let channels = self.main_input_channels().unwrap_or(2).max(1) as usize;
        let stopped = self
            .plugin
            .activate(
                |_, _| (),
                PluginAudioConfiguration {
                    sample_rate: config.sample_rate,
                    min_frames_count: config.min_block,
                    max_frames_count: config.max_block,
                },
            )
            .map_err(|e| anyhow!("activate failed: {e}"))?;
        Ok(Processor::new(stopped, config, channels))
    }

    /// Stops processing if needed and deactivates. The processor must come from this instance.
    pub fn deactivate(&mut self, processor: Processor) -> Result<()> {
        let stopped = processor.into_stopped();
        if !stopped.matches(&self.plugin) {
            bail!("processor belongs to another instance");
        }
        self.plugin.deactivate(stopped);
        self.poll_main_thread();
        Ok(())
    }

    pub fn is_active(&self) -> bool {
        self.plugin.is_active()
    }
}
