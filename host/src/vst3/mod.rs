//! A headless VST3 host: enough of the VST3 hosting protocol to load StemTap's VST3 build,
//! process audio through it and read its state, the way a DAW does.
//!
//! ```text
//! Vst3Module::load(path)                the shared library: ModuleEntry, GetPluginFactory
//!   module.find_class(category, name)   enumerate the factory's classes
//!   Vst3Instance::new(&module, &cid)    IComponent + IAudioProcessor + IEditController,
//!                                       initialised with our IHostApplication and
//!                                       IComponentHandler
//!     instance.start(ProcessConfig)     buses, setupProcessing, setActive, setProcessing
//!     instance.process(...)             ProcessData with a ProcessContext and
//!                                       IParameterChanges
//!     instance.stop()                   setProcessing(false), setActive(false)
//!   drop(instance)                      terminate, release
//! drop(module)                          ModuleExit (the library itself stays loaded)
//! ```
//!
//! Only single-component plugins (processor and edit controller in one object, as nice-plug
//! builds them) are supported, and only on Linux, where the VST3 module is a plain shared
//! library with `ModuleEntry`/`ModuleExit`.
//!
//! The `unsafe` code is confined to COM calls into the plugin and the host-side COM objects
//! in [`objects`]; each block says why it is sound.

mod context;
mod instance;
mod module;
pub mod objects;

pub use context::process_context;
pub use instance::{BusCounts, ParamInfo, ProcessConfig, Vst3Instance};
pub use module::{ClassInfo, Vst3Module, AUDIO_MODULE_CLASS};

/// The `vst3` crate (COM bindings) this host is built on, for callers that need raw types.
pub use vst3;
