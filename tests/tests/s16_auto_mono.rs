//! Scenario 16: channel mode "auto". Two stereo tracks in auto mode, one fed the same signal
//! on both channels (a mono source on a stereo track), one fed different channels. The
//! take is written stereo; right after it, the dual-mono file is rewritten as mono in the
//! background (take.json then says 1 channel) and holds channel 0 bit-exact, while the
//! other file stays stereo and bit-exact. The take is complete and readable throughout.

use anyhow::{ensure, Context, Result};
use std::time::{Duration, Instant};
use stemtap_e2e::*;
use stemtap_host::take::Take;

#[test]
fn auto_mode_collapses_identical_channels_to_mono() -> Result<()> {
    let specs = vec![
        TrackSpec::new("Mono Source", "stem")
            .mode("auto")
            .dual_mono(),
        TrackSpec::new("Wide Source", "stem").mode("auto"),
    ];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    h.run(2)?;
    let start = h.step(Some((0, true)), |_| Plan::Normal)?;
    h.run(60)?;
    let end = h.step(Some((0, false)), |_| Plan::Normal)?;
    let takes = h.finish(1)?;
    let dir = takes[0].dir.clone();

    // Poll take.json until the dual-mono file is mono; every read must be a complete,
    // readable take whose files all have the right length (it is readable all along).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut polls = 0;
    let take = loop {
        let take = Take::read(&dir).context("take.json unreadable during the rewrite")?;
        polls += 1;
        ensure!(take.complete(), "take went incomplete: {}", take.manifest);
        let mono = take
            .files()
            .iter()
            .find(|f| f.stem_name == "Mono Source")
            .map(|f| f.channels);
        if mono == Some(1) {
            break take;
        }
        for f in take.files() {
            let wav = take.read_wav(&f.path)?;
            ensure!(
                wav.frames() as i64 == end - start,
                "{} has {} frames during the rewrite",
                f.path,
                wav.frames()
            );
        }
        ensure!(
            Instant::now() < deadline,
            "after 5 s the dual-mono file is still {mono:?} channels: {}",
            take.manifest
        );
        h.run(2)?;
    };
    h.stop()?;
    eprintln!("collapsed after {polls} poll(s)");

    check_take(&take, &h.specs, &Expect::exact(start, end))?;
    let files = take.files();
    let mono = files.iter().find(|f| f.stem_name == "Mono Source").unwrap();
    let wide = files.iter().find(|f| f.stem_name == "Wide Source").unwrap();
    let mono_wav = take.read_wav(&mono.path)?;
    let wide_wav = take.read_wav(&wide.path)?;
    ensure!(mono_wav.spec.channels == 1, "{:?}", mono_wav.spec);
    ensure!(wide_wav.spec.channels == 2, "{:?}", wide_wav.spec);
    // The input's channel 0, bit for bit (check_take compared it too; this states it).
    for (k, x) in mono_wav.channels[0].iter().enumerate() {
        let want = h.specs[0].input(0, start + k as i64);
        ensure!(
            x.to_bits() == want.to_bits(),
            "mono frame {k}: {x} != {want}"
        );
    }
    let flag = |name: &str| {
        take.manifest["files"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["stem_name"] == name))
            .map(|f| f["channels_identical"].clone())
    };
    ensure!(
        flag("Mono Source") == Some(serde_json::json!(true))
            && flag("Wide Source") == Some(serde_json::json!(false)),
        "channels_identical: {:?} / {:?}",
        flag("Mono Source"),
        flag("Wide Source")
    );
    Ok(())
}
