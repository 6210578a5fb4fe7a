//! The process-wide session: every StemTap instance in a process registers one stream here,
//! and one writer thread serves them all.
//!
//! Threads: the audio thread sees only [`SessionShared`] and [`StreamStats`] (atomics) and its
//! own [`Capture`]. The main thread, the GUI and the writer share the registry and status
//! behind `parking_lot` locks, which never sit on the audio path.

use crate::capture::{Capture, MIN_STAMP_FRAMES};
pub use crate::config::EngineConfig;
use crate::registry::{Registry, SessionInner, StreamEntry};
use crate::settings::{SessionSettings, StreamSettings, TriggerMode};
use crate::shared::{RingsFromCapture, SessionShared, StreamId, StreamStats};
use crate::status::{SessionError, SessionStatus};
use crate::timeline::BlockStamp;
use crate::writer::Writer;
use parking_lot::{Mutex, RwLock};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapRb};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

/// Largest ring per stream, in frames (10 s at 192 kHz).
pub const MAX_RING_FRAMES: usize = 1_920_000;

/// One recording session: the registry of streams and the writer thread that serves them.
/// The plugin uses [`Session::global`]; tests create private ones with [`Session::new`].
pub struct Session {
    inner: Arc<SessionInner>,
    writer: Option<JoinHandle<()>>,
}

static GLOBAL: Mutex<Weak<Session>> = Mutex::new(Weak::new());

impl Session {
    /// The process's session, created (and its writer started) by the first caller, stopped
    /// when the last `Arc` is dropped.
    pub fn global() -> Arc<Session> {
        let mut global = GLOBAL.lock();
        if let Some(session) = global.upgrade() {
            return session;
        }
        let session = Arc::new(Session::new(EngineConfig::from_env()));
        *global = Arc::downgrade(&session);
        session
    }

    /// A private session with its own writer thread.
    pub fn new(config: EngineConfig) -> Session {
        let inner = Arc::new(SessionInner {
            shared: Arc::new(SessionShared::default()),
            settings: Arc::new(RwLock::new(SessionSettings::default())),
            registry: Mutex::new(Registry::default()),
            status: Mutex::new(SessionStatus::default()),
            stop: AtomicBool::new(false),
            config,
        });
        let for_writer = inner.clone();
        let writer = std::thread::Builder::new()
            .name("stemtap-writer".into())
            .spawn(move || Writer::new(for_writer).run())
            .expect("spawning the writer thread");
        Session {
            inner,
            writer: Some(writer),
        }
    }

    /// The session's settings. Change them with [`Session::set_settings`] or
    /// [`Session::set_trigger`], which also update what the audio threads read.
    pub fn settings(&self) -> Arc<RwLock<SessionSettings>> {
        self.inner.settings.clone()
    }

    /// Apply settings (e.g. after the user changed them in the GUI).
    pub fn set_settings(&self, settings: SessionSettings) {
        self.inner
            .shared
            .trigger
            .store(settings.trigger.to_u8(), Ordering::Relaxed);
        *self.inner.settings.write() = settings;
    }

    pub fn set_trigger(&self, trigger: TriggerMode) {
        self.inner.settings.write().trigger = trigger;
        self.inner
            .shared
            .trigger
            .store(trigger.to_u8(), Ordering::Relaxed);
    }

    /// Arm or disarm the whole session. Callable from any thread, including the audio thread
    /// (one atomic store).
    pub fn set_armed(&self, armed: bool) {
        self.inner.shared.armed.store(armed, Ordering::Relaxed);
    }

    pub fn armed(&self) -> bool {
        self.inner.shared.armed.load(Ordering::Relaxed)
    }

    /// The atomics the audio thread reads, for a plugin that arms from `process()`.
    pub fn shared(&self) -> Arc<SessionShared> {
        self.inner.shared.clone()
    }

    /// A copy of what the GUI shows: takes, errors, streams.
    pub fn status(&self) -> SessionStatus {
        self.inner.status.lock().clone()
    }

    /// Mark the session's error banner as read.
    pub fn acknowledge_errors(&self) {
        self.inner.status.lock().errors.clear();
    }

    /// Register a stream (one per plugin instance). `settings` is the instance's persisted
    /// copy; the engine reads it when a take starts.
    pub fn register(self: &Arc<Self>, settings: Arc<RwLock<StreamSettings>>) -> StreamHandle {
        let mut registry = self.inner.registry.lock();
        registry.next_id += 1;
        let id = registry.next_id;
        let default_name = registry.free_default_name();
        let stats = Arc::new(StreamStats::default());
        registry.streams.push(StreamEntry {
            id,
            settings,
            track_name: None,
            default_name,
            stats: stats.clone(),
            new_rings: Vec::new(),
            removed: false,
        });
        StreamHandle {
            session: self.clone(),
            id,
            stats,
        }
    }

    /// Rename a stream (from any instance's GUI): sets its user name override.
    pub fn rename_stream(&self, id: StreamId, name: Option<String>) {
        self.update_stream(id, |settings| settings.name = name);
    }

    /// Change any setting of a stream (role, channel mode, offset) from any instance's GUI.
    pub fn update_stream(&self, id: StreamId, update: impl FnOnce(&mut StreamSettings)) {
        self.with_stream(id, |entry| update(&mut entry.settings.write()));
    }

    /// Run `f` on stream `id`'s registry entry (under the registry lock), if it exists.
    fn with_stream<R>(&self, id: StreamId, f: impl FnOnce(&StreamEntry) -> R) -> Option<R> {
        self.inner
            .registry
            .lock()
            .streams
            .iter()
            .find(|s| s.id == id)
            .map(f)
    }

    /// One row per live stream, in registration order.
    pub fn streams(&self) -> Vec<StreamView> {
        self.inner
            .registry
            .lock()
            .streams
            .iter()
            .filter(|s| !s.removed)
            .map(|s| StreamView {
                id: s.id,
                name: s.display_name(),
                track_name: s.track_name.clone(),
                settings: s.settings.read().clone(),
                stats: s.stats.clone(),
            })
            .collect()
    }

    /// Put a problem in the session's error list (the GUI's banner) from outside the writer,
    /// e.g. the plugin glue. `stream`: the stream it concerns (its row in the GUI's table
    /// shows it too), `None` for the whole session. Not realtime-safe (locks, allocates).
    pub fn report_error(&self, stream: Option<StreamId>, message: impl Into<String>) {
        let error = match stream {
            Some(id) => {
                // A stream the registry has forgotten has no name left to show; the GUI
                // shows errors of streams by id, so the message still lands in its row.
                let name = self
                    .inner
                    .registry
                    .lock()
                    .display_name(id)
                    .unwrap_or_default();
                SessionError::stream(id, name, message)
            }
            None => SessionError::session(message),
        };
        self.inner.status.lock().push_error(error);
    }

    /// Change some session settings in place (read-modify-write under one lock, so two
    /// windows editing different settings at once do not undo each other).
    pub fn update_settings(&self, update: impl FnOnce(&mut SessionSettings)) {
        let mut settings = self.inner.settings.write();
        update(&mut settings);
        self.inner
            .shared
            .trigger
            .store(settings.trigger.to_u8(), Ordering::Relaxed);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        if let Some(writer) = self.writer.take() {
            // A panicking writer has already lost its files; nothing more to do here.
            let _ = writer.join();
        }
    }
}

/// A stream as the GUI sees it.
#[derive(Debug, Clone)]
pub struct StreamView {
    pub id: StreamId,
    pub name: String,
    pub track_name: Option<String>,
    pub settings: StreamSettings,
    pub stats: Arc<StreamStats>,
}

/// A plugin instance's membership in the session. Dropping it removes the stream (the
/// writer still writes what is in its rings).
pub struct StreamHandle {
    session: Arc<Session>,
    id: StreamId,
    stats: Arc<StreamStats>,
}

impl StreamHandle {
    pub fn id(&self) -> StreamId {
        self.id
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub fn stats(&self) -> &Arc<StreamStats> {
        &self.stats
    }

    /// The host told us the track's name (CLAP track-info, VST3 channel context).
    pub fn set_track_name(&self, name: Option<String>) {
        let mut registry = self.session.inner.registry.lock();
        if let Some(entry) = registry.streams.iter_mut().find(|s| s.id == self.id) {
            entry.track_name = name;
        }
    }

    /// Allocate fresh rings for a new audio configuration and return the audio thread's end.
    /// Call from `activate()`, never from `process()`: this allocates and touches every page
    /// of the ring so the audio thread never takes a page fault.
    pub fn attach(&self, sample_rate: u32, channels: u16, max_block: u32) -> Capture {
        let channels = channels.max(1);
        let sample_rate = sample_rate.max(1);
        let max_block = max_block.max(1);
        let ring_seconds = self.session.inner.config.ring_seconds;
        // Capped so absurd rates (validators try 1.2 MHz) cannot ask for hundreds of MB;
        // at 192 kHz the full `ring_seconds` still fits.
        let ring_frames = ((sample_rate as f32 * ring_seconds) as usize)
            .min(MAX_RING_FRAMES)
            .max(4 * max_block as usize);
        let (mut frames_tx, mut frames_rx) =
            HeapRb::<f32>::new(ring_frames * channels as usize).split();
        prefault(&mut frames_tx, &mut frames_rx, 0.0);
        let stamp_slots = ring_frames / MIN_STAMP_FRAMES as usize + 64;
        let (mut stamps_tx, mut stamps_rx) = HeapRb::<BlockStamp>::new(stamp_slots).split();
        prefault(&mut stamps_tx, &mut stamps_rx, BlockStamp::UNUSED);
        let closed = Arc::new(AtomicBool::new(false));
        self.stats
            .ring_capacity_frames
            .store(ring_frames as u64, Ordering::Relaxed);
        self.stats.sample_rate.store(sample_rate, Ordering::Relaxed);
        self.stats
            .input_channels
            .store(channels as u32, Ordering::Relaxed);

        let mut registry = self.session.inner.registry.lock();
        if let Some(entry) = registry.streams.iter_mut().find(|s| s.id == self.id) {
            entry.new_rings.push(RingsFromCapture {
                frames: frames_rx,
                stamps: stamps_rx,
                closed: closed.clone(),
                channels,
            });
        }
        drop(registry);
        Capture::new(
            self.session.shared(),
            self.stats.clone(),
            frames_tx,
            stamps_tx,
            closed,
            channels,
            sample_rate,
            max_block,
        )
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        let mut registry = self.session.inner.registry.lock();
        if let Some(entry) = registry.streams.iter_mut().find(|s| s.id == self.id) {
            entry.removed = true;
        }
    }
}

/// Write and discard the whole ring once, so its pages are resident before the audio thread
/// touches them (a first touch is a page fault: a syscall's worth of time on the audio path).
fn prefault<T: Copy>(tx: &mut ringbuf::HeapProd<T>, rx: &mut HeapCons<T>, fill: T) {
    let chunk = [fill; 256];
    while tx.push_slice(&chunk) > 0 {}
    rx.clear();
}
