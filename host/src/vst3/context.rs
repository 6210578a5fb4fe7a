//! The host transport ([`crate::Transport`]) as a VST3 `ProcessContext`.

use crate::Transport;
use vst3::Steinberg::Vst::ProcessContext_::StatesAndFlags_::{
    kBarPositionValid, kContTimeValid, kCycleActive, kCycleValid, kPlaying, kProjectTimeMusicValid,
    kRecording, kTempoValid, kTimeSigValid,
};
use vst3::Steinberg::Vst::{Chord, FrameRate, ProcessContext};

/// The `ProcessContext` for a block whose first sample sits at `transport.pos_samples` on the
/// song timeline; `continuous_samples` is the host's own running sample counter.
pub fn process_context(
    transport: &Transport,
    sample_rate: f64,
    continuous_samples: i64,
) -> ProcessContext {
    let mut state = kContTimeValid;
    if transport.playing {
        state |= kPlaying;
    }
    if transport.recording {
        state |= kRecording;
    }
    let quarters = |samples: i64, tempo: f64| samples as f64 / sample_rate * tempo / 60.0;
    let mut ctx = ProcessContext {
        state: 0,
        sampleRate: sample_rate,
        projectTimeSamples: transport.pos_samples,
        systemTime: 0,
        continousTimeSamples: continuous_samples,
        projectTimeMusic: 0.0,
        barPositionMusic: 0.0,
        cycleStartMusic: 0.0,
        cycleEndMusic: 0.0,
        tempo: 0.0,
        timeSigNumerator: 0,
        timeSigDenominator: 0,
        chord: Chord {
            keyNote: 0,
            rootNote: 0,
            chordMask: 0,
        },
        smpteOffsetSubframes: 0,
        frameRate: FrameRate {
            framesPerSecond: 0,
            flags: 0,
        },
        samplesToNextClock: 0,
    };
    if let Some((num, den)) = transport.time_signature {
        state |= kTimeSigValid;
        ctx.timeSigNumerator = i32::from(num);
        ctx.timeSigDenominator = i32::from(den);
    }
    if let Some(tempo) = transport.tempo {
        state |= kTempoValid | kProjectTimeMusicValid;
        ctx.tempo = tempo;
        ctx.projectTimeMusic = quarters(transport.pos_samples, tempo);
        if let Some((num, den)) = transport.time_signature.filter(|(n, d)| *n > 0 && *d > 0) {
            let per_bar = f64::from(num) * 4.0 / f64::from(den);
            state |= kBarPositionValid;
            ctx.barPositionMusic = (ctx.projectTimeMusic / per_bar).floor() * per_bar;
        }
        if let Some((start, end)) = transport.loop_range {
            state |= kCycleValid | kCycleActive;
            ctx.cycleStartMusic = quarters(start, tempo);
            ctx.cycleEndMusic = quarters(end, tempo);
        }
    }
    ctx.state = state;
    ctx
}
