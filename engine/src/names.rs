//! File names from untrusted text (host track names, user input, saved state).
//!
//! A name that comes out of [`sanitize`] is a single path component that is valid on Windows,
//! macOS and Linux, so joining it to a take folder can never leave that folder.

use std::collections::HashSet;

/// Longest name we produce, in characters. Leaves room for a take folder, a role sub-folder,
/// a multitrack number, a ` (part 12)` suffix and `.wav` inside Windows' 260-character paths.
pub const MAX_NAME_CHARS: usize = 64;

/// Used when nothing printable is left of a name.
pub const FALLBACK_NAME: &str = "Untitled";

/// Windows refuses these as file names, with or without an extension, in any case.
const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Turn untrusted text into one safe path component.
///
/// Separators and characters Windows forbids become `_`, control characters are dropped,
/// runs of whitespace fold to one space, leading dots and trailing dots/spaces go (no hidden
/// files, no `..`), reserved device names get a leading `_`, and the result is cut to
/// [`MAX_NAME_CHARS`]. An empty result becomes [`FALLBACK_NAME`].
pub fn sanitize(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_NAME_CHARS * 4));
    let mut last_was_space = true; // also trims leading whitespace
    for c in raw.chars() {
        let c = match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_whitespace() => ' ',
            c if c.is_control() => continue,
            c => c,
        };
        if c == ' ' {
            if last_was_space {
                continue;
            }
            last_was_space = true;
        } else {
            last_was_space = false;
        }
        out.push(c);
    }
    let mut name: String = out
        .trim_start_matches('.')
        .chars()
        .take(MAX_NAME_CHARS)
        .collect();
    while name.ends_with(['.', ' ']) {
        name.pop();
    }
    if name.is_empty() {
        return FALLBACK_NAME.to_string();
    }
    let stem = name.split('.').next().unwrap_or("").trim_end();
    if WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(stem))
    {
        name.insert(0, '_');
    }
    name
}

/// Hands out names that are unique within one folder. Comparison ignores case, because
/// Windows and macOS do: "Kick" and "kick" would be the same file there.
#[derive(Debug, Default)]
pub struct UniqueNames {
    taken: HashSet<String>,
}

impl UniqueNames {
    /// `sanitize(raw)`, or `"<name> 2"`, `"<name> 3"`, ... if that is already taken.
    pub fn claim(&mut self, raw: &str) -> String {
        let base = sanitize(raw);
        let mut candidate = base.clone();
        let mut n = 2u32;
        while !self.taken.insert(candidate.to_lowercase()) {
            let suffix = format!(" {n}");
            let keep = MAX_NAME_CHARS.saturating_sub(suffix.chars().count());
            candidate = base
                .chars()
                .take(keep)
                .collect::<String>()
                .trim_end()
                .to_string()
                + &suffix;
            n += 1;
        }
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_become_safe_components() {
        let long = "x".repeat(300);
        let cases: &[(&str, &str)] = &[
            ("Kick", "Kick"),
            ("Drums Bus", "Drums Bus"),
            ("../../x", "_.._x"),
            ("..", FALLBACK_NAME),
            ("a/b", "a_b"),
            ("a\\b", "a_b"),
            ("C:\\Windows", "C__Windows"),
            ("CON", "_CON"),
            ("con.wav", "_con.wav"),
            ("Lpt9", "_Lpt9"),
            ("COM10", "COM10"),
            ("CONSOLE", "CONSOLE"),
            ("", FALLBACK_NAME),
            ("   ", FALLBACK_NAME),
            ("\u{0}\u{7}\n\t", FALLBACK_NAME),
            ("Vox\u{0} Lead\r\n", "Vox Lead"),
            ("  lots   of\tspace  ", "lots of space"),
            ("Name.", "Name"),
            ("Name . . ", "Name"),
            (".hidden", "hidden"),
            ("🥁 Drums 🔥", "🥁 Drums 🔥"),
            ("What? <Yes>|\"no\"*", "What_ _Yes___no__"),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize(raw), *want, "sanitize({raw:?})");
        }
        assert_eq!(sanitize(&long).chars().count(), MAX_NAME_CHARS);
    }

    #[test]
    fn sanitized_names_never_escape_their_folder() {
        let hostile = [
            "../../x",
            "..",
            ".",
            "/etc/passwd",
            "a/../../b",
            "\\\\server\\share",
            "C:",
            "~",
            "..\\..\\x",
            "\u{202e}gpj.exe",
        ];
        let root = std::path::Path::new("/take");
        for raw in hostile {
            let name = sanitize(raw);
            let joined = root.join(&name);
            assert_eq!(joined.parent(), Some(root), "{raw:?} -> {name:?}");
            assert!(!name.contains(['/', '\\']) && name != "." && name != "..");
        }
    }

    #[test]
    fn unique_names_ignore_case_and_keep_their_length() {
        let mut names = UniqueNames::default();
        assert_eq!(names.claim("Kick"), "Kick");
        assert_eq!(names.claim("kick"), "kick 2");
        assert_eq!(names.claim("KICK"), "KICK 3");
        assert_eq!(names.claim(""), FALLBACK_NAME);
        assert_eq!(names.claim("\u{1}"), format!("{FALLBACK_NAME} 2"));
        let long = "y".repeat(200);
        let first = names.claim(&long);
        let second = names.claim(&long);
        assert_ne!(first, second);
        assert!(second.chars().count() <= MAX_NAME_CHARS);
        assert!(second.ends_with(" 2"));
    }
}
