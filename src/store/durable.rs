//! Making sled's writes durable: `flush()`, then `fdatasync` of its files;
//! and counting the segments of its data file that are free
//! ([`count_segments`]).
//!
//! sled 0.34's `flush` writes its buffers and calls `sync_file_range`,
//! which does not survive a power loss by itself (sled issue #1452); its
//! own `fsync` comes from a background thread every 500 ms, which pactum
//! turns off. So after each flush the data file `db` is `fdatasync`ed.
//! sled writes any value or node larger than a quarter of its
//! `segment_size` to a file under `blobs/` that it never syncs: pactum sets
//! `segment_size` to [`SEGMENT_SIZE`] and keeps values far below a quarter
//! of it, and still syncs every file in `blobs/` and the folder itself
//! whenever the folder is not empty or has changed since it was last seen.
//!
//! **Invariant:** [`Durable::sync`] returns only after everything written
//! to sled before it was called is on the disk.
//!
//! **Invariant:** the files are opened through the registry folder or with
//! `O_NOFOLLOW` (never through a link), and read-only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use super::error::{Result, io};
use super::folder::{self, Folder};

/// sled's `segment_size` (stored in its `conf`; the same on every open).
pub const SEGMENT_SIZE: usize = 8 * 1024 * 1024;

/// The files to sync after a flush.
pub struct Durable {
    data: File,
    blobs: PathBuf,
    /// the `blobs/` folder's modification time at the last sync
    blobs_seen: Mutex<Option<SystemTime>>,
}

impl Durable {
    /// The files of the sled database in `folder`.
    pub fn new(folder: &Folder) -> Result<Self> {
        let data = folder.open_data_file()?;
        let blobs = folder.path().join("blobs");
        // What a previous process left was synced by its own appends (or
        // was never acknowledged); a folder unchanged since is not synced
        // again.
        let seen = std::fs::metadata(&blobs).and_then(|m| m.modified()).ok();
        Ok(Self {
            data,
            blobs,
            blobs_seen: Mutex::new(seen),
        })
    }

    /// Flushes sled and syncs its files.
    pub fn sync(&self, db: &sled::Db) -> Result<()> {
        db.flush()?;
        self.data
            .sync_data()
            .map_err(io("syncing sled's data file"))?;
        self.sync_blobs()
    }

    /// The segments of sled's data file ([`count_segments`]).
    pub fn segments(&self) -> Result<Segments> {
        count_segments(&self.data, SEGMENT_SIZE as u64).map_err(io("reading sled's data file"))
    }

    fn sync_blobs(&self) -> Result<()> {
        let Ok(meta) = std::fs::metadata(&self.blobs) else {
            return Ok(());
        };
        let modified = meta.modified().ok();
        let mut seen = self.blobs_seen.lock().unwrap_or_else(|p| p.into_inner());
        let mut any = false;
        let entries = std::fs::read_dir(&self.blobs)
            .map_err(|e| folder::io_error(&self.blobs, "listing", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| folder::io_error(&self.blobs, "listing", e))?;
            any = true;
            let path = entry.path();
            OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
                .and_then(|f| f.sync_data())
                .map_err(|e| folder::io_error(&path, "syncing", e))?;
        }
        if any || modified != *seen {
            File::open(&self.blobs)
                .and_then(|d| d.sync_all())
                .map_err(|e| folder::io_error(&self.blobs, "syncing folder", e))?;
            *seen = modified;
        }
        Ok(())
    }
}

/// How many segments sled's data file holds, and how many of them sled
/// holds free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segments {
    /// segments of [`SEGMENT_SIZE`] in the file (the last one may be short)
    pub total: u64,
    /// segments no page lives in: sled reuses them for later writes, and
    /// only `pactum compact` gives them back to the disk
    pub free: u64,
}

/// Bytes at the start of a segment that a segment in use never leaves all
/// zero (sled's segment header: a checksum and the segment's position).
const SEGMENT_HEADER: usize = 20;

/// Counts the segments of sled's data file, and the free ones among them:
/// on every open, sled 0.34 writes zeros over each segment of its file
/// that no page lives in (`SegmentAccountant`'s start), so a segment whose
/// header is all zeros is free. Read after this process opened the
/// database, the count is exact at that open.
pub fn count_segments(file: &File, segment_size: u64) -> std::io::Result<Segments> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    let mut segments = Segments::default();
    let mut header = [0u8; SEGMENT_HEADER];
    let mut at = 0;
    while at < len {
        let n = usize::try_from((len - at).min(SEGMENT_HEADER as u64)).unwrap_or(SEGMENT_HEADER);
        file.read_exact_at(&mut header[..n], at)?;
        segments.total += 1;
        if header[..n].iter().all(|b| *b == 0) {
            segments.free += 1;
        }
        at = at.saturating_add(segment_size.max(1));
    }
    Ok(segments)
}

/// Syncs a folder (after creating or renaming entries in it).
pub fn sync_dir(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(io(format!("syncing folder {}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_segment_whose_header_is_all_zeros_is_counted_free() {
        let mut file = tempfile::tempfile().unwrap();
        let segment = 64u64;
        // in use, free, in use, free and short at the end of the file
        let mut bytes = vec![0u8; 3 * 64 + 10];
        bytes[0] = 1;
        bytes[2 * 64 + 19] = 7;
        file.write_all(&bytes).unwrap();
        assert_eq!(
            count_segments(&file, segment).unwrap(),
            Segments { total: 4, free: 2 }
        );
        // a byte past the header does not make a segment used
        let mut bytes = vec![0u8; 64];
        bytes[20] = 9;
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&bytes).unwrap();
        assert_eq!(
            count_segments(&file, segment).unwrap(),
            Segments { total: 1, free: 1 }
        );
        let empty = tempfile::tempfile().unwrap();
        assert_eq!(
            count_segments(&empty, segment).unwrap(),
            Segments::default()
        );
    }
}
