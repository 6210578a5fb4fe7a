//! Interleaving a block's channels into the ring while taking each channel's peak: the
//! only per-sample loop of the audio thread. **Runs on the realtime thread.**
//!
//! One pass reads every input sample once and writes it once, straight into the ring's free
//! space (no scratch copy), and the peaks come from the same loads. Stereo, the common case,
//! has an AVX2 loop where the CPU has it and an SSE2 loop (part of every x86-64 CPU)
//! otherwise: with 32-byte stores the pass costs about what a plain copy of the block does
//! (BENCHMARKS.md). Three to eight channels go frame by frame with the channel count as a
//! constant; other layouts and architectures use plain loops the compiler vectorizes as
//! far as it can.
//!
//! Peaks ignore NaN (a NaN sample must not freeze a meter) and are magnitudes as `f32`.

use std::mem::MaybeUninit;

/// Write `frames` frames of `input` (one slice per channel, read from `from`) interleaved
/// into `out`, which holds exactly `frames * channels` samples. Channels missing from
/// `input` are written as silence. Returns the peak of channel 0 and the peak of all other
/// channels together (the meters show two bars).
pub fn interleave_with_peaks<C: AsRef<[f32]>>(
    input: &[C],
    from: usize,
    channels: usize,
    out: &mut [MaybeUninit<f32>],
) -> [f32; 2] {
    debug_assert!(channels > 0 && out.len().is_multiple_of(channels));
    let frames = out.len() / channels;
    if frames == 0 {
        return [0.0; 2];
    }
    let src = |c: usize| input.get(c).map(|s| &s.as_ref()[from..from + frames]);
    let all_present = input.len() >= channels;
    match (channels, src(0), src(1)) {
        (1, Some(samples), _) => [copy_mono(samples, out), 0.0],
        (2, Some(left), Some(right)) => interleave_stereo(left, right, out),
        (3, ..) if all_present => interleave_fixed::<3, C>(input, from, out),
        (4, ..) if all_present => interleave_fixed::<4, C>(input, from, out),
        (5, ..) if all_present => interleave_fixed::<5, C>(input, from, out),
        (6, ..) if all_present => interleave_fixed::<6, C>(input, from, out),
        (7, ..) if all_present => interleave_fixed::<7, C>(input, from, out),
        (8, ..) if all_present => interleave_fixed::<8, C>(input, from, out),
        _ => {
            let mut peaks = [0.0f32; 2];
            for c in 0..channels {
                let slot = out[c..].iter_mut().step_by(channels);
                match src(c) {
                    Some(samples) => {
                        for (o, &x) in slot.zip(samples) {
                            o.write(x);
                        }
                        let p = &mut peaks[c.min(1)];
                        *p = p.max(peak(samples));
                    }
                    None => slot.for_each(|o| {
                        o.write(0.0);
                    }),
                }
            }
            peaks
        }
    }
}

/// Surround and other fixed layouts: frame by frame, so the stores are sequential and the
/// channel count is a constant the compiler unrolls (one strided pass per channel cost
/// about 3x a copy), then each channel's peak from its slice, which is still in cache.
fn interleave_fixed<const CH: usize, C: AsRef<[f32]>>(
    input: &[C],
    from: usize,
    out: &mut [MaybeUninit<f32>],
) -> [f32; 2] {
    let frames = out.len() / CH;
    let src: [&[f32]; CH] = std::array::from_fn(|c| &input[c].as_ref()[from..from + frames]);
    for (f, frame) in out.chunks_exact_mut(CH).enumerate() {
        for (o, s) in frame.iter_mut().zip(&src) {
            o.write(s[f]);
        }
    }
    let rest = src[1..].iter().fold(0.0f32, |m, s| m.max(peak(s)));
    [peak(src[0]), rest]
}

fn copy_into(samples: &[f32], out: &mut [MaybeUninit<f32>]) {
    let n = samples.len().min(out.len());
    // SAFETY: `n` samples fit in both; `MaybeUninit<f32>` has the layout of `f32`, and a
    // `&mut` slice cannot overlap a `&` one. (A plain loop here is not turned into a copy.)
    unsafe { std::ptr::copy_nonoverlapping(samples.as_ptr(), out.as_mut_ptr().cast(), n) };
}

/// Largest magnitude, NaN ignored.
pub fn peak(samples: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        x86::peak_sse2(samples)
    }
    #[cfg(not(target_arch = "x86_64"))]
    peak_scalar(samples)
}

/// Works on the bit patterns (for non-NaN floats the magnitude bits order like the
/// values), which vectorizes without fast-math where the CPU has an unsigned 32-bit max.
fn peak_scalar(samples: &[f32]) -> f32 {
    const INF_BITS: u32 = 0x7f80_0000;
    let bits = samples.iter().fold(0u32, |m, &x| {
        let a = x.to_bits() & 0x7fff_ffff;
        m.max(if a > INF_BITS { 0 } else { a })
    });
    f32::from_bits(bits)
}

/// Copy one channel and return its peak.
fn copy_mono(samples: &[f32], out: &mut [MaybeUninit<f32>]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { x86::mono_avx2(samples, out) };
    }
    copy_into(samples, out);
    peak(samples)
}

#[cfg(not(target_arch = "x86_64"))]
fn interleave_stereo(left: &[f32], right: &[f32], out: &mut [MaybeUninit<f32>]) -> [f32; 2] {
    interleave_stereo_scalar(left, right, out)
}

fn interleave_stereo_scalar(left: &[f32], right: &[f32], out: &mut [MaybeUninit<f32>]) -> [f32; 2] {
    for ((o, &l), &r) in out.chunks_exact_mut(2).zip(left).zip(right) {
        o[0].write(l);
        o[1].write(r);
    }
    [peak(left), peak(right)]
}

#[cfg(target_arch = "x86_64")]
fn interleave_stereo(left: &[f32], right: &[f32], out: &mut [MaybeUninit<f32>]) -> [f32; 2] {
    // A cached flag after the first call (std keeps it in a static): no syscall.
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        unsafe { x86::stereo_avx2(left, right, out) }
    } else {
        x86::stereo_sse2(left, right, out)
    }
}

/// Both loops take 16 frames per step: loads per channel are masked to magnitudes and folded
/// into two accumulators per channel (so `maxps` latency does not serialize the loop), and
/// unpacks put the frames in order for the stores. `maxps` returns its second operand when
/// either is NaN, so NaN samples never reach an accumulator.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{interleave_stereo_scalar, peak_scalar};
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    const STEP: usize = 16;

    /// Frames the vector loop handles, and the peaks of the rest done by the scalar loop.
    fn tail(left: &[f32], right: &[f32], out: &mut [MaybeUninit<f32>]) -> (usize, [f32; 2]) {
        let frames = left.len().min(right.len()).min(out.len() / 2);
        let done = frames / STEP * STEP;
        let peaks = interleave_stereo_scalar(
            &left[done..frames],
            &right[done..frames],
            &mut out[2 * done..2 * frames],
        );
        (done, peaks)
    }

    fn fold(lanes: &[f32]) -> f32 {
        lanes.iter().fold(0.0f32, |m, &x| m.max(x))
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn stereo_avx2(
        left: &[f32],
        right: &[f32],
        out: &mut [MaybeUninit<f32>],
    ) -> [f32; 2] {
        let (done, [tail_l, tail_r]) = tail(left, right, out);
        let mut lanes = [[0.0f32; 8]; 4];
        // SAFETY: loads read `left`/`right` below `done`, stores write `out` below
        // `2 * done`, all within the lengths checked by `tail`; all unaligned.
        unsafe {
            let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
            let (l_ptr, r_ptr) = (left.as_ptr(), right.as_ptr());
            let o_ptr = out.as_mut_ptr().cast::<f32>();
            let [mut l0, mut l1, mut r0, mut r1] = [_mm256_setzero_ps(); 4];
            for at in (0..done).step_by(STEP) {
                let a = _mm256_loadu_ps(l_ptr.add(at));
                let b = _mm256_loadu_ps(r_ptr.add(at));
                let c = _mm256_loadu_ps(l_ptr.add(at + 8));
                let d = _mm256_loadu_ps(r_ptr.add(at + 8));
                l0 = _mm256_max_ps(_mm256_and_ps(a, magnitude), l0);
                r0 = _mm256_max_ps(_mm256_and_ps(b, magnitude), r0);
                l1 = _mm256_max_ps(_mm256_and_ps(c, magnitude), l1);
                r1 = _mm256_max_ps(_mm256_and_ps(d, magnitude), r1);
                // Unpacks work within 128-bit lanes; the permutes put the halves in order.
                let o = o_ptr.add(2 * at);
                let (lo, hi) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
                _mm256_storeu_ps(o, _mm256_permute2f128_ps(lo, hi, 0x20));
                _mm256_storeu_ps(o.add(8), _mm256_permute2f128_ps(lo, hi, 0x31));
                let (lo, hi) = (_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
                _mm256_storeu_ps(o.add(16), _mm256_permute2f128_ps(lo, hi, 0x20));
                _mm256_storeu_ps(o.add(24), _mm256_permute2f128_ps(lo, hi, 0x31));
            }
            for (slot, v) in lanes.iter_mut().zip([l0, l1, r0, r1]) {
                _mm256_storeu_ps(slot.as_mut_ptr(), v);
            }
        }
        [
            fold(&lanes[0]).max(fold(&lanes[1])).max(tail_l),
            fold(&lanes[2]).max(fold(&lanes[3])).max(tail_r),
        ]
    }

    /// The copy and the peak from the same loads, as in the stereo loop.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mono_avx2(samples: &[f32], out: &mut [MaybeUninit<f32>]) -> f32 {
        let n = samples.len().min(out.len());
        let done = n / STEP * STEP;
        super::copy_into(&samples[done..n], &mut out[done..n]);
        let tail_peak = peak_scalar(&samples[done..n]);
        let mut lanes = [[0.0f32; 8]; 2];
        // SAFETY: loads read `samples` below `done`, stores write `out` below `done`, both
        // within `n`; all unaligned.
        unsafe {
            let magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fff_ffff));
            let (src, dst) = (samples.as_ptr(), out.as_mut_ptr().cast::<f32>());
            let [mut p0, mut p1] = [_mm256_setzero_ps(); 2];
            for at in (0..done).step_by(STEP) {
                let a = _mm256_loadu_ps(src.add(at));
                let b = _mm256_loadu_ps(src.add(at + 8));
                _mm256_storeu_ps(dst.add(at), a);
                _mm256_storeu_ps(dst.add(at + 8), b);
                p0 = _mm256_max_ps(_mm256_and_ps(a, magnitude), p0);
                p1 = _mm256_max_ps(_mm256_and_ps(b, magnitude), p1);
            }
            _mm256_storeu_ps(lanes[0].as_mut_ptr(), p0);
            _mm256_storeu_ps(lanes[1].as_mut_ptr(), p1);
        }
        fold(&lanes[0]).max(fold(&lanes[1])).max(tail_peak)
    }

    /// Four accumulators of four lanes: `maxps` latency does not serialize the loop.
    pub(super) fn peak_sse2(samples: &[f32]) -> f32 {
        let done = samples.len() / STEP * STEP;
        let mut lanes = [[0.0f32; 4]; 4];
        // SAFETY: SSE2 is part of the x86-64 baseline; loads read below `done`.
        unsafe {
            let magnitude = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
            let ptr = samples.as_ptr();
            let mut acc = [_mm_setzero_ps(); 4];
            for at in (0..done).step_by(STEP) {
                for (k, acc) in acc.iter_mut().enumerate() {
                    let x = _mm_and_ps(_mm_loadu_ps(ptr.add(at + 4 * k)), magnitude);
                    *acc = _mm_max_ps(x, *acc);
                }
            }
            for (slot, v) in lanes.iter_mut().zip(acc) {
                _mm_storeu_ps(slot.as_mut_ptr(), v);
            }
        }
        lanes
            .iter()
            .map(|l| fold(l))
            .fold(peak_scalar(&samples[done..]), f32::max)
    }

    pub(super) fn stereo_sse2(
        left: &[f32],
        right: &[f32],
        out: &mut [MaybeUninit<f32>],
    ) -> [f32; 2] {
        let (done, [tail_l, tail_r]) = tail(left, right, out);
        let mut lanes = [[0.0f32; 4]; 4];
        // SAFETY: SSE2 is part of the x86-64 baseline. Loads read `left`/`right` below
        // `done`, stores write `out` below `2 * done`, as for the AVX2 loop.
        unsafe {
            let magnitude = _mm_castsi128_ps(_mm_set1_epi32(0x7fff_ffff));
            let (l_ptr, r_ptr) = (left.as_ptr(), right.as_ptr());
            let o_ptr = out.as_mut_ptr().cast::<f32>();
            let [mut l0, mut l1, mut r0, mut r1] = [_mm_setzero_ps(); 4];
            for at in (0..done).step_by(8) {
                let a = _mm_loadu_ps(l_ptr.add(at));
                let b = _mm_loadu_ps(r_ptr.add(at));
                let c = _mm_loadu_ps(l_ptr.add(at + 4));
                let d = _mm_loadu_ps(r_ptr.add(at + 4));
                l0 = _mm_max_ps(_mm_and_ps(a, magnitude), l0);
                r0 = _mm_max_ps(_mm_and_ps(b, magnitude), r0);
                l1 = _mm_max_ps(_mm_and_ps(c, magnitude), l1);
                r1 = _mm_max_ps(_mm_and_ps(d, magnitude), r1);
                let o = o_ptr.add(2 * at);
                _mm_storeu_ps(o, _mm_unpacklo_ps(a, b));
                _mm_storeu_ps(o.add(4), _mm_unpackhi_ps(a, b));
                _mm_storeu_ps(o.add(8), _mm_unpacklo_ps(c, d));
                _mm_storeu_ps(o.add(12), _mm_unpackhi_ps(c, d));
            }
            for (slot, v) in lanes.iter_mut().zip([l0, l1, r0, r1]) {
                _mm_storeu_ps(slot.as_mut_ptr(), v);
            }
        }
        [
            fold(&lanes[0]).max(fold(&lanes[1])).max(tail_l),
            fold(&lanes[2]).max(fold(&lanes[3])).max(tail_r),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        input: &[Vec<f32>],
        from: usize,
        channels: usize,
        frames: usize,
    ) -> (Vec<f32>, [f32; 2]) {
        let mut out = vec![MaybeUninit::new(f32::NAN); frames * channels];
        let peaks = interleave_with_peaks(input, from, channels, &mut out);
        // SAFETY: every slot was initialized (to NaN, then overwritten).
        let out = out
            .into_iter()
            .map(|x| unsafe { x.assume_init() })
            .collect();
        (out, peaks)
    }

    fn signal(len: usize, seed: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| ((i.wrapping_mul(2654435761) ^ seed) % 2001) as f32 / 1000.0 - 1.0)
            .collect()
    }

    #[test]
    fn every_layout_and_length_interleaves_exactly() {
        for channels in 1..=9 {
            for frames in [0, 1, 3, 7, 8, 9, 15, 16, 17, 512, 1027] {
                let from = 5;
                let input: Vec<Vec<f32>> = (0..channels)
                    .map(|c| signal(from + frames, c as u32 * 7 + 1))
                    .collect();
                let (out, peaks) = run(&input, from, channels, frames);
                let mut expected_peaks = [0.0f32; 2];
                for f in 0..frames {
                    for c in 0..channels {
                        let x = input[c][from + f];
                        assert_eq!(
                            out[f * channels + c].to_bits(),
                            x.to_bits(),
                            "{channels} ch, {frames} frames, frame {f} ch {c}"
                        );
                        let p = &mut expected_peaks[c.min(1)];
                        *p = p.max(x.abs());
                    }
                }
                assert_eq!(peaks, expected_peaks, "{channels} ch, {frames} frames");
            }
        }
    }

    type StereoLoop = fn(&[f32], &[f32], &mut [MaybeUninit<f32>]) -> [f32; 2];

    /// The dispatcher picks one stereo loop on this machine; check the other too.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn both_x86_stereo_loops_match_the_scalar_one() {
        for frames in [0, 1, 15, 16, 17, 33, 512, 1029] {
            let (left, right) = (signal(frames, 1), signal(frames, 2));
            let mut expected = vec![MaybeUninit::new(0.0f32); 2 * frames];
            let expected_peaks = interleave_stereo_scalar(&left, &right, &mut expected);
            let mut loops: Vec<(&str, StereoLoop)> = vec![("sse2", x86::stereo_sse2)];
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2 (checked above).
                loops.push(("avx2", |l, r, o| unsafe { x86::stereo_avx2(l, r, o) }));
            }
            for (name, f) in loops {
                let mut out = vec![MaybeUninit::new(f32::NAN); 2 * frames];
                assert_eq!(
                    f(&left, &right, &mut out),
                    expected_peaks,
                    "{name}, {frames} frames"
                );
                for (i, (o, e)) in out.iter().zip(&expected).enumerate() {
                    // SAFETY: both are fully initialized.
                    let (o, e) = unsafe { (o.assume_init(), e.assume_init()) };
                    assert_eq!(
                        o.to_bits(),
                        e.to_bits(),
                        "{name}, {frames} frames, sample {i}"
                    );
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_mono_loop_matches_a_copy() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for frames in [0, 1, 15, 16, 17, 512, 1029] {
            let mut samples = signal(frames, 5);
            if frames > 20 {
                samples[20] = f32::NAN;
                samples[3] = -1.25;
            }
            let mut out = vec![MaybeUninit::new(0.0f32); frames];
            // SAFETY: the CPU has AVX2 (checked above).
            let p = unsafe { x86::mono_avx2(&samples, &mut out) };
            assert_eq!(p, peak_scalar(&samples), "{frames} frames");
            for (o, x) in out.iter().zip(&samples) {
                // SAFETY: fully initialized.
                assert_eq!(unsafe { o.assume_init() }.to_bits(), x.to_bits());
            }
        }
    }

    #[test]
    fn missing_channels_are_silence() {
        let input = vec![signal(20, 3)];
        let (out, peaks) = run(&input, 0, 3, 20);
        for f in 0..20 {
            assert_eq!(out[f * 3], input[0][f]);
            assert_eq!((out[f * 3 + 1], out[f * 3 + 2]), (0.0, 0.0));
        }
        assert_eq!(peaks[1], 0.0);
    }

    #[test]
    fn peaks_ignore_nan_but_not_infinity() {
        for at in [0, 5, 8, 13] {
            let mut left = vec![0.25f32; 16];
            let mut right = vec![-0.5f32; 16];
            left[at] = f32::NAN;
            right[at] = -f32::NAN;
            let (out, peaks) = run(&[left.clone(), right.clone()], 0, 2, 16);
            assert_eq!(peaks, [0.25, 0.5], "NaN at {at}");
            assert!(
                out[2 * at].is_nan() && out[2 * at + 1].is_nan(),
                "NaN is recorded as is"
            );
            right[at] = f32::NEG_INFINITY;
            assert_eq!(run(&[left, right], 0, 2, 16).1[1], f32::INFINITY);
        }
        assert_eq!(peak(&[f32::NAN, -0.75, 0.5]), 0.75);
        let mut long: Vec<f32> = (0..40).map(|i| i as f32 / 100.0).collect();
        long[3] = f32::NAN;
        long[17] = -0.9;
        assert_eq!(peak(&long), 0.9);
        assert_eq!(peak(&long[..17]), 0.16);
        long[30] = f32::NEG_INFINITY;
        assert_eq!(peak(&long), f32::INFINITY);
    }
}
