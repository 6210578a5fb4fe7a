//! A scripted recording host for the two-process scenario: records two tracks named
//! `<tag> One` / `<tag> Two` into `--out`, checks its own take, prints `TAKE <folder>`.
//!
//! Usage: stemtap-e2e-host --out DIR --tag A --seed 10 --start-at-ms <unix ms>

use anyhow::{Context, Result};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stemtap_e2e::*;

fn arg(name: &str) -> Result<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .with_context(|| format!("missing {name}"))
}

fn main() -> Result<()> {
    let out = std::path::PathBuf::from(arg("--out")?);
    let tag = arg("--tag")?;
    let seed: usize = arg("--seed")?.parse()?;
    let start_at: u64 = arg("--start-at-ms")?.parse()?;
    let specs = vec![
        TrackSpec::new(&format!("{tag} One"), "stem").seed(seed),
        TrackSpec::new(&format!("{tag} Two"), "stem").seed(seed + 1),
    ];
    let mut h = Harness::new_in(specs, &out)?;
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(2)?;
    // Both processes arm at the same wall-clock moment, so their takes start together.
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64;
    if start_at > now {
        std::thread::sleep(Duration::from_millis(start_at - now));
    }
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    h.run(60)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    let prefix = format!("{tag} ");
    let takes = h.finish_where(1, |t| {
        t.files().iter().any(|f| f.stem_name.starts_with(&prefix))
    })?;
    h.stop()?;
    check_take(&takes[0], &h.specs, &Expect::exact(start, end))?;
    println!("TAKE {}", takes[0].dir.display());
    Ok(())
}
