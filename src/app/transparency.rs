//! The registry's Merkle tree: kept up to date after each append (a cache
//! of the log, like the projections), and read for checkpoints and proofs.
//!
//! Cost: an append folds its events into the stored frontier (O(log n)
//! hashes each) and, every 256 events, adds one hash to a tile. A proof in
//! the tree of `n` leaves reads the tiles (n / 256 hashes), rebuilds the
//! upper levels it needs from them (at most n / 256 hashes), and reads back
//! at most two runs of 256 events from the log (the leaf's and the tail's)
//! to hash their leaves. Many proofs at once ([`Registry::inclusion_proofs`])
//! share all of that: each run of 256 events is read once, in seq order.
//!
//! **Invariant:** the leaf of an event is the RFC 8785 form of its JSON Lines
//! export line ([`leaf_line`]); nothing else is hashed into the tree.

use std::collections::HashMap;

use super::{AppError, Registry};
use crate::domain::{Digest, EventRecord, Seq};
use crate::store::merkle::{MerkleState, TILE_WIDTH};
use crate::store::{Store, StoreError};
use crate::transparency::merkle::{self, Leaves, Subtrees};
use crate::transparency::{
    self, Checkpoint, ConsistencyProof, Frontier, Hash, InclusionProof, TransparencyError,
};

/// The level of the stored hashes: subtrees of 2^8 = 256 leaves.
const TILE_LEVEL: u32 = 8;

/// Leaves per run read back from the log.
const RUN: u64 = 1 << TILE_LEVEL;

/// How many events a catch-up folds in before it writes its progress.
const CATCH_UP_BATCH: u64 = 1 << 16;

/// A registry that held more than this many events before an append, and
/// has no tree, gets it when it is first needed, not on the append's path.
const LAZY_ABOVE: u64 = 1 << 16;

/// A catch-up of at least this many events syncs the store.
const SYNC_AFTER: u64 = 1024;

/// The canonical leaf of an event: its JSON Lines export line in RFC 8785
/// form.
pub fn leaf_line(record: &EventRecord) -> Result<String, StoreError> {
    crate::transfer::leaf::canonical_line(record)
        .map_err(|e| corrupt("events", format!("seq {}", record.seq), e))
}

/// The events an append added: the event before the first (its seq and
/// hash; seq 0 and the genesis hash for an empty log) and the last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// the seq and hash of the event before the first one appended
    pub after: (Seq, Digest),
    /// the seq and hash of the last one
    pub last: (Seq, Digest),
}

/// The leaf hash of an event.
pub fn leaf_of(record: &EventRecord) -> Result<Hash, StoreError> {
    crate::transfer::leaf::canonical_leaf(record)
        .map_err(|e| corrupt("events", format!("seq {}", record.seq), e))
}

/// The leaf hashes of `records`, in order, hashed on the scans' worker
/// threads when there are many.
fn leaves_in_parallel(records: &[EventRecord]) -> Result<Vec<Hash>, StoreError> {
    const ALONE: usize = 64;
    let workers = crate::store::workers();
    if records.len() < ALONE || workers < 2 {
        return records.iter().map(leaf_of).collect();
    }
    let chunk = records.len().div_ceil(workers);
    std::thread::scope(|scope| {
        let mut chunks = records.chunks(chunk);
        let mine = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks
            .map(|c| scope.spawn(move || c.iter().map(leaf_of).collect::<Result<Vec<_>, _>>()))
            .collect();
        let mut out: Vec<Hash> = mine.iter().map(leaf_of).collect::<Result<_, _>>()?;
        for other in others {
            let leaves = other
                .join()
                .map_err(|_| corrupt("merkle", "leaves", "a worker thread failed"))??;
            out.extend(leaves);
        }
        Ok(out)
    })
}

fn tile_width() -> u64 {
    u64::try_from(TILE_WIDTH).unwrap_or(256)
}

fn corrupt(tree: &'static str, at: impl Into<String>, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        tree,
        at: at.into(),
        detail: detail.into(),
    }
}

fn merkle_corrupt(at: impl Into<String>, detail: impl Into<String>) -> AppError {
    AppError::Store(corrupt("merkle", at, detail))
}

/// Folds leaves into a frontier and collects the 256-leaf heads it
/// completes into tiles.
struct Folder {
    frontier: Frontier,
    tile_index: u64,
    tile: Vec<Hash>,
    tile_changed: bool,
    full_tiles: Vec<(u64, Vec<Hash>)>,
}

impl Folder {
    /// Resumes folding at `frontier`, with the stored tile it is filling.
    fn resume(store: &Store, frontier: Frontier) -> Result<Self, AppError> {
        let tile_index = frontier.size() / RUN / tile_width();
        let tile = store.merkle_tile(tile_index)?.unwrap_or_default();
        Ok(Self {
            frontier,
            tile_index,
            tile,
            tile_changed: false,
            full_tiles: Vec::new(),
        })
    }

    fn push(&mut self, leaf: Hash) -> Result<(), AppError> {
        let mut completed = None;
        self.frontier.push(leaf, |level, index, h| {
            if level == TILE_LEVEL {
                completed = Some((index, *h));
            }
        });
        if let Some((index, h)) = completed {
            let (t, pos) = (index / tile_width(), index % tile_width());
            if t != self.tile_index {
                let full = std::mem::take(&mut self.tile);
                self.full_tiles.push((self.tile_index, full));
                self.tile_index = t;
            }
            if u64::try_from(self.tile.len()).ok() != Some(pos) {
                return Err(merkle_corrupt(
                    format!("tile {t}"),
                    "the tile does not hold the hashes before this one",
                ));
            }
            self.tile.push(h);
            self.tile_changed = true;
        }
        Ok(())
    }

    fn write(&mut self, store: &Store, through: Seq, hash: Digest) -> Result<(), AppError> {
        let mut tiles = std::mem::take(&mut self.full_tiles);
        if self.tile_changed {
            tiles.push((self.tile_index, self.tile.clone()));
        }
        store.put_merkle(
            &MerkleState {
                through,
                through_hash: hash,
                frontier: self.frontier.hashes().to_vec(),
            },
            &tiles,
        )?;
        self.tile_changed = false;
        Ok(())
    }
}

/// A run of leaves read back from the log.
struct Run {
    index: u64,
    lines: Vec<String>,
    hashes: Vec<Hash>,
}

/// The perfect subtrees of the tree of `size` leaves, from the store: tiles
/// for 256-leaf heads, the log for anything smaller, memoised above.
struct StoredTree<'a> {
    store: &'a Store,
    size: u64,
    upper: HashMap<(u32, u64), Hash>,
    tiles: HashMap<u64, Vec<Hash>>,
    /// the tail's run (needed by every proof) and the last other one
    tail: Option<Run>,
    other: Option<Run>,
}

impl<'a> StoredTree<'a> {
    fn new(store: &'a Store, size: u64) -> Self {
        Self {
            store,
            size,
            upper: HashMap::new(),
            tiles: HashMap::new(),
            tail: None,
            other: None,
        }
    }

    fn read_run(&self, index: u64) -> Result<Run, AppError> {
        let first = index * RUN;
        let count = self.size.saturating_sub(first).min(RUN);
        let mut run = Run {
            index,
            lines: Vec::new(),
            hashes: Vec::new(),
        };
        let mut expected = first + 1;
        for record in self
            .store
            .events_from(Seq(first + 1))
            .take(usize::try_from(count).unwrap_or(usize::MAX))
        {
            let record = record?;
            if record.seq.0 != expected {
                return Err(AppError::Store(corrupt(
                    "events",
                    format!("seq {expected}"),
                    "missing: the log has a gap",
                )));
            }
            expected += 1;
            let line = leaf_line(&record)?;
            run.hashes.push(transparency::leaf_hash_of(&line));
            run.lines.push(line);
        }
        if expected != first + count + 1 {
            return Err(AppError::Store(corrupt(
                "events",
                format!("seq {expected}"),
                "missing: the log ends early",
            )));
        }
        Ok(run)
    }

    /// The run that holds leaf run `index`.
    fn run(&mut self, index: u64) -> Result<&Run, AppError> {
        let tail_index = self.size.saturating_sub(1) / RUN;
        let slot = if index == tail_index {
            &self.tail
        } else {
            &self.other
        };
        if slot.as_ref().is_none_or(|r| r.index != index) {
            let run = self.read_run(index)?;
            if index == tail_index {
                self.tail = Some(run);
            } else {
                self.other = Some(run);
            }
        }
        let slot = if index == tail_index {
            &self.tail
        } else {
            &self.other
        };
        slot.as_ref()
            .ok_or_else(|| AppError::Other("a run of leaves was not kept".into()))
    }

    fn leaf(&mut self, index: u64) -> Result<(String, Hash), AppError> {
        let at = usize::try_from(index % RUN).unwrap_or(usize::MAX);
        let run = self.run(index / RUN)?;
        match (run.lines.get(at), run.hashes.get(at)) {
            (Some(l), Some(h)) => Ok((l.clone(), *h)),
            _ => Err(AppError::invalid(format!(
                "event #{} is not in the tree of {} events",
                index + 1,
                self.size
            ))),
        }
    }
}

impl Subtrees for StoredTree<'_> {
    type Error = AppError;

    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, AppError> {
        if level > TILE_LEVEL {
            if let Some(h) = self.upper.get(&(level, index)) {
                return Ok(*h);
            }
            let left = self.perfect(level - 1, 2 * index)?;
            let right = self.perfect(level - 1, 2 * index + 1)?;
            let h = merkle::node_hash(&left, &right);
            self.upper.insert((level, index), h);
            return Ok(h);
        }
        if level == TILE_LEVEL {
            let t = index / tile_width();
            if !self.tiles.contains_key(&t) {
                let tile = self.store.merkle_tile(t)?.unwrap_or_default();
                self.tiles.insert(t, tile);
            }
            let pos = usize::try_from(index % tile_width()).unwrap_or(usize::MAX);
            return self
                .tiles
                .get(&t)
                .and_then(|tile| tile.get(pos))
                .copied()
                .ok_or_else(|| {
                    merkle_corrupt(
                        format!("tile {t}"),
                        "a stored hash is missing (run pactum rebuild)",
                    )
                });
        }
        let first = index << level;
        let width = usize::try_from(1u64 << level).unwrap_or(usize::MAX);
        let at = usize::try_from(first % RUN).unwrap_or(usize::MAX);
        let run = self.run(first / RUN)?;
        run.hashes
            .get(at..at.saturating_add(width))
            .map(Leaves::mth)
            .ok_or_else(|| AppError::Other(format!("no subtree {index} at level {level}")))
    }
}

/// The Merkle tree recomputed by `verify`, to compare with the stored one
/// and with a checkpoint.
pub(crate) struct MerkleCheck {
    folder: Folder,
    stored: Result<Option<MerkleState>, String>,
    at_stored: Option<Frontier>,
    checkpoint: Option<(u64, Hash)>,
    at_checkpoint: Option<Hash>,
    /// the leaves of a copy of the log that hashes to the checkpoint
    copy: Option<Vec<Hash>>,
    first_difference: Option<u64>,
    broken: bool,
}

impl MerkleCheck {
    pub(crate) fn new(
        store: &Store,
        checkpoint: Option<&Checkpoint>,
        copy: Option<Vec<Hash>>,
    ) -> Self {
        let stored = store.merkle_state().map_err(|e| e.to_string());
        let at_stored = match &stored {
            Ok(Some(s)) if s.through == Seq::ZERO => Some(Frontier::new()),
            _ => None,
        };
        let checkpoint = checkpoint.map(|c| (c.size, c.root));
        Self {
            folder: Folder {
                frontier: Frontier::new(),
                tile_index: 0,
                tile: Vec::new(),
                tile_changed: false,
                full_tiles: Vec::new(),
            },
            stored,
            at_stored,
            at_checkpoint: checkpoint
                .filter(|(size, _)| *size == 0)
                .map(|_| merkle::empty_root()),
            checkpoint,
            copy,
            first_difference: None,
            broken: false,
        }
    }

    /// Folds in the next event's leaf (`None`: the event cannot be read).
    pub(crate) fn push(&mut self, leaf: Option<Hash>) {
        let Some(leaf) = leaf.filter(|_| !self.broken) else {
            self.broken = true;
            return;
        };
        let index = self.folder.frontier.size();
        if self.first_difference.is_none()
            && let Some(copy) = &self.copy
            && usize::try_from(index)
                .ok()
                .and_then(|i| copy.get(i))
                .is_some_and(|h| *h != leaf)
        {
            self.first_difference = Some(index + 1);
        }
        if self.folder.push(leaf).is_err() {
            self.broken = true;
            return;
        }
        let size = self.folder.frontier.size();
        if let Ok(Some(s)) = &self.stored
            && s.through.0 == size
        {
            self.at_stored = Some(self.folder.frontier.clone());
        }
        if let Some((n, _)) = self.checkpoint
            && n == size
        {
            self.at_checkpoint = Some(self.folder.frontier.root());
        }
    }

    /// The tree recomputed (size and root), unless some event could not be
    /// read.
    pub(crate) fn head(&self) -> Option<(u64, Hash)> {
        (!self.broken).then(|| (self.folder.frontier.size(), self.folder.frontier.root()))
    }

    /// The problems found: `(tree, at, detail)`.
    pub(crate) fn finish(mut self, store: &Store) -> Vec<(&'static str, String, String)> {
        let mut out = Vec::new();
        let size = self.folder.frontier.size();
        if self.broken {
            out.push((
                "merkle",
                "*".to_owned(),
                "not recomputed: some events cannot be read".to_owned(),
            ));
        }
        if let Some((n, root)) = self.checkpoint
            && !self.broken
        {
            match self.at_checkpoint {
                None => out.push((
                    "checkpoint",
                    format!("seq {}", self.first_difference.unwrap_or(size + 1)),
                    match self.first_difference {
                        Some(k) => format!(
                            "the log holds {size} events but the checkpoint covers {n}: the history was truncated, and event #{k} differs from the published copy"
                        ),
                        None => format!(
                            "the log holds {size} events but the checkpoint covers {n}: the history was truncated"
                        ),
                    },
                )),
                Some(r) if r != root && self.first_difference.is_some() => out.push((
                    "checkpoint",
                    format!("seq {}", self.first_difference.unwrap_or(0)),
                    format!(
                        "the first {n} events do not hash to the checkpoint's root: event #{} is the first that differs from the published copy (rewritten, reordered or replaced)",
                        self.first_difference.unwrap_or(0)
                    ),
                )),
                Some(r) if r != root => out.push((
                    "checkpoint",
                    format!("seq 1..{n}"),
                    format!(
                        "the first {n} events do not hash to the checkpoint's root: the history it covers was rewritten, reordered or replaced"
                    ),
                )),
                Some(_) => {}
            }
        }
        if self.broken {
            return out;
        }
        match &self.stored {
            Err(e) => out.push(("merkle", "state".to_owned(), e.clone())),
            Ok(None) => {}
            Ok(Some(s)) => match &self.at_stored {
                None => out.push((
                    "merkle",
                    "state".to_owned(),
                    format!(
                        "the cache says it holds {} events, the log has {size}",
                        s.through
                    ),
                )),
                Some(f) if f.hashes() != s.frontier.as_slice() => out.push((
                    "merkle",
                    "state".to_owned(),
                    format!(
                        "the frontier at #{} differs from a recomputation",
                        s.through
                    ),
                )),
                Some(_) => {
                    let matches_log = store
                        .event(s.through)
                        .ok()
                        .flatten()
                        .map_or(s.through == Seq::ZERO, |r| r.hash == s.through_hash);
                    if !matches_log {
                        out.push((
                            "merkle",
                            "state".to_owned(),
                            format!("the watermark #{} names another event", s.through),
                        ));
                    }
                }
            },
        }
        // Tiles: each stored one must equal the recomputed one (cut at the
        // watermark); none may be missing below it.
        let mut recomputed = std::mem::take(&mut self.folder.full_tiles);
        if !self.folder.tile.is_empty() {
            recomputed.push((self.folder.tile_index, self.folder.tile.clone()));
        }
        let through = match &self.stored {
            Ok(Some(s)) => s.through.0,
            _ => 0,
        };
        let heads_below = through / RUN;
        match store.merkle_tiles() {
            Err(e) => out.push(("merkle", "tiles".to_owned(), e.to_string())),
            Ok(stored) => {
                let stored: HashMap<u64, Vec<Hash>> = stored.into_iter().collect();
                for (t, want) in &recomputed {
                    let start = t * tile_width();
                    let n = usize::try_from(heads_below.saturating_sub(start).min(tile_width()))
                        .unwrap_or(usize::MAX);
                    let want = &want[..n.min(want.len())];
                    let have = stored.get(t).map_or(&[][..], |v| v.as_slice());
                    if want.is_empty() && have.is_empty() {
                        continue;
                    }
                    if have != want {
                        out.push((
                            "merkle",
                            format!("tile {t}"),
                            "differs from a recomputation".to_owned(),
                        ));
                    }
                }
                for t in stored.keys() {
                    if !recomputed.iter().any(|(r, _)| r == t) {
                        out.push((
                            "merkle",
                            format!("tile {t}"),
                            "a tile a recomputation would not make".to_owned(),
                        ));
                    }
                }
            }
        }
        out
    }
}

impl Registry {
    /// Brings the stored Merkle tree up to the head of the log, and returns
    /// its frontier there. A stored tree that does not belong to this log
    /// (its watermark names another event) is recomputed from the start.
    pub fn merkle_catch_up(&self) -> Result<Frontier, AppError> {
        let store = self.store();
        let _writer = store.write_lock();
        let head = store.head()?;
        let state = match store.merkle_state() {
            Ok(s) => s,
            Err(StoreError::Corrupt { detail, .. }) => {
                // a cache: a damaged state is recomputed, not fatal
                tracing::warn!(%detail, "the stored Merkle tree is damaged: recomputing it");
                store.clear_merkle()?;
                None
            }
            Err(e) => return Err(e.into()),
        };
        let start = match state {
            None => None,
            Some(s) => {
                let belongs = s.through <= head.seq
                    && if s.through == Seq::ZERO {
                        s.through_hash == Digest::GENESIS
                    } else {
                        store.event(s.through)?.map(|r| r.hash) == Some(s.through_hash)
                    };
                let frontier = Frontier::from_parts(s.through.0, s.frontier);
                match frontier.filter(|_| belongs) {
                    Some(f) => Some((f, s.through, s.through_hash)),
                    None => {
                        tracing::warn!(
                            through = %s.through,
                            "the stored Merkle tree does not match the log: recomputing it"
                        );
                        None
                    }
                }
            }
        };
        let (frontier, from, hash) = match start {
            Some(s) => s,
            None => {
                store.clear_merkle()?;
                (Frontier::new(), Seq::ZERO, Digest::GENESIS)
            }
        };
        if from == head.seq {
            if from == Seq::ZERO && store.merkle_state()?.is_none() {
                // mark the empty tree as computed
                store.put_merkle(
                    &MerkleState {
                        through: Seq::ZERO,
                        through_hash: Digest::GENESIS,
                        frontier: Vec::new(),
                    },
                    &[],
                )?;
            }
            return Ok(frontier);
        }
        let mut folder = Folder::resume(store, frontier)?;
        let mut last = (from, hash);
        let mut failure: Option<AppError> = None;
        let from_next = from
            .next()
            .ok_or_else(|| AppError::Other("the log is full".into()))?;
        let map = |key: &[u8], value: &[u8]| -> Result<Vec<(Seq, Digest, Hash)>, StoreError> {
            crate::store::log::decode_segment(key, value)?
                .iter()
                .filter(|r| r.seq >= from_next)
                .map(|r| Ok((r.seq, r.hash, leaf_of(r)?)))
                .collect()
        };
        store
            .log()
            .scan_ordered(from_next, crate::store::workers(), &map, &mut |segment| {
                // the first segment read may begin before `from_next`
                for (seq, hash, leaf) in segment?.into_iter().filter(|(s, _, _)| *s >= from_next) {
                    if seq.0 != last.0.0 + 1 {
                        return Err(corrupt(
                            "log",
                            format!("seq {}", last.0.0 + 1),
                            "missing: the log has a gap",
                        ));
                    }
                    if let Err(e) = folder.push(leaf) {
                        failure = Some(e);
                        return Err(corrupt("merkle", "tiles", "cannot be extended"));
                    }
                    last = (seq, hash);
                    if seq.0.is_multiple_of(CATCH_UP_BATCH)
                        && let Err(e) = folder.write(store, seq, hash)
                    {
                        failure = Some(e);
                        return Err(corrupt("merkle", "state", "cannot be written"));
                    }
                }
                Ok(())
            })
            .map_err(|e| failure.take().unwrap_or(AppError::Store(e)))?;
        folder.write(store, last.0, last.1)?;
        if last.0.0 - from.0 >= SYNC_AFTER {
            // A long catch-up (an import, a first computation) is made
            // durable so that it is not done again; a short one rides on
            // the next append's sync.
            store.sync()?;
        }
        Ok(folder.frontier)
    }

    /// After a durable append of `records`: folds them into the Merkle tree
    /// if it stands just before them (the usual case: no log read, each
    /// leaf hashed once), else catches it up from the log
    /// ([`Registry::merkle_after_append`]).
    pub(crate) fn merkle_after_commit(&self, records: &[EventRecord]) {
        match self.merkle_extend(records) {
            Ok(true) => {}
            // a tree that does not end just before them, or that cannot be
            // read or extended, is caught up (or recomputed) from the log
            Ok(false) | Err(_) => {
                self.merkle_after_append(u64::try_from(records.len()).unwrap_or(u64::MAX))
            }
        }
    }

    /// Folds `records` into the stored tree when it ends just before them;
    /// false (and nothing written) when it does not.
    fn merkle_extend(&self, records: &[EventRecord]) -> Result<bool, AppError> {
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(true);
        };
        let Some(before) = first.seq.0.checked_sub(1) else {
            return Ok(false);
        };
        let span = Appended {
            after: (Seq(before), first.prev_hash),
            last: (last.seq, last.hash),
        };
        self.merkle_extend_with(span, &leaves_in_parallel(records)?)
    }

    /// After a durable append of the events of `span`, whose leaves are
    /// `leaves` (in order, hashed by the caller): folds them into the
    /// stored tree when it ends just before them, without reading the log
    /// back (an import hashes its leaves while it checks the file). Else,
    /// or on failure, the tree is caught up from the log.
    pub(crate) fn merkle_after_import(&self, span: Appended, leaves: &[Hash]) {
        if !matches!(self.merkle_extend_with(span, leaves), Ok(true)) {
            self.merkle_after_append(u64::try_from(leaves.len()).unwrap_or(u64::MAX));
        }
    }

    /// Folds `leaves`, those of the events of `span`, into the stored tree
    /// if it ends at `span.after` (or is not computed yet and `span` starts
    /// the log) and the log at `span.last`; false (and nothing written)
    /// if not. A long extension is synced, as a catch-up is.
    fn merkle_extend_with(&self, span: Appended, leaves: &[Hash]) -> Result<bool, AppError> {
        let expected = span.last.0.0.checked_sub(span.after.0.0);
        if expected != u64::try_from(leaves.len()).ok() || leaves.is_empty() {
            return Ok(false);
        }
        let store = self.store();
        let _writer = store.write_lock();
        let head = store.head()?;
        if (head.seq, head.hash) != span.last {
            return Ok(false);
        }
        let frontier = match store.merkle_state()? {
            Some(state) if (state.through, state.through_hash) == span.after => {
                match Frontier::from_parts(state.through.0, state.frontier) {
                    Some(f) => f,
                    None => return Ok(false),
                }
            }
            None if span.after == (Seq::ZERO, Digest::GENESIS) => {
                store.clear_merkle()?;
                Frontier::new()
            }
            _ => return Ok(false),
        };
        let mut folder = Folder::resume(store, frontier)?;
        for leaf in leaves {
            folder.push(*leaf)?;
        }
        // written once: interrupted, the tree is caught up from the log
        folder.write(store, span.last.0, span.last.1)?;
        if u64::try_from(leaves.len()).unwrap_or(u64::MAX) >= SYNC_AFTER {
            store.sync()?;
        }
        Ok(true)
    }

    /// After a durable append of `appended` events: brings the Merkle tree
    /// up to date. A failure is logged, not returned (the events are
    /// durable; the tree is caught up the next time it is needed).
    ///
    /// A registry that already held many events but has no tree yet (it was
    /// made before the tree existed) does not get it computed on the path of
    /// one command: the first command that needs the tree computes it.
    pub(crate) fn merkle_after_append(&self, appended: u64) {
        let lazy = matches!(self.store().merkle_state(), Ok(None))
            && self
                .store()
                .head()
                .is_ok_and(|h| h.seq.0.saturating_sub(appended) > LAZY_ABOVE);
        if lazy {
            tracing::debug!("no Merkle tree yet: it is computed when first needed");
            return;
        }
        if let Err(e) = self.merkle_catch_up() {
            tracing::warn!(error = %e, "the Merkle tree is not up to date");
        }
    }

    /// Forgets and recomputes the Merkle tree (part of `rebuild`).
    pub fn rebuild_merkle(&self) -> Result<Frontier, AppError> {
        {
            let _writer = self.store().write_lock();
            self.store().clear_merkle()?;
        }
        self.merkle_catch_up()
    }

    /// The size of the tree at the head, and its root.
    pub fn tree_head(&self) -> Result<(u64, Hash), AppError> {
        let f = self.merkle_catch_up()?;
        Ok((f.size(), f.root()))
    }

    /// The root of the tree of the first `size` events.
    pub fn tree_root(&self, size: u64) -> Result<Hash, AppError> {
        let f = self.merkle_catch_up()?;
        check_size(size, f.size())?;
        if size == f.size() {
            return Ok(f.root());
        }
        merkle::root(&mut StoredTree::new(self.store(), size), size)
    }

    /// The checkpoint body (C2SP `tlog-checkpoint` note text) of the tree of
    /// `size` events (default: the head), to print or sign.
    pub fn checkpoint_body(&self, origin: &str, size: Option<u64>) -> Result<String, AppError> {
        let size = match size {
            Some(s) => s,
            None => self.merkle_catch_up()?.size(),
        };
        let root = self.tree_root(size)?;
        Ok(transparency::checkpoint::body(origin, size, &root)?)
    }

    /// The inclusion proofs of the events at `seqs`, in that order, in the
    /// tree of `size` events, computed together: each run of 256 events is
    /// read once, and the upper levels are hashed once for all.
    pub fn inclusion_proofs(
        &self,
        seqs: &[Seq],
        size: u64,
    ) -> Result<Vec<InclusionProof>, AppError> {
        let head = self.merkle_catch_up()?.size();
        check_size(size, head)?;
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|i| seqs[*i]);
        let mut tree = StoredTree::new(self.store(), size);
        let mut out: Vec<Option<InclusionProof>> = vec![None; seqs.len()];
        for i in order {
            let seq = seqs[i];
            if seq.0 == 0 || seq.0 > size {
                return Err(AppError::invalid(format!(
                    "event #{seq} is not in the tree of {size} events"
                )));
            }
            let index = seq.0 - 1;
            let hashes = merkle::inclusion_proof(&mut tree, index, size)?.ok_or_else(|| {
                AppError::invalid(format!("event #{seq} is not in the tree of {size} events"))
            })?;
            let (leaf, _) = tree.leaf(index)?;
            out[i] = Some(InclusionProof {
                seq: seq.0,
                leaf_index: index,
                tree_size: size,
                leaf,
                hashes,
            });
        }
        out.into_iter()
            .map(|p| p.ok_or_else(|| AppError::Other("a proof was not made".into())))
            .collect()
    }

    /// The consistency proof between the trees of `first` and `second`
    /// events.
    pub fn consistency_proof(&self, first: u64, second: u64) -> Result<ConsistencyProof, AppError> {
        let head = self.merkle_catch_up()?.size();
        check_size(second, head)?;
        if first > second {
            return Err(AppError::invalid(format!(
                "a consistency proof goes from a smaller tree to a larger one, not {first} → {second}"
            )));
        }
        let mut tree = StoredTree::new(self.store(), second);
        let hashes = merkle::consistency_proof(&mut tree, first, second)?
            .ok_or_else(|| AppError::invalid("the first size is larger than the second"))?;
        Ok(ConsistencyProof {
            first,
            second,
            hashes,
        })
    }
}

/// The longest line read from a copy of the log (one event of the export):
/// the copy is streamed, and a line longer than this is refused.
pub const COPY_LINE_MAX: u64 = 16 * 1024 * 1024;

/// The leaves of the first `checkpoint.size` lines of a copy of the JSON
/// Lines log (as published beside the checkpoint, or kept by a witness),
/// after checking that they hash to the checkpoint's root: with it, `verify`
/// names the first event of the registry that differs.
pub fn copy_leaves(
    mut export: impl std::io::BufRead,
    checkpoint: &Checkpoint,
) -> Result<Vec<Hash>, AppError> {
    use std::io::{BufRead as _, Read as _};
    let n = usize::try_from(checkpoint.size).unwrap_or(usize::MAX);
    let mut leaves = Vec::new();
    let mut line = Vec::new();
    let mut number = 0usize;
    while leaves.len() < n {
        line.clear();
        number += 1;
        let read = export
            .by_ref()
            .take(COPY_LINE_MAX + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| AppError::invalid(format!("cannot read the copy of the log: {e}")))?;
        if read == 0 {
            break;
        }
        if !u64::try_from(line.len()).is_ok_and(|l| l <= COPY_LINE_MAX) {
            return Err(AppError::invalid(format!(
                "line {number} of the copy is longer than {COPY_LINE_MAX} bytes: it is not an export of events"
            )));
        }
        let text = std::str::from_utf8(&line).map_err(|_| {
            AppError::invalid(format!("line {number} of the copy is not UTF-8 text"))
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            AppError::invalid(format!("line {number} of the copy is not JSON: {e}"))
        })?;
        leaves.push(transparency::leaf_hash_of(&transparency::canonical(
            &value,
        )?));
    }
    let fail = |detail: String| {
        AppError::Transparency(TransparencyError::ProofFailed {
            what: "the copy of the log".into(),
            detail,
        })
    };
    if leaves.len() < n {
        return Err(fail(format!(
            "it holds {} events, the checkpoint covers {n}",
            leaves.len()
        )));
    }
    let mut frontier = Frontier::new();
    for leaf in &leaves {
        frontier.push(*leaf, |_, _, _| {});
    }
    if frontier.root() != checkpoint.root {
        return Err(fail(
            "its first events do not hash to the checkpoint's root: it is not the log that was signed"
                .into(),
        ));
    }
    Ok(leaves)
}

fn check_size(size: u64, head: u64) -> Result<(), AppError> {
    if size > head {
        return Err(AppError::invalid_with(
            format!("the log holds {head} events, not {size}"),
            super::Advice::SizeUpToHead,
        ));
    }
    Ok(())
}

impl From<TransparencyError> for AppError {
    fn from(e: TransparencyError) -> Self {
        AppError::Transparency(e)
    }
}
