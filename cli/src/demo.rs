//! `stemtap demo`: hosts the real plugin on eight named tracks, plays a generated 20 s
//! arrangement, records part of it and prints what landed on disk.

use anyhow::{bail, Context, Result};
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use stemtap_host::take::{dbfs, list_dirs, wait_for_takes_where, Take};
use stemtap_host::{
    AudioConfig, Instance, ParamChange, PluginLibrary, Rack, TrackBlock, Transport, STEMTAP_ID,
};

use crate::synth;

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Output root for take folders [default: $STEMTAP_OUTPUT_DIR, else ./takes]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Plugin binary or .clap bundle [default: $STEMTAP_PLUGIN_PATH, else build it with
    /// `cargo build -p stemtap` in this workspace]
    #[arg(long)]
    plugin: Option<PathBuf>,
    /// Processing speed as a multiple of real time (realtime process mode throughout)
    #[arg(long, default_value_t = 8.0)]
    speed: f64,
    /// Sample rate
    #[arg(long, default_value_t = 48_000)]
    sample_rate: u32,
    /// Block size
    #[arg(long, default_value_t = 512)]
    block: u32,
    /// Echo the plugin's log messages
    #[arg(long)]
    verbose: bool,
}

/// Track name, role, and which synthesized part it carries.
const TRACKS: [(&str, &str, synth::Part); 8] = [
    ("Kick", "multitrack", synth::Part::Kick),
    ("Snare", "multitrack", synth::Part::Snare),
    ("Bass", "multitrack", synth::Part::Bass),
    ("Keys", "multitrack", synth::Part::Keys),
    ("Vocals", "multitrack", synth::Part::Vocals),
    ("Drums Bus", "stem", synth::Part::DrumsBus),
    ("Music Bus", "stem", synth::Part::MusicBus),
    ("Mix", "mix", synth::Part::Mix),
];

const SONG_SECONDS: f64 = 20.0;
const ARM_SECONDS: f64 = 4.0;
const DISARM_SECONDS: f64 = 16.0;
/// The instance whose `record` parameter the demo automates.
const ARM_TRACK: usize = 4;

pub fn run(args: DemoArgs) -> Result<()> {
    let out = args
        .out
        .or_else(|| std::env::var_os("STEMTAP_OUTPUT_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("takes"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let out = out.canonicalize()?;
    // The plugin reads this; set it before it is loaded, while this is the only thread.
    std::env::set_var("STEMTAP_OUTPUT_DIR", &out);
    let plugin = match args.plugin {
        Some(p) => p,
        None => stemtap_host::built_plugin()?,
    };
    let sr = args.sample_rate;
    let block = args.block;
    let lib = PluginLibrary::load(&plugin)?;
    println!("plugin  {}", lib.path().display());
    println!("output  {}", out.display());

    let mut rack = Rack::new(AudioConfig::new(f64::from(sr), 1, block));
    rack.set_speed((args.speed > 0.0).then_some(args.speed));
    for (name, role, _) in TRACKS {
        let mut inst = Instance::new(&lib, STEMTAP_ID, Some(name))?;
        inst.set_log_echo(args.verbose);
        inst.edit_state(|st| {
            st.patch_field("stream", &[("name", json!(null)), ("role", json!(role))])
        })
        .with_context(|| format!("{name}: setting the role through saved state"))?;
        rack.add(inst);
    }
    // Session-wide settings through any one instance's state.
    rack.instance_mut(0).edit_state(|st| {
        st.patch_field(
            "session",
            &[("trigger", json!("manual")), ("format", json!("float32"))],
        )
    })?;
    let record = rack.instance_mut(ARM_TRACK).find_param("record")?.id;
    let before = list_dirs(&out)?;

    rack.start()?;
    let song = synth::Song::new(sr);
    let total = (SONG_SECONDS * f64::from(sr)) as i64;
    let arm_at = (ARM_SECONDS * f64::from(sr)) as i64;
    let disarm_at = (DISARM_SECONDS * f64::from(sr)) as i64;
    let mut transport = Transport::playing_at(0);
    let (mut armed_pos, mut disarmed_pos) = (None, None);
    let started = Instant::now();
    let mut last_print = Instant::now() - Duration::from_secs(1);
    while transport.pos_samples < total {
        let pos = transport.pos_samples;
        let n = block.min((total - pos) as u32);
        let mut params = Vec::new();
        if armed_pos.is_none() && pos >= arm_at {
            params.push(ParamChange {
                id: record,
                value: 1.0,
            });
            armed_pos = Some(pos);
        } else if armed_pos.is_some() && disarmed_pos.is_none() && pos >= disarm_at {
            params.push(ParamChange {
                id: record,
                value: 0.0,
            });
            disarmed_pos = Some(pos);
        }
        let blocks = song_blocks(&song, pos, n, &transport, &params);
        rack.cycle(blocks)?;
        transport = transport.advanced(n);
        if last_print.elapsed() > Duration::from_millis(100) || transport.pos_samples >= total {
            last_print = Instant::now();
            let state = match (armed_pos, disarmed_pos) {
                (None, _) => "playing",
                (Some(_), None) => "RECORDING",
                (Some(_), Some(_)) => "playing (take done)",
            };
            print!(
                "\r{:6.2} s / {SONG_SECONDS:.0} s  {state:<20}",
                transport.pos_samples as f64 / f64::from(sr)
            );
            std::io::stdout().flush().ok();
        }
    }
    println!();
    // Stop the transport; keep processing so the writer finishes the take.
    transport = Transport::stopped_at(total);
    let silence = |rack: &mut Rack, cycles: usize| -> Result<()> {
        for _ in 0..cycles {
            rack.cycle(song_blocks_silent(TRACKS.len(), block, &transport))?;
        }
        Ok(())
    };
    silence(&mut rack, (sr / 2 / block) as usize)?;
    print!("waiting for the take to finish...");
    std::io::stdout().flush().ok();
    let new = |t: &Take| !before.contains(&t.dir);
    let takes = wait_for_takes_where(&out, 1, Duration::from_secs(30), new, || {
        silence(&mut rack, 4)
    })?;
    println!(" done in {:.1} s", started.elapsed().as_secs_f64());
    rack.stop()?;
    if takes.len() != 1 {
        bail!("expected one new take, found {}", takes.len());
    }
    let (Some(armed), Some(disarmed)) = (armed_pos, disarmed_pos) else {
        bail!("the song never armed/disarmed");
    };
    summarise(&takes[0], armed, disarmed, &song)
}

/// Every track's block of the song at `pos`.
fn song_blocks(
    song: &synth::Song,
    pos: i64,
    n: u32,
    transport: &Transport,
    params: &[ParamChange],
) -> Vec<TrackBlock> {
    TRACKS
        .iter()
        .enumerate()
        .map(|(i, (_, _, part))| {
            let mut l = Vec::with_capacity(n as usize);
            let mut r = Vec::with_capacity(n as usize);
            for k in 0..i64::from(n) {
                let (a, b) = song.sample(*part, pos + k);
                l.push(a);
                r.push(b);
            }
            let p = if i == ARM_TRACK {
                params.to_vec()
            } else {
                Vec::new()
            };
            TrackBlock::whole(vec![l, r], Some(*transport), p)
        })
        .collect()
}

fn song_blocks_silent(tracks: usize, n: u32, transport: &Transport) -> Vec<TrackBlock> {
    (0..tracks)
        .map(|_| TrackBlock::whole(vec![vec![0.0; n as usize]; 2], Some(*transport), Vec::new()))
        .collect()
}

fn summarise(take: &Take, armed: i64, disarmed: i64, song: &synth::Song) -> Result<()> {
    let files = take.files();
    let start = take.start_sample().unwrap_or(-1);
    let length = take.length_frames().unwrap_or(0);
    let sr = take.sample_rate().unwrap_or(0);
    println!();
    println!("take     {}", take.dir.display());
    println!(
        "timeline {}  start sample {start}  length {length} frames ({:.3} s at {sr} Hz)",
        take.timeline().unwrap_or("?"),
        length as f64 / sr.max(1) as f64
    );
    println!(
        "expected start {armed}, length {} (armed/disarmed at those host positions)",
        disarmed - armed
    );
    println!();
    println!(
        "{:<28} {:<11} {:>3} {:>10} {:>9} {:>7}  marker index",
        "file", "role", "ch", "frames", "peak dB", "dropped"
    );
    let mut lengths = Vec::new();
    let mut markers = Vec::new();
    for f in &files {
        let wav = take.read_wav(&f.path)?;
        // The music's peak: the alignment markers left out.
        let peak = wav
            .channels
            .iter()
            .flatten()
            .filter(|x| **x != synth::MARKER)
            .fold(0.0f64, |m, x| m.max(f64::from(x.abs())));
        let idx: Vec<usize> = (0..wav.frames())
            .filter(|&k| wav.channels.iter().any(|c| c[k] == synth::MARKER))
            .collect();
        println!(
            "{:<28} {:<11} {:>3} {:>10} {:>9.2} {:>7}  {:?}",
            f.path,
            f.role,
            wav.channels.len(),
            wav.frames(),
            dbfs(peak),
            f.dropped_frames,
            idx
        );
        lengths.push(wav.frames());
        markers.push(idx);
    }
    println!();
    let same_len =
        lengths.windows(2).all(|w| w[0] == w[1]) && lengths.first() == Some(&(length as usize));
    let want: Vec<usize> = song
        .markers()
        .iter()
        .filter(|&&m| m >= start && m < start + length as i64)
        .map(|&m| (m - start) as usize)
        .collect();
    let aligned = !want.is_empty() && markers.iter().all(|m| *m == want);
    let dropped: u64 = files.iter().map(|f| f.dropped_frames).sum();
    let ok = |b: bool| if b { "ok" } else { "FAILED" };
    println!("all lengths equal to the manifest's      {}", ok(same_len));
    println!(
        "markers at the same index in every file  {} (expected {want:?})",
        ok(aligned)
    );
    println!(
        "take starts where record was armed       {}",
        ok(start == armed)
    );
    println!(
        "no dropped frames                        {}",
        ok(dropped == 0)
    );
    println!();
    println!("{}", take.dir.display());
    if !(same_len && aligned && dropped == 0 && start == armed) {
        bail!("the take failed its checks");
    }
    Ok(())
}
