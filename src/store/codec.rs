//! The stored form of events, log segments and cached documents: the only
//! module that knows the bytes.
//!
//! A log segment's body is `[len: u32 BE][event]…`: consecutive stored
//! events, each kept byte for byte as it was first written. The segment is
//! `[SEGMENT_FORMAT][body]`, or `[SEGMENT_LZ4][body len: u32 BE][LZ4
//! block of the body]` when that is shorter. A cached
//! document is `[PROJECTION_VERSION][kind][handle: u64 BE][bincode (seqs,
//! timeline)]`. A page of handles and a chunk of a partner's parties are
//! UUIDs end to end, 16 bytes each, in slot order and in UUID order.
//!
//! A stored event is `[format: u8][prev_hash: 32][hash: 32][body]`, where
//! `body` is the bincode 2 encoding (standard configuration: varints,
//! little endian) of the wire structs below, and `hash = BLAKE3(prev_hash ‖
//! body)`. The body is the event's *canonical bytes*: a future format must
//! still hash the same bytes for old events, which it can because they are
//! kept as written.
//!
//! **Invariant:** wire enums and struct fields are only ever appended, and
//! every vocabulary word has a fixed number here; `tests/it/golden.rs` holds
//! the bytes of every event variant and fails if they move.
//!
//! **Invariant:** decoding never panics and never allocates past
//! [`DECODE_LIMIT`]; trailing bytes, unknown numbers and values the domain
//! rejects (an impossible date, an empty name) are errors.
//!
//! bincode is unmaintained (RUSTSEC-2025-0141): every use of it stays in
//! this file so the format can move behind the same golden tests.

use bincode::{BorrowDecode, Decode, Encode};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::timeline::{Entry, Timeline};
use crate::domain::{
    Actor, AmendmentRef, AnyTimeline, ConventionAmended, ConventionAmendedPatch, ConventionChange,
    ConventionId, ConventionSigned, ConventionSignedPatch, ConventionTerminated,
    ConventionTerminatedPatch, Corrected, CountryCode, Digest, EntityId, Event, EventId,
    EventRecord, ExpiryChange, Instrument, Objectives, OfficialRef, PartialDate, PartnerChange,
    PartnerId, PartnerKind, PartnerName, PartnerRegistered, PartnerRegisteredPatch, PartnerRenamed,
    PartnerRenamedPatch, PartnerSucceeded, PartnerSucceededPatch, Patch, Reason, Retracted, Seq,
    ShortName, Source, TerminationKind,
};

/// The format byte written before every stored event.
pub const FORMAT_VERSION: u8 = 1;
/// The layout of the registry, recorded in its `meta` tree when it is
/// created: 1 was one sled entry per event in `events` with derived trees
/// beside it; 2 is the log of segments in `log` and the caches in `cache`;
/// 3 is format 2 whose segments may also be compressed ([`SEGMENT_LZ4`]).
pub const REGISTRY_FORMAT: u8 = 3;
/// The layout before [`REGISTRY_FORMAT`]: its bytes are bytes of format 3
/// (plain segments only), so it is read as it is, and its record becomes 3
/// before the first write that could store a compressed segment.
pub const REGISTRY_FORMAT_2: u8 = 2;
/// The layout of one entry per event, which `pactum upgrade` reads.
pub const REGISTRY_FORMAT_1: u8 = 1;
/// The format byte written before every stored projection value. A change
/// of the projection layout bumps it; projections are caches, so a registry
/// with another number is simply rebuilt.
/// 3: the name index also holds each partner's current short name, and a
/// partner's timeline keeps its successions beside its renames.
/// 4: one document per entity (handle, stream seqs, timeline) in the tree
/// `cache`, beside the other caches and their watermark.
/// 5: the partners whose stream holds a succession (prefix `s`).
/// 6: a document's key holds its entity's kind before its UUID.
/// 7: handles in pages of 256, a partner's parties in chunks of 512.
pub const PROJECTION_VERSION: u8 = 7;
/// The most bytes one decoded value may claim.
pub const DECODE_LIMIT: usize = 1 << 20;
/// Bytes before the body of a stored event.
pub const HEADER_LEN: usize = 1 + 32 + 32;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

/// Why stored bytes could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Shorter than the fixed header.
    #[error("truncated: {0} bytes")]
    Truncated(usize),
    /// An unknown format byte.
    #[error("unknown format version {0}")]
    Format(u8),
    /// bincode could not decode the body.
    #[error("undecodable: {0}")]
    Decode(String),
    /// Bytes left after the value.
    #[error("{0} trailing bytes")]
    Trailing(usize),
    /// A value the domain does not accept.
    #[error("invalid value: {0}")]
    Invalid(String),
    /// bincode could not encode (a value over the limit).
    #[error("unencodable: {0}")]
    Encode(String),
}

fn invalid(e: impl ToString) -> CodecError {
    CodecError::Invalid(e.to_string())
}

// ------------------------------------------------------------ packed uuids

/// The stored form of a page of handles or a chunk of parties: the UUIDs
/// end to end.
pub fn encode_uuids(uuids: &[Uuid]) -> Vec<u8> {
    uuids.iter().flat_map(|u| *u.as_bytes()).collect()
}

/// The UUIDs of a page of handles or a chunk of parties, at most `max`.
pub fn decode_uuids(bytes: &[u8], max: usize) -> Result<Vec<Uuid>, CodecError> {
    Ok(packed_uuids(bytes, max)?
        .iter()
        .map(|b| Uuid::from_bytes(*b))
        .collect())
}

/// The UUID in slot `i` of a page of handles (`None`: past its end).
pub fn uuid_at(bytes: &[u8], i: usize, max: usize) -> Result<Option<Uuid>, CodecError> {
    Ok(packed_uuids(bytes, max)?
        .get(i)
        .map(|b| Uuid::from_bytes(*b)))
}

fn packed_uuids(bytes: &[u8], max: usize) -> Result<&[[u8; 16]], CodecError> {
    let (uuids, rest) = bytes.as_chunks::<16>();
    if !rest.is_empty() || uuids.is_empty() || uuids.len() > max {
        return Err(invalid(format!(
            "{} bytes are not 1 to {max} UUIDs",
            bytes.len()
        )));
    }
    Ok(uuids)
}

// ---------------------------------------------------------------- wire types
//
// The wire types hold their strings as `&str`: encoding borrows them from
// the domain's values instead of copying each one first, and decoding
// borrows them from the stored bytes (bincode's `BorrowDecode`) instead of
// reading them into a zero-filled buffer: each string is copied once, by
// the domain type that checks it. `&str` and
// `String` have the same bytes in bincode 2: the format is unchanged (the
// golden tests hold it).

#[derive(Encode, Decode, Clone, Copy)]
struct WDate {
    year: u16,
    month: u8,
    day: u8,
}

#[derive(Encode, Decode)]
enum WEntity {
    Partner([u8; 16]),
    Convention([u8; 16]),
}

#[derive(Encode, BorrowDecode)]
struct WBody<'a> {
    seq: u64,
    id: [u8; 16],
    entity: WEntity,
    version: u64,
    recorded_at_micros: i64,
    actor: &'a str,
    reason: Option<&'a str>,
    source: Option<&'a str>,
    event: WEvent<'a>,
}

#[derive(Encode, BorrowDecode)]
struct WPartnerRegistered<'a> {
    name: &'a str,
    kind: u8,
    short_name: Option<&'a str>,
    country: Option<&'a str>,
}

#[derive(Encode, BorrowDecode)]
struct WPartnerRenamed<'a> {
    new_name: &'a str,
    short_name: Option<&'a str>,
    effective_on: WDate,
}

#[derive(Encode, Decode)]
struct WPartnerSucceeded {
    successors: Vec<[u8; 16]>,
    effective_on: WDate,
}

#[derive(Encode, BorrowDecode)]
struct WConventionSigned<'a> {
    instrument: u8,
    parties: Vec<[u8; 16]>,
    signed_on: WDate,
    objectives: &'a str,
    expires_on: Option<WDate>,
    official_ref: Option<&'a str>,
}

#[derive(Encode, Decode)]
enum WExpiry {
    Set(WDate),
    Cleared,
}

#[derive(Encode, BorrowDecode)]
struct WConventionAmended<'a> {
    effective_on: WDate,
    amendment_ref: Option<&'a str>,
    objectives: Option<&'a str>,
    parties_added: Vec<[u8; 16]>,
    parties_removed: Vec<[u8; 16]>,
    expiry: Option<WExpiry>,
    instrument: Option<u8>,
}

#[derive(Encode, Decode)]
struct WConventionTerminated {
    effective_on: WDate,
    kind: u8,
}

#[derive(Encode, BorrowDecode)]
struct WPartnerRegisteredPatch<'a> {
    name: Option<&'a str>,
    kind: Option<u8>,
    short_name: Option<Option<&'a str>>,
    country: Option<Option<&'a str>>,
}

#[derive(Encode, BorrowDecode)]
struct WPartnerRenamedPatch<'a> {
    new_name: Option<&'a str>,
    short_name: Option<Option<&'a str>>,
    effective_on: Option<WDate>,
}

#[derive(Encode, BorrowDecode)]
struct WConventionSignedPatch<'a> {
    instrument: Option<u8>,
    parties: Option<Vec<[u8; 16]>>,
    signed_on: Option<WDate>,
    objectives: Option<&'a str>,
    expires_on: Option<Option<WDate>>,
    official_ref: Option<Option<&'a str>>,
}

#[derive(Encode, BorrowDecode)]
struct WConventionAmendedPatch<'a> {
    effective_on: Option<WDate>,
    amendment_ref: Option<Option<&'a str>>,
    objectives: Option<Option<&'a str>>,
    parties_added: Option<Vec<[u8; 16]>>,
    parties_removed: Option<Vec<[u8; 16]>>,
    expiry: Option<Option<WExpiry>>,
    instrument: Option<Option<u8>>,
}

#[derive(Encode, Decode)]
struct WConventionTerminatedPatch {
    effective_on: Option<WDate>,
    kind: Option<u8>,
}

#[derive(Encode, Decode)]
struct WPartnerSucceededPatch {
    successors: Option<Vec<[u8; 16]>>,
    effective_on: Option<WDate>,
}

#[derive(Encode, BorrowDecode)]
enum WPatch<'a> {
    PartnerRegistered(WPartnerRegisteredPatch<'a>),
    PartnerRenamed(WPartnerRenamedPatch<'a>),
    ConventionSigned(WConventionSignedPatch<'a>),
    ConventionAmended(WConventionAmendedPatch<'a>),
    ConventionTerminated(WConventionTerminatedPatch),
    PartnerSucceeded(WPartnerSucceededPatch),
}

#[derive(Encode, BorrowDecode)]
enum WEvent<'a> {
    PartnerRegistered(WPartnerRegistered<'a>),
    PartnerRenamed(WPartnerRenamed<'a>),
    ConventionSigned(WConventionSigned<'a>),
    ConventionAmended(WConventionAmended<'a>),
    ConventionTerminated(WConventionTerminated),
    Corrected { target: [u8; 16], patch: WPatch<'a> },
    Retracted { target: [u8; 16] },
    PartnerSucceeded(WPartnerSucceeded),
}

// ------------------------------------------------------------ vocabularies

/// Fixed numbers of the vocabulary words. Append only.
const PARTNER_KINDS: &[PartnerKind] = &[
    PartnerKind::Ministry,
    PartnerKind::HighCommission,
    PartnerKind::Agency,
    PartnerKind::Academic,
    PartnerKind::Region,
    PartnerKind::Commune,
    PartnerKind::Ngo,
    PartnerKind::ForeignState,
    PartnerKind::InternationalOrganisation,
];
const INSTRUMENTS: &[Instrument] = &[
    Instrument::Convention,
    Instrument::Memorandum,
    Instrument::Agreement,
    Instrument::Charter,
];
const TERMINATION_KINDS: &[TerminationKind] =
    &[TerminationKind::Terminated, TerminationKind::Expired];

fn word_to_wire<T: PartialEq>(table: &[T], value: &T) -> u8 {
    // Invariant: every variant is in its table, and tables are short.
    table
        .iter()
        .position(|v| v == value)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(u8::MAX)
}

fn word_from_wire<T: Copy>(table: &[T], n: u8, what: &str) -> Result<T, CodecError> {
    table
        .get(usize::from(n))
        .copied()
        .ok_or_else(|| invalid(format!("unknown {what} number {n}")))
}

// --------------------------------------------------------- domain → wire

fn date_to_wire(d: PartialDate) -> WDate {
    let (year, month, day) = d.parts();
    WDate { year, month, day }
}

fn ids_to_wire(ids: &[PartnerId]) -> Vec<[u8; 16]> {
    ids.iter().map(|p| *p.as_bytes()).collect()
}

fn text_to_wire(s: &Option<impl AsRef<str>>) -> Option<&str> {
    s.as_ref().map(AsRef::as_ref)
}

fn country_to_wire(c: &Option<CountryCode>) -> Option<&str> {
    c.as_ref().map(CountryCode::as_str)
}

fn expiry_to_wire(e: ExpiryChange) -> WExpiry {
    match e {
        ExpiryChange::Set(d) => WExpiry::Set(date_to_wire(d)),
        ExpiryChange::Cleared => WExpiry::Cleared,
    }
}

fn registered_to_wire(e: &PartnerRegistered) -> WPartnerRegistered<'_> {
    WPartnerRegistered {
        name: e.name.as_str(),
        kind: word_to_wire(PARTNER_KINDS, &e.kind),
        short_name: text_to_wire(&e.short_name),
        country: country_to_wire(&e.country),
    }
}

fn renamed_to_wire(e: &PartnerRenamed) -> WPartnerRenamed<'_> {
    WPartnerRenamed {
        new_name: e.new_name.as_str(),
        short_name: text_to_wire(&e.short_name),
        effective_on: date_to_wire(e.effective_on),
    }
}

fn succeeded_to_wire(e: &PartnerSucceeded) -> WPartnerSucceeded {
    WPartnerSucceeded {
        successors: ids_to_wire(&e.successors),
        effective_on: date_to_wire(e.effective_on),
    }
}

fn signed_to_wire(e: &ConventionSigned) -> WConventionSigned<'_> {
    WConventionSigned {
        instrument: word_to_wire(INSTRUMENTS, &e.instrument),
        parties: ids_to_wire(&e.parties),
        signed_on: date_to_wire(e.signed_on),
        objectives: e.objectives.as_str(),
        expires_on: e.expires_on.map(date_to_wire),
        official_ref: text_to_wire(&e.official_ref),
    }
}

fn amended_to_wire(e: &ConventionAmended) -> WConventionAmended<'_> {
    WConventionAmended {
        effective_on: date_to_wire(e.effective_on),
        amendment_ref: text_to_wire(&e.amendment_ref),
        objectives: text_to_wire(&e.objectives),
        parties_added: ids_to_wire(&e.parties_added),
        parties_removed: ids_to_wire(&e.parties_removed),
        expiry: e.expiry.map(expiry_to_wire),
        instrument: e.instrument.map(|i| word_to_wire(INSTRUMENTS, &i)),
    }
}

fn terminated_to_wire(e: &ConventionTerminated) -> WConventionTerminated {
    WConventionTerminated {
        effective_on: date_to_wire(e.effective_on),
        kind: word_to_wire(TERMINATION_KINDS, &e.kind),
    }
}

fn patch_to_wire(p: &Patch) -> WPatch<'_> {
    match p {
        Patch::PartnerRegistered(p) => WPatch::PartnerRegistered(WPartnerRegisteredPatch {
            name: p.name.as_ref().map(PartnerName::as_str),
            kind: p.kind.map(|k| word_to_wire(PARTNER_KINDS, &k)),
            short_name: p.short_name.as_ref().map(text_to_wire),
            country: p.country.as_ref().map(country_to_wire),
        }),
        Patch::PartnerRenamed(p) => WPatch::PartnerRenamed(WPartnerRenamedPatch {
            new_name: p.new_name.as_ref().map(PartnerName::as_str),
            short_name: p.short_name.as_ref().map(text_to_wire),
            effective_on: p.effective_on.map(date_to_wire),
        }),
        Patch::ConventionSigned(p) => WPatch::ConventionSigned(WConventionSignedPatch {
            instrument: p.instrument.map(|i| word_to_wire(INSTRUMENTS, &i)),
            parties: p.parties.as_deref().map(ids_to_wire),
            signed_on: p.signed_on.map(date_to_wire),
            objectives: p.objectives.as_ref().map(Objectives::as_str),
            expires_on: p.expires_on.map(|e| e.map(date_to_wire)),
            official_ref: p.official_ref.as_ref().map(text_to_wire),
        }),
        Patch::ConventionAmended(p) => WPatch::ConventionAmended(WConventionAmendedPatch {
            effective_on: p.effective_on.map(date_to_wire),
            amendment_ref: p.amendment_ref.as_ref().map(text_to_wire),
            objectives: p.objectives.as_ref().map(text_to_wire),
            parties_added: p.parties_added.as_deref().map(ids_to_wire),
            parties_removed: p.parties_removed.as_deref().map(ids_to_wire),
            expiry: p.expiry.map(|e| e.map(expiry_to_wire)),
            instrument: p
                .instrument
                .map(|i| i.map(|i| word_to_wire(INSTRUMENTS, &i))),
        }),
        Patch::ConventionTerminated(p) => {
            WPatch::ConventionTerminated(WConventionTerminatedPatch {
                effective_on: p.effective_on.map(date_to_wire),
                kind: p.kind.map(|k| word_to_wire(TERMINATION_KINDS, &k)),
            })
        }
        Patch::PartnerSucceeded(p) => WPatch::PartnerSucceeded(WPartnerSucceededPatch {
            successors: p.successors.as_deref().map(ids_to_wire),
            effective_on: p.effective_on.map(date_to_wire),
        }),
    }
}

fn event_to_wire(e: &Event) -> WEvent<'_> {
    match e {
        Event::PartnerRegistered(e) => WEvent::PartnerRegistered(registered_to_wire(e)),
        Event::PartnerRenamed(e) => WEvent::PartnerRenamed(renamed_to_wire(e)),
        Event::ConventionSigned(e) => WEvent::ConventionSigned(signed_to_wire(e)),
        Event::ConventionAmended(e) => WEvent::ConventionAmended(amended_to_wire(e)),
        Event::ConventionTerminated(e) => WEvent::ConventionTerminated(terminated_to_wire(e)),
        Event::Corrected(c) => WEvent::Corrected {
            target: *c.target.as_bytes(),
            patch: patch_to_wire(&c.patch),
        },
        Event::Retracted(r) => WEvent::Retracted {
            target: *r.target.as_bytes(),
        },
        Event::PartnerSucceeded(e) => WEvent::PartnerSucceeded(succeeded_to_wire(e)),
    }
}

fn entity_to_wire(e: EntityId) -> WEntity {
    match e {
        EntityId::Partner(p) => WEntity::Partner(*p.as_bytes()),
        EntityId::Convention(c) => WEntity::Convention(*c.as_bytes()),
    }
}

// --------------------------------------------------------- wire → domain

fn date_from_wire(d: WDate) -> Result<PartialDate, CodecError> {
    PartialDate::from_parts(d.year.into(), d.month.into(), d.day.into()).map_err(invalid)
}

fn ids_from_wire(ids: Vec<[u8; 16]>) -> Vec<PartnerId> {
    ids.into_iter()
        .map(|b| PartnerId(Uuid::from_bytes(b)))
        .collect()
}

fn text_from_wire<'a, T>(
    s: Option<&'a str>,
    make: impl Fn(&'a str) -> Result<T, crate::domain::TextError>,
) -> Result<Option<T>, CodecError> {
    s.map(make).transpose().map_err(invalid)
}

fn country_from_wire(s: Option<&str>) -> Result<Option<CountryCode>, CodecError> {
    s.map(CountryCode::new).transpose().map_err(invalid)
}

fn expiry_from_wire(e: WExpiry) -> Result<ExpiryChange, CodecError> {
    Ok(match e {
        WExpiry::Set(d) => ExpiryChange::Set(date_from_wire(d)?),
        WExpiry::Cleared => ExpiryChange::Cleared,
    })
}

fn registered_from_wire(w: WPartnerRegistered<'_>) -> Result<PartnerRegistered, CodecError> {
    Ok(PartnerRegistered {
        name: PartnerName::stored(w.name).map_err(invalid)?,
        kind: word_from_wire(PARTNER_KINDS, w.kind, "partner kind")?,
        short_name: text_from_wire(w.short_name, ShortName::stored)?,
        country: country_from_wire(w.country)?,
    })
}

fn renamed_from_wire(w: WPartnerRenamed<'_>) -> Result<PartnerRenamed, CodecError> {
    Ok(PartnerRenamed {
        new_name: PartnerName::stored(w.new_name).map_err(invalid)?,
        short_name: text_from_wire(w.short_name, ShortName::stored)?,
        effective_on: date_from_wire(w.effective_on)?,
    })
}

fn succeeded_from_wire(w: WPartnerSucceeded) -> Result<PartnerSucceeded, CodecError> {
    Ok(PartnerSucceeded {
        successors: ids_from_wire(w.successors),
        effective_on: date_from_wire(w.effective_on)?,
    })
}

fn signed_from_wire(w: WConventionSigned<'_>) -> Result<ConventionSigned, CodecError> {
    Ok(ConventionSigned {
        instrument: word_from_wire(INSTRUMENTS, w.instrument, "instrument")?,
        parties: ids_from_wire(w.parties),
        signed_on: date_from_wire(w.signed_on)?,
        objectives: Objectives::stored(w.objectives).map_err(invalid)?,
        expires_on: w.expires_on.map(date_from_wire).transpose()?,
        official_ref: text_from_wire(w.official_ref, OfficialRef::stored)?,
    })
}

fn amended_from_wire(w: WConventionAmended<'_>) -> Result<ConventionAmended, CodecError> {
    Ok(ConventionAmended {
        effective_on: date_from_wire(w.effective_on)?,
        amendment_ref: text_from_wire(w.amendment_ref, AmendmentRef::stored)?,
        objectives: text_from_wire(w.objectives, Objectives::stored)?,
        parties_added: ids_from_wire(w.parties_added),
        parties_removed: ids_from_wire(w.parties_removed),
        expiry: w.expiry.map(expiry_from_wire).transpose()?,
        instrument: w
            .instrument
            .map(|i| word_from_wire(INSTRUMENTS, i, "instrument"))
            .transpose()?,
    })
}

fn terminated_from_wire(w: WConventionTerminated) -> Result<ConventionTerminated, CodecError> {
    Ok(ConventionTerminated {
        effective_on: date_from_wire(w.effective_on)?,
        kind: word_from_wire(TERMINATION_KINDS, w.kind, "termination kind")?,
    })
}

fn patch_from_wire(w: WPatch<'_>) -> Result<Patch, CodecError> {
    Ok(match w {
        WPatch::PartnerRegistered(p) => Patch::PartnerRegistered(PartnerRegisteredPatch {
            name: p
                .name
                .map(PartnerName::stored)
                .transpose()
                .map_err(invalid)?,
            kind: p
                .kind
                .map(|k| word_from_wire(PARTNER_KINDS, k, "partner kind"))
                .transpose()?,
            short_name: p
                .short_name
                .map(|s| text_from_wire(s, ShortName::stored))
                .transpose()?,
            country: p.country.map(country_from_wire).transpose()?,
        }),
        WPatch::PartnerRenamed(p) => Patch::PartnerRenamed(PartnerRenamedPatch {
            new_name: p
                .new_name
                .map(PartnerName::stored)
                .transpose()
                .map_err(invalid)?,
            short_name: p
                .short_name
                .map(|s| text_from_wire(s, ShortName::stored))
                .transpose()?,
            effective_on: p.effective_on.map(date_from_wire).transpose()?,
        }),
        WPatch::ConventionSigned(p) => Patch::ConventionSigned(ConventionSignedPatch {
            instrument: p
                .instrument
                .map(|i| word_from_wire(INSTRUMENTS, i, "instrument"))
                .transpose()?,
            parties: p.parties.map(ids_from_wire),
            signed_on: p.signed_on.map(date_from_wire).transpose()?,
            objectives: p
                .objectives
                .map(Objectives::stored)
                .transpose()
                .map_err(invalid)?,
            expires_on: p
                .expires_on
                .map(|e| e.map(date_from_wire).transpose())
                .transpose()?,
            official_ref: p
                .official_ref
                .map(|s| text_from_wire(s, OfficialRef::stored))
                .transpose()?,
        }),
        WPatch::ConventionAmended(p) => Patch::ConventionAmended(ConventionAmendedPatch {
            effective_on: p.effective_on.map(date_from_wire).transpose()?,
            amendment_ref: p
                .amendment_ref
                .map(|s| text_from_wire(s, AmendmentRef::stored))
                .transpose()?,
            objectives: p
                .objectives
                .map(|s| text_from_wire(s, Objectives::stored))
                .transpose()?,
            parties_added: p.parties_added.map(ids_from_wire),
            parties_removed: p.parties_removed.map(ids_from_wire),
            expiry: p
                .expiry
                .map(|e| e.map(expiry_from_wire).transpose())
                .transpose()?,
            instrument: p
                .instrument
                .map(|i| {
                    i.map(|i| word_from_wire(INSTRUMENTS, i, "instrument"))
                        .transpose()
                })
                .transpose()?,
        }),
        WPatch::ConventionTerminated(p) => Patch::ConventionTerminated(ConventionTerminatedPatch {
            effective_on: p.effective_on.map(date_from_wire).transpose()?,
            kind: p
                .kind
                .map(|k| word_from_wire(TERMINATION_KINDS, k, "termination kind"))
                .transpose()?,
        }),
        WPatch::PartnerSucceeded(p) => Patch::PartnerSucceeded(PartnerSucceededPatch {
            successors: p.successors.map(ids_from_wire),
            effective_on: p.effective_on.map(date_from_wire).transpose()?,
        }),
    })
}

fn event_from_wire(w: WEvent<'_>) -> Result<Event, CodecError> {
    Ok(match w {
        WEvent::PartnerRegistered(e) => Event::PartnerRegistered(registered_from_wire(e)?),
        WEvent::PartnerRenamed(e) => Event::PartnerRenamed(renamed_from_wire(e)?),
        WEvent::ConventionSigned(e) => Event::ConventionSigned(signed_from_wire(e)?),
        WEvent::ConventionAmended(e) => Event::ConventionAmended(amended_from_wire(e)?),
        WEvent::ConventionTerminated(e) => Event::ConventionTerminated(terminated_from_wire(e)?),
        WEvent::Corrected { target, patch } => Event::Corrected(Corrected {
            target: EventId(Uuid::from_bytes(target)),
            patch: patch_from_wire(patch)?,
        }),
        WEvent::Retracted { target } => Event::Retracted(Retracted {
            target: EventId(Uuid::from_bytes(target)),
        }),
        WEvent::PartnerSucceeded(e) => Event::PartnerSucceeded(succeeded_from_wire(e)?),
    })
}

fn entity_from_wire(w: WEntity) -> EntityId {
    match w {
        WEntity::Partner(b) => EntityId::Partner(PartnerId(Uuid::from_bytes(b))),
        WEntity::Convention(b) => EntityId::Convention(ConventionId(Uuid::from_bytes(b))),
    }
}

// ------------------------------------------------------------------ events

fn encode<T: Encode>(value: &T) -> Result<Vec<u8>, CodecError> {
    bincode::encode_to_vec(value, config()).map_err(|e| CodecError::Encode(e.to_string()))
}

/// Decodes the whole of `bytes`; the wire types' strings borrow from them
/// (the domain's types copy each one once, as they check it).
fn decode<'a, T: BorrowDecode<'a, ()>>(bytes: &'a [u8]) -> Result<T, CodecError> {
    let (value, used): (T, usize) = bincode::borrow_decode_from_slice(bytes, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    match bytes.len().checked_sub(used) {
        Some(0) => Ok(value),
        Some(extra) => Err(CodecError::Trailing(extra)),
        None => Err(CodecError::Decode("read past the end".into())),
    }
}

/// The fields of an event that the store has not hashed yet.
pub struct Unsealed<'a> {
    /// log position
    pub seq: Seq,
    /// event id
    pub id: EventId,
    /// stream
    pub entity: EntityId,
    /// stream position
    pub version: u64,
    /// append time
    pub recorded_at: DateTime<Utc>,
    /// who
    pub actor: &'a Actor,
    /// why
    pub reason: Option<&'a Reason>,
    /// from where
    pub source: Option<&'a Source>,
    /// the fact
    pub event: &'a Event,
}

/// The canonical bytes of an event: everything but the two hashes.
pub fn canonical_body(e: &Unsealed<'_>) -> Result<Vec<u8>, CodecError> {
    let body = WBody {
        seq: e.seq.0,
        id: *e.id.as_bytes(),
        entity: entity_to_wire(e.entity),
        version: e.version,
        recorded_at_micros: e.recorded_at.timestamp_micros(),
        actor: e.actor.as_str(),
        reason: e.reason.map(Reason::as_str),
        source: e.source.map(Source::as_str),
        event: event_to_wire(e.event),
    };
    encode(&body)
}

/// `BLAKE3(prev_hash ‖ body)`.
pub fn chain_hash(prev: &Digest, body: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&prev.0);
    hasher.update(body);
    Digest(*hasher.finalize().as_bytes())
}

/// The canonical bytes of a whole record (to recompute its hash).
pub fn record_body(r: &EventRecord) -> Result<Vec<u8>, CodecError> {
    canonical_body(&Unsealed {
        seq: r.seq,
        id: r.id,
        entity: r.entity,
        version: r.version,
        recorded_at: r.recorded_at,
        actor: &r.actor,
        reason: r.reason.as_ref(),
        source: r.source.as_ref(),
        event: &r.event,
    })
}

/// The stored bytes of an event whose body and hashes are known.
pub fn frame(prev: &Digest, hash: &Digest, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&prev.0);
    out.extend_from_slice(&hash.0);
    out.extend_from_slice(body);
    out
}

/// The stored bytes of a record.
pub fn encode_record(r: &EventRecord) -> Result<Vec<u8>, CodecError> {
    Ok(frame(&r.prev_hash, &r.hash, &record_body(r)?))
}

/// The parts of stored event bytes, unchecked.
pub struct Framed<'a> {
    /// previous hash, as stored
    pub prev_hash: Digest,
    /// hash, as stored
    pub hash: Digest,
    /// the canonical bytes
    pub body: &'a [u8],
}

/// Splits stored event bytes into header and body.
pub fn unframe(bytes: &[u8]) -> Result<Framed<'_>, CodecError> {
    let (header, body) = bytes
        .split_at_checked(HEADER_LEN)
        .ok_or(CodecError::Truncated(bytes.len()))?;
    let (format, rest) = header.split_at(1);
    if format != [FORMAT_VERSION] {
        return Err(CodecError::Format(format.first().copied().unwrap_or(0)));
    }
    let (prev, hash) = rest.split_at(32);
    let digest = |b: &[u8]| -> Result<Digest, CodecError> {
        Ok(Digest(
            b.try_into()
                .map_err(|_| CodecError::Truncated(bytes.len()))?,
        ))
    };
    Ok(Framed {
        prev_hash: digest(prev)?,
        hash: digest(hash)?,
        body,
    })
}

/// The first fields of an event's body, as [`WBody`] begins.
#[derive(Decode)]
struct WBodyStart {
    _seq: u64,
    _id: [u8; 16],
    entity: WEntity,
}

/// The entity of stored event bytes, read without decoding the rest.
pub fn entity_of(bytes: &[u8]) -> Result<EntityId, CodecError> {
    let body = unframe(bytes)?.body;
    let (start, _): (WBodyStart, usize) = bincode::decode_from_slice(body, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    Ok(entity_from_wire(start.entity))
}

/// Decodes stored event bytes. The hash is not checked here (`verify` does).
pub fn decode_record(bytes: &[u8]) -> Result<EventRecord, CodecError> {
    let framed = unframe(bytes)?;
    let body: WBody = decode(framed.body)?;
    let recorded_at = DateTime::<Utc>::from_timestamp_micros(body.recorded_at_micros)
        .ok_or_else(|| invalid("timestamp out of range"))?;
    Ok(EventRecord {
        seq: Seq(body.seq),
        id: EventId(Uuid::from_bytes(body.id)),
        entity: entity_from_wire(body.entity),
        version: body.version,
        recorded_at,
        actor: Actor::stored(body.actor).map_err(invalid)?,
        reason: text_from_wire(body.reason, Reason::stored)?,
        source: text_from_wire(body.source, Source::stored)?,
        prev_hash: framed.prev_hash,
        hash: framed.hash,
        event: event_from_wire(body.event)?,
    })
}

// ------------------------------------------------------------- projections

#[derive(Encode, BorrowDecode)]
struct WEntry<P> {
    seq: u64,
    id: [u8; 16],
    payload: P,
}

#[derive(Encode, BorrowDecode)]
enum WPartnerChange<'a> {
    Renamed(WPartnerRenamed<'a>),
    Succeeded(WPartnerSucceeded),
}

#[derive(Encode, BorrowDecode)]
enum WChange<'a> {
    Amended(WConventionAmended<'a>),
    Terminated(WConventionTerminated),
}

#[derive(Encode, BorrowDecode)]
struct WTimeline<B, F> {
    id: [u8; 16],
    version: u64,
    last_seq: u64,
    base: Option<WEntry<B>>,
    facts: Vec<WEntry<F>>,
    corrections: Vec<([u8; 16], [u8; 16])>,
}

#[derive(Encode, BorrowDecode)]
enum WAnyTimeline<'a> {
    Partner(WTimeline<WPartnerRegistered<'a>, WPartnerChange<'a>>),
    Convention(WTimeline<WConventionSigned<'a>, WChange<'a>>),
}

fn timeline_to_wire<'t, I, B, F, WB, WF>(
    t: &'t Timeline<I, B, F>,
    id: [u8; 16],
    base: impl Fn(&'t B) -> WB,
    fact: impl Fn(&'t F) -> WF,
) -> WTimeline<WB, WF> {
    fn entry<P>(seq: Seq, eid: EventId, payload: P) -> WEntry<P> {
        WEntry {
            seq: seq.0,
            id: *eid.as_bytes(),
            payload,
        }
    }
    WTimeline {
        id,
        version: t.version,
        last_seq: t.last_seq.0,
        base: t
            .base
            .as_ref()
            .map(|b| entry(b.seq, b.id, base(&b.payload))),
        facts: t
            .facts
            .iter()
            .map(|f| entry(f.seq, f.id, fact(&f.payload)))
            .collect(),
        corrections: t
            .corrections
            .iter()
            .map(|(c, target)| (*c.as_bytes(), *target.as_bytes()))
            .collect(),
    }
}

fn timeline_from_wire<I, B, F, WB, WF>(
    w: WTimeline<WB, WF>,
    id: I,
    base: impl Fn(WB) -> Result<B, CodecError>,
    fact: impl Fn(WF) -> Result<F, CodecError>,
) -> Result<Timeline<I, B, F>, CodecError> {
    Ok(Timeline {
        id,
        version: w.version,
        last_seq: Seq(w.last_seq),
        base: w
            .base
            .map(|b| {
                Ok::<_, CodecError>(Entry {
                    seq: Seq(b.seq),
                    id: EventId(Uuid::from_bytes(b.id)),
                    payload: base(b.payload)?,
                })
            })
            .transpose()?,
        facts: w
            .facts
            .into_iter()
            .map(|f| {
                Ok(Entry {
                    seq: Seq(f.seq),
                    id: EventId(Uuid::from_bytes(f.id)),
                    payload: fact(f.payload)?,
                })
            })
            .collect::<Result<_, CodecError>>()?,
        corrections: w
            .corrections
            .into_iter()
            .map(|(c, target)| {
                (
                    EventId(Uuid::from_bytes(c)),
                    EventId(Uuid::from_bytes(target)),
                )
            })
            .collect(),
    })
}

/// The stored form of an entity's document: `[PROJECTION_VERSION][kind
/// byte, b'P' or b'C'][handle number: u64 BE][bincode: (seqs, timeline)]`.
/// The kind and handle come first, at fixed places, so that a handle is
/// read without decoding the rest.
pub fn encode_doc(handle: u64, seqs: &[Seq], t: &AnyTimeline) -> Result<Vec<u8>, CodecError> {
    let (kind, wire) = match t {
        AnyTimeline::Partner(t) => (
            b'P',
            WAnyTimeline::Partner(timeline_to_wire(
                t,
                *t.id.as_bytes(),
                registered_to_wire,
                |c| match c {
                    PartnerChange::Renamed(r) => WPartnerChange::Renamed(renamed_to_wire(r)),
                    PartnerChange::Succeeded(s) => WPartnerChange::Succeeded(succeeded_to_wire(s)),
                },
            )),
        ),
        AnyTimeline::Convention(t) => (
            b'C',
            WAnyTimeline::Convention(timeline_to_wire(t, *t.id.as_bytes(), signed_to_wire, |c| {
                match c {
                    ConventionChange::Amended(a) => WChange::Amended(amended_to_wire(a)),
                    ConventionChange::Terminated(x) => WChange::Terminated(terminated_to_wire(x)),
                }
            })),
        ),
    };
    let seqs: Vec<u64> = seqs.iter().map(|s| s.0).collect();
    let mut out = vec![PROJECTION_VERSION, kind];
    out.extend_from_slice(&handle.to_be_bytes());
    out.extend(encode(&(seqs, wire))?);
    Ok(out)
}

/// The fixed header of a document: its kind byte (b'P' or b'C'), its
/// handle number, and the rest.
fn doc_header(bytes: &[u8]) -> Result<(u8, u64, &[u8]), CodecError> {
    let (version, rest) = bytes.split_first().ok_or(CodecError::Truncated(0))?;
    if *version != PROJECTION_VERSION {
        return Err(CodecError::Format(*version));
    }
    let (kind, rest) = rest
        .split_first()
        .ok_or(CodecError::Truncated(bytes.len()))?;
    if !matches!(kind, b'P' | b'C') {
        return Err(invalid(format!("unknown entity kind byte {kind}")));
    }
    let (handle, body) = rest
        .split_first_chunk::<8>()
        .ok_or(CodecError::Truncated(bytes.len()))?;
    Ok((*kind, u64::from_be_bytes(*handle), body))
}

/// The kind byte (b'P' or b'C') and handle number of a stored document,
/// without decoding the rest.
pub fn doc_handle(bytes: &[u8]) -> Result<(u8, u64), CodecError> {
    doc_header(bytes).map(|(kind, handle, _)| (kind, handle))
}

/// The seqs of a stored document's stream, without decoding its timeline.
pub fn doc_seqs(bytes: &[u8]) -> Result<Vec<Seq>, CodecError> {
    let (_, _, body) = doc_header(bytes)?;
    let (seqs, _): (Vec<u64>, usize) = bincode::decode_from_slice(body, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    Ok(seqs.into_iter().map(Seq).collect())
}

/// A document's stream seqs as a view's read takes them: each one read
/// and checked against the one before, none kept (the same bytes as the
/// `Vec<u64>` a full decode keeps).
struct CheckedSeqs {
    increasing: bool,
}

impl<C> Decode<C> for CheckedSeqs {
    fn decode<D: bincode::de::Decoder<Context = C>>(
        decoder: &mut D,
    ) -> Result<Self, bincode::error::DecodeError> {
        // step for step as bincode 2.0.1 reads a `Vec<u64>` (its
        // `impl_alloc.rs`), so that the same lengths pass the same limit:
        // to be checked again on any other bincode
        let len = u64::decode(decoder)?;
        let len = usize::try_from(len)
            .map_err(|_| bincode::error::DecodeError::OutsideUsizeRange(len))?;
        decoder.claim_container_read::<u64>(len)?;
        let mut last: Option<u64> = None;
        let mut increasing = true;
        for _ in 0..len {
            decoder.unclaim_bytes_read(std::mem::size_of::<u64>());
            let seq = u64::decode(decoder)?;
            increasing &= last.is_none_or(|l| l < seq);
            last = Some(seq);
        }
        Ok(Self { increasing })
    }
}
bincode::impl_borrow_decode!(CheckedSeqs);

/// Decodes a stored document: handle number, stream seqs, timeline.
pub fn decode_doc(bytes: &[u8]) -> Result<(u64, Vec<Seq>, AnyTimeline), CodecError> {
    let (handle, seqs, timeline) = doc_from_wire::<Vec<u64>>(bytes)?;
    if seqs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(not_increasing());
    }
    Ok((handle, seqs.into_iter().map(Seq).collect(), timeline))
}

/// Decodes a stored document's handle number and timeline, its stream's
/// seqs checked but not kept: what the views' scans read. It accepts and
/// refuses the same bytes as [`decode_doc`].
pub fn decode_doc_timeline(bytes: &[u8]) -> Result<(u64, AnyTimeline), CodecError> {
    let (handle, seqs, timeline) = doc_from_wire::<CheckedSeqs>(bytes)?;
    if !seqs.increasing {
        return Err(not_increasing());
    }
    Ok((handle, timeline))
}

fn not_increasing() -> CodecError {
    invalid("the stream's seqs are not increasing")
}

/// A stored document with its seqs decoded as `S`.
fn doc_from_wire<'a, S: BorrowDecode<'a, ()>>(
    bytes: &'a [u8],
) -> Result<(u64, S, AnyTimeline), CodecError> {
    let (kind, handle, body) = doc_header(bytes)?;
    let (seqs, wire) = decode::<(S, WAnyTimeline)>(body)?;
    let timeline = match (kind, wire) {
        (b'P', WAnyTimeline::Partner(w)) => {
            let id = PartnerId(Uuid::from_bytes(w.id));
            AnyTimeline::Partner(timeline_from_wire(
                w,
                id,
                registered_from_wire,
                |c| match c {
                    WPartnerChange::Renamed(r) => Ok(PartnerChange::Renamed(renamed_from_wire(r)?)),
                    WPartnerChange::Succeeded(s) => {
                        Ok(PartnerChange::Succeeded(succeeded_from_wire(s)?))
                    }
                },
            )?)
        }
        (b'C', WAnyTimeline::Convention(w)) => {
            let id = ConventionId(Uuid::from_bytes(w.id));
            AnyTimeline::Convention(timeline_from_wire(w, id, signed_from_wire, |c| match c {
                WChange::Amended(a) => Ok(ConventionChange::Amended(amended_from_wire(a)?)),
                WChange::Terminated(x) => {
                    Ok(ConventionChange::Terminated(terminated_from_wire(x)?))
                }
            })?)
        }
        _ => return Err(invalid("the kind byte and the timeline disagree")),
    };
    Ok((handle, seqs, timeline))
}

// ---------------------------------------------------------------- segments

/// The format byte of a plain log segment: its body follows as it is.
pub const SEGMENT_FORMAT: u8 = 1;
/// The format byte of a compressed log segment: the body's length (u32
/// big-endian), then the body as one LZ4 block.
pub const SEGMENT_LZ4: u8 = 2;
/// Bytes of the length written before each event in a segment.
const LENGTH_PREFIX: usize = 4;
/// The most bytes one stored event may take. Every value sled stores must
/// stay far below a quarter of its `segment_size` (larger ones go to files
/// it never syncs); a sled leaf holds up to 16 values.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;
/// The most bytes a compressed segment's body may claim: one of the largest
/// events (a segment of several holds fewer bytes), so what a decoder
/// allocates at most for one segment. A longer body is stored plain.
pub const MAX_SEGMENT_BODY: usize = MAX_EVENT_BYTES + LENGTH_PREFIX;
/// The most events a segment may hold: the most any pactum wrote (256,
/// then 64, now 16 to a segment), so that a small stored value cannot
/// stand for a great many events.
pub const MAX_SEGMENT_EVENTS: usize = 256;

/// Bytes a plain segment holding events of these lengths takes: the
/// format byte and the body.
pub fn segment_len(event_lens: impl IntoIterator<Item = usize>) -> usize {
    1 + event_lens
        .into_iter()
        .map(|n| n + LENGTH_PREFIX)
        .sum::<usize>()
}

/// A segment: its body is each event's stored bytes after its length (u32
/// big-endian), kept exactly as given. The segment is the body compressed
/// ([`SEGMENT_LZ4`]) when that is shorter and the body within
/// [`MAX_SEGMENT_BODY`], the body as it is ([`SEGMENT_FORMAT`]) otherwise.
/// Fails on an event over [`MAX_EVENT_BYTES`] or more than
/// [`MAX_SEGMENT_EVENTS`] events.
pub fn encode_segment<'a>(
    events: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, CodecError> {
    let mut body = Vec::new();
    for (n, event) in events.into_iter().enumerate() {
        if n >= MAX_SEGMENT_EVENTS {
            return Err(CodecError::Encode(format!(
                "a segment of more than {MAX_SEGMENT_EVENTS} events"
            )));
        }
        if event.len() > MAX_EVENT_BYTES {
            return Err(CodecError::Encode(format!(
                "an event of {} bytes (at most {MAX_EVENT_BYTES})",
                event.len()
            )));
        }
        let len = u32::try_from(event.len())
            .map_err(|_| CodecError::Encode("an event over 4 GiB".into()))?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(event);
    }
    let compressed = (body.len() <= MAX_SEGMENT_BODY).then(|| lz4_flex::block::compress(&body));
    let out = if let Some(compressed) = compressed.filter(|c| LENGTH_PREFIX + c.len() < body.len())
    {
        let len = u32::try_from(body.len())
            .map_err(|_| CodecError::Encode("a segment over 4 GiB".into()))?;
        let mut out = Vec::with_capacity(1 + LENGTH_PREFIX + compressed.len());
        out.push(SEGMENT_LZ4);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&compressed);
        out
    } else {
        let mut out = Vec::with_capacity(1 + body.len());
        out.push(SEGMENT_FORMAT);
        out.extend_from_slice(&body);
        out
    };
    Ok(out)
}

/// The body of a stored segment: borrowed from a plain one, decompressed
/// from a compressed one. Fails on an unknown format byte, a compressed
/// body that claims more than [`MAX_SEGMENT_BODY`] bytes or does not
/// decompress to exactly the length it claims.
pub fn segment_body(segment: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, CodecError> {
    let (format, rest) = segment.split_first().ok_or(CodecError::Truncated(0))?;
    match *format {
        SEGMENT_FORMAT => Ok(std::borrow::Cow::Borrowed(rest)),
        SEGMENT_LZ4 => {
            let (len, block) = rest
                .split_first_chunk::<LENGTH_PREFIX>()
                .ok_or(CodecError::Truncated(segment.len()))?;
            let len = usize::try_from(u32::from_be_bytes(*len))
                .map_err(|_| invalid("a segment length beyond this machine"))?;
            if len > MAX_SEGMENT_BODY {
                return Err(invalid(format!("a compressed segment of {len} bytes")));
            }
            let mut body = vec![0u8; len];
            let written = lz4_flex::block::decompress_into(block, &mut body).map_err(|e| {
                invalid(format!(
                    "a compressed segment that does not decompress: {e}"
                ))
            })?;
            if written != len {
                return Err(invalid(format!(
                    "a compressed segment of {written} bytes that claims {len}"
                )));
            }
            Ok(std::borrow::Cow::Owned(body))
        }
        other => Err(CodecError::Format(other)),
    }
}

/// The stored bytes of the event at `index` (0 for the first) of a
/// segment's body ([`segment_body`]), borrowed from it; `None` past its
/// last event. Reads only the lengths before it: each length says where
/// the next one is, so a lookup stops as soon as it can. Fails as
/// [`body_events`] does on what it reads.
pub fn body_event(body: &[u8], index: usize) -> Result<Option<&[u8]>, CodecError> {
    if body.is_empty() {
        return Err(invalid("a segment without events"));
    }
    let mut rest = body;
    let mut at = 0;
    while !rest.is_empty() {
        if at == MAX_SEGMENT_EVENTS {
            return Err(too_many_events());
        }
        let (event, tail) = next_event(body.len(), rest)?;
        if at == index {
            return Ok(Some(event));
        }
        at += 1;
        rest = tail;
    }
    Ok(None)
}

fn too_many_events() -> CodecError {
    invalid(format!(
        "a segment of more than {MAX_SEGMENT_EVENTS} events"
    ))
}

/// The first length-prefixed event of `rest` and what follows it.
fn next_event(body_len: usize, rest: &[u8]) -> Result<(&[u8], &[u8]), CodecError> {
    let (len, tail) = rest
        .split_first_chunk::<LENGTH_PREFIX>()
        .ok_or(CodecError::Truncated(body_len))?;
    let len = usize::try_from(u32::from_be_bytes(*len))
        .map_err(|_| invalid("an event length beyond this machine"))?;
    if len > MAX_EVENT_BYTES {
        return Err(invalid(format!("an event length of {len} bytes")));
    }
    tail.split_at_checked(len)
        .ok_or(CodecError::Truncated(body_len))
}

/// The stored bytes of each event of a segment's body ([`segment_body`]),
/// borrowed from it, in order. Fails on a length past the end, an empty
/// body, an event over [`MAX_EVENT_BYTES`], or more than
/// [`MAX_SEGMENT_EVENTS`] events.
pub fn body_events(body: &[u8]) -> Result<Vec<&[u8]>, CodecError> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        if out.len() == MAX_SEGMENT_EVENTS {
            return Err(too_many_events());
        }
        let (event, tail) = next_event(body.len(), rest)?;
        out.push(event);
        rest = tail;
    }
    if out.is_empty() {
        return Err(invalid("a segment without events"));
    }
    Ok(out)
}

#[derive(Decode)]
struct WBodyHead {
    seq: u64,
    _id: [u8; 16],
    _entity: WEntity,
    _version: u64,
    recorded_at_micros: i64,
}

/// The seq, hash and `recorded_at` of stored event bytes, read without
/// decoding the rest of the event.
pub fn event_head(bytes: &[u8]) -> Result<(Seq, Digest, DateTime<Utc>), CodecError> {
    let framed = unframe(bytes)?;
    let (head, _): (WBodyHead, usize) = bincode::decode_from_slice(framed.body, config())
        .map_err(|e| CodecError::Decode(e.to_string()))?;
    let recorded_at = DateTime::<Utc>::from_timestamp_micros(head.recorded_at_micros)
        .ok_or_else(|| invalid("timestamp out of range"))?;
    Ok((Seq(head.seq), framed.hash, recorded_at))
}

/// Checks that a decoded timeline type matches its kind (used by readers
/// that expect one kind).
pub fn timeline_kind_matches(t: &AnyTimeline, entity: EntityId) -> bool {
    matches!(
        (t, entity),
        (AnyTimeline::Partner(p), EntityId::Partner(id)) if p.id == id
    ) || matches!(
        (t, entity),
        (AnyTimeline::Convention(c), EntityId::Convention(id)) if c.id == id
    )
}
