//! Block stamps and the pure rules that relate one block's timeline position to the next.
//!
//! Every block the audio thread captures carries a [`BlockStamp`]: where it sits on the
//! timeline, how long it is, and what the instance saw (transport, arm state). The writer
//! decides everything else from these stamps, so these rules are the whole of "alignment".

/// Which clock a position is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The host's timeline (transport playing, position given by the host).
    Host,
    /// StemTap's own session clock, used while the host gives no position or is stopped.
    /// All instances of a process advance it together (see `capture`).
    Free,
}

/// What the audio thread knows about one captured block. Small and `Copy`: it crosses the
/// stamp ring by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockStamp {
    pub clock: Clock,
    /// Timeline position of the block's first frame, in samples.
    pub pos: i64,
    /// Frames in this block. Their samples follow in the frame ring, interleaved.
    pub frames: u32,
    /// Interleaved channels of the frames.
    pub channels: u16,
    pub sample_rate: u32,
    /// The session was armed and the trigger condition held when this block was processed.
    pub wants_record: bool,
    /// The session was armed when this block was processed (whatever the trigger mode):
    /// tells a take ended by its trigger condition from one ended by a disarm.
    pub armed: bool,
    /// Frames this instance could not push (ring full) since its previous stamp. They sit
    /// directly before `pos`; the writer writes silence there and counts them.
    pub dropped_before: u32,
    /// Host tempo in BPM, 0.0 when unknown.
    pub tempo: f64,
    /// Host position in quarter notes at `pos`, NaN when unknown.
    pub beats: f64,
    /// Host time signature (numerator, denominator), (0, 0) when unknown.
    pub time_sig: (u8, u8),
}

impl BlockStamp {
    /// A placeholder value (used to touch ring memory before use); never sent.
    pub const UNUSED: BlockStamp = BlockStamp {
        clock: Clock::Free,
        pos: 0,
        frames: 0,
        channels: 0,
        sample_rate: 0,
        wants_record: false,
        armed: false,
        dropped_before: 0,
        tempo: 0.0,
        beats: 0.0,
        time_sig: (0, 0),
    };

    pub fn end(&self) -> i64 {
        self.pos + self.frames as i64
    }

    /// Whether `next` continues this stamp exactly with the same format and flags, so the
    /// two can travel as one stamp.
    pub fn can_absorb(&self, next: &BlockStamp) -> bool {
        next.pos == self.end()
            && next.clock == self.clock
            && next.channels == self.channels
            && next.sample_rate == self.sample_rate
            && next.wants_record == self.wants_record
            && next.armed == self.armed
            && next.dropped_before == 0
    }
}

/// Positions within this many samples of the expected one count as contiguous. CLAP sends
/// positions in fixed-point seconds, which round to +-1 sample.
pub const JITTER_SAMPLES: i64 = 1;

/// How one stamp relates to the stream's previous one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// The stream's first stamp (or first after it was reset).
    Start,
    /// Continues the previous block; `pos` is snapped onto the expected position.
    Contiguous { pos: i64 },
    /// Later than expected: the stream was not processed (suspended) or dropped blocks, or
    /// the host located forward. The writer decides which, using the other streams.
    Gap { frames: i64 },
    /// Cannot continue the previous block: the position went backwards (loop, locate), or
    /// the clock, sample rate or channel count changed.
    Break,
}

/// Where the stream expects its next block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expected {
    pub clock: Clock,
    pub sample_rate: u32,
    pub channels: u16,
    pub end: i64,
}

impl Expected {
    pub fn after(stamp: &BlockStamp) -> Self {
        Self {
            clock: stamp.clock,
            sample_rate: stamp.sample_rate,
            channels: stamp.channels,
            end: stamp.end(),
        }
    }
}

/// Classify `stamp` against what the stream's previous stamp led us to expect.
pub fn classify(expected: Option<Expected>, stamp: &BlockStamp) -> Continuity {
    let Some(e) = expected else {
        return Continuity::Start;
    };
    if e.clock != stamp.clock || e.sample_rate != stamp.sample_rate || e.channels != stamp.channels
    {
        return Continuity::Break;
    }
    let delta = stamp.pos - e.end;
    if delta.abs() <= JITTER_SAMPLES {
        Continuity::Contiguous { pos: e.end }
    } else if delta < 0 {
        Continuity::Break
    } else {
        Continuity::Gap { frames: delta }
    }
}

/// Whether a forward gap is the host jumping ahead rather than this stream missing blocks.
/// A stream that missed blocks (suspended, or dropped them) comes back at a position the
/// other streams have already reached (`session_head`), or explains the gap with its own
/// `dropped_before`; a host locate lands beyond everything seen so far.
///
/// `session_head` is `None` when there is nothing to compare with: the stream is past a
/// jump the others may not have shown yet (its stamps belong to a later segment), or the
/// segment has no data yet. A gap beyond `slack` is then taken for a locate. Taking a
/// suspension for a locate costs nothing: the others show no jump, so the stream rejoins
/// the segment and its gap becomes silence. Taking a locate for a gap would fill the files
/// with silence as long as the stretch of song the host skipped.
pub fn gap_is_locate(stamp: &BlockStamp, gap: i64, session_head: Option<i64>, slack: i64) -> bool {
    let explained_by_drops = gap <= stamp.dropped_before as i64 + JITTER_SAMPLES;
    let beyond = match session_head {
        Some(head) => stamp.pos > head + slack,
        None => gap > slack,
    };
    !explained_by_drops && beyond
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(clock: Clock, pos: i64, frames: u32) -> BlockStamp {
        BlockStamp {
            clock,
            pos,
            frames,
            channels: 2,
            sample_rate: 48_000,
            wants_record: true,
            armed: true,
            dropped_before: 0,
            tempo: 0.0,
            beats: f64::NAN,
            time_sig: (0, 0),
        }
    }

    #[test]
    fn continuity_table() {
        let prev = Expected {
            clock: Clock::Host,
            sample_rate: 48_000,
            channels: 2,
            end: 1000,
        };
        let host = |pos| stamp(Clock::Host, pos, 64);
        let cases = [
            (None, host(5), Continuity::Start),
            (Some(prev), host(1000), Continuity::Contiguous { pos: 1000 }),
            (Some(prev), host(999), Continuity::Contiguous { pos: 1000 }),
            (Some(prev), host(1001), Continuity::Contiguous { pos: 1000 }),
            (Some(prev), host(1002), Continuity::Gap { frames: 2 }),
            (Some(prev), host(9000), Continuity::Gap { frames: 8000 }),
            (Some(prev), host(998), Continuity::Break),
            (Some(prev), host(0), Continuity::Break),
            (Some(prev), stamp(Clock::Free, 1000, 64), Continuity::Break),
        ];
        for (expected, s, want) in cases {
            assert_eq!(
                classify(expected, &s),
                want,
                "{expected:?} then pos {}",
                s.pos
            );
        }
        let mut other_rate = host(1000);
        other_rate.sample_rate = 96_000;
        assert_eq!(classify(Some(prev), &other_rate), Continuity::Break);
        let mut mono = host(1000);
        mono.channels = 1;
        assert_eq!(classify(Some(prev), &mono), Continuity::Break);
    }

    #[test]
    fn forward_gaps_are_locates_only_beyond_the_session_head() {
        let s = stamp(Clock::Host, 50_000, 512);
        // Others already reached 50_000: this stream was suspended, not a locate.
        assert!(!gap_is_locate(&s, 40_000, Some(50_000), 16_384));
        assert!(!gap_is_locate(&s, 40_000, Some(40_000), 16_384));
        // Nobody has been near 50_000: the host jumped.
        assert!(gap_is_locate(&s, 40_000, Some(10_000), 16_384));
        // A gap that the stream's own drops explain is never a locate.
        let mut dropped = s;
        dropped.dropped_before = 40_000;
        assert!(!gap_is_locate(&dropped, 40_000, Some(10_000), 16_384));
        // Nothing to compare with (past a queued jump): the gap's size decides.
        assert!(gap_is_locate(&s, 40_000, None, 16_384));
        assert!(!gap_is_locate(&s, 10_000, None, 16_384));
        assert!(!gap_is_locate(&dropped, 40_000, None, 16_384));
    }

    #[test]
    fn only_identical_continuations_merge() {
        let a = stamp(Clock::Host, 0, 3);
        assert!(a.can_absorb(&stamp(Clock::Host, 3, 1)));
        assert!(!a.can_absorb(&stamp(Clock::Host, 4, 1)));
        let mut disarmed = stamp(Clock::Host, 3, 1);
        disarmed.wants_record = false;
        assert!(!a.can_absorb(&disarmed));
        assert!(!a.can_absorb(&stamp(Clock::Free, 3, 1)));
    }
}
