//! `stemtap pack TAKE --for RECIPIENT`: the take made ready for one recipient as one zip
//! (`<out>/<Project> - <Recipient>.zip`). The check runs first. A summary (or `--json`)
//! on stdout; warnings and the progress bar (only on a terminal) on stderr.
//! Exit status: 0 packed, 1 the check failed (nothing packed; `--force` packs anyway),
//! 2 a usage, config or read/write error.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use stemtap_delivery::pack::{
    pack, Naming, PackConfig, PackError, PackOptions, PackProgress, PackSettings, Recipient,
};
use stemtap_delivery::Take;
use stemtap_engine::SampleFormat;

#[derive(Clone, Copy, clap::ValueEnum)]
enum ForArg {
    MixEngineer,
    Mastering,
    Remixer,
    Vocalist,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Int24,
    Int16,
    Float32,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum NamingArg {
    Simple,
    PeWing,
}

#[derive(clap::Args)]
pub struct PackArgs {
    /// The take folder (the one holding take.json)
    take: PathBuf,
    /// Who the pack is for: mix-engineer (multitracks + the mix), mastering (stems + mix),
    /// remixer (stems + mix, tempo in the names), vocalist (stems + mix + an instrumental)
    #[arg(long = "for", value_enum)]
    recipient: ForArg,
    /// Sample format of the packed files (default: the preset's, 24-bit); int16 is
    /// TPDF-dithered
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Folder for the zip (default: the take folder's parent)
    #[arg(long)]
    out: Option<PathBuf>,
    /// File names: simple (`Project - Drums.wav`) or pe-wing (`AB_Title_MX01_Drums_48k24.wav`)
    #[arg(long, value_enum)]
    naming: Option<NamingArg>,
    /// Project name in the zip's and files' names (default: --title, else the take
    /// folder's name)
    #[arg(long)]
    project: Option<String>,
    /// Artist, for the P&E Wing initials
    #[arg(long)]
    artist: Option<String>,
    /// Song title, for P&E Wing names (default: the project name)
    #[arg(long)]
    title: Option<String>,
    /// Mix revision, for P&E Wing names (MX01 for 1)
    #[arg(long)]
    revision: Option<u32>,
    /// Stem names that are vocals, comma-separated (default: detected from the names:
    /// vox, vocal, bv, choir, adlib...)
    #[arg(long, value_delimiter = ',')]
    vocals: Option<Vec<String>>,
    /// Stem names that are lead vocals, left out of the TV track (default: the vocals not
    /// named like backing vocals)
    #[arg(long, value_delimiter = ',')]
    lead_vocals: Option<Vec<String>>,
    /// Preset overrides (default: stemtap-pack.toml in the take folder or its parent; see
    /// docs/pack.md)
    #[arg(long)]
    config: Option<PathBuf>,
    /// Pack even when the check fails, and keep alternate passes the null test did not
    /// confirm
    #[arg(long)]
    force: bool,
    /// Print one JSON document (what was packed) instead of the summary
    #[arg(long)]
    json: bool,
}

pub fn run(args: PackArgs) -> Result<ExitCode> {
    let take = Take::open(&args.take)?;
    let config_path = args.config.clone().or_else(|| PackConfig::find(&take.dir));
    let config = match &config_path {
        Some(p) => {
            eprintln!("config: {}", p.display());
            PackConfig::load(p)?
        }
        None => PackConfig::default(),
    };
    let recipient = match args.recipient {
        ForArg::MixEngineer => Recipient::MixEngineer,
        ForArg::Mastering => Recipient::Mastering,
        ForArg::Remixer => Recipient::Remixer,
        ForArg::Vocalist => Recipient::Vocalist,
    };
    let options = PackOptions {
        recipient,
        out_dir: args.out.clone(),
        config,
        overrides: PackSettings {
            project: args.project,
            artist: args.artist,
            title: args.title,
            revision: args.revision,
            vocals: args.vocals,
            lead_vocals: args.lead_vocals,
            format: args.format.map(|f| match f {
                FormatArg::Int24 => SampleFormat::Int24,
                FormatArg::Int16 => SampleFormat::Int16,
                FormatArg::Float32 => SampleFormat::Float32,
            }),
            naming: args.naming.map(|n| match n {
                NamingArg::Simple => Naming::Simple,
                NamingArg::PeWing => Naming::PeWing,
            }),
            ..PackSettings::default()
        },
        force: args.force,
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{msg:>10} [{bar:30}] {bytes}/{total_bytes} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar
    });
    let progress = |p: PackProgress| {
        let Some(bar) = &bar else { return };
        match p {
            PackProgress::Checking => bar.set_message("checking"),
            PackProgress::Writing { done, total } => {
                bar.set_message("converting");
                bar.set_length(total);
                bar.set_position(done);
            }
            PackProgress::Zipping { done, total } => {
                bar.set_message("zipping");
                bar.set_length(total);
                bar.set_position(done);
            }
        }
    };
    let result = pack(&take, &options, &progress);
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let result = match result {
        Ok(r) => r,
        Err(e @ PackError::CheckFailed { .. }) => {
            eprintln!("stemtap: {e}");
            eprintln!(
                "(run `stemtap check {}` for the details)",
                args.take.display()
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => {
            return Err(e).with_context(|| format!("packing {}", args.take.display()));
        }
    };
    for w in &result.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&result)?);
    } else {
        println!(
            "{} ({:.1} MB)",
            result.zip_path.display(),
            result.zip_bytes as f64 / 1e6
        );
        println!(
            "for the {}: {} files, {}, {} Hz, {} names; check {}",
            recipient.label().to_lowercase(),
            result.files.len(),
            result.preset.format.label(),
            take.manifest.sample_rate,
            result.preset.naming.id(),
            result.check.verdict.word()
        );
        for f in &result.files {
            println!(
                "  {:<12} {}",
                f.alternate.map_or(f.role.as_str(), |a| a.id()),
                f.name
            );
        }
        let d = &result.documents;
        println!(
            "  {:<12} {}, {}, {}, {}",
            "documents", d.track_sheet, d.take_sheet, d.reaper, d.audacity
        );
    }
    Ok(ExitCode::SUCCESS)
}
