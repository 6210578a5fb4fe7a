//! `stemtap repair PATH`: make takes a crash left incomplete whole again (see
//! `stemtap_delivery::repair`). PATH is a take folder (repaired at once) or an output root:
//! without `--all` a root is only listed (nothing changes), with `--all` every incomplete
//! take under it that no live StemTap is recording is repaired.
//! Exit status: 0 every take asked for is complete (or, listing, nothing failed to read);
//! 1 a take could not be repaired (a live recording holds it, a file is unreadable); 2 a
//! usage or read error (PATH is neither a take folder nor a folder).

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use stemtap_delivery::repair::{self, find, Action, RepairReport};

#[derive(clap::Args)]
pub struct RepairArgs {
    /// A take folder (the one holding take.json), or an output root to search for takes
    path: PathBuf,
    /// On an output root: repair every incomplete take found, without asking (without it,
    /// the takes that need repair are only listed and nothing is changed)
    #[arg(long)]
    all: bool,
    /// Print one JSON document instead of text
    #[arg(long)]
    json: bool,
}

/// One take's line in the result.
struct Outcome {
    dir: PathBuf,
    /// `repaired`, `would_repair`, `already_complete`, `live` (left alone) or `failed`.
    action: &'static str,
    report: Option<RepairReport>,
    error: Option<String>,
}

impl Outcome {
    /// `{"dir", "action", "recovery"?, "error"?}` for `--json`.
    fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "dir": self.dir,
            "action": self.action,
        });
        if let Some(r) = self.report.as_ref().and_then(|r| r.recovery.as_ref()) {
            v["recovery"] = serde_json::to_value(r).unwrap_or_default();
        }
        if let Some(e) = &self.error {
            v["error"] = e.clone().into();
        }
        v
    }
}

pub fn run(args: RepairArgs) -> Result<ExitCode> {
    let outcomes = if find::is_take_folder(&args.path) {
        vec![one(&args.path, true)]
    } else {
        let takes = find::find_takes(&args.path)?;
        let incomplete: Vec<_> = takes.iter().filter(|t| !t.complete).collect();
        if !args.json {
            eprintln!(
                "{} take(s) under {}, {} incomplete",
                takes.len(),
                args.path.display(),
                incomplete.len()
            );
        }
        incomplete
            .into_iter()
            .map(|t| {
                if let Some(why) = &t.unreadable {
                    Outcome {
                        dir: t.dir.clone(),
                        action: "failed",
                        report: None,
                        error: Some(why.clone()),
                    }
                } else if t.live {
                    Outcome {
                        dir: t.dir.clone(),
                        action: "live",
                        report: None,
                        error: None,
                    }
                } else {
                    one(&t.dir, args.all)
                }
            })
            .collect()
    };
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "takes": outcomes.iter().map(Outcome::to_json).collect::<Vec<_>>()
            }))?
        );
    } else {
        for o in &outcomes {
            println!("{}", line(o));
        }
        if !args.all && outcomes.iter().any(|o| o.action == "would_repair") {
            eprintln!("nothing was changed: run again with --all to repair these takes");
        }
    }
    let failed = outcomes.iter().any(|o| o.action == "failed")
        || (find::is_take_folder(&args.path) && outcomes.iter().any(|o| o.action == "live"));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Repair (or with `apply` false, plan) the take in `dir`.
fn one(dir: &Path, apply: bool) -> Outcome {
    let result = if apply {
        repair::repair_take(dir)
    } else {
        repair::plan_repair(dir)
    };
    match result {
        Ok(report) => Outcome {
            dir: dir.to_path_buf(),
            action: match report.action {
                Action::Repaired => "repaired",
                Action::WouldRepair => "would_repair",
                Action::AlreadyComplete => "already_complete",
            },
            report: Some(report),
            error: None,
        },
        Err(e) => Outcome {
            dir: dir.to_path_buf(),
            action: if matches!(e, repair::RepairError::Live { .. }) {
                "live"
            } else {
                "failed"
            },
            report: None,
            error: Some(e.to_string()),
        },
    }
}

/// One human-readable line per take.
fn line(o: &Outcome) -> String {
    let dir = o.dir.display();
    let rec = o.report.as_ref().and_then(|r| r.recovery.as_ref());
    match (o.action, rec) {
        ("repaired" | "would_repair", Some(r)) => {
            let cut: u64 = r
                .files
                .iter()
                .map(|f| f.frames_found - f.frames_kept)
                .max()
                .unwrap_or(0);
            let rate = r.sample_rate.max(1) as f64;
            format!(
                "{}: {dir}: {:.3} s in every file ({:.3} s more than the headers said; up to {:.3} s cut to one length), {} file(s), {} marker(s)",
                if o.action == "repaired" { "repaired" } else { "would repair" },
                r.length_seconds,
                (r.length_frames.saturating_sub(r.frames_in_headers)) as f64 / rate,
                cut as f64 / rate,
                r.files.len(),
                r.markers
            )
        }
        ("already_complete", _) => format!("complete: {dir}: nothing to do"),
        ("live", _) => format!(
            "live: {dir}: a running StemTap is recording it; left alone{}",
            o.error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        ),
        _ => format!(
            "failed: {dir}: {}",
            o.error.as_deref().unwrap_or("unknown error")
        ),
    }
}
