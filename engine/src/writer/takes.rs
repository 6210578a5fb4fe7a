//! The active take: its folder, its segments and its files, and what goes into `take.json`
//! and the GUI's status about it. Writer thread only.

use super::files::{TakeFile, TakeFiles};
use super::plan::take_frames;
use super::streams::StreamReader;
use super::WriterError;
use crate::manifest::{
    bar_beat, EndReason, FileEntry, Manifest, Segment, Timeline, FORMAT_VERSION,
};
use crate::settings::{ChannelMode, Role, SampleFormat};
use crate::status::{TakeProgress, TakeStream, TakeSummary};
use crate::take::{create_take_folder, folder_timestamp, TakeNamer};
use crate::take_lock::TakeLock;
use crate::timeline::{BlockStamp, Clock};
use crate::wav::{FileMetadata, SinkSpec, WavSink, RF64_AFTER_BYTES};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One continuous stretch of the take (see `plan`).
#[derive(Debug, Clone, Copy)]
pub(super) struct TakeSegment {
    /// Offset in the files where it starts.
    pub frame: u64,
    pub clock: Clock,
    /// Timeline position of `frame`.
    pub start: i64,
    /// The block it starts with (tempo and meter for the manifest).
    pub first: BlockStamp,
}

pub(super) struct ActiveTake {
    /// The folder's name; empty until the folder exists.
    pub name: String,
    pub folder: Option<PathBuf>,
    /// The folder and files exist. A take is opened once it is long enough to keep (or
    /// goes past a segment boundary); until then its audio waits in the rings.
    pub opened: bool,
    pub sample_rate: u32,
    pub format: SampleFormat,
    /// At least one; the last is the one being written.
    pub segments: Vec<TakeSegment>,
    /// The current segment has ended and every file is padded to this many frames; the
    /// next segment's start is not decided yet.
    pub between_segments: Option<u64>,
    pub namer: TakeNamer,
    pub files: TakeFiles,
    pub errors: Vec<WriterError>,
    pub started: Instant,
    /// An end for this take has been seen but is not final yet.
    pub ending_seen: bool,
    /// Held from the folder's creation until `take.json` says complete, so that a repair
    /// tool can tell this live take from one a crash left (see `take_lock`). Dropping the
    /// take releases it.
    pub lock: Option<TakeLock>,
    /// Why the lock could not be taken: reported in `take.json`, never fatal.
    pub lock_errors: Vec<String>,
}

impl ActiveTake {
    pub fn new(start: i64, first: BlockStamp, format: SampleFormat) -> Self {
        ActiveTake {
            name: String::new(),
            folder: None,
            opened: false,
            sample_rate: first.sample_rate,
            format,
            segments: vec![TakeSegment {
                frame: 0,
                clock: first.clock,
                start,
                first,
            }],
            between_segments: None,
            namer: TakeNamer::default(),
            files: TakeFiles::default(),
            errors: Vec::new(),
            started: Instant::now(),
            ending_seen: false,
            lock: None,
            lock_errors: Vec::new(),
        }
    }

    pub fn current(&self) -> &TakeSegment {
        self.segments.last().expect("a take has a segment")
    }

    /// Timeline position where the take starts.
    pub fn start(&self) -> i64 {
        self.segments[0].start
    }

    /// Frames in the longest file so far.
    pub fn frames(&self) -> u64 {
        if let Some(frames) = self.between_segments {
            return frames;
        }
        let seg = self.current();
        let end = self
            .files
            .files
            .iter()
            .map(|f| f.written_to)
            .max()
            .unwrap_or(seg.start);
        take_frames(seg.frame, seg.start, end)
    }

    /// Frames the take would have if it ended at `end` in the current segment.
    pub fn frames_at(&self, end: i64) -> u64 {
        let seg = self.current();
        take_frames(seg.frame, seg.start, end)
    }

    /// Create the take folder (`<date time> Take <number>`) in `root`.
    pub fn open(&mut self, root: &Path, number: u32) -> Result<(), WriterError> {
        self.opened = true;
        let (dir, name) =
            create_take_folder(root, &folder_timestamp(), number).map_err(|source| {
                WriterError::TakeFolder {
                    root: root.to_path_buf(),
                    source,
                }
            })?;
        // Locked before any file or take.json exists: a repair never sees this take
        // unlocked while it is written. A failure is reported, never fatal.
        match TakeLock::acquire(&dir, &name) {
            Ok(lock) => self.lock = Some(lock),
            Err(e) => self.lock_errors.push(e.to_string()),
        }
        self.folder = Some(dir);
        self.name = name;
        Ok(())
    }

    /// Release the take lock (and remove its file): once `take.json` says complete, or
    /// before the folder of a take too short to keep is removed.
    pub fn release_lock(&mut self) {
        if let Some(lock) = self.lock.take() {
            lock.release();
        }
    }

    /// Create stream `reader`'s file, named `display`, for `input_channels` of input.
    pub fn add_file(
        &mut self,
        reader: &StreamReader,
        display: String,
        input_channels: u16,
        max_wav_data_bytes: u64,
    ) -> (usize, Option<WriterError>) {
        let settings = reader.settings.read().clone();
        let rel = self.namer.path_for(settings.role, &display);
        let file_channels = settings.channel_mode.file_channels(input_channels);
        let seg = *self.current();
        let mut file = TakeFile {
            stream: reader.id,
            sink: None,
            path: format!("{rel}.wav"),
            stem_name: display,
            role: settings.role,
            channel_mode: settings.channel_mode,
            file_channels,
            offset_samples: settings.offset_samples,
            written_to: seg.start,
            dropped_frames: 0,
            silent_gap_frames: 0,
            errors: Vec::new(),
            sink_error_reported: false,
        };
        let mut error = None;
        if let Some(dir) = &self.folder {
            let spec = SinkSpec {
                take_dir: dir.clone(),
                rel_base: rel.clone(),
                channels: file_channels,
                sample_rate: self.sample_rate,
                format: self.format,
                max_data_bytes: max_wav_data_bytes,
            };
            let metadata = self.file_metadata(&file);
            match create_sink(
                spec,
                metadata,
                self.segments.iter().skip(1).map(|s| s.frame),
            ) {
                Ok(sink) => file.sink = Some(sink),
                Err(e) => error = Some(e),
            }
        }
        // A file that joins after the take began gets silence up to now.
        let missing = if self.between_segments.is_some() {
            self.frames()
        } else {
            seg.frame
        };
        if missing > 0 {
            file.silent_gap_frames += missing;
            if let Some(sink) = file.sink.as_mut() {
                sink.write_silence(missing);
            }
        }
        self.files.files.push(file);
        (self.files.files.len() - 1, error)
    }

    /// What file `file`'s `bext` and `iXML` chunks say: the take's first segment start
    /// (frame 0 of every file), its tempo and meter when the host gave them, the take
    /// folder's name (no host gives a plugin its project's name), the stream's name.
    fn file_metadata(&self, file: &TakeFile) -> FileMetadata {
        let first = self.segments[0];
        let known_meter = first.first.time_sig != (0, 0);
        FileMetadata {
            start_sample: first.start,
            track_name: file.stem_name.clone(),
            role: role_name(file.role).to_string(),
            take_name: self.name.clone(),
            take_number: take_number(&self.name),
            timeline: Some(
                match first.clock {
                    Clock::Host => "host",
                    Clock::Free => "free",
                }
                .to_string(),
            ),
            tempo_bpm: (first.first.tempo > 0.0).then_some(first.first.tempo),
            time_signature: known_meter.then_some(first.first.time_sig),
            start_bar_beat: bar_beat(first.first.beats, first.first.time_sig),
            // The take folder is named after the time the take was opened: every file of
            // the take says that time.
            originated: self
                .name
                .get(..19)
                .and_then(|s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H-%M-%S").ok()),
        }
    }

    /// Start the next segment at file frame `frame` (every file is padded to it), at
    /// timeline position `anchor`: a marker in every file.
    pub fn begin_segment(&mut self, frame: u64, anchor: i64, first: BlockStamp) {
        self.segments.push(TakeSegment {
            frame,
            clock: first.clock,
            start: anchor,
            first,
        });
        self.between_segments = None;
        let label = format!("Segment {}", self.segments.len());
        for f in &mut self.files.files {
            f.written_to = anchor;
            if let Some(sink) = f.sink.as_mut() {
                sink.add_cue(frame, &label);
            }
        }
    }

    /// `take.json` as of now.
    pub fn manifest(&self, complete: bool, ended_by: Option<EndReason>) -> Manifest {
        let rate = self.sample_rate.max(1) as f64;
        let length = self.frames();
        let first = self.segments[0].first;
        let known_meter = first.time_sig != (0, 0);
        let segments: Vec<Segment> = self
            .segments
            .iter()
            .map(|s| Segment {
                frame: s.frame,
                timeline: timeline(s.clock),
                start_sample: s.start,
                start_seconds: s.start as f64 / rate,
                start_beats: s.first.beats.is_finite().then_some(s.first.beats),
                start_bar_beat: bar_beat(s.first.beats, s.first.time_sig),
            })
            .collect();
        Manifest {
            format_version: FORMAT_VERSION,
            generator: format!("StemTap {}", env!("CARGO_PKG_VERSION")),
            take: self.name.clone(),
            complete,
            sample_rate: self.sample_rate,
            sample_format: self.format,
            timeline: segments[0].timeline,
            start_sample: self.start(),
            start_seconds: self.start() as f64 / rate,
            length_frames: length,
            length_seconds: length as f64 / rate,
            tempo_bpm: (first.tempo > 0.0).then_some(first.tempo),
            time_signature: known_meter.then_some([first.time_sig.0, first.time_sig.1]),
            start_beats: segments[0].start_beats,
            start_bar_beat: segments[0].start_bar_beat.clone(),
            ended_by,
            segments,
            files: self.files.files.iter().map(file_entry).collect(),
            errors: self
                .errors
                .iter()
                .map(ToString::to_string)
                .chain(self.lock_errors.iter().cloned())
                .collect(),
            recovered: false,
        }
    }

    /// Each file's stream and its dropped frames so far, for the GUI's per-take figures.
    pub fn streams(&self) -> Vec<TakeStream> {
        self.files
            .files
            .iter()
            .map(|f| TakeStream {
                id: f.stream,
                dropped_frames: f.dropped_frames,
            })
            .collect()
    }

    pub fn progress(&self) -> Option<TakeProgress> {
        Some(TakeProgress {
            name: self.name.clone(),
            folder: self.folder.clone()?,
            started: self.started,
            sample_rate: self.sample_rate,
            frames: self.frames(),
            files: self.files.files.len(),
            streams: self.streams(),
            finishing: self.ending_seen,
        })
    }

    pub fn summary(&self) -> Option<TakeSummary> {
        let files = &self.files.files;
        Some(TakeSummary {
            name: self.name.clone(),
            folder: self.folder.clone()?,
            length_frames: self.frames(),
            sample_rate: self.sample_rate,
            files: files.len(),
            streams: self.streams(),
            dropped_frames: files.iter().map(|f| f.dropped_frames).sum(),
            errors: files
                .iter()
                .map(|f| f.error_messages().len())
                .sum::<usize>()
                + self.errors.len(),
        })
    }
}

fn timeline(clock: Clock) -> Timeline {
    match clock {
        Clock::Host => Timeline::Host,
        Clock::Free => Timeline::Free,
    }
}

/// The role as take.json spells it.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Stem => "stem",
        Role::Multitrack => "multitrack",
        Role::Mix => "mix",
    }
}

/// The number in a take folder's name (`2026-11-24 21-04-13 Take 3 (2)` is take 3).
fn take_number(name: &str) -> Option<u32> {
    let (_, after) = name.rsplit_once(" Take ")?;
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn create_sink(
    spec: SinkSpec,
    metadata: FileMetadata,
    cues: impl Iterator<Item = u64>,
) -> Result<WavSink, WriterError> {
    let path = spec.take_dir.join(&spec.rel_base);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WriterError::FileFolder {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let mut sink = WavSink::create_with(spec, metadata, RF64_AFTER_BYTES)?;
    for (i, frame) in cues.enumerate() {
        sink.add_cue(frame, &format!("Segment {}", i + 2));
    }
    Ok(sink)
}

fn file_entry(f: &TakeFile) -> FileEntry {
    let sink = f.sink.as_ref();
    let peak = sink.map_or(0.0, |s| s.peak);
    let parts = sink.map(|s| s.parts.clone()).unwrap_or_default();
    FileEntry {
        path: f.path.clone(),
        continuation_paths: parts.into_iter().skip(1).collect(),
        stem_name: f.stem_name.clone(),
        role: f.role,
        channel_mode: f.channel_mode,
        channels: f.file_channels,
        dropped_frames: f.dropped_frames,
        silent_gap_frames: f.silent_gap_frames,
        peak,
        peak_dbfs: (peak > 0.0).then(|| 20.0 * peak.log10()),
        clipped_samples: sink.map_or(0, |s| s.clipped_samples),
        channels_identical: (f.channel_mode == ChannelMode::Auto && f.file_channels == 2)
            .then(|| sink.is_some_and(|s| s.channels_identical)),
        offset_samples: f.offset_samples,
        errors: f.error_messages(),
    }
}
