//! Scenario 2: one instance is not processed for several blocks (a host suspending it),
//! another gets every block split 64 + 448 while the rest get 512. All files align, have
//! the same length, and hold silence exactly where an instance was not processed.

use stemtap_e2e::*;

const SKIP_FROM: i64 = 20 * 512;
const SKIP_TO: i64 = 28 * 512;

#[test]
fn suspended_and_split_blocks_stay_aligned() -> anyhow::Result<()> {
    let specs = vec![
        TrackSpec::new("Steady", "stem"),
        TrackSpec::new("Suspended", "stem"),
        TrackSpec::new("Split", "stem"),
    ];
    let mut h = Harness::new(specs)?;
    h.start()?;
    h.transport = stemtap_host::Transport::playing_at(0);
    let plan = |pos: i64| {
        move |i: usize| match i {
            1 if (SKIP_FROM..SKIP_TO).contains(&pos) => Plan::Skip,
            2 => Plan::Split(vec![64, 448]),
            _ => Plan::Normal,
        }
    };
    let mut start = None;
    let mut end = None;
    for cycle in 0..70 {
        let pos = h.transport.pos_samples;
        let record = match cycle {
            4 => Some((0, true)),
            60 => Some((0, false)),
            _ => None,
        };
        let at = h.step(record, plan(pos))?;
        if cycle == 4 {
            start = Some(at);
        }
        if cycle == 60 {
            end = Some(at);
        }
    }
    let (start, end) = (start.unwrap(), end.unwrap());
    let takes = h.finish(1)?;
    h.stop()?;
    let silent = |t: usize, pos: i64| t == 1 && (SKIP_FROM..SKIP_TO).contains(&pos);
    check_take(
        &takes[0],
        &h.specs,
        &Expect::exact(start, end).with_silence(&silent),
    )?;
    Ok(())
}
