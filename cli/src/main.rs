//! `stemtap`: the command-line tools around StemTap's take folders and the plugin.
//!
//! One binary, one subcommand per job. Results go to stdout, logs and progress to stderr.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod check;
mod demo;
mod pack;
mod repair;
mod synth;

#[derive(Parser)]
#[command(name = "stemtap", version, about = "StemTap command-line tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure every file of a take (loudness, true peak, headroom, tails, the null test)
    /// and write its take sheet (take.html). Exit 0: ready (warnings allowed), 1: a check
    /// failed, 2: usage or read error.
    Check(check::CheckArgs),
    /// Make a take ready for one recipient (mix engineer, mastering, remixer, vocalist):
    /// the files they need in the delivery format, alternate passes, a track sheet, a
    /// REAPER project, all in one zip. Runs the check first. Exit 0: packed, 1: the check
    /// failed (use --force), 2: usage, config or read/write error.
    Pack(pack::PackArgs),
    /// Host the plugin on 8 tracks, play a 20 s arrangement, record part of it, summarise.
    Demo(demo::DemoArgs),
    /// Make takes a crash left incomplete whole: recover every frame that reached the disk,
    /// bring all files of a take to one length, write take.json as complete and recovered.
    /// PATH is a take folder, or an output root (listed; repaired with --all). Never touches
    /// a take a running StemTap is recording. Exit 0: done, 1: a take could not be
    /// repaired, 2: usage or read error.
    Repair(repair::RepairArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check(args) => check::run(args),
        Command::Pack(args) => pack::run(args),
        Command::Demo(args) => demo::run(args).map(|()| ExitCode::SUCCESS),
        Command::Repair(args) => repair::run(args),
    };
    result.unwrap_or_else(|e| {
        eprintln!("stemtap: {e:#}");
        ExitCode::from(2)
    })
}
