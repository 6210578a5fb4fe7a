//! Float samples to the file's bytes: float32 (a copy), int24 (rounded, clipped) and
//! int16 (TPDF-dithered), each with the peak and clip-count scan the manifest needs, in the
//! same pass where the CPU has AVX2. Pure functions; realtime-safe, though only the writer
//! thread calls them.

/// Largest magnitude (NaN ignored) and how many samples exceed full scale.
pub(super) fn peak_and_clipped(samples: &[f32]) -> (f32, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { peak_and_clipped_avx2(samples) };
    }
    peak_and_clipped_body(samples)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn peak_and_clipped_avx2(samples: &[f32]) -> (f32, u64) {
    peak_and_clipped_body(samples)
}

/// Works on the bit patterns (for non-NaN floats, `abs` bits order like the values) with
/// 32-bit counters, which vectorizes; baseline x86-64 (SSE2) lacks the unsigned 32-bit
/// max, so AVX2 machines get their own copy of this loop.
#[inline(always)]
fn peak_and_clipped_body(samples: &[f32]) -> (f32, u64) {
    const INF: u32 = 0x7f80_0000;
    const ONE: u32 = 0x3f80_0000;
    let mut peak = 0u32;
    let mut clipped = 0u64;
    for chunk in samples.chunks(1 << 20) {
        let mut count = 0u32;
        for &x in chunk {
            let a = x.to_bits() & 0x7fff_ffff;
            let a = if a > INF { 0 } else { a };
            peak = peak.max(a);
            count += (a > ONE) as u32;
        }
        clipped += count as u64;
    }
    (f32::from_bits(peak), clipped)
}

/// Copy float samples into the file's bytes (little-endian) and return their peak and clip
/// count, in one pass.
pub(super) fn encode_f32(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    #[cfg(all(target_arch = "x86_64", target_endian = "little"))]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { encode_f32_avx2(samples, out) };
    }
    for (o, &x) in out.chunks_exact_mut(4).zip(samples) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    peak_and_clipped(samples)
}

/// Eight samples per step: an unaligned store of the samples as they are (the file is
/// little-endian, like the CPU), and [`ScanAvx2`] on the same register.
#[cfg(all(target_arch = "x86_64", target_endian = "little"))]
#[target_feature(enable = "avx2")]
unsafe fn encode_f32_avx2(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    use std::arch::x86_64::*;
    const STEP: usize = 8;
    assert!(out.len() >= 4 * samples.len());
    let done = samples.len() / STEP * STEP;
    let mut scan = ScanAvx2::new();
    // SAFETY: loads read `samples` below `done`; stores write `out` below `4 * done`,
    // which the assert above keeps in bounds; all unaligned.
    unsafe {
        let (src, dst) = (samples.as_ptr(), out.as_mut_ptr());
        for at in (0..done).step_by(STEP) {
            let x = _mm256_loadu_si256(src.add(at).cast());
            _mm256_storeu_si256(dst.add(4 * at).cast(), x);
            scan.step(x);
        }
    }
    for (o, &x) in out[4 * done..].chunks_exact_mut(4).zip(&samples[done..]) {
        o.copy_from_slice(&x.to_le_bytes());
    }
    scan.finish(&samples[done..])
}

/// The scan of [`peak_and_clipped_body`] eight samples at a time, for the AVX2 encoders to
/// run on the registers they load anyway: magnitude bits, NaN as zero, unsigned max, count
/// above 1.0.
#[cfg(target_arch = "x86_64")]
struct ScanAvx2 {
    /// Per lane: the largest magnitude bits so far (NaN as zero).
    peak: std::arch::x86_64::__m256i,
    /// Per lane; 32-bit, so folded into `clipped` before it could overflow.
    count: std::arch::x86_64::__m256i,
    /// Steps since `count` was last folded: it is folded before a lane could wrap.
    steps: u32,
    /// Samples above full scale, folded from `count`.
    clipped: u64,
}

#[cfg(target_arch = "x86_64")]
impl ScanAvx2 {
    #[target_feature(enable = "avx2")]
    fn new() -> Self {
        use std::arch::x86_64::*;
        Self {
            peak: _mm256_setzero_si256(),
            count: _mm256_setzero_si256(),
            steps: 0,
            clipped: 0,
        }
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn step(&mut self, samples: std::arch::x86_64::__m256i) {
        use std::arch::x86_64::*;
        let a = _mm256_and_si256(samples, _mm256_set1_epi32(0x7fff_ffff));
        // Magnitudes are below 2^31, so signed compares order them correctly.
        let inf = _mm256_set1_epi32(0x7f80_0000);
        let not_nan = _mm256_andnot_si256(_mm256_cmpgt_epi32(a, inf), a);
        self.peak = _mm256_max_epu32(self.peak, not_nan);
        // cmpgt gives -1 per lane above full scale.
        let one = _mm256_set1_epi32(0x3f80_0000);
        self.count = _mm256_sub_epi32(self.count, _mm256_cmpgt_epi32(not_nan, one));
        self.steps += 1;
        if self.steps == 1 << 24 {
            self.fold_count();
        }
    }

    #[target_feature(enable = "avx2")]
    fn fold_count(&mut self) {
        use std::arch::x86_64::*;
        let mut lanes = [0u32; 8];
        // SAFETY: an unaligned store of 32 bytes into a 32-byte array.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.count) };
        self.clipped += lanes.iter().map(|&c| c as u64).sum::<u64>();
        self.count = _mm256_setzero_si256();
        self.steps = 0;
    }

    /// Peak and clip count of everything stepped through and of `tail`.
    #[target_feature(enable = "avx2")]
    fn finish(mut self, tail: &[f32]) -> (f32, u64) {
        use std::arch::x86_64::*;
        self.fold_count();
        let mut lanes = [0u32; 8];
        // SAFETY: as in `fold_count`.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr().cast(), self.peak) };
        let (tail_peak, tail_clipped) = peak_and_clipped_body(tail);
        let peak = lanes.into_iter().max().unwrap_or(0);
        (
            f32::from_bits(peak).max(tail_peak),
            self.clipped + tail_clipped,
        )
    }
}

/// Convert float samples to 24-bit little-endian and return their peak and clip count (one
/// pass where the CPU has AVX2, like [`encode_f32`]).
pub(super) fn encode_i24(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked above).
        return unsafe { encode_i24_avx2(samples, out) };
    }
    encode_i24_body(samples, out);
    peak_and_clipped(samples)
}

/// [`to_i24`] on eight samples at a time, then a byte shuffle drops each value's top byte
/// (four 3-byte values per 128-bit lane) and two overlapping 16-byte stores lay the 24
/// bytes down. The loop stops while 4 bytes of room remain past the last step (the second
/// store writes 4 bytes it does not own; the next step or the scalar tail overwrites them).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn encode_i24_avx2(samples: &[f32], out: &mut [u8]) -> (f32, u64) {
    use std::arch::x86_64::*;
    const STEP: usize = 8;
    let n = samples.len().min(out.len() / 3);
    // Steps whose 28 bytes of stores stay inside `out`.
    let steps = if 3 * n >= 4 { (3 * n - 4) / 24 } else { 0 }.min(n / STEP);
    let done = steps * STEP;
    let mut scan = ScanAvx2::new();
    // SAFETY: loads read `samples` below `done <= n`; the stores of step `i` cover bytes
    // `24 i .. 24 i + 28`, and `24 (steps - 1) + 28 <= 3 n <= out.len()` by the choice of
    // `steps`. All unaligned.
    unsafe {
        let scale = _mm256_set1_ps(8_388_608.0);
        let (lo, hi) = (_mm256_set1_ps(-8_388_610.0), _mm256_set1_ps(8_388_609.0));
        let (half, neg_half) = (_mm256_set1_ps(0.5), _mm256_set1_ps(-0.5));
        let (min_i, max_i) = (_mm256_set1_epi32(-8_388_608), _mm256_set1_epi32(8_388_607));
        // Per lane: bytes 0-2, 4-6, 8-10, 12-14; the last four zeroed.
        let pack = _mm256_setr_epi8(
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, //
            0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1,
        );
        let (src, dst) = (samples.as_ptr(), out.as_mut_ptr());
        for i in 0..steps {
            let x = _mm256_loadu_ps(src.add(i * STEP));
            scan.step(_mm256_castps_si256(x));
            let v = _mm256_mul_ps(x, scale);
            // NaN becomes 0, as `NaN as i32` does in `to_i24`.
            let v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
            let v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
            let t = _mm256_cvttps_epi32(v);
            let frac = _mm256_sub_ps(v, _mm256_cvtepi32_ps(t));
            // Compare masks are -1 where true: subtracting "up" adds one.
            let up = _mm256_castps_si256(_mm256_cmp_ps(frac, half, _CMP_GE_OQ));
            let down = _mm256_castps_si256(_mm256_cmp_ps(frac, neg_half, _CMP_LE_OQ));
            let r = _mm256_add_epi32(_mm256_sub_epi32(t, up), down);
            let r = _mm256_min_epi32(_mm256_max_epi32(r, min_i), max_i);
            let packed = _mm256_shuffle_epi8(r, pack);
            let o = dst.add(i * 24);
            _mm_storeu_si128(o.cast(), _mm256_castsi256_si128(packed));
            _mm_storeu_si128(o.add(12).cast(), _mm256_extracti128_si256::<1>(packed));
        }
    }
    encode_i24_body(&samples[done..n], &mut out[3 * done..3 * n]);
    scan.finish(&samples[done..n])
}

/// Four samples at a time into three little-endian words (12 bytes), so the stores are
/// whole words rather than three bytes each.
#[inline(always)]
fn encode_i24_body(samples: &[f32], out: &mut [u8]) {
    let mut quads = samples.chunks_exact(4);
    let mut outs = out.chunks_exact_mut(12);
    for (s, o) in (&mut quads).zip(&mut outs) {
        let [a, b, c, d] = [s[0], s[1], s[2], s[3]].map(|x| to_i24(x) as u32 & 0xff_ffff);
        o[0..4].copy_from_slice(&(a | b << 24).to_le_bytes());
        o[4..8].copy_from_slice(&(b >> 8 | c << 16).to_le_bytes());
        o[8..12].copy_from_slice(&(c >> 16 | d << 8).to_le_bytes());
    }
    let rest = &mut out[samples.len() / 4 * 12..];
    for (o, &x) in rest.chunks_exact_mut(3).zip(quads.remainder()) {
        o.copy_from_slice(&to_i24(x).to_le_bytes()[..3]);
    }
}

/// The TPDF dither of 16-bit files, one draw per sample. A sample equal to the first
/// sample of its frame reuses that sample's dither, so channels that carry the same signal
/// get the same bytes: the mono collapse (`mono`) can only merge byte-identical channels,
/// and independent dither per channel would make every 16-bit file differ. Channels that
/// differ are dithered independently, as before.
pub(super) struct Dither {
    /// Seeded by the caller, so the same input gives the same file (tests rely on it).
    rng: fastrand::Rng,
    /// Samples per frame.
    channels: usize,
    /// Channel of the next sample within its frame; frames may be split across calls.
    channel: usize,
    /// The current frame's first sample and the dither it got.
    first: (f32, f32),
}

impl Dither {
    pub(super) fn new(seed: u64, channels: u16) -> Self {
        Dither {
            rng: fastrand::Rng::with_seed(seed),
            channels: channels.max(1) as usize,
            channel: 0,
            first: (0.0, 0.0),
        }
    }

    /// The dither (in LSB) for the next sample, `x`.
    #[inline]
    fn next(&mut self, x: f32) -> f32 {
        // TPDF dither: the difference of two uniform values spans +-1 LSB. Drawn for every
        // sample, so the sequence does not depend on the signal.
        let mut tpdf = self.rng.f32() - self.rng.f32();
        if self.channel == 0 {
            self.first = (x, tpdf);
        } else if x == self.first.0 {
            // `==` as `WavSink::channels_identical` compares: 0.0 and -0.0 round alike.
            tpdf = self.first.1;
        }
        self.channel += 1;
        if self.channel == self.channels {
            self.channel = 0;
        }
        tpdf
    }
}

pub(super) fn encode_i16(samples: &[f32], out: &mut [u8], dither: &mut Dither) {
    for (o, &x) in out.chunks_exact_mut(2).zip(samples) {
        o.copy_from_slice(&to_i16(x, dither.next(x)).to_le_bytes());
    }
}

/// `v.round()` (half away from zero) clamped to `lo..=hi`, without the libm `round` call
/// that baseline x86-64 makes for it. Exact: `v - trunc(v)` is exact in binary floating
/// point, so the half-way test sees the true fraction. NaN gives 0, like `NaN as i32`.
#[inline(always)]
fn round_clamped(v: f64, lo: i32, hi: i32) -> i32 {
    // Keep the conversion in range; values past the limits stay past them.
    let v = v.clamp(lo as f64 - 2.0, hi as f64 + 2.0);
    let t = v as i32;
    let frac = v - t as f64;
    let r = t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32;
    r.clamp(lo, hi)
}

/// Float to 24-bit: full scale maps to 2^23, rounded half away from zero, clipped to the
/// integer range. Computed in `f32`, which is exact here (a power-of-two scale, and
/// `v - trunc(v)` is exact), so it vectorizes twice as wide as the `f64` formula it equals
/// (checked for all 2^32 inputs by an ignored test).
#[inline]
pub fn to_i24(x: f32) -> i32 {
    let v = (x * 8_388_608.0).clamp(-8_388_610.0, 8_388_609.0);
    let t = v as i32;
    let frac = v - t as f32;
    let r = t + (frac >= 0.5) as i32 - (frac <= -0.5) as i32;
    r.clamp(-8_388_608, 8_388_607)
}

/// Float to 16-bit with `dither` (in LSB) added before rounding (half away from zero).
#[inline]
pub fn to_i16(x: f32, dither: f32) -> i16 {
    round_clamped(x as f64 * 32_768.0 + dither as f64, -32_768, 32_767) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::test_support::{reference_i16, reference_i24, test_signal};

    #[test]
    fn integer_conversion_table() {
        assert_eq!(to_i24(0.0), 0);
        assert_eq!(to_i24(1.0), 8_388_607);
        assert_eq!(to_i24(-1.0), -8_388_608);
        assert_eq!(to_i24(2.0), 8_388_607);
        assert_eq!(to_i24(0.5), 4_194_304);
        assert_eq!(to_i24(f32::NAN), 0);
        assert_eq!(to_i24(f32::INFINITY), 8_388_607);
        assert_eq!(to_i24(f32::NEG_INFINITY), -8_388_608);
        assert_eq!(to_i24(1.5 / 8_388_608.0), 2);
        assert_eq!(to_i24(-1.5 / 8_388_608.0), -2);
        assert_eq!(to_i24(0.5 / 8_388_608.0), 1);
        assert_eq!(to_i24(-0.5 / 8_388_608.0), -1);
        assert_eq!(to_i16(0.0, 0.0), 0);
        assert_eq!(to_i16(0.5, 0.0), 16_384);
        assert_eq!(to_i16(-1.5, 0.0), -32_768);
        assert_eq!(to_i16(1.0, 0.9), 32_767);
        assert_eq!(to_i16(0.0, 0.6), 1);
        assert_eq!(to_i16(0.0, -0.6), -1);
        assert_eq!(to_i16(0.0, 0.5), 1);
        assert_eq!(to_i16(0.0, -0.5), -1);
        assert_eq!(to_i16(f32::NAN, 0.3), 0);
    }

    /// Every float near the integer grid, every 1009th bit pattern overall, and the dithered
    /// 16-bit path with the sink's own dither source.
    #[test]
    fn fast_conversions_match_the_reference_formulas() {
        let check = |x: f32| assert_eq!(to_i24(x), reference_i24(x), "{x:e} ({:#x})", x.to_bits());
        for bits in (0..=u32::MAX).step_by(1009) {
            check(f32::from_bits(bits));
        }
        for k in -40_000i32..40_000 {
            for frac in [-0.5f64, -0.25, 0.0, 0.25, 0.5] {
                let v = ((k * 211) as f64 + frac) / 8_388_608.0;
                let x = v as f32;
                check(x);
                check(f32::from_bits(x.to_bits() + 1));
                check(f32::from_bits(x.to_bits().wrapping_sub(1)));
            }
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for bits in (0..=u32::MAX).step_by(4099) {
            let x = f32::from_bits(bits);
            let d = rng.f32() - rng.f32();
            assert_eq!(to_i16(x, d), reference_i16(x, d), "{x:e} {d:e}");
        }
        for k in -33_000i32..33_000 {
            for d in [-0.5f32, 0.0, 0.5, rng.f32() - rng.f32()] {
                let x = k as f32 / 32_768.0;
                assert_eq!(to_i16(x, d), reference_i16(x, d), "{x:e} {d:e}");
                let y = (k as f32 + 0.5) / 32_768.0;
                assert_eq!(to_i16(y, d), reference_i16(y, d), "{y:e} {d:e}");
            }
        }
    }

    /// All 2^32 inputs of `to_i24` (half a minute in release: `cargo test --release -p
    /// stemtap-engine --lib -- --ignored exhaustive`).
    #[test]
    #[ignore = "exhaustive; run in release"]
    fn exhaustive_i24_conversion_matches_the_reference() {
        for bits in 0..=u32::MAX {
            let x = f32::from_bits(bits);
            assert_eq!(to_i24(x), reference_i24(x), "{bits:#x}");
        }
    }
    #[test]
    fn float_encoding_copies_bytes_and_scans_like_the_reference() {
        for len in [0, 1, 7, 8, 9, 64, 1000, 4099] {
            let mut samples = test_signal(len, len as u64 + 1);
            for (i, x) in samples.iter_mut().enumerate() {
                match i % 97 {
                    3 => *x = f32::NAN,
                    5 => *x = -1.5,
                    11 => *x = f32::INFINITY,
                    13 => *x = 1.0,
                    _ => {}
                }
            }
            let mut out = vec![0u8; 4 * len];
            let (peak, clipped) = encode_f32(&samples, &mut out);
            let expected: Vec<u8> = samples.iter().flat_map(|x| x.to_le_bytes()).collect();
            assert_eq!(out, expected, "{len} samples");
            let finite = samples.iter().filter(|x| !x.is_nan());
            let expected_peak = finite.clone().fold(0.0f32, |m, x| m.max(x.abs()));
            let expected_clipped = finite.filter(|x| x.abs() > 1.0).count() as u64;
            assert_eq!(
                (peak, clipped),
                (expected_peak, expected_clipped),
                "{len} samples"
            );
        }
    }

    #[test]
    fn int24_encoding_matches_the_scalar_conversion() {
        // Every 4099th bit pattern (a million values across every exponent, NaN and
        // infinities included), then lengths around the vector step.
        let spread: Vec<f32> = (0..=u32::MAX / 4099)
            .map(|i| f32::from_bits(i * 4099))
            .collect();
        let mut cases = vec![spread];
        cases.extend([0, 1, 2, 7, 8, 9, 10, 11, 16, 17, 100].map(|n| test_signal(n, n as u64)));
        for samples in cases {
            let mut out = vec![0xAAu8; 3 * samples.len() + 5];
            let (peak, clipped) = encode_i24(&samples, &mut out[..3 * samples.len()]);
            let (want_peak, want_clipped) = peak_and_clipped_body(&samples);
            assert_eq!(
                (peak.to_bits(), clipped),
                (want_peak.to_bits(), want_clipped),
                "peak and clip count of {} samples",
                samples.len()
            );
            for (i, (o, &x)) in out.chunks_exact(3).zip(&samples).enumerate() {
                assert_eq!(
                    o,
                    &to_i24(x).to_le_bytes()[..3],
                    "sample {i} ({:#x})",
                    x.to_bits()
                );
            }
            assert_eq!(out[3 * samples.len()..], [0xAA; 5], "wrote past the end");
        }
    }
}
