//! Scenario 11: corrupt and hostile saved state, through the real CLAP state extension.
//!
//! Garbage bytes, truncated and mis-prefixed streams, JSON of the wrong shape, and valid
//! JSON with wrong types in the `stream` and `session` fields are loaded into one instance,
//! first while it is inactive, then while it processes. Each load must fail cleanly or leave
//! well-formed settings behind, and audio must keep passing through unchanged. Then a hostile
//! but well-typed state (stream name `../../x`, `output_root` naming a file) is loaded, and a
//! take recorded: every file lies inside the take folder, bit-exact, and nothing is written
//! anywhere else under the temporary root.

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::path::{Component, Path, PathBuf};
use stemtap_e2e::*;
use stemtap_host::take::list_dirs;
use stemtap_host::{PluginStateJson, Transport};

const VICTIM: usize = 0;
const BYSTANDER: usize = 1;
const HOSTILE_NAME: &str = "../../x";

/// A deterministic byte soup.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

/// CLAP state bytes: nice-plug's 8-byte little-endian length, then the payload.
fn prefixed(len: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = len.to_le_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

fn doc_bytes(doc: &Value) -> Vec<u8> {
    PluginStateJson { doc: doc.clone() }.to_clap_bytes()
}

/// A copy of `good` with one persisted field replaced by `value` (JSON-encoded as a string,
/// as nice-plug stores fields).
fn with_field(good: &PluginStateJson, field: &str, value: Value) -> Vec<u8> {
    let mut st = good.clone();
    st.set_field(field, &value);
    st.to_clap_bytes()
}

/// A copy of `good` with `fields.<field>` set to this raw JSON string (not necessarily JSON).
fn with_raw_field(good: &PluginStateJson, field: &str, raw: &str) -> Vec<u8> {
    let mut doc = good.doc.clone();
    doc["fields"][field] = Value::String(raw.to_owned());
    doc_bytes(&doc)
}

/// Corrupt states, each with a label. `true`: not even nice-plug's document shape, so the
/// load must change nothing at all.
fn corrupt_states(good: &PluginStateJson, good_bytes: &[u8]) -> Vec<(String, Vec<u8>, bool)> {
    let json = &good_bytes[8..];
    let n = json.len() as u64;
    let bad_utf8: &[u8] = b"{\"version\":\"\xff\xfe\"}";
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut cases: Vec<(String, Vec<u8>, bool)> = vec![
        ("empty stream".into(), Vec::new(), true),
        (
            "7 bytes, shorter than the length prefix".into(),
            garbage(7, 1),
            true,
        ),
        ("4 KiB of garbage".into(), garbage(4096, 2), true),
        (
            "length u64::MAX, no payload".into(),
            prefixed(u64::MAX, &[]),
            true,
        ),
        (
            "length i64::MAX + garbage".into(),
            prefixed(i64::MAX as u64, &garbage(64, 3)),
            true,
        ),
        (
            "plausible length + garbage".into(),
            prefixed(4088, &garbage(4088, 4)),
            true,
        ),
        (
            "truncated to half".into(),
            good_bytes[..good_bytes.len() / 2].to_vec(),
            true,
        ),
        (
            "last byte missing".into(),
            good_bytes[..good_bytes.len() - 1].to_vec(),
            true,
        ),
        (
            "prefix says half of the JSON".into(),
            prefixed(n / 2, json),
            true,
        ),
        ("prefix says 0".into(), prefixed(0, json), true),
        ("JSON array".into(), doc_bytes(&json!([1, 2, 3])), true),
        ("JSON string".into(), doc_bytes(&json!("state")), true),
        ("JSON null".into(), doc_bytes(&Value::Null), true),
        (
            "document of wrong types".into(),
            doc_bytes(&json!({"version": 3, "params": [], "fields": "x"})),
            true,
        ),
        (
            "fields as raw objects, not strings".into(),
            doc_bytes(
                &json!({"version": good.doc["version"], "params": good.doc["params"],
                "fields": {"stream": {"name": "Raw", "role": "mix"},
                           "session": {"trigger": "follow_transport"}}}),
            ),
            true,
        ),
        (
            "invalid UTF-8 inside a JSON string".into(),
            prefixed(bad_utf8.len() as u64, bad_utf8),
            true,
        ),
        (
            "100000-deep nested arrays".into(),
            prefixed(deep.len() as u64, deep.as_bytes()),
            true,
        ),
    ];
    let wrong_types: Vec<(&str, Vec<u8>)> = vec![
        ("stream = 42", with_field(good, "stream", json!(42))),
        (
            "stream = \"text\"",
            with_field(good, "stream", json!("text")),
        ),
        ("stream = null", with_field(good, "stream", Value::Null)),
        ("stream = []", with_field(good, "stream", json!([]))),
        (
            "stream of wrong types",
            with_field(
                good,
                "stream",
                json!({"name": 5, "role": "drummer", "channel_mode": [], "offset_samples": "ten"}),
            ),
        ),
        (
            "stream with one wrong type",
            with_field(
                good,
                "stream",
                json!({"name": "Partial", "role": "mix", "channel_mode": "mono", "offset_samples": 1.5}),
            ),
        ),
        (
            "stream with an unknown role",
            with_field(good, "stream", json!({"name": "Odd", "role": "MIX"})),
        ),
        (
            "stream not JSON",
            with_raw_field(good, "stream", "{not json"),
        ),
        (
            "stream nested 100000 deep",
            with_raw_field(good, "stream", &deep),
        ),
        ("session = 7", with_field(good, "session", json!(7))),
        (
            "session = \"manual\"",
            with_field(good, "session", json!("manual")),
        ),
        (
            "session of wrong types",
            with_field(
                good,
                "session",
                json!({"trigger": 7, "output_root": 3, "format": "mp3"}),
            ),
        ),
        (
            "session with one wrong type",
            with_field(
                good,
                "session",
                json!({"trigger": "follow_transport", "output_root": {"path": "/"}, "format": "int24"}),
            ),
        ),
        (
            "session not JSON",
            with_raw_field(good, "session", "\u{0}\u{1}"),
        ),
        ("params of wrong types", {
            let mut st = good.clone();
            st.set_param("record", json!("yes"));
            st.set_param("enabled", json!(3));
            st.to_clap_bytes()
        }),
        ("params of the wrong kind", {
            let mut st = good.clone();
            st.set_param("record", json!({"f32": 0.75}));
            st.set_param("enabled", json!({"i32": 0}));
            st.to_clap_bytes()
        }),
    ];
    cases.extend(
        wrong_types
            .into_iter()
            .map(|(label, bytes)| (label.to_owned(), bytes, false)),
    );
    cases
}

const ROLES: [&str; 3] = ["stem", "multitrack", "mix"];
const MODES: [&str; 3] = ["stereo", "mono", "auto"];
const TRIGGERS: [&str; 3] = ["manual", "follow_transport", "follow_host_record"];
const FORMATS: [&str; 3] = ["float32", "int24", "int16"];

/// The state the instance saves is well-formed: every documented field has a valid value.
fn check_well_formed(st: &PluginStateJson) -> Result<()> {
    let s = st.field("stream")?;
    ensure!(
        s["name"].is_null() || s["name"].is_string(),
        "stream.name: {s}"
    );
    ensure!(ROLES.iter().any(|r| s["role"] == *r), "stream.role: {s}");
    ensure!(
        MODES.iter().any(|m| s["channel_mode"] == *m),
        "stream.channel_mode: {s}"
    );
    ensure!(s["offset_samples"].is_i64(), "stream.offset_samples: {s}");
    let sess = st.field("session")?;
    ensure!(
        TRIGGERS.iter().any(|t| sess["trigger"] == *t),
        "session.trigger: {sess}"
    );
    ensure!(
        sess["output_root"].is_null() || sess["output_root"].is_string(),
        "session.output_root: {sess}"
    );
    ensure!(
        FORMATS.iter().any(|f| sess["format"] == *f),
        "session.format: {sess}"
    );
    for p in ["record", "enabled"] {
        ensure!(
            st.param(p).is_some_and(|v| v["bool"].is_boolean()),
            "params.{p}: {}",
            st.doc
        );
    }
    Ok(())
}

/// Loads every corrupt state into the victim; each load fails or falls back, and the
/// saved state stays well-formed. With `running`, the rig processes (and checks
/// pass-through) after every load. Returns how many loads the plugin accepted.
fn load_all(h: &mut Harness, cases: &[(String, Vec<u8>, bool)], running: bool) -> Result<usize> {
    let mut accepted = 0;
    for (label, bytes, shapeless) in cases {
        let before = h.rack.instance_mut(VICTIM).save_state_json()?;
        let result = h.rack.instance_mut(VICTIM).load_state(bytes);
        eprintln!(
            "{label}: {}",
            match &result {
                Ok(()) => "accepted".to_owned(),
                Err(e) => format!("rejected ({e})"),
            }
        );
        accepted += result.is_ok() as usize;
        let after = h
            .rack
            .instance_mut(VICTIM)
            .save_state_json()
            .with_context(|| format!("{label}: saving state after the load"))?;
        check_well_formed(&after).with_context(|| format!("after loading {label}"))?;
        if *shapeless {
            ensure!(
                result.is_err(),
                "{label}: the plugin accepted a state that is not a nice-plug document"
            );
            ensure!(
                after == before,
                "{label}: a rejected load changed the state:\nbefore {}\nafter  {}",
                before.doc,
                after.doc
            );
        }
        if running {
            h.run(2)
                .with_context(|| format!("processing after loading {label}"))?;
        }
    }
    Ok(accepted)
}

#[test]
fn corrupt_state_fails_cleanly_and_recording_goes_on() -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("stemtap-corrupt-")
        .tempdir()?;
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&out)?;
    let not_a_folder = tmp.path().join("not-a-folder");
    std::fs::write(&not_a_folder, b"a file, not a folder\n")?;

    let specs = vec![
        TrackSpec::new("Victim", "stem"),
        TrackSpec::new("Bystander", "stem"),
    ];
    let mut h = Harness::new_in(specs, &out)?;
    let good_bytes = h.rack.instance_mut(VICTIM).save_state()?;
    let good = PluginStateJson::from_clap_bytes(&good_bytes)?;
    check_well_formed(&good)?;
    let cases = corrupt_states(&good, &good_bytes);

    // Inactive, as when a host restores a project.
    load_all(&mut h, &cases, false)?;
    // Processing, as when a host loads a preset during playback.
    h.start()?;
    h.transport = Transport::playing_at(0);
    h.run(4)?;
    load_all(&mut h, &cases, true)?;

    // Hostile but well-typed: loads, and is applied.
    let mut hostile = good.clone();
    hostile.set_field(
        "stream",
        &json!({"name": HOSTILE_NAME, "role": "stem", "channel_mode": "stereo", "offset_samples": 0}),
    );
    hostile.set_field(
        "session",
        &json!({"trigger": "manual", "output_root": not_a_folder, "format": "float32"}),
    );
    h.rack
        .instance_mut(VICTIM)
        .load_state_json(&hostile)
        .context("loading a well-typed state with a hostile name")?;
    let applied = h.rack.instance_mut(VICTIM).save_state_json()?;
    assert_eq!(applied.field("stream")?["name"], HOSTILE_NAME);
    h.run(4)?;

    let start = h.step(Some((BYSTANDER, true)), |_| Plan::Normal)?;
    h.run(60)?;
    let end = h.step(Some((BYSTANDER, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    h.stop()?;

    let take = &takes[0];
    let m = &take.manifest;
    ensure!(take.complete(), "{m}");
    assert_eq!(take.start_sample(), Some(start), "{m}");
    assert_eq!(take.length_frames(), Some((end - start) as u64), "{m}");
    let files = take.files();
    assert_eq!(files.len(), 2, "{m}");
    let on_disk = wav_files(&take.dir)?;
    assert_eq!(on_disk.len(), 2, "{on_disk:?}");
    let take_dir = take.dir.canonicalize()?;
    for f in &files {
        // Relative, no `..`, no root: a plain path below the take folder.
        ensure!(
            Path::new(&f.path)
                .components()
                .all(|c| matches!(c, Component::Normal(_))),
            "manifest path {:?} is not a plain relative path",
            f.path
        );
        let real = take.dir.join(&f.path).canonicalize()?;
        ensure!(
            real.starts_with(&take_dir),
            "{} lies outside the take folder",
            real.display()
        );
        ensure!(on_disk.contains(&f.path), "{} not on disk", f.path);
        ensure!(f.errors.is_empty(), "{}: {:?}", f.path, f.errors);
        ensure!(
            f.dropped_frames == 0,
            "{}: dropped {}",
            f.path,
            f.dropped_frames
        );
    }
    let bystander = files
        .iter()
        .find(|f| f.stem_name == "Bystander")
        .context("no Bystander file")?;
    assert_eq!(bystander.path, "Stems/Bystander.wav");
    let victim = files
        .iter()
        .find(|f| f.stem_name != "Bystander")
        .context("no file for the victim")?;
    assert_eq!(
        victim.stem_name, HOSTILE_NAME,
        "the take does not use the hostile name loaded from state"
    );
    assert!(
        victim.path.starts_with("Stems/") && victim.path.ends_with(".wav"),
        "the victim is still a stem: {:?}",
        victim.path
    );
    for (t, f) in [(VICTIM, victim), (BYSTANDER, bystander)] {
        let wav = take.read_wav(&f.path)?;
        assert_eq!(wav.frames() as i64, end - start, "{}", f.path);
        assert_eq!(wav.channels.len(), 2, "{}", f.path);
        for (ch, data) in wav.channels.iter().enumerate() {
            for (k, x) in data.iter().enumerate() {
                let want = h.specs[t].expected(ch, start + k as i64);
                ensure!(
                    x.to_bits() == want.to_bits(),
                    "{}: ch {ch} frame {k} is {x}, expected {want}",
                    f.path
                );
            }
        }
    }

    // Nothing anywhere else: the whole temporary root holds the fixture file and the take.
    let mut stray = Vec::new();
    for p in all_files(tmp.path())? {
        if p != not_a_folder && !p.starts_with(&take.dir) {
            stray.push(p);
        }
    }
    assert!(
        stray.is_empty(),
        "files outside the take folder: {stray:#?}"
    );
    assert_eq!(list_dirs(&out)?.len(), 1, "one take folder");
    assert_eq!(
        std::fs::read(&not_a_folder)?,
        b"a file, not a folder\n",
        "output_root's file was touched"
    );
    Ok(())
}

fn all_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(all_files(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}
