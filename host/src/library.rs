//! Loading a CLAP binary: `libstemtap.so` straight from `target/`, or a `.clap` bundle file.

use anyhow::{anyhow, Context, Result};
use clack_host::prelude::PluginEntry;
use std::path::{Path, PathBuf};

/// A loaded CLAP entry. Cheap to clone; the library stays loaded while any clone or any
/// instance created from it is alive.
#[derive(Clone)]
pub struct PluginLibrary {
    pub(crate) entry: PluginEntry,
    path: PathBuf,
}

/// What the factory says about one plugin in the library.
#[derive(Debug, Clone)]
pub struct PluginDescription {
    pub id: String,
    pub name: String,
    pub version: String,
}

impl PluginLibrary {
    /// Loads and initialises the CLAP entry of the dynamic library at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let path = path
            .canonicalize()
            .with_context(|| format!("plugin binary not found: {}", path.display()))?;
        // SAFETY: loading a foreign library runs its initialisers. We load only plugin
        // binaries the caller names, which is the whole point of a plugin host.
        let entry = unsafe { PluginEntry::load(&path) }
            .map_err(|e| anyhow!("cannot load CLAP entry from {}: {e}", path.display()))?;
        Ok(PluginLibrary { entry, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plugins the library's factory offers.
    pub fn plugins(&self) -> Vec<PluginDescription> {
        let Some(factory) = self.entry.get_plugin_factory() else {
            return Vec::new();
        };
        let text = |s: Option<&std::ffi::CStr>| {
            s.map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        factory
            .plugin_descriptors()
            .map(|d| PluginDescription {
                id: text(d.id()),
                name: text(d.name()),
                version: text(d.version()),
            })
            .collect()
    }
}
