//! Finding (and building once) the plugin binary.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The workspace root: the parent of this crate's folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ sits inside the workspace")
        .to_path_buf()
}

/// The cargo target directory: `CARGO_TARGET_DIR` or `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// File name of the plugin's dynamic library on this platform (`libstemtap.so` on Linux).
pub fn plugin_file_name() -> String {
    format!(
        "{}stemtap{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// The debug plugin binary, built with `cargo build -p stemtap` once per process.
///
/// `STEMTAP_PLUGIN_PATH` skips the build and names the binary (or `.clap` bundle) to load.
/// Parallel test processes may each run the build; cargo's own build-directory lock
/// serialises them and all but the first find nothing to do.
pub fn built_plugin() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_plugin().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_plugin() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("STEMTAP_PLUGIN_PATH") {
        let path = PathBuf::from(path);
        if !path.exists() {
            bail!("STEMTAP_PLUGIN_PATH={} does not exist", path.display());
        }
        return Ok(path);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "stemtap"])
        .current_dir(workspace_root())
        .status()
        .context("running cargo build -p stemtap")?;
    if !status.success() {
        bail!("cargo build -p stemtap failed ({status})");
    }
    let path = target_dir().join("debug").join(plugin_file_name());
    if !path.exists() {
        bail!("built, but {} is missing", path.display());
    }
    Ok(path)
}
