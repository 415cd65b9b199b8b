//! What `info` tells of a registry: where it is, its size, its counts, its
//! head and the versions of its formats; and the checks on a registry folder
//! that the command line makes before it opens one.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{AppError, Registry};
use crate::domain::{Digest, EntityKind, Seq};
use crate::store::{self, codec, folder::Folder};

/// True when enough of sled's file is free for `pactum compact` to be worth
/// its time: at least 8 free segments (64 MiB) and a quarter of the file. A
/// compaction itself leaves a few free segments behind.
pub fn compaction_advised(segments: &store::durable::Segments) -> bool {
    segments.free >= 8 && segments.free.saturating_mul(4) >= segments.total
}

/// A registry's facts, as `info` shows them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryInfo {
    /// the registry's folder
    pub path: PathBuf,
    /// the bytes its files take on disk
    pub size_bytes: u64,
    /// sled's segments, and the free ones among them
    pub segments: store::durable::Segments,
    /// how many partners it has
    pub partners: u64,
    /// how many conventions it has
    pub conventions: u64,
    /// the head's log position (the number of events)
    pub head_seq: Seq,
    /// the head's hash
    pub head_hash: Digest,
    /// when the last event was recorded (`None` for an empty log)
    pub last_recorded_at: Option<DateTime<Utc>>,
    /// the version of the registry's layout, as its record says
    pub registry_format: u8,
    /// the version of the stored events' encoding
    pub format_version: u8,
    /// the version of the stored projections' encoding
    pub projection_version: u8,
}

impl Registry {
    /// The registry's facts, as `info` shows them.
    pub fn info(&self) -> Result<RegistryInfo, AppError> {
        let store = self.store();
        let head = store.head()?;
        Ok(RegistryInfo {
            path: store.path().to_path_buf(),
            size_bytes: store.size_on_disk()?,
            segments: store.segments()?,
            partners: store.count(EntityKind::Partner)?,
            conventions: store.count(EntityKind::Convention)?,
            head_seq: head.seq,
            head_hash: head.hash,
            last_recorded_at: head.recorded_at,
            registry_format: store.registry_format(),
            format_version: codec::FORMAT_VERSION,
            projection_version: codec::PROJECTION_VERSION,
        })
    }

    /// The registry's folder.
    pub fn path(&self) -> &Path {
        self.store().path()
    }

    /// Removes the file that names this process as the registry's owner
    /// (for a process about to end without closing the registry).
    pub fn release_owner(&self) {
        self.store().release_owner();
    }
}

/// True when `path` holds a registry (of any format).
pub fn registry_exists(path: &Path) -> bool {
    store::exists(path)
}

/// True when the file of device `dev` and inode `ino` is one of the files
/// of the registry folder `path`: for refusing to write a command's output
/// into the registry.
pub fn registry_holds_file(path: &Path, dev: u64, ino: u64) -> bool {
    Folder::at(path).holds(dev, ino)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::durable::Segments;

    #[test]
    fn a_compaction_is_advised_from_64_mib_free_and_a_quarter_of_the_file() {
        let advised = |free, total| compaction_advised(&Segments { total, free });
        assert!(advised(8, 32));
        assert!(!advised(7, 8), "under 64 MiB");
        assert!(!advised(8, 33), "under a quarter");
        assert!(advised(41, 150));
        assert!(!advised(5, 56), "what a compaction leaves");
    }
}
