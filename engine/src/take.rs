//! The take folder on disk: a unique folder per take, the file names inside it, and the
//! manifest. Runs on the writer thread only.

use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::names::{sanitize, UniqueNames};
use crate::settings::Role;
use std::io;
use std::path::{Path, PathBuf};

pub const STEMS_DIR: &str = "Stems";
pub const MULTITRACKS_DIR: &str = "Multitracks";

/// Create `<root>/<date time> Take <n>`, or `... (2)`, `(3)`... when that exists already
/// (another process recording into the same root in the same second). `create_dir` (not
/// `_all`) on the last component is what makes two processes never share a folder.
pub fn create_take_folder(root: &Path, stamp: &str, number: u32) -> io::Result<(PathBuf, String)> {
    std::fs::create_dir_all(root)?;
    let base = format!("{stamp} Take {number}");
    for attempt in 1..1000 {
        let name = if attempt == 1 {
            base.clone()
        } else {
            format!("{base} ({attempt})")
        };
        let dir = root.join(&name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((dir, name)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("no free folder name for {base}"),
    ))
}

/// Local date and time as used in take folder names: `2026-11-24 21-04-13` (no colons:
/// Windows forbids them).
pub fn folder_timestamp() -> String {
    chrono::Local::now().format("%Y-%m-%d %H-%M-%S").to_string()
}

/// Gives every file of a take its relative path (without `.wav`), unique per folder.
#[derive(Default)]
pub struct TakeNamer {
    stems: UniqueNames,
    multitracks: UniqueNames,
    root: UniqueNames,
    multitrack_count: u32,
}

impl TakeNamer {
    /// `Stems/<name>`, `Multitracks/<NN> <name>` (numbered in the order streams were added
    /// to the session, which follows the host's track order when it loads a project), or
    /// `Mix` at the top of the take.
    pub fn path_for(&mut self, role: Role, name: &str) -> String {
        match role {
            Role::Stem => format!("{STEMS_DIR}/{}", self.stems.claim(name)),
            Role::Multitrack => {
                self.multitrack_count += 1;
                let numbered = format!("{:02} {}", self.multitrack_count, sanitize(name));
                format!("{MULTITRACKS_DIR}/{}", self.multitracks.claim(&numbered))
            }
            Role::Mix => self.root.claim("Mix"),
        }
    }
}

/// Write `take.json` atomically: a reader sees the old or the new manifest, never half.
pub fn write_manifest(take_dir: &Path, manifest: &Manifest) -> io::Result<()> {
    let json = serde_json::to_vec_pretty(manifest).map_err(io::Error::other)?;
    let tmp = take_dir.join(format!("{MANIFEST_FILE}.tmp"));
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, take_dir.join(MANIFEST_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_takes_in_the_same_second_get_distinct_folders() {
        let root = tempfile::tempdir().unwrap();
        let nested = root.path().join("not/yet/there");
        let (a, name_a) = create_take_folder(&nested, "2026-11-24 21-04-13", 1).unwrap();
        let (b, name_b) = create_take_folder(&nested, "2026-11-24 21-04-13", 1).unwrap();
        assert_eq!(name_a, "2026-11-24 21-04-13 Take 1");
        assert_eq!(name_b, "2026-11-24 21-04-13 Take 1 (2)");
        assert!(a.is_dir() && b.is_dir() && a != b);
    }

    #[test]
    fn an_unusable_root_is_an_error_not_a_panic() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a file");
        std::fs::write(&file, b"x").unwrap();
        assert!(create_take_folder(&file, "t", 1).is_err());
    }

    #[test]
    fn namer_sorts_roles_into_folders_and_keeps_names_unique() {
        let mut namer = TakeNamer::default();
        assert_eq!(namer.path_for(Role::Stem, "Drums"), "Stems/Drums");
        assert_eq!(namer.path_for(Role::Stem, "drums"), "Stems/drums 2");
        assert_eq!(
            namer.path_for(Role::Multitrack, "Kick"),
            "Multitracks/01 Kick"
        );
        assert_eq!(
            namer.path_for(Role::Multitrack, "../Snare"),
            "Multitracks/02 _Snare"
        );
        assert_eq!(namer.path_for(Role::Mix, "Master"), "Mix");
        assert_eq!(namer.path_for(Role::Mix, "Master"), "Mix 2");
        assert_eq!(namer.path_for(Role::Stem, "CON"), "Stems/_CON");
    }
}
