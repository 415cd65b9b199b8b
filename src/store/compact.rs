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

use super::error::{Result, StoreError};
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
    /// makes `to` durable, and checks that it holds exactly this store's
    /// trees and entries. Returns the entries it holds. The caller
    /// holds this store open, so no other process writes to it meanwhile;
    /// the caches' writes held in memory are given to sled first.
    pub fn copy_into(&self, to: &Store, progress: &mut dyn FnMut(u64)) -> Result<u64> {
        let _lock = self.write_lock();
        self.persist_caches()?;
        let mut written = 0u64;
        for name in self.db.tree_names() {
            let from = self.db.open_tree(&name)?;
            let into = to.db.open_tree(&name)?;
            let (mut batch, mut in_batch, mut batches) = (Batch::default(), 0, 0);
            for kv in ReadOnce::new(&from, from.iter()) {
                let (k, v) = kv?;
                batch.insert(k, v);
                in_batch += 1;
                written += 1;
                if in_batch == BATCH {
                    into.apply_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                    batches += 1;
                    if batches % BATCHES_PER_FLUSH == 0 {
                        to.db.flush()?;
                        progress(written);
                    }
                }
            }
            if in_batch > 0 {
                into.apply_batch(batch)?;
            }
            to.db.flush()?;
        }
        to.durable.sync(&to.db)?;
        let copied = self.same_entries(to)?;
        if let Ok(head) = self.head()
            && head.seq.0 > 0
        {
            to.head_file.record(&to.folder, head.seq, head.hash);
            to.folder.sync()?;
        }
        Ok(copied)
    }

    /// Checks that `to` holds exactly the trees and entries of this store,
    /// in the same order; returns how many entries it holds.
    fn same_entries(&self, to: &Store) -> Result<u64> {
        let differs = |at: String| {
            StoreError::corrupt("sled", at, "the compacted copy differs from the registry")
        };
        let mut names = self.db.tree_names();
        let mut theirs = to.db.tree_names();
        names.sort();
        theirs.sort();
        if names != theirs {
            return Err(differs("the trees".into()));
        }
        let mut count = 0u64;
        for name in names {
            let (a, b) = (self.db.open_tree(&name)?, to.db.open_tree(&name)?);
            let mut ours = ReadOnce::new(&a, a.iter());
            let mut copy = ReadOnce::new(&b, b.iter());
            loop {
                match (ours.next().transpose()?, copy.next().transpose()?) {
                    (None, None) => break,
                    (Some(x), Some(y)) if x == y => count += 1,
                    (x, y) => {
                        let key = x.or(y).map(|(k, _)| k).unwrap_or_default();
                        return Err(differs(format!(
                            "tree {} key {:02x?}",
                            String::from_utf8_lossy(&name),
                            &key[..key.len().min(24)]
                        )));
                    }
                }
            }
        }
        Ok(count)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::OpenOptions;

    fn store(dir: &std::path::Path, name: &str) -> Store {
        Store::open(
            &dir.join(name),
            &OpenOptions {
                create: true,
                ..OpenOptions::default()
            },
        )
        .unwrap()
    }

    /// Sets (or, with `None`, removes) `key` in `tree` of `store`.
    fn set(store: &Store, tree: &str, key: &[u8], value: Option<&[u8]>) {
        let tree = store.db.open_tree(tree).unwrap();
        match value {
            Some(v) => drop(tree.insert(key, v).unwrap()),
            None => drop(tree.remove(key).unwrap()),
        }
    }

    #[test]
    fn a_copy_that_lacks_or_adds_an_entry_or_a_tree_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let from = store(dir.path(), "from");
        set(&from, "cache", b"x", Some(b"1"));
        let to = store(dir.path(), "to");
        let held = from.copy_into(&to, &mut |_| {}).unwrap();
        assert!(held > 0);
        assert_eq!(from.same_entries(&to).unwrap(), held);
        // one value differs
        set(&to, "cache", b"x", Some(b"2"));
        assert!(from.same_entries(&to).is_err());
        set(&to, "cache", b"x", Some(b"1"));
        // one entry more in the copy, then one fewer
        set(&to, "meta", b"y", Some(b""));
        assert!(from.same_entries(&to).is_err());
        set(&to, "meta", b"y", None);
        set(&to, "cache", b"x", None);
        assert!(from.same_entries(&to).is_err());
        set(&to, "cache", b"x", Some(b"1"));
        assert_eq!(from.same_entries(&to).unwrap(), held);
        // a tree the registry does not have
        to.db.open_tree("stray").unwrap();
        assert!(from.same_entries(&to).is_err());
    }
}
