//! Reading a registry of layout 1 (one sled entry per event in the tree
//! `events`, derived trees beside it), for `pactum upgrade`.
//!
//! Only the events are read: everything else in such a registry was
//! derived from them. Each event's stored bytes are handed over exactly as
//! they are, so that the new log holds the same bytes, hence the same
//! hashes.

use std::path::Path;
use std::time::Duration;

use super::error::{Result, StoreError};
use super::folder::Folder;
use super::head_file::{self, RecordedHead};
use super::{codec, keys, open_sled};
use crate::domain::{EventRecord, Seq};

/// An open registry of layout 1.
pub struct Format1 {
    folder: Folder,
    db: sled::Db,
    events: sled::Tree,
}

impl Format1 {
    /// Opens the registry at `path`, which must be of layout 1.
    pub fn open(path: &Path, wait: Duration) -> Result<Self> {
        // the folder is checked as for any registry (a foreign folder is
        // refused, a snapshot sled never completed removed)
        let (folder, _) = Folder::prepare(path, false)?;
        if !super::exists(path) {
            return Err(StoreError::Missing(path.to_path_buf()));
        }
        let (db, _) = open_sled(&folder, 512 * 1024, super::DEFAULT_CACHE_BYTES, wait)?;
        let meta = db.open_tree("meta")?;
        match meta.get(keys::FORMAT)? {
            Some(v) if v.as_ref() == [codec::REGISTRY_FORMAT_1] => {}
            Some(v) => {
                return Err(StoreError::Format {
                    found: v.first().copied().unwrap_or(0),
                });
            }
            None => {
                return Err(StoreError::corrupt(
                    "meta",
                    "format",
                    "missing format version",
                ));
            }
        }
        let events = db.open_tree("events")?;
        Ok(Self { folder, db, events })
    }

    /// What the record of the acknowledged head beside the registry says.
    pub fn recorded_head(&self) -> RecordedHead {
        head_file::read(&self.folder)
    }

    /// How many events the registry holds.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    /// True when it holds none.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Every event in seq order: the record and its stored bytes. Fails on
    /// a malformed key, undecodable bytes, or a gap.
    pub fn events(&self) -> impl Iterator<Item = Result<(EventRecord, Vec<u8>)>> + '_ {
        let mut expected = 1u64;
        self.events.iter().map(move |kv| {
            let (k, v) = kv?;
            let seq = keys::u64_of(&k).ok_or_else(|| {
                StoreError::corrupt("events", format!("key {k:02x?}"), "malformed key")
            })?;
            if seq != expected {
                return Err(StoreError::corrupt(
                    "events",
                    format!("seq {seq}"),
                    format!("gap: expected seq {expected}"),
                ));
            }
            expected += 1;
            let record = codec::decode_record(&v)
                .map_err(|e| StoreError::corrupt("events", format!("seq {seq}"), e))?;
            if record.seq != Seq(seq) {
                return Err(StoreError::corrupt(
                    "events",
                    format!("seq {seq}"),
                    format!("the event says it is seq {}", record.seq),
                ));
            }
            Ok((record, v.to_vec()))
        })
    }

    /// Closes the registry (releases sled's lock once its threads end).
    pub fn close(self) {
        drop(self.events);
        drop(self.db);
    }
}
