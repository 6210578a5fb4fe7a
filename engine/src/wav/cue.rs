//! Cue points: the markers of a take (transport start/stop, loop wrap, locate) as a RIFF
//! `cue ` chunk and a `LIST`/`adtl` chunk of labels, which DAWs show as markers. Both go
//! after the data chunk when a part is finished, so nothing changes while samples are
//! written and the crash-safe checkpoints stay as they are. Writer thread only; pure data,
//! no I/O.

/// One marker of the stream.
#[derive(Debug, Clone, PartialEq)]
struct Cue {
    /// Frames from the start of the whole stream (across continuation parts).
    frame: u64,
    /// What the marker says; NUL bytes removed, since a NUL ends the label in the file.
    label: String,
}

/// The markers not yet written into a part, in the order they were added.
#[derive(Debug, Default)]
pub(super) struct Cues {
    /// Stream-relative markers waiting for the part that holds their frame to finish.
    pending: Vec<Cue>,
}

impl Cues {
    /// Remember a marker at stream frame `frame`.
    pub(super) fn add(&mut self, frame: u64, label: &str) {
        self.pending.push(Cue {
            frame,
            label: label.replace('\0', ""),
        });
    }

    /// The chunks for the part holding stream frames `start..start + frames`, and forget
    /// the markers they carry. A marker exactly at the part's end belongs to the next part
    /// (its first frame) unless `last` says no part follows, in which case every remaining
    /// marker goes in this one, at most at its end. A marker before `start` (added after
    /// its part was finished) goes at the part's first frame rather than being lost.
    /// Empty when the part has no markers, so such a file has no cue chunk at all.
    pub(super) fn take_chunks(&mut self, start: u64, frames: u64, last: bool) -> Vec<u8> {
        let end = start + frames;
        let (mut mine, later): (Vec<Cue>, Vec<Cue>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| last || c.frame < end);
        self.pending = later;
        // Stable: markers at the same frame keep the order they were added in.
        mine.sort_by_key(|c| c.frame);
        let points: Vec<(u32, &str)> = mine
            .iter()
            .map(|c| {
                let at = c.frame.clamp(start, end) - start;
                // A part holds fewer than 2^32 frames (its data chunk is below 4 GiB).
                (u32::try_from(at).unwrap_or(u32::MAX), c.label.as_str())
            })
            .collect();
        cue_chunks(&points)
    }
}

/// A `cue ` chunk with one point per `(frame, label)` (ids 1..=n in order, all in the data
/// chunk), then a `LIST` chunk of type `adtl` with one `labl` per point. Empty for no
/// points. Every chunk is padded to an even length as RIFF requires. Shared with the
/// delivery tools' repair, so a repaired file's markers are the recorded ones, byte for byte.
pub fn cue_chunks(points: &[(u32, &str)]) -> Vec<u8> {
    if points.is_empty() {
        return Vec::new();
    }
    let mut cue = Vec::with_capacity(4 + 24 * points.len());
    cue.extend((points.len() as u32).to_le_bytes());
    for (id, &(frame, _)) in (1u32..).zip(points) {
        cue.extend(id.to_le_bytes());
        // dwPosition: the sample frame in play order (one data chunk, so the same frame).
        cue.extend(frame.to_le_bytes());
        cue.extend(b"data");
        // dwChunkStart, dwBlockStart: 0 for a file with a single data chunk.
        cue.extend(0u32.to_le_bytes());
        cue.extend(0u32.to_le_bytes());
        // dwSampleOffset: the frame within the data chunk.
        cue.extend(frame.to_le_bytes());
    }
    let mut adtl = b"adtl".to_vec();
    for (id, &(_, label)) in (1u32..).zip(points) {
        let mut labl = Vec::with_capacity(4 + label.len() + 1);
        labl.extend(id.to_le_bytes());
        labl.extend(label.replace('\0', "").as_bytes());
        labl.push(0);
        push_chunk(&mut adtl, b"labl", &labl);
    }
    let mut out = Vec::with_capacity(cue.len() + adtl.len() + 17);
    push_chunk(&mut out, b"cue ", &cue);
    push_chunk(&mut out, b"LIST", &adtl);
    out
}

/// Append a chunk: id, size (of `body`, without the pad byte), body, pad byte if odd.
fn push_chunk(out: &mut Vec<u8>, id: &[u8; 4], body: &[u8]) {
    out.extend(id);
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_have_the_riff_layout_and_pad_odd_labels() {
        let bytes = cue_chunks(&[(0, "Start"), (48_000, "Loop")]);
        let mut want = Vec::new();
        want.extend(b"cue ");
        want.extend(52u32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        for (id, frame) in [(1u32, 0u32), (2, 48_000)] {
            want.extend(id.to_le_bytes());
            want.extend(frame.to_le_bytes());
            want.extend(b"data");
            want.extend([0; 8]);
            want.extend(frame.to_le_bytes());
        }
        want.extend(b"LIST");
        // "adtl", then "labl" 4+6 bytes (even), then "labl" 4+5 bytes (odd, padded).
        want.extend((4 + 8 + 10 + 8 + 9 + 1u32).to_le_bytes());
        want.extend(b"adtl");
        want.extend(b"labl");
        want.extend(10u32.to_le_bytes());
        want.extend(1u32.to_le_bytes());
        want.extend(b"Start\0");
        want.extend(b"labl");
        want.extend(9u32.to_le_bytes());
        want.extend(2u32.to_le_bytes());
        want.extend(b"Loop\0\0");
        assert_eq!(bytes, want);
        assert_eq!(bytes.len() % 2, 0);
        assert!(cue_chunks(&[]).is_empty());
    }

    /// The frames of the `cue ` chunk in `bytes`, and its labels.
    fn decode(bytes: &[u8]) -> Vec<(u32, String)> {
        if bytes.is_empty() {
            return Vec::new();
        }
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let n = u32_at(8) as usize;
        let frames: Vec<u32> = (0..n).map(|i| u32_at(12 + 24 * i + 4)).collect();
        let mut at = 8 + u32_at(4) as usize + 8 + 4;
        let mut labels = Vec::new();
        while at < bytes.len() {
            let size = u32_at(at + 4) as usize;
            let text = &bytes[at + 12..at + 8 + size - 1];
            labels.push(String::from_utf8(text.to_vec()).unwrap());
            at += 8 + size + size % 2;
        }
        frames.into_iter().zip(labels).collect()
    }

    #[test]
    fn each_part_takes_the_markers_it_holds() {
        let mut cues = Cues::default();
        for (frame, label) in [(25, "c"), (0, "a"), (10, "b"), (10, "b2"), (31, "d")] {
            cues.add(frame, label);
        }
        cues.add(3, "nul\0inside");
        let own = |v: &[(u32, &str)]| -> Vec<(u32, String)> {
            v.iter().map(|&(f, l)| (f, l.to_string())).collect()
        };
        // Part 1 holds frames 0..10: the marker at 10 is the first frame of part 2.
        assert_eq!(
            decode(&cues.take_chunks(0, 10, false)),
            own(&[(0, "a"), (3, "nulinside")])
        );
        assert_eq!(
            decode(&cues.take_chunks(10, 10, false)),
            own(&[(0, "b"), (0, "b2")])
        );
        assert!(cues.take_chunks(20, 0, false).is_empty());
        // A late marker goes at the start of the current part.
        cues.add(5, "late");
        assert_eq!(
            decode(&cues.take_chunks(20, 10, false)),
            own(&[(0, "late"), (5, "c")])
        );
        // The last part keeps everything left, past its end at its end.
        cues.add(30, "end");
        assert_eq!(
            decode(&cues.take_chunks(30, 0, true)),
            own(&[(0, "end"), (0, "d")])
        );
        assert!(cues.take_chunks(30, 0, true).is_empty());
    }
}
