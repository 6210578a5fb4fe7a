//! End to end through the `stemtap` command: the demo hosts the real built plugin and
//! records a take; `stemtap check` measures it, writes its take sheet and says it can be
//! sent; every file carries the take's start as its BWF TimeReference (read back with
//! bwavfile, a reader that is not ours); `stemtap pack` makes the mastering engineer's zip.

use std::path::{Path, PathBuf};
use std::process::Command;

fn stemtap(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stemtap"))
        .args(args)
        .output()
        .expect("running the stemtap binary")
}

fn the_take(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "one take folder: {dirs:?}");
    dirs[0].clone()
}

#[test]
fn the_demo_take_checks_as_sendable_and_lands_in_place() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().to_str().unwrap();
    let demo = stemtap(&["demo", "--out", out, "--speed", "40"]);
    assert!(
        demo.status.success(),
        "demo failed: {}\n{}",
        String::from_utf8_lossy(&demo.stdout),
        String::from_utf8_lossy(&demo.stderr)
    );
    let take = the_take(root.path());
    let take_arg = take.to_str().unwrap();

    // The table and the sheet; the demo's synthetic parts start and stop abruptly and run
    // hot, so warnings but nothing failed: exit status 0.
    let check = stemtap(&["check", take_arg]);
    let table = String::from_utf8_lossy(&check.stdout);
    assert_eq!(
        check.status.code(),
        Some(0),
        "{table}\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(
        table.contains("Mix.wav") && table.contains("LUFS"),
        "{table}"
    );
    let sheet = std::fs::read_to_string(take.join("take.html")).unwrap();
    assert!(
        sheet.contains("<svg") && sheet.contains("Drums Bus"),
        "take sheet"
    );

    // --json is one document with a verdict per file and the null test.
    let json = stemtap(&["check", "--json", "--no-sheet", take_arg]);
    let report: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("one JSON document");
    assert_eq!(report["files"].as_array().unwrap().len(), 8);
    assert!(report["files"][0]["analysis"]["integrated_lufs"].is_number());
    assert!(
        report["null_test"].is_object(),
        "the demo has stems and a mix"
    );

    // Every file says where it belongs on the song's timeline.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(take.join("take.json")).unwrap()).unwrap();
    let start = manifest["start_sample"].as_i64().unwrap();
    assert!(start > 0);
    for f in manifest["files"].as_array().unwrap() {
        let path = take.join(f["path"].as_str().unwrap());
        let mut reader = bwavfile::WaveReader::open(&path).unwrap();
        let bext = reader.broadcast_extension().unwrap().expect("a bext chunk");
        assert_eq!(bext.time_reference, start as u64, "{}", path.display());
        assert_eq!(bext.originator, "StemTap");
        let frames = reader.frame_length().unwrap();
        assert_eq!(frames, manifest["length_frames"].as_u64().unwrap());
    }

    // Packed for a mastering engineer: stems and mix, 24-bit, in one zip next to the take.
    let out_dir = tempfile::tempdir().unwrap();
    let pack = stemtap(&[
        "pack",
        take_arg,
        "--for",
        "mastering",
        "--out",
        out_dir.path().to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(
        pack.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pack.stderr)
    );
    let packed: serde_json::Value =
        serde_json::from_slice(&pack.stdout).expect("one JSON document");
    let zip = PathBuf::from(packed["zip_path"].as_str().unwrap());
    assert!(zip.is_file() && zip.starts_with(out_dir.path()), "{zip:?}");
    let names: Vec<&str> = packed["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names.len(), 3, "two stems and the mix: {names:?}");

    // Usage and read errors are exit status 2.
    assert_eq!(
        stemtap(&["check", out]).status.code(),
        Some(2),
        "a root is no take"
    );
    assert_eq!(stemtap(&["check"]).status.code(), Some(2));
}
