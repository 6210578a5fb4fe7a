//! Take planning: where takes start and end and what a take does at a segment boundary,
//! decided from block stamps alone. Pure functions, table-tested; the writer feeds them
//! what its streams have queued.
//!
//! # The take model
//! - The session timeline is cut into **segments** by discontinuities: a loop wrap or
//!   locate, the transport starting or stopping (host clock <-> free clock), a sample-rate
//!   change.
//! - A take starts at the earliest block any stream stamped as wanting to record (the first
//!   instance to see the arm), and ends at the earliest block that stopped wanting it after
//!   having wanted it: in Manual mode that is the disarm; in the Follow modes the end of
//!   the play (or record) pass as well.
//! - A segment boundary inside a take does **not** end it. The files run on: the segment
//!   is padded to its end (the latest position any stream reached before the jump), and the
//!   next segment continues at the next file frame, starting at the earliest position any
//!   stream has after the jump. That frame becomes a marker (`segments` in `take.json`, a
//!   cue point in every file). Only a sample-rate change (the files cannot hold two rates)
//!   or the trigger condition ending ends the take there.
//! - Decisions wait until no stream can still report an earlier position: everything below
//!   the horizon is final.

use crate::manifest::EndReason;

/// One queued block as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Block {
    /// Timeline position of its first frame not consumed yet.
    pub start: i64,
    /// The session was armed and the trigger condition held when it was processed.
    pub wants: bool,
    /// The session was armed when it was processed.
    pub armed: bool,
}

/// Where a take stops being wanted, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakeEnd {
    pub at: i64,
    pub reason: EndReason,
}

/// Where one stream asks for a take to start: its first block below `limit` that wants to
/// record. After a take ended by a stop this stream may not have seen yet
/// (`must_see_off`), only a "want" after an "off" counts: a stream processed a block later
/// than the others still says "record" for that block.
pub fn first_wanted(
    blocks: impl IntoIterator<Item = Block>,
    must_see_off: bool,
    limit: i64,
) -> Option<i64> {
    let mut off_seen = !must_see_off;
    blocks.into_iter().find_map(|b| {
        if !b.wants {
            off_seen = true;
        }
        (off_seen && b.wants && b.start < limit).then_some(b.start)
    })
}

/// Where one stream stops wanting the running take: its first block that does not want to
/// record after one that did (`seen_wants`: it did before these blocks). The reason is what
/// that block saw: still armed means the trigger condition ended (Follow modes).
pub fn first_unwanted(
    blocks: impl IntoIterator<Item = Block>,
    seen_wants: bool,
) -> Option<TakeEnd> {
    let mut seen = seen_wants;
    blocks.into_iter().find_map(|b| {
        if b.wants {
            seen = true;
            None
        } else {
            seen.then_some(TakeEnd {
                at: b.start,
                reason: EndReason::stopped(b.armed),
            })
        }
    })
}

/// Below which position everything is final: `holdback` behind the newest position any
/// stream reached (`head`), but never behind the slowest live stream (`live_min`), which
/// cannot report anything earlier than where it is. Everything, when the session flushes.
pub fn horizon(head: Option<i64>, live_min: Option<i64>, holdback: i64, flush_all: bool) -> i64 {
    if flush_all {
        return i64::MAX;
    }
    match (head, live_min) {
        (Some(h), Some(m)) => (h - holdback).max(m),
        (Some(h), None) => h - holdback,
        _ => i64::MIN,
    }
}

/// What a take that reached the end of a segment does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtNextSegment {
    /// Not decided yet: no stream has shown a final position after the jump.
    Wait,
    /// The take goes on; its next segment starts at this timeline position.
    Continue { anchor: i64 },
    /// The take ends at the boundary.
    End(EndReason),
}

/// The next segment's first block as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentStart {
    /// The earliest position any stream has after the jump.
    pub anchor: i64,
    pub sample_rate: u32,
}

/// Decide what a take does after a segment boundary. `next`: the next segment's start,
/// if any stream has shown one; `take_end`: where the take stops being wanted in the next
/// segment, if anywhere yet; `limit`: the horizon.
pub fn at_next_segment(
    next: Option<SegmentStart>,
    take_end: Option<TakeEnd>,
    limit: i64,
    take_rate: u32,
) -> AtNextSegment {
    let Some(next) = next.filter(|n| n.anchor < limit) else {
        return AtNextSegment::Wait;
    };
    if next.sample_rate != take_rate {
        return AtNextSegment::End(EndReason::SampleRateChange);
    }
    match take_end {
        // Nothing of the next segment is wanted: the stop came with the jump (a Follow
        // mode's transport stop, or a disarm on the same block).
        Some(end) if end.at <= next.anchor => AtNextSegment::End(end.reason),
        _ => AtNextSegment::Continue {
            anchor: next.anchor,
        },
    }
}

impl EndReason {
    /// Why a take that stopped being wanted ended: still armed means the trigger condition
    /// (transport playing, host recording) ended; otherwise the session was disarmed.
    pub fn stopped(armed: bool) -> Self {
        if armed {
            EndReason::Transport
        } else {
            EndReason::Disarmed
        }
    }
}

/// Frames of a take, from the file frame its current segment starts at and that segment's
/// start and end positions.
pub fn take_frames(segment_frame: u64, segment_start: i64, end: i64) -> u64 {
    segment_frame + end.saturating_sub(segment_start).max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blocks as (start, wants).
    type Spec = &'static [(i64, bool)];

    fn blocks(spec: &[(i64, bool)]) -> Vec<Block> {
        spec.iter()
            .map(|&(start, wants)| Block {
                start,
                wants,
                armed: true,
            })
            .collect()
    }

    fn end(at: i64) -> Option<TakeEnd> {
        Some(TakeEnd {
            at,
            reason: EndReason::Transport,
        })
    }

    #[test]
    fn take_start_table() {
        // (blocks, must_see_off, limit, expected start)
        let cases: &[(Spec, bool, i64, Option<i64>)] = &[
            (&[(0, false), (512, true)], false, 10_000, Some(512)),
            (&[(0, true)], false, 10_000, Some(0)),
            // Not final yet: the wanted block is beyond the horizon.
            (&[(0, false), (512, true)], false, 512, None),
            // After a stop: the stale "record" block does not restart the take...
            (
                &[(0, true), (512, false), (1024, true)],
                true,
                10_000,
                Some(1024),
            ),
            // ... nor does a run of them with no "off" in between.
            (&[(0, true), (512, true)], true, 10_000, None),
            (&[], false, 10_000, None),
        ];
        for (spec, must_see_off, limit, want) in cases {
            assert_eq!(
                first_wanted(blocks(spec), *must_see_off, *limit),
                *want,
                "{spec:?} must_see_off={must_see_off} limit={limit}"
            );
        }
    }

    #[test]
    fn take_end_table() {
        // (blocks, seen_wants, expected end)
        let cases: &[(Spec, bool, Option<TakeEnd>)] = &[
            (&[(0, true), (512, false)], false, end(512)),
            // An instance that saw the arm a block late: its first "off" is no stop.
            (&[(0, false), (512, true), (1024, true)], false, None),
            (&[(0, false)], true, end(0)),
            (&[(0, true), (512, true)], true, None),
            (&[], true, None),
        ];
        for (spec, seen, want) in cases {
            assert_eq!(
                first_unwanted(blocks(spec), *seen),
                *want,
                "{spec:?} seen={seen}"
            );
        }
        let disarm = [
            Block {
                start: 0,
                wants: true,
                armed: true,
            },
            Block {
                start: 512,
                wants: false,
                armed: false,
            },
        ];
        assert_eq!(
            first_unwanted(disarm, false).map(|e| e.reason),
            Some(EndReason::Disarmed)
        );
    }

    #[test]
    fn horizon_table() {
        let cases = [
            (Some(48_000), Some(40_000), 24_000, false, 40_000),
            (Some(48_000), Some(10_000), 24_000, false, 24_000),
            (Some(48_000), None, 24_000, false, 24_000),
            (None, None, 24_000, false, i64::MIN),
            (None, None, 24_000, true, i64::MAX),
        ];
        for (head, live_min, holdback, flush, want) in cases {
            assert_eq!(
                horizon(head, live_min, holdback, flush),
                want,
                "{head:?} {live_min:?}"
            );
        }
    }

    #[test]
    fn what_a_take_does_at_a_segment_boundary() {
        let at = |anchor, rate| {
            Some(SegmentStart {
                anchor,
                sample_rate: rate,
            })
        };
        use AtNextSegment::*;
        let disarm = |at| {
            Some(TakeEnd {
                at,
                reason: EndReason::Disarmed,
            })
        };
        let cases = [
            // Manual: play after a stopped stretch; the take runs on.
            (at(0, 48_000), None, 10_000, Continue { anchor: 0 }),
            // A loop wrap while a later disarm is already queued: still one take.
            (
                at(4_800, 48_000),
                disarm(20_000),
                30_000,
                Continue { anchor: 4_800 },
            ),
            // Not final: the jump's target is beyond the horizon.
            (at(4_800, 48_000), None, 4_800, Wait),
            (None, None, 10_000, Wait),
            // Follow transport: the transport stopped, nothing after it is wanted.
            (
                at(96_000, 48_000),
                end(96_000),
                200_000,
                End(EndReason::Transport),
            ),
            // A disarm together with the stop.
            (
                at(96_000, 48_000),
                disarm(96_000),
                200_000,
                End(EndReason::Disarmed),
            ),
            // The host changed the sample rate.
            (
                at(0, 96_000),
                None,
                10_000,
                End(EndReason::SampleRateChange),
            ),
        ];
        for (next, take_end, limit, want) in cases {
            assert_eq!(
                at_next_segment(next, take_end, limit, 48_000),
                want,
                "{next:?} end={take_end:?} limit={limit}"
            );
        }
    }

    #[test]
    fn take_length_counts_every_segment() {
        assert_eq!(take_frames(0, 4_800, 34_800), 30_000);
        assert_eq!(take_frames(30_000, 4_800, 5_312), 30_512);
        // A boundary before the segment's start (no data in it) adds nothing.
        assert_eq!(take_frames(30_000, 4_800, i64::MIN), 30_000);
    }
}
