//! Peak meters. The audio thread only keeps a running maximum per channel
//! ([`StreamStats::take_peaks`]); the ballistics (decay, peak hold, clip latch) live here, on
//! the GUI side, and run only while a window polls them.
//!
//! `take_peaks` hands each peak to one caller. So that two open windows (say the drum bus's
//! and the master's) do not steal peaks from each other, every window of the process folds
//! its readings into one shared [`MeterBank`]; decay runs on wall-clock time, so the meters
//! move the same whichever window polls.

use crate::engine::StreamStats;
use egui::{Color32, CornerRadius, Rect, Response, Sense, Stroke, Ui, Vec2, WidgetInfo};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Weak};
use std::time::{Duration, Instant};

/// Bottom of the meter scale, in dBFS; anything quieter reads as empty.
pub const METER_FLOOR_DB: f32 = -60.0;

/// How fast the bar and the released peak-hold mark fall, in dB per second.
pub const METER_DECAY_DB_PER_S: f32 = 24.0;

/// How long the peak-hold mark stays put before it falls, in milliseconds.
pub const PEAK_HOLD_MS: u64 = 1500;

/// A peak at or above this linear level lights the clip indicator (0 dBFS: an integer file
/// would clip there).
pub const CLIP_LEVEL: f32 = 1.0;

/// A reading taken after a pause this long (no window was open) holds peaks from the past:
/// it is dropped rather than shown as if it were happening now. Milliseconds.
pub const STALE_READING_MS: u64 = 500;

/// Scale marks drawn over the bars, in dBFS.
const METER_TICKS_DB: [f32; 4] = [-48.0, -24.0, -12.0, -6.0];

/// Where the scale turns from green to amber, and from amber to red, in dBFS.
const METER_AMBER_DB: f32 = -18.0;
const METER_RED_DB: f32 = -6.0;

/// One channel's ballistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelMeter {
    /// The bar: jumps up to each peak, falls at [`METER_DECAY_DB_PER_S`]. dBFS.
    pub level_db: f32,
    /// The peak-hold mark. dBFS.
    pub hold_db: f32,
    /// Until when the hold mark stays put.
    hold_until: Option<Instant>,
    /// Latched when a peak reached [`CLIP_LEVEL`]; cleared by a click on the meter.
    pub clipped: bool,
}

impl Default for ChannelMeter {
    fn default() -> Self {
        Self {
            level_db: METER_FLOOR_DB,
            hold_db: METER_FLOOR_DB,
            hold_until: None,
            clipped: false,
        }
    }
}

/// A stream's meter: two channels (a mono input only ever lights the first).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MeterState {
    pub channels: [ChannelMeter; 2],
    /// When the stream's peaks were last taken; `None` before the first reading.
    last_poll: Option<Instant>,
}

/// Linear magnitude to dBFS, floored at [`METER_FLOOR_DB`].
pub fn to_db(level: f32) -> f32 {
    if level > 0.0 {
        (20.0 * level.log10()).max(METER_FLOOR_DB)
    } else {
        METER_FLOOR_DB
    }
}

impl MeterState {
    /// Fold in the peaks taken at `now` (linear magnitudes since the previous reading).
    pub fn update(&mut self, peaks: [f32; 2], now: Instant) {
        let elapsed = self.last_poll.map(|t| now.saturating_duration_since(t));
        self.last_poll = Some(now);
        let fall = elapsed.map_or(0.0, |d| d.as_secs_f32() * METER_DECAY_DB_PER_S);
        let stale = elapsed.is_none_or(|d| d > Duration::from_millis(STALE_READING_MS));
        for (meter, &peak) in self.channels.iter_mut().zip(&peaks) {
            let peak = if stale { 0.0 } else { peak };
            let peak_db = to_db(peak);
            meter.level_db = (meter.level_db - fall).max(peak_db).max(METER_FLOOR_DB);
            let holding = meter.hold_until.is_some_and(|until| now < until);
            if peak_db >= meter.hold_db || !holding {
                if peak_db >= meter.hold_db {
                    meter.hold_db = peak_db;
                    meter.hold_until = Some(now + Duration::from_millis(PEAK_HOLD_MS));
                } else {
                    meter.hold_db = (meter.hold_db - fall).max(meter.level_db);
                }
            }
            if peak >= CLIP_LEVEL {
                meter.clipped = true;
            }
        }
    }

    pub fn any_clipped(&self) -> bool {
        self.channels.iter().any(|c| c.clipped)
    }

    pub fn reset_clip(&mut self) {
        for c in &mut self.channels {
            c.clipped = false;
        }
    }
}

/// The meters of every stream, shared by every open window of the process.
#[derive(Default)]
pub struct MeterBank {
    /// Keyed by the address of the stream's `StreamStats`; the `Weak` tells a live stream
    /// from a new one that reuses the address.
    entries: HashMap<usize, (Weak<StreamStats>, MeterState)>,
}

static SHARED_BANK: LazyLock<Arc<Mutex<MeterBank>>> = LazyLock::new(Default::default);

impl MeterBank {
    /// The bank every window of this process shares.
    pub fn shared() -> Arc<Mutex<MeterBank>> {
        SHARED_BANK.clone()
    }

    /// Take the stream's peaks, fold them in and return its meter.
    pub fn poll(&mut self, stats: &Arc<StreamStats>, now: Instant) -> MeterState {
        let entry = self.entry(stats);
        entry.update(stats.take_peaks(), now);
        *entry
    }

    pub fn reset_clip(&mut self, stats: &Arc<StreamStats>) {
        self.entry(stats).reset_clip();
    }

    /// Forget streams that are gone.
    pub fn prune(&mut self) {
        self.entries.retain(|_, (weak, _)| weak.strong_count() > 0);
    }

    fn entry(&mut self, stats: &Arc<StreamStats>) -> &mut MeterState {
        let key = Arc::as_ptr(stats) as usize;
        let slot = self
            .entries
            .entry(key)
            .or_insert_with(|| (Arc::downgrade(stats), MeterState::default()));
        if !std::ptr::eq(slot.0.as_ptr(), Arc::as_ptr(stats)) || slot.0.strong_count() == 0 {
            *slot = (Arc::downgrade(stats), MeterState::default());
        }
        &mut slot.1
    }
}

/// A meter reading as text: `-12.3 dB`, or `-inf dB` at the floor.
pub fn db_text(db: f32) -> String {
    if db > METER_FLOOR_DB {
        format!("{db:.1} dB")
    } else {
        "-inf dB".into()
    }
}

fn scale_x(rect: Rect, db: f32) -> f32 {
    let t = ((db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0);
    rect.left() + t * rect.width()
}

fn zone_color(db: f32) -> Color32 {
    if db >= METER_RED_DB {
        Color32::from_rgb(230, 70, 60)
    } else if db >= METER_AMBER_DB {
        Color32::from_rgb(230, 190, 60)
    } else {
        Color32::from_rgb(70, 190, 90)
    }
}

/// Draw a horizontal two-channel meter with a clip light at its right end. Clicking it clears
/// the clip light. `name` labels it for screen readers and tests ("<name> meter").
pub fn meter(ui: &mut Ui, state: &MeterState, size: Vec2, name: &str) -> Response {
    let (rect, response) = ui.allocate_exact_size(size, Sense::click());
    let label = format!("{name} meter");
    response.widget_info(|| WidgetInfo::labeled(egui::Role::Button, true, &label));
    if ui.is_rect_visible(rect) {
        let painter = ui.painter_at(rect);
        let clip_w = (size.y * 0.9).clamp(8.0, 16.0);
        let bars = Rect::from_min_max(
            rect.min,
            egui::pos2(rect.right() - clip_w - 2.0, rect.bottom()),
        );
        let clip = Rect::from_min_max(egui::pos2(rect.right() - clip_w, rect.top()), rect.max);
        painter.rect_filled(bars, CornerRadius::same(2), Color32::from_gray(48));
        painter.rect_stroke(
            bars,
            CornerRadius::same(2),
            Stroke::new(1.0, Color32::from_gray(70)),
            egui::StrokeKind::Inside,
        );
        let gap = 1.0;
        let bar_h = (bars.height() - gap) / 2.0;
        for (i, ch) in state.channels.iter().enumerate() {
            let top = bars.top() + i as f32 * (bar_h + gap);
            let row = Rect::from_min_max(
                egui::pos2(bars.left(), top),
                egui::pos2(bars.right(), top + bar_h),
            );
            // Green, amber and red segments up to the current level.
            let mut from = METER_FLOOR_DB;
            for (to, color_db) in [(METER_AMBER_DB, -30.0), (METER_RED_DB, -12.0), (0.0, 0.0)] {
                let top_db = ch.level_db.min(to);
                if top_db > from {
                    let seg = Rect::from_min_max(
                        egui::pos2(scale_x(row, from), row.top()),
                        egui::pos2(scale_x(row, top_db), row.bottom()),
                    );
                    painter.rect_filled(seg, CornerRadius::ZERO, zone_color(color_db));
                }
                from = to;
            }
            if ch.hold_db > METER_FLOOR_DB {
                let x = scale_x(row, ch.hold_db).min(row.right() - 1.0);
                painter.line_segment(
                    [egui::pos2(x, row.top()), egui::pos2(x, row.bottom())],
                    Stroke::new(2.0, zone_color(ch.hold_db)),
                );
            }
        }
        for tick_db in METER_TICKS_DB {
            let x = scale_x(bars, tick_db);
            painter.line_segment(
                [egui::pos2(x, bars.top()), egui::pos2(x, bars.bottom())],
                Stroke::new(1.0, Color32::from_gray(90)),
            );
        }
        let clip_color = if state.any_clipped() {
            Color32::from_rgb(240, 40, 40)
        } else {
            Color32::from_gray(60)
        };
        painter.rect_filled(clip, CornerRadius::same(2), clip_color);
    }
    let hover = format!(
        "Peak hold {} / {}{}\nClick to clear the clip light.",
        db_text(state.channels[0].hold_db),
        db_text(state.channels[1].hold_db),
        if state.any_clipped() {
            " - CLIPPED"
        } else {
            ""
        },
    );
    response.on_hover_text(hover)
}
