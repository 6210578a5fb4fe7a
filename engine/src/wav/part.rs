//! One file on disk: the header hound wrote, the data chunk's pending bytes, aligned
//! writes, and the size fields patched at each checkpoint. Writer thread only; every call
//! may block on I/O.

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
}

impl Part {
    pub(super) fn create(path: &Path, header: &[u8], bytes_per_frame: u64) -> io::Result<Part> {
        let mut file = File::create(path)?;
        // A valid empty file from the start.
        file.write_all(header)?;
        Ok(Part {
            file,
            header_len: header.len() as u64,
            // Room for one sample past the limit.
            buf: vec![0u8; WRITE_CHUNK_BYTES + 4].into_boxed_slice(),
            len: 0,
            on_disk: 0,
            bytes_per_frame,
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

    /// Write the RIFF and data sizes for the whole frames on disk, with nothing after the
    /// data chunk.
    fn patch_header(&mut self) -> io::Result<()> {
        self.patch_sizes(self.whole_frame_bytes(), 0)
    }

    /// Write the data size `data` and a RIFF size that also counts `after_data` bytes
    /// following the data chunk (its pad byte and trailing chunks).
    fn patch_sizes(&mut self, data: u64, after_data: u64) -> io::Result<()> {
        let riff = self.header_len - 8 + data + after_data;
        // The part limit keeps both below 2^32 (checked in `WavSink::create`, and for the
        // trailing chunks in `finish`).
        #[cfg(unix)]
        {
            // Positioned writes: two syscalls instead of five, and the file position
            // (where the next chunk goes) is left alone.
            use std::os::unix::fs::FileExt;
            self.file.write_all_at(&(riff as u32).to_le_bytes(), 4)?;
            self.file
                .write_all_at(&(data as u32).to_le_bytes(), self.header_len - 4)?;
        }
        #[cfg(not(unix))]
        {
            self.seek_patch(riff, data)?;
        }
        Ok(())
    }

    /// Patch the sizes by seeking (Windows' positioned writes move the file position too).
    #[cfg(not(unix))]
    fn seek_patch(&mut self, riff: u64, data: u64) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(4))?;
        self.file.write_all(&(riff as u32).to_le_bytes())?;
        self.file.seek(SeekFrom::Start(self.header_len - 4))?;
        self.file.write_all(&(data as u32).to_le_bytes())?;
        self.file
            .seek(SeekFrom::Start(self.header_len + self.on_disk))?;
        Ok(())
    }

    /// Everything written so far becomes readable (hound's `flush`).
    pub(super) fn checkpoint(&mut self) -> io::Result<()> {
        let drained = self.drain();
        // Patch even after a failed write: the file then ends at the last whole frame
        // that reached it.
        let patched = self.patch_header();
        drained.and(patched)
    }

    /// Finish the file: everything pending to the OS, then `trailer` (whole chunks that
    /// follow the data chunk, such as the cue points) right after the last whole frame,
    /// preceded by the pad byte RIFF requires after a data chunk of odd length, and the
    /// sizes patched to count them. With an empty trailer this is [`Self::checkpoint`], so
    /// a file without cues stays byte for byte what hound writes (hound writes no pad byte
    /// at the end of a file).
    ///
    /// The trailer is written only after every frame reached the disk; if it cannot be
    /// written the file is cut back to the data chunk and still readable.
    pub(super) fn finish(mut self, trailer: &[u8]) -> io::Result<()> {
        if trailer.is_empty() {
            return self.checkpoint();
        }
        if let Err(e) = self.drain() {
            // The disk refused audio: the trailer would fail too. Keep what arrived.
            let _ = self.patch_header();
            return Err(e);
        }
        let data = self.whole_frame_bytes();
        let pad = data % 2;
        let after_data = pad + trailer.len() as u64;
        if self.header_len - 8 + data + after_data > u32::MAX as u64 {
            self.patch_header()?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the cue points do not fit in the file below the 4 GiB RIFF limit",
            ));
        }
        let end = self.header_len + data;
        let written = self.write_trailer(end, pad == 1, trailer);
        if written.is_err() {
            // Leave no half chunk behind the data; the sizes below ignore it anyway.
            let _ = self.file.set_len(end);
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
