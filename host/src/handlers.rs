//! The host side of the CLAP callbacks: what a plugin instance may ask of us.
//!
//! One [`HostShared`] (thread-safe) and one [`HostMain`] (main thread) exist per plugin
//! instance. Audio-thread callbacks need nothing, so the audio-processor handler is `()`.
//!
//! Extensions offered to the plugin: log, thread-check, params, state, track-info.

use clack_extensions::log::{HostLog, HostLogImpl, LogSeverity};
use clack_extensions::params::{
    HostParams, HostParamsImplMainThread, HostParamsImplShared, ParamClearFlags, ParamRescanFlags,
};
use clack_extensions::state::{HostState, HostStateImpl};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_extensions::track_info::{HostTrackInfo, HostTrackInfoImpl, TrackInfo, TrackInfoWriter};
use clack_host::prelude::*;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

thread_local! {
    static IS_AUDIO_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks (or unmarks) the current thread as an audio thread for the thread-check extension.
/// [`crate::Processor`] does this around every call it makes into the plugin; a host that
/// dedicates a thread to audio may also mark it once for good.
pub fn mark_audio_thread(on: bool) {
    IS_AUDIO_THREAD.with(|f| f.set(on));
}

/// Whether the current thread is marked as an audio thread.
pub fn is_audio_thread() -> bool {
    IS_AUDIO_THREAD.with(|f| f.get())
}

/// RAII guard: marks the current thread as an audio thread while alive.
pub(crate) struct AudioThreadGuard(bool);

impl AudioThreadGuard {
    pub(crate) fn enter() -> Self {
        let was = is_audio_thread();
        mark_audio_thread(true);
        AudioThreadGuard(was)
    }
}

impl Drop for AudioThreadGuard {
    fn drop(&mut self) {
        mark_audio_thread(self.0);
    }
}

/// One message the plugin logged through `clap_host_log`.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub severity: LogSeverity,
    pub message: String,
}

/// Collects log messages of one instance; optionally echoes them to stderr.
#[derive(Debug, Default)]
pub struct LogSink {
    entries: Mutex<Vec<LogEntry>>,
    echo: AtomicBool,
}

impl LogSink {
    pub fn new(echo: bool) -> Self {
        LogSink {
            entries: Mutex::new(Vec::new()),
            echo: AtomicBool::new(echo),
        }
    }

    pub fn set_echo(&self, echo: bool) {
        self.echo.store(echo, Ordering::Relaxed);
    }

    pub fn push(&self, label: &str, severity: LogSeverity, message: &str) {
        if self.echo.load(Ordering::Relaxed) {
            eprintln!("[{label}] [{severity:?}] {message}");
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.push(LogEntry {
            severity,
            message: message.to_owned(),
        });
    }

    /// All messages so far.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Thread-safe host state of one instance.
pub struct HostShared {
    pub(crate) label: String,
    pub(crate) main_thread: ThreadId,
    pub(crate) log: Arc<LogSink>,
    pub(crate) callback_requested: AtomicBool,
    pub(crate) restart_requested: AtomicBool,
    pub(crate) process_requested: AtomicBool,
    pub(crate) flush_requested: AtomicBool,
    /// Calls to `is_main_thread` / `is_audio_thread` that answered "no" where the
    /// plugin probably expected "yes" are not knowable here; we only count calls.
    pub(crate) thread_checks: AtomicU32,
}

impl HostShared {
    pub(crate) fn new(label: String, log: Arc<LogSink>) -> Self {
        HostShared {
            label,
            main_thread: std::thread::current().id(),
            log,
            callback_requested: AtomicBool::new(false),
            restart_requested: AtomicBool::new(false),
            process_requested: AtomicBool::new(false),
            flush_requested: AtomicBool::new(false),
            thread_checks: AtomicU32::new(0),
        }
    }
}

impl<'a> SharedHandler<'a> for HostShared {
    fn request_restart(&self) {
        self.restart_requested.store(true, Ordering::SeqCst);
    }

    fn request_process(&self) {
        self.process_requested.store(true, Ordering::SeqCst);
    }

    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

impl HostLogImpl for HostShared {
    fn log(&self, severity: LogSeverity, message: &str) {
        self.log.push(&self.label, severity, message);
    }
}

impl HostThreadCheckImpl for HostShared {
    fn is_main_thread(&self) -> bool {
        self.thread_checks.fetch_add(1, Ordering::Relaxed);
        std::thread::current().id() == self.main_thread
    }

    fn is_audio_thread(&self) -> bool {
        self.thread_checks.fetch_add(1, Ordering::Relaxed);
        is_audio_thread()
    }
}

impl HostParamsImplShared for HostShared {
    fn request_flush(&self) {
        self.flush_requested.store(true, Ordering::SeqCst);
    }
}

/// Main-thread host state of one instance.
pub struct HostMain<'a> {
    _shared: PhantomData<&'a HostShared>,
    /// The track name reported through track-info; `None` reports no name. Leaked on
    /// purpose: clack's track-info writer wants the name to outlive the handler borrow, and a
    /// few bytes per rename are nothing for a test host.
    pub(crate) track_name: Cell<Option<&'static [u8]>>,
    pub(crate) state_dirty: Cell<bool>,
    pub(crate) rescans: Cell<u32>,
}

impl<'a> HostMain<'a> {
    pub(crate) fn new(_shared: &'a HostShared, track_name: Option<&str>) -> Self {
        HostMain {
            _shared: PhantomData,
            track_name: Cell::new(track_name.map(leak_name)),
            state_dirty: Cell::new(false),
            rescans: Cell::new(0),
        }
    }
}

impl<'a> MainThreadHandler<'a> for HostMain<'a> {}

/// A track name as CLAP will see it: cut at an inner NUL, as a C host would.
pub(crate) fn leak_name(name: &str) -> &'static [u8] {
    let bytes = name.as_bytes();
    let bytes = bytes.split(|b| *b == 0).next().unwrap_or(&[]);
    Box::leak(bytes.to_vec().into_boxed_slice())
}

impl HostTrackInfoImpl for HostMain<'_> {
    fn get<'a>(&'a self, writer: &mut TrackInfoWriter<'_, 'a>) {
        writer.set(&TrackInfo::new().with_name(self.track_name.get()));
    }
}

impl HostParamsImplMainThread for HostMain<'_> {
    fn rescan(&self, _flags: ParamRescanFlags) {
        self.rescans.set(self.rescans.get() + 1);
    }

    fn clear(&self, _param_id: ClapId, _flags: ParamClearFlags) {}
}

impl HostStateImpl for HostMain<'_> {
    fn mark_dirty(&self) {
        self.state_dirty.set(true);
    }
}

/// The host type tying the handlers together.
pub struct StemTapHost;

impl HostHandlers for StemTapHost {
    type Shared<'a> = HostShared;
    type MainThread<'a> = HostMain<'a>;
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostLog>()
            .register::<HostThreadCheck>()
            .register::<HostParams>()
            .register::<HostState>()
            .register::<HostTrackInfo>();
    }
}
