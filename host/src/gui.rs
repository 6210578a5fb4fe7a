//! A CLAP host that opens the plugin's window the way a DAW embeds it on Linux: it offers
//! `clap.gui`, creates the editor for X11, may set a scale, asks the size, gives it a parent
//! window and shows it. The parent window, the X resources (`Xft.dpi`) and screenshots are
//! [`x11`]'s; the X server is started by the caller (the end-to-end tests start Xvfb).
//!
//! One [`GuiInstance`] per plugin instance, on the thread that created it (its main thread).
//! Host extensions offered: log, thread-check, gui.

use crate::handlers::{is_audio_thread, LogEntry, LogSink};
use crate::library::PluginLibrary;
use anyhow::{anyhow, bail, Result};
use clack_extensions::gui::{
    GuiApiType, GuiConfiguration, GuiSize, HostGui, HostGuiImpl, PluginGui, Window,
};
use clack_extensions::log::{HostLog, HostLogImpl, LogSeverity};
use clack_extensions::thread_check::{HostThreadCheck, HostThreadCheckImpl};
use clack_host::prelude::*;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

pub mod x11;

/// What the plugin asked of the host through `clap_host_gui`.
#[derive(Debug, Default)]
pub struct GuiRequests {
    /// Every `request_resize` (width, height), in order.
    pub resizes: Mutex<Vec<(u32, u32)>>,
    /// `closed(was_destroyed)` calls.
    pub closed: AtomicU32,
    pub hints_changed: AtomicU32,
}

/// Thread-safe host state of one GUI instance.
pub struct GuiHostShared {
    label: String,
    main_thread: ThreadId,
    log: Arc<LogSink>,
    callback_requested: AtomicBool,
    requests: Arc<GuiRequests>,
}

impl<'a> SharedHandler<'a> for GuiHostShared {
    fn request_restart(&self) {}

    fn request_process(&self) {}

    fn request_callback(&self) {
        self.callback_requested.store(true, Ordering::SeqCst);
    }
}

impl HostLogImpl for GuiHostShared {
    fn log(&self, severity: LogSeverity, message: &str) {
        self.log.push(&self.label, severity, message);
    }
}

impl HostThreadCheckImpl for GuiHostShared {
    fn is_main_thread(&self) -> bool {
        std::thread::current().id() == self.main_thread
    }

    fn is_audio_thread(&self) -> bool {
        is_audio_thread()
    }
}

impl HostGuiImpl for GuiHostShared {
    fn resize_hints_changed(&self) {
        self.requests.hints_changed.fetch_add(1, Ordering::SeqCst);
    }

    /// Accepted (the test host's frame is whatever the test makes it); recorded.
    fn request_resize(&self, new_size: GuiSize) -> Result<(), HostError> {
        self.requests
            .resizes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((new_size.width, new_size.height));
        Ok(())
    }

    fn request_show(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn request_hide(&self) -> Result<(), HostError> {
        Ok(())
    }

    fn closed(&self, _was_destroyed: bool) {
        self.requests.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// The host type of [`GuiInstance`]: log, thread-check and gui.
pub struct GuiHost;

impl HostHandlers for GuiHost {
    type Shared<'a> = GuiHostShared;
    type MainThread<'a> = ();
    type AudioProcessor<'a> = ();

    fn declare_extensions(builder: &mut HostExtensions<Self>, _shared: &Self::Shared<'_>) {
        builder
            .register::<HostLog>()
            .register::<HostThreadCheck>()
            .register::<HostGui>();
    }
}

/// One plugin instance whose window a test opens, resizes, screenshots and closes.
pub struct GuiInstance {
    plugin: PluginInstance<GuiHost>,
    gui: PluginGui,
    log: Arc<LogSink>,
    requests: Arc<GuiRequests>,
    created: bool,
}

impl GuiInstance {
    /// Creates plugin `plugin_id` on the current thread. Fails if it has no `clap.gui`.
    pub fn new(lib: &PluginLibrary, plugin_id: &str) -> Result<Self> {
        let echo = std::env::var_os("STEMTAP_HOST_LOG").is_some_and(|v| v != "0");
        let log = Arc::new(LogSink::new(echo));
        let requests = Arc::new(GuiRequests::default());
        let host_info = HostInfo::new(
            "StemTap GUI test host",
            "StemTap",
            "https://github.com/stemtap",
            env!("CARGO_PKG_VERSION"),
        )?;
        let id = CString::new(plugin_id)?;
        let (shared_log, shared_requests) = (log.clone(), requests.clone());
        let label = format!("{plugin_id} (gui)");
        let mut plugin = PluginInstance::<GuiHost>::new(
            move |_| GuiHostShared {
                label,
                main_thread: std::thread::current().id(),
                log: shared_log,
                callback_requested: AtomicBool::new(false),
                requests: shared_requests,
            },
            |_| (),
            &lib.entry,
            &id,
            &host_info,
        )
        .map_err(|e| anyhow!("cannot create plugin {plugin_id}: {e}"))?;
        let gui = plugin
            .plugin_shared_handle()
            .get_extension::<PluginGui>()
            .ok_or_else(|| anyhow!("{plugin_id} has no clap.gui extension"))?;
        let handle = plugin.plugin_handle();
        if !gui.is_api_supported(
            &handle,
            GuiConfiguration {
                api_type: GuiApiType::X11,
                is_floating: false,
            },
        ) {
            bail!("{plugin_id} does not embed in X11 windows");
        }
        Ok(Self {
            plugin,
            gui,
            log,
            requests,
            created: false,
        })
    }

    /// `gui.create(x11, embedded)`.
    pub fn create(&mut self) -> Result<()> {
        let handle = self.plugin.plugin_handle();
        self.gui
            .create(
                &handle,
                GuiConfiguration {
                    api_type: GuiApiType::X11,
                    is_floating: false,
                },
            )
            .map_err(|e| anyhow!("gui.create failed: {e:?}"))?;
        self.created = true;
        self.poll_main_thread();
        Ok(())
    }

    /// `gui.set_scale`: whether the plugin applied it.
    pub fn set_scale(&mut self, scale: f64) -> bool {
        let handle = self.plugin.plugin_handle();
        self.gui.set_scale(&handle, scale).is_ok()
    }

    /// `gui.get_size`.
    pub fn get_size(&mut self) -> Option<(u32, u32)> {
        let handle = self.plugin.plugin_handle();
        self.gui.get_size(&handle).map(|s| (s.width, s.height))
    }

    /// `gui.can_resize`.
    pub fn can_resize(&mut self) -> bool {
        let handle = self.plugin.plugin_handle();
        self.gui.can_resize(&handle)
    }

    /// `gui.adjust_size`.
    pub fn adjust_size(&mut self, width: u32, height: u32) -> Option<(u32, u32)> {
        let handle = self.plugin.plugin_handle();
        self.gui
            .adjust_size(&handle, GuiSize { width, height })
            .map(|s| (s.width, s.height))
    }

    /// `gui.set_size`.
    pub fn set_size(&mut self, width: u32, height: u32) -> Result<()> {
        let handle = self.plugin.plugin_handle();
        self.gui
            .set_size(&handle, GuiSize { width, height })
            .map_err(|e| anyhow!("gui.set_size({width}, {height}) failed: {e:?}"))
    }

    /// `gui.set_parent` with an X11 window id. The window must live until [`Self::destroy`].
    pub fn set_parent(&mut self, x11_window: u32) -> Result<()> {
        let handle = self.plugin.plugin_handle();
        // SAFETY: the caller keeps the parent window alive while the GUI exists (the X11
        // server owns it; a destroyed window is an X error in the plugin, not memory).
        unsafe {
            self.gui
                .set_parent(&handle, Window::from_x11_handle(x11_window.into()))
        }
        .map_err(|e| anyhow!("gui.set_parent failed: {e:?}"))
    }

    pub fn show(&mut self) -> Result<()> {
        let handle = self.plugin.plugin_handle();
        self.gui
            .show(&handle)
            .map_err(|e| anyhow!("gui.show failed: {e:?}"))
    }

    pub fn hide(&mut self) -> Result<()> {
        let handle = self.plugin.plugin_handle();
        self.gui
            .hide(&handle)
            .map_err(|e| anyhow!("gui.hide failed: {e:?}"))
    }

    /// `gui.destroy` (the window closes; the instance stays).
    pub fn destroy(&mut self) {
        if self.created {
            let handle = self.plugin.plugin_handle();
            self.gui.destroy(&handle);
            self.created = false;
        }
        self.poll_main_thread();
    }

    /// Runs `on_main_thread` if the plugin asked for it (nice-plug's GUI tasks, baseview's
    /// resize requests). True if it ran.
    pub fn poll_main_thread(&mut self) -> bool {
        let requested = self
            .plugin
            .access_shared_handler(|s| s.callback_requested.swap(false, Ordering::SeqCst));
        if requested {
            self.plugin.call_on_main_thread_callback();
        }
        requested
    }

    /// What the plugin asked of the host's window so far.
    pub fn requests(&self) -> &GuiRequests {
        &self.requests
    }

    /// Log messages the plugin sent so far.
    pub fn logs(&self) -> Vec<LogEntry> {
        self.log.entries()
    }
}

impl Drop for GuiInstance {
    fn drop(&mut self) {
        self.destroy();
    }
}
