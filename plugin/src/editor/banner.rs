//! The problem banner: write errors, bad folders and dropouts stay on top of the window, in
//! red, until the user acknowledges them.
//!
//! Two sources: the session's error list (kept by the writer until
//! [`Session::acknowledge_errors`]), and dropouts counted live in the take being recorded
//! (the writer reports those only when the take ends).

use super::{colors, Phase, Snapshot};
use crate::engine::{Session, StreamId};
use egui::{Color32, Frame, RichText, Stroke, Ui};
use std::collections::HashMap;

/// Errors listed in full; older ones are counted.
const BANNER_MAX_LINES: usize = 4;

/// GUI-local banner state.
#[derive(Debug, Default)]
pub struct BannerState {
    /// Each stream's `dropped_frames` when the current take started (or when this window
    /// first saw it, or at the last acknowledgement): what is above it dropped in this take.
    drop_baseline: HashMap<StreamId, u64>,
    /// Phase seen last frame, to notice a take starting.
    last_phase: Option<Phase>,
}

/// Streams that dropped audio in the take being recorded: (name, frames).
fn live_drops(snap: &Snapshot, state: &mut BannerState) -> Vec<(String, u64)> {
    let phase = snap.phase();
    let take_started = phase == Phase::Recording && state.last_phase != Some(Phase::Recording);
    state.last_phase = Some(phase);
    let mut drops = Vec::new();
    for s in &snap.streams {
        let dropped = s
            .stats
            .dropped_frames
            .load(std::sync::atomic::Ordering::Relaxed);
        let base = state.drop_baseline.entry(s.id).or_insert(dropped);
        if take_started || phase == Phase::Idle {
            *base = dropped;
        }
        if phase != Phase::Idle && dropped > *base {
            drops.push((s.name.clone(), dropped - *base));
        }
    }
    drops
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
                        for s in &snap.streams {
                            state.drop_baseline.insert(
                                s.id,
                                s.stats
                                    .dropped_frames
                                    .load(std::sync::atomic::Ordering::Relaxed),
                            );
                        }
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
                ui.colored_label(Color32::WHITE, e);
            }
        });
    ui.add_space(4.0);
}
