//! One file on disk: the header hound wrote, the data chunk's pending bytes, aligned
//! writes, and the size fields patched at each checkpoint. Writer thread only; every call
//! may block on I/O.

use super::WRITE_CHUNK_BYTES;
use std::fs::File;
use std::io::{self, Write};
#[cfg(not(unix))]
use std::io::{Seek, SeekFrom};
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

    /// Write the RIFF and data sizes for the whole frames on disk.
    fn patch_header(&mut self) -> io::Result<()> {
        let data = self.on_disk - self.on_disk % self.bytes_per_frame;
        let riff = self.header_len - 8 + data;
        // The part limit keeps both below 2^32 (checked in `WavSink::create`).
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
}
