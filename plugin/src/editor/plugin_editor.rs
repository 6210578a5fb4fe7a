//! The `Editor` StemTap gives nice-plug. Built from nice-plug-egui's editor, with three
//! differences:
//!
//! - keys a VST3 host forwards to the window reach the text field being edited (see
//!   [`host_keys`](super::host_keys));
//! - the host's track name goes straight to this instance's stream, window open or not;
//! - the window's size and scale are StemTap's own (see [`scale`](super::scale)): a fresh
//!   nice-plug-egui editor is made for every window, with the size in points and the egui
//!   zoom that turns the desktop's scale (all baseview knows) into the host's. When the host
//!   sets a scale the open window cannot draw at, the window is made again at that scale,
//!   on the same parent, shown if it was. `get_size` answers the size of the window that
//!   exists, at every scale.
//!
//! Runs on the host's GUI thread; never on the audio thread.

use super::host_keys::HostKeys;
use super::scale::{self, Sizing};
use super::StemTapApp;
use crate::engine::StreamHandle;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::{LogicalSize, NativeSize, PhysicalSize, Size};
use nice_plug::editor::{
    Editor, EditorHandle, HostCallbacks, HostMainThreadCaller, HostMethods, Modifiers,
    ParentWindowHandle, ResizeHint, SizeConstraints, SpawnedEditor, VirtualKeyCode,
};
use nice_plug::plugin::TrackInfo;
use nice_plug_egui::baseview::{self, HandlerError, WindowSize};
use nice_plug_egui::{
    create_egui_editor, EguiEditorHandle, EguiEditorState, EguiNiceSettings, NiceEguiApp,
    RepaintNotifier,
};
use parking_lot::Mutex;
use std::cell::{Cell, RefCell};
use std::error::Error;
use std::fmt;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The editor of one instance: makes windows, answers sizes, takes the track name.
pub struct StemTapEditor {
    factory: Arc<WindowFactory>,
    /// This instance's stream: the host's track name becomes its default name.
    stream: Arc<StreamHandle>,
    /// Shared with the window's [`SessionView`](super::SessionView), which says when a text
    /// field is being edited and types the queued keys.
    host_keys: Arc<HostKeys>,
}

impl StemTapEditor {
    /// `logical_size`: the first window's size in points; `resize_hint`: what the host may
    /// do with it (its minimum in points).
    pub(crate) fn new(
        app: StemTapApp,
        logical_size: LogicalSize<f64>,
        resize_hint: ResizeHint,
        stream: Arc<StreamHandle>,
        host_keys: Arc<HostKeys>,
        repaint: RepaintNotifier,
    ) -> Self {
        Self {
            factory: Arc::new(WindowFactory {
                app: Arc::new(Mutex::new(app)),
                sizing: Arc::new(Mutex::new(Sizing::new(logical_size))),
                resize_hint,
                repaint,
            }),
            stream,
            host_keys,
        }
    }
}

impl Editor for StemTapEditor {
    type Handle = StemTapEditorHandle;

    fn spawn(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        fallback_scale_factor: Option<f64>,
        gui_context: GuiContext,
        host: Option<HostMethods>,
    ) -> Result<SpawnedEditor<Self::Handle>, Box<dyn Error>> {
        // The host's scale, as nice-plug kept it from the last window (CLAP), or as we did
        // (a VST3 view is new on every open and forgets it).
        if let Some(s) =
            fallback_scale_factor.filter(|s| scale::HOST_SCALE_APPLIES && scale::usable(*s))
        {
            self.factory.sizing.lock().set_host_scale(s);
        }
        let answered = self.size();
        let host = host.map(SharedHost::new);
        let window = StemTapWindow {
            factory: self.factory.clone(),
            open: RefCell::new(None),
            parent: Cell::new(parent),
            shown: Cell::new(false),
            wait_for_parent,
            gui_context,
            host,
        };
        window.open()?;
        // A VST3 host may have asked for the size before the first window of the process
        // told us the desktop's scale: tell it the real one.
        let actual = self.size();
        if parent.is_some() && actual != answered {
            if let Some(host) = window.host.as_ref() {
                let scale = self.factory.sizing.lock().scale();
                let physical = Size::Physical(PhysicalSize::new(actual.width, actual.height));
                if let Err(e) = host.callbacks.borrow_mut().request_resize(physical, scale) {
                    nice_plug::nice_log!("StemTap: host refused the window's size: {e}");
                }
            }
        }
        Ok(SpawnedEditor {
            handle: StemTapEditorHandle {
                factory: self.factory.clone(),
                host_keys: self.host_keys.clone(),
            },
            window,
        })
    }

    fn size(&self) -> NativeSize<u32> {
        self.factory.sizing.lock().native_size()
    }

    fn resize_hint(&self) -> ResizeHint {
        self.factory.resize_hint
    }

    /// The host told us our track's name (CLAP track-info, VST3 channel context): it
    /// becomes the stream's default name. The one road a track name takes.
    fn track_info_updated(&self, info: TrackInfo) {
        let name = info.name().trim();
        self.stream
            .set_track_name((!name.is_empty()).then(|| name.to_string()));
    }

    unsafe fn assume_standalone_in_process(&self) {
        // SAFETY: the same contract, passed on unchanged to the toolkit that implements it.
        unsafe { baseview::assume_standalone_in_process() }
    }
}

/// Everything needed to make a window, shared by the editor and its open window.
struct WindowFactory {
    /// The one app every window of this instance draws; nice-plug-egui's editor is made
    /// per window, the app is not.
    app: Arc<Mutex<StemTapApp>>,
    sizing: Arc<Mutex<Sizing>>,
    /// As given, in points; scaled per window.
    resize_hint: ResizeHint,
    repaint: RepaintNotifier,
}

/// A window made by [`WindowFactory::make`].
struct OpenWindow {
    handle: EguiEditorHandle,
    window: baseview::Window,
}

impl OpenWindow {
    /// Closes the window. baseview (0.4.2, X11) loses the stop signal if its window is
    /// dropped before the window thread's event loop has started (`calloop`'s `run` clears
    /// it), and the drop then waits for that thread forever: a host that destroys the
    /// editor right after `create`, or StemTap replacing a window it just made. A request
    /// the loop answers proves it is running; hiding a window that is going is one.
    fn close(self) {
        let _ = self.handle.hide(&self.window);
        drop(self);
    }
}

/// The resize hint of a window drawn with egui zoom `zoom`: baseview sees points times zoom.
fn zoomed_hint(hint: ResizeHint, zoom: f64) -> ResizeHint {
    let z = zoom as f32;
    let times =
        |s: Option<LogicalSize<f32>>| s.map(|s| LogicalSize::new(s.width * z, s.height * z));
    match hint.size_constraints {
        SizeConstraints::Logical { min_size, max_size } => {
            hint.with_size_constraints(SizeConstraints::Logical {
                min_size: times(min_size),
                max_size: times(max_size),
            })
        }
        SizeConstraints::Physical { .. } => hint,
    }
}

impl WindowFactory {
    /// Makes a window whose egui zoom is `zoom`, at the current size in points.
    fn make(
        &self,
        parent: Option<ParentWindowHandle>,
        wait_for_parent: bool,
        zoom: f64,
        gui_context: GuiContext,
        host: Option<HostMethods>,
    ) -> Result<OpenWindow, Box<dyn Error>> {
        let logical = self.sizing.lock().logical();
        let state = EguiEditorState::from_size(Size::Logical(logical), zoom as f32);
        let editor = create_egui_editor(
            state,
            self.repaint.clone(),
            EguiNiceSettings::new()
                .with_tile("StemTap")
                .with_resize_hint(zoomed_hint(self.resize_hint, zoom)),
            WindowApp {
                app: self.app.clone(),
                sizing: self.sizing.clone(),
            },
        )
        .ok_or("nice-plug-egui made no editor")?;
        // No host scale for baseview: its scale is the desktop's, the rest is egui's zoom.
        let spawned = editor.spawn(parent, wait_for_parent, None, gui_context, host)?;
        let size = spawned.window.size();
        self.sizing
            .lock()
            .opened(size.physical, size.scale_factor, zoom);
        Ok(OpenWindow {
            handle: spawned.handle,
            window: spawned.window,
        })
    }
}

/// The window nice-plug holds: baseview's window, which StemTap may make again at another
/// scale, and what it takes to make it again.
pub struct StemTapWindow {
    factory: Arc<WindowFactory>,
    open: RefCell<Option<OpenWindow>>,
    /// The last parent the host gave (or the one the window was spawned in).
    parent: Cell<Option<ParentWindowHandle>>,
    /// Whether the host has shown the window (and not hidden it since).
    shown: Cell<bool>,
    wait_for_parent: bool,
    gui_context: GuiContext,
    host: Option<SharedHost>,
}

impl StemTapWindow {
    /// Makes the window at the size and scale [`Sizing`] says. If baseview's scale turns out
    /// not to be the desktop scale guessed, makes it once more with the right zoom.
    fn open(&self) -> Result<(), Box<dyn Error>> {
        let mut zoom = self.factory.sizing.lock().zoom_guess();
        for attempt in 0..2 {
            let window = self.factory.make(
                self.parent.get(),
                self.wait_for_parent,
                zoom,
                self.gui_context.clone(),
                self.host.as_ref().map(SharedHost::methods),
            )?;
            let toolkit_scale = window.window.size().scale_factor;
            let wanted = self.factory.sizing.lock().zoom_for(toolkit_scale);
            if scale::same(wanted, zoom) || attempt == 1 {
                *self.open.borrow_mut() = Some(window);
                return Ok(());
            }
            self.close_quietly(window);
            zoom = wanted;
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Closes a window StemTap is replacing, without telling the host it closed.
    fn close_quietly(&self, window: OpenWindow) {
        if let Some(host) = self.host.as_ref() {
            host.quiet.store(true, Ordering::SeqCst);
        }
        window.close();
        if let Some(host) = self.host.as_ref() {
            host.quiet.store(false, Ordering::SeqCst);
        }
    }

    /// Makes the window again (the host's scale changed), on the same parent, shown if it
    /// was.
    fn reopen(&self) -> Result<(), baseview::Error> {
        let old = self.open.borrow_mut().take();
        if let Some(old) = old {
            self.close_quietly(old);
        }
        if let Err(e) = self.open() {
            self.factory.sizing.lock().closed();
            return Err(toolkit_error(e));
        }
        if self.shown.get() {
            self.with(|w| w.handle.show(&w.window))?;
        }
        Ok(())
    }

    /// Runs `f` on the open window; an error if there is none (a failed reopen).
    fn with<T>(
        &self,
        f: impl FnOnce(&OpenWindow) -> Result<T, baseview::Error>,
    ) -> Result<T, baseview::Error> {
        match self.open.borrow().as_ref() {
            Some(w) => f(w),
            None => Err(toolkit_error("StemTap's window is not open".into())),
        }
    }
}

impl Drop for StemTapWindow {
    fn drop(&mut self) {
        // The toolkit's window first (it may still report a size), then the bookkeeping.
        if let Some(open) = self.open.get_mut().take() {
            open.close();
        }
        self.factory.sizing.lock().closed();
    }
}

fn toolkit_error(e: Box<dyn Error>) -> baseview::Error {
    HandlerError::from_boxed(e).into()
}

/// The host's callbacks, shared by every window StemTap makes for one `create`, so a
/// window made again still reaches the host. `quiet` keeps a replaced window's close from
/// reaching the host as "the window closed".
#[derive(Clone)]
struct SharedHost {
    callbacks: Rc<RefCell<Box<dyn HostCallbacks>>>,
    main_thread: Arc<Mutex<Box<dyn HostMainThreadCaller>>>,
    quiet: Arc<AtomicBool>,
}

impl SharedHost {
    fn new(host: HostMethods) -> Self {
        Self {
            callbacks: Rc::new(RefCell::new(host.callbacks)),
            main_thread: Arc::new(Mutex::new(host.main_thread_caller)),
            quiet: Arc::new(AtomicBool::new(false)),
        }
    }

    fn methods(&self) -> HostMethods {
        HostMethods {
            callbacks: Box::new(SharedCallbacks(self.callbacks.clone(), self.quiet.clone())),
            main_thread_caller: Box::new(SharedCaller(self.main_thread.clone())),
        }
    }
}

struct SharedCallbacks(Rc<RefCell<Box<dyn HostCallbacks>>>, Arc<AtomicBool>);

impl HostCallbacks for SharedCallbacks {
    fn request_resize(&mut self, new_size: Size, scale_factor: f64) -> Result<(), Box<dyn Error>> {
        self.0.borrow_mut().request_resize(new_size, scale_factor)
    }

    fn destroyed(&mut self) {
        if !self.1.load(Ordering::SeqCst) {
            self.0.borrow_mut().destroyed();
        }
    }
}

struct SharedCaller(Arc<Mutex<Box<dyn HostMainThreadCaller>>>);

impl HostMainThreadCaller for SharedCaller {
    fn call_main_thread(&mut self) {
        self.0.lock().call_main_thread();
    }
}

/// What each window's nice-plug-egui editor draws: the instance's one [`StemTapApp`], plus
/// the size bookkeeping.
struct WindowApp {
    app: Arc<Mutex<StemTapApp>>,
    sizing: Arc<Mutex<Sizing>>,
}

impl NiceEguiApp for WindowApp {
    fn build(
        &mut self,
        egui_ctx: egui::Context,
        nice_gui_ctx: GuiContext,
        frame: &mut nice_plug_egui::Frame,
    ) -> Result<(), HandlerError> {
        // egui's zoom is the host's scale here; Ctrl +/-/0 must not change it behind the
        // host's back (the window would stop matching `get_size`).
        egui_ctx.options_mut(|o| o.zoom_with_keyboard = false);
        self.app.lock().build(egui_ctx, nice_gui_ctx, frame)
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut nice_plug_egui::Frame) {
        self.app.lock().ui(ui, frame);
    }

    fn resized(&mut self, new_size: WindowSize) {
        self.sizing
            .lock()
            .resized(new_size.physical, new_size.scale_factor);
        self.app.lock().resized(new_size);
    }

    fn editor_closed(&mut self) {
        self.app.lock().editor_closed();
    }

    fn track_info_changed(&mut self, info: TrackInfo) {
        self.app.lock().track_info_changed(info);
    }
}

/// An open window's handle: size and scale through [`Sizing`], keys from the host.
pub struct StemTapEditorHandle {
    factory: Arc<WindowFactory>,
    host_keys: Arc<HostKeys>,
}

/// Why StemTap refused a host's scale.
#[derive(Debug)]
struct ScaleRefused(f64);

impl fmt::Display for ScaleRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if scale::HOST_SCALE_APPLIES {
            write!(f, "scale {} is outside {:?}", self.0, scale::SCALE_RANGE)
        } else {
            write!(f, "scale {} ignored: macOS scales by itself", self.0)
        }
    }
}

impl Error for ScaleRefused {}

impl EditorHandle for StemTapEditorHandle {
    type Window = StemTapWindow;
    type Error = baseview::Error;

    fn run_until_closed(window: Self::Window) -> Result<(), Self::Error> {
        let open = window.open.borrow_mut().take();
        match open {
            Some(OpenWindow { handle, window: bv }) => {
                let result = EguiEditorHandle::run_until_closed(bv);
                drop(handle);
                result
            }
            None => Ok(()),
        }
    }

    fn set_parent(
        &self,
        parent: ParentWindowHandle,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        window.parent.set(Some(parent));
        window.with(|w| w.handle.set_parent(parent, &w.window))
    }

    fn show(&self, window: &Self::Window) -> Result<(), Self::Error> {
        window.shown.set(true);
        window.with(|w| w.handle.show(&w.window))
    }

    fn hide(&self, window: &Self::Window) -> Result<(), Self::Error> {
        window.shown.set(false);
        window.with(|w| w.handle.hide(&w.window))
    }

    /// The host resized its frame (native pixels). The window's `resized` callback updates
    /// [`Sizing`]; on X11 before this returns.
    fn set_size(
        &self,
        new_size: NativeSize<u32>,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        window.with(|w| w.handle.set_size(new_size, &w.window))
    }

    fn host_main_thread_callback(&self, window: &Self::Window) {
        if let Some(w) = window.open.borrow().as_ref() {
            w.handle.host_main_thread_callback(&w.window);
        }
    }

    /// nice-plug-egui's version uses baseview's scale, not the one the window draws at, so
    /// the minimum size would be off by the zoom.
    fn adjust_size(
        &self,
        new_size: NativeSize<u32>,
        _window: &Self::Window,
    ) -> Option<NativeSize<u32>> {
        let sizing = self.factory.sizing.lock();
        let scale = sizing.scale();
        let current = sizing.native_size();
        drop(sizing);
        Some(
            self.factory
                .resize_hint
                .adjust_size(new_size, current, scale),
        )
    }

    /// The host's scale (CLAP `set_scale`, VST3 `setContentScaleFactor`). Overrides the
    /// desktop's, as CLAP says it should; refused on macOS and outside [`scale::SCALE_RANGE`].
    fn set_fallback_scale_factor(
        &self,
        scale_factor: f64,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        if !scale::HOST_SCALE_APPLIES || !scale::usable(scale_factor) {
            return Err(toolkit_error(Box::new(ScaleRefused(scale_factor))));
        }
        let mut sizing = self.factory.sizing.lock();
        sizing.set_host_scale(scale_factor);
        let needs_new_window = match sizing.open() {
            Some(open) => !scale::same(sizing.zoom_for(open.toolkit_scale), open.zoom),
            None => window.open.borrow().is_none(),
        };
        drop(sizing);
        if needs_new_window {
            window.reopen()?;
        }
        Ok(())
    }

    /// The one call that differs from nice-plug-egui (which takes no key): see
    /// [`HostKeys::offer`].
    fn on_virtual_key_from_host(
        &self,
        key_code: VirtualKeyCode,
        is_down: bool,
        modifiers: Modifiers,
    ) -> bool {
        let taken = self.host_keys.offer(key_code, is_down, modifiers);
        if taken {
            self.factory.repaint.request_repaint();
        }
        taken
    }

    fn state_changed(&self) {
        self.factory.repaint.request_repaint();
    }

    fn param_value_changed(&self, _id: &str, _normalized_value: f32) {
        self.factory.repaint.request_repaint();
    }

    fn param_modulation_changed(&self, _id: &str, _modulation_offset: f32) {
        self.factory.repaint.request_repaint();
    }
}
