//! A scripted recording host for the two-process scenario: records two tracks named
//! `<tag> One` / `<tag> Two` into `--out`, checks its own take, prints `TAKE <folder>`.
//!
//! Usage: stemtap-e2e-host --out DIR --tag A --seed 10 --start-at-ms <unix ms>
//!
//! `--kill-trial` (scenario 21): records the 8 tracks of [`kill::kill_specs`] into `--out`
//! at `--speed` times real time for `--record-cycles` cycles, then disarms and keeps
//! processing until it is killed, printing what it fed (see [`kill`]'s protocol).

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
    if std::env::args().any(|a| a == "--kill-trial") {
        return kill_trial();
    }
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

/// Scenario 21's child: record, print every cycle's input position, never finish on its own
/// (the parent kills it). Bounded so that a lost parent does not leave it running.
fn kill_trial() -> Result<()> {
    use std::io::Write;
    let out = std::path::PathBuf::from(arg("--out")?);
    let record_cycles: usize = arg("--record-cycles")?.parse()?;
    let speed: f64 = arg("--speed")?.parse()?;
    let mut h = Harness::new_in(kill::kill_specs(), &out)?;
    h.rack.set_speed(Some(speed));
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(2)?;
    let mut o = std::io::stdout().lock();
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    writeln!(o, "{} {start}", kill::ARMED)?;
    writeln!(o, "{} {start}", kill::FED)?;
    o.flush()?;
    for _ in 0..record_cycles {
        let pos = h.step(None, |_| Plan::Normal)?;
        writeln!(o, "{} {pos}", kill::FED)?;
        o.flush()?;
    }
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    writeln!(o, "{} {end}", kill::DISARMED)?;
    o.flush()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < deadline {
        let pos = h.step(None, |_| Plan::Normal)?;
        writeln!(o, "{} {pos}", kill::FED)?;
        o.flush()?;
    }
    Ok(())
}
