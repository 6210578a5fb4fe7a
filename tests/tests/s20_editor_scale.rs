//! Scenario 20: StemTap's window in a real X11 parent, at every scale a host or a desktop
//! asks for (issue 14).
//!
//! A CLAP host that offers `clap.gui` opens the editor the way a DAW embeds it on Linux
//! (create, set_scale, get_size, set_parent, show) into a window of its own on an Xvfb
//! server (a 3840x2160 screen) whose desktop resources say `Xft.dpi` none, 96, 144 or 192.
//! Every open checks that `get_size` is the window's size in points times the scale (the
//! host's if it set one, else the desktop's), that the plugin's X11 window is exactly that
//! size, and that a screenshot of the host's frame is StemTap drawn all over: no host colour
//! (a quarter of it was the bug), not blank, laid out like the 1x window. Then hide,
//! destroy, and the window must be gone; reopen must give the same again.
//!
//! Skipped, with a message, where there is no Xvfb; failed if that happens under CI.
//! Screenshots go to `target/s20-editor-scale/`.

use anyhow::{ensure, Result};
use std::time::Instant;
use stemtap_e2e::gui::*;
use stemtap_e2e::stemtap_host::gui::x11::Image;
use stemtap_e2e::stemtap_host::gui::GuiInstance;
use stemtap_e2e::stemtap_host::LogSeverity;

/// A window at scale S shrunk back to 1x may differ from the 1x window in this share of
/// pixels at most (text is rasterised per scale; the layout must be the same).
const MAX_LAYOUT_DIFFERENCE: f64 = 0.12;

#[test]
fn editor_scale() -> Result<()> {
    let Some(xvfb) = xvfb_or_skip("s20_editor_scale")? else {
        return Ok(());
    };
    let started = Instant::now();
    let desk = Desk::start(&xvfb)?;

    // 1x: no Xft.dpi, no host scale. The reference screenshot.
    desk.set_xft_dpi(None)?;
    let mut gui = desk.instance()?;
    let at_1 = OpenPlan {
        set_scale: None,
        expect_scale: 1.0,
        points: POINTS,
    };
    let first = desk.open(&mut gui, at_1, "xft-none-1x-first")?;
    let reference = first.shot.clone();
    eprintln!("first window drawn in {:?}", first.took);
    desk.close(&mut gui, &first, "xft-none-1x-first")?;
    let fds_after_first = open_fds();
    let again = desk.open(&mut gui, at_1, "xft-none-1x-reopen")?;
    desk.close(&mut gui, &again, "xft-none-1x-reopen")?;
    no_errors(&gui, "xft-none")?;
    drop(gui);

    // The desktop's scale (issue 14, bug 1: a 2x desktop, Xft.dpi 192, first open).
    for dpi in [96, 144, 192] {
        desk.set_xft_dpi(Some(dpi))?;
        let scale = f64::from(dpi) / 96.0;
        let plan = OpenPlan {
            set_scale: None,
            expect_scale: scale,
            points: POINTS,
        };
        let mut gui = desk.instance()?;
        let opens: &[&str] = if dpi == 192 {
            &["first", "reopen"]
        } else {
            &["first"]
        };
        for open in opens {
            let label = format!("xft-{dpi}-{open}");
            let o = desk.open(&mut gui, plan, &label)?;
            same_layout(&reference, &o.shot, scale, &label)?;
            desk.close(&mut gui, &o, &label)?;
        }
        no_errors(&gui, &format!("xft-{dpi}"))?;
    }

    // The host's scale wins over the desktop's, up and down, and stays for a reopen by a
    // host that does not repeat it (issue 14, bug 2: reopen after set_scale(2.0); and
    // set_scale(2.0) ignored at Xft.dpi 96).
    let cases: [(Option<u32>, f64, bool); 4] = [
        (None, 2.0, true),
        (Some(96), 2.0, false),
        (Some(144), 1.0, false),
        (Some(192), 1.5, true),
    ];
    for (dpi, scale, reopen) in cases {
        desk.set_xft_dpi(dpi)?;
        let desk_name = dpi.map_or("none".to_string(), |d| d.to_string());
        let label = format!("xft-{desk_name}-host-{scale}x");
        let mut gui = desk.instance()?;
        let plan = OpenPlan {
            set_scale: Some(scale),
            expect_scale: scale,
            points: POINTS,
        };
        let o = desk.open(&mut gui, plan, &format!("{label}-first"))?;
        same_layout(&reference, &o.shot, scale, &label)?;
        desk.close(&mut gui, &o, &label)?;
        if reopen {
            let plan = OpenPlan {
                set_scale: None,
                ..plan
            };
            let o = desk.open(&mut gui, plan, &format!("{label}-reopen"))?;
            same_layout(&reference, &o.shot, scale, &label)?;
            desk.close(&mut gui, &o, &label)?;
        }
        no_errors(&gui, &label)?;
    }

    // Resizing at a host scale the desktop does not have (1.5x on a 2x desktop): the
    // minimum is in points, a host's size is kept in points across a reopen.
    desk.set_xft_dpi(Some(192))?;
    let mut gui = desk.instance()?;
    let plan = OpenPlan {
        set_scale: Some(1.5),
        expect_scale: 1.5,
        points: POINTS,
    };
    let o = desk.open(&mut gui, plan, "resize-1.5x")?;
    ensure!(gui.can_resize(), "the window says it cannot be resized");
    let min = scaled(MIN_POINTS, 1.5);
    let adjusted = gui.adjust_size(100, 100);
    ensure!(
        adjusted == Some(min),
        "adjust_size(100, 100) at 1.5x: {adjusted:?}, expected the minimum {min:?}"
    );
    gui.set_size(1500, 1050)?;
    desk.x.resize(o.parent, 1500, 1050)?;
    ensure!(
        gui.get_size() == Some((1500, 1050)),
        "after set_size(1500, 1050) get_size is {:?}",
        gui.get_size()
    );
    let g = desk.x.geometry(o.child)?;
    ensure!(
        (g.width, g.height) == (1500, 1050),
        "after set_size(1500, 1050) the window is {}x{}",
        g.width,
        g.height
    );
    desk.wait_drawn(&mut gui, o.parent, "resize-1.5x-1500x1050")?;
    desk.close(&mut gui, &o, "resize-1.5x")?;
    // Reopened by a host that sets 2x this time: 1000 x 700 points at 2x.
    let bigger = OpenPlan {
        set_scale: Some(2.0),
        expect_scale: 2.0,
        points: (1000, 700),
    };
    let o = desk.open(&mut gui, bigger, "resize-2x-reopen")?;
    desk.close(&mut gui, &o, "resize-2x-reopen")?;
    no_errors(&gui, "resize")?;
    drop(gui);

    // A host that changes its scale while the window is shown (moved to another monitor).
    desk.set_xft_dpi(Some(96))?;
    let mut gui = desk.instance()?;
    let o = desk.open(&mut gui, at_1, "live-1x")?;
    ensure!(
        gui.set_scale(2.0),
        "set_scale(2.0) on a shown window refused"
    );
    let size = gui.get_size();
    ensure!(
        size == Some(scaled(POINTS, 2.0)),
        "after set_scale(2.0) get_size is {size:?}"
    );
    desk.x.resize(o.parent, 1640, 1200)?;
    let children = desk.x.children(o.parent)?;
    ensure!(
        children.len() == 1,
        "{} windows in the frame",
        children.len()
    );
    let g = desk.x.geometry(children[0])?;
    ensure!(
        (g.width, g.height) == (1640, 1200),
        "after set_scale(2.0) the window is {}x{}",
        g.width,
        g.height
    );
    ensure!(
        desk.x.is_viewable(children[0])?,
        "the window is hidden after set_scale"
    );
    let shot = desk.wait_drawn(&mut gui, o.parent, "live-2x")?;
    same_layout(&reference, &shot, 2.0, "live-2x")?;
    if desk.keep_shots {
        shot.save_png(&desk.shots.join("live-2x.png"))?;
    }
    let live = Opened {
        child: children[0],
        ..o
    };
    desk.close(&mut gui, &live, "live-2x")?;
    no_errors(&gui, "live")?;
    ensure!(
        gui.requests()
            .closed
            .load(std::sync::atomic::Ordering::SeqCst)
            == 0,
        "the plugin told the host its window closed"
    );

    eprintln!(
        "s20_editor_scale: {:?}; open files after the first window: {fds_after_first}, at the end: {}",
        started.elapsed(),
        open_fds()
    );
    Ok(())
}

/// The window at `scale`, shrunk to 1x, is laid out like the 1x reference.
fn same_layout(reference: &Image, shot: &Image, scale: f64, label: &str) -> Result<()> {
    let d = layout_difference(reference, shot, scale);
    ensure!(
        d <= MAX_LAYOUT_DIFFERENCE,
        "{label}: {:.1}% of the window differs from the 1x layout (drawn at the wrong scale?)",
        d * 100.0
    );
    Ok(())
}

/// The plugin logged no error (nice-plug logs a refused scale or a failed resize as one).
fn no_errors(gui: &GuiInstance, label: &str) -> Result<()> {
    let errors: Vec<String> = gui
        .logs()
        .into_iter()
        .filter(|l| matches!(l.severity, LogSeverity::Error | LogSeverity::Fatal))
        .map(|l| l.message)
        .collect();
    ensure!(
        errors.is_empty(),
        "{label}: the plugin logged errors: {errors:?}"
    );
    Ok(())
}

/// How many files this process has open (X connections are sockets): a diagnostic.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}
