//! One file on disk: its header, the data chunk's pending bytes, aligned writes, the size
//! fields patched at each checkpoint, and the switch to RF64. Writer thread only; every
//! call may block on I/O.

use super::header::{ds64_chunk, DS64_BODY_AT, DS64_CHUNK_AT, RF64_SIZE_MARKER, RIFF_SIZE_AT};
use super::WRITE_CHUNK_BYTES;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

/// The file currently being written and its pending bytes.
pub(super) struct Part {
    /// The open file; written only through this struct, so `on_disk` stays exact.
    file: File,
    /// Length of the header; the data chunk starts here and its size field ends here.
    header_len: u64,
    /// Encoded samples not yet handed to the OS: `buf[..len]`. The sink encodes straight
    /// into it, so it is shared with `sink` rather than hidden behind a method.
    pub(super) buf: Box<[u8]>,
    /// Pending bytes at the front of `buf`.
    pub(super) len: usize,
    /// Data bytes the OS has accepted.
    on_disk: u64,
    /// Size of one frame in bytes: the header only ever counts whole frames.
    bytes_per_frame: u64,
    /// Past this RIFF size the file turns into RF64 (at most [`MAX_RIFF_SIZE`]).
    rf64_after: u64,
    /// The file is RF64: its sizes live in `ds64`, the 32-bit ones say 0xFFFFFFFF.
    rf64: bool,
}

/// The largest RIFF size a plain RIFF file may declare: 0xFFFFFFFF is RF64's marker.
const MAX_RIFF_SIZE: u64 = RF64_SIZE_MARKER as u64 - 1;

impl Part {
    /// Create the file at `path` and write `header` (built by `header::header_bytes`, the
    /// data size in its last four bytes); it turns into RF64 once its RIFF size would pass
    /// `rf64_after`.
    pub(super) fn create(
        path: &Path,
        header: &[u8],
        bytes_per_frame: u64,
        rf64_after: u64,
    ) -> io::Result<Part> {
        // A valid empty file from the start, under its name only once its header is
        // complete: killed in between, the take has no unreadable WAV file (at worst a
        // `.wav.new` beside it, which no reader takes for audio).
        let fresh = path.with_extension("wav.new");
        {
            let mut file = File::create(&fresh)?;
            file.write_all(header)?;
        }
        std::fs::rename(&fresh, path)?;
        let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
        file.seek(SeekFrom::End(0))?;
        Ok(Part {
            file,
            header_len: header.len() as u64,
            // Room for one sample past the limit.
            buf: vec![0u8; WRITE_CHUNK_BYTES + 4].into_boxed_slice(),
            len: 0,
            on_disk: 0,
            bytes_per_frame,
            rf64_after: rf64_after.min(MAX_RIFF_SIZE),
            rf64: false,
        })
    }

    /// Where the buffer should be written out: at the next [`WRITE_CHUNK_BYTES`] boundary
    /// of the file, so that (after the header's first write) every write covers whole,
    /// aligned pages. Unaligned writes cost the kernel about 40% more per byte here
    /// (BENCHMARKS.md).
    pub(super) fn fill_limit(&self) -> usize {
        WRITE_CHUNK_BYTES - ((self.header_len + self.on_disk) % WRITE_CHUNK_BYTES as u64) as usize
    }

    /// Hand the pending bytes and then `bytes` to the OS, up to the last
    /// [`WRITE_CHUNK_BYTES`] boundary of the file they reach, in one vectored write; the
    /// rest of `bytes` becomes the new pending buffer. This is how float samples reach the
    /// file without a copy in user space: the kernel reads them straight from the caller.
    /// Bytes that do not reach a boundary are only added to the pending buffer.
    pub(super) fn write_through(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.len > self.fill_limit() {
            // A sample already crosses the boundary (headers of odd length).
            self.write_out(self.fill_limit())?;
        }
        let limit = self.fill_limit();
        let total = self.len + bytes.len();
        if total < limit {
            self.buf[self.len..total].copy_from_slice(bytes);
            self.len = total;
            return Ok(());
        }
        let through = limit + (total - limit) / WRITE_CHUNK_BYTES * WRITE_CHUNK_BYTES - self.len;
        let (now, later) = bytes.split_at(through);
        let mut slices = [
            io::IoSlice::new(&self.buf[..self.len]),
            io::IoSlice::new(now),
        ];
        let mut slices = &mut slices[..];
        let result = loop {
            if slices.is_empty() {
                break Ok(());
            }
            match self.file.write_vectored(slices) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    self.on_disk += k as u64;
                    io::IoSlice::advance_slices(&mut slices, k);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        // On an error the rest is lost: the sink stops writing this file anyway.
        self.len = 0;
        result?;
        self.buf[..later.len()].copy_from_slice(later);
        self.len = later.len();
        Ok(())
    }

    /// Hand everything pending to the OS.
    fn drain(&mut self) -> io::Result<()> {
        self.write_out(self.len)
    }

    /// Hand the first `n` pending bytes to the OS, counting exactly what it took, and keep
    /// the rest (part of a sample that crossed the boundary) at the front of the buffer.
    pub(super) fn write_out(&mut self, n: usize) -> io::Result<()> {
        let mut done = 0;
        let result = loop {
            if done == n {
                break Ok(());
            }
            match self.file.write(&self.buf[done..n]) {
                Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => {
                    done += k;
                    self.on_disk += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        if result.is_ok() {
            self.buf.copy_within(n..self.len, 0);
            self.len -= n;
        } else {
            // The rest is lost: the sink stops writing this file anyway.
            self.len = 0;
        }
        result
    }

    /// Data bytes the header may count: the whole frames on disk.
    fn whole_frame_bytes(&self) -> u64 {
        self.on_disk - self.on_disk % self.bytes_per_frame
    }

    /// Write the sizes for the whole frames on disk, with nothing after the data chunk but
    /// its pad byte when the data has an odd length. The pad byte is written when nothing
    /// is on disk behind the last whole frame (the next audio overwrites it), so the file
    /// holds every byte its RIFF size counts.
    ///
    /// If the pad byte cannot be written (disk full), the sizes are patched without it (a
    /// final pad byte is missing in many files, and most readers accept that) and the
    /// error is returned after.
    fn patch_header(&mut self) -> io::Result<()> {
        let data = self.whole_frame_bytes();
        let mut pad = data % 2;
        let mut padded = Ok(());
        if pad == 1 && self.on_disk == data {
            padded = self.write_at(self.header_len + data, &[0]);
            if padded.is_err() {
                pad = 0;
            }
        }
        self.patch_sizes(data, pad)?;
        padded
    }

    /// Write the data size `data` and a RIFF size that also counts `after_data` bytes
    /// following the data chunk (its pad byte and trailing chunks). Turns the file into
    /// RF64 when that RIFF size passes `rf64_after`.
    fn patch_sizes(&mut self, data: u64, after_data: u64) -> io::Result<()> {
        let riff = self.header_len - 8 + data + after_data;
        if !self.rf64 && riff > self.rf64_after {
            return self.switch_to_rf64(riff, data);
        }
        if self.rf64 {
            // One positioned write: the 32-bit sizes already say "see ds64".
            let ds64 = ds64_chunk(riff, data, data / self.bytes_per_frame);
            return self.write_at(DS64_BODY_AT, &ds64[8..]);
        }
        // Both fit: `riff` is at most `rf64_after`, below 0xFFFFFFFF.
        self.write_at(RIFF_SIZE_AT, &(riff as u32).to_le_bytes())?;
        self.write_at(self.header_len - 4, &(data as u32).to_le_bytes())
    }

    /// Turn the file into RF64 (EBU Tech 3306) with RIFF size `riff` and data size `data`,
    /// in three positioned writes ordered so that a crash between any two leaves a valid
    /// file:
    /// 1. `JUNK` becomes `ds64` with the 64-bit sizes: still a valid RIFF file (its 32-bit
    ///    sizes, from the last checkpoint, are below the limit; readers skip `ds64`).
    /// 2. `RIFF` + size becomes `RF64` + 0xFFFFFFFF: a valid RF64 file (readers take the
    ///    sizes from `ds64`).
    /// 3. The data size becomes 0xFFFFFFFF, as the specification asks.
    fn switch_to_rf64(&mut self, riff: u64, data: u64) -> io::Result<()> {
        let ds64 = ds64_chunk(riff, data, data / self.bytes_per_frame);
        self.write_at(DS64_CHUNK_AT, &ds64)?;
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(b"RF64");
        head[4..].copy_from_slice(&RF64_SIZE_MARKER.to_le_bytes());
        self.write_at(0, &head)?;
        self.rf64 = true;
        self.write_at(self.header_len - 4, &RF64_SIZE_MARKER.to_le_bytes())
    }

    /// Write `bytes` at offset `at` without moving the file position (where the next
    /// samples go).
    fn write_at(&mut self, at: u64, bytes: &[u8]) -> io::Result<()> {
        #[cfg(unix)]
        {
            // A positioned write: one syscall, and the file position is left alone.
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(bytes, at)
        }
        #[cfg(not(unix))]
        {
            // Windows' positioned writes move the file position too: seek, write, seek back.
            self.file.seek(SeekFrom::Start(at))?;
            self.file.write_all(bytes)?;
            self.file
                .seek(SeekFrom::Start(self.header_len + self.on_disk))?;
            Ok(())
        }
    }

    /// Everything written so far becomes readable (hound's `flush`).
    pub(super) fn checkpoint(&mut self) -> io::Result<()> {
        let drained = self.drain();
        // Patch even after a failed write: the file then ends at the last whole frame
        // that reached it.
        let patched = self.patch_header();
        drained.and(patched)
    }

    /// Finish the file: everything pending to the OS, then the pad byte RIFF requires after
    /// a data chunk of odd length, then `trailer` (whole chunks that follow the data chunk,
    /// such as the cue points), right after the last whole frame (a partial frame left by
    /// a failed write is cut off), and the sizes patched to count them. A trailer that
    /// pushes the RIFF size past the RF64 threshold turns the file into RF64.
    ///
    /// The trailer is written only after every frame reached the disk; if it cannot be
    /// written the file is cut back to the data chunk and still readable.
    pub(super) fn finish(mut self, trailer: &[u8]) -> io::Result<()> {
        if let Err(e) = self.drain() {
            // The disk refused audio: the trailer would fail too. Keep what arrived.
            let _ = self.patch_header();
            return Err(e);
        }
        let data = self.whole_frame_bytes();
        if trailer.is_empty() {
            // The pad byte (if any) goes where a checkpoint puts it.
            if self.on_disk != data {
                self.file.set_len(self.header_len + data)?;
                self.on_disk = data;
            }
            return self.patch_header();
        }
        let pad = data % 2;
        let after_data = pad + trailer.len() as u64;
        let end = self.header_len + data;
        let written = self.write_trailer(end, pad == 1, trailer);
        if written.is_err() {
            // Leave no half chunk behind the data; the sizes below ignore it anyway.
            let _ = self.file.set_len(end);
            self.on_disk = data;
            let _ = self.patch_header();
            return written;
        }
        self.patch_sizes(data, after_data)
    }

    /// Put the pad byte (if asked) and `trailer` at byte `end` of the file, where the data
    /// chunk's whole frames end, cutting off any partial frame past it.
    fn write_trailer(&mut self, end: u64, pad: bool, trailer: &[u8]) -> io::Result<()> {
        if self.header_len + self.on_disk != end {
            self.file.set_len(end)?;
        }
        self.file.seek(SeekFrom::Start(end))?;
        if pad {
            self.file.write_all(&[0])?;
        }
        self.file.write_all(trailer)
    }
}
