//! The proofs as they are published (JSON), and their checks against a
//! checkpoint.
//!
//! An inclusion proof is `{seq, leaf_index, tree_size, leaf, hashes}`: the
//! event at `seq` is leaf `leaf_index` (= seq − 1) of the tree of
//! `tree_size` leaves; `leaf` is its canonical JSON line (the bytes hashed),
//! `hashes` the RFC 9162 audit path, base64. A consistency proof is
//! `{first, second, hashes}`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::TransparencyError;
use super::checkpoint::Checkpoint;
use super::merkle::{self, Hash};

/// Hashes as base64 strings in JSON.
mod b64_hashes {
    use super::*;

    pub fn serialize<S: Serializer>(hashes: &[Hash], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(hashes.iter().map(|h| B64.encode(h)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Hash>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                B64.decode(t)
                    .ok()
                    .and_then(|b| Hash::try_from(b).ok())
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "'{}' is not the base64 of 32 bytes",
                            crate::domain::text::shown(t)
                        ))
                    })
            })
            .collect()
    }
}

/// The proof that one event is in the tree of a given size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// the event's log position
    pub seq: u64,
    /// its leaf index: `seq - 1`
    pub leaf_index: u64,
    /// the size of the tree it is proven in
    pub tree_size: u64,
    /// the leaf: the event's JSON line, canonical (RFC 8785)
    pub leaf: String,
    /// the audit path, from the leaf up
    #[serde(with = "b64_hashes")]
    pub hashes: Vec<Hash>,
}

/// The proof that a tree is a prefix of a larger one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// the smaller tree's size
    pub first: u64,
    /// the larger tree's size
    pub second: u64,
    /// the proof's hashes
    #[serde(with = "b64_hashes")]
    pub hashes: Vec<Hash>,
}

impl InclusionProof {
    /// Checks this proof against a checkpoint's root: the sizes agree, the
    /// leaf says it is event `seq`, `leaf_index` is `seq - 1`, the leaf is
    /// in canonical form, and the path leads to the root.
    pub fn check(&self, checkpoint: &Checkpoint) -> Result<(), TransparencyError> {
        let fail = |detail: String| TransparencyError::ProofFailed {
            what: format!("the proof of #{}", self.seq),
            detail,
        };
        if self.tree_size != checkpoint.size {
            return Err(fail(format!(
                "it is for a tree of {} events, the checkpoint for {}",
                self.tree_size, checkpoint.size
            )));
        }
        if self.seq.checked_sub(1) != Some(self.leaf_index) {
            return Err(fail(format!(
                "leaf_index {} is not seq - 1",
                self.leaf_index
            )));
        }
        let value: serde_json::Value = serde_json::from_str(&self.leaf).map_err(|e| {
            fail(format!(
                "the leaf is not JSON: {}",
                crate::domain::text::shown(&e.to_string())
            ))
        })?;
        if value.get("seq").and_then(serde_json::Value::as_u64) != Some(self.seq) {
            return Err(fail("the leaf is not the event with this seq".into()));
        }
        match super::canonical(&value) {
            Ok(c) if c == self.leaf => {}
            _ => return Err(fail("the leaf is not in canonical form (RFC 8785)".into())),
        }
        let leaf = merkle::leaf_hash(self.leaf.as_bytes());
        if merkle::verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &leaf,
            &self.hashes,
            &checkpoint.root,
        ) {
            Ok(())
        } else {
            Err(fail(
                "its hashes do not lead to the checkpoint's root".into(),
            ))
        }
    }
}

impl ConsistencyProof {
    /// Checks this proof between two checkpoints (the earlier first).
    pub fn check(&self, first: &Checkpoint, second: &Checkpoint) -> Result<(), TransparencyError> {
        let fail = |detail: String| TransparencyError::ProofFailed {
            what: format!("the consistency proof {} → {}", self.first, self.second),
            detail,
        };
        if self.first != first.size || self.second != second.size {
            return Err(fail(format!(
                "it is between trees of {} and {} events, the checkpoints are of {} and {}",
                self.first, self.second, first.size, second.size
            )));
        }
        if merkle::verify_consistency(
            self.first,
            self.second,
            &first.root,
            &second.root,
            &self.hashes,
        ) {
            Ok(())
        } else {
            Err(fail(
                "the larger tree does not extend the smaller one: history was rewritten".into(),
            ))
        }
    }
}
