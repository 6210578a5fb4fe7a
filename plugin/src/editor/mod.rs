//! The plugin's GUI (nice-plug-egui). Any instance's window shows and controls the whole
//! session, so a producer with forty instances opens one window, not forty.
//!
//! # Threads
//! Everything here runs on the GUI thread. It never touches audio-thread state: it reads
//! atomics ([`StreamStats`](crate::engine::StreamStats), the arm flag) and snapshots the
//! session takes under its own short locks, and it changes things through the
//! [`Session`] API. Nothing here runs while the window is closed; the host's track name
//! goes from [`StemTapEditor`]'s `track_info_updated` straight to the stream.
//!
//! # Structure
//! [`SessionView`] draws everything from an `Arc<Session>` and an optional "this instance"
//! stream, with no window and no plugin framework, so tests drive it headlessly
//! (`plugin/tests/editor.rs`). [`StemTapApp`] is the thin nice-plug-egui wrapper around it.
//! One module per section: [`banner`], [`session_panel`], [`this_instance`], [`storage`],
//! [`streams_table`], [`takes`]; [`meters`] holds the meter ballistics, [`delivery`] the
//! background checks of finished takes. [`plugin_editor`]
//! is the `Editor` the plugin hands nice-plug, and [`host_keys`] brings it the keys a host
//! forwards instead of letting the window have them.

pub mod banner;
pub mod delivery;
pub mod host_keys;
pub mod meters;
pub mod name_field;
pub mod plugin_editor;
pub mod session_panel;
pub mod storage;
pub mod streams_table;
pub mod takes;
pub mod this_instance;
pub mod units;

use crate::engine::{Session, SessionSettings, SessionStatus, StreamHandle, StreamId, StreamView};
use crate::params::StemTapParams;
use egui::{ScrollArea, Ui};
use host_keys::HostKeys;
use meters::{MeterBank, MeterState};
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};
use parking_lot::Mutex;
pub use plugin_editor::StemTapEditor;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Initial window size in logical pixels.
const WINDOW_SIZE: (u32, u32) = (820, 600);

/// Smallest window the layout stays usable in, in logical pixels.
const MIN_WINDOW_SIZE: (f32, f32) = (560.0, 420.0);

/// How often an open window redraws to move meters, ring fill and the take clock (~30 Hz).
pub const REPAINT_INTERVAL_MS: u64 = 33;

/// Window width (logical pixels) from which "this track" and "output" sit side by side.
const TWO_COLUMNS_MIN_WIDTH: f32 = 720.0;

/// Colours the sections share.
pub(crate) mod colors {
    use egui::Color32;
    pub const RECORD: Color32 = Color32::from_rgb(210, 40, 40);
    pub const ARMED: Color32 = Color32::from_rgb(230, 150, 30);
    pub const WARNING: Color32 = Color32::from_rgb(235, 170, 50);
    pub const ERROR: Color32 = Color32::from_rgb(240, 90, 80);
    pub const OK: Color32 = Color32::from_rgb(90, 200, 110);
}

/// Opens a folder in the system's file manager; replaceable so tests open nothing.
pub type FolderOpener = Box<dyn Fn(&Path) -> Result<(), String> + Send>;

/// The system file manager, through `opener` (spawns and returns; never waits for it).
fn open_with_system(path: &Path) -> Result<(), String> {
    opener::open(path).map_err(|e| e.to_string())
}

/// Where the session is, as the big state display shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not armed, nothing being written.
    Idle,
    /// Armed, waiting for the trigger (or for the writer to open the take).
    Armed,
    /// A take is being written.
    Recording,
    /// Disarmed, and the writer is still finishing the take (padding, manifest).
    Finishing,
}

impl Phase {
    /// `finishing`: the writer has seen the take's end (in Follow modes the session stays
    /// armed while a take finishes).
    pub fn of(armed: bool, recording: bool, finishing: bool) -> Phase {
        match (armed, recording) {
            (false, false) => Phase::Idle,
            (true, false) => Phase::Armed,
            (true, true) if !finishing => Phase::Recording,
            (_, true) => Phase::Finishing,
        }
    }
}

/// What one frame draws from: read once at the start of the frame, so every section shows
/// the same moment and the session's locks are taken once.
pub struct Snapshot {
    pub now: Instant,
    pub armed: bool,
    pub status: SessionStatus,
    pub settings: SessionSettings,
    pub streams: Vec<StreamView>,
    /// Meter per stream, from the shared [`MeterBank`].
    pub meters: HashMap<StreamId, MeterState>,
}

impl Snapshot {
    pub fn phase(&self) -> Phase {
        let current = self.status.current.as_ref();
        Phase::of(
            self.armed,
            current.is_some(),
            current.is_some_and(|t| t.finishing),
        )
    }

    pub fn stream(&self, id: StreamId) -> Option<&StreamView> {
        self.streams.iter().find(|s| s.id == id)
    }

    pub fn meter(&self, id: StreamId) -> MeterState {
        self.meters.get(&id).copied().unwrap_or_default()
    }
}

/// The whole editor, without a window: the session, "this instance" and GUI-local state.
pub struct SessionView {
    /// The session every instance of the process shares.
    session: Arc<Session>,
    /// The instance whose window this is; `None` shows the session only.
    this: Option<Arc<StreamHandle>>,
    /// Meter ballistics, shared with every other open window of the process.
    meters: Arc<Mutex<MeterBank>>,
    /// How "Open folder" opens one.
    open_folder: FolderOpener,
    /// Keys the host forwards (VST3 `onKeyDown`) while a text field is being edited.
    host_keys: Arc<HostKeys>,
    this_instance: this_instance::ThisInstanceState,
    table: streams_table::TableState,
    storage: storage::StorageState,
    takes: takes::TakesState,
    banner: banner::BannerState,
    /// Background checks of finished takes, shared with the session's other windows.
    delivery: Arc<delivery::DeliveryJobs>,
}

impl SessionView {
    pub fn new(session: Arc<Session>, this: Option<Arc<StreamHandle>>) -> Self {
        Self {
            delivery: delivery::DeliveryJobs::for_session(&session),
            session,
            this,
            meters: MeterBank::shared(),
            open_folder: Box::new(open_with_system),
            host_keys: Arc::default(),
            this_instance: Default::default(),
            table: Default::default(),
            storage: Default::default(),
            takes: Default::default(),
            banner: Default::default(),
        }
    }

    /// Replace how folders are opened (tests record the request instead).
    pub fn with_folder_opener(mut self, open: FolderOpener) -> Self {
        self.open_folder = open;
        self
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Where the window's editor handle puts the keys the host forwards, and learns whether
    /// a text field wants them.
    pub fn host_keys(&self) -> Arc<HostKeys> {
        self.host_keys.clone()
    }

    /// Read everything this frame shows.
    fn snapshot(&self) -> Snapshot {
        let now = Instant::now();
        let streams = self.session.streams();
        let mut bank = self.meters.lock();
        let meters = streams
            .iter()
            .map(|s| (s.id, bank.poll(&s.stats, now)))
            .collect();
        bank.prune();
        drop(bank);
        Snapshot {
            now,
            armed: self.session.armed(),
            status: self.session.status(),
            settings: self.session.settings().read().clone(),
            streams,
            meters,
        }
    }

    /// Draw the editor. `set_record` tells the host about a change of this instance's
    /// `record` parameter (begin/set/end gesture); `None` where there is no host.
    pub fn ui(&mut self, ui: &mut Ui, set_record: Option<&dyn Fn(bool)>) {
        ui.ctx()
            .request_repaint_after(Duration::from_millis(REPAINT_INTERVAL_MS));
        self.host_keys.deliver(ui.ctx());
        let snap = self.snapshot();
        // The host window clears to black: paint the panel background ourselves.
        let rect = ui.max_rect();
        ui.painter().rect_filled(rect, 0.0, ui.visuals().panel_fill);
        egui::Frame::central_panel(ui.style()).show(ui, |ui| {
            self.sections(ui, &snap, set_record);
        });
        self.host_keys.publish(ui.ctx());
    }

    fn sections(&mut self, ui: &mut Ui, snap: &Snapshot, set_record: Option<&dyn Fn(bool)>) {
        ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                banner::show(ui, &self.session, snap, &mut self.banner);
                session_panel::show(ui, &self.session, snap, set_record);
                ui.separator();
                let two_columns = ui.available_width() >= TWO_COLUMNS_MIN_WIDTH;
                if two_columns {
                    ui.columns(2, |cols| {
                        self.this_section(&mut cols[0], snap);
                        self.storage_section(&mut cols[1], snap);
                    });
                } else {
                    self.this_section(ui, snap);
                    ui.separator();
                    self.storage_section(ui, snap);
                }
                ui.separator();
                streams_table::show(
                    ui,
                    &self.session,
                    snap,
                    self.this.as_ref().map(|h| h.id()),
                    &mut self.table,
                    &self.meters,
                );
                ui.separator();
                takes::show(ui, snap, &mut self.takes, &self.open_folder, &self.delivery);
            });
    }

    fn this_section(&mut self, ui: &mut Ui, snap: &Snapshot) {
        match self.this.as_ref() {
            Some(this) => this_instance::show(
                ui,
                &self.session,
                snap,
                this.id(),
                &mut self.this_instance,
                &self.meters,
            ),
            None => {
                ui.heading("This track");
                ui.weak("Not attached to a track.");
            }
        }
    }

    fn storage_section(&mut self, ui: &mut Ui, snap: &Snapshot) {
        storage::show(
            ui,
            &self.session,
            snap,
            &mut self.storage,
            &self.open_folder,
        );
    }
}

/// The nice-plug-egui app: hands the host's parameter gestures to [`SessionView`].
pub struct StemTapApp {
    params: Arc<StemTapParams>,
    /// The host's GUI context, set while a window is open (for the `record` parameter).
    gui: Option<GuiContext>,
    view: SessionView,
}

/// The editor for one instance. Resizable; its state (size) lives for the instance.
///
/// nice-plug-egui's `keyboard_focus_workaround` feature stays off: it focuses the window
/// after every frame that produced an output event (any click) or has a text cursor, which
/// takes the space bar away from the host. See the README's GUI section.
pub fn create(params: Arc<StemTapParams>, stream: Arc<StreamHandle>) -> Option<StemTapEditor> {
    let state = EguiEditorState::from_size(LogicalSize::new(WINDOW_SIZE.0, WINDOW_SIZE.1), 1.0);
    let resize = ResizeHint::RESIZABLE
        .with_min_logical_size(LogicalSize::new(MIN_WINDOW_SIZE.0, MIN_WINDOW_SIZE.1));
    let view = SessionView::new(stream.session().clone(), Some(stream.clone()));
    let host_keys = view.host_keys();
    let repaint = RepaintNotifier::default();
    let editor = create_egui_editor(
        state,
        repaint.clone(),
        EguiNiceSettings::new()
            .with_tile("StemTap")
            .with_resize_hint(resize),
        StemTapApp {
            params,
            gui: None,
            view,
        },
    )?;
    Some(StemTapEditor::new(editor, stream, host_keys, repaint))
}

impl NiceEguiApp for StemTapApp {
    fn build(
        &mut self,
        _egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        _frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), nice_plug_egui::baseview::HandlerError> {
        self.gui = Some(nice_gui_ctx);
        Ok(())
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut nice_plug_egui::Frame) {
        let params = &self.params;
        let set_record = self.gui.as_ref().map(|gui| {
            move |on: bool| {
                let setter = gui.param_setter();
                setter.begin_set_parameter(&params.record);
                setter.set_parameter(&params.record, on);
                setter.end_set_parameter(&params.record);
            }
        });
        self.view
            .ui(ui, set_record.as_ref().map(|f| f as &dyn Fn(bool)));
    }

    fn editor_closed(&mut self) {
        self.gui = None;
        self.view.host_keys.set_text_editing(false);
    }
}
