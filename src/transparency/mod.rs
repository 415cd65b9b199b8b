//! Transparency: the log as an RFC 6962 Merkle tree, signed checkpoints
//! (C2SP `tlog-checkpoint` as a C2SP `signed-note`, Ed25519), and inclusion
//! and consistency proofs (RFC 9162 §2.1), so that anyone holding a
//! published checkpoint can check an entry, or the whole log, without
//! trusting the registry's keeper. See `docs/transparency.md`.
//!
//! Leaf `i` of the tree is the event with seq `i + 1`; the leaf's bytes are
//! the event's JSON Lines export line canonicalised by RFC 8785 (JCS, the
//! `serde_json_canonicalizer` crate), UTF-8, without a newline.
//!
//! **Invariant:** this module knows nothing of sled, files or the command
//! line: it hashes, signs, parses and checks values handed to it. It writes
//! no cryptography and no JSON canonicaliser of its own.

pub mod checkpoint;
pub mod merkle;
pub mod note;
pub mod proof;

pub use checkpoint::Checkpoint;
pub use merkle::{Frontier, Hash};
pub use note::{Note, NoteSignature, SignerKey, VerifierKey};
pub use proof::{ConsistencyProof, InclusionProof};

/// The largest integer JCS writes exactly (2^53): numbers are IEEE 754
/// doubles in RFC 8785.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// What can go wrong with keys, notes, checkpoints and proofs.
#[derive(Debug, thiserror::Error)]
pub enum TransparencyError {
    /// A key, note, checkpoint or proof that does not follow its format.
    #[error("{what}: {detail}")]
    Malformed {
        /// what was read
        what: &'static str,
        /// what is wrong with it
        detail: String,
    },
    /// A signature of the known key that does not verify.
    #[error(
        "the signature of {key} does not verify: the note was altered or signed by another key"
    )]
    BadSignature {
        /// the key's name
        key: String,
    },
    /// No signature of the known key.
    #[error("the note is not signed by {key}")]
    NotSigned {
        /// the verifier key
        key: String,
    },
    /// A proof that does not hold.
    #[error("{what} fails: {detail}")]
    ProofFailed {
        /// which proof
        what: String,
        /// why
        detail: String,
    },
    /// The operating system gave no randomness.
    #[error("no randomness for a new key: {0}")]
    Random(String),
}

impl TransparencyError {
    /// A malformed-input error.
    pub fn malformed(what: &'static str, detail: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            detail: detail.into(),
        }
    }
}

/// The canonical form (RFC 8785) of a JSON value: the bytes of a leaf.
/// Fails on an integer JCS cannot write exactly (above 2^53).
pub fn canonical(value: &serde_json::Value) -> Result<String, TransparencyError> {
    check_exact(value)?;
    serde_json_canonicalizer::to_string(value)
        .map_err(|e| TransparencyError::malformed("leaf", e.to_string()))
}

/// Refuses integers that have no exact canonical form.
fn check_exact(value: &serde_json::Value) -> Result<(), TransparencyError> {
    fn exact(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => {
                n.as_u64().is_some_and(|n| n <= MAX_EXACT_INTEGER)
                    || n.as_i64()
                        .is_some_and(|n| n.unsigned_abs() <= MAX_EXACT_INTEGER)
                    || n.is_f64()
            }
            serde_json::Value::Array(a) => a.iter().all(exact),
            serde_json::Value::Object(o) => o.values().all(exact),
            _ => true,
        }
    }
    if exact(value) {
        Ok(())
    } else {
        Err(TransparencyError::malformed(
            "leaf",
            "an integer above 2^53 has no exact canonical form",
        ))
    }
}

/// The leaf hash of a canonical line.
pub fn leaf_hash_of(canonical_line: &str) -> Hash {
    merkle::leaf_hash(canonical_line.as_bytes())
}
