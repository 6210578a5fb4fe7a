//! `stemtap check TAKE`: measure every file of a take and say whether it is ready to send.
//! A table (or `--json`) on stdout, the take sheet (`take.html`) in the take folder.
//! Exit status: 0 nothing failed (warnings allowed), 1 a check failed, 2 a usage or read
//! error.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;
use stemtap_delivery::checks::Level;
use stemtap_delivery::{check_take, report, sheet, Take};

/// Name of the take sheet in the take folder.
pub const SHEET_FILE: &str = "take.html";

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The take folder (the one holding take.json)
    take: PathBuf,
    /// Print one JSON document (the whole report) instead of the table
    #[arg(long)]
    json: bool,
    /// Do not write the take sheet (take.html) into the take folder
    #[arg(long)]
    no_sheet: bool,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let take = Take::open(&args.take)?;
    let report = check_take(&take);
    if !args.no_sheet {
        let path = take.dir.join(SHEET_FILE);
        std::fs::write(&path, sheet::take_sheet(&take, &report))
            .with_context(|| format!("writing the take sheet {}", path.display()))?;
        eprintln!("take sheet: {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::table(&report));
    }
    Ok(if report.read_errors > 0 {
        ExitCode::from(2)
    } else if report.verdict == Level::Fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
