//! A small generated arrangement for the demo: 120 BPM, 4/4, A minor. Every sample is a
//! pure function of the timeline position, so any block can be rendered on its own.

use std::f64::consts::TAU;

/// A one-sample alignment marker written into every track at known positions; nothing else
/// in the song reaches this value (everything is soft-clipped below 0.95).
pub const MARKER: f32 = 0.999;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Kick,
    Snare,
    Bass,
    Keys,
    Vocals,
    DrumsBus,
    MusicBus,
    Mix,
}

pub struct Song {
    sr: f64,
    markers: Vec<i64>,
}

const BEAT: f64 = 0.5; // seconds at 120 BPM
const BAR: f64 = 4.0 * BEAT;
/// Chord roots per bar (Hz): Am F C G.
const ROOTS: [f64; 4] = [55.0, 43.654, 65.406, 48.999];
/// Vocal melody, one note per beat over two bars (semitones above A3).
const MELODY: [i32; 8] = [0, 3, 7, 5, 3, 2, 0, -2];

impl Song {
    pub fn new(sample_rate: u32) -> Self {
        let sr = f64::from(sample_rate);
        // A marker every 2.5 s, off the beat grid.
        let markers = (1..8)
            .map(|i| (f64::from(i) * 2.5 * sr) as i64 + 777)
            .collect();
        Song { sr, markers }
    }

    /// Timeline positions of the alignment markers.
    pub fn markers(&self) -> &[i64] {
        &self.markers
    }

    /// Stereo sample of `part` at timeline position `pos`.
    pub fn sample(&self, part: Part, pos: i64) -> (f32, f32) {
        if self.markers.binary_search(&pos).is_ok() {
            return (MARKER, MARKER);
        }
        let t = pos as f64 / self.sr;
        let (l, r) = self.raw(part, t);
        (soft(l), soft(r))
    }

    fn raw(&self, part: Part, t: f64) -> (f64, f64) {
        let mono = |x: f64| (x, x);
        match part {
            Part::Kick => mono(kick(t)),
            Part::Snare => mono(snare(t)),
            Part::Bass => mono(bass(t)),
            Part::Keys => {
                let k = keys(t);
                (k.0, k.1)
            }
            Part::Vocals => mono(vocals(t)),
            Part::DrumsBus => {
                let d = 0.7 * (kick(t) + snare(t));
                (d, d * 0.96)
            }
            Part::MusicBus => music(t),
            Part::Mix => {
                let d = 0.7 * (kick(t) + snare(t));
                let (ml, mr) = music(t);
                (0.6 * (d + ml), 0.6 * (d + mr))
            }
        }
    }
}

fn soft(x: f64) -> f32 {
    (0.95 * x.tanh()) as f32
}

fn music(t: f64) -> (f64, f64) {
    let (kl, kr) = keys(t);
    let b = bass(t);
    let v = vocals(t);
    (0.6 * (b + kl + v * 0.9), 0.6 * (b + kr + v * 1.1))
}

fn kick(t: f64) -> f64 {
    let tb = t % BEAT;
    let phase = TAU * (45.0 * tb + 3.0 * (1.0 - (-25.0 * tb).exp()));
    0.8 * (-9.0 * tb).exp() * phase.sin()
}

fn noise(t: f64) -> f64 {
    let mut x = (t * 48_000.0) as u64 ^ 0x9E37_79B9_7F4A_7C15;
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((x >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
}

fn snare(t: f64) -> f64 {
    // Beats 2 and 4.
    let tb = (t - BEAT).rem_euclid(2.0 * BEAT);
    let body = (TAU * 190.0 * tb).sin() * (-30.0 * tb).exp() * 0.3;
    body + noise(t) * (-22.0 * tb).exp() * 0.45
}

fn root(t: f64) -> f64 {
    ROOTS[((t / BAR) as usize) % ROOTS.len()]
}

fn bass(t: f64) -> f64 {
    let eighth = BEAT / 2.0;
    let te = t % eighth;
    let env = (-6.0 * te).exp() * (1.0 - (-200.0 * te).exp());
    0.4 * env * (3.0 * (TAU * root(t) * t).sin()).tanh()
}

fn keys(t: f64) -> (f64, f64) {
    let r = root(t) * 4.0;
    let minor = matches!(((t / BAR) as usize) % 4, 0);
    let third = if minor { 1.189_207 } else { 1.259_921 };
    let tb = t % BAR;
    let env = (1.0 - (-8.0 * tb).exp()) * (-0.8 * tb).exp();
    let a = (TAU * r * t).sin();
    let b = (TAU * r * third * t).sin();
    let c = (TAU * r * 1.498_307 * t).sin();
    (
        0.15 * env * (a + b + 0.7 * c),
        0.15 * env * (0.7 * a + b + c),
    )
}

fn vocals(t: f64) -> f64 {
    let beat = (t / BEAT) as usize;
    let note = MELODY[beat % MELODY.len()];
    let f = 220.0 * 2f64.powf(f64::from(note) / 12.0);
    let vib = 1.0 + 0.006 * (TAU * 5.5 * t).sin();
    let tb = t % BEAT;
    let env = (1.0 - (-20.0 * tb).exp()) * (1.0 - (tb / BEAT).powi(4));
    // Phrases: sing two bars, rest one.
    let phrase = if ((t / BAR) as usize) % 3 == 2 {
        0.0
    } else {
        1.0
    };
    let p = TAU * f * vib * t;
    0.3 * phrase * env * (p.sin() + 0.4 * (2.0 * p).sin() + 0.15 * (3.0 * p).sin())
}
