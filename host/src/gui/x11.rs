//! The X11 side of the GUI test host: an Xvfb server of our own, the X resources a desktop
//! sets (`Xft.dpi`, which baseview reads from the root window's `RESOURCE_MANAGER`), a parent
//! window standing in for the DAW's plugin frame, window geometry and screenshots.
//!
//! Pure-Rust X11 client (x11rb's `RustConnection`): nothing here loads libX11 or libxcb, so
//! it cannot disturb the plugin's own connections.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConfigureWindowAux, ConnectionExt as _, CreateWindowAux, EventMask, ImageFormat,
    MapState, PropMode, Window as XWindow, WindowClass,
};
use x11rb::rust_connection::RustConnection;
use x11rb::wrapper::ConnectionExt as _;
use x11rb::COPY_DEPTH_FROM_PARENT;

/// Where the `Xvfb` binary is, if it is installed.
pub fn xvfb_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("Xvfb"))
        .find(|p| p.is_file())
}

/// An Xvfb server started for a test. It ends when the last client disconnects
/// (`-terminate`), which is when the test process ends: a plugin may keep an Xlib connection
/// open until then, and Xlib exits the process if its server goes away under it. The
/// connection made while waiting for the server to come up is that last client.
pub struct XServer {
    _child: Child,
    _keepalive: RustConnection,
    display: String,
}

impl XServer {
    /// Starts `xvfb` on the first free display number from 90 on, with one screen of
    /// `screen` (e.g. `"3840x2160x24"`), and waits until it accepts connections.
    pub fn start(xvfb: &Path, screen: &str) -> Result<XServer> {
        let mut last_error = anyhow!("no display number tried");
        for n in 90..140u32 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let display = format!(":{n}");
            let mut child = Command::new(xvfb)
                .args([&display, "-screen", "0", screen, "-nolisten", "tcp"])
                .args(["+extension", "GLX", "-terminate"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot start {}", xvfb.display()))?;
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        use std::io::Read;
                        let _ = e.read_to_string(&mut err);
                    }
                    last_error = anyhow!("Xvfb {display} exited ({status}): {}", err.trim());
                    break;
                }
                if let Ok((conn, _)) = x11rb::connect(Some(&display)) {
                    // Keep Xvfb's stderr from filling a pipe nobody reads.
                    drop(child.stderr.take());
                    return Ok(XServer {
                        _child: child,
                        _keepalive: conn,
                        display,
                    });
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("Xvfb {display} did not accept connections within 15 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Err(last_error)
    }

    /// The `DISPLAY` value, e.g. `:90`.
    pub fn display(&self) -> &str {
        &self.display
    }
}

/// A client connection to an X server, for the host's side of things.
pub struct X11 {
    conn: RustConnection,
    root: XWindow,
    root_depth: u8,
}

/// Geometry of a window relative to its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub x: i16,
    pub y: i16,
    pub width: u16,
    pub height: u16,
}

impl X11 {
    pub fn connect(display: &str) -> Result<X11> {
        let (conn, screen) = x11rb::connect(Some(display))
            .with_context(|| format!("cannot connect to X display {display}"))?;
        let s = &conn.setup().roots[screen];
        let (root, root_depth) = (s.root, s.root_depth);
        Ok(X11 {
            conn,
            root,
            root_depth,
        })
    }

    /// Replaces the desktop's X resources (the root window's `RESOURCE_MANAGER`, what `xrdb`
    /// sets). `Some(192)` is a 2x desktop's `Xft.dpi: 192`; `None` sets resources without
    /// `Xft.dpi` (still a property, so clients do not fall back to `~/.Xresources`).
    pub fn set_xft_dpi(&self, dpi: Option<u32>) -> Result<()> {
        let text = match dpi {
            Some(dpi) => format!("Xft.dpi:\t{dpi}\nXcursor.size:\t24\n"),
            None => "Xcursor.size:\t24\n".to_string(),
        };
        self.conn.change_property8(
            PropMode::REPLACE,
            self.root,
            AtomEnum::RESOURCE_MANAGER,
            AtomEnum::STRING,
            text.as_bytes(),
        )?;
        self.conn.sync()?;
        Ok(())
    }

    /// A mapped top-level window filled with `rgb`: the host's plugin frame.
    pub fn create_parent(&self, width: u16, height: u16, rgb: u32) -> Result<XWindow> {
        let id = self.conn.generate_id()?;
        self.conn.create_window(
            COPY_DEPTH_FROM_PARENT,
            id,
            self.root,
            0,
            0,
            width,
            height,
            0,
            WindowClass::INPUT_OUTPUT,
            x11rb::COPY_FROM_PARENT,
            &CreateWindowAux::new()
                .background_pixel(rgb)
                .event_mask(EventMask::STRUCTURE_NOTIFY),
        )?;
        self.conn.map_window(id)?;
        self.conn.sync()?;
        Ok(id)
    }

    /// Resizes a window (the host fits its frame to `get_size`).
    pub fn resize(&self, window: XWindow, width: u32, height: u32) -> Result<()> {
        self.conn.configure_window(
            window,
            &ConfigureWindowAux::new().width(width).height(height),
        )?;
        self.conn.sync()?;
        Ok(())
    }

    pub fn destroy_window(&self, window: XWindow) -> Result<()> {
        self.conn.destroy_window(window)?;
        self.conn.sync()?;
        Ok(())
    }

    /// The direct children of a window (the plugin's window is the parent's child).
    pub fn children(&self, window: XWindow) -> Result<Vec<XWindow>> {
        Ok(self.conn.query_tree(window)?.reply()?.children)
    }

    pub fn geometry(&self, window: XWindow) -> Result<Geometry> {
        let g = self.conn.get_geometry(window)?.reply()?;
        Ok(Geometry {
            x: g.x,
            y: g.y,
            width: g.width,
            height: g.height,
        })
    }

    pub fn is_viewable(&self, window: XWindow) -> Result<bool> {
        let a = self.conn.get_window_attributes(window)?.reply()?;
        Ok(a.map_state == MapState::VIEWABLE)
    }

    /// What is on screen in `window`'s area (children included), as RGB.
    pub fn screenshot(&self, window: XWindow) -> Result<Image> {
        let g = self.geometry(window)?;
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, window, 0, 0, g.width, g.height, !0)?
            .reply()?;
        let bpp = self
            .conn
            .setup()
            .pixmap_formats
            .iter()
            .find(|f| f.depth == reply.depth)
            .map(|f| f.bits_per_pixel)
            .ok_or_else(|| anyhow!("no pixmap format for depth {}", reply.depth))?;
        if bpp != 32 || !(reply.depth == 24 || reply.depth == 32) {
            bail!(
                "screenshot of depth {} at {bpp} bpp is not supported",
                reply.depth
            );
        }
        if self.conn.setup().image_byte_order != x11rb::protocol::xproto::ImageOrder::LSB_FIRST {
            bail!("screenshots need an LSB-first X server");
        }
        let (w, h) = (usize::from(g.width), usize::from(g.height));
        if reply.data.len() < w * h * 4 {
            bail!("short image: {} bytes for {w}x{h}", reply.data.len());
        }
        let mut rgb = Vec::with_capacity(w * h * 3);
        for px in reply.data.chunks_exact(4).take(w * h) {
            rgb.extend_from_slice(&[px[2], px[1], px[0]]);
        }
        Ok(Image {
            width: g.width.into(),
            height: g.height.into(),
            rgb,
        })
    }

    /// The root window's depth (24 on `Xvfb -screen 0 WxHx24`).
    pub fn root_depth(&self) -> u8 {
        self.root_depth
    }
}

/// An RGB screenshot.
#[derive(Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Row-major, 3 bytes a pixel.
    pub rgb: Vec<u8>,
}

impl Image {
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The share of pixels in the rectangle (x0..x1, y0..y1) that are exactly `rgb`.
    pub fn share_of(&self, rgb: [u8; 3], x0: u32, y0: u32, x1: u32, y1: u32) -> f64 {
        let (x1, y1) = (x1.min(self.width), y1.min(self.height));
        if x1 <= x0 || y1 <= y0 {
            return 0.0;
        }
        let mut hits = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                hits += u64::from(self.pixel(x, y) == rgb);
            }
        }
        hits as f64 / (u64::from(x1 - x0) * u64::from(y1 - y0)) as f64
    }

    /// How many different colours the rectangle has, counting up to `enough` (a drawn UI
    /// has many; a blank one, one).
    pub fn colours(&self, x0: u32, y0: u32, x1: u32, y1: u32, enough: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for y in y0..y1.min(self.height) {
            for x in x0..x1.min(self.width) {
                seen.insert(self.pixel(x, y));
                if seen.len() >= enough {
                    return seen.len();
                }
            }
        }
        seen.len()
    }

    /// Whether any pixel of the image is exactly `rgb`.
    pub fn contains(&self, rgb: [u8; 3]) -> bool {
        self.rgb.chunks_exact(3).any(|p| p == rgb)
    }

    pub fn save_png(&self, path: &Path) -> Result<()> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut enc = png::Encoder::new(std::io::BufWriter::new(file), self.width, self.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header()?.write_image_data(&self.rgb)?;
        Ok(())
    }
}
