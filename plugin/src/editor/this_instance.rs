//! "This track": the stem name, role and channel mode of the instance whose window this is,
//! its input meter, and where in the chain it belongs.

use super::meters::{self, MeterBank};
use super::name_field::{NameField, Rename};
use super::{colors, Snapshot};
use crate::engine::{ChannelMode, Role, Session, StreamId, StreamView};
use egui::{Grid, Ui, Vec2};
use parking_lot::Mutex;
use std::sync::atomic::Ordering;

/// Width of the input meter, in logical pixels.
const FIELD_WIDTH: f32 = 220.0;
/// Room kept for the "Use track name" button next to the name field, and the field's
/// smallest width, in logical pixels.
const USE_TRACK_NAME_WIDTH: f32 = 115.0;
const MIN_FIELD_WIDTH: f32 = 120.0;
/// Height of the input meter, in logical pixels.
const METER_HEIGHT: f32 = 18.0;

/// GUI-local state of the section.
#[derive(Debug, Default)]
pub struct ThisInstanceState {
    name: NameField,
}

/// Where StemTap belongs in the chain for each role.
pub fn placement_hint(role: Role) -> &'static str {
    match role {
        Role::Stem => "Put StemTap last on the bus.",
        Role::Multitrack => "Put StemTap first on the track, before any processing.",
        Role::Mix => "Put StemTap last on the master.",
    }
}

/// Where the stream's name comes from, in words.
pub fn name_source(stream: &StreamView) -> String {
    match (&stream.settings.name, &stream.track_name) {
        (Some(_), Some(track)) => format!("Your name (the host calls this track \"{track}\")"),
        (Some(_), None) => "Your name".into(),
        (None, Some(_)) => "From the host's track name".into(),
        (None, None) => "Default name (the host gives no track name)".into(),
    }
}

/// The channel mode a stream gets when its role changes: multitracks are often mono
/// sources on stereo tracks, so Stereo becomes Auto for them (a mono file when both channels
/// were identical); stems and the mix go to a mastering engineer as stereo files, so Auto
/// goes back to Stereo for them. Mono, chosen on purpose, stays.
pub fn channel_mode_for_role(role: Role, current: ChannelMode) -> ChannelMode {
    match (role, current) {
        (Role::Multitrack, ChannelMode::Stereo) => ChannelMode::Auto,
        (Role::Stem | Role::Mix, ChannelMode::Auto) => ChannelMode::Stereo,
        (_, mode) => mode,
    }
}

/// Role and channel-mode pickers for `stream`, shared with the tracks table's editor.
pub fn role_and_channels(ui: &mut Ui, session: &Session, stream: &StreamView) {
    ui.label("Role");
    ui.horizontal(|ui| {
        for role in Role::ALL {
            let selected = stream.settings.role == role;
            if ui.selectable_label(selected, role.label()).clicked() && !selected {
                session.update_stream(stream.id, |s| {
                    s.role = role;
                    s.channel_mode = channel_mode_for_role(role, s.channel_mode);
                });
            }
        }
    });
    ui.end_row();
    ui.label("Channels");
    ui.horizontal(|ui| {
        for mode in ChannelMode::ALL {
            let selected = stream.settings.channel_mode == mode;
            let hover = match mode {
                ChannelMode::Stereo => "As many channels as the input",
                ChannelMode::Mono => "One channel: the average of the input channels",
                ChannelMode::Auto => {
                    "Mono when both channels were identical for the whole take (a mono source on a stereo track), else stereo"
                }
            };
            if ui
                .selectable_label(selected, mode.label())
                .on_hover_text(hover)
                .clicked()
                && !selected
            {
                session.update_stream(stream.id, |s| s.channel_mode = mode);
            }
        }
    });
    ui.end_row();
}

/// The "use track name" button: drop the name override.
pub fn use_track_name_button(ui: &mut Ui, session: &Session, stream: &StreamView) {
    let has_override = stream.settings.name.is_some();
    let hover = match &stream.track_name {
        Some(track) => format!("Name the file \"{track}\", after the host's track"),
        None => "Forget your name; the host gives no track name, so the default is used".into(),
    };
    if ui
        .add_enabled(has_override, egui::Button::new("Use track name"))
        .on_hover_text(hover)
        .clicked()
    {
        session.rename_stream(stream.id, None);
    }
}

pub fn show(
    ui: &mut Ui,
    session: &Session,
    snap: &Snapshot,
    id: StreamId,
    state: &mut ThisInstanceState,
    meters: &Mutex<MeterBank>,
) {
    ui.heading("This track");
    let Some(stream) = snap.stream(id) else {
        ui.weak("This instance is not registered with the session.");
        return;
    };
    Grid::new("this instance")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Stem name");
            ui.horizontal(|ui| {
                let width = (ui.available_width() - USE_TRACK_NAME_WIDTH).max(MIN_FIELD_WIDTH);
                let edit = state.name.show(ui, "this instance", &label, stream, width);
                if let Some(Rename(name)) = edit {
                    session.rename_stream(id, name);
                }
                use_track_name_button(ui, session, stream);
            });
            ui.end_row();
            ui.label("");
            ui.weak(name_source(stream));
            ui.end_row();
            role_and_channels(ui, session, stream);
            ui.label("Input");
            let meter = snap.meter(id);
            if meters::meter(ui, &meter, Vec2::new(FIELD_WIDTH, METER_HEIGHT), "Input").clicked() {
                meters.lock().reset_clip(&stream.stats);
            }
            ui.end_row();
        });
    ui.label(placement_hint(stream.settings.role));
    if stream.stats.excluded.load(Ordering::Relaxed) {
        ui.colored_label(
            colors::WARNING,
            "Record enable is off: this track is left out of takes.",
        );
    }
    if stream.stats.sample_rate.load(Ordering::Relaxed) == 0 {
        ui.colored_label(
            colors::WARNING,
            "The host has not started audio on this track yet.",
        );
    }
}
