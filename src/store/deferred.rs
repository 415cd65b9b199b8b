//! Cache writes held in memory until they are worth a sled write.
//!
//! Each cache tree (`cache`, `merkle`) is written through a [`Deferred`]:
//! a write lands in an ordered map in memory, and every read looks there
//! before it looks in sled, so that the process always sees its own
//! writes. The map is handed to sled as one atomic `apply_batch` (never
//! synced on its own) when it grows past [`PERSIST_BYTES`] or
//! [`PERSIST_ENTRIES`], before anything reads the sled tree directly (a
//! rebuild, `verify`, a parallel scan), and when the store is closed.
//!
//! If sled refuses the batch, the map is dropped all the same: sled still
//! holds the caches exact at the watermark it last took, and the caches are
//! caught up from there (`Store::caches_behind`).
//!
//! So an append costs one sled write, its segment, and the caches it
//! changes are written once for many appends; an entity changed by many
//! appends in a row is written once. A crash loses what the map held,
//! which is only cache: the watermark written with it says where the
//! caches stand, and the next open catches them up from the log.
//!
//! **Invariant:** the map and the sled tree together hold exactly what the
//! caches would hold had every write gone to sled at once; the watermark
//! is always written in the same batch as the entries it vouches for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use sled::{IVec, Tree};

use super::error::Result;

/// Pending bytes (keys and values) that make the map go to sled.
pub const PERSIST_BYTES: usize = 4 * 1024 * 1024;

/// Pending entries that make the map go to sled.
pub const PERSIST_ENTRIES: usize = 16_384;

/// The writes not yet given to sled: `None` is a removal.
#[derive(Default)]
struct Pending {
    entries: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    bytes: usize,
}

impl Pending {
    fn put(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        let key_len = key.len();
        let value_len = value.as_ref().map_or(0, Vec::len);
        match self.entries.insert(key, value) {
            // the map keeps the key it had: only the value changes size
            Some(old) => {
                self.bytes = self
                    .bytes
                    .saturating_sub(old.map_or(0, |v| v.len()))
                    .saturating_add(value_len);
            }
            None => self.bytes = self.bytes.saturating_add(key_len + value_len),
        }
    }

    /// The pending entries whose key starts with `prefix`, in key order.
    fn under<'p>(
        &'p self,
        prefix: &'p [u8],
    ) -> impl DoubleEndedIterator<Item = (&'p Vec<u8>, &'p Option<Vec<u8>>)> + 'p {
        use std::ops::Bound;
        let end = match super::caches::prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.entries
            .range::<Vec<u8>, _>((Bound::Included(prefix.to_vec()), end))
    }
}

/// A sled tree written through an in-memory map.
#[derive(Clone)]
pub struct Deferred {
    tree: Tree,
    pending: Arc<Mutex<Pending>>,
    /// set when sled refused a batch (the map was dropped), until cleared
    refused: Arc<AtomicBool>,
}

impl Deferred {
    /// Writes to `tree` go through the map.
    pub fn new(tree: Tree) -> Self {
        Self {
            tree,
            pending: Arc::new(Mutex::new(Pending::default())),
            refused: Arc::new(AtomicBool::new(false)),
        }
    }

    /// True when sled refused a batch since [`Deferred::clear_refused`]:
    /// what the tree holds is older than what this process wrote.
    pub fn refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    /// Forgets a refusal (the caller has caught the tree up).
    pub fn clear_refused(&self) {
        self.refused.store(false, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value of `key`, as the last write left it.
    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>> {
        let key = key.as_ref();
        if let Some(v) = self.lock().entries.get(key) {
            return Ok(v.as_deref().map(IVec::from));
        }
        Ok(self.tree.get(key)?)
    }

    /// Applies puts (`Some`) and removals (`None`) at once: readers see
    /// all of them or none, and they reach sled in one batch. Hands the map
    /// to sled when it has grown too large.
    pub fn apply(
        &self,
        writes: impl IntoIterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        let mut pending = self.lock();
        for (k, v) in writes {
            pending.put(k, v);
        }
        if pending.bytes > PERSIST_BYTES || pending.entries.len() > PERSIST_ENTRIES {
            self.persist_locked(&mut pending)?;
        }
        Ok(())
    }

    /// True when writes wait in memory.
    pub fn is_dirty(&self) -> bool {
        !self.lock().entries.is_empty()
    }

    /// Gives every pending write to sled in one atomic batch (not synced).
    /// Returns whether there was anything to write.
    pub fn persist(&self) -> Result<bool> {
        let mut pending = self.lock();
        if pending.entries.is_empty() {
            return Ok(false);
        }
        self.persist_locked(&mut pending)?;
        Ok(true)
    }

    fn persist_locked(&self, pending: &mut Pending) -> Result<()> {
        let mut batch = sled::Batch::default();
        for (k, v) in &pending.entries {
            match v {
                Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                None => batch.remove(k.as_slice()),
            }
        }
        let applied = self.tree.apply_batch(batch);
        // Taken or refused, the map is emptied. Refused, what sled holds is
        // still exact at the older watermark it was given with it: the
        // caches fall behind (the writer then marks them so, and they are
        // caught up from there), and memory does not grow with every write
        // a failing disk refuses.
        *pending = Pending::default();
        if applied.is_err() {
            self.refused.store(true, Ordering::SeqCst);
        }
        Ok(applied?)
    }

    /// Forgets the pending writes and empties the sled tree.
    pub fn clear(&self) -> Result<()> {
        let mut pending = self.lock();
        *pending = Pending::default();
        self.tree.clear()?;
        Ok(())
    }

    /// The sled tree itself, with every pending write given to it first:
    /// for readers that scan it directly.
    pub fn persisted_tree(&self) -> Result<&Tree> {
        self.persist()?;
        Ok(&self.tree)
    }

    /// The entries under `prefix`, in key order, pending writes included.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(IVec, IVec)>> {
        let pending = self.lock();
        let mut overlay = pending.under(prefix).peekable();
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix(prefix) {
            let (k, v) = kv?;
            while let Some((pk, pv)) = overlay.next_if(|(pk, _)| pk.as_slice() < k.as_ref()) {
                if let Some(pv) = pv {
                    out.push((IVec::from(pk.as_slice()), IVec::from(pv.as_slice())));
                }
            }
            match overlay.next_if(|(pk, _)| pk.as_slice() == k.as_ref()) {
                Some((_, Some(pv))) => out.push((k, IVec::from(pv.as_slice()))),
                Some((_, None)) => {}
                None => out.push((k, v)),
            }
        }
        for (pk, pv) in overlay {
            if let Some(pv) = pv {
                out.push((IVec::from(pk.as_slice()), IVec::from(pv.as_slice())));
            }
        }
        Ok(out)
    }

    /// The last entry under `prefix`, pending writes included.
    pub fn last_under(&self, prefix: &[u8]) -> Result<Option<(IVec, IVec)>> {
        let pending = self.lock();
        let in_memory = pending.under(prefix).rev().find_map(|(k, v)| {
            v.as_ref()
                .map(|v| (IVec::from(k.as_slice()), IVec::from(v.as_slice())))
        });
        let mut in_sled = None;
        for kv in self.tree.scan_prefix(prefix).rev() {
            let (k, v) = kv?;
            // a key the map holds is the map's to say
            if !pending.entries.contains_key(k.as_ref()) {
                in_sled = Some((k, v));
                break;
            }
        }
        Ok(match (in_memory, in_sled) {
            (Some(a), Some(b)) => Some(if a.0 >= b.0 { a } else { b }),
            (a, b) => a.or(b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (sled::Db, Deferred) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let t = db.open_tree("t").unwrap();
        (db, Deferred::new(t))
    }

    fn keys(kvs: &[(IVec, IVec)]) -> Vec<(Vec<u8>, Vec<u8>)> {
        kvs.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    }

    /// A model check: random puts, removals, persists and clears against a
    /// `BTreeMap`, every read compared.
    #[test]
    fn reads_equal_a_map_of_every_write_whatever_was_persisted() {
        let (_db, d) = tree();
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut rng = fastrand::Rng::with_seed(11);
        for step in 0..4000 {
            let key = vec![rng.u8(0..3), rng.u8(0..6)];
            match rng.u8(0..10) {
                0..=5 => {
                    let value = vec![rng.u8(..); rng.usize(0..4)];
                    d.apply([(key.clone(), Some(value.clone()))]).unwrap();
                    model.insert(key.clone(), value);
                }
                6 | 7 => {
                    d.apply([(key.clone(), None)]).unwrap();
                    model.remove(&key);
                }
                8 => {
                    d.persist().unwrap();
                }
                _ if step % 500 == 0 => {
                    d.clear().unwrap();
                    model.clear();
                }
                _ => {}
            }
            let prefix = [key[0]];
            let want: Vec<(Vec<u8>, Vec<u8>)> = model
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            assert_eq!(keys(&d.scan_prefix(&prefix).unwrap()), want, "step {step}");
            assert_eq!(
                d.last_under(&prefix)
                    .unwrap()
                    .map(|(k, v)| (k.to_vec(), v.to_vec())),
                want.last().cloned(),
                "step {step}"
            );
            assert_eq!(
                d.get(&key).unwrap().map(|v| v.to_vec()),
                model.get(&key).cloned(),
                "step {step}"
            );
        }
        d.persist().unwrap();
        assert!(!d.is_dirty());
        let all: Vec<(Vec<u8>, Vec<u8>)> = d
            .persisted_tree()
            .unwrap()
            .iter()
            .map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect();
        assert_eq!(all, model.into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn a_large_map_goes_to_sled_by_itself() {
        let (_db, d) = tree();
        let value = vec![7u8; 1024];
        let n = PERSIST_BYTES / 1024 + 2;
        for i in 0..n {
            let key = u64::try_from(i).unwrap().to_be_bytes().to_vec();
            d.apply([(key, Some(value.clone()))]).unwrap();
        }
        assert!(d.lock().bytes < PERSIST_BYTES, "the map was not persisted");
        assert_eq!(d.scan_prefix(&[]).unwrap().len(), n);
    }
}
