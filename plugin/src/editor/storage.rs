//! Where takes go and how big they get: the output folder (validated, with the
//! `STEMTAP_OUTPUT_DIR` override shown), the file format, free disk space and the recording
//! time it allows.
//!
//! The folder check and the free-space query touch the file system, so they run when the
//! folder changes and then every [`FOLDER_CHECK_INTERVAL_MS`] and [`FREE_SPACE_INTERVAL_MS`],
//! never every frame.

use super::{colors, units, FolderOpener, Snapshot};
use crate::engine::settings::{default_output_root, resolve_output_root, OUTPUT_DIR_ENV};
use crate::engine::{SampleFormat, Session, SessionSettings, StreamView};
use egui::{Grid, Key, TextEdit, Ui};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often the check of a ready folder (which creates and removes a probe file in it) is
/// repeated while the window is open; other states are re-checked with free space.
pub const FOLDER_CHECK_INTERVAL_MS: u64 = 30_000;

/// How often free space is refreshed while the window is open.
pub const FREE_SPACE_INTERVAL_MS: u64 = 2000;

/// Below this much recording time left, the estimate turns red. Seconds.
const LOW_TIME_WARNING_S: f64 = 15.0 * 60.0;

/// Room left next to the folder field for its buttons, and the field's smallest width, in
/// logical pixels.
const FOLDER_BUTTONS_WIDTH: f32 = 120.0;
const MIN_FOLDER_FIELD_WIDTH: f32 = 140.0;

/// What the output folder is fit for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderCheck {
    /// Exists and a file can be created in it.
    Ready,
    /// Does not exist yet; the first take creates it (its nearest existing parent is not
    /// read-only).
    WillBeCreated,
    /// Something that is not a folder is in the way.
    NotAFolder,
    /// Exists, but nothing can be written there.
    NotWritable(String),
    /// Does not exist and cannot be created.
    CannotCreate(String),
}

impl FolderCheck {
    pub fn is_problem(&self) -> bool {
        !matches!(self, FolderCheck::Ready | FolderCheck::WillBeCreated)
    }

    pub fn describe(&self) -> String {
        match self {
            FolderCheck::Ready => "Folder is ready.".into(),
            FolderCheck::WillBeCreated => {
                "Folder does not exist yet; the first take creates it.".into()
            }
            FolderCheck::NotAFolder => "This is a file, not a folder: takes cannot go here.".into(),
            FolderCheck::NotWritable(e) => format!("Folder is not writable: {e}"),
            FolderCheck::CannotCreate(e) => format!("Folder is missing and cannot be created: {e}"),
        }
    }
}

/// Try to create (and remove) a file in `dir`: the only check that answers for every file
/// system, ACL and read-only mount.
fn probe_writable(dir: &Path) -> Result<(), String> {
    let probe = dir.join(format!(".stemtap-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| e.to_string())?;
    // The probe is ours and empty; failing to remove it leaves a harmless dot-file.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The nearest folder at or above `path` that exists.
fn existing_ancestor(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.is_dir())
}

/// Check a would-be output folder. Touches the file system: in an existing folder it creates
/// and removes a probe file.
pub fn check_folder(path: &Path) -> FolderCheck {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_dir() => FolderCheck::NotAFolder,
        Ok(_) => match probe_writable(path) {
            Ok(()) => FolderCheck::Ready,
            Err(e) => FolderCheck::NotWritable(e),
        },
        Err(_) => {
            // A file anywhere on the way makes the folder impossible to create.
            if let Some(file) = path.ancestors().skip(1).find(|p| p.is_file()) {
                return FolderCheck::CannotCreate(format!("{} is a file", file.display()));
            }
            // Only look at the parent: probing it would leave traces in the user's folders.
            match existing_ancestor(path) {
                Some(parent) => match std::fs::metadata(parent) {
                    Ok(meta) if meta.permissions().readonly() => {
                        FolderCheck::CannotCreate(format!("{} is read-only", parent.display()))
                    }
                    Ok(_) => FolderCheck::WillBeCreated,
                    Err(e) => FolderCheck::CannotCreate(format!("{}: {e}", parent.display())),
                },
                None => FolderCheck::CannotCreate("no existing parent folder".into()),
            }
        }
    }
}

/// Free space for an unprivileged user on the file system that holds `path` (or would hold
/// it, once created).
pub fn available_space(path: &Path) -> Option<u64> {
    fs4::available_space(existing_ancestor(path)?).ok()
}

/// A stream's sample rate; `None` while the host has not started audio on it.
pub fn stream_sample_rate(stream: &StreamView) -> Option<u32> {
    let rate = stream.stats.sample_rate.load(Ordering::Relaxed);
    (rate > 0).then_some(rate)
}

/// Channels the stream's file gets with its current input and channel mode (`None` while
/// not running).
pub fn file_channels(stream: &StreamView) -> Option<u16> {
    let input = stream.stats.input_channels.load(Ordering::Relaxed) as u16;
    (input > 0).then(|| stream.settings.channel_mode.file_channels(input))
}

/// Bytes per second a take writes: sample rate x file channels x bytes per sample, summed
/// over the streams that would get a file (running, record enable on).
pub fn bytes_per_second(streams: &[StreamView], format: SampleFormat) -> u64 {
    streams
        .iter()
        .filter(|s| !s.stats.excluded.load(Ordering::Relaxed))
        .filter_map(|s| {
            let rate = stream_sample_rate(s)?;
            let channels = file_channels(s)?;
            Some(rate as u64 * channels as u64 * format.bytes_per_sample())
        })
        .sum()
}

/// Seconds of recording `free` bytes hold at `bytes_per_second` (infinite at zero rate).
pub fn recording_seconds(free: u64, bytes_per_second: u64) -> f64 {
    if bytes_per_second == 0 {
        f64::INFINITY
    } else {
        free as f64 / bytes_per_second as f64
    }
}

/// The last file-system checks, reused until the folder changes or they are too old.
#[derive(Debug, Clone)]
struct CachedCheck {
    path: PathBuf,
    checked_at: Instant,
    check: FolderCheck,
    free_at: Instant,
    free: Option<u64>,
}

/// GUI-local state of the section.
#[derive(Debug, Default)]
pub struct StorageState {
    /// The folder field's text while the user edits it.
    text: String,
    cached: Option<CachedCheck>,
    /// The last "Open" failure, shown under the folder.
    open_error: Option<String>,
}

impl StorageState {
    fn check(&mut self, path: &Path, now: Instant) -> &CachedCheck {
        let older_than =
            |t: Instant, ms: u64| now.saturating_duration_since(t) >= Duration::from_millis(ms);
        match &mut self.cached {
            Some(c) if c.path == path => {
                // Only a ready folder gets a probe file; other states are cheap to re-check.
                let interval = if c.check == FolderCheck::Ready {
                    FOLDER_CHECK_INTERVAL_MS
                } else {
                    FREE_SPACE_INTERVAL_MS
                };
                if older_than(c.checked_at, interval) {
                    c.check = check_folder(path);
                    c.checked_at = now;
                }
                if older_than(c.free_at, FREE_SPACE_INTERVAL_MS) {
                    c.free = available_space(path);
                    c.free_at = now;
                }
            }
            _ => {
                self.cached = Some(CachedCheck {
                    path: path.to_path_buf(),
                    checked_at: now,
                    check: check_folder(path),
                    free_at: now,
                    free: available_space(path),
                });
            }
        }
        self.cached.as_ref().expect("just filled")
    }
}

/// Apply a change the user made, unless it changes nothing (no needless state writes).
fn apply(session: &Session, settings: &SessionSettings, update: impl Fn(&mut SessionSettings)) {
    let mut new = settings.clone();
    update(&mut new);
    if new != *settings {
        session.update_settings(update);
    }
}

pub fn show(
    ui: &mut Ui,
    session: &Session,
    snap: &Snapshot,
    state: &mut StorageState,
    open_folder: &FolderOpener,
) {
    ui.heading("Output");
    let settings = &snap.settings;
    let env_override = std::env::var_os(OUTPUT_DIR_ENV).filter(|v| !v.is_empty());
    let effective = resolve_output_root(settings.output_root.as_deref());
    Grid::new("output settings")
        .num_columns(2)
        .spacing([8.0, 6.0])
        .show(ui, |ui| {
            let label = ui.label("Folder");
            ui.horizontal(|ui| {
                let edit_id = egui::Id::unique("stemtap output folder field");
                if !ui.memory(|m| m.has_focus(edit_id)) {
                    state.text = settings
                        .output_root
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_default();
                }
                let response = ui
                    .add(
                        TextEdit::singleline(&mut state.text)
                            .id(edit_id)
                            .hint_text(default_output_root().display().to_string())
                            .desired_width(
                                (ui.available_width() - FOLDER_BUTTONS_WIDTH)
                                    .max(MIN_FOLDER_FIELD_WIDTH),
                            ),
                    )
                    .labelled_by(label.id);
                if response.lost_focus() && !ui.input(|i| i.key_pressed(Key::Escape)) {
                    let typed = state.text.trim();
                    let root = (!typed.is_empty()).then(|| PathBuf::from(typed));
                    apply(session, settings, |s| s.output_root.clone_from(&root));
                }
                if ui
                    .add_enabled(settings.output_root.is_some(), egui::Button::new("Default"))
                    .on_hover_text("Use the default folder (your music folder)")
                    .clicked()
                {
                    apply(session, settings, |s| s.output_root = None);
                }
                if ui
                    .button("Open")
                    .on_hover_text("Show the folder in the file manager")
                    .clicked()
                {
                    state.open_error = open_folder(&effective).err();
                }
            });
            ui.end_row();

            ui.label("");
            ui.vertical(|ui| {
                if let Some(dir) = &env_override {
                    ui.colored_label(
                        colors::WARNING,
                        format!(
                            "{OUTPUT_DIR_ENV} is set: takes go to {} (the folder above is ignored).",
                            Path::new(dir).display()
                        ),
                    );
                } else if settings.output_root.is_none() {
                    ui.weak(format!("Default: {}", effective.display()));
                }
                let check = state.check(&effective, snap.now).check.clone();
                let color = match check {
                    FolderCheck::Ready => colors::OK,
                    FolderCheck::WillBeCreated => colors::WARNING,
                    _ => colors::ERROR,
                };
                ui.colored_label(color, check.describe());
                if let Some(e) = &state.open_error {
                    ui.colored_label(colors::ERROR, format!("Cannot open the folder: {e}"));
                }
            });
            ui.end_row();

            ui.label("Format");
            ui.horizontal_wrapped(|ui| {
                for format in SampleFormat::ALL {
                    let selected = settings.format == format;
                    if ui.selectable_label(selected, format.label()).clicked() && !selected {
                        apply(session, settings, |s| s.format = format);
                    }
                }
            });
            ui.end_row();

            ui.label("Free space");
            ui.vertical(|ui| space_estimate(ui, snap, state, &effective));
            ui.end_row();
        });
}

fn space_estimate(ui: &mut Ui, snap: &Snapshot, state: &mut StorageState, root: &Path) {
    let Some(free) = state.check(root, snap.now).free else {
        ui.weak("Unknown (no existing folder on the way)");
        return;
    };
    let rate = bytes_per_second(&snap.streams, snap.settings.format);
    let tracks = snap
        .streams
        .iter()
        .filter(|s| stream_sample_rate(s).is_some())
        .filter(|s| !s.stats.excluded.load(Ordering::Relaxed))
        .count();
    let free_text = units::bytes(free);
    if rate == 0 {
        ui.label(format!("{free_text} free; no track is running yet."));
        return;
    }
    let seconds = recording_seconds(free, rate);
    let color = if seconds < LOW_TIME_WARNING_S {
        colors::ERROR
    } else {
        ui.visuals().text_color()
    };
    ui.colored_label(
        color,
        format!(
            "{free_text} free: about {} of recording",
            units::rough_duration(seconds)
        ),
    );
    let tracks = if tracks == 1 {
        "1 track".to_string()
    } else {
        format!("{tracks} tracks")
    };
    ui.weak(format!(
        "{tracks} at {}/s ({})",
        units::bytes(rate),
        snap.settings.format.label()
    ));
}
