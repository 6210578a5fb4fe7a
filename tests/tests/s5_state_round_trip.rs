//! Scenario 5: state round trip. Each instance's state (stream name, role, channel mode and
//! offset; session trigger and format) is saved, loaded into fresh instances on other
//! tracks, and saved again: the fields come back unchanged.

use serde_json::{json, Value};
use stemtap_host::{Instance, PluginLibrary, PluginStateJson, STEMTAP_ID};

#[test]
fn state_survives_save_and_load() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::env::set_var("STEMTAP_OUTPUT_DIR", dir.path());
    let lib = PluginLibrary::load(stemtap_host::built_plugin()?)?;

    let streams = [
        json!({"name": "Custom Kick", "role": "multitrack", "channel_mode": "mono", "offset_samples": 0}),
        json!({"name": null, "role": "mix", "channel_mode": "auto", "offset_samples": 0}),
        json!({"name": null, "role": "stem", "channel_mode": "stereo", "offset_samples": 128}),
    ];
    let session = json!({"trigger": "follow_host_record", "format": "int24"});

    let mut saved: Vec<PluginStateJson> = Vec::new();
    // All instances stay alive together, as on a DAW's tracks: the session (and its
    // settings) lives as long as any instance does.
    let mut alive = Vec::new();
    for (i, stream) in streams.iter().enumerate() {
        let mut inst = Instance::new(&lib, STEMTAP_ID, Some(&format!("Track {i}")))?;
        let defaults = inst.save_state_json()?;
        // The documented shape.
        assert!(defaults.doc["version"].is_string(), "{}", defaults.doc);
        assert!(
            defaults.param("record").is_some(),
            "no params.record: {}",
            defaults.doc
        );
        let s = defaults.field("stream")?;
        for key in ["name", "role", "channel_mode", "offset_samples"] {
            assert!(s.get(key).is_some(), "stream field lacks {key}: {s}");
        }
        let sess = defaults.field("session")?;
        for key in ["trigger", "output_root", "format"] {
            assert!(sess.get(key).is_some(), "session field lacks {key}: {sess}");
        }

        let mut st = defaults.clone();
        let patch: Vec<(&str, Value)> = stream
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        st.patch_field("stream", &patch)?;
        if i == 0 {
            st.patch_field(
                "session",
                &[
                    ("trigger", session["trigger"].clone()),
                    ("format", session["format"].clone()),
                ],
            )?;
        }
        inst.load_state_json(&st)?;
        saved.push(inst.save_state_json()?);
        alive.push(inst);
    }

    for (i, (st, stream)) in saved.iter().zip(&streams).enumerate() {
        let got = st.field("stream")?;
        for (k, v) in stream.as_object().unwrap() {
            assert_eq!(
                &got[k], v,
                "instance {i}: stream.{k} after load+save: {got}"
            );
        }
        // Session settings are session-wide: every instance reports what instance 0 loaded.
        let sess = st.field("session")?;
        if i > 0 {
            assert_eq!(sess["trigger"], session["trigger"], "instance {i}: {sess}");
            assert_eq!(sess["format"], session["format"], "instance {i}: {sess}");
        }
    }

    // A new project: every instance gone, fresh instances on other tracks load the states.
    drop(alive);
    for (i, (st, stream)) in saved.iter().zip(&streams).enumerate() {
        let mut inst = Instance::new(&lib, STEMTAP_ID, Some(&format!("Other {i}")))?;
        inst.load_state_json(st)?;
        let again = inst.save_state_json()?;
        let got = again.field("stream")?;
        for (k, v) in stream.as_object().unwrap() {
            assert_eq!(&got[k], v, "fresh instance {i}: stream.{k}: {got}");
        }
        let sess = again.field("session")?;
        assert_eq!(
            sess["trigger"], session["trigger"],
            "fresh instance {i}: {sess}"
        );
        assert_eq!(
            sess["format"], session["format"],
            "fresh instance {i}: {sess}"
        );
        assert_eq!(again.param("record"), st.param("record"));
        // Raw bytes load as well as the JSON helper does.
        inst.load_state(&st.to_clap_bytes())?;
    }
    Ok(())
}
