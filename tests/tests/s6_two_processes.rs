//! Scenario 6: two host processes record into the same output root at the same moment.
//! Their takes must not collide: two distinct folders, both complete, each with its own
//! files and content.

use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use stemtap_host::take::find_takes;

#[test]
fn two_processes_do_not_collide() -> anyhow::Result<()> {
    let plugin = stemtap_host::built_plugin()?;
    let root = tempfile::tempdir()?;
    let start_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis() as u64 + 2_500;
    let spawn = |tag: &str, seed: &str| {
        Command::new(env!("CARGO_BIN_EXE_stemtap-e2e-host"))
            .args([
                "--out",
                root.path().to_str().unwrap(),
                "--tag",
                tag,
                "--seed",
                seed,
            ])
            .args(["--start-at-ms", &start_at.to_string()])
            .env("STEMTAP_PLUGIN_PATH", &plugin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
    };
    let a = spawn("Alpha", "10")?;
    let b = spawn("Beta", "20")?;
    let mut folders = Vec::new();
    for (tag, child) in [("Alpha", a), ("Beta", b)] {
        let out = child.wait_with_output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{tag} host failed ({}):\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let folder = stdout
            .lines()
            .find_map(|l| l.strip_prefix("TAKE "))
            .unwrap_or_else(|| panic!("{tag}: no TAKE line in {stdout}"))
            .to_owned();
        folders.push(folder);
    }
    assert_ne!(
        folders[0], folders[1],
        "both processes wrote into one folder"
    );
    let takes = find_takes(root.path())?;
    assert_eq!(
        takes.len(),
        2,
        "{:?}",
        takes.iter().map(|t| t.folder_name()).collect::<Vec<_>>()
    );
    for t in &takes {
        assert!(t.complete(), "{} incomplete", t.folder_name());
        let files = t.files();
        assert_eq!(files.len(), 2, "{}: {files:?}", t.folder_name());
        let tags: Vec<_> = files
            .iter()
            .map(|f| f.stem_name.split(' ').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            tags[0],
            tags[1],
            "{}: files from both processes in one take: {files:?}",
            t.folder_name()
        );
    }
    Ok(())
}
