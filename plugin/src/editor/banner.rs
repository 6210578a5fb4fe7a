//! The problem banner: write errors, bad folders and dropouts stay on top of the window, in
//! red, until the user acknowledges them.
//!
//! Two sources: the session's error list (kept by the writer until
//! [`Session::acknowledge_errors`]), and dropouts in the take being recorded, which the writer
//! publishes per stream as it writes them (it adds them to the error list when the take ends).

use super::{colors, Snapshot};
use crate::engine::status::SessionError;
use crate::engine::{Session, StreamId};
use egui::{Color32, Frame, RichText, Stroke, Ui};
use std::collections::HashMap;

/// Errors listed in full; older ones are counted.
const BANNER_MAX_LINES: usize = 4;

/// GUI-local banner state.
#[derive(Debug, Default)]
pub struct BannerState {
    /// Dropped frames per stream the user has acknowledged, and the take they belong to:
    /// only frames dropped since then show.
    acknowledged_drops: Option<(String, HashMap<StreamId, u64>)>,
}

/// Streams that dropped audio in the take being recorded, and not acknowledged yet:
/// (name, frames).
fn live_drops(snap: &Snapshot, state: &BannerState) -> Vec<(String, u64)> {
    let Some(take) = &snap.status.current else {
        return Vec::new();
    };
    let acknowledged = state
        .acknowledged_drops
        .as_ref()
        .filter(|(name, _)| *name == take.name)
        .map(|(_, seen)| seen);
    take.streams
        .iter()
        .filter_map(|s| {
            let seen = acknowledged
                .and_then(|a| a.get(&s.id))
                .copied()
                .unwrap_or(0);
            let name = snap.stream(s.id).map(|v| v.name.clone())?;
            (s.dropped_frames > seen).then(|| (name, s.dropped_frames - seen))
        })
        .collect()
}

/// One error as the banner words it, under the stream's current name.
pub fn error_line(snap: &Snapshot, error: &SessionError) -> String {
    let current = error
        .stream
        .as_ref()
        .and_then(|s| snap.stream(s.id))
        .map(|s| s.name.as_str());
    error.describe(current)
}

/// Show the banner if there is anything to say.
pub fn show(ui: &mut Ui, session: &Session, snap: &Snapshot, state: &mut BannerState) {
    let drops = live_drops(snap, state);
    let errors = &snap.status.errors;
    if errors.is_empty() && drops.is_empty() {
        return;
    }
    let count = errors.len() + drops.len();
    Frame::new()
        .fill(Color32::from_rgb(90, 20, 20))
        .stroke(Stroke::new(1.5, colors::ERROR))
        .inner_margin(8.0)
        .corner_radius(4.0)
        .show(ui, |ui| {
            ui.set_width(ui.available_width());
            ui.horizontal_wrapped(|ui| {
                let title = if count == 1 {
                    "1 problem needs your attention".to_string()
                } else {
                    format!("{count} problems need your attention")
                };
                ui.label(
                    RichText::new(title)
                        .strong()
                        .color(Color32::WHITE)
                        .size(16.0),
                );
                {
                    if ui
                        .button("Acknowledge")
                        .on_hover_text("Clear these messages (take.json keeps them)")
                        .clicked()
                    {
                        session.acknowledge_errors();
                        state.acknowledged_drops = snap.status.current.as_ref().map(|take| {
                            let seen = take.streams.iter().map(|s| (s.id, s.dropped_frames));
                            (take.name.clone(), seen.collect())
                        });
                    }
                }
            });
            for (name, frames) in &drops {
                ui.colored_label(
                    Color32::WHITE,
                    format!(
                        "Dropout: {name} lost {frames} frames in this take (written as \
                         silence). The computer or disk cannot keep up."
                    ),
                );
            }
            let hidden = errors.len().saturating_sub(BANNER_MAX_LINES);
            if hidden > 0 {
                ui.colored_label(Color32::LIGHT_GRAY, format!("{hidden} earlier problems"));
            }
            for e in errors.iter().skip(hidden) {
                ui.colored_label(Color32::WHITE, error_line(snap, e));
            }
        });
    ui.add_space(4.0);
}
