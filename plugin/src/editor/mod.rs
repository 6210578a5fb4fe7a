//! The plugin's GUI (nice-plug-egui). Any instance shows and controls the whole session.
//!
//! The editor never touches audio-thread state: it reads atomics and session snapshots and
//! changes things through the `Session` API.

use crate::engine::StreamHandle;
use crate::params::StemTapParams;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::LogicalSize;
use nice_plug::prelude::*;
use nice_plug_egui::{
    create_egui_editor, EguiEditor, EguiEditorState, EguiNiceSettings, NiceEguiApp, RepaintNotifier,
};
use std::sync::Arc;

/// Initial window size in logical pixels.
const WINDOW_SIZE: (u32, u32) = (760, 520);

pub struct StemTapApp {
    params: Arc<StemTapParams>,
    stream: Arc<StreamHandle>,
    gui: Option<GuiContext>,
}

pub fn create(
    params: Arc<StemTapParams>,
    stream: Arc<StreamHandle>,
) -> Option<EguiEditor<StemTapApp>> {
    let state = EguiEditorState::from_size(LogicalSize::new(WINDOW_SIZE.0, WINDOW_SIZE.1), 1.0);
    create_egui_editor(
        state,
        RepaintNotifier::default(),
        EguiNiceSettings::new().with_tile("StemTap"),
        StemTapApp {
            params,
            stream,
            gui: None,
        },
    )
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
        let session = self.stream.session().clone();
        ui.heading("StemTap");
        let armed = session.armed();
        if ui
            .button(if armed { "Disarm" } else { "Arm record" })
            .clicked()
        {
            session.set_armed(!armed);
        }
        for s in session.streams() {
            ui.label(format!("{} ({})", s.name, s.settings.role.label()));
        }
        let _ = &self.params;
    }

    /// The host told us our track's name: it becomes the default stem name. This arrives
    /// whether or not the window is open.
    fn track_info_changed(&mut self, info: TrackInfo) {
        let name = info.name().trim();
        self.stream
            .set_track_name((!name.is_empty()).then(|| name.to_string()));
    }
}
