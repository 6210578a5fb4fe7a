//! File names in a pack, in two conventions:
//! - `simple`: `<Project> - <Stem>.wav` (`Night Drive - Drums.wav`);
//! - `pe-wing`: the Recording Academy Producers & Engineers Wing's delivery
//!   recommendations: artist initials, song title, mix revision, stem name, sample rate and
//!   bit depth, joined by underscores (`AB_NightDrive_MX01_Drums_48k24.wav`).
//!
//! Every name is sanitized for every file system a recipient may unpack on (Windows is the
//! strictest): no `<>:"/\|?*` or control characters, no trailing dot or space, no reserved
//! device name (`CON`, `NUL`...), and at most [`MAX_NAME_CHARS`] characters.

use stemtap_engine::SampleFormat;

/// Longest file name (characters, before `.wav`) a pack writes: well inside the 255 of
/// every file system, leaving room for the folder the zip unpacks into.
pub const MAX_NAME_CHARS: usize = 120;

/// What goes into names besides the stem.
#[derive(Debug, Clone, PartialEq)]
pub struct NameParts {
    pub project: String,
    /// `None`: no artist given (the initials are `XX`).
    pub artist: Option<String>,
    pub title: String,
    pub revision: u32,
    pub sample_rate: u32,
    pub format: SampleFormat,
    /// Put in names when the preset asks and the take has one.
    pub tempo_bpm: Option<f64>,
}

/// `name` made safe as a file name (see the module docs); `_` when nothing is left.
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*' => '-',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let mut out = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if out.chars().count() > MAX_NAME_CHARS {
        out = out.chars().take(MAX_NAME_CHARS).collect();
    }
    let out = out.trim_end_matches(['.', ' ']).trim_start().to_string();
    let stem = out.split('.').next().unwrap_or("").to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    match (out.is_empty(), reserved) {
        (true, _) => "_".into(),
        (false, true) => format!("_{out}"),
        _ => out,
    }
}

/// One P&E Wing field: the words of `s` run together in CamelCase, ASCII letters and
/// digits only (an underscore separates fields; spaces and punctuation break scripts).
pub fn pe_field(s: &str) -> String {
    let out: String = s
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase());
            first.into_iter().chain(c).collect::<String>()
        })
        .collect();
    if out.is_empty() {
        "X".into()
    } else {
        out
    }
}

/// The artist's initials, upper case (`Ada Byron` -> `AB`); `XX` when unknown.
pub fn initials(artist: Option<&str>) -> String {
    let out: String = artist
        .unwrap_or("")
        .split(|c: char| !c.is_alphanumeric())
        .filter_map(|w| w.chars().next())
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if out.is_empty() {
        "XX".into()
    } else {
        out
    }
}

/// Sample rate and bit depth as the P&E Wing writes them: `48k24`, `44.1k16`, `96k32f`.
pub fn rate_bits(sample_rate: u32, format: SampleFormat) -> String {
    let khz = if sample_rate.is_multiple_of(1000) {
        format!("{}k", sample_rate / 1000)
    } else {
        format!("{}k", sample_rate as f64 / 1000.0)
    };
    let bits = match format {
        SampleFormat::Int16 => "16",
        SampleFormat::Int24 => "24",
        SampleFormat::Float32 => "32f",
    };
    format!("{khz}{bits}")
}

/// A tempo in a name: `120`, or `92.5` when it is not whole.
fn bpm(tempo: f64) -> String {
    let rounded = (tempo * 100.0).round() / 100.0;
    if rounded.fract() == 0.0 {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded}")
    }
}

/// The file name (with `.wav`) of the audio file called `stem` (a stem's name, a
/// multitrack's `01 Kick`, `Mix`, an alternate's label) under `naming`.
pub fn wav_name(naming: super::Naming, parts: &NameParts, stem: &str) -> String {
    let base = match naming {
        super::Naming::Simple => {
            let tempo = parts
                .tempo_bpm
                .map(|t| format!(" ({} BPM)", bpm(t)))
                .unwrap_or_default();
            format!("{} - {stem}{tempo}", parts.project)
        }
        super::Naming::PeWing => {
            let tempo = parts
                .tempo_bpm
                .map(|t| format!("_{}bpm", bpm(t).replace('.', "-")))
                .unwrap_or_default();
            format!(
                "{}_{}_MX{:02}_{}_{}{tempo}",
                initials(parts.artist.as_deref()),
                pe_field(&parts.title),
                parts.revision,
                pe_field(stem),
                rate_bits(parts.sample_rate, parts.format)
            )
        }
    };
    format!("{}.wav", sanitize(&base))
}

/// `names` made unique, case-insensitively (`X.wav`, `X 2.wav`...), in order: two stems
/// may sanitize to the same name, and some file systems ignore case.
pub fn make_unique(names: &mut [String]) {
    let mut seen = std::collections::HashSet::new();
    for name in names.iter_mut() {
        let (base, ext) = match name.rfind('.') {
            Some(i) => (name[..i].to_string(), name[i..].to_string()),
            None => (name.clone(), String::new()),
        };
        let mut candidate = name.clone();
        let mut n = 2;
        while !seen.insert(candidate.to_lowercase()) {
            candidate = format!("{base} {n}{ext}");
            n += 1;
        }
        *name = candidate;
    }
}

#[cfg(test)]
mod tests {
    use super::super::Naming;
    use super::*;

    fn parts() -> NameParts {
        NameParts {
            project: "Night Drive".into(),
            artist: Some("Ada Byron".into()),
            title: "night drive (radio edit)".into(),
            revision: 3,
            sample_rate: 48_000,
            format: SampleFormat::Int24,
            tempo_bpm: None,
        }
    }

    #[test]
    fn both_conventions() {
        let p = parts();
        assert_eq!(
            wav_name(Naming::Simple, &p, "Drums"),
            "Night Drive - Drums.wav"
        );
        assert_eq!(
            wav_name(Naming::PeWing, &p, "Lead Vox"),
            "AB_NightDriveRadioEdit_MX03_LeadVox_48k24.wav"
        );
        let p = NameParts {
            tempo_bpm: Some(92.5),
            sample_rate: 44_100,
            format: SampleFormat::Int16,
            artist: None,
            ..parts()
        };
        assert_eq!(
            wav_name(Naming::Simple, &p, "Bass"),
            "Night Drive - Bass (92.5 BPM).wav"
        );
        assert_eq!(
            wav_name(Naming::PeWing, &p, "Bass"),
            "XX_NightDriveRadioEdit_MX03_Bass_44.1k16_92-5bpm.wav"
        );
    }

    #[test]
    fn names_are_safe_everywhere() {
        assert_eq!(sanitize("AC/DC: \"Live\"?"), "AC-DC- -Live--");
        assert_eq!(sanitize("  trailing dots... "), "trailing dots");
        assert_eq!(sanitize("con"), "_con");
        assert_eq!(sanitize("COM1.wav"), "_COM1.wav");
        assert_eq!(sanitize("tab\there"), "tab here");
        assert_eq!(sanitize("..."), "_");
        assert_eq!(sanitize(&"x".repeat(300)).len(), MAX_NAME_CHARS);
        let mut names = vec!["A.wav".to_string(), "a.wav".into(), "A.wav".into()];
        make_unique(&mut names);
        assert_eq!(names, ["A.wav", "a 2.wav", "A 3.wav"]);
        assert_eq!(initials(Some("björk guðmundsdóttir")), "BG");
        assert_eq!(rate_bits(96_000, SampleFormat::Float32), "96k32f");
    }
}
