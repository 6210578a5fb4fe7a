//! The session's registry of streams and everything the session's threads share off the
//! audio thread (settings, status, configuration). Main thread, GUI and writer only; the
//! audio thread never sees anything here.

use crate::config::EngineConfig;
use crate::settings::{SessionSettings, StreamSettings};
use crate::shared::{RingsFromCapture, SessionShared, StreamId, StreamStats};
use crate::status::SessionStatus;
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

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
    pub new_rings: Vec<RingsFromCapture>,
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

impl Registry {
    /// The lowest "Track N" no live stream uses: instances a host created and destroyed
    /// while scanning do not push the numbers up. The one place default names are made.
    pub fn free_default_name(&self) -> String {
        (1..)
            .map(|n| format!("Track {n}"))
            .find(|name| {
                !self
                    .streams
                    .iter()
                    .any(|s| !s.removed && s.default_name == *name)
            })
            .expect("an unused number exists")
    }

    /// Stream `id`'s display name; `None` once the registry has forgotten it.
    pub fn display_name(&self, id: StreamId) -> Option<String> {
        self.streams
            .iter()
            .find(|s| s.id == id)
            .map(StreamEntry::display_name)
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
