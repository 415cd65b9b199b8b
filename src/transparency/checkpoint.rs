//! Checkpoints (C2SP `tlog-checkpoint`): the note text
//! `ORIGIN\nSIZE\nbase64(root)\n`, signed as a signed note.
//!
//! The origin names the log (non-empty; a schema-less URL is recommended);
//! the size is the decimal number of leaves, without leading zeros; the
//! root is the RFC 6962 head of the tree of that size. Extension lines, which
//! the spec allows but does not recommend, are kept when read and never
//! written.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::TransparencyError;
use super::merkle::Hash;
use super::note::{Note, NoteSignature, VerifierKey};

/// A checkpoint as read from its signed note (parsed, not verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// the log's name
    pub origin: String,
    /// the number of leaves
    pub size: u64,
    /// the head of the tree of `size` leaves
    pub root: Hash,
    /// extension lines, if any (pactum writes none)
    pub extensions: Vec<String>,
    /// the signature lines
    pub signatures: Vec<NoteSignature>,
    /// the signed text
    pub text: String,
}

/// The note text of a checkpoint.
pub fn body(origin: &str, size: u64, root: &Hash) -> Result<String, TransparencyError> {
    check_origin(origin)?;
    Ok(format!("{origin}\n{size}\n{}\n", B64.encode(root)))
}

fn check_origin(origin: &str) -> Result<(), TransparencyError> {
    let hidden = |c: char| c.is_control() || crate::domain::text::is_hidden(c);
    if origin.is_empty() || origin.chars().any(hidden) {
        return Err(TransparencyError::malformed(
            "origin",
            "it must be one non-empty line without control characters or characters \
             that show nothing or change how the text around them is shown",
        ));
    }
    Ok(())
}

impl Checkpoint {
    /// Parses a signed checkpoint.
    pub fn parse(text: &str) -> Result<Self, TransparencyError> {
        let note = Note::parse(text)?;
        let mut c = Self::parse_body(&note.text)?;
        c.signatures = note.signatures;
        Ok(c)
    }

    /// Parses an unsigned checkpoint body (the note text alone).
    pub fn parse_body(text: &str) -> Result<Self, TransparencyError> {
        let bad = |detail: &str| TransparencyError::malformed("checkpoint", detail.to_owned());
        let lines: Vec<&str> = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text must end with a newline"))?
            .split('\n')
            .collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(bad("expected an origin, a size and a root hash"));
        };
        check_origin(origin)?;
        let digits_ok = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (*size == "0" || !size.starts_with('0'));
        let size: u64 = size
            .parse()
            .ok()
            .filter(|_| digits_ok)
            .ok_or_else(|| bad("the size is not a decimal number without leading zeros"))?;
        let root: Hash = B64
            .decode(root)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("the root is not the base64 of 32 bytes"))?;
        if extensions.iter().any(|l| l.is_empty()) {
            return Err(bad("an extension line is empty"));
        }
        Ok(Self {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|l| (*l).to_owned()).collect(),
            signatures: Vec::new(),
            text: text.to_owned(),
        })
    }

    /// Checks the signature of `key` on this checkpoint (see
    /// [`Note::verify`]).
    pub fn verify(&self, key: &VerifierKey) -> Result<(), TransparencyError> {
        Note {
            text: self.text.clone(),
            signatures: self.signatures.clone(),
        }
        .verify(key)
    }

    /// The root in base64, as the note writes it.
    pub fn root_base64(&self) -> String {
        B64.encode(self.root)
    }
}
