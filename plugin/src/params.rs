//! Parameters and persisted state. The ids and field names here are a public contract:
//! hosts store them in projects, and scripts edit saved state (see the README).

use crate::engine::settings::MAX_OFFSET_SAMPLES;
use crate::engine::{Session, SessionSettings, StreamSettings};
use nice_plug::params::persist::PersistentField;
use nice_plug::prelude::*;
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

#[derive(Params)]
pub struct StemTapParams {
    /// Arms or disarms the whole session: a change of this parameter in any instance (host
    /// automation, MIDI learn, the GUI) arms every instance in the process.
    #[id = "record"]
    pub record: BoolParam,

    /// This instance's own record enable: off leaves its track out of takes (from the next
    /// take on; switched on during a take, its file joins with silence before).
    #[id = "enabled"]
    pub enabled: BoolParam,

    /// This instance's stem name override, role, channel mode and offset.
    #[persist = "stream"]
    pub stream: StreamField,

    /// Session-wide settings (trigger, output root, format), the same for every instance.
    #[persist = "session"]
    pub session: SessionField,

    /// Counts state loads, so `process()` can tell a `record` value restored from a project
    /// (adopt it) from a user's change (arm or disarm).
    pub state_loads: Arc<AtomicU32>,
}

impl StemTapParams {
    pub fn new(stream: Arc<RwLock<StreamSettings>>, session: Arc<Session>) -> Self {
        let state_loads = Arc::new(AtomicU32::new(0));
        Self {
            record: BoolParam::new("Record", false),
            enabled: BoolParam::new("Record enable", true),
            stream: StreamField {
                settings: stream,
                state_loads: state_loads.clone(),
            },
            session: SessionField {
                session,
                state_loads: state_loads.clone(),
            },
            state_loads,
        }
    }
}

/// The `stream` field. The settings `Arc` is the one registered with the session, so the
/// writer and every instance's GUI see a loaded or edited value at once.
pub struct StreamField {
    pub settings: Arc<RwLock<StreamSettings>>,
    state_loads: Arc<AtomicU32>,
}

impl<'a> PersistentField<'a, StreamSettings> for StreamField {
    /// Called when a state is loaded. Saved state is untrusted: the offset is clamped (names
    /// are sanitized where files are named).
    fn set(&self, mut new_value: StreamSettings) {
        new_value.offset_samples = new_value
            .offset_samples
            .clamp(-MAX_OFFSET_SAMPLES, MAX_OFFSET_SAMPLES);
        *self.settings.write() = new_value;
        self.state_loads.fetch_add(1, Ordering::Release);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&StreamSettings) -> R,
    {
        f(&self.settings.read())
    }
}

/// The `session` field. Every instance saves the session's current settings; loading any
/// instance's state applies them to the whole session at once, including what the audio
/// threads read (the trigger mode).
pub struct SessionField {
    session: Arc<Session>,
    state_loads: Arc<AtomicU32>,
}

impl<'a> PersistentField<'a, SessionSettings> for SessionField {
    fn set(&self, new_value: SessionSettings) {
        self.session.set_settings(new_value);
        self.state_loads.fetch_add(1, Ordering::Release);
    }

    fn map<F, R>(&self, f: F) -> R
    where
        F: Fn(&SessionSettings) -> R,
    {
        f(&self.session.settings().read())
    }
}
