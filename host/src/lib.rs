//! A headless CLAP host for StemTap, shared by the end-to-end tests and the `stemtap`
//! command-line tool.
//!
//! ```text
//! PluginLibrary::load(path)                      the plugin binary (.so or .clap)
//!   Instance::new(&lib, STEMTAP_ID, Some("Kick"))  main thread: track-info, params, state
//!     Instance::activate(config) -> Processor      Send: process() on an audio thread
//! Rack                                           many instances, one audio thread each,
//!                                                processed in lock-step cycles
//! take::*                                        reading take folders and WAV files
//! gui::GuiInstance, gui::x11                     opening the plugin's window in an X11 parent
//! ```
//!
//! Host extensions offered to the plugin: log, thread-check, params, state, track-info.

pub mod gui;
mod handlers;
mod instance;
mod library;
mod locate;
mod processor;
mod rack;
mod state;
pub mod take;
pub mod vst3;

pub use clack_extensions::log::LogSeverity;
pub use handlers::{is_audio_thread, mark_audio_thread, LogEntry};
pub use instance::{nice_plug_param_hash, Instance, ParamDesc, STEMTAP_ID};
pub use library::{PluginDescription, PluginLibrary};
pub use locate::{built_plugin, plugin_file_name, target_dir, workspace_root};
pub use processor::{samples_to_sectime, AudioConfig, ParamChange, Processor, Transport};
pub use rack::{Rack, SubBlock, TrackBlock};
pub use state::PluginStateJson;

/// Re-exported so users can match on [`clack_host::process::ProcessStatus`] etc.
pub use clack_host;
