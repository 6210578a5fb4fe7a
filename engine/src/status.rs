//! What the writer reports for the GUI: the current take, recent takes, and errors that
//! stay until the user acknowledges them.
//!
//! Everything here is plain data, copied out under the session's status lock
//! ([`Session::status`](crate::Session::status)); nothing here is touched by the audio thread.

use crate::shared::StreamId;
use std::path::PathBuf;
use std::time::Instant;

/// Most recent takes kept for the GUI's list.
pub const RECENT_TAKES: usize = 16;

/// Errors kept for the banner (oldest dropped first).
pub const MAX_ERRORS: usize = 64;

#[derive(Debug, Clone, Default)]
pub struct SessionStatus {
    /// The take being written, if any.
    pub current: Option<TakeProgress>,
    /// Finished takes, newest last.
    pub recent: Vec<TakeSummary>,
    /// Problems the user has not acknowledged yet (write errors, dropouts, bad folders).
    pub errors: Vec<SessionError>,
}

impl SessionStatus {
    pub(crate) fn push_error(&mut self, error: SessionError) {
        if self.errors.len() >= MAX_ERRORS {
            self.errors.remove(0);
        }
        self.errors.push(error);
    }

    /// Put `error` in the list, or replace the one pushed with the same `key` (a running
    /// count, say) so that it stays one line.
    pub(crate) fn push_or_update_error(&mut self, key: &'static str, mut error: SessionError) {
        error.key = Some(key);
        match self.errors.iter_mut().find(|e| e.key == Some(key)) {
            Some(existing) => *existing = error,
            None => self.push_error(error),
        }
    }

    pub(crate) fn push_take(&mut self, take: TakeSummary) {
        if self.recent.len() >= RECENT_TAKES {
            self.recent.remove(0);
        }
        self.recent.push(take);
    }

    /// The newest unacknowledged error about stream `id`, if any.
    pub fn stream_error(&self, id: StreamId) -> Option<&SessionError> {
        self.errors
            .iter()
            .rev()
            .find(|e| e.stream.as_ref().is_some_and(|s| s.id == id))
    }
}

/// One problem for the banner. It carries the stream and take it concerns as data, not as
/// text, so the GUI puts it in the right row whatever the streams are called now.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionError {
    /// What happened, without the stream's or the take's name (the GUI adds those).
    pub message: String,
    /// The stream it concerns; `None` for session-wide problems (a folder, the writer).
    pub stream: Option<ErrorStream>,
    /// The take it happened in, when it concerns one that has a name.
    pub take: Option<String>,
    /// Set for problems kept as one line that is updated in place (see
    /// `push_or_update_error`).
    pub key: Option<&'static str>,
}

/// The stream an error concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorStream {
    /// Stable for the life of the process, across renames: what the GUI matches rows on.
    pub id: StreamId,
    /// The stream's name when the error happened, shown once the stream is gone.
    pub name: String,
}

impl SessionError {
    /// A problem that concerns no particular stream or take.
    pub fn session(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            stream: None,
            take: None,
            key: None,
        }
    }

    /// A problem with stream `id` (then called `name`).
    pub fn stream(id: StreamId, name: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            stream: Some(ErrorStream {
                id,
                name: name.into(),
            }),
            take: None,
            key: None,
        }
    }

    /// The same problem, placed in take `take`.
    pub fn in_take(mut self, take: impl Into<String>) -> Self {
        let take = take.into();
        self.take = (!take.is_empty()).then_some(take);
        self
    }

    /// The whole problem in one line: `<take>: <stream>: <message>`. `current_name` is the
    /// stream's name now, when it still exists (the name it had is used otherwise).
    pub fn describe(&self, current_name: Option<&str>) -> String {
        let stream = self
            .stream
            .as_ref()
            .map(|s| current_name.unwrap_or(&s.name));
        self.take
            .as_deref()
            .into_iter()
            .chain(stream)
            .chain([self.message.as_str()])
            .collect::<Vec<_>>()
            .join(": ")
    }
}

/// One stream's file in a take, as the tracks table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TakeStream {
    pub id: StreamId,
    /// Frames of this take written as silence because the stream's ring overflowed (a
    /// dropout): the file's `dropped_frames` in `take.json`.
    pub dropped_frames: u64,
}

#[derive(Debug, Clone)]
pub struct TakeProgress {
    pub name: String,
    pub folder: PathBuf,
    pub started: Instant,
    pub sample_rate: u32,
    /// Frames written so far (of the longest file).
    pub frames: u64,
    pub files: usize,
    /// One entry per file so far (a stream that joins late gets one when it joins).
    pub streams: Vec<TakeStream>,
    /// The take's end has been seen (disarm, transport stop, a jump); the writer is waiting
    /// for every stream to reach it before it closes the files.
    pub finishing: bool,
}

impl TakeProgress {
    /// Stream `id`'s file in this take, if it has one.
    pub fn stream(&self, id: StreamId) -> Option<&TakeStream> {
        self.streams.iter().find(|s| s.id == id)
    }
}

#[derive(Debug, Clone)]
pub struct TakeSummary {
    pub name: String,
    pub folder: PathBuf,
    pub length_frames: u64,
    pub sample_rate: u32,
    pub files: usize,
    /// One entry per file, in the take's file order.
    pub streams: Vec<TakeStream>,
    pub dropped_frames: u64,
    pub errors: usize,
}

impl TakeSummary {
    /// Stream `id`'s file in this take, if it had one.
    pub fn stream(&self, id: StreamId) -> Option<&TakeStream> {
        self.streams.iter().find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_reads_take_stream_message_and_follows_renames() {
        let e = SessionError::stream(7, "Keys", "cannot write").in_take("Take 3");
        assert_eq!(e.describe(None), "Take 3: Keys: cannot write");
        assert_eq!(e.describe(Some("Bass")), "Take 3: Bass: cannot write");
        assert_eq!(SessionError::session("disk").describe(None), "disk");
        assert_eq!(
            SessionError::session("disk").in_take("").take,
            None,
            "a take without a name (its folder failed) is no take to show"
        );
    }

    #[test]
    fn the_newest_error_of_a_stream_is_found_by_id() {
        let mut status = SessionStatus::default();
        status.push_error(SessionError::stream(1, "Bass", "old"));
        status.push_error(SessionError::stream(2, "Bass DI", "other"));
        status.push_error(SessionError::stream(1, "Bass", "new"));
        status.push_error(SessionError::session("folder"));
        assert_eq!(status.stream_error(1).unwrap().message, "new");
        assert_eq!(status.stream_error(2).unwrap().message, "other");
        assert!(status.stream_error(3).is_none());
    }
}
