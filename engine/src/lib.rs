//! The recorder engine: plain Rust, no plugin framework, so it is tested and benchmarked on
//! its own.
//!
//! # The realtime boundary
//! Only [`capture`] runs on audio threads ([`Capture::capture`], with its per-sample loop in
//! `interleave` and its render detector in `render_speed`); it touches atomics (in
//! [`shared`]) and its own ring producers, nothing else. Everything
//! else here runs on the main thread, the GUI thread or the writer thread ([`writer`]), and
//! may lock, allocate and do I/O.
//!
//! # Data flow
//! ```text
//! process()  --Capture::capture-->  stamp ring + frame ring (one pair per instance)
//!                                         |
//!                        writer thread: reads stamps, decides takes, writes WAV files
//!                                         |
//!                       take folder: Stems/, Multitracks/, Mix.wav, take.json
//! ```

pub mod capture;
pub mod config;
mod interleave;
pub mod manifest;
pub mod names;
mod registry;
mod render_speed;
pub mod session;
pub mod settings;
pub mod shared;
pub mod status;
pub mod take;
pub mod take_lock;
pub mod timeline;
pub mod wav;
pub mod writer;

pub use capture::{Capture, TransportInfo};
pub use session::{EngineConfig, Session, StreamHandle, StreamView};
pub use settings::{ChannelMode, Role, SampleFormat, SessionSettings, StreamSettings, TriggerMode};
pub use shared::{StreamId, StreamStats};
pub use status::SessionStatus;
pub use writer::WriterConfig;
