//! The Merkle tree of RFC 6962 §2.1 (RFC 9162 §2.1): leaf and node hashes,
//! the tree head, inclusion and consistency proofs, and their verification.
//!
//! The hashes are SHA-256 (the `sha2` crate): a leaf is
//! `SHA-256(0x00 ‖ data)`, a node `SHA-256(0x01 ‖ left ‖ right)`, and the
//! head of the empty tree `SHA-256()`. The tree of `n` leaves splits at `k`,
//! the largest power of two smaller than `n`.
//!
//! Proofs are made from a [`Subtrees`] source: anything that can give the
//! hash of a *perfect* subtree (2^level leaves, aligned). Every range the
//! RFC's recursion asks for is either perfect or cut at the right edge of the
//! tree, so a proof costs O(log n) calls to the source (see [`range_hash`]).
//! [`Leaves`] is the naive source (all leaf hashes in memory), for tests and
//! small trees; the registry has its own (tiles in the store).
//!
//! **Invariant:** the verifiers ([`verify_inclusion`], [`verify_consistency`])
//! follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step and never panic, on any
//! input.

use sha2::{Digest as _, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`: the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// [`leaf_hash`] of bytes written in pieces (`std::io::Write`), so that a
/// leaf is hashed as it is written, never held whole.
pub struct LeafHasher(Sha256);

impl LeafHasher {
    /// A hasher that has taken the leaf's `0x00` prefix.
    pub fn new() -> Self {
        let mut h = Sha256::new();
        h.update([0u8]);
        Self(h)
    }

    /// `SHA-256(0x00 ‖ everything written)`.
    pub fn finish(self) -> Hash {
        self.0.finalize().into()
    }
}

impl Default for LeafHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl std::io::Write for LeafHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `SHA-256(0x01 ‖ left ‖ right)`: the hash of an inner node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The head of the empty tree: `SHA-256()` of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two smaller than `n` (`n >= 2`; 1 below that).
fn split(n: u64) -> u64 {
    1u64 << (63 - (n.max(2) - 1).leading_zeros())
}

/// Where the hashes of perfect subtrees come from.
pub trait Subtrees {
    /// Why a hash could not be had.
    type Error;
    /// The hash of the leaves `[index << level, (index + 1) << level)`.
    /// Only asked for subtrees that lie wholly inside the tree proven.
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, Self::Error>;
}

/// The hash of the leaves `[start, end)` as RFC 6962 defines it, for a range
/// that its recursion from `[0, n)` produces (`start` a multiple of the
/// smallest power of two not below `end - start`; `end > start`).
pub fn range_hash<S: Subtrees + ?Sized>(s: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let n = end - start;
    if n.is_power_of_two() {
        let level = n.trailing_zeros();
        return s.perfect(level, start >> level);
    }
    let k = split(n);
    let left = s.perfect(k.trailing_zeros(), start >> k.trailing_zeros())?;
    let right = range_hash(s, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The head of the tree of the first `size` leaves.
pub fn root<S: Subtrees + ?Sized>(s: &mut S, size: u64) -> Result<Hash, S::Error> {
    if size == 0 {
        Ok(empty_root())
    } else {
        range_hash(s, 0, size)
    }
}

/// The inclusion proof (RFC 9162 §2.1.3.1, `PATH(m, D[n])`) of leaf `index`
/// in the tree of `size` leaves; `None` when `index >= size`.
pub fn inclusion_proof<S: Subtrees + ?Sized>(
    s: &mut S,
    index: u64,
    size: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if index >= size {
        return Ok(None);
    }
    let mut out = Vec::new();
    // Walk down from the root, remembering the siblings; the proof lists them
    // from the leaf up.
    let (mut start, mut end) = (0u64, size);
    while end - start > 1 {
        let k = split(end - start);
        if index < start + k {
            out.push(range_hash(s, start + k, end)?);
            end = start + k;
        } else {
            out.push(range_hash(s, start, start + k)?);
            start += k;
        }
    }
    out.reverse();
    Ok(Some(out))
}

/// The consistency proof (RFC 9162 §2.1.4.1, `PROOF(m, D[n])`) between the
/// trees of `first` and `second` leaves; `None` unless
/// `first <= second`. Empty when `first` is 0 or equals `second`.
pub fn consistency_proof<S: Subtrees + ?Sized>(
    s: &mut S,
    first: u64,
    second: u64,
) -> Result<Option<Vec<Hash>>, S::Error> {
    if first > second {
        return Ok(None);
    }
    let mut out = Vec::new();
    if first == 0 || first == second {
        return Ok(Some(out));
    }
    // SUBPROOF(m, D[start:end], b), unrolled: the hashes it appends after
    // its recursive call are collected in `tail` and added in reverse.
    let mut tail = Vec::new();
    let (mut m, mut start, mut end, mut b) = (first, 0u64, second, true);
    loop {
        let n = end - start;
        if m == n {
            if !b {
                out.push(range_hash(s, start, end)?);
            }
            break;
        }
        let k = split(n);
        if m <= k {
            tail.push(range_hash(s, start + k, end)?);
            end = start + k;
        } else {
            tail.push(range_hash(s, start, start + k)?);
            m -= k;
            start += k;
            b = false;
        }
    }
    out.extend(tail.into_iter().rev());
    Ok(Some(out))
}

/// Checks an inclusion proof as RFC 9162 §2.1.3.2 says: true when `proof`
/// shows that `leaf` is leaf `index` of the tree of `size` leaves whose head
/// is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut fnode, mut snode) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            r = node_hash(p, &r);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    snode == 0 && r == *root
}

/// Checks a consistency proof as RFC 9162 §2.1.4.2 says: true when `proof`
/// shows that the tree of `first` leaves with head `first_root` is a prefix
/// of the tree of `second` leaves with head `second_root`. The empty tree is
/// a prefix of every tree (with an empty proof); a tree is consistent with
/// itself (equal heads, empty proof).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    proof: &[Hash],
) -> bool {
    if first > second {
        return false;
    }
    if first == 0 {
        return proof.is_empty();
    }
    if first == second {
        return proof.is_empty() && first_root == second_root;
    }
    // 1. an empty path fails
    let Some((head, rest)) = proof.split_first() else {
        return false;
    };
    // 2. a first tree of a power-of-two size starts the path with its head
    let (start, rest): (Hash, &[Hash]) = if first.is_power_of_two() {
        (*first_root, proof)
    } else {
        (*head, rest)
    };
    // 3.–4.
    let (mut fnode, mut snode) = (first - 1, second - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (start, start);
    // 6.
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    // 7.
    fr == *first_root && sr == *second_root && snode == 0
}

/// The compact form of a tree: the heads of its perfect subtrees, largest
/// (leftmost) first, one for each bit set in its size. Appending a leaf
/// costs O(log n) hashes; the head is their fold from the right.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A frontier from its parts; `None` unless there is one hash per bit set
    /// in `size`.
    pub fn from_parts(size: u64, hashes: Vec<Hash>) -> Option<Self> {
        (usize::try_from(size.count_ones()).ok() == Some(hashes.len()))
            .then_some(Self { size, hashes })
    }

    /// How many leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The heads of the perfect subtrees, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash. `completed` hears every inner node this
    /// completes, as (level, index): the node that covers the leaves
    /// `[index << level, (index + 1) << level)`.
    pub fn push(&mut self, leaf: Hash, mut completed: impl FnMut(u32, u64, &Hash)) {
        let mut h = leaf;
        let mut level = 0u32;
        let mut index = self.size;
        while (self.size >> level) & 1 == 1 {
            let Some(left) = self.hashes.pop() else {
                // unreachable: one hash per bit set in size (from_parts and
                // push keep it so)
                break;
            };
            h = node_hash(&left, &h);
            level += 1;
            index >>= 1;
            completed(level, index, &h);
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The head of the tree.
    pub fn root(&self) -> Hash {
        let mut it = self.hashes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |r, h| node_hash(h, &r))
    }
}

/// The naive source: every leaf hash in memory, subtrees hashed on demand.
#[derive(Clone, Debug, Default)]
pub struct Leaves(pub Vec<Hash>);

/// A subtree outside the leaves held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no subtree {index} at level {level} in a tree of {leaves} leaves")]
pub struct OutOfRange {
    /// the level asked for
    pub level: u32,
    /// the index asked for
    pub index: u64,
    /// leaves held
    pub leaves: usize,
}

impl Leaves {
    /// The RFC's `MTH` over a slice, by its recursive definition.
    pub fn mth(leaves: &[Hash]) -> Hash {
        match leaves {
            [] => empty_root(),
            [one] => *one,
            _ => {
                let n = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
                let k = usize::try_from(split(n)).unwrap_or(usize::MAX);
                let (l, r) = leaves.split_at(k);
                node_hash(&Self::mth(l), &Self::mth(r))
            }
        }
    }
}

impl Subtrees for Leaves {
    type Error = OutOfRange;
    fn perfect(&mut self, level: u32, index: u64) -> Result<Hash, OutOfRange> {
        let err = OutOfRange {
            level,
            index,
            leaves: self.0.len(),
        };
        let width = 1u64.checked_shl(level).ok_or(err)?;
        let start = index.checked_mul(width).ok_or(err)?;
        let end = start.checked_add(width).ok_or(err)?;
        let (start, end) = (
            usize::try_from(start).map_err(|_| err)?,
            usize::try_from(end).map_err(|_| err)?,
        );
        self.0.get(start..end).map(Self::mth).ok_or(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_the_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ] {
            assert_eq!(split(n), k, "n = {n}");
        }
    }
}
