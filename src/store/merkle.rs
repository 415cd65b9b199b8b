//! The stored part of the log's Merkle tree: tree `merkle`, a cache of the
//! log like the projections (recomputed from the events by `rebuild`,
//! compared with a recomputation by `verify`).
//!
//! | key | value |
//! | --- | --- |
//! | `state` | seq ‖ that event's chain hash ‖ the frontier (one 32-byte hash per bit set in seq, largest subtree first) |
//! | `t` ‖ tile number (u64 big-endian) | up to 256 hashes of 32 bytes: the heads of the subtrees of 256 leaves number `256·t …` |
//!
//! The `state` is the watermark: the cache is exact at that seq, and the hash
//! says which log it was computed from. A tile is the level-1 tile of C2SP
//! `tlog-tiles` (hashes at height 8); the leaf hashes (level 0) are not
//! stored but recomputed from the log, 256 events at most per proof.
//!
//! **Invariant:** the state and the tiles it needs are written together
//! (through the store's `Deferred` map, so in one atomic batch), after the events are durable and without a sync of
//! their own: a crash leaves an older, still exact, watermark.
//!
//! This is the whole interface the transparency layer has to the store:
//! [`Store::merkle_state`], [`Store::merkle_tile`], [`Store::merkle_tiles`],
//! [`Store::put_merkle`] and [`Store::clear_merkle`].

use super::{Result, Store, StoreError};
use crate::domain::{Digest, Seq};

pub(crate) const TREE: &str = "merkle";
const STATE: &[u8] = b"state";
const TILE: u8 = b't';

/// The hashes in a tile.
pub const TILE_WIDTH: usize = 256;

/// Where the Merkle cache stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerkleState {
    /// the last event folded in
    pub through: Seq,
    /// its chain hash
    pub through_hash: Digest,
    /// the frontier at `through` leaves, largest subtree first
    pub frontier: Vec<[u8; 32]>,
}

fn tile_key(index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = TILE;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

fn hashes_of(bytes: &[u8]) -> Option<Vec<[u8; 32]>> {
    let (chunks, rest) = bytes.as_chunks::<32>();
    rest.is_empty().then(|| chunks.to_vec())
}

fn corrupt(at: impl ToString, detail: &str) -> StoreError {
    StoreError::corrupt(TREE, at, detail.to_owned())
}

impl MerkleState {
    fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(40 + 32 * self.frontier.len());
        v.extend_from_slice(&self.through.0.to_be_bytes());
        v.extend_from_slice(&self.through_hash.0);
        for h in &self.frontier {
            v.extend_from_slice(h);
        }
        v
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        let (seq, rest) = bytes.split_first_chunk::<8>()?;
        let (hash, rest) = rest.split_first_chunk::<32>()?;
        Some(Self {
            through: Seq(u64::from_be_bytes(*seq)),
            through_hash: Digest(*hash),
            frontier: hashes_of(rest)?,
        })
    }
}

impl Store {
    /// Where the Merkle cache stands; `None` when it was never written.
    pub fn merkle_state(&self) -> Result<Option<MerkleState>> {
        match self.merkle.get(STATE)? {
            None => Ok(None),
            Some(v) => MerkleState::decode(&v)
                .map(Some)
                .ok_or_else(|| corrupt("state", "malformed Merkle state")),
        }
    }

    /// Tile `index` (the heads of the 256-leaf subtrees `256·index …`).
    pub fn merkle_tile(&self, index: u64) -> Result<Option<Vec<[u8; 32]>>> {
        match self.merkle.get(tile_key(index))? {
            None => Ok(None),
            Some(v) => hashes_of(&v)
                .filter(|h| h.len() <= TILE_WIDTH)
                .map(Some)
                .ok_or_else(|| corrupt(format!("tile {index}"), "malformed tile")),
        }
    }

    /// Every stored tile, in order, and any entry that is neither a tile nor
    /// the state (as an error), for `verify`.
    pub fn merkle_tiles(&self) -> Result<Vec<(u64, Vec<[u8; 32]>)>> {
        let mut out = Vec::new();
        let tree = self.merkle.persisted_tree()?;
        for kv in super::scan::ReadOnce::new(tree, tree.iter()) {
            let (k, v) = kv?;
            if k.as_ref() == STATE {
                continue;
            }
            let index = match k.split_first() {
                Some((&TILE, rest)) => super::keys::u64_of(rest),
                _ => None,
            }
            .ok_or_else(|| corrupt(format!("key {:02x?}", k.as_ref()), "unknown entry"))?;
            let hashes = hashes_of(&v)
                .filter(|h| h.len() <= TILE_WIDTH)
                .ok_or_else(|| corrupt(format!("tile {index}"), "malformed tile"))?;
            out.push((index, hashes));
        }
        Ok(out)
    }

    /// Writes the state and the tiles it changed, at once (no sync: it
    /// reaches sled with the caches' pending writes, and the next durable
    /// append or `sync` carries it).
    pub fn put_merkle(&self, state: &MerkleState, tiles: &[(u64, Vec<[u8; 32]>)]) -> Result<()> {
        self.merkle.apply(
            tiles
                .iter()
                .map(|(index, hashes)| (tile_key(*index).to_vec(), Some(hashes.concat())))
                .chain([(STATE.to_vec(), Some(state.encode()))]),
        )
    }

    /// Forgets the Merkle cache (before recomputing it from the log).
    pub fn clear_merkle(&self) -> Result<()> {
        self.merkle.clear()
    }
}
