//! Signed notes (C2SP `signed-note`) with Ed25519 keys: the key pair, the
//! verifier key `NAME+hex(key id)+base64(0x01 ‖ public key)`, the private
//! key file, signing a note text and checking a note's signatures.
//!
//! A signed note is a text ending in a newline, a blank line, then one or
//! more lines `— NAME base64(key id ‖ signature)`. The Ed25519 signature
//! (RFC 8032, the `ed25519-dalek` crate) is over the text, final newline
//! included. The key id is the first four bytes of
//! `SHA-256(NAME ‖ 0x0A ‖ 0x01 ‖ public key)`.
//!
//! The private key file holds one line in the form Go's
//! `golang.org/x/mod/sumdb/note` uses, so that its tools can read it:
//! `PRIVATE+KEY+NAME+hex(key id)+base64(0x01 ‖ 32-byte seed)`.
//!
//! **Invariant:** this module writes no cryptography: hashing is `sha2`,
//! signatures are `ed25519-dalek`, randomness is `getrandom`, and base64 is
//! the `base64` crate (standard alphabet, padded, as RFC 4648 §4 says).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use super::TransparencyError;

/// The signature type byte of Ed25519 in signed notes.
const ED25519: u8 = 0x01;

/// The prefix of a private key line.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// The em dash (U+2014) and space that open a signature line.
const SIGNATURE_MARK: &str = "\u{2014} ";

/// The most signature lines a note may carry (the spec asks for at least 16).
pub const MAX_SIGNATURES: usize = 100;

/// The longest note read (a checkpoint is well under a kilobyte).
pub const MAX_NOTE_BYTES: usize = 1 << 20;

/// Checks a key name: non-empty, no Unicode space, no `+`.
pub fn check_name(name: &str) -> Result<(), TransparencyError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(TransparencyError::malformed(
            "key name",
            format!(
                "'{}' must be non-empty, without spaces or '+'",
                crate::domain::text::shown(name)
            ),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(TransparencyError::malformed(
            "key name",
            "it holds a control character",
        ));
    }
    // a name shown as another one (a right-to-left override, a zero-width
    // joiner) would misstate who signed
    if name.chars().any(crate::domain::text::is_hidden) {
        return Err(TransparencyError::malformed(
            "key name",
            "it holds a character that shows nothing or changes how the text around it is shown",
        ));
    }
    Ok(())
}

/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]`.
pub fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ED25519]);
    h.update(public);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex4(text: &str) -> Option<[u8; 4]> {
    if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = u32::from_str_radix(text, 16).ok()?;
    Some(n.to_be_bytes())
}

/// A public key that checks signatures of one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    /// Parses `NAME+hex(key id)+base64(0x01 ‖ public key)`; the id must be
    /// the one the name and key give.
    pub fn parse(text: &str) -> Result<Self, TransparencyError> {
        let bad = |detail: &str| TransparencyError::malformed("verifier key", detail.to_owned());
        let text = text.trim();
        // the base64 key may itself hold '+': it is the rest of the line
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected NAME+KEYID+KEY"));
        };
        check_name(name)?;
        let id = unhex4(id).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let bytes = B64.decode(key).map_err(|_| bad("the key is not base64"))?;
        let Some((&ED25519, public)) = bytes.split_first() else {
            return Err(bad("not an Ed25519 key (type byte 0x01)"));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key is 32 bytes"))?;
        if key_id(name, &public) != id {
            return Err(bad("the key id does not match the name and key"));
        }
        let key =
            VerifyingKey::from_bytes(&public).map_err(|_| bad("not a valid Ed25519 public key"))?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn id(&self) -> [u8; 4] {
        self.id
    }

    /// True when `signature` is this key's over `text`.
    fn verifies(&self, text: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature).is_ok_and(|s| self.key.verify_strict(text, &s).is_ok())
    }
}

impl std::fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex4(&self.id), B64.encode(bytes))
    }
}

/// A private key that signs notes under one name.
pub struct SignerKey {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for SignerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignerKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl SignerKey {
    /// A new key pair for `name`, from the operating system's randomness.
    pub fn generate(name: &str) -> Result<Self, TransparencyError> {
        check_name(name)?;
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|e| TransparencyError::Random(e.to_string()))?;
        Ok(Self::from_seed(name, &seed))
    }

    /// The key pair of a 32-byte seed (RFC 8032's private key).
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Self {
        Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        }
    }

    /// Parses the private key line `PRIVATE+KEY+NAME+hex(id)+base64(0x01 ‖ seed)`.
    pub fn parse(text: &str) -> Result<Self, TransparencyError> {
        let bad = |detail: &str| TransparencyError::malformed("private key", detail.to_owned());
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or_else(|| bad("expected a line PRIVATE+KEY+NAME+KEYID+KEY"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad("expected PRIVATE+KEY+NAME+KEYID+KEY"));
        };
        check_name(name)?;
        let id = unhex4(id).ok_or_else(|| bad("the key id is not 8 hex digits"))?;
        let bytes =
            zeroize::Zeroizing::new(B64.decode(key).map_err(|_| bad("the key is not base64"))?);
        let Some((&ED25519, seed)) = bytes.split_first() else {
            return Err(bad("not an Ed25519 key (type byte 0x01)"));
        };
        let seed: &[u8; 32] = seed
            .try_into()
            .map_err(|_| bad("an Ed25519 private key is 32 bytes"))?;
        let signer = Self::from_seed(name, seed);
        if signer.verifier().id() != id {
            return Err(bad("the key id does not match the name and key"));
        }
        Ok(signer)
    }

    /// The private key line (a secret: write it only to a `0600` file).
    pub fn to_private_line(&self) -> zeroize::Zeroizing<String> {
        let mut bytes = zeroize::Zeroizing::new(vec![ED25519]);
        bytes.extend_from_slice(&self.key.to_bytes());
        zeroize::Zeroizing::new(format!(
            "{PRIVATE_PREFIX}{}+{}+{}\n",
            self.name,
            hex4(&self.verifier().id()),
            B64.encode(bytes.as_slice())
        ))
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> VerifierKey {
        let key = self.key.verifying_key();
        VerifierKey {
            id: key_id(&self.name, key.as_bytes()),
            name: self.name.clone(),
            key,
        }
    }

    /// Signs a note text (it must end in a newline): the text, the blank
    /// line and one signature line.
    pub fn sign(&self, text: &str) -> Result<String, TransparencyError> {
        check_text(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut bytes = self.verifier().id().to_vec();
        bytes.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_MARK}{} {}\n",
            self.name,
            B64.encode(bytes)
        ))
    }
}

/// Checks a note text: UTF-8 (it is a `str`), no control character but
/// newline, ending in a newline.
fn check_text(text: &str) -> Result<(), TransparencyError> {
    if !text.ends_with('\n') {
        return Err(TransparencyError::malformed(
            "note",
            "the text must end with a newline",
        ));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(TransparencyError::malformed(
            "note",
            "it holds a control character",
        ));
    }
    Ok(())
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// the key name
    pub name: String,
    /// the key id (first four bytes of the decoded signature)
    pub key_id: [u8; 4],
    /// the signature proper
    pub signature: Vec<u8>,
}

/// A note, split into its text and its signature lines (not yet verified).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// the signed text, its final newline included
    pub text: String,
    /// the signature lines, in order
    pub signatures: Vec<NoteSignature>,
}

impl Note {
    /// Splits a signed note. Fails on anything the format does not allow.
    pub fn parse(note: &str) -> Result<Self, TransparencyError> {
        let bad = |detail: String| TransparencyError::malformed("signed note", detail);
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad(format!("longer than {MAX_NOTE_BYTES} bytes")));
        }
        check_text(note)?;
        // The text ends at the last blank line.
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures".into()))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        let mut signatures = Vec::new();
        for line in sigs.lines() {
            let rest = line.strip_prefix(SIGNATURE_MARK).ok_or_else(|| {
                bad(format!(
                    "'{}' is not a signature line",
                    crate::domain::text::shown(line)
                ))
            })?;
            let (name, sig) = rest.split_once(' ').ok_or_else(|| {
                bad(format!(
                    "'{}' is not a signature line",
                    crate::domain::text::shown(line)
                ))
            })?;
            check_name(name)?;
            let bytes = B64.decode(sig).map_err(|_| {
                bad(format!(
                    "the signature of {} is not base64",
                    crate::domain::text::shown(name)
                ))
            })?;
            let (id, signature) = bytes.split_first_chunk::<4>().ok_or_else(|| {
                bad(format!(
                    "the signature of {} is too short",
                    crate::domain::text::shown(name)
                ))
            })?;
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: *id,
                signature: signature.to_vec(),
            });
            if signatures.len() > MAX_SIGNATURES {
                return Err(bad(format!("more than {MAX_SIGNATURES} signatures")));
            }
        }
        if signatures.is_empty() {
            return Err(bad("no signature line".into()));
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// Checks the note against a known key, as the spec says: signatures of
    /// other keys (another name or id) are ignored; one of this key that
    /// fails rejects the note; at least one must verify.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), TransparencyError> {
        let mut verified = false;
        for s in &self.signatures {
            if s.name != key.name || s.key_id != key.id {
                continue;
            }
            if !key.verifies(self.text.as_bytes(), &s.signature) {
                return Err(TransparencyError::BadSignature {
                    key: key.name.clone(),
                });
            }
            verified = true;
        }
        if verified {
            Ok(())
        } else {
            Err(TransparencyError::NotSigned {
                key: key.to_string(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_private_key_line_reads_back_as_the_same_key() {
        let k = SignerKey::from_seed("example.org/pactum", &[7; 32]);
        let line = k.to_private_line();
        let back = SignerKey::parse(&line).expect("parse");
        assert_eq!(back.verifier(), k.verifier());
        assert!(line.starts_with("PRIVATE+KEY+example.org/pactum+"));
    }

    #[test]
    fn names_with_spaces_or_plus_are_refused() {
        for name in [
            "",
            "a b",
            "a+b",
            "a\u{a0}b",
            "gov.ma/\u{202e}elpmaxe",
            "a\u{200b}b",
        ] {
            assert!(check_name(name).is_err(), "{name:?}");
        }
        assert!(check_name("example.org/log").is_ok());
    }
}
