//! The take lock: how a repair tool tells a take that a live process is still writing from
//! one a crash left behind. Writer thread (create, release) and any tool (inspect); never
//! the audio thread.
//!
//! # Design
//! While a take is written, its folder holds [`LOCK_FILE`], opened by the writing process
//! and held with an OS advisory lock (`flock` on Linux and macOS, `LockFileEx` on Windows,
//! through `fs4`). The OS drops that lock when the process ends however it ends, `SIGKILL`
//! and power cuts included, so a stale lock file is harmless: a take is **live** only when
//! the file exists *and* its lock is held by someone else ([`LockState::Live`]). The file's
//! text (pid, host name, take) is for humans; nothing trusts it, because a pid is reused and
//! a host name says nothing across a network share.
//!
//! The file is created right after the take's folder, and removed once `take.json` says
//! `"complete": true` (or with the folder of a take too short to keep). A lock that cannot
//! be taken never stops a recording: the writer reports it in the take's errors and
//! records on, unprotected (a repair tool could then treat the take as abandoned while it
//! is written, which is why the error is shown).
//!
//! Network file systems: `flock` over NFS is emulated with byte-range locks (Linux >= 2.6.12)
//! and SMB maps `LockFileEx` to the server; both behave. A file system without locks makes
//! [`TakeLock::acquire`] fail (reported) and [`lock_state`] say [`LockState::Unknown`],
//! which a repair treats as live: it refuses rather than guesses.

use fs4::{FileExt, TryLockError};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file in a take folder. Hidden on Unix; the leading dot also keeps it
/// out of listings of the take's audio.
pub const LOCK_FILE: &str = ".stemtap-recording";

/// A held take lock. Dropping it releases the lock and removes the file (errors ignored:
/// the OS releases the lock with the handle anyway, and a stale file is harmless).
#[derive(Debug)]
pub struct TakeLock {
    /// The open lock file; the OS lock lives as long as this handle.
    file: Option<File>,
    /// Where the file is, to remove it on release.
    path: PathBuf,
}

/// Why a lock could not be taken; names the file.
#[derive(Debug, thiserror::Error)]
pub enum TakeLockError {
    #[error("cannot create the take lock {}: {source} (recording continues; `stemtap repair` cannot tell this take is live)", path.display())]
    Create { path: PathBuf, source: io::Error },
    #[error("the take lock {} is held by another process (recording continues)", path.display())]
    Held { path: PathBuf },
}

impl TakeLock {
    /// Create `dir/`[`LOCK_FILE`], lock it exclusively and write who holds it.
    /// Writer thread; a few syscalls.
    pub fn acquire(dir: &Path, take: &str) -> Result<TakeLock, TakeLockError> {
        let path = dir.join(LOCK_FILE);
        let create = |source| TakeLockError::Create {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(create)?;
        match FileExt::try_lock(&file) {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(TakeLockError::Held { path }),
            Err(TryLockError::Error(e)) => return Err(create(e)),
        }
        // For humans only (see the module docs); a failure here leaves the lock valid.
        let text = format!(
            "StemTap is recording this take.\npid: {}\nhost: {}\ntake: {take}\n",
            std::process::id(),
            host_name()
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.write_all(text.as_bytes()));
        Ok(TakeLock {
            file: Some(file),
            path,
        })
    }

    /// Release the lock and remove the file. Writer thread.
    pub fn release(mut self) {
        self.release_now();
    }

    fn release_now(&mut self) {
        if let Some(file) = self.file.take() {
            // Close first: Windows removes a file only once no handle has it open. The
            // moment between the two is harmless: the take is complete (or being deleted)
            // by the time it is released.
            let _ = FileExt::unlock(&file);
            drop(file);
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Drop for TakeLock {
    fn drop(&mut self) {
        self.release_now();
    }
}

/// What the lock file of a take folder says about its writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockState {
    /// No lock file: the take was finished, or written by a StemTap without take locks.
    Absent,
    /// A lock file that nobody holds: its writer is gone (crashed or killed).
    Stale { holder: String },
    /// A live process holds the lock: the take is being written right now.
    Live { holder: String },
    /// The lock file exists but the OS could not say whether it is held (a file system
    /// without locks, a permission problem): treat as live.
    Unknown { holder: String, error: String },
}

impl LockState {
    /// Whether a repair must keep its hands off the take.
    pub fn may_be_live(&self) -> bool {
        matches!(self, LockState::Live { .. } | LockState::Unknown { .. })
    }
}

/// Whether a live process is writing the take in `dir`. Any thread; opens the lock file
/// read-only and tries its lock without blocking (and releases it at once).
pub fn lock_state(dir: &Path) -> LockState {
    let path = dir.join(LOCK_FILE);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return LockState::Absent,
        Err(e) => {
            return LockState::Unknown {
                holder: String::new(),
                error: e.to_string(),
            }
        }
    };
    let holder = std::fs::read_to_string(&path)
        .map(|t| {
            t.lines()
                .filter(|l| l.starts_with("pid:") || l.starts_with("host:"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    match FileExt::try_lock(&file) {
        Ok(()) => {
            let _ = FileExt::unlock(&file);
            LockState::Stale { holder }
        }
        Err(TryLockError::WouldBlock) => LockState::Live { holder },
        Err(TryLockError::Error(e)) => LockState::Unknown {
            holder,
            error: e.to_string(),
        },
    }
}

/// This machine's name, best effort, for the lock file's text.
fn host_name() -> String {
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .ok()
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_live_and_a_released_one_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(lock_state(dir.path()), LockState::Absent);
        let lock = TakeLock::acquire(dir.path(), "Take 1").unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert!(
            text.contains(&format!("pid: {}", std::process::id())),
            "{text}"
        );
        // flock locks belong to the open file, so a second open in this process conflicts,
        // as another process's would.
        let state = lock_state(dir.path());
        assert!(matches!(state, LockState::Live { .. }), "{state:?}");
        assert!(state.may_be_live());
        assert!(matches!(
            TakeLock::acquire(dir.path(), "again"),
            Err(TakeLockError::Held { .. })
        ));
        lock.release();
        assert_eq!(lock_state(dir.path()), LockState::Absent);
        assert!(!dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn a_lock_file_nobody_holds_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCK_FILE), "pid: 1\nhost: gone\n").unwrap();
        let state = lock_state(dir.path());
        assert_eq!(
            state,
            LockState::Stale {
                holder: "pid: 1, host: gone".into()
            }
        );
        assert!(!state.may_be_live());
        // A new writer takes a stale lock over.
        let lock = TakeLock::acquire(dir.path(), "Take 2").unwrap();
        assert!(lock_state(dir.path()).may_be_live());
        drop(lock);
        assert_eq!(lock_state(dir.path()), LockState::Absent);
    }

    #[test]
    fn a_folder_that_does_not_exist_cannot_be_locked() {
        let dir = tempfile::tempdir().unwrap();
        let err = TakeLock::acquire(&dir.path().join("gone"), "t").unwrap_err();
        assert!(err.to_string().contains(LOCK_FILE), "{err}");
    }
}
