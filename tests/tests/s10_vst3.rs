//! Scenario 10: the VST3 wrapper. Two instances of the real built plugin, loaded through
//! the VST3 API by a headless VST3 host (`stemtap_host::vst3`), named through VST3 state,
//! play a transport that starts mid-song; `Record` is switched on in one block of instance 0
//! through `IParameterChanges` and off again ~1 s later. One take, two aligned files,
//! bit-exact content, audio passed through unchanged.
//!
//! Linux only: the headless VST3 host loads the module as a plain shared library.
#![cfg(target_os = "linux")]

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};
use stemtap_e2e::{signal, wav_files};
use stemtap_host::take::{list_dirs, wait_for_takes, Take};
use stemtap_host::vst3::{ProcessConfig, Vst3Instance, Vst3Module, AUDIO_MODULE_CLASS};
use stemtap_host::{nice_plug_param_hash, PluginStateJson, Transport};

const RATE: u32 = 48_000;
const BLOCK: usize = 512;
/// The transport starts mid-song, off the block grid.
const SONG_START: i64 = 3 * 48_000 + 77;
/// Blocks before the arm, while recording, and after the disarm (~0.5 s).
const PRE: usize = 10;
const REC: usize = 100;
const POST: usize = 47;
/// At most this many times real time (realtime process mode throughout).
const SPEED: f64 = 12.0;
const NAMES: [&str; 2] = ["Left Bus", "Right Bus"];

/// The class id on this platform: the contract's 16 ASCII bytes, which nice-plug stores
/// byte-swapped (COM GUID order) on Windows only.
fn platform_class_id() -> [u8; 16] {
    let mut id = *b"StemTapRecorder1";
    if cfg!(windows) {
        id[0..4].reverse();
        id[4..6].reverse();
        id[6..8].reverse();
    }
    id
}

/// Names the instance and sets role and session through VST3 state (`getState` gives
/// nice-plug's JSON document; persisted fields are JSON strings inside it).
fn configure(inst: &mut Vst3Instance, name: &str) -> Result<()> {
    let bytes = inst.get_state()?;
    let doc: Value = serde_json::from_slice(&bytes).context("VST3 state is not JSON")?;
    let mut st = PluginStateJson { doc };
    st.patch_field(
        "stream",
        &[
            ("name", json!(name)),
            ("role", json!("stem")),
            ("channel_mode", json!("stereo")),
        ],
    )?;
    st.patch_field(
        "session",
        &[("trigger", json!("manual")), ("format", json!("float32"))],
    )?;
    inst.set_state(&serde_json::to_vec(&st.doc)?)?;
    let back: Value = serde_json::from_slice(&inst.get_state()?)?;
    let back = PluginStateJson { doc: back };
    ensure!(
        back.field("stream")?["name"] == json!(name),
        "VST3 state did not keep the stream name: {}",
        back.doc
    );
    Ok(())
}

#[test]
fn vst3_two_instances_record_one_aligned_take() -> Result<()> {
    let tmp = tempfile::Builder::new().prefix("stemtap-vst3-").tempdir()?;
    let root = tmp.path().join("takes");
    // Before the plugin is loaded and before any other thread of this test exists.
    std::env::set_var("STEMTAP_OUTPUT_DIR", &root);

    let module = Vst3Module::load(stemtap_host::built_plugin()?)?;
    let class = module.find_class(AUDIO_MODULE_CLASS, "StemTap")?;
    assert_eq!(
        class.cid,
        platform_class_id(),
        "VST3 class id is not the contract's \"StemTapRecorder1\""
    );
    assert_eq!(module.vendor()?, "StemTap");

    let (arm_pos, disarm_pos, outputs_checked) = {
        let mut insts = Vec::new();
        for name in NAMES {
            let mut inst = Vst3Instance::new(&module, &class.cid)?;
            configure(&mut inst, name).with_context(|| format!("configuring {name}"))?;
            insts.push(inst);
        }
        let record = insts[0].find_param("Record")?;
        assert_eq!(
            record.id,
            nice_plug_param_hash("record"),
            "the Record parameter's VST3 id is not nice-plug's hash of \"record\""
        );
        assert_eq!(record.step_count, 1, "Record is a toggle: {record:?}");
        for inst in &mut insts {
            let counts = inst.bus_counts();
            assert_eq!((counts.audio_in, counts.audio_out), (1, 1), "{counts:?}");
            inst.start(ProcessConfig::realtime(f64::from(RATE), BLOCK as u32))?;
            // A recorder that reported latency would be shifted by the host's compensation.
            assert_eq!(inst.latency_samples(), 0, "StemTap must report no latency");
        }

        let mut transport = Transport::playing_at(SONG_START);
        let (mut arm_pos, mut disarm_pos) = (None, None);
        let mut outputs_checked = 0usize;
        let started = Instant::now();
        for b in 0..PRE + REC + POST {
            let pos = transport.pos_samples;
            let record_change = match b {
                _ if b == PRE => Some(1.0),
                _ if b == PRE + REC => Some(0.0),
                _ => None,
            };
            for (i, inst) in insts.iter_mut().enumerate() {
                let inputs: Vec<Vec<f32>> = (0..2)
                    .map(|ch| (0..BLOCK as i64).map(|k| signal(i, ch, pos + k)).collect())
                    .collect();
                let mut outputs = vec![vec![f32::NAN; BLOCK]; 2];
                let params: Vec<(u32, f64)> = match (i, record_change) {
                    (0, Some(v)) => vec![(record.id, v)],
                    _ => Vec::new(),
                };
                {
                    let ins: Vec<&[f32]> = inputs.iter().map(Vec::as_slice).collect();
                    let mut outs: Vec<&mut [f32]> =
                        outputs.iter_mut().map(Vec::as_mut_slice).collect();
                    inst.process(&ins, &mut outs, Some(&transport), &params)
                        .with_context(|| format!("{}: block {b}", NAMES[i]))?;
                }
                for (ch, (out, inp)) in outputs.iter().zip(&inputs).enumerate() {
                    for (k, (o, x)) in out.iter().zip(inp).enumerate() {
                        ensure!(
                            o.to_bits() == x.to_bits(),
                            "{}: output ch {ch} frame {k} of block {b} is {o}, input was {x}: \
                             audio must pass through unchanged",
                            NAMES[i]
                        );
                        outputs_checked += 1;
                    }
                }
            }
            match record_change {
                Some(v) if v > 0.5 => {
                    arm_pos = Some(pos);
                    assert_eq!(
                        insts[0].param_normalized(record.id),
                        1.0,
                        "the controller does not report the Record change it processed"
                    );
                }
                Some(_) => disarm_pos = Some(pos),
                None => {}
            }
            transport = transport.advanced(BLOCK as u32);
            let due = Duration::from_secs_f64(((b + 1) * BLOCK) as f64 / f64::from(RATE) / SPEED);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        for inst in &mut insts {
            inst.stop()?;
        }
        // Dropping terminates and releases each instance; then ModuleExit with the module.
        drop(insts);
        (
            arm_pos.expect("armed"),
            disarm_pos.expect("disarmed"),
            outputs_checked,
        )
    };
    drop(module);
    assert_eq!(
        outputs_checked,
        (PRE + REC + POST) * BLOCK * 2 * NAMES.len()
    );
    assert_eq!(arm_pos, SONG_START + (PRE * BLOCK) as i64);
    assert_eq!(disarm_pos, SONG_START + ((PRE + REC) * BLOCK) as i64);

    // The host stopped; the writer must still finish the take on its own.
    let takes = wait_for_takes(&root, 1, Duration::from_secs(20), || {
        std::thread::sleep(Duration::from_millis(20));
        Ok(())
    })?;
    assert_eq!(takes.len(), 1, "{:?}", list_dirs(&root)?);
    assert_eq!(
        list_dirs(&root)?.len(),
        1,
        "one take folder and nothing else"
    );
    check_take(&takes[0], arm_pos, (disarm_pos - arm_pos) as u64)?;
    check_nothing_outside(tmp.path(), &takes[0].dir)?;
    Ok(())
}

fn check_take(take: &Take, start: i64, length: u64) -> Result<()> {
    let m = &take.manifest;
    ensure!(take.complete(), "not complete: {m}");
    ensure!(take.timeline() == Some("host"), "timeline: {m}");
    ensure!(
        take.sample_rate() == Some(u64::from(RATE)),
        "sample_rate: {m}"
    );
    ensure!(
        take.start_sample() == Some(start),
        "start_sample {:?}, expected the arm block's position {start}",
        m["start_sample"]
    );
    ensure!(
        take.length_frames() == Some(length),
        "length_frames {:?}, expected disarm - arm = {length}",
        m["length_frames"]
    );
    ensure!(m["ended_by"] == "disarmed", "ended_by: {}", m["ended_by"]);
    let files = take.files();
    ensure!(
        files.len() == 2,
        "{} files in the manifest: {m}",
        files.len()
    );
    let on_disk = wav_files(&take.dir)?;
    let mut expected: Vec<String> = NAMES.iter().map(|n| format!("Stems/{n}.wav")).collect();
    expected.sort();
    ensure!(on_disk == expected, "WAV files on disk: {on_disk:?}");
    for (i, name) in NAMES.iter().enumerate() {
        let f = files
            .iter()
            .find(|f| f.stem_name == *name)
            .with_context(|| format!("no file for {name}: {m}"))?;
        ensure!(f.path == format!("Stems/{name}.wav"), "path {:?}", f.path);
        ensure!(
            f.dropped_frames == 0,
            "{}: dropped {}",
            f.path,
            f.dropped_frames
        );
        ensure!(f.errors.is_empty(), "{}: errors {:?}", f.path, f.errors);
        let wav = take.read_wav(&f.path)?;
        ensure!(
            wav.spec.sample_format == hound::SampleFormat::Float
                && wav.spec.bits_per_sample == 32
                && wav.spec.sample_rate == RATE
                && wav.channels.len() == 2,
            "{}: {:?}",
            f.path,
            wav.spec
        );
        ensure!(
            wav.frames() as u64 == length,
            "{}: {} frames, expected {length}",
            f.path,
            wav.frames()
        );
        for (ch, data) in wav.channels.iter().enumerate() {
            for (k, x) in data.iter().enumerate() {
                let pos = start + k as i64;
                let want = signal(i, ch, pos);
                if x.to_bits() != want.to_bits() {
                    let found = (-4096i64..=4096)
                        .find(|d| signal(i, ch, pos + d).to_bits() == x.to_bits())
                        .map(|d| format!("; it is the input at offset {d:+}"))
                        .unwrap_or_default();
                    anyhow::bail!(
                        "{}: ch {ch} frame {k} (timeline {pos}) is {x}, expected {want}{found}",
                        f.path
                    );
                }
            }
        }
    }
    Ok(())
}

/// Every file under `tmp` lies inside the take folder.
fn check_nothing_outside(tmp: &Path, take_dir: &Path) -> Result<()> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<()> {
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_dir() {
                walk(&p, out)?;
            } else {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut all = Vec::new();
    walk(tmp, &mut all)?;
    let stray: Vec<_> = all.iter().filter(|p| !p.starts_with(take_dir)).collect();
    ensure!(stray.is_empty(), "files outside the take folder: {stray:?}");
    Ok(())
}
