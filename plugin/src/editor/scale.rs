//! How big StemTap's window is and at which scale it draws: the bookkeeping behind
//! [`StemTapEditor`](super::StemTapEditor)'s `size()`, `set_size()`, `adjust_size()` and
//! `set_fallback_scale_factor()`.
//!
//! # The rule
//! The window's scale is, in order: the host's (CLAP `gui.set_scale`, VST3
//! `setContentScaleFactor`; the CLAP spec says it overrides what the system says), else the
//! desktop's (X11: `Xft.dpi` / 96; Windows: the monitor's DPI), else 1. Its size in native
//! pixels is its size in points (820 x 600 at first; the user's size once resized) times
//! that scale, and `get_size` answers exactly the size of the window that exists.
//! macOS is the exception: native sizes are points there and the backing scale is the
//! system's business, so the host's scale is refused.
//!
//! # Why this is not left to the toolkits
//! baseview (0.4.2, X11) sizes a new window with `Xft.dpi` only and ignores the host's scale
//! when it creates one, but draws with the host's scale; and it ignores a host's scale
//! altogether where `Xft.dpi` is set. nice-plug-egui (0.6.0) answers `size()` at scale 1
//! until the window has reported a resize. So StemTap never hands the host's scale to
//! baseview: baseview's scale is always the desktop's (the *toolkit scale*), and the
//! difference to the host's scale is egui's zoom factor, fixed when the window is created.
//! See `docs/window-scaling.md`.

use nice_plug::editor::dpi::{LogicalSize, NativeSize, PhysicalSize, Size};
use std::sync::atomic::{AtomicU64, Ordering};

/// The smallest and largest scale StemTap accepts from a host.
pub const SCALE_RANGE: (f64, f64) = (0.25, 8.0);

/// Two scales closer than this are the same (host scales come as f64, egui's zoom is f32).
const SAME_SCALE: f64 = 1e-4;

/// The last toolkit scale any StemTap window of this process saw (f64 bits; 0: none yet).
/// The desktop's scale cannot be known before a window exists (StemTap links no X11 client
/// of its own), and a VST3 host may ask for the size before it opens the window.
static DESKTOP_SCALE: AtomicU64 = AtomicU64::new(0);

/// The desktop's scale as the last window saw it, if a window has been opened.
pub fn desktop_scale() -> Option<f64> {
    let bits = DESKTOP_SCALE.load(Ordering::Relaxed);
    (bits != 0)
        .then(|| f64::from_bits(bits))
        .filter(|s| usable(*s))
}

fn set_desktop_scale(scale: f64) {
    if usable(scale) {
        DESKTOP_SCALE.store(scale.to_bits(), Ordering::Relaxed);
    }
}

/// Whether a scale is one StemTap will draw at.
pub fn usable(scale: f64) -> bool {
    scale.is_finite() && (SCALE_RANGE.0..=SCALE_RANGE.1).contains(&scale)
}

/// Whether the host's scale applies on this platform (not on macOS: there native sizes are
/// points and the system scales).
pub const HOST_SCALE_APPLIES: bool = !cfg!(target_os = "macos");

/// The window's size and scale, shared by the editor, its open window and the window's
/// `resized` callback (which runs on baseview's window thread on X11).
#[derive(Debug, Clone)]
pub struct Sizing {
    /// The window's size in points (egui's logical pixels): what the user sees as "the
    /// size", kept across scales and reopens.
    logical: LogicalSize<f64>,
    /// The host's scale, once the host has set one (kept across reopens).
    host_scale: Option<f64>,
    /// The open window, if any.
    open: Option<OpenSizing>,
}

/// What an open window is, as far as size goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenSizing {
    /// Its size in physical pixels, as baseview reports it.
    pub physical: PhysicalSize<u32>,
    /// The scale baseview gave it (the desktop's).
    pub toolkit_scale: f64,
    /// egui's zoom factor: host scale / toolkit scale, or 1.
    pub zoom: f64,
}

impl OpenSizing {
    /// The scale the window draws at.
    pub fn scale(&self) -> f64 {
        self.toolkit_scale * self.zoom
    }
}

impl Sizing {
    pub fn new(logical: LogicalSize<f64>) -> Self {
        Self {
            logical,
            host_scale: None,
            open: None,
        }
    }

    pub fn logical(&self) -> LogicalSize<f64> {
        self.logical
    }

    pub fn host_scale(&self) -> Option<f64> {
        self.host_scale
    }

    pub fn open(&self) -> Option<OpenSizing> {
        self.open
    }

    /// Remembers the host's scale (already checked with [`usable`]).
    pub fn set_host_scale(&mut self, scale: f64) {
        self.host_scale = Some(scale);
    }

    /// The scale a window opened now would draw at.
    pub fn scale(&self) -> f64 {
        if let Some(open) = self.open {
            return open.scale();
        }
        expected_scale(self.host_scale, desktop_scale())
    }

    /// The zoom a window needs when baseview gives it `toolkit_scale`.
    pub fn zoom_for(&self, toolkit_scale: f64) -> f64 {
        zoom_for(self.host_scale, toolkit_scale)
    }

    /// The zoom to create the next window with, before its toolkit scale is known: the last
    /// desktop scale seen, or 1.
    pub fn zoom_guess(&self) -> f64 {
        self.zoom_for(desktop_scale().unwrap_or(1.0))
    }

    /// `get_size`: the open window's size, or the size the next window will have.
    pub fn native_size(&self) -> NativeSize<u32> {
        match self.open {
            Some(open) => NativeSize::from_size(Size::Physical(open.physical.cast()), open.scale()),
            None => NativeSize::from_size(Size::Logical(self.logical.cast()), self.scale()),
        }
    }

    /// A window was created: baseview says how big and at which scale.
    pub fn opened(&mut self, physical: PhysicalSize<u32>, toolkit_scale: f64, zoom: f64) {
        set_desktop_scale(toolkit_scale);
        self.open = Some(OpenSizing {
            physical,
            toolkit_scale,
            zoom,
        });
    }

    /// The window reported a new size (host resize, parent resize, or a monitor's DPI
    /// change on Windows): `physical` pixels at total scale `scale`.
    pub fn resized(&mut self, physical: PhysicalSize<u32>, scale: f64) {
        if !(scale.is_finite() && scale > 0.0) {
            return;
        }
        self.logical = physical.to_logical(scale);
        if let Some(open) = self.open.as_mut() {
            open.physical = physical;
            if open.zoom > 0.0 {
                open.toolkit_scale = scale / open.zoom;
                set_desktop_scale(open.toolkit_scale);
            }
        }
    }

    /// The window was closed.
    pub fn closed(&mut self) {
        self.open = None;
    }
}

/// The scale a new window draws at: the host's, else the desktop's, else 1. On macOS,
/// where native sizes are points, 1.
pub fn expected_scale(host_scale: Option<f64>, desktop_scale: Option<f64>) -> f64 {
    if !HOST_SCALE_APPLIES {
        return 1.0;
    }
    host_scale.or(desktop_scale).unwrap_or(1.0)
}

/// egui's zoom for a window baseview draws at `toolkit_scale`: what is left of the host's
/// scale.
pub fn zoom_for(host_scale: Option<f64>, toolkit_scale: f64) -> f64 {
    match host_scale {
        Some(host) if HOST_SCALE_APPLIES && usable(toolkit_scale) => host / toolkit_scale,
        _ => 1.0,
    }
}

/// Whether two zooms (or scales) are the same.
pub fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < SAME_SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_scale_wins_over_the_desktop() {
        assert_eq!(expected_scale(None, None), 1.0);
        assert_eq!(expected_scale(None, Some(2.0)), 2.0);
        assert_eq!(expected_scale(Some(1.5), Some(2.0)), 1.5);
        assert_eq!(zoom_for(None, 2.0), 1.0);
        assert_eq!(zoom_for(Some(2.0), 1.0), 2.0);
        assert_eq!(zoom_for(Some(1.5), 2.0), 0.75);
    }

    #[test]
    fn the_size_is_points_times_scale_open_or_closed() {
        let mut s = Sizing::new(LogicalSize::new(820.0, 600.0));
        s.set_host_scale(1.5);
        assert_eq!(s.native_size(), NativeSize::new(1230, 900));
        s.opened(PhysicalSize::new(1230, 900), 2.0, 0.75);
        assert_eq!(s.native_size(), NativeSize::new(1230, 900));
        // The host drags the window to 1500 x 1200: the points follow.
        s.resized(PhysicalSize::new(1500, 1200), 1.5);
        assert_eq!(s.native_size(), NativeSize::new(1500, 1200));
        assert_eq!(s.logical(), LogicalSize::new(1000.0, 800.0));
        s.closed();
        s.set_host_scale(2.0);
        assert_eq!(s.native_size(), NativeSize::new(2000, 1600));
    }

    #[test]
    fn unusable_scales_are_refused() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 0.1, 100.0] {
            assert!(!usable(bad), "{bad}");
        }
        for good in [0.25, 1.0, 1.25, 1.5, 2.0, 3.0, 8.0] {
            assert!(usable(good), "{good}");
        }
    }
}
