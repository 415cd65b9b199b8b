//! Copying a registry's sled trees into a fresh database, for `pactum
//! compact`.
//!
//! sled 0.34 never gives back a segment of its file that its cleaner has
//! emptied below the last one in use, and overwrites every such free
//! segment in full (8 MiB each here) on every open; a registry whose
//! caches were rebuilt from nothing carries dozens of them. A fresh
//! database written in key order holds the same entries in about half the
//! file, with few free segments.
//!
//! **Invariant:** the copy holds exactly the entries of every tree of the
//! source, byte for byte, keys and values; the source is not written,
//! except by [`Store::retire`] once the copy has taken its place.

use sled::Batch;

use super::error::Result;
use super::scan::ReadOnce;
use super::{Store, keys};

/// Entries per `apply_batch` of the copy (sled keeps in memory what a
/// larger batch replaces: see the rebuild's batches).
const BATCH: usize = 256;
/// Batches between two writes of sled's buffers to its file.
const BATCHES_PER_FLUSH: usize = 16;

impl Store {
    /// Copies every entry of every tree of this store into `to`, a
    /// registry just created (whose few entries this store also holds),
    /// then makes `to` durable. Returns the entries copied. The caller
    /// holds this store open, so no other process writes to it meanwhile;
    /// the caches' writes held in memory are given to sled first.
    pub fn copy_into(&self, to: &Store, progress: &mut dyn FnMut(u64)) -> Result<u64> {
        let _lock = self.write_lock();
        self.persist_caches()?;
        let mut copied = 0u64;
        for name in self.db.tree_names() {
            let from = self.db.open_tree(&name)?;
            let into = to.db.open_tree(&name)?;
            let (mut batch, mut in_batch, mut batches) = (Batch::default(), 0, 0);
            for kv in ReadOnce::new(&from, from.iter()) {
                let (k, v) = kv?;
                batch.insert(k, v);
                in_batch += 1;
                copied += 1;
                if in_batch == BATCH {
                    into.apply_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                    batches += 1;
                    if batches % BATCHES_PER_FLUSH == 0 {
                        to.db.flush()?;
                        progress(copied);
                    }
                }
            }
            if in_batch > 0 {
                into.apply_batch(batch)?;
            }
            to.db.flush()?;
        }
        to.durable.sync(&to.db)?;
        if let Ok(head) = self.head()
            && head.seq.0 > 0
        {
            to.head_file.record(&to.folder, head.seq, head.hash);
            to.folder.sync()?;
        }
        Ok(copied)
    }

    /// Marks this registry's files as replaced by a copy that now holds
    /// its path (durably): a process that opens them afterwards, through a
    /// path it resolved before the swap, finds the mark and opens the
    /// path again. This store no longer touches the files the path names
    /// (the owner file is the copy's).
    pub fn retire(&self) -> Result<()> {
        let _lock = self.write_lock();
        self.retired
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.db.open_tree("meta")?.insert(keys::RETIRED, &[1u8])?;
        self.durable.sync(&self.db)
    }
}
