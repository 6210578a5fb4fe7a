//! Recent takes, newest first: name, length, file count, problems, the delivery check's
//! verdict (run in the background, see [`delivery`](super::delivery)), "Check again",
//! "Open folder" and "Pack for..." a recipient.

use super::delivery::{CheckState, DeliveryJobs, PackState};
use super::{colors, units, FolderOpener, Snapshot};
use crate::engine::settings::resolve_output_root;
use crate::engine::status::TakeSummary;
use egui::{Grid, RichText, Ui};
use std::path::Path;
use stemtap_delivery::checks::Level;
use stemtap_delivery::pack::Recipient;

/// GUI-local state of the list.
#[derive(Debug, Default)]
pub struct TakesState {
    /// The last "Open folder" failure: (take name, error).
    open_error: Option<(String, String)>,
}

/// A take's problems in words, or `None` when it is clean.
pub fn problems(take: &TakeSummary) -> Option<String> {
    let mut parts = Vec::new();
    if take.dropped_frames > 0 {
        parts.push(format!("{} frames dropped", take.dropped_frames));
    }
    match take.errors {
        0 => {}
        1 => parts.push("1 error".into()),
        n => parts.push(format!("{n} errors")),
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Width of the check column, in points: wide enough for every state, so the grid does not
/// relay itself each time a check moves on.
const CHECK_COLUMN_WIDTH: f32 = 110.0;

/// The check column: the verdict in a word, what it found on hover.
fn check_cell(ui: &mut Ui, check: &CheckState) {
    ui.horizontal(|ui| {
        ui.set_min_width(CHECK_COLUMN_WIDTH);
        check_state(ui, check);
    });
}

fn check_state(ui: &mut Ui, check: &CheckState) {
    match check {
        CheckState::Queued => {
            ui.weak("waiting to check");
        }
        CheckState::Running { done, total } => {
            // The window repaints on its own timer; no spinner (it would never settle).
            let done = done.load(std::sync::atomic::Ordering::Relaxed);
            ui.weak(format!("checking {done}/{total}"));
        }
        CheckState::Done { verdict, details } => {
            let (word, colour) = match verdict {
                Level::Ok => ("ready", colors::OK),
                Level::Warn => ("warnings", colors::WARNING),
                Level::Fail => ("failed", colors::ERROR),
            };
            ui.colored_label(colour, word).on_hover_text(format!(
                "{details}\n\nThe take sheet (take.html) is in the take folder."
            ));
        }
        CheckState::Failed(e) => {
            ui.colored_label(colors::ERROR, "not checked")
                .on_hover_text(e);
        }
    }
}

/// Takes a crash (of this DAW or another) left incomplete in the output folder, with the
/// offer to repair them (`stemtap repair`): every frame that reached the disk comes back.
fn incomplete_takes(ui: &mut Ui, snap: &Snapshot, delivery: &DeliveryJobs) {
    let root = resolve_output_root(snap.settings.output_root.as_deref());
    let (found, repairing) = delivery.incomplete_takes(&root);
    if repairing > 0 {
        ui.weak(format!("Repairing {repairing} take(s)..."));
        return;
    }
    if found.is_empty() {
        return;
    }
    let names: Vec<String> = found
        .iter()
        .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    ui.horizontal(|ui| {
        let what = if found.len() == 1 {
            "1 take was left incomplete".to_string()
        } else {
            format!("{} takes were left incomplete", found.len())
        };
        ui.colored_label(
            colors::WARNING,
            format!("{what} (the DAW stopped before it was finished)."),
        )
        .on_hover_text(names.join("\n"));
        if ui
            .button("Repair")
            .on_hover_text("Recover every frame that reached the disk, give all files one length, mark the take recovered")
            .clicked()
        {
            delivery.repair_all();
        }
    });
}

/// "Pack for..." and how the last pack of this take went.
fn pack_cell(ui: &mut Ui, folder: &Path, delivery: &DeliveryJobs) {
    ui.horizontal(|ui| {
        ui.menu_button("Pack for...", |ui| {
            for recipient in Recipient::ALL {
                let hover = match recipient {
                    Recipient::MixEngineer => "Every multitrack and the mix as a reference, 24-bit",
                    Recipient::Mastering => "The stems and the mix, 24-bit",
                    Recipient::Remixer => "The stems and the mix, tempo in the names",
                    Recipient::Vocalist => "The stems, the mix and an instrumental",
                };
                if ui.button(recipient.label()).on_hover_text(hover).clicked() {
                    delivery.pack(folder, recipient);
                    ui.close();
                }
            }
        })
        .response
        .on_hover_text("Check the take, then make a zip for this person next to the take folder");
        match delivery.pack_state(folder) {
            None => {}
            Some((_, PackState::Queued)) => {
                ui.weak("waiting");
            }
            Some((_, PackState::Running(percent))) => {
                let at = percent.load(std::sync::atomic::Ordering::Relaxed);
                ui.weak(format!("packing {at}%"));
            }
            Some((r, PackState::Done(zip))) => {
                ui.colored_label(colors::OK, format!("packed for {}", r.label()))
                    .on_hover_text(zip.display().to_string());
            }
            Some((r, PackState::Failed(e))) => {
                ui.colored_label(colors::ERROR, format!("{} pack failed", r.label()))
                    .on_hover_text(e);
            }
        }
    });
}

pub fn show(
    ui: &mut Ui,
    snap: &Snapshot,
    state: &mut TakesState,
    open_folder: &FolderOpener,
    delivery: &DeliveryJobs,
) {
    ui.heading("Recent takes");
    incomplete_takes(ui, snap, delivery);
    if snap.status.recent.is_empty() {
        ui.weak("No takes yet.");
        return;
    }
    Grid::new("recent takes")
        .num_columns(8)
        .striped(true)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            for title in ["Take", "Length", "Files", "Problems", "Check", "", "", ""] {
                ui.label(RichText::new(title).strong());
            }
            ui.end_row();
            for take in snap.status.recent.iter().rev() {
                ui.label(&take.name);
                ui.label(units::frames_clock(take.length_frames, take.sample_rate));
                ui.label(take.files.to_string());
                match problems(take) {
                    Some(p) => ui.colored_label(colors::ERROR, p),
                    None => ui.colored_label(colors::OK, "none"),
                };
                check_cell(ui, &delivery.check(&take.folder));
                if ui
                    .button("Check again")
                    .on_hover_text("Check this take again: loudness, peaks, tails, the null test")
                    .clicked()
                {
                    delivery.recheck(&take.folder);
                }
                if ui
                    .button("Open folder")
                    .on_hover_text(take.folder.display().to_string())
                    .clicked()
                {
                    state.open_error = open_folder(&take.folder)
                        .err()
                        .map(|e| (take.name.clone(), e));
                }
                pack_cell(ui, &take.folder, delivery);
                ui.end_row();
            }
        });
    if let Some((name, e)) = &state.open_error {
        ui.colored_label(colors::ERROR, format!("Cannot open {name}: {e}"));
    }
}
