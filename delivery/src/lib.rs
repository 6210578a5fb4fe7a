//! StemTap's delivery library: reads a take folder (its `take.json` and WAV files) and
//! checks it the way a mix or mastering engineer would before accepting it. Used by the
//! `stemtap` command and the plugin window. No plugin framework; no audio thread: every
//! function here may allocate, block and do I/O.
//!
//! # Modules
//! [`take`] opens a take folder; [`read`] streams a WAV file in blocks of float frames;
//! [`analysis`] measures one file in one pass (peaks, loudness, DC, tails...); [`null_test`]
//! sums the stems against the mix; [`checks`] turns the measurements into verdicts;
//! [`report`] prints them; [`sheet`] writes the take sheet (`take.html`); [`pack`] makes a
//! take ready for one recipient as one zip (`stemtap pack`); [`repair`] makes a take a
//! crash left incomplete whole again (`stemtap repair`).

pub mod analysis;
pub mod checks;
pub mod null_test;
pub mod pack;
pub mod read;
pub mod repair;
pub mod report;
pub mod sheet;
pub mod take;

pub use checks::{check_take, Finding, Level, TakeReport};
pub use take::{Take, TakeError};
