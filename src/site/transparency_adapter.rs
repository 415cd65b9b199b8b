//! **ADAPTER, to be replaced by the transparency module.** The site needs
//! four things from the signed checkpoints and proofs: `Checkpoint::parse`,
//! a check of its signature against a verifier key (`Checkpoint::verify`
//! here), `Registry::checkpoint_body` (to compare the checkpoint's root
//! with the log's) and `Registry::inclusion_proofs`. Until the
//! module that owns them (`crate::transparency`) is part of the code, this
//! file provides them under the same names, computed from the standards'
//! definitions: the log as an RFC 6962 / RFC 9162 Merkle tree whose leaf i
//! is the event of seq i + 1 as its JSON Lines line canonicalised by
//! RFC 8785, a C2SP `tlog-checkpoint` signed as a C2SP `signed-note` with
//! Ed25519.
//!
//! At merge: delete this file, `use crate::transparency::{Checkpoint,
//! InclusionProof}` in `site/mod.rs`, drop the [`Transparency`] trait (its
//! methods are `Registry`'s own there), and call the module's signature
//! check where `site::check_checkpoint` calls `Checkpoint::verify`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::{AppError, Registry};
use crate::domain::Seq;

/// One event's inclusion proof: design's JSON object
/// `{seq, leaf_index, tree_size, leaf, hashes}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InclusionProof {
    /// the event's seq
    pub seq: u64,
    /// its leaf index (seq - 1)
    pub leaf_index: u64,
    /// the size of the tree it is proved in
    pub tree_size: u64,
    /// the leaf: the event's canonical JSON line
    pub leaf: String,
    /// the audit path, bottom up, base64
    pub hashes: Vec<String>,
}

/// A parsed checkpoint (signed note): its body and signature lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// the log's origin line
    pub origin: String,
    /// the tree size
    pub size: u64,
    /// the root hash
    pub root: [u8; 32],
    /// the signed body: every line before the blank line, each with its newline
    pub body: String,
    /// the signature lines: key name and base64(key hash ‖ signature)
    pub signatures: Vec<(String, String)>,
}

impl Checkpoint {
    /// Parses a signed checkpoint (parse only; [`Checkpoint::verify`] checks it).
    pub fn parse(text: &str) -> Result<Checkpoint, String> {
        let (body, sigs) = text
            .split_once("\n\n")
            .ok_or("a signed note has its body, a blank line, then signature lines")?;
        let body = format!("{body}\n");
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or("no origin line")?;
        let size = lines
            .next()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the second line is not a tree size")?;
        let root: [u8; 32] = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| r.try_into().ok())
            .ok_or("the third line is not a base64 SHA-256 root")?;
        let mut signatures = Vec::new();
        for line in sigs.lines().filter(|l| !l.is_empty()) {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or("a signature line starts with an em dash and a space")?;
            let (name, sig) = rest
                .rsplit_once(' ')
                .ok_or("a signature line is NAME SIGNATURE")?;
            signatures.push((name.to_owned(), sig.to_owned()));
        }
        if signatures.is_empty() {
            return Err("the note has no signature".into());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            body,
            signatures,
        })
    }

    /// Checks that one signature line verifies with the verifier key
    /// `NAME+hex(key hash)+base64(0x01 ‖ public key)`.
    pub fn verify(&self, vkey: &str) -> Result<(), String> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(hash_hex), Some(key_b64)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err("a verifier key is NAME+KEYHASH+KEY".into());
        };
        let key = B64
            .decode(key_b64)
            .map_err(|_| "the verifier key's last part is not base64")?;
        let [0x01, public @ ..] = key.as_slice() else {
            return Err("the verifier key is not an Ed25519 key (0x01 ‖ 32 bytes)".into());
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| "an Ed25519 public key has 32 bytes")?;
        let key_hash = key_hash(name, &public);
        if hex(&key_hash) != hash_hex.to_ascii_lowercase() {
            return Err("the verifier key's hash does not match its name and key".into());
        }
        let verifying = ed25519_dalek::VerifyingKey::from_bytes(&public)
            .map_err(|_| "the verifier key is not a valid Ed25519 point")?;
        for (line_name, sig) in &self.signatures {
            let Ok(bytes) = B64.decode(sig) else { continue };
            if line_name != name || bytes.len() != 68 || bytes[..4] != key_hash {
                continue;
            }
            let Ok(sig) = <[u8; 64]>::try_from(&bytes[4..]) else {
                continue;
            };
            let sig = ed25519_dalek::Signature::from_bytes(&sig);
            return verifying
                .verify_strict(self.body.as_bytes(), &sig)
                .map_err(|_| format!("the signature of '{name}' does not verify"));
        }
        Err(format!("the checkpoint has no signature by '{name}'"))
    }
}

/// The first 4 bytes of SHA-256(NAME ‖ 0x0A ‖ 0x01 ‖ public key).
fn key_hash(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x01]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of `leaves` (RFC 9162 §2.1.1), pushing onto `paths[i]` the
/// sibling hashes of every leaf that has a slot, bottom up: one pass,
/// O(n log n) for all proofs at once.
fn walk(leaves: &[[u8; 32]], offset: usize, paths: &mut [Option<Vec<[u8; 32]>>]) -> [u8; 32] {
    match leaves {
        [] => Sha256::digest([]).into(),
        [one] => *one,
        _ => {
            // the largest power of two smaller than n (n >= 2)
            let mut k = 1;
            while k * 2 < leaves.len() {
                k *= 2;
            }
            let (l, r) = leaves.split_at(k);
            let left = walk(l, offset, paths);
            let right = walk(r, offset + k, paths);
            for (i, slot) in paths.iter_mut().enumerate().skip(offset).take(leaves.len()) {
                if let Some(path) = slot {
                    path.push(if i < offset + k { right } else { left });
                }
            }
            node_hash(&left, &right)
        }
    }
}

/// What the site asks of the registry (the transparency module puts this
/// method on `Registry` itself).
pub trait Transparency {
    /// Inclusion proofs of `seqs` in the tree of the first `size` events.
    fn inclusion_proofs(&self, seqs: &[Seq], size: u64) -> Result<Vec<InclusionProof>, AppError>;
    /// The checkpoint body `ORIGIN\nN\nbase64(root)\n` of the tree of the
    /// first `size` events (the head when `None`).
    fn checkpoint_body(&self, origin: &str, size: Option<u64>) -> Result<String, AppError>;
}

/// The canonical lines of the first `size` events.
fn canonical_lines(registry: &Registry, size: u64) -> Result<Vec<String>, AppError> {
    let mut raw = Vec::new();
    let n = registry.export_jsonl(Seq(size), &mut raw, &mut |_| {})?;
    if n != size {
        return Err(AppError::invalid(format!(
            "the checkpoint is of {size} events but the log holds {n}"
        )));
    }
    let text = String::from_utf8(raw).map_err(|e| AppError::Other(e.to_string()))?;
    text.lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|e| AppError::Other(e.to_string()))?;
            serde_jcs::to_string(&value).map_err(|e| AppError::Other(e.to_string()))
        })
        .collect()
}

impl Transparency for Registry {
    fn inclusion_proofs(&self, seqs: &[Seq], size: u64) -> Result<Vec<InclusionProof>, AppError> {
        let lines = canonical_lines(self, size)?;
        let hashes: Vec<[u8; 32]> = lines.iter().map(|l| leaf_hash(l.as_bytes())).collect();
        let mut paths: Vec<Option<Vec<[u8; 32]>>> = vec![None; lines.len()];
        for seq in seqs {
            if let Some(slot) = usize::try_from(seq.0)
                .ok()
                .and_then(|s| s.checked_sub(1))
                .and_then(|i| paths.get_mut(i))
            {
                *slot = Some(Vec::new());
            }
        }
        walk(&hashes, 0, &mut paths);
        let mut out = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let index = usize::try_from(seq.0).ok().and_then(|s| s.checked_sub(1));
            let (Some(i), true) = (index, seq.0 >= 1 && seq.0 <= size) else {
                return Err(AppError::invalid(format!(
                    "#{seq} is not in the tree of {size} events"
                )));
            };
            out.push(InclusionProof {
                seq: seq.0,
                leaf_index: seq.0 - 1,
                tree_size: size,
                leaf: lines.get(i).cloned().unwrap_or_default(),
                hashes: paths
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_default()
                    .iter()
                    .map(|h| B64.encode(h))
                    .collect(),
            });
        }
        Ok(out)
    }

    fn checkpoint_body(&self, origin: &str, size: Option<u64>) -> Result<String, AppError> {
        let size = match size {
            Some(n) => n,
            None => self.head_seq()?.0,
        };
        let lines = canonical_lines(self, size)?;
        let hashes: Vec<[u8; 32]> = lines.iter().map(|l| leaf_hash(l.as_bytes())).collect();
        let root = walk(&hashes, 0, &mut []);
        Ok(format!("{origin}\n{size}\n{}\n", B64.encode(root)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MTH of RFC 9162 §2.1.1, written as the definition reads.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let mut k = 1;
        while k * 2 < leaves.len() {
            k *= 2;
        }
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    /// PATH of RFC 9162 §2.1.3.1, as the definition reads.
    fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
        if leaves.len() == 1 {
            return vec![];
        }
        let mut k = 1;
        while k * 2 < leaves.len() {
            k *= 2;
        }
        if m < k {
            let mut p = path(m, &leaves[..k]);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = path(m - k, &leaves[k..]);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    #[test]
    fn one_pass_gives_the_definitions_root_and_paths() {
        for n in 1..=20usize {
            let leaves: Vec<[u8; 32]> = (0..n)
                .map(|i| leaf_hash(&[u8::try_from(i).unwrap()]))
                .collect();
            let mut paths = vec![Some(Vec::new()); n];
            assert_eq!(walk(&leaves, 0, &mut paths), mth(&leaves), "n={n}");
            for (m, p) in paths.iter().enumerate() {
                assert_eq!(p.as_ref().unwrap(), &path(m, &leaves), "n={n} m={m}");
            }
        }
    }
}
