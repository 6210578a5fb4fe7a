//! Loading a VST3 module (the shared library) and reading its plugin factory.

use anyhow::{bail, ensure, Context, Result};
use std::ffi::{c_char, c_void, CStr};
use std::path::{Path, PathBuf};
use vst3::Steinberg::{
    kResultOk, FIDString, IPluginFactory, IPluginFactoryTrait, PClassInfo, PFactoryInfo,
};
use vst3::{ComPtr, Interface};

/// The category of audio processor classes in a factory (`kVstAudioEffectClass`).
pub const AUDIO_MODULE_CLASS: &str = "Audio Module Class";

/// One class the factory offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassInfo {
    /// The class id exactly as the factory reports it (the bytes to pass to `createInstance`).
    pub cid: [u8; 16],
    pub category: String,
    pub name: String,
}

/// `GetPluginFactory`: returns an owned (already referenced) `IPluginFactory*`.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
type GetPluginFactoryFn = unsafe extern "system" fn() -> *mut c_void;
/// Linux `ModuleEntry(void* sharedLibraryHandle)`.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))]
type ModuleEntryFn = unsafe extern "C" fn(*mut c_void) -> bool;
/// Linux `ModuleExit()`.
type ModuleExitFn = unsafe extern "C" fn() -> bool;

/// A loaded VST3 module with its factory.
///
/// Dropping it releases the factory and calls `ModuleExit`, but never unloads the library:
/// a plugin may leave threads of its own running (StemTap's disk writer is process-wide and
/// outlives every instance), and unmapping their code would crash the process. Instances
/// borrow the module, so they are always released before `ModuleExit`.
pub struct Vst3Module {
    factory: Option<ComPtr<IPluginFactory>>,
    exit: ModuleExitFn,
    path: PathBuf,
}

impl Vst3Module {
    /// Loads the shared library at `path`, calls `ModuleEntry` with its handle, and gets the
    /// factory.
    #[cfg(all(unix, not(target_os = "macos")))]
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

        let path = path
            .as_ref()
            .canonicalize()
            .with_context(|| format!("VST3 module not found: {}", path.as_ref().display()))?;
        // SAFETY: loading a library runs its initialisers; we load only the plugin binary the
        // caller names, which is what a plugin host is for.
        let lib = unsafe { Library::open(Some(&path), RTLD_NOW | RTLD_LOCAL) }
            .with_context(|| format!("dlopen {}", path.display()))?;
        // Keep the raw handle for ModuleEntry. The library is deliberately never closed (see
        // the type's documentation), so the handle stays valid for the life of the process.
        let handle = lib.into_raw();
        // SAFETY: `handle` came from `into_raw` just above and has not been closed.
        let lib = std::mem::ManuallyDrop::new(unsafe { Library::from_raw(handle) });

        // SAFETY: the VST3 SDK declares these symbols with exactly these signatures on Linux
        // (linuxmain.cpp / ipluginbase.h); copying the fn pointers out is fine because the
        // library is never unloaded.
        let (entry, exit, get_factory) = unsafe {
            (
                *lib.get::<ModuleEntryFn>(b"ModuleEntry\0")
                    .context("the module exports no ModuleEntry")?,
                *lib.get::<ModuleExitFn>(b"ModuleExit\0")
                    .context("the module exports no ModuleExit")?,
                *lib.get::<GetPluginFactoryFn>(b"GetPluginFactory\0")
                    .context("the module exports no GetPluginFactory")?,
            )
        };
        // SAFETY: ModuleEntry takes the dlopen handle of the module itself, called once before
        // anything else in the module is used.
        ensure!(unsafe { entry(handle) }, "ModuleEntry returned false");
        // SAFETY: GetPluginFactory returns an IPluginFactory pointer the caller owns one
        // reference to (or null); ComPtr takes over that reference.
        let factory = unsafe { ComPtr::from_raw(get_factory() as *mut IPluginFactory) };
        let Some(factory) = factory else {
            // SAFETY: balanced with the successful ModuleEntry above.
            unsafe { exit() };
            bail!("GetPluginFactory returned null");
        };
        Ok(Vst3Module {
            factory: Some(factory),
            exit,
            path,
        })
    }

    /// Loading is implemented for Linux only (macOS needs a CFBundle for `bundleEntry`).
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        bail!(
            "the headless VST3 host only supports Linux ({} not loaded)",
            path.as_ref().display()
        )
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn factory(&self) -> &ComPtr<IPluginFactory> {
        self.factory.as_ref().expect("present until drop")
    }

    /// The factory's vendor, from `getFactoryInfo`.
    pub fn vendor(&self) -> Result<String> {
        // SAFETY: PFactoryInfo is plain C data (char arrays and an int); all zeroes is valid.
        let mut info: PFactoryInfo = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable PFactoryInfo for the duration of the call.
        let r = unsafe { self.factory().getFactoryInfo(&mut info) };
        ensure!(r == kResultOk, "getFactoryInfo returned {r}");
        Ok(c_chars(&info.vendor))
    }

    /// Every class the factory offers (`countClasses` / `getClassInfo`).
    pub fn classes(&self) -> Result<Vec<ClassInfo>> {
        let factory = self.factory();
        // SAFETY: a plain call on a live factory.
        let count = unsafe { factory.countClasses() };
        let mut out = Vec::new();
        for i in 0..count {
            // SAFETY: PClassInfo is plain C data; all zeroes is valid.
            let mut info: PClassInfo = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid, writable PClassInfo for the duration of the call.
            let r = unsafe { factory.getClassInfo(i, &mut info) };
            ensure!(r == kResultOk, "getClassInfo({i}) returned {r}");
            out.push(ClassInfo {
                cid: info.cid.map(|b| b as u8),
                category: c_chars(&info.category),
                name: c_chars(&info.name),
            });
        }
        Ok(out)
    }

    /// The class with this category and name.
    pub fn find_class(&self, category: &str, name: &str) -> Result<ClassInfo> {
        let classes = self.classes()?;
        classes
            .iter()
            .find(|c| c.category == category && c.name == name)
            .cloned()
            .with_context(|| format!("no class {name:?} of category {category:?} in {classes:?}"))
    }

    /// `createInstance(cid, I::IID)`: a new object of class `cid`, as interface `I`.
    pub fn create_instance<I: Interface>(&self, cid: &[u8; 16]) -> Result<ComPtr<I>> {
        let mut obj: *mut c_void = std::ptr::null_mut();
        // SAFETY: `cid` and `I::IID` are 16-byte arrays that outlive the call, which is all
        // FIDString/TUID arguments need; `obj` is a valid out pointer.
        let r = unsafe {
            self.factory().createInstance(
                cid.as_ptr() as FIDString,
                I::IID.as_ptr() as FIDString,
                &mut obj,
            )
        };
        ensure!(
            r == kResultOk && !obj.is_null(),
            "createInstance returned {r} for class {cid:02x?}"
        );
        // SAFETY: on success the factory wrote an owned pointer to interface `I`.
        unsafe { ComPtr::from_raw(obj as *mut I) }.context("createInstance gave a null object")
    }
}

impl Drop for Vst3Module {
    fn drop(&mut self) {
        // Release the factory before telling the module we are done with it.
        self.factory = None;
        // SAFETY: balanced with the ModuleEntry call in `load`; every instance borrowed the
        // module and has been released already.
        unsafe { (self.exit)() };
    }
}

/// A NUL-terminated (or full) C char array as a String.
fn c_chars(chars: &[c_char]) -> String {
    let bytes: Vec<u8> = chars.iter().map(|&c| c as u8).collect();
    match CStr::from_bytes_until_nul(&bytes) {
        Ok(s) => s.to_string_lossy().into_owned(),
        Err(_) => String::from_utf8_lossy(&bytes).into_owned(),
    }
}
