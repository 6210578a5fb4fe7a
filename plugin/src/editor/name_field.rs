//! The stem-name text field, used for this instance and for any row of the tracks table.
//!
//! The text is committed when the field loses focus (Enter, Tab, a click elsewhere); Escape
//! gives the edit up. While the field is not being edited it follows the session, so a rename
//! made in another instance's window shows up here.

use crate::engine::{StreamId, StreamView};
use egui::{Key, Response, TextEdit, Ui};

/// GUI-local state of one name field.
#[derive(Debug, Default)]
pub struct NameField {
    /// What the user is typing.
    text: String,
    /// The stream `text` belongs to (the tracks table's field switches streams).
    stream: Option<StreamId>,
}

/// The user committed a new name override; `None` goes back to the host's track name.
#[derive(Debug, Clone, PartialEq)]
pub struct Rename(pub Option<String>);

impl NameField {
    /// Show a single-line field for `stream`'s name override, named by the widget `label`
    /// (for screen readers and tests). The hint (grey while the field is empty) is the name
    /// the stream gets without an override. `id_salt` keeps the field's focus across frames
    /// whatever else the window shows.
    pub fn show(
        &mut self,
        ui: &mut Ui,
        id_salt: &str,
        label: &Response,
        stream: &StreamView,
        width: f32,
    ) -> Option<Rename> {
        let current = stream.settings.name.clone().unwrap_or_default();
        let edit_id = egui::Id::unique(("stemtap name field", id_salt));
        let editing = ui.memory(|m| m.has_focus(edit_id));
        if !editing || self.stream != Some(stream.id) {
            self.text.clone_from(&current);
            self.stream = Some(stream.id);
        }
        let fallback = stream
            .track_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| stream.name.clone());
        let response = ui
            .add(
                TextEdit::singleline(&mut self.text)
                    .id(edit_id)
                    .hint_text(fallback)
                    .desired_width(width),
            )
            .labelled_by(label.id);
        if !response.lost_focus() {
            return None;
        }
        if ui.input(|i| i.key_pressed(Key::Escape)) {
            self.text = current;
            return None;
        }
        let typed = self.text.trim();
        let new = (!typed.is_empty()).then(|| typed.to_string());
        (new != stream.settings.name).then_some(Rename(new))
    }
}
