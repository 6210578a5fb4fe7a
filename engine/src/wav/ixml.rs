//! The `iXML` chunk: a small XML document with the take, the track's name per channel, the
//! timestamp (the same position as the `bext` TimeReference) and, when the host gave them,
//! tempo and time signature. Writer thread (and the mono collapse's thread); pure data.
//!
//! What goes where, and why:
//! - `PROJECT` and `TAPE`: the take folder's name. No host tells a plugin its project's
//!   name; the take folder is what ties a take's files together on disk.
//! - `TAKE`: the take's number, when the folder name has one.
//! - `NOTE`: a line a person reads: stem, role, tempo and meter at the take start.
//! - `SPEED`: the sample rates and `TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI/LO` (= bext
//!   TimeReference), as iXML defines them.
//! - `TRACK_LIST`: one `TRACK` per channel, named after the stream (`Name L`/`Name R` for
//!   stereo, `Name 1..n` beyond).
//! - `STEMTAP` (in its own namespace, which iXML readers skip): what iXML has no element
//!   for: role, which clock the position is on, the position before clamping (it may be
//!   negative), tempo, time signature and bar.beat of the start.
//!
//! Every name from a user or host is escaped, and characters XML 1.0 cannot hold are
//! dropped.

use super::header::AudioInfo;
use super::FileMetadata;
use std::fmt::Write;

/// The namespace of StemTap's own elements.
pub(super) const STEMTAP_NAMESPACE: &str = "urn:x-stemtap:ixml:1";

/// The document (UTF-8), padded with a newline to an even length.
pub(super) fn ixml_document(meta: &FileMetadata, audio: &AudioInfo, frames_before: u64) -> Vec<u8> {
    let mut x = String::with_capacity(2048);
    let e = escape;
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<BWFXML>\n");
    x.push_str("  <IXML_VERSION>2.10</IXML_VERSION>\n");
    if !meta.take_name.is_empty() {
        let _ = writeln!(x, "  <PROJECT>{}</PROJECT>", e(&meta.take_name));
        let _ = writeln!(x, "  <TAPE>{}</TAPE>", e(&meta.take_name));
    }
    if let Some(n) = meta.take_number {
        let _ = writeln!(x, "  <TAKE>{n}</TAKE>");
    }
    let _ = writeln!(x, "  <NOTE>{}</NOTE>", e(&note(meta)));
    let stamp = meta.time_reference(frames_before);
    let rate = audio.sample_rate;
    let _ = write!(
        x,
        "  <SPEED>\n    <MASTER_SPEED>1/1</MASTER_SPEED>\n    <CURRENT_SPEED>1/1</CURRENT_SPEED>\n    \
         <FILE_SAMPLE_RATE>{rate}</FILE_SAMPLE_RATE>\n    <AUDIO_BIT_DEPTH>{}</AUDIO_BIT_DEPTH>\n    \
         <DIGITIZER_SAMPLE_RATE>{rate}</DIGITIZER_SAMPLE_RATE>\n    \
         <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>{}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>\n    \
         <TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>{}</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>\n    \
         <TIMESTAMP_SAMPLE_RATE>{rate}</TIMESTAMP_SAMPLE_RATE>\n  </SPEED>\n",
        audio.bits(),
        stamp >> 32,
        stamp & 0xFFFF_FFFF,
    );
    x.push_str(&track_list(&meta.track_name, audio.channels));
    let _ = writeln!(x, "  <STEMTAP xmlns=\"{STEMTAP_NAMESPACE}\">");
    let _ = writeln!(x, "    <VERSION>{}</VERSION>", env!("CARGO_PKG_VERSION"));
    if !meta.role.is_empty() {
        let _ = writeln!(x, "    <ROLE>{}</ROLE>", e(&meta.role));
    }
    if let Some(timeline) = &meta.timeline {
        let _ = writeln!(x, "    <TIMELINE>{}</TIMELINE>", e(timeline));
    }
    let start = meta.start_sample.saturating_add_unsigned(frames_before);
    let _ = writeln!(x, "    <START_SAMPLE>{start}</START_SAMPLE>");
    if let Some(bpm) = meta.tempo_bpm {
        let _ = writeln!(x, "    <TEMPO_BPM>{bpm}</TEMPO_BPM>");
    }
    if let Some((num, den)) = meta.time_signature {
        let _ = writeln!(x, "    <TIME_SIGNATURE>{num}/{den}</TIME_SIGNATURE>");
    }
    if let (0, Some(bar_beat)) = (frames_before, &meta.start_bar_beat) {
        let _ = writeln!(x, "    <START_BAR_BEAT>{}</START_BAR_BEAT>", e(bar_beat));
    }
    x.push_str("  </STEMTAP>\n</BWFXML>\n");
    if x.len() % 2 == 1 {
        x.push('\n');
    }
    x.into_bytes()
}

/// `TRACK_LIST` for `channels` channels of the track `name`.
fn track_list(name: &str, channels: u16) -> String {
    let mut x = String::from("  <TRACK_LIST>\n");
    let _ = writeln!(x, "    <TRACK_COUNT>{channels}</TRACK_COUNT>");
    for ch in 1..=channels {
        let (suffix, function) = match (channels, ch) {
            (1, _) => (String::new(), None),
            (2, 1) => (" L".to_string(), Some("LEFT")),
            (2, _) => (" R".to_string(), Some("RIGHT")),
            (_, n) => (format!(" {n}"), None),
        };
        let _ = write!(
            x,
            "    <TRACK>\n      <CHANNEL_INDEX>{ch}</CHANNEL_INDEX>\n      \
             <INTERLEAVE_INDEX>{ch}</INTERLEAVE_INDEX>\n      <NAME>{}</NAME>\n",
            escape(format!("{name}{suffix}").trim_start())
        );
        if let Some(function) = function {
            let _ = writeln!(x, "      <FUNCTION>{function}</FUNCTION>");
        }
        x.push_str("    </TRACK>\n");
    }
    x.push_str("  </TRACK_LIST>\n");
    x
}

/// `NOTE`: what a person reading the file's metadata wants to know.
fn note(meta: &FileMetadata) -> String {
    let mut note = String::from("Recorded by StemTap");
    if !meta.track_name.is_empty() {
        let _ = write!(note, ": {}", meta.track_name);
        if !meta.role.is_empty() {
            let _ = write!(note, " ({})", meta.role);
        }
    }
    note.push('.');
    match (meta.tempo_bpm, meta.time_signature) {
        (Some(bpm), Some((n, d))) => {
            let _ = write!(note, " Tempo {bpm} BPM, {n}/{d} at the take start.");
        }
        (Some(bpm), None) => {
            let _ = write!(note, " Tempo {bpm} BPM at the take start.");
        }
        (None, Some((n, d))) => {
            let _ = write!(note, " Time signature {n}/{d} at the take start.");
        }
        (None, None) => {}
    }
    note
}

/// `text` with XML's special characters escaped and the characters XML 1.0 cannot hold
/// (control characters but tab, newline and carriage return; U+FFFE, U+FFFF) dropped.
pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The document `xml` (one StemTap wrote) with its `TRACK_LIST` cut to the first channel,
/// named after the track without the ` L` suffix: what the mono collapse keeps. `None`
/// when the document is not one StemTap wrote for a stereo file (it is then copied
/// unchanged).
pub(super) fn with_mono_track_list(xml: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(xml).ok()?;
    if !text.contains(STEMTAP_NAMESPACE) {
        return None;
    }
    let start = text.find("  <TRACK_LIST>\n")?;
    let end = text.find("  </TRACK_LIST>\n")? + "  </TRACK_LIST>\n".len();
    let list = &text[start..end];
    if !list.contains("<TRACK_COUNT>2</TRACK_COUNT>") {
        return None;
    }
    let name = list
        .split("<NAME>")
        .nth(1)?
        .split("</NAME>")
        .next()?
        .strip_suffix(" L")?;
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..start]);
    // `name` is still escaped; unescaping and escaping again would give the same text.
    out.push_str(&track_list_escaped(name));
    out.push_str(text[end..].trim_end_matches('\n'));
    out.push('\n');
    if out.len() % 2 == 1 {
        out.push('\n');
    }
    Some(out.into_bytes())
}

/// [`track_list`] for one channel whose name is already escaped.
fn track_list_escaped(escaped_name: &str) -> String {
    format!(
        "  <TRACK_LIST>\n    <TRACK_COUNT>1</TRACK_COUNT>\n    <TRACK>\n      \
         <CHANNEL_INDEX>1</CHANNEL_INDEX>\n      <INTERLEAVE_INDEX>1</INTERLEAVE_INDEX>\n      \
         <NAME>{escaped_name}</NAME>\n    </TRACK>\n  </TRACK_LIST>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::SampleFormat;

    fn stereo() -> AudioInfo {
        AudioInfo {
            channels: 2,
            sample_rate: 48_000,
            format: SampleFormat::Float32,
        }
    }

    #[test]
    fn names_are_escaped_and_control_characters_dropped() {
        assert_eq!(
            escape("a&b<c>d\"e'f\u{1}g\u{FFFE}h\tä"),
            "a&amp;b&lt;c&gt;d&quot;e&apos;fgh\tä"
        );
    }

    #[test]
    fn the_document_carries_take_tracks_timestamp_and_tempo() {
        let meta = FileMetadata {
            start_sample: (1 << 32) + 5,
            track_name: "Keys & <Pads>".into(),
            role: "stem".into(),
            take_name: "2026-11-24 21-04-13 Take 3".into(),
            take_number: Some(3),
            timeline: Some("host".into()),
            tempo_bpm: Some(121.5),
            time_signature: Some((7, 8)),
            start_bar_beat: Some("3.1.000".into()),
            ..FileMetadata::default()
        };
        let doc = ixml_document(&meta, &stereo(), 0);
        assert_eq!(doc.len() % 2, 0);
        let text = String::from_utf8(doc).unwrap();
        for want in [
            "<PROJECT>2026-11-24 21-04-13 Take 3</PROJECT>",
            "<TAKE>3</TAKE>",
            "<TRACK_COUNT>2</TRACK_COUNT>",
            "<NAME>Keys &amp; &lt;Pads&gt; L</NAME>",
            "<NAME>Keys &amp; &lt;Pads&gt; R</NAME>",
            "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>1</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI>",
            "<TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>5</TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO>",
            "<TIMESTAMP_SAMPLE_RATE>48000</TIMESTAMP_SAMPLE_RATE>",
            "<TEMPO_BPM>121.5</TEMPO_BPM>",
            "<TIME_SIGNATURE>7/8</TIME_SIGNATURE>",
            "<START_BAR_BEAT>3.1.000</START_BAR_BEAT>",
            "Tempo 121.5 BPM, 7/8 at the take start.",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
        assert!(!text.contains("Keys & "), "{text}");
    }

    #[test]
    fn without_tempo_the_document_says_nothing_about_it() {
        let text =
            String::from_utf8(ixml_document(&FileMetadata::default(), &stereo(), 0)).unwrap();
        assert!(
            !text.contains("TEMPO") && !text.contains("TIME_SIGNATURE"),
            "{text}"
        );
        assert!(!text.contains("<TAKE>"), "{text}");
    }

    #[test]
    fn the_mono_collapse_keeps_one_track() {
        let meta = FileMetadata {
            track_name: "A&B".into(),
            ..FileMetadata::default()
        };
        let doc = ixml_document(&meta, &stereo(), 0);
        let mono = String::from_utf8(with_mono_track_list(&doc).unwrap()).unwrap();
        assert_eq!(mono.len() % 2, 0);
        assert!(mono.contains("<TRACK_COUNT>1</TRACK_COUNT>"), "{mono}");
        assert!(mono.contains("<NAME>A&amp;B</NAME>"), "{mono}");
        assert!(
            !mono.contains(" R</NAME>") && !mono.contains("LEFT"),
            "{mono}"
        );
        assert!(mono.trim_end().ends_with("</BWFXML>"), "{mono}");
        assert!(with_mono_track_list(b"<BWFXML/>").is_none());
    }
}
