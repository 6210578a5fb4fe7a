//! Keys a VST3 host hands to the window through `IPlugView::onKeyDown` / `onKeyUp`, taken
//! only while a StemTap text field is being edited, so the space bar (and every other
//! shortcut) stays the host's the rest of the time.
//!
//! # Why
//! Some hosts (REAPER notably) keep keys such as Space, Backspace, Delete and the arrows for
//! their own shortcuts and offer them to the plugin through `onKeyDown` instead of letting
//! the plugin window have them. nice-plug routes those calls to
//! `EditorHandle::on_virtual_key_from_host`, which nice-plug-egui 0.6 leaves unimplemented
//! (it answers "not mine" to every key), so typing "Lead Vox" gave "LeadVox" and Backspace
//! deleted the host's selection instead of a letter. [`StemTapEditor`](super::StemTapEditor)
//! answers those calls with [`HostKeys::offer`]: while a text field has focus the key is
//! queued and handed to egui at the start of the next frame ([`HostKeys::deliver`]);
//! otherwise the host keeps it.
//!
//! # Threads
//! `offer` runs on the host's GUI thread (inside `onKeyDown`); `deliver` and `publish` run
//! in the window's frame. Both sides take one short lock or an atomic; neither is anywhere
//! near the audio thread.

use egui::{Context, Event, Key};
use nice_plug::editor::{Modifiers, VirtualKeyCode};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared by one window's frames and its editor handle.
#[derive(Debug, Default)]
pub struct HostKeys {
    /// A text field of this window had keyboard focus at the end of the last frame.
    text_editing: AtomicBool,
    /// Keys taken from the host since the last frame, oldest first.
    queue: Mutex<Vec<HostKey>>,
}

/// One key event taken from the host, as egui will see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostKey {
    /// The key, when egui has one for it (the numpad's `*` has none: only its text).
    pub key: Option<Key>,
    /// What a press types, for keys that type something.
    pub text: Option<&'static str>,
    pub pressed: bool,
    pub modifiers: egui::Modifiers,
}

impl HostKeys {
    /// The host offers a key (`onKeyDown`/`onKeyUp`). Returns whether StemTap takes it: only
    /// while a text field is being edited, and only keys a text field uses. A key not taken
    /// goes to the host's own shortcuts. Releases follow the same rule as presses, so the
    /// host never sees the release of a press it did not get.
    pub fn offer(&self, key: VirtualKeyCode, is_down: bool, modifiers: Modifiers) -> bool {
        if !self.text_editing.load(Ordering::Acquire) {
            return false;
        }
        let Some((key, text)) = translate(key) else {
            return false;
        };
        self.queue.lock().push(HostKey {
            key,
            text: text.filter(|_| is_down),
            pressed: is_down,
            modifiers: egui_modifiers(modifiers),
        });
        true
    }

    /// Whether a text field had keyboard focus at the end of the last frame.
    pub fn text_editing(&self) -> bool {
        self.text_editing.load(Ordering::Acquire)
    }

    /// Start of a frame, before any widget: add the keys taken from the host to this frame's
    /// input, as if the window had received them.
    pub fn deliver(&self, ctx: &Context) {
        let keys = std::mem::take(&mut *self.queue.lock());
        if keys.is_empty() {
            return;
        }
        let events = ctx.input(|i| host_events(&i.events, &keys));
        // egui ends an edit on Escape (and moves focus on Tab) in its focus logic, which
        // has run for this frame already; ending the edit here gives the same result:
        // the field loses focus, sees the key, and keeps (Tab) or reverts (Escape) the text.
        let ends_edit = events.iter().any(|e| {
            matches!(
                e,
                Event::Key {
                    key: Key::Escape | Key::Tab,
                    pressed: true,
                    ..
                }
            )
        });
        if ends_edit {
            ctx.memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
        ctx.input_mut(|i| i.events.extend(events));
    }

    /// End of a frame: remember whether a text field has focus, for the host's next keys.
    pub fn publish(&self, ctx: &Context) {
        self.set_text_editing(ctx.text_edit_focused());
    }

    /// The window closed: nothing is being edited any more.
    pub fn set_text_editing(&self, editing: bool) {
        self.text_editing.store(editing, Ordering::Release);
    }
}

/// The egui events for `keys`, leaving out a key the window also received itself in the
/// same frame (a host that both forwards a key and lets the window have it would otherwise
/// type it twice).
pub fn host_events(native: &[Event], keys: &[HostKey]) -> Vec<Event> {
    let natively = |k: &HostKey| {
        native.iter().any(|e| match (e, k.key) {
            (Event::Key { key, pressed, .. }, Some(want)) => *key == want && *pressed == k.pressed,
            (Event::Text(text), None) => Some(text.as_str()) == k.text,
            _ => false,
        })
    };
    let mut events = Vec::new();
    for k in keys.iter().filter(|k| !natively(k)) {
        if let Some(key) = k.key {
            events.push(Event::Key {
                key,
                physical_key: None,
                pressed: k.pressed,
                repeat: false,
                modifiers: k.modifiers,
            });
        }
        if let Some(text) = k.text {
            // Like the window's own path: a shortcut (Ctrl/Cmd held) types nothing.
            if !k.modifiers.command && !k.modifiers.ctrl {
                events.push(Event::Text(text.to_string()));
            }
        }
    }
    events
}

/// The egui key and the text it types, for every key a text field uses; `None` for the
/// rest (function keys, media keys, modifier-only presses...), which stay the host's.
pub fn translate(key: VirtualKeyCode) -> Option<(Option<Key>, Option<&'static str>)> {
    use VirtualKeyCode as V;
    let key_only = |k: Key| Some((Some(k), None));
    let typing = |k: Option<Key>, text: &'static str| Some((k, Some(text)));
    match key {
        V::Space => typing(Some(Key::Space), " "),
        V::Backspace => key_only(Key::Backspace),
        V::Delete => key_only(Key::Delete),
        V::Return | V::NumpadEnter => key_only(Key::Enter),
        V::Escape => key_only(Key::Escape),
        V::Tab => key_only(Key::Tab),
        V::ArrowLeft => key_only(Key::ArrowLeft),
        V::ArrowRight => key_only(Key::ArrowRight),
        V::ArrowUp => key_only(Key::ArrowUp),
        V::ArrowDown => key_only(Key::ArrowDown),
        V::Home => key_only(Key::Home),
        V::End => key_only(Key::End),
        V::PageUp => key_only(Key::PageUp),
        V::PageDown => key_only(Key::PageDown),
        V::Insert => key_only(Key::Insert),
        V::Numpad0 => typing(Some(Key::Num0), "0"),
        V::Numpad1 => typing(Some(Key::Num1), "1"),
        V::Numpad2 => typing(Some(Key::Num2), "2"),
        V::Numpad3 => typing(Some(Key::Num3), "3"),
        V::Numpad4 => typing(Some(Key::Num4), "4"),
        V::Numpad5 => typing(Some(Key::Num5), "5"),
        V::Numpad6 => typing(Some(Key::Num6), "6"),
        V::Numpad7 => typing(Some(Key::Num7), "7"),
        V::Numpad8 => typing(Some(Key::Num8), "8"),
        V::Numpad9 => typing(Some(Key::Num9), "9"),
        V::NumpadAdd => typing(Some(Key::Plus), "+"),
        V::NumpadSubtract => typing(Some(Key::Minus), "-"),
        V::NumpadDecimal => typing(Some(Key::Period), "."),
        V::NumpadDivide => typing(Some(Key::Slash), "/"),
        V::NumpadMultiply => typing(None, "*"),
        V::Equals => typing(Some(Key::Equals), "="),
        _ => None,
    }
}

/// nice-plug's modifiers (VST3's: Command is Cmd on macOS, Ctrl elsewhere; Control is the
/// macOS Ctrl key) as egui's.
pub fn egui_modifiers(m: Modifiers) -> egui::Modifiers {
    let command = m.contains(Modifiers::COMMAND);
    let mac = cfg!(target_os = "macos");
    egui::Modifiers {
        alt: m.contains(Modifiers::ALT),
        shift: m.contains(Modifiers::SHIFT),
        ctrl: m.contains(Modifiers::CONTROL) || (command && !mac),
        mac_cmd: command && mac,
        command,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(pressed: bool) -> HostKey {
        HostKey {
            key: Some(Key::Space),
            text: pressed.then_some(" "),
            pressed,
            modifiers: egui::Modifiers::NONE,
        }
    }

    #[test]
    fn keys_are_only_taken_while_a_text_field_is_edited() {
        let keys = HostKeys::default();
        assert!(!keys.offer(VirtualKeyCode::Space, true, Modifiers::empty()));
        keys.set_text_editing(true);
        assert!(keys.offer(VirtualKeyCode::Space, true, Modifiers::empty()));
        assert!(keys.offer(VirtualKeyCode::Space, false, Modifiers::empty()));
        assert!(
            !keys.offer(VirtualKeyCode::F5, true, Modifiers::empty()),
            "keys a text field has no use for stay the host's"
        );
        assert!(!keys.offer(VirtualKeyCode::Shift, true, Modifiers::SHIFT));
        assert_eq!(*keys.queue.lock(), [space(true), space(false)]);
        keys.set_text_editing(false);
        assert!(!keys.offer(VirtualKeyCode::Backspace, true, Modifiers::empty()));
    }

    #[test]
    fn a_key_the_window_also_got_is_not_typed_twice() {
        let native = [
            Event::Key {
                key: Key::Space,
                physical_key: None,
                pressed: true,
                repeat: false,
                modifiers: egui::Modifiers::NONE,
            },
            Event::Text(" ".into()),
        ];
        assert!(host_events(&native, &[space(true)]).is_empty());
        assert_eq!(
            host_events(&native, &[space(false)]).len(),
            1,
            "the release was not seen natively"
        );
        assert_eq!(
            host_events(&[], &[space(true)]),
            [
                Event::Key {
                    key: Key::Space,
                    physical_key: None,
                    pressed: true,
                    repeat: false,
                    modifiers: egui::Modifiers::NONE,
                },
                Event::Text(" ".into())
            ]
        );
    }

    #[test]
    fn shortcuts_type_nothing_and_modifiers_map_per_platform() {
        let ctrl_space = HostKey {
            modifiers: egui_modifiers(Modifiers::COMMAND),
            ..space(true)
        };
        assert_eq!(host_events(&[], &[ctrl_space]).len(), 1, "the key, no text");
        let m = egui_modifiers(Modifiers::COMMAND | Modifiers::SHIFT);
        assert!(m.command && m.shift && !m.alt);
        assert_eq!(m.mac_cmd, cfg!(target_os = "macos"));
        assert_eq!(m.ctrl, !cfg!(target_os = "macos"));
        assert!(egui_modifiers(Modifiers::CONTROL).ctrl);
    }

    #[test]
    fn translation_table() {
        assert_eq!(
            translate(VirtualKeyCode::Space),
            Some((Some(Key::Space), Some(" ")))
        );
        assert_eq!(
            translate(VirtualKeyCode::NumpadEnter),
            Some((Some(Key::Enter), None))
        );
        assert_eq!(
            translate(VirtualKeyCode::NumpadMultiply),
            Some((None, Some("*")))
        );
        assert_eq!(translate(VirtualKeyCode::MediaPlay), None);
        assert_eq!(translate(VirtualKeyCode::Super), None);
    }
}
