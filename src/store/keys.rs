//! Key forms of the two trees, `log` and `cache`. All integers are
//! big-endian, so keys sort numerically.
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `log` | first seq of the segment | a segment (`codec`) |
//! | `cache` | `d` ‖ kind letter ‖ entity uuid | the entity's document (`codec`) |
//! | `cache` | `h` ‖ kind letter ‖ page number | the uuids of up to 256 handles |
//! | `cache` | `n` ‖ folded name ‖ 0 ‖ partner uuid | 1 current name, 0 former |
//! | `cache` | `p` ‖ partner uuid ‖ chunk number | up to 512 convention uuids |
//! | `cache` | `s` ‖ partner uuid | (empty): its stream holds a succession |
//! | `cache` | `w` | the watermark: seq ‖ hash the caches are exact at |
//! | `cache` | `v`, `r` | the cache format; set while a rebuild runs |
//! | `meta` | `format` | the registry's layout (`codec::REGISTRY_FORMAT`) |
//!
//! Every cache is a key prefix of the one `cache` tree, so that one
//! `apply_batch` updates all of them and the watermark atomically.
//!
//! Handles and parties are packed, so that the caches hold about one
//! entry per entity rather than one per fact: handle number `n` is slot
//! `(n − 1) mod 256` of page `(n − 1) div 256` of its kind (numbers start
//! at 1); a partner's conventions, in UUID order, fill its chunks 0, 1, …
//! with 512 each, only the last one partly. Both packings are a function
//! of the set they hold, so the entries written one append at a time are
//! the bytes a rebuild writes.

use uuid::Uuid;

use crate::domain::{Digest, EntityId, EntityKind, Handle, PartnerId, Seq};

/// `log` key: the first seq of a segment.
pub fn seq(seq: Seq) -> [u8; 8] {
    seq.0.to_be_bytes()
}

/// Prefix of the documents.
pub const DOC: u8 = b'd';
/// Prefix of the handle index.
pub const HANDLE: u8 = b'h';
/// Prefix of the name index.
pub const NAME: u8 = b'n';
/// Prefix of the party index.
pub const PARTY: u8 = b'p';
/// Prefix of the partners whose stream holds a succession.
pub const SUCCESSION: u8 = b's';
/// Key of the watermark.
pub const WATERMARK: &[u8] = b"w";
/// Key of the cache format.
pub const CACHE_FORMAT: &[u8] = b"v";
/// Key set while a rebuild runs.
pub const REBUILDING: &[u8] = b"r";
/// `meta` key of the registry's layout.
pub const FORMAT: &[u8] = b"format";
/// `meta` key set in a registry's files once `pactum compact` has put a
/// copy of them in their place.
pub const RETIRED: &[u8] = b"retired";

/// A document's key: the prefix, the entity's kind, its UUID, so that the
/// documents of one kind are read together.
pub fn doc(entity: EntityId) -> [u8; 18] {
    let mut k = [0u8; 18];
    k[..2].copy_from_slice(&docs_of(entity.kind()));
    k[2..].copy_from_slice(entity.uuid().as_bytes());
    k
}

/// The prefix of every document of a kind.
pub fn docs_of(kind: EntityKind) -> [u8; 2] {
    [DOC, kind_byte(kind)]
}

/// Handles in one page of the handle index.
pub const HANDLES_PER_PAGE: u64 = 256;

/// Conventions in one chunk of a partner's party index (8 KiB of UUIDs).
pub const PARTIES_PER_CHUNK: usize = 512;

/// The key of a page of handles.
pub fn handle_page(kind: EntityKind, page: u64) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[0] = HANDLE;
    k[1] = kind_byte(kind);
    k[2..].copy_from_slice(&page.to_be_bytes());
    k
}

/// The page key and slot of a handle; `None` for number 0, which no
/// entity has.
pub fn handle_slot(h: Handle) -> Option<([u8; 10], usize)> {
    let index = h.number.checked_sub(1)?;
    let slot = usize::try_from(index % HANDLES_PER_PAGE).ok()?;
    Some((handle_page(h.kind, index / HANDLES_PER_PAGE), slot))
}

/// The handle in a slot of a page.
pub fn handle_in(kind: EntityKind, page: u64, slot: usize) -> Option<Handle> {
    let first = page.checked_mul(HANDLES_PER_PAGE)?;
    let number = first
        .checked_add(u64::try_from(slot).ok()?)?
        .checked_add(1)?;
    Some(Handle { kind, number })
}

/// The prefix of every handle of a kind.
pub fn handles_of(kind: EntityKind) -> [u8; 2] {
    [HANDLE, kind_byte(kind)]
}

/// A name's key.
pub fn name(key: &str, partner: PartnerId) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 18);
    k.push(NAME);
    k.extend_from_slice(key.as_bytes());
    k.push(0);
    k.extend_from_slice(partner.as_bytes());
    k
}

/// The prefix of a partner's party chunks.
pub fn parties_of(partner: PartnerId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = PARTY;
    k[1..].copy_from_slice(partner.as_bytes());
    k
}

/// The key of a chunk of a partner's party index.
pub fn party_chunk(partner: PartnerId, chunk: u32) -> [u8; 21] {
    let mut k = [0u8; 21];
    k[..17].copy_from_slice(&parties_of(partner));
    k[17..].copy_from_slice(&chunk.to_be_bytes());
    k
}

/// The key saying that a partner's stream holds a succession.
pub fn succession(partner: PartnerId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = SUCCESSION;
    k[1..].copy_from_slice(partner.as_bytes());
    k
}

/// The watermark's value.
pub fn watermark_value(seq: Seq, hash: &Digest) -> [u8; 40] {
    let mut v = [0u8; 40];
    v[..8].copy_from_slice(&seq.0.to_be_bytes());
    v[8..].copy_from_slice(&hash.0);
    v
}

/// Reads a watermark value.
pub fn watermark_of(bytes: &[u8]) -> Option<(Seq, Digest)> {
    let (seq, hash) = bytes.split_at_checked(8)?;
    Some((Seq(u64_of(seq)?), Digest(hash.try_into().ok()?)))
}

/// The byte for an entity kind.
pub fn kind_byte(kind: EntityKind) -> u8 {
    match kind {
        EntityKind::Partner => b'P',
        EntityKind::Convention => b'C',
    }
}

/// The entity kind of a byte.
pub fn byte_kind(b: u8) -> Option<EntityKind> {
    match b {
        b'P' => Some(EntityKind::Partner),
        b'C' => Some(EntityKind::Convention),
        _ => None,
    }
}

/// Reads a big-endian u64 value.
pub fn u64_of(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Reads a 16-byte UUID.
pub fn uuid_of(bytes: &[u8]) -> Option<Uuid> {
    Some(Uuid::from_bytes(bytes.try_into().ok()?))
}

/// Reads a handle page's key (after its prefix byte): kind and page.
pub fn handle_page_of(bytes: &[u8]) -> Option<(EntityKind, u64)> {
    let (kind, page) = bytes.split_first()?;
    Some((byte_kind(*kind)?, u64_of(page)?))
}

/// Reads a party chunk's key (after its prefix byte): partner and chunk.
pub fn party_chunk_of(bytes: &[u8]) -> Option<(Uuid, u32)> {
    let (partner, chunk) = bytes.split_at_checked(16)?;
    Some((
        uuid_of(partner)?,
        u32::from_be_bytes(chunk.try_into().ok()?),
    ))
}
