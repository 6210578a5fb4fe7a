//! Parameters and persisted state. The ids and field names here are a public contract:
//! hosts store them in projects, and scripts edit saved state (see the README).

use crate::engine::{SessionSettings, StreamSettings};
use nice_plug::prelude::*;
use parking_lot::RwLock;
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

    /// This instance's stem name override, role, channel mode and offset. The same `Arc` is
    /// registered with the session, so the writer and any instance's GUI see edits at once.
    #[persist = "stream"]
    pub stream: Arc<RwLock<StreamSettings>>,

    /// Session-wide settings (trigger, output root, format). Every instance holds the same
    /// `Arc`, so saving any instance saves the session and loading any instance sets it.
    #[persist = "session"]
    pub session: Arc<RwLock<SessionSettings>>,
}

impl StemTapParams {
    pub fn new(stream: Arc<RwLock<StreamSettings>>, session: Arc<RwLock<SessionSettings>>) -> Self {
        Self {
            record: BoolParam::new("Record", false),
            enabled: BoolParam::new("Record enable", true),
            stream,
            session,
        }
    }
}
