//! Who a pack is for, and what each recipient gets: the built-in presets, and the small
//! TOML file (`stemtap-pack.toml`) that overrides them. See docs/pack.md for the format.
//!
//! Precedence, highest first: the command line, the file's section for the recipient
//! (`[mastering]`...), its `[defaults]` section, the built-in preset.

use super::PackError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use stemtap_engine::settings::Role;
use stemtap_engine::SampleFormat;

/// The config file `pack` looks for in the take folder, then in its parent.
pub const CONFIG_FILE: &str = "stemtap-pack.toml";

/// Who receives a pack. The ids (`mix-engineer`...) are what the command line and the
/// config file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipient {
    /// Mixes the song: every multitrack, and the mix as a reference.
    MixEngineer,
    /// Masters the song: the stems and the mix.
    Mastering,
    /// Remixes the song: the stems and the mix, the tempo in the file names.
    Remixer,
    /// Sings or records over the song: the stems, the mix, and an instrumental.
    Vocalist,
}

impl Recipient {
    pub const ALL: [Recipient; 4] = [
        Recipient::MixEngineer,
        Recipient::Mastering,
        Recipient::Remixer,
        Recipient::Vocalist,
    ];

    /// The id on the command line and in the config file.
    pub fn id(self) -> &'static str {
        match self {
            Recipient::MixEngineer => "mix-engineer",
            Recipient::Mastering => "mastering",
            Recipient::Remixer => "remixer",
            Recipient::Vocalist => "vocalist",
        }
    }

    /// The words in the zip's name (`<Project> - Mix Engineer.zip`).
    pub fn label(self) -> &'static str {
        match self {
            Recipient::MixEngineer => "Mix Engineer",
            Recipient::Mastering => "Mastering",
            Recipient::Remixer => "Remixer",
            Recipient::Vocalist => "Vocalist",
        }
    }

    pub fn from_id(id: &str) -> Option<Recipient> {
        Recipient::ALL.into_iter().find(|r| r.id() == id)
    }
}

/// A pass derived from the stems, the way studios print them alongside the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Alternate {
    /// Every stem but the vocals.
    Instrumental,
    /// The vocals only.
    ACappella,
    /// Every stem but the lead vocal (backing vocals stay): what a singer performs to on TV.
    TvTrack,
}

impl Alternate {
    pub const ALL: [Alternate; 3] = [
        Alternate::Instrumental,
        Alternate::ACappella,
        Alternate::TvTrack,
    ];

    /// The id in the config file.
    pub fn id(self) -> &'static str {
        match self {
            Alternate::Instrumental => "instrumental",
            Alternate::ACappella => "a-cappella",
            Alternate::TvTrack => "tv-track",
        }
    }

    /// Its name in a file name, in words (`simple` naming) and as one word (`pe-wing`).
    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Alternate::Instrumental => ("Instrumental", "Instrumental"),
            Alternate::ACappella => ("A Cappella", "ACappella"),
            Alternate::TvTrack => ("TV Track", "TVTrack"),
        }
    }
}

/// How the packed files are named (see `naming`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    /// `<Project> - <Stem>.wav`.
    Simple,
    /// The Recording Academy P&E Wing delivery convention:
    /// `AB_SongTitle_MX01_Drums_48k24.wav`.
    PeWing,
}

impl Naming {
    pub fn id(self) -> &'static str {
        match self {
            Naming::Simple => "simple",
            Naming::PeWing => "pe-wing",
        }
    }
}

/// What one recipient gets, fully resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preset {
    pub recipient: Recipient,
    /// Which of the take's files go in, by role.
    pub roles: Vec<Role>,
    /// Passes derived from the stems.
    pub alternates: Vec<Alternate>,
    pub format: SampleFormat,
    pub naming: Naming,
    /// The take's tempo in every audio file's name (`... (120 BPM).wav`), for remixers
    /// who drop files into a session at another tempo.
    pub tempo_in_names: bool,
}

impl Preset {
    /// The built-in preset: the issue's rules. 24-bit everywhere (what every DAW opens
    /// and what every recipient asks for); `simple` names.
    pub fn builtin(recipient: Recipient) -> Preset {
        let (roles, alternates, tempo_in_names) = match recipient {
            Recipient::MixEngineer => (vec![Role::Multitrack, Role::Mix], vec![], false),
            Recipient::Mastering => (vec![Role::Stem, Role::Mix], vec![], false),
            Recipient::Remixer => (vec![Role::Stem, Role::Mix], vec![], true),
            Recipient::Vocalist => (
                vec![Role::Stem, Role::Mix],
                vec![Alternate::Instrumental],
                false,
            ),
        };
        Preset {
            recipient,
            roles,
            alternates,
            format: SampleFormat::Int24,
            naming: Naming::Simple,
            tempo_in_names,
        }
    }

    /// This preset with every setting `s` gives replacing its own.
    pub fn with(mut self, s: &PackSettings) -> Preset {
        if let Some(r) = &s.roles {
            self.roles = r.clone();
        }
        if let Some(a) = &s.alternates {
            self.alternates = a.clone();
        }
        self.format = s.format.unwrap_or(self.format);
        self.naming = s.naming.unwrap_or(self.naming);
        self.tempo_in_names = s.tempo_in_names.unwrap_or(self.tempo_in_names);
        self
    }
}

/// Settings that can come from the config file (a section) or the command line. Every
/// field is optional: what is not given falls through to the next layer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackSettings {
    /// The project name in file and zip names; default: the title, else the take
    /// folder's name.
    pub project: Option<String>,
    /// The artist, for the P&E Wing initials; default: none (`XX`).
    pub artist: Option<String>,
    /// The song title, for P&E Wing names; default: the project name.
    pub title: Option<String>,
    /// The mix revision, for P&E Wing names (`MX01`); default 1.
    pub revision: Option<u32>,
    /// Stem names (case-insensitive) that are vocals; default: detected from the names.
    pub vocals: Option<Vec<String>>,
    /// Stem names that are lead vocals (left out of the TV track); default: the vocals
    /// not named like backing vocals.
    pub lead_vocals: Option<Vec<String>>,
    pub roles: Option<Vec<Role>>,
    pub alternates: Option<Vec<Alternate>>,
    pub format: Option<SampleFormat>,
    pub naming: Option<Naming>,
    pub tempo_in_names: Option<bool>,
}

impl PackSettings {
    /// `self` where it says something, `lower` elsewhere.
    pub fn over(&self, lower: &PackSettings) -> PackSettings {
        fn pick<T: Clone>(a: &Option<T>, b: &Option<T>) -> Option<T> {
            a.clone().or_else(|| b.clone())
        }
        PackSettings {
            project: pick(&self.project, &lower.project),
            artist: pick(&self.artist, &lower.artist),
            title: pick(&self.title, &lower.title),
            revision: pick(&self.revision, &lower.revision),
            vocals: pick(&self.vocals, &lower.vocals),
            lead_vocals: pick(&self.lead_vocals, &lower.lead_vocals),
            roles: pick(&self.roles, &lower.roles),
            alternates: pick(&self.alternates, &lower.alternates),
            format: pick(&self.format, &lower.format),
            naming: pick(&self.naming, &lower.naming),
            tempo_in_names: pick(&self.tempo_in_names, &lower.tempo_in_names),
        }
    }
}

/// The config file: a `[defaults]` section for every recipient and one per recipient.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct PackConfig {
    #[serde(default)]
    pub defaults: PackSettings,
    #[serde(default)]
    pub mix_engineer: PackSettings,
    #[serde(default)]
    pub mastering: PackSettings,
    #[serde(default)]
    pub remixer: PackSettings,
    #[serde(default)]
    pub vocalist: PackSettings,
}

impl PackConfig {
    /// The section for `recipient` over `[defaults]`.
    pub fn settings_for(&self, recipient: Recipient) -> PackSettings {
        let section = match recipient {
            Recipient::MixEngineer => &self.mix_engineer,
            Recipient::Mastering => &self.mastering,
            Recipient::Remixer => &self.remixer,
            Recipient::Vocalist => &self.vocalist,
        };
        section.over(&self.defaults)
    }

    /// Parse a config file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<PackConfig, PackError> {
        toml::from_str(text).map_err(|e| PackError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Read and parse the config file at `path`.
    pub fn load(path: &Path) -> Result<PackConfig, PackError> {
        let text = std::fs::read_to_string(path).map_err(|e| PackError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        PackConfig::parse(&text, path)
    }

    /// The config file that applies to the take in `take_dir`: `stemtap-pack.toml` in the
    /// take folder, else in its parent (one file for every take of a project).
    pub fn find(take_dir: &Path) -> Option<PathBuf> {
        let here = take_dir.join(CONFIG_FILE);
        if here.is_file() {
            return Some(here);
        }
        let parent = take_dir.parent()?.join(CONFIG_FILE);
        parent.is_file().then_some(parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_presets_follow_the_issue() {
        let p = Preset::builtin(Recipient::MixEngineer);
        assert_eq!(p.roles, [Role::Multitrack, Role::Mix]);
        assert_eq!(p.format, SampleFormat::Int24);
        assert!(Preset::builtin(Recipient::Remixer).tempo_in_names);
        assert_eq!(
            Preset::builtin(Recipient::Vocalist).alternates,
            [Alternate::Instrumental]
        );
        for r in Recipient::ALL {
            assert_eq!(Recipient::from_id(r.id()), Some(r));
        }
    }

    #[test]
    fn the_file_overrides_the_preset_and_the_section_overrides_defaults() {
        let text = r#"
            [defaults]
            artist = "Ada Byron"
            format = "int16"
            vocals = ["Vox", "Choir"]

            [mastering]
            format = "float32"
            alternates = ["instrumental", "a-cappella", "tv-track"]
            naming = "pe-wing"
        "#;
        let c = PackConfig::parse(text, Path::new("x.toml")).unwrap();
        let m = c.settings_for(Recipient::Mastering);
        assert_eq!(m.format, Some(SampleFormat::Float32));
        assert_eq!(m.artist.as_deref(), Some("Ada Byron"));
        let p = Preset::builtin(Recipient::Mastering).with(&m);
        assert_eq!(p.alternates, Alternate::ALL);
        assert_eq!(p.naming, Naming::PeWing);
        let v = Preset::builtin(Recipient::Vocalist).with(&c.settings_for(Recipient::Vocalist));
        assert_eq!(v.format, SampleFormat::Int16);
    }

    #[test]
    fn the_file_is_found_in_the_take_folder_then_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        let take = dir.path().join("Take 1");
        std::fs::create_dir_all(&take).unwrap();
        assert_eq!(PackConfig::find(&take), None);
        std::fs::write(dir.path().join(CONFIG_FILE), "").unwrap();
        assert_eq!(PackConfig::find(&take), Some(dir.path().join(CONFIG_FILE)));
        std::fs::write(take.join(CONFIG_FILE), "").unwrap();
        assert_eq!(PackConfig::find(&take), Some(take.join(CONFIG_FILE)));
        assert_eq!(
            PackConfig::load(&take.join(CONFIG_FILE)).unwrap(),
            PackConfig::default()
        );
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_that_names_it() {
        let err = PackConfig::parse("[mastering]\nformt = \"int16\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.toml") && err.contains("formt"), "{err}");
    }
}
