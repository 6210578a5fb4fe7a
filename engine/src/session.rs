//! The process-wide session: every StemTap instance in a process registers one stream here,
//! and one writer thread serves them all.
//!
//! Threads: the audio thread sees only [`SessionShared`] and [`StreamStats`] (atomics) and its
//! own [`Capture`]. The main thread, the GUI and the writer share the registry and status
//! behind `parking_lot` locks, which never sit on the audio path.

use crate::capture::{Capture, MIN_STAMP_FRAMES};
use crate::settings::{SessionSettings, StreamSettings, TriggerMode};
use crate::status::{SessionError, SessionStatus};
use crate::timeline::BlockStamp;
use crate::writer::{Writer, WriterConfig};
use parking_lot::{Mutex, RwLock};
use ringbuf::traits::{Consumer, Producer, Split};
use ringbuf::{HeapCons, HeapRb};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;
use std::time::Instant;

/// Identifies a stream for the life of the process; never reused.
pub type StreamId = u64;

/// The session state the audio thread reads: atomics only.
#[derive(Debug)]
pub struct SessionShared {
    /// The one arm switch of the whole session.
    pub(crate) armed: AtomicBool,
    /// `TriggerMode` as `u8`, mirrored from the settings for the audio thread.
    pub(crate) trigger: AtomicU8,
    /// The clock instances share while the host gives no position.
    pub(crate) free_clock: FreeClock,
    /// Reference point for `nanos_since_start`.
    epoch: Instant,
}

impl Default for SessionShared {
    fn default() -> Self {
        Self {
            armed: AtomicBool::new(false),
            trigger: AtomicU8::new(0),
            free_clock: FreeClock::default(),
            epoch: Instant::now(),
        }
    }
}

/// StemTap's own timeline for when the host gives none (see `Capture::next_free_pos`).
#[derive(Debug, Default)]
pub(crate) struct FreeClock {
    /// Furthest position any instance has reached.
    pub end: AtomicI64,
    /// Start of the most recently stamped block, and when (monotonic ns since the session
    /// started; 0 = never).
    pub last_block_start: AtomicI64,
    pub last_block_nanos: AtomicU64,
}

impl SessionShared {
    /// Monotonic nanoseconds since the session was created. Realtime-safe (vDSO clock read).
    pub(crate) fn nanos_since_start(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    pub(crate) fn trigger(&self) -> TriggerMode {
        TriggerMode::from_u8(self.trigger.load(Ordering::Relaxed))
    }
}

/// Per-stream live figures, written by the audio thread and the writer, read by the GUI.
#[derive(Debug, Default)]
pub struct StreamStats {
    /// Peak magnitude per channel (f32 bits) since the GUI last took it.
    peak_bits: [AtomicU32; 2],
    /// Frames this stream could not push since it was created.
    pub dropped_frames: AtomicU64,
    /// Frames waiting in the ring for the writer.
    pub ring_fill_frames: AtomicU64,
    /// Ring capacity in frames (set on attach).
    pub ring_capacity_frames: AtomicU64,
    /// Sample rate and input channels of the running audio configuration; 0 while the host
    /// has not activated this instance (or deactivated it).
    pub sample_rate: AtomicU32,
    pub input_channels: AtomicU32,
    /// The instance's "Record enable" is off: it gets no file in takes that start now.
    pub excluded: AtomicBool,
}

impl StreamStats {
    /// Realtime-safe. For non-negative floats the bit patterns order like the values, so an
    /// integer `fetch_max` keeps the float maximum. Most blocks do not raise the held peak;
    /// they only read it (a read-modify-write costs several times a load).
    pub(crate) fn note_peak(&self, channel: usize, peak: f32) {
        if let Some(slot) = self.peak_bits.get(channel.min(1)) {
            let bits = peak.to_bits();
            if bits > slot.load(Ordering::Relaxed) {
                slot.fetch_max(bits, Ordering::Relaxed);
            }
        }
    }

    /// Take the peaks since the last call (the GUI meters decay on their side).
    pub fn take_peaks(&self) -> [f32; 2] {
        [
            f32::from_bits(self.peak_bits[0].swap(0, Ordering::Relaxed)),
            f32::from_bits(self.peak_bits[1].swap(0, Ordering::Relaxed)),
        ]
    }
}

/// The consumer ends of one `Capture`'s rings, handed to the writer.
pub(crate) struct RingReader {
    pub frames: HeapCons<f32>,
    pub stamps: HeapCons<BlockStamp>,
    /// Set when the `Capture` is gone: once drained, this ring is done.
    pub closed: Arc<AtomicBool>,
    pub channels: u16,
}

/// What the registry knows of one stream (one plugin instance).
pub(crate) struct StreamEntry {
    pub id: StreamId,
    /// The instance's persisted settings, the same `Arc` its parameters save.
    pub settings: Arc<RwLock<StreamSettings>>,
    /// Name the host gave the track, if any.
    pub track_name: Option<String>,
    /// "Track N", used when neither the user nor the host named the stream.
    pub default_name: String,
    pub stats: Arc<StreamStats>,
    /// Rings attached since the writer last looked, oldest first.
    pub new_rings: Vec<RingReader>,
    /// The instance is gone; the writer drains what is left and forgets the stream.
    pub removed: bool,
}

impl StreamEntry {
    /// The name files get: the user's override, else the host's track name, else "Track N".
    pub fn display_name(&self) -> String {
        let settings = self.settings.read();
        settings
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .or_else(|| self.track_name.clone().filter(|n| !n.trim().is_empty()))
            .unwrap_or_else(|| self.default_name.clone())
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    pub streams: Vec<StreamEntry>,
    pub next_id: StreamId,
}

/// Largest ring per stream, in frames (10 s at 192 kHz).
pub const MAX_RING_FRAMES: usize = 1_920_000;

/// Engine tuning. `Default` is what the plugin uses; tests shrink it.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Ring length per stream, in seconds of audio.
    pub ring_seconds: f32,
    pub writer: WriterConfig,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            ring_seconds: 10.0,
            writer: WriterConfig::default(),
        }
    }
}

/// Everything the session's threads share. The writer thread holds an `Arc` of this, never of
/// [`Session`], so dropping the last `Session` stops it.
pub(crate) struct SessionInner {
    pub shared: Arc<SessionShared>,
    pub settings: Arc<RwLock<SessionSettings>>,
    pub registry: Mutex<Registry>,
    pub status: Mutex<SessionStatus>,
    pub stop: AtomicBool,
    pub config: EngineConfig,
}

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
        let session = Arc::new(Session::new(EngineConfig::default()));
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
        // The lowest "Track N" no live stream uses: instances a host created and destroyed
        // while scanning do not push the numbers up.
        let default_name = (1..)
            .map(|n| format!("Track {n}"))
            .find(|name| {
                !registry
                    .streams
                    .iter()
                    .any(|s| !s.removed && s.default_name == *name)
            })
            .expect("an unused number exists");
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
                let name = self
                    .with_stream(id, StreamEntry::display_name)
                    .unwrap_or_else(|| format!("Track {id}"));
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
            entry.new_rings.push(RingReader {
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
