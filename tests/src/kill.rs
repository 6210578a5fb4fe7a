//! Scenario 21's rig: a child host process that records 8 tracks through the real plugin
//! and is killed (`SIGKILL` on Unix) at a chosen moment; what it fed is read from its
//! stdout, one line per cycle, so the parent knows the last input position the plugin saw.
//!
//! Protocol (child's stdout): `ARMED <pos>` once (the record cycle's first input position,
//! where the take starts), `FED <pos>` after every cycle (its first input position; the
//! cycle's [`BLOCK`] frames reached the plugin), `DISARMED <pos>` once (the take ends there).

use crate::{TrackSpec, BLOCK};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub const ARMED: &str = "ARMED";
pub const FED: &str = "FED";
pub const DISARMED: &str = "DISARMED";

/// The 8 tracks of the kill trials: 4 stems, 3 multitracks, the mix; all stereo.
pub fn kill_specs() -> Vec<TrackSpec> {
    let names = [
        ("Drums", "stem"),
        ("Bass", "stem"),
        ("Keys", "stem"),
        ("Vox", "stem"),
        ("Kick", "multitrack"),
        ("Snare", "multitrack"),
        ("Lead", "multitrack"),
        ("Master", "mix"),
    ];
    names
        .iter()
        .enumerate()
        .map(|(i, (n, role))| TrackSpec::new(n, role).seed(i))
        .collect()
}

/// A running kill-trial host and what it reported so far.
pub struct KillHost {
    child: Child,
    lines: Receiver<String>,
    /// Where the take starts (input position), once armed.
    pub armed: Option<i64>,
    /// One past the last input position fed to the plugin.
    pub fed_end: Option<i64>,
    /// Where the take ends, once disarmed.
    pub disarmed: Option<i64>,
}

impl KillHost {
    /// Start `exe --kill-trial` recording into `out`.
    pub fn spawn(
        exe: &Path,
        plugin: &Path,
        out: &Path,
        record_cycles: usize,
        speed: f64,
    ) -> Result<KillHost> {
        let mut child = Command::new(exe)
            .arg("--kill-trial")
            .arg("--out")
            .arg(out)
            .args(["--record-cycles", &record_cycles.to_string()])
            .args(["--speed", &speed.to_string()])
            .env("STEMTAP_PLUGIN_PATH", plugin)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(KillHost {
            child,
            lines: rx,
            armed: None,
            fed_end: None,
            disarmed: None,
        })
    }

    fn take_line(&mut self, line: &str) -> Option<&'static str> {
        let (what, pos) = line.split_once(' ')?;
        let pos: i64 = pos.trim().parse().ok()?;
        match what {
            ARMED => {
                self.armed = Some(pos);
                Some(ARMED)
            }
            FED => {
                self.fed_end = Some(pos + i64::from(BLOCK));
                Some(FED)
            }
            DISARMED => {
                self.disarmed = Some(pos);
                Some(DISARMED)
            }
            _ => None,
        }
    }

    /// Read the child's lines until one says `what`.
    pub fn wait_for(&mut self, what: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if self.take_line(&line) == Some(what) {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!("the host did not say {what} in time"),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    bail!("the host ended ({status}) before saying {what}")
                }
            }
        }
    }

    /// Read what arrived so far without waiting.
    pub fn poll(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.take_line(&line);
        }
    }

    /// Kill the child (`SIGKILL` on Unix, `TerminateProcess` on Windows), wait for it, and
    /// read everything it printed before it died.
    pub fn kill(mut self) -> Result<KillHost> {
        self.child.kill().context("killing the host")?;
        self.child.wait()?;
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.take_line(&line);
        }
        Ok(self)
    }
}

impl Drop for KillHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
