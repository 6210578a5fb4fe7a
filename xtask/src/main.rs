//! `cargo xtask bundle stemtap --release`: nice-plug's bundler (CLAP + VST3 bundles in
//! `target/bundled/`).
//! `cargo xtask install`: bundle in release mode, then copy both bundles into the user's
//! plugin folders (or `--clap-dir DIR --vst3-dir DIR`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

const PACKAGE: &str = "stemtap";
const BUNDLE_NAME: &str = "StemTap";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("install") {
        return install(&args[1..]);
    }
    nice_plug_xtask::main()
}

fn install(args: &[String]) -> Result<()> {
    let mut clap_dir = default_dir("CLAP");
    let mut vst3_dir = default_dir("VST3");
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--clap-dir" => clap_dir = Some(PathBuf::from(rest.next().context("--clap-dir needs a folder")?)),
            "--vst3-dir" => vst3_dir = Some(PathBuf::from(rest.next().context("--vst3-dir needs a folder")?)),
            other => bail!("unknown option {other:?}; usage: cargo xtask install [--clap-dir DIR] [--vst3-dir DIR]"),
        }
    }
    let (Some(clap_dir), Some(vst3_dir)) = (clap_dir, vst3_dir) else {
        bail!("cannot tell where plugins go on this system; pass --clap-dir and --vst3-dir");
    };

    nice_plug_xtask::main_with_args(
        "cargo xtask",
        ["bundle", PACKAGE, "--release"].map(String::from),
    )?;

    let bundled = Path::new("target").join("bundled");
    for (bundle, dir) in [
        (format!("{BUNDLE_NAME}.clap"), &clap_dir),
        (format!("{BUNDLE_NAME}.vst3"), &vst3_dir),
    ] {
        let from = bundled.join(&bundle);
        let to = dir.join(&bundle);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        copy_replacing(&from, &to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
        println!("installed {}", to.display());
    }
    println!(
        "Rescan plugins in your DAW, then insert StemTap on every bus or track you want to record."
    );
    Ok(())
}

/// Copy a file or a bundle folder, replacing what was there.
fn copy_replacing(from: &Path, to: &Path) -> Result<()> {
    if to.is_dir() {
        std::fs::remove_dir_all(to)?;
    } else if to.exists() {
        std::fs::remove_file(to)?;
    }
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_replacing(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
    }
    Ok(())
}

/// The per-user plugin folder for `format` ("CLAP" or "VST3"), as the CLAP and VST3
/// specifications name them.
fn default_dir(format: &str) -> Option<PathBuf> {
    if cfg!(target_os = "windows") {
        std::env::var_os("LOCALAPPDATA").map(|d| {
            PathBuf::from(d)
                .join("Programs")
                .join("Common")
                .join(format)
        })
    } else if cfg!(target_os = "macos") {
        home().map(|h| h.join("Library/Audio/Plug-Ins").join(format))
    } else {
        home().map(|h| h.join(format!(".{}", format.to_lowercase())))
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}
