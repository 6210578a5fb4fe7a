//! The `Editor` StemTap gives nice-plug: nice-plug-egui's editor, unchanged, except that
//! keys a VST3 host forwards to the window reach the text field being edited (see
//! [`host_keys`](super::host_keys)), and that the host's track name goes straight to this
//! instance's stream, window open or not. Every other call is passed straight through.
//!
//! Runs on the host's GUI thread; never on the audio thread.

use super::host_keys::HostKeys;
use super::StemTapApp;
use crate::engine::StreamHandle;
use nice_plug::context::gui::GuiContext;
use nice_plug::editor::dpi::NativeSize;
use nice_plug::editor::{
    Editor, EditorHandle, HostMethods, Modifiers, ParentWindowHandle, ResizeHint, SpawnedEditor,
    VirtualKeyCode,
};
use nice_plug::plugin::TrackInfo;
use nice_plug_egui::{EguiEditor, EguiEditorHandle, RepaintNotifier};
use std::error::Error;
use std::sync::Arc;

/// nice-plug-egui's editor plus the keys the host forwards.
pub struct StemTapEditor {
    inner: EguiEditor<StemTapApp>,
    /// This instance's stream: the host's track name becomes its default name.
    stream: Arc<StreamHandle>,
    /// Shared with the window's [`SessionView`](super::SessionView), which says when a text
    /// field is being edited and types the queued keys.
    host_keys: Arc<HostKeys>,
    /// The same notifier `inner` polls: a key taken from the host needs a frame to appear.
    repaint: RepaintNotifier,
}

impl StemTapEditor {
    pub(crate) fn new(
        inner: EguiEditor<StemTapApp>,
        stream: Arc<StreamHandle>,
        host_keys: Arc<HostKeys>,
        repaint: RepaintNotifier,
    ) -> Self {
        Self {
            inner,
            stream,
            host_keys,
            repaint,
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
        let spawned = self.inner.spawn(
            parent,
            wait_for_parent,
            fallback_scale_factor,
            gui_context,
            host,
        )?;
        Ok(SpawnedEditor {
            handle: StemTapEditorHandle {
                inner: spawned.handle,
                host_keys: self.host_keys.clone(),
                repaint: self.repaint.clone(),
            },
            window: spawned.window,
        })
    }

    fn size(&self) -> NativeSize<u32> {
        self.inner.size()
    }

    fn resize_hint(&self) -> ResizeHint {
        self.inner.resize_hint()
    }

    /// The host told us our track's name (CLAP track-info, VST3 channel context): it
    /// becomes the stream's default name. The one road a track name takes.
    fn track_info_updated(&self, info: TrackInfo) {
        let name = info.name().trim();
        self.stream
            .set_track_name((!name.is_empty()).then(|| name.to_string()));
    }

    unsafe fn assume_standalone_in_process(&self) {
        // SAFETY: the same contract, passed on unchanged to the editor that implements it.
        unsafe { self.inner.assume_standalone_in_process() }
    }
}

/// An open window: nice-plug-egui's handle, answering the host's forwarded keys.
pub struct StemTapEditorHandle {
    inner: EguiEditorHandle,
    host_keys: Arc<HostKeys>,
    repaint: RepaintNotifier,
}

impl EditorHandle for StemTapEditorHandle {
    type Window = <EguiEditorHandle as EditorHandle>::Window;
    type Error = <EguiEditorHandle as EditorHandle>::Error;

    fn run_until_closed(window: Self::Window) -> Result<(), Self::Error> {
        EguiEditorHandle::run_until_closed(window)
    }

    fn set_parent(
        &self,
        parent: ParentWindowHandle,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        self.inner.set_parent(parent, window)
    }

    fn show(&self, window: &Self::Window) -> Result<(), Self::Error> {
        self.inner.show(window)
    }

    fn hide(&self, window: &Self::Window) -> Result<(), Self::Error> {
        self.inner.hide(window)
    }

    fn set_size(
        &self,
        new_size: NativeSize<u32>,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        self.inner.set_size(new_size, window)
    }

    fn host_main_thread_callback(&self, window: &Self::Window) {
        self.inner.host_main_thread_callback(window)
    }

    fn adjust_size(
        &self,
        new_size: NativeSize<u32>,
        window: &Self::Window,
    ) -> Option<NativeSize<u32>> {
        self.inner.adjust_size(new_size, window)
    }

    fn set_fallback_scale_factor(
        &self,
        scale_factor: f64,
        window: &Self::Window,
    ) -> Result<(), Self::Error> {
        self.inner.set_fallback_scale_factor(scale_factor, window)
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
            self.repaint.request_repaint();
        }
        taken
    }

    fn state_changed(&self) {
        self.inner.state_changed()
    }

    fn param_value_changed(&self, id: &str, normalized_value: f32) {
        self.inner.param_value_changed(id, normalized_value)
    }

    fn param_modulation_changed(&self, id: &str, modulation_offset: f32) {
        self.inner.param_modulation_changed(id, modulation_offset)
    }
}
