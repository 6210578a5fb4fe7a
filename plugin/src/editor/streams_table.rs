//! Every instance of the session in one table: name, role, channels, live meter, ring fill,
//! dropped frames, state and problems. Click a name to rename the track or change its role
//! from here.

use super::meters::{self, MeterBank};
use super::name_field::{NameField, Rename};
use super::this_instance::{role_and_channels, use_track_name_button};
use super::{banner, colors, storage, Phase, Snapshot};
use crate::engine::{Session, SessionStatus, StreamId, StreamView};
use egui::{Color32, Frame, Grid, RichText, Stroke, Ui, Vec2};
use parking_lot::Mutex;
use std::sync::atomic::Ordering;

/// Size of a row's meter, in logical pixels.
const ROW_METER_SIZE: Vec2 = Vec2::new(110.0, 12.0);
/// Width of the selected row's name field, in logical pixels.
const NAME_FIELD_WIDTH: f32 = 200.0;
/// Width of a row's ring-fill bar, in logical pixels.
const RING_BAR_WIDTH: f32 = 60.0;
/// Characters of a problem shown in its row (hover for the rest).
const PROBLEM_CHARS: usize = 40;
/// Ring fill from which the bar turns amber (the writer is falling behind), and red (it is
/// about to drop audio).
const RING_WARN_FRACTION: f32 = 0.5;
const RING_ALARM_FRACTION: f32 = 0.9;

/// GUI-local state of the table.
#[derive(Debug, Default)]
pub struct TableState {
    /// The row being edited.
    selected: Option<StreamId>,
    name: NameField,
}

/// A row's state, in words, and its colour.
pub fn stream_state(stream: &StreamView, phase: Phase) -> (&'static str, Option<Color32>) {
    let stats = &stream.stats;
    if stats.sample_rate.load(Ordering::Relaxed) == 0 {
        ("not running", Some(colors::WARNING))
    } else if stats.excluded.load(Ordering::Relaxed) {
        ("off", None)
    } else {
        let rendering = stats.rendering.load(Ordering::Relaxed);
        match phase {
            Phase::Idle => ("idle", None),
            Phase::Armed => ("armed", Some(colors::ARMED)),
            // A bounce: StemTap waits for the disk instead of dropping.
            Phase::Recording if rendering => ("recording (render)", Some(colors::RECORD)),
            Phase::Recording => ("recording", Some(colors::RECORD)),
            Phase::Finishing => ("finishing", Some(colors::WARNING)),
        }
    }
}

/// Frames stream `id` dropped in the take being written or, between takes, in the last
/// one (what the Dropped column shows); `None` when that take has no file of the stream, or
/// there was no take yet.
pub fn take_dropped_frames(status: &SessionStatus, id: StreamId) -> Option<u64> {
    match &status.current {
        Some(take) => take.stream(id).map(|s| s.dropped_frames),
        None => status.recent.last()?.stream(id).map(|s| s.dropped_frames),
    }
}

pub fn show(
    ui: &mut Ui,
    session: &Session,
    snap: &Snapshot,
    this: Option<StreamId>,
    state: &mut TableState,
    meters: &Mutex<MeterBank>,
) {
    ui.heading(format!("Tracks in this session ({})", snap.streams.len()));
    if snap.streams.is_empty() {
        ui.weak("No StemTap instance is running.");
        return;
    }
    if state.selected.is_some_and(|id| snap.stream(id).is_none()) {
        state.selected = None;
    }
    let phase = snap.phase();
    egui::ScrollArea::horizontal()
        .id_salt("tracks table scroll")
        .show(ui, |ui| {
            Grid::new("tracks table")
                .num_columns(8)
                .striped(true)
                .spacing([12.0, 4.0])
                .show(ui, |ui| {
                    for title in [
                        "Name", "Role", "Channels", "Level", "Buffer", "Dropped", "State",
                        "Problem",
                    ] {
                        let header = ui.label(RichText::new(title).strong());
                        if title == "Dropped" {
                            header.on_hover_text(
                                "Frames of the take being recorded (or of the last take) \
                                 written as silence because the computer or disk fell behind",
                            );
                        }
                    }
                    ui.end_row();
                    for s in &snap.streams {
                        row(ui, snap, s, this, phase, state, meters);
                    }
                });
        });
    ui.weak("Click a name to rename the track or change its role.");
    if let Some(stream) = state.selected.and_then(|id| snap.stream(id)) {
        edit_selected(ui, session, stream, state);
    }
}

fn row(
    ui: &mut Ui,
    snap: &Snapshot,
    s: &StreamView,
    this: Option<StreamId>,
    phase: Phase,
    state: &mut TableState,
    meters: &Mutex<MeterBank>,
) {
    let selected = state.selected == Some(s.id);
    ui.horizontal(|ui| {
        if ui.selectable_label(selected, &s.name).clicked() {
            state.selected = if selected { None } else { Some(s.id) };
        }
        if this == Some(s.id) {
            ui.weak("(this)");
        }
    });
    ui.label(s.settings.role.label());
    ui.label(match storage::file_channels(s) {
        Some(n) => format!("{} ({n} ch)", s.settings.channel_mode.label()),
        None => s.settings.channel_mode.label().to_string(),
    });
    if meters::meter(ui, &snap.meter(s.id), ROW_METER_SIZE, &s.name).clicked() {
        meters.lock().reset_clip(&s.stats);
    }
    let fill = s.stats.ring_fill_frames.load(Ordering::Relaxed);
    let capacity = s.stats.ring_capacity_frames.load(Ordering::Relaxed);
    let fraction = if capacity == 0 {
        0.0
    } else {
        (fill as f32 / capacity as f32).clamp(0.0, 1.0)
    };
    ring_bar(ui, fraction)
        .on_hover_text("Audio waiting for the disk writer; near 100% it starts dropping");
    dropped_cell(ui, snap, s);
    let (word, color) = stream_state(s, phase);
    match color {
        Some(c) => ui.colored_label(c, word),
        None => ui.label(word),
    };
    match snap.status.stream_error(s.id) {
        Some(e) => {
            // The row already names the stream; the whole line is one hover away.
            let short: String = e.message.chars().take(PROBLEM_CHARS).collect();
            ui.colored_label(colors::ERROR, short)
                .on_hover_text(banner::error_line(snap, e));
        }
        None => {
            ui.label("");
        }
    }
    ui.end_row();
}

/// This take's dropped frames (the last take's between takes), with the stream's lifetime
/// count on hover.
fn dropped_cell(ui: &mut Ui, snap: &Snapshot, s: &StreamView) {
    let lifetime = s.stats.dropped_frames.load(Ordering::Relaxed);
    let which = match (&snap.status.current, snap.status.recent.last()) {
        (Some(_), _) => Some("this take"),
        (None, Some(_)) => Some("the last take"),
        (None, None) => None,
    };
    let dropped = take_dropped_frames(&snap.status, s.id);
    let response = match dropped {
        Some(0) => ui.label("0"),
        Some(n) => ui.colored_label(colors::ERROR, n.to_string()),
        None => ui.weak("–"),
    };
    let in_take = match (dropped, which) {
        (Some(_), Some(which)) => format!("Frames dropped in {which}."),
        (None, Some(which)) => format!("No file in {which}."),
        (_, None) => "No take yet.".to_string(),
    };
    response.on_hover_text(format!(
        "{in_take} {lifetime} frames dropped since this track was loaded."
    ));
}

/// A small fill bar with its percentage, for a ring's fill.
fn ring_bar(ui: &mut Ui, fraction: f32) -> egui::Response {
    let height = ui.text_style_height(&egui::TextStyle::Body);
    let (rect, response) =
        ui.allocate_exact_size(Vec2::new(RING_BAR_WIDTH, height), egui::Sense::hover());
    let text = format!("{:.0}%", fraction * 100.0);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &text));
    if ui.is_rect_visible(rect) {
        let painter = ui.painter_at(rect);
        painter.rect_filled(rect, 2.0, Color32::from_gray(48));
        let color = if fraction >= RING_ALARM_FRACTION {
            colors::ERROR
        } else if fraction >= RING_WARN_FRACTION {
            colors::WARNING
        } else {
            Color32::from_rgb(60, 120, 170)
        };
        let mut fill = rect;
        fill.set_width(rect.width() * fraction);
        painter.rect_filled(fill, 2.0, color);
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            text,
            egui::TextStyle::Body.resolve(ui.style()),
            ui.visuals().strong_text_color(),
        );
    }
    response
}

fn edit_selected(ui: &mut Ui, session: &Session, stream: &StreamView, state: &mut TableState) {
    Frame::group(ui.style())
        .stroke(Stroke::new(1.0, ui.visuals().selection.stroke.color))
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("Edit \"{}\"", stream.name)).strong());
                if ui.button("Done").clicked() {
                    state.selected = None;
                }
            });
            Grid::new("selected track")
                .num_columns(2)
                .spacing([8.0, 6.0])
                .show(ui, |ui| {
                    let label = ui.label("Rename to");
                    ui.horizontal(|ui| {
                        if let Some(Rename(name)) =
                            state
                                .name
                                .show(ui, "table row", &label, stream, NAME_FIELD_WIDTH)
                        {
                            session.rename_stream(stream.id, name);
                        }
                        use_track_name_button(ui, session, stream);
                    });
                    ui.end_row();
                    role_and_channels(ui, session, stream);
                });
        });
}
