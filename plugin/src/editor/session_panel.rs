//! The session's transport: the big Record button, the trigger mode and the state display
//! (idle, armed, recording with clock and take name, finishing).

use super::{colors, units, Phase, Snapshot};
use crate::engine::{Session, TriggerMode};
use egui::{Button, Color32, RichText, Ui, Vec2};

/// Size of the Record button, in logical pixels.
const RECORD_BUTTON_SIZE: Vec2 = Vec2::new(150.0, 48.0);

/// What the armed session waits for, by trigger.
fn waiting_for(trigger: TriggerMode) -> &'static str {
    match trigger {
        TriggerMode::Manual => "waiting for audio from the host",
        TriggerMode::FollowTransport => "waiting for the host to play",
        TriggerMode::FollowHostRecord => "waiting for the host to record",
    }
}

/// The state line: a word, and the details of the take.
pub fn state_text(snap: &Snapshot) -> (String, String) {
    let take = snap.status.current.as_ref();
    let take_clock = || {
        take.map(|t| {
            format!(
                "{}  {}",
                units::frames_clock(t.frames, t.sample_rate),
                t.name
            )
        })
        .unwrap_or_default()
    };
    match snap.phase() {
        Phase::Idle => ("Idle".into(), "Not armed".into()),
        Phase::Armed => ("Armed".into(), waiting_for(snap.settings.trigger).into()),
        Phase::Recording => ("Recording".into(), take_clock()),
        Phase::Finishing => ("Finishing".into(), take_clock()),
    }
}

pub fn show(ui: &mut Ui, session: &Session, snap: &Snapshot, set_record: Option<&dyn Fn(bool)>) {
    let phase = snap.phase();
    ui.horizontal(|ui| {
        let (text, fill) = if snap.armed {
            ("Stop", colors::RECORD)
        } else {
            ("Record", Color32::from_gray(60))
        };
        let button = Button::new(
            RichText::new(text)
                .size(22.0)
                .strong()
                .color(Color32::WHITE),
        )
        .fill(fill)
        .min_size(RECORD_BUTTON_SIZE);
        let hover = if snap.armed {
            "Disarm: every instance stops recording"
        } else {
            "Arm every instance in this session"
        };
        if ui.add(button).on_hover_text(hover).clicked() {
            let on = !snap.armed;
            session.set_armed(on);
            if let Some(set_record) = set_record {
                set_record(on);
            }
        }
        ui.add_space(8.0);
        ui.vertical(|ui| {
            let (word, detail) = state_text(snap);
            let color = match phase {
                Phase::Idle => ui.visuals().text_color(),
                Phase::Armed => colors::ARMED,
                Phase::Recording => colors::RECORD,
                Phase::Finishing => colors::WARNING,
            };
            ui.label(RichText::new(word).size(22.0).strong().color(color));
            ui.label(RichText::new(detail).size(15.0).monospace());
        });
    });
    ui.add_space(4.0);
    ui.horizontal_wrapped(|ui| {
        ui.label("Start recording:");
        for mode in TriggerMode::ALL {
            let selected = snap.settings.trigger == mode;
            if ui.selectable_label(selected, mode.label()).clicked() && !selected {
                session.set_trigger(mode);
            }
        }
    });
}
