//! `stemtap`: the command-line tools around StemTap's take folders and the plugin.
//!
//! One binary, one subcommand per job. Results go to stdout, logs and progress to stderr.

use anyhow::Result;
use clap::{Parser, Subcommand};

mod demo;
mod synth;

#[derive(Parser)]
#[command(name = "stemtap", version, about = "StemTap command-line tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Host the plugin on 8 tracks, play a 20 s arrangement, record part of it, summarise.
    Demo(demo::DemoArgs),
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Demo(args) => demo::run(args),
    }
}
