//! The pack's zip: every entry in one folder (`<Project> - <Recipient>/`), so unpacking
//! never scatters files, and every entry *stored*, not deflated: audio does not compress
//! (a few percent at best) and storing runs at the speed of a copy. Entries past 4 GiB get
//! zip64 fields. The zip is written under a temporary name in the output folder and
//! renamed when complete, so a zip with the final name is always whole.

use super::{PackError, PackProgress, PackResult};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Bytes per read from a staged file while storing it.
const COPY_BYTES: usize = 1 << 20;

/// Store the staged audio files and `docs` (name, bytes) in `result.zip_path`; returns
/// the zip's size.
pub(super) fn write_zip(
    result: &PackResult,
    docs: &[(String, Vec<u8>)],
    now: chrono::NaiveDateTime,
    progress: &(dyn Fn(PackProgress) + Sync),
) -> Result<u64, PackError> {
    use chrono::{Datelike, Timelike};
    let path = &result.zip_path;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let io = |source| PackError::Io {
        path: path.clone(),
        source,
    };
    let zerr = |source| PackError::Zip {
        path: path.clone(),
        source,
    };
    let tmp = tempfile::Builder::new()
        .prefix(".stemtap-pack-")
        .suffix(".zip.partial")
        .tempfile_in(dir)
        .map_err(io)?;
    let mut zip = ZipWriter::new(BufWriter::with_capacity(
        COPY_BYTES,
        tmp.reopen().map_err(io)?,
    ));
    // DOS time stamps start in 1980; a clock before that gets the format's first day.
    let stamp = DateTime::from_date_and_time(
        now.year().clamp(1980, 2107) as u16,
        now.month() as u8,
        now.day() as u8,
        now.hour() as u8,
        now.minute() as u8,
        now.second() as u8,
    )
    .unwrap_or_default();
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let folder = &result.documents.folder;
    zip.add_directory(format!("{folder}/"), options.unix_permissions(0o755))
        .map_err(zerr)?;
    let staged: Vec<(String, &std::path::Path)> = result
        .files
        .iter()
        .flat_map(|f| {
            f.staged.iter().map(|p| {
                let name = p
                    .file_name()
                    .map_or_else(|| f.name.clone(), |n| n.to_string_lossy().into_owned());
                (name, p.as_path())
            })
        })
        .collect();
    let mut total = 0u64;
    for (_, p) in &staged {
        total += std::fs::metadata(p)
            .map_err(|source| PackError::Io {
                path: p.to_path_buf(),
                source,
            })?
            .len();
    }
    let mut done = 0u64;
    let mut buf = vec![0u8; COPY_BYTES];
    for (name, p) in &staged {
        let read_err = |source| PackError::Io {
            path: p.to_path_buf(),
            source,
        };
        let mut file = File::open(p).map_err(read_err)?;
        let len = file.metadata().map_err(read_err)?.len();
        zip.start_file(
            format!("{folder}/{name}"),
            options.large_file(len >= u32::MAX as u64),
        )
        .map_err(zerr)?;
        loop {
            let n = file.read(&mut buf).map_err(read_err)?;
            if n == 0 {
                break;
            }
            zip.write_all(&buf[..n]).map_err(io)?;
            done += n as u64;
            progress(PackProgress::Zipping { done, total });
        }
    }
    for (name, bytes) in docs {
        zip.start_file(format!("{folder}/{name}"), options)
            .map_err(zerr)?;
        zip.write_all(bytes).map_err(io)?;
    }
    let mut out = zip.finish().map_err(zerr)?;
    out.flush().map_err(io)?;
    let size = out.get_ref().metadata().map_err(io)?.len();
    drop(out);
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(size)
}
