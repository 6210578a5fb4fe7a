//! The editor, driven headlessly with egui_kittest through its accessibility tree: a private
//! session with several attached instances, the way a producer sees forty of them.

// The engine tests' rig: the editor is tested against a real session writing real takes.
#[path = "../../engine/tests/common/mod.rs"]
mod common;

use common::{playing, wait_for_takes, RATE};
use egui::Key;
use egui_kittest::kittest::Queryable;
use egui_kittest::Harness;
use parking_lot::{Mutex, RwLock};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use stemtap::editor::meters::{MeterState, CLIP_LEVEL, METER_FLOOR_DB, PEAK_HOLD_MS};
use stemtap::editor::storage::{
    bytes_per_second, check_folder, recording_seconds, stream_sample_rate, FolderCheck,
};
use stemtap::editor::this_instance::placement_hint;
use stemtap::editor::{units, Phase, SessionView};
use stemtap::engine::{
    Capture, EngineConfig, Role, SampleFormat, Session, SessionSettings, StreamHandle,
    StreamSettings,
};

/// Big enough that every section is on screen (off-screen widgets leave the tree).
const HARNESS_SIZE: (f32, f32) = (900.0, 1400.0);

/// A private session with `names.len()` attached instances; instance 0 is "this" one.
struct Fixture {
    session: Arc<Session>,
    handles: Vec<Arc<StreamHandle>>,
    settings: Vec<Arc<RwLock<StreamSettings>>>,
    /// Kept alive so the streams stay attached (the audio thread's end).
    captures: Vec<Capture>,
    dir: tempfile::TempDir,
    /// Folders "Open folder" was asked to open.
    opened: Arc<Mutex<Vec<PathBuf>>>,
}

impl Fixture {
    /// Instances named by the host (`None`: no track name).
    fn new(track_names: &[Option<&str>]) -> Fixture {
        Fixture::with_config(track_names, EngineConfig::default())
    }

    fn with_config(track_names: &[Option<&str>], config: EngineConfig) -> Fixture {
        let session = Arc::new(Session::new(config));
        let dir = tempfile::tempdir().unwrap();
        session.set_settings(SessionSettings {
            output_root: Some(dir.path().to_path_buf()),
            ..Default::default()
        });
        let mut fixture = Fixture {
            session,
            handles: Vec::new(),
            settings: Vec::new(),
            captures: Vec::new(),
            dir,
            opened: Arc::default(),
        };
        for name in track_names {
            let settings = Arc::new(RwLock::new(StreamSettings::default()));
            let handle = Arc::new(fixture.session.register(settings.clone()));
            handle.set_track_name(name.map(str::to_string));
            fixture.captures.push(handle.attach(RATE, 2, 512));
            fixture.handles.push(handle);
            fixture.settings.push(settings);
        }
        fixture
    }

    /// One more instance (named `name`, or by default) records a 25-block take of the
    /// constant `value`, 512-frame blocks at 48 kHz; returns the instance's stream and
    /// capture (keep them alive while it should stay in the session) and the finished take.
    #[allow(clippy::type_complexity)]
    fn record_constant_take(
        &self,
        name: Option<&str>,
        value: f32,
    ) -> (
        (StreamHandle, Capture),
        Vec<(PathBuf, stemtap::engine::manifest::Manifest)>,
    ) {
        let settings = Arc::new(RwLock::new(StreamSettings {
            name: name.map(Into::into),
            ..Default::default()
        }));
        let handle = self.session.register(settings);
        let mut capture = handle.attach(RATE, 2, 512);
        let block = vec![vec![value; 512]; 2];
        self.session.set_armed(true);
        for cycle in 0..30 {
            if cycle == 25 {
                self.session.set_armed(false);
            }
            capture.capture(&block, 512, &playing(cycle * 512), false);
            std::thread::sleep(Duration::from_micros(300));
        }
        ((handle, capture), wait_for_takes(self.dir.path(), 1))
    }

    fn view(&self) -> SessionView {
        let opened = self.opened.clone();
        SessionView::new(self.session.clone(), self.handles.first().cloned()).with_folder_opener(
            Box::new(move |path: &Path| {
                opened.lock().push(path.to_path_buf());
                Ok(())
            }),
        )
    }
}

fn harness<'a>(view: &'a mut SessionView, set_record: &'a dyn Fn(bool)) -> Harness<'a> {
    Harness::builder()
        .with_size(HARNESS_SIZE)
        .build_ui(move |ui| view.ui(ui, Some(set_record)))
}

/// Run frames until `done` holds (the session changes on other threads). The window may
/// still be settling when it does (a column that changed width relays the grid), so a frame
/// run that has not settled yet is no failure here; the deadline is.
fn run_until(harness: &mut Harness<'_>, what: &str, done: impl Fn(&Harness<'_>) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let _ = harness.try_run();
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn record_button_arms_the_session_and_tells_the_host() {
    let f = Fixture::new(&[Some("Drums"), Some("Bass"), Some("Keys")]);
    let mut view = f.view();
    let calls = RefCell::new(Vec::new());
    let set_record = |on: bool| calls.borrow_mut().push(on);
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("Idle");

    h.get_by_label("Record").click();
    h.run();
    assert!(f.session.armed());
    assert_eq!(
        *calls.borrow(),
        [true],
        "the host hears the record parameter"
    );
    h.get_by_label("Armed");
    h.get_by_label("waiting for audio from the host");

    h.get_by_label("Stop").click();
    h.run();
    assert!(!f.session.armed());
    assert_eq!(*calls.borrow(), [true, false]);
    h.get_by_label("Idle");
}

#[test]
fn arming_elsewhere_shows_here_and_the_trigger_mode_is_set_from_the_window() {
    let f = Fixture::new(&[Some("Drums"), Some("Bass")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.get_by_label("Follow transport").click();
    h.run();
    assert_eq!(
        f.session.settings().read().trigger,
        stemtap::engine::TriggerMode::FollowTransport
    );
    // Another instance (or host automation) arms the session.
    f.session.set_armed(true);
    h.run();
    h.get_by_label("Armed");
    h.get_by_label("waiting for the host to play");
    h.get_by_label("Stop");
}

#[test]
fn the_table_lists_every_instance_with_its_state() {
    let f = Fixture::new(&[Some("Drums"), Some("Bass"), None]);
    f.handles[1]
        .stats()
        .dropped_frames
        .store(77, std::sync::atomic::Ordering::Relaxed);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("Tracks in this session (3)");
    for name in ["Drums", "Bass", "Track 3"] {
        h.get_by_label(name);
        h.get_by_label(&format!("{name} meter"));
    }
    // Dropped frames are per take; before the first take there is no figure (the 77 frames
    // dropped while no take ran are on hover only).
    assert_eq!(h.query_all_by_label("–").count(), 3);
    assert!(h.query_by_label("77").is_none());
    assert_eq!(h.query_all_by_label("idle").count(), 3);
    assert_eq!(h.query_all_by_label("0%").count(), 3, "ring fill per row");
}

#[test]
fn an_instance_is_renamed_and_its_role_changed_from_the_table() {
    let f = Fixture::new(&[Some("Drums"), Some("Bass"), Some("Keys")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("Bass").click();
    h.run();
    h.get_by_label("Edit \"Bass\"");

    let field = h.get_by_label("Rename to");
    field.click();
    h.run();
    h.get_by_label("Rename to").type_text("Bass DI");
    h.run();
    h.key_press(Key::Enter);
    h.run();
    let names: Vec<String> = f.session.streams().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["Drums", "Bass DI", "Keys"]);
    assert_eq!(
        f.settings[1].read().name.as_deref(),
        Some("Bass DI"),
        "the instance's persisted settings changed"
    );

    // The role pickers of the selected row come after this instance's.
    h.get_all_by_label("Multitrack").last().unwrap().click();
    h.run();
    assert_eq!(f.settings[1].read().role, Role::Multitrack);
    assert_eq!(
        f.settings[0].read().role,
        Role::Stem,
        "this instance untouched"
    );

    // Back to the host's name.
    h.get_all_by_label("Use track name").last().unwrap().click();
    h.run();
    assert_eq!(f.settings[1].read().name, None);
    assert_eq!(f.session.streams()[1].name, "Bass");
}

#[test]
fn escape_gives_a_rename_up() {
    let f = Fixture::new(&[Some("Drums")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("Stem name").click();
    h.run();
    h.get_by_label("Stem name").type_text("Nope");
    h.run();
    h.key_press(Key::Escape);
    h.run();
    assert_eq!(f.settings[0].read().name, None);
    assert_eq!(f.session.streams()[0].name, "Drums");
}

#[test]
fn this_instance_name_role_and_placement_hint() {
    let f = Fixture::new(&[Some("Drum Bus"), Some("Bass")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("From the host's track name");
    h.get_by_label(placement_hint(Role::Stem));

    // Keyboard only: focus the field, type, Enter.
    h.get_by_label("Stem name").click();
    h.run();
    h.get_by_label("Stem name").type_text("Drums");
    h.key_press(Key::Enter);
    h.run();
    assert_eq!(f.settings[0].read().name.as_deref(), Some("Drums"));
    h.get_by_label("Your name (the host calls this track \"Drum Bus\")");

    // The host renames the track: the user's name still wins.
    f.handles[0].set_track_name(Some("Drum Group".into()));
    h.run();
    assert_eq!(f.session.streams()[0].name, "Drums");

    // "Use track name" drops the override.
    h.get_all_by_label("Use track name").next().unwrap().click();
    h.run();
    assert_eq!(f.settings[0].read().name, None);
    assert_eq!(f.session.streams()[0].name, "Drum Group");

    h.get_all_by_label("Multitrack").next().unwrap().click();
    h.run();
    assert_eq!(f.settings[0].read().role, Role::Multitrack);
    h.get_by_label(placement_hint(Role::Multitrack));
    // Multitracks are often mono sources on stereo tracks: Stereo becomes Auto.
    assert_eq!(
        f.settings[0].read().channel_mode,
        stemtap::engine::ChannelMode::Auto
    );
    h.get_all_by_label("Mix").next().unwrap().click();
    h.run();
    h.get_by_label(placement_hint(Role::Mix));
    // The mix goes out stereo.
    assert_eq!(
        f.settings[0].read().channel_mode,
        stemtap::engine::ChannelMode::Stereo
    );

    h.get_all_by_label("Mono").next().unwrap().click();
    h.run();
    assert_eq!(
        f.settings[0].read().channel_mode,
        stemtap::engine::ChannelMode::Mono
    );
}

/// A real failure: the output folder is a file, so the writer cannot create the take.
#[test]
fn errors_stay_in_a_banner_until_acknowledged() {
    let f = Fixture::new(&[]);
    let not_a_folder = f.dir.path().join("a file");
    std::fs::write(&not_a_folder, b"x").unwrap();
    f.session.set_settings(SessionSettings {
        output_root: Some(not_a_folder.clone()),
        ..Default::default()
    });
    let settings = Arc::new(RwLock::new(StreamSettings::default()));
    let handle = f.session.register(settings);
    let mut capture = handle.attach(RATE, 2, 512);
    let block = vec![vec![0.25f32; 512]; 2];
    f.session.set_armed(true);
    for cycle in 0..40 {
        let pos = cycle * 512;
        capture.capture(&block, 512, &playing(pos), false);
        std::thread::sleep(Duration::from_micros(300));
    }
    f.session.set_armed(false);
    for cycle in 40..45 {
        let pos = cycle * 512;
        capture.capture(&block, 512, &playing(pos), false);
    }

    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    run_until(&mut h, "the error banner", |h| {
        h.query_by_label_contains("Cannot create a take folder")
            .is_some()
    });
    h.get_by_label("1 problem needs your attention");
    h.get_by_label_contains("This is a file, not a folder");
    // Still there after more frames: only the user makes it go away.
    h.run_steps(10);
    h.get_by_label("1 problem needs your attention");

    h.get_by_label("Acknowledge").click();
    h.run();
    assert!(f.session.status().errors.is_empty());
    assert!(h.query_by_label_contains("problem needs").is_none());
    assert!(h
        .query_by_label_contains("Cannot create a take folder")
        .is_none());
    drop(capture);
}

/// Frames per block the dropout takes feed, and the ring they overrun (seconds of audio): a
/// ring this size gives the writer ~90 blocks of slack at the pace `feed` keeps, so only a
/// burst overruns it.
const BLOCK: usize = 512;
const DROPOUT_RING_SECONDS: f32 = 1.0;
/// One burst: three rings' worth of blocks in one `process()` call.
const BURST_CYCLES: i64 = 3 * (RATE as i64 * DROPOUT_RING_SECONDS as i64) / BLOCK as i64;

impl Fixture {
    /// Instances with rings small enough that `burst` overruns one.
    fn for_dropouts(track_names: &[Option<&str>]) -> Fixture {
        Fixture::with_config(
            track_names,
            EngineConfig {
                ring_seconds: DROPOUT_RING_SECONDS,
                ..Default::default()
            },
        )
    }

    /// One block per instance (except `skip`) per cycle, at about ten times real time:
    /// slow enough that the writer keeps up.
    fn feed(&mut self, cycles: std::ops::Range<i64>, skip: Option<usize>) {
        let block = vec![vec![0.25f32; BLOCK]; 2];
        for cycle in cycles {
            let pos = cycle * BLOCK as i64;
            for (i, capture) in self.captures.iter_mut().enumerate() {
                if skip != Some(i) {
                    capture.capture(&block, BLOCK, &playing(pos), false);
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Record from `cycle` on until instance `victim` has overrun its ring in this take
    /// (it gets `BURST_CYCLES` blocks in one call; the others keep their pace), and the
    /// writer has published it. Returns the next cycle and the frames the victim dropped.
    fn record_through_dropout(&mut self, cycle: i64, victim: usize) -> (i64, u64) {
        let victim_id = self.handles[victim].id();
        self.session.set_armed(true);
        self.feed(cycle..cycle + 20, None);
        let burst_at = cycle + 20;
        let frames = BURST_CYCLES as usize * BLOCK;
        let burst = vec![vec![0.25f32; frames]; 2];
        let pos = burst_at * BLOCK as i64;
        self.captures[victim].capture(&burst, frames, &playing(pos), false);
        self.feed(burst_at..burst_at + BURST_CYCLES, Some(victim));
        let mut next = burst_at + BURST_CYCLES;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.feed(next..next + 10, None);
            next += 10;
            let dropped = self
                .session
                .status()
                .current
                .and_then(|t| t.stream(victim_id).map(|s| s.dropped_frames))
                .unwrap_or(0);
            if dropped > 0 {
                return (next, dropped);
            }
            assert!(Instant::now() < deadline, "the dropout never showed");
        }
    }

    /// Disarm at `cycle` and wait until the writer has finished the take.
    fn finish_take(&mut self, cycle: i64) -> i64 {
        let takes = self.session.status().recent.len();
        self.session.set_armed(false);
        self.feed(cycle..cycle + 5, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.session.status().recent.len() == takes {
            assert!(Instant::now() < deadline, "the take never finished");
            std::thread::sleep(Duration::from_millis(10));
        }
        cycle + 5
    }
}

/// The tracks table's row of the stream named `name`: the vertical centre of its name.
fn row_y(h: &Harness<'_>, name: &str) -> f32 {
    h.get_by_label(name).rect().center().y
}

#[test]
fn dropped_frames_are_per_take_while_recording_and_after() {
    let mut f = Fixture::for_dropouts(&[Some("Drums"), Some("Keys")]);
    // Dropped while no take ran: the table must not count these against a take.
    f.handles[1]
        .stats()
        .dropped_frames
        .store(77, std::sync::atomic::Ordering::Relaxed);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();

    let (cycle, dropped) = f.record_through_dropout(0, 1);
    h.run();
    h.get_by_label("Recording");
    let cell_y = row_y(&h, &dropped.to_string());
    assert!((cell_y - row_y(&h, "Keys")).abs() < 4.0, "in Keys's row");
    assert_eq!(
        h.query_all_by_label("0").count(),
        1,
        "Drums dropped nothing"
    );
    assert!(h.query_by_label(&(dropped + 77).to_string()).is_none());
    h.get_by_label(&format!(
        "Dropout: Keys lost {dropped} frames in this take (written as silence). The computer \
         or disk cannot keep up."
    ));
    // Acknowledged, the dropout leaves the banner but not the table.
    h.get_by_label("Acknowledge").click();
    h.run();
    assert!(h.query_by_label_contains("Dropout:").is_none());
    h.get_by_label(&dropped.to_string());

    // Between takes the table keeps the last take's figure, which take.json agrees with.
    let cycle = f.finish_take(cycle);
    h.run();
    h.get_by_label("Idle");
    h.get_by_label(&dropped.to_string());
    let take = f.session.status().recent.last().unwrap().clone();
    let manifest: stemtap::engine::manifest::Manifest =
        serde_json::from_slice(&std::fs::read(take.folder.join("take.json")).unwrap()).unwrap();
    let keys = manifest
        .files
        .iter()
        .find(|m| m.stem_name == "Keys")
        .unwrap();
    assert_eq!(keys.dropped_frames, dropped);

    // A clean take starts from zero again.
    f.session.set_armed(true);
    f.feed(cycle..cycle + 30, None);
    f.finish_take(cycle + 30);
    h.run();
    assert_eq!(h.query_all_by_label("0").count(), 2);
    assert!(h.query_by_label(&dropped.to_string()).is_none());
}

/// A real error (a dropout the writer reports when the take ends) for "Keys", which is then
/// renamed "Bass": a prefix of "Bass DI" and part of "Sub Bass". Matching rows by name
/// would put it in the wrong row or none; it belongs to the stream, whatever its name.
#[test]
fn an_error_stays_in_its_streams_row_across_renames() {
    let mut f = Fixture::for_dropouts(&[Some("Bass DI"), Some("Keys"), Some("Sub Bass")]);
    let (cycle, dropped) = f.record_through_dropout(0, 1);
    f.finish_take(cycle);
    f.session
        .rename_stream(f.handles[1].id(), Some("Bass".into()));
    let take = f.session.status().recent.last().unwrap().name.clone();

    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    let message = format!("{dropped} frames were dropped (written as silence; see take.json).");
    // The banner words it under the stream's name now.
    h.get_by_label(&format!("{take}: Bass: {message}"));
    h.get_by_label("1 problem needs your attention");
    // The table shows it in one row: Bass's (shortened, the whole line on hover).
    let short: String = message.chars().take(40).collect();
    let cells: Vec<f32> = h
        .query_all_by_label(&short)
        .map(|n| n.rect().center().y)
        .collect();
    assert_eq!(cells.len(), 1, "one row shows the problem");
    let nearest = ["Bass DI", "Bass", "Sub Bass"]
        .into_iter()
        .min_by(|a, b| {
            let da = (row_y(&h, a) - cells[0]).abs();
            let db = (row_y(&h, b) - cells[0]).abs();
            da.total_cmp(&db)
        })
        .unwrap();
    assert_eq!(nearest, "Bass");
}

#[test]
fn keys_the_host_forwards_reach_the_name_field_only_while_it_is_edited() {
    use nice_plug::prelude::{Modifiers, VirtualKeyCode};
    let none = Modifiers::empty();
    let f = Fixture::new(&[Some("Drums")]);
    let mut view = f.view();
    let keys = view.host_keys();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    // Nothing is being edited: the space bar stays the host's (play/stop).
    assert!(!keys.offer(VirtualKeyCode::Space, true, none));

    h.get_by_label("Stem name").click();
    h.run();
    assert!(keys.text_editing());
    h.get_by_label("Stem name").type_text("Lead");
    h.run();
    // A host that keeps Space and Backspace for itself forwards them through the view.
    assert!(keys.offer(VirtualKeyCode::Space, true, none));
    assert!(keys.offer(VirtualKeyCode::Space, false, none));
    h.run();
    h.get_by_label("Stem name").type_text("Voxx");
    h.run();
    assert!(keys.offer(VirtualKeyCode::Backspace, true, none));
    assert!(keys.offer(VirtualKeyCode::Backspace, false, none));
    assert!(
        !keys.offer(VirtualKeyCode::F5, true, none),
        "keys a text field has no use for stay the host's"
    );
    h.run();
    assert!(keys.offer(VirtualKeyCode::Return, true, none));
    h.run();
    assert_eq!(f.settings[0].read().name.as_deref(), Some("Lead Vox"));

    // The edit is over: the space bar is the host's again.
    assert!(!keys.text_editing());
    assert!(!keys.offer(VirtualKeyCode::Space, true, none));

    // Escape from the host gives an edit up, and ends it.
    h.get_by_label("Stem name").click();
    h.run();
    h.get_by_label("Stem name").type_text("Nope");
    h.run();
    assert!(keys.offer(VirtualKeyCode::Escape, true, none));
    h.run();
    assert_eq!(f.settings[0].read().name.as_deref(), Some("Lead Vox"));
    assert!(!keys.text_editing());
    assert!(!keys.offer(VirtualKeyCode::Space, true, none));
}

#[test]
fn recent_takes_are_listed_and_open_in_the_file_manager() {
    let f = Fixture::new(&[]);
    let (instance, takes) = f.record_constant_take(Some("Kick"), 0.5);

    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    run_until(&mut h, "the take in the list", |h| {
        h.query_by_label("Open folder").is_some()
    });
    let take_name = takes[0]
        .0
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    h.get_by_label(&take_name);
    h.get_by_label(&units::frames_clock(25 * 512, RATE));
    h.get_by_label("none");
    h.get_by_label("Open folder").click();
    h.run();
    assert_eq!(*f.opened.lock(), [takes[0].0.clone()]);

    // The take is checked in the background: a constant 0.5 is all DC, cut tail and
    // missing attack, so "warnings", and its take sheet is in the folder.
    run_until(&mut h, "the check's verdict", |h| {
        h.query_by_label("warnings").is_some()
    });
    assert!(takes[0].0.join("take.html").is_file());
    std::fs::remove_file(takes[0].0.join("take.html")).unwrap();
    h.get_by_label("Check again").click();
    run_until(&mut h, "the check run again", |_| {
        takes[0].0.join("take.html").is_file()
    });
    run_until(&mut h, "the verdict again", |h| {
        h.query_by_label("warnings").is_some()
    });

    // Packed for a mastering engineer, in the background: a zip beside the take folder.
    h.get_by_label("Pack for...").click();
    h.run();
    h.get_by_label("Mastering").click();
    run_until(&mut h, "the pack", |h| {
        h.query_by_label("packed for Mastering").is_some()
            || h.query_by_label("Mastering pack failed").is_some()
    });
    h.get_by_label("packed for Mastering");
    let zips: Vec<_> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "zip"))
        .collect();
    assert_eq!(zips.len(), 1, "{zips:?}");
    drop(instance);
}

#[test]
fn the_output_folder_is_validated_and_edited() {
    let f = Fixture::new(&[Some("Drums")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label("Folder is ready.");
    h.get_by_label_contains(" of recording");
    h.get_by_label("1 track at 384.0 kB/s (32-bit float)");

    // Type a folder that does not exist yet.
    let missing = f.dir.path().join("new").join("takes");
    h.get_by_label("Folder").click();
    h.run();
    h.key_press_modifiers(egui::Modifiers::COMMAND, Key::A);
    h.get_by_label("Folder")
        .type_text(missing.to_str().unwrap());
    h.key_press(Key::Enter);
    h.run();
    assert_eq!(
        f.session.settings().read().output_root.as_deref(),
        Some(missing.as_path())
    );
    h.get_by_label("Folder does not exist yet; the first take creates it.");

    // A file in the way.
    let file = f.dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    f.session.set_settings(SessionSettings {
        output_root: Some(file),
        ..Default::default()
    });
    h.run();
    h.get_by_label("This is a file, not a folder: takes cannot go here.");

    h.get_by_label("Default").click();
    h.run();
    assert_eq!(f.session.settings().read().output_root, None);

    h.get_by_label("Open").click();
    h.run();
    assert_eq!(f.opened.lock().len(), 1);

    h.get_by_label("16-bit (dithered)").click();
    h.run();
    assert_eq!(f.session.settings().read().format, SampleFormat::Int16);
}

/// The environment override is process-wide, so it is tested in a child process.
#[test]
fn the_environment_override_is_shown() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "env_override_child", "--ignored", "--nocapture"])
        .env("STEMTAP_OUTPUT_DIR", "/tmp/stemtap-env-override")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "run by the_environment_override_is_shown with STEMTAP_OUTPUT_DIR set"]
fn env_override_child() {
    let f = Fixture::new(&[Some("Drums")]);
    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    h.run();
    h.get_by_label(
        "STEMTAP_OUTPUT_DIR is set: takes go to /tmp/stemtap-env-override (the folder above is ignored).",
    );
}

/// Readable at 200 %, and usable in a narrow window (the sections stack).
#[test]
fn renders_at_double_scale_and_in_a_narrow_window() {
    let f = Fixture::new(&[Some("Drums"), Some("Bass")]);
    for (ppp, width) in [(2.0, 900.0), (1.0, 560.0)] {
        let mut view = f.view();
        let mut h = Harness::builder()
            .with_size((width, HARNESS_SIZE.1))
            .with_pixels_per_point(ppp)
            .build_ui(|ui| view.ui(ui, None));
        h.run();
        h.get_by_label("Record");
        h.get_by_label("This track");
        h.get_by_label("Output");
        h.get_by_label("Bass");
        let record = h.get_by_label("Record").rect();
        assert!(record.right() <= width, "the Record button fits");
    }
}

#[test]
fn the_window_keeps_repainting_while_open() {
    let f = Fixture::new(&[Some("Drums")]);
    let mut view = f.view();
    let mut h = Harness::new_ui(|ui| view.ui(ui, None));
    h.run();
    let delay = h.output().viewport_output[&egui::ViewportId::ROOT].repaint_delay;
    assert!(delay <= Duration::from_millis(40), "{delay:?}");
}

#[test]
fn meters_decay_hold_and_latch_clips() {
    let t0 = Instant::now();
    let ms = |n: u64| t0 + Duration::from_millis(n);
    let mut m = MeterState::default();
    // The first reading may hold peaks from before the window opened: ignored.
    m.update([1.5, 1.5], t0);
    assert_eq!(m.channels[0].level_db, METER_FLOOR_DB);
    assert!(!m.any_clipped());

    m.update([0.5, 0.0], ms(33));
    let half_db = 20.0 * 0.5f32.log10();
    assert!((m.channels[0].level_db - half_db).abs() < 1e-4);
    assert_eq!(m.channels[1].level_db, METER_FLOOR_DB);

    // Silence: the bar falls, the hold mark stays for PEAK_HOLD_MS.
    m.update([0.0, 0.0], ms(533));
    assert!(m.channels[0].level_db < half_db - 10.0);
    assert!((m.channels[0].hold_db - half_db).abs() < 1e-4);
    m.update([0.0, 0.0], ms(33 + PEAK_HOLD_MS + 400));
    assert!(m.channels[0].hold_db < half_db);

    m.update([0.0, CLIP_LEVEL], ms(33 + PEAK_HOLD_MS + 433));
    assert!(m.channels[1].clipped && !m.channels[0].clipped);
    m.update([0.0, 0.0], ms(33 + PEAK_HOLD_MS + 5000));
    m.update([0.0, 0.0], ms(33 + PEAK_HOLD_MS + 5033));
    assert!(m.any_clipped(), "clips latch until cleared");
    m.reset_clip();
    assert!(!m.any_clipped());
}

#[test]
fn recording_time_follows_track_count_and_format() {
    let f = Fixture::new(&[Some("A"), Some("B"), Some("C")]);
    let streams = f.session.streams();
    assert_eq!(stream_sample_rate(&streams[0]), Some(RATE));
    // 3 stereo streams at 48 kHz, 4 bytes per sample.
    let rate = bytes_per_second(&streams, SampleFormat::Float32);
    assert_eq!(rate, 3 * 48_000 * 2 * 4);
    assert_eq!(
        bytes_per_second(&streams, SampleFormat::Int16),
        3 * 48_000 * 2 * 2
    );
    f.session.update_stream(streams[0].id, |s| {
        s.channel_mode = stemtap::engine::ChannelMode::Mono
    });
    let streams = f.session.streams();
    assert_eq!(
        bytes_per_second(&streams, SampleFormat::Float32),
        5 * 48_000 * 4
    );
    streams[2]
        .stats
        .excluded
        .store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        bytes_per_second(&streams, SampleFormat::Float32),
        3 * 48_000 * 4
    );
    assert_eq!(recording_seconds(3 * 48_000 * 4 * 60, 3 * 48_000 * 4), 60.0);
    assert!(recording_seconds(1, 0).is_infinite());
    assert_eq!(units::rough_duration(3725.0), "1 h 2 min");
    assert_eq!(units::rough_duration(2.0 * 86_400.0 + 7200.0), "2 d 2 h");
    assert_eq!(units::rough_duration(30.0), "under a minute");
    assert_eq!(units::bytes(1_500_000_000), "1.5 GB");
    assert_eq!(units::clock(83.45), "1:23.4");
    assert_eq!(units::clock(3723.0), "1:02:03");
}

#[test]
fn folder_checks() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(check_folder(dir.path()), FolderCheck::Ready);
    assert_eq!(
        check_folder(&dir.path().join("a/b")),
        FolderCheck::WillBeCreated
    );
    let file = dir.path().join("f");
    std::fs::write(&file, b"").unwrap();
    assert_eq!(check_folder(&file), FolderCheck::NotAFolder);
    assert!(matches!(
        check_folder(&file.join("sub")),
        FolderCheck::CannotCreate(_)
    ));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "the probe file is gone"
    );
}

#[test]
fn phases() {
    assert_eq!(Phase::of(false, false, false), Phase::Idle);
    assert_eq!(Phase::of(true, false, false), Phase::Armed);
    assert_eq!(Phase::of(true, true, false), Phase::Recording);
    assert_eq!(Phase::of(false, true, false), Phase::Finishing);
    // Follow modes: still armed while the take that just ended is being closed.
    assert_eq!(Phase::of(true, true, true), Phase::Finishing);
}

/// Rendered pictures, compared with `plugin/tests/snapshots/` (run with
/// `--features gui-snapshots`; after looking at a changed picture, accept it with
/// `UPDATE_SNAPSHOTS=1`). Free space differs between machines, so it is masked.
#[cfg(feature = "gui-snapshots")]
mod snapshots {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Window size the editor opens with, in logical pixels.
    const WINDOW: (f32, f32) = (820.0, 600.0);

    /// Width masked over the free-space figure, in logical pixels: more than any machine's
    /// text takes.
    const FREE_SPACE_MASK_WIDTH: f32 = 320.0;

    /// Four named instances and a fixed (absent) output folder, so every pixel but free
    /// space is the same on every machine.
    fn fixed_fixture() -> Fixture {
        let f = Fixture::new(&[Some("Drum Bus"), Some("Bass"), Some("Keys"), Some("Master")]);
        f.session.set_settings(SessionSettings {
            output_root: Some("/stemtap-snapshot/takes".into()),
            ..Default::default()
        });
        f.session
            .update_stream(f.handles[3].id(), |s| s.role = Role::Mix);
        f
    }

    fn render(name: &str, f: &Fixture, size: (f32, f32), ppp: f32, act: impl Fn(&mut Harness)) {
        let mut view = f.view();
        let mut h = Harness::builder()
            .with_size(size)
            .with_pixels_per_point(ppp)
            .wgpu()
            .build_ui(|ui| view.ui(ui, None));
        h.run();
        act(&mut h);
        h.run();
        if let Some(free) = h.query_by_label_contains(" of recording") {
            // The free-space bar's width follows its text, which differs between
            // machines: mask a fixed width from where it starts.
            let rect = free.rect();
            let width = rect.width().max(FREE_SPACE_MASK_WIDTH);
            h.mask(egui::Rect::from_min_size(
                rect.min,
                egui::vec2(width, rect.height()),
            ));
        }
        h.snapshot(name);
    }

    #[test]
    fn idle() {
        let f = fixed_fixture();
        render("editor_idle", &f, WINDOW, 1.0, |_| {});
    }

    #[test]
    fn armed_with_a_row_being_edited() {
        let f = fixed_fixture();
        f.session
            .set_trigger(stemtap::engine::TriggerMode::FollowTransport);
        f.session.set_armed(true);
        render(
            "editor_armed_editing_a_row",
            &f,
            (WINDOW.0, 900.0),
            1.0,
            |h| {
                h.get_by_label("Bass").click();
            },
        );
    }

    #[test]
    fn problems_are_impossible_to_miss() {
        let f = fixed_fixture();
        f.session.report_error(
            None,
            "2026-11-24 21-04-13 Take 3: 512 frames were dropped (written as silence; see take.json).",
        );
        f.session.report_error(
            Some(f.handles[1].id()),
            "cannot write Stems/Bass.wav: No space left on device",
        );
        f.handles[2]
            .stats()
            .dropped_frames
            .store(512, std::sync::atomic::Ordering::Relaxed);
        render("editor_problems", &f, WINDOW, 1.0, |_| {});
    }

    #[test]
    fn narrow_at_double_scale() {
        let f = fixed_fixture();
        render("editor_narrow_2x", &f, (560.0, 700.0), 2.0, |_| {});
    }

    struct StopOnDrop<'a>(&'a AtomicBool);

    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// Two channels of a tone per track, at a level per track that swells slowly, so the
    /// meters in the screenshot differ.
    fn demo_block(track: usize, pos: i64) -> Vec<Vec<f32>> {
        let level = [0.7, 0.5, 0.3, 0.45, 0.9][track % 5];
        (0..2)
            .map(|c| {
                (0..512)
                    .map(|i| {
                        let x = (pos + i) as f32 / RATE as f32;
                        let swell = 0.6 + 0.4 * (x * (1.0 + track as f32)).sin();
                        let hz = 220.0 * (track + c + 1) as f32;
                        level * swell * (x * hz * std::f32::consts::TAU).sin()
                    })
                    .collect()
            })
            .collect()
    }

    /// Writes `docs/gui.png` for the README: a take being recorded from five live tracks,
    /// with one finished take in the list. Not compared (it shows a clock and live meters).
    #[test]
    #[ignore = "writes docs/gui.png; run by hand after GUI changes"]
    fn readme_screenshot() {
        let root = std::env::temp_dir().join("stemtap-readme/Music/StemTap");
        let _ = std::fs::remove_dir_all(&root);
        let mut f = Fixture::new(&[
            Some("Drums"),
            Some("Bass"),
            Some("Keys"),
            Some("Vocals"),
            Some("Mix Bus"),
        ]);
        f.session.set_settings(SessionSettings {
            output_root: Some(root.clone()),
            ..Default::default()
        });
        f.session
            .update_stream(f.handles[4].id(), |s| s.role = Role::Mix);
        f.session
            .update_stream(f.handles[3].id(), |s| s.role = Role::Multitrack);
        let stop = AtomicBool::new(false);
        let captures = std::mem::take(&mut f.captures);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let mut captures = captures;
                let start = Instant::now();
                let mut pos = 0i64;
                while !stop.load(Ordering::Relaxed) {
                    for (t, capture) in captures.iter_mut().enumerate() {
                        let block = demo_block(t, pos);
                        capture.capture(&block, 512, &playing(pos), false);
                    }
                    pos += 512;
                    let due = start + Duration::from_secs_f64(pos as f64 / RATE as f64);
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            });
            // Stops the feeder even if something below panics (else the scope never ends).
            let _stop = StopOnDrop(&stop);
            // One finished take, then the one being recorded.
            f.session.set_armed(true);
            std::thread::sleep(Duration::from_millis(1500));
            f.session.set_armed(false);
            wait_for_takes(&root, 1);
            f.session.set_armed(true);
            let mut view = f.view();
            let mut h = Harness::builder()
                .with_size(WINDOW)
                .wgpu()
                .build_ui(|ui| view.ui(ui, None));
            let until = Instant::now() + Duration::from_millis(3200);
            while Instant::now() < until {
                h.step();
                std::thread::sleep(Duration::from_millis(33));
            }
            let image = h.render().expect("render");
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
            std::fs::create_dir_all(&docs).unwrap();
            image.save(docs.join("gui.png")).unwrap();
            drop(h);
            f.session.set_armed(false);
        });
        let _ = std::fs::remove_dir_all(root.parent().unwrap().parent().unwrap());
    }
}

/// A take a crash left incomplete in the output folder: the window offers to repair it,
/// and the repair makes it whole (complete, recovered) in the background.
#[test]
fn incomplete_takes_are_offered_for_repair() {
    let f = Fixture::new(&[]);
    let (instance, takes) = f.record_constant_take(None, 0.25);
    // What a crash leaves: take.json still says the take is being written.
    let manifest_path = takes[0].0.join("take.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["complete"] = serde_json::Value::Bool(false);
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();

    let mut view = f.view();
    let set_record = |_: bool| {};
    let mut h = harness(&mut view, &set_record);
    run_until(&mut h, "the offer to repair", |h| {
        h.query_by_label_contains("1 take was left incomplete")
            .is_some()
    });
    h.get_by_label("Repair").click();
    run_until(&mut h, "the repair", |h| {
        h.query_by_label_contains("left incomplete").is_none()
            && h.query_by_label_contains("Repairing").is_none()
    });
    let repaired: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    assert_eq!(repaired["complete"], true);
    assert_eq!(repaired["recovered"], true);
    assert_eq!(repaired["length_frames"], 25 * 512);
    drop(instance);
}
