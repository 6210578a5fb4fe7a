//! Text for durations, sizes and levels, shared by the editor's sections. Pure functions.

/// `1:02:03` past an hour, `2:03.4` below it (tenths while the clock ticks).
pub fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    let whole = seconds.floor() as u64;
    let (h, m, s) = (whole / 3600, whole / 60 % 60, whole % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        let tenths = ((seconds - whole as f64) * 10.0).floor() as u64;
        format!("{m}:{s:02}.{tenths}")
    }
}

/// A coarse human duration: `3 d 4 h`, `12 h 5 min`, `7 min`, `under a minute`.
pub fn rough_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "unlimited".into();
    }
    let minutes = (seconds.max(0.0) / 60.0).floor() as u64;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    match (d, h, m) {
        (0, 0, 0) => "under a minute".into(),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// Decimal units, as file managers show free space: `512 B`, `1.5 GB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Frames at a sample rate as a clock (see [`clock`]); a zero rate reads as zero.
pub fn frames_clock(frames: u64, sample_rate: u32) -> String {
    if sample_rate == 0 {
        return clock(0.0);
    }
    clock(frames as f64 / sample_rate as f64)
}
