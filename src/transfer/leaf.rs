//! An event's JSON Lines form written straight in its RFC 8785 canonical
//! form: the leaf of the transparency log.
//!
//! The export ([`super::jsonl::to_value`]) builds a `serde_json::Value` and
//! keeps its historical key order; canonicalising that value costs more
//! than the rest of an append's work per event. Here the same object is
//! described by borrowed structs whose fields are declared in the
//! canonical (sorted) order, and `serde_json` writes them with no value in
//! between. That is RFC 8785 for these objects: every key is ASCII (so
//! byte order is UTF-16 order), every number an integer, and `serde_json`
//! escapes strings exactly as RFC 8785 does.
//!
//! **Invariant:** for every event, [`canonical_line`] equals the RFC 8785
//! form of [`super::jsonl::to_value`] (checked on every variant and every
//! correction shape in the tests, against the general canonicaliser).

use std::fmt::Display;

use chrono::SecondsFormat;
use serde::Serialize;
use serde::ser::{SerializeSeq, Serializer};

use crate::domain::{EntityId, Event, EventRecord, ExpiryChange, PartnerId, Patch};
use crate::transparency::merkle::LeafHasher;
use crate::transparency::{Hash, MAX_EXACT_INTEGER};

/// A value written as its `Display` text, a JSON string.
struct Shown<'a, T: Display>(&'a T);

impl<T: Display> Serialize for Shown<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// A UUID as its hyphenated lower-case text, a JSON string, written from
/// a buffer on the stack (no formatter).
struct Hyphenated(uuid::Uuid);

impl Serialize for Hyphenated {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buffer = uuid::Uuid::encode_buffer();
        s.serialize_str(self.0.hyphenated().encode_lower(&mut buffer))
    }
}

/// Partner ids, an array of strings.
struct Ids<'a>(&'a [PartnerId]);

impl Serialize for Ids<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for id in self.0 {
            seq.serialize_element(&Hyphenated(id.0))?;
        }
        seq.end()
    }
}

/// An expiry change: `{"set": date}` or `"cleared"`.
struct Expiry<'a>(&'a ExpiryChange);

impl Serialize for Expiry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Set<'a> {
            set: Shown<'a, crate::domain::PartialDate>,
        }
        match self.0 {
            ExpiryChange::Set(d) => Set { set: Shown(d) }.serialize(s),
            ExpiryChange::Cleared => s.serialize_str("cleared"),
        }
    }
}

fn shown<T: Display>(v: &Option<T>) -> Option<Shown<'_, T>> {
    v.as_ref().map(Shown)
}

/// A patch field: absent when the patch keeps it, else its new value
/// (`null` when it clears it).
fn field<T: Display>(v: &Option<Option<T>>) -> Option<Option<Shown<'_, T>>> {
    v.as_ref().map(shown)
}

#[derive(Serialize)]
struct Entity {
    id: Hyphenated,
    kind: &'static str,
}

/// The envelope, keys in canonical order.
#[derive(Serialize)]
struct Line<'a> {
    actor: &'a str,
    entity: Entity,
    hash: &'a str,
    id: Hyphenated,
    payload: Payload<'a>,
    prev_hash: &'a str,
    reason: Option<&'a str>,
    recorded_at: String,
    seq: u64,
    source: Option<&'a str>,
    #[serde(rename = "type")]
    event_type: &'static str,
    version: u64,
}

type S<'a, T> = Shown<'a, T>;
type O<'a, T> = Option<Shown<'a, T>>;
type F<'a, T> = Option<Option<Shown<'a, T>>>;

#[derive(Serialize)]
#[serde(untagged)]
enum Payload<'a> {
    PartnerRegistered {
        country: O<'a, crate::domain::CountryCode>,
        kind: &'static str,
        name: &'a str,
        short_name: O<'a, crate::domain::ShortName>,
    },
    PartnerRenamed {
        effective_on: S<'a, crate::domain::PartialDate>,
        new_name: &'a str,
        short_name: O<'a, crate::domain::ShortName>,
    },
    PartnerSucceeded {
        effective_on: S<'a, crate::domain::PartialDate>,
        successors: Ids<'a>,
    },
    ConventionSigned {
        expires_on: O<'a, crate::domain::PartialDate>,
        instrument: &'static str,
        objectives: &'a str,
        official_ref: O<'a, crate::domain::OfficialRef>,
        parties: Ids<'a>,
        signed_on: S<'a, crate::domain::PartialDate>,
    },
    ConventionAmended {
        amendment_ref: O<'a, crate::domain::AmendmentRef>,
        effective_on: S<'a, crate::domain::PartialDate>,
        expiry: Option<Expiry<'a>>,
        instrument: O<'a, crate::domain::Instrument>,
        objectives: O<'a, crate::domain::Objectives>,
        parties_added: Ids<'a>,
        parties_removed: Ids<'a>,
    },
    ConventionTerminated {
        effective_on: S<'a, crate::domain::PartialDate>,
        kind: &'static str,
    },
    Corrected {
        patch: PatchLine<'a>,
        target: S<'a, crate::domain::EventId>,
        target_type: &'static str,
    },
    Retracted {
        target: S<'a, crate::domain::EventId>,
    },
}

#[derive(Serialize)]
#[serde(untagged)]
enum PatchLine<'a> {
    PartnerRegistered {
        #[serde(skip_serializing_if = "Option::is_none")]
        country: F<'a, crate::domain::CountryCode>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: O<'a, crate::domain::PartnerKind>,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: O<'a, crate::domain::PartnerName>,
        #[serde(skip_serializing_if = "Option::is_none")]
        short_name: F<'a, crate::domain::ShortName>,
    },
    PartnerRenamed {
        #[serde(skip_serializing_if = "Option::is_none")]
        effective_on: O<'a, crate::domain::PartialDate>,
        #[serde(skip_serializing_if = "Option::is_none")]
        new_name: O<'a, crate::domain::PartnerName>,
        #[serde(skip_serializing_if = "Option::is_none")]
        short_name: F<'a, crate::domain::ShortName>,
    },
    ConventionSigned {
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_on: F<'a, crate::domain::PartialDate>,
        #[serde(skip_serializing_if = "Option::is_none")]
        instrument: O<'a, crate::domain::Instrument>,
        #[serde(skip_serializing_if = "Option::is_none")]
        objectives: O<'a, crate::domain::Objectives>,
        #[serde(skip_serializing_if = "Option::is_none")]
        official_ref: F<'a, crate::domain::OfficialRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parties: Option<Ids<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        signed_on: O<'a, crate::domain::PartialDate>,
    },
    ConventionAmended {
        #[serde(skip_serializing_if = "Option::is_none")]
        amendment_ref: F<'a, crate::domain::AmendmentRef>,
        #[serde(skip_serializing_if = "Option::is_none")]
        effective_on: O<'a, crate::domain::PartialDate>,
        #[serde(skip_serializing_if = "Option::is_none")]
        expiry: Option<Option<Expiry<'a>>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        instrument: F<'a, crate::domain::Instrument>,
        #[serde(skip_serializing_if = "Option::is_none")]
        objectives: F<'a, crate::domain::Objectives>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parties_added: Option<Ids<'a>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        parties_removed: Option<Ids<'a>>,
    },
    ConventionTerminated {
        #[serde(skip_serializing_if = "Option::is_none")]
        effective_on: O<'a, crate::domain::PartialDate>,
        #[serde(skip_serializing_if = "Option::is_none")]
        kind: O<'a, crate::domain::TerminationKind>,
    },
    PartnerSucceeded {
        #[serde(skip_serializing_if = "Option::is_none")]
        effective_on: O<'a, crate::domain::PartialDate>,
        #[serde(skip_serializing_if = "Option::is_none")]
        successors: Option<Ids<'a>>,
    },
}

fn patch_line(patch: &Patch) -> PatchLine<'_> {
    match patch {
        Patch::PartnerRegistered(p) => PatchLine::PartnerRegistered {
            country: field(&p.country),
            kind: shown(&p.kind),
            name: shown(&p.name),
            short_name: field(&p.short_name),
        },
        Patch::PartnerRenamed(p) => PatchLine::PartnerRenamed {
            effective_on: shown(&p.effective_on),
            new_name: shown(&p.new_name),
            short_name: field(&p.short_name),
        },
        Patch::ConventionSigned(p) => PatchLine::ConventionSigned {
            expires_on: field(&p.expires_on),
            instrument: shown(&p.instrument),
            objectives: shown(&p.objectives),
            official_ref: field(&p.official_ref),
            parties: p.parties.as_deref().map(Ids),
            signed_on: shown(&p.signed_on),
        },
        Patch::ConventionAmended(p) => PatchLine::ConventionAmended {
            amendment_ref: field(&p.amendment_ref),
            effective_on: shown(&p.effective_on),
            expiry: p.expiry.as_ref().map(|e| e.as_ref().map(Expiry)),
            instrument: field(&p.instrument),
            objectives: field(&p.objectives),
            parties_added: p.parties_added.as_deref().map(Ids),
            parties_removed: p.parties_removed.as_deref().map(Ids),
        },
        Patch::ConventionTerminated(p) => PatchLine::ConventionTerminated {
            effective_on: shown(&p.effective_on),
            kind: shown(&p.kind),
        },
        Patch::PartnerSucceeded(p) => PatchLine::PartnerSucceeded {
            effective_on: shown(&p.effective_on),
            successors: p.successors.as_deref().map(Ids),
        },
    }
}

fn payload(event: &Event) -> Payload<'_> {
    match event {
        Event::PartnerRegistered(e) => Payload::PartnerRegistered {
            country: shown(&e.country),
            kind: e.kind.as_str(),
            name: e.name.as_str(),
            short_name: shown(&e.short_name),
        },
        Event::PartnerRenamed(e) => Payload::PartnerRenamed {
            effective_on: Shown(&e.effective_on),
            new_name: e.new_name.as_str(),
            short_name: shown(&e.short_name),
        },
        Event::PartnerSucceeded(e) => Payload::PartnerSucceeded {
            effective_on: Shown(&e.effective_on),
            successors: Ids(&e.successors),
        },
        Event::ConventionSigned(e) => Payload::ConventionSigned {
            expires_on: shown(&e.expires_on),
            instrument: e.instrument.as_str(),
            objectives: e.objectives.as_str(),
            official_ref: shown(&e.official_ref),
            parties: Ids(&e.parties),
            signed_on: Shown(&e.signed_on),
        },
        Event::ConventionAmended(e) => Payload::ConventionAmended {
            amendment_ref: shown(&e.amendment_ref),
            effective_on: Shown(&e.effective_on),
            expiry: e.expiry.as_ref().map(Expiry),
            instrument: shown(&e.instrument),
            objectives: shown(&e.objectives),
            parties_added: Ids(&e.parties_added),
            parties_removed: Ids(&e.parties_removed),
        },
        Event::ConventionTerminated(e) => Payload::ConventionTerminated {
            effective_on: Shown(&e.effective_on),
            kind: e.kind.as_str(),
        },
        Event::Corrected(c) => Payload::Corrected {
            patch: patch_line(&c.patch),
            target: Shown(&c.target),
            target_type: c.patch.target_type().as_str(),
        },
        Event::Retracted(r) => Payload::Retracted {
            target: Shown(&r.target),
        },
    }
}

/// The RFC 8785 form of the event's JSON Lines object.
pub fn canonical_line(r: &EventRecord) -> Result<String, String> {
    // most lines fit in 1 KiB: one allocation, no growth
    let mut out = Vec::with_capacity(1024);
    write_canonical(r, &mut out)?;
    String::from_utf8(out).map_err(|e| e.to_string())
}

/// The leaf hash of the event: `SHA-256(0x00 ‖ canonical_line(r))`, the
/// line hashed as it is written.
pub fn canonical_leaf(r: &EventRecord) -> Result<Hash, String> {
    let mut hasher = LeafHasher::new();
    write_canonical(r, &mut hasher)?;
    Ok(hasher.finish())
}

/// Writes the RFC 8785 form of the event's JSON Lines object to `out`.
fn write_canonical(r: &EventRecord, out: &mut impl std::io::Write) -> Result<(), String> {
    if r.seq.0 > MAX_EXACT_INTEGER || r.version > MAX_EXACT_INTEGER {
        return Err("an integer above 2^53 has no exact canonical form".into());
    }
    let entity = match &r.entity {
        EntityId::Partner(p) => Entity {
            id: Hyphenated(p.0),
            kind: "partner",
        },
        EntityId::Convention(c) => Entity {
            id: Hyphenated(c.0),
            kind: "convention",
        },
    };
    let (hash, prev_hash) = (r.hash.hex(), r.prev_hash.hex());
    let line = Line {
        actor: r.actor.as_str(),
        entity,
        hash: &hash,
        id: Hyphenated(r.id.0),
        payload: payload(&r.event),
        prev_hash: &prev_hash,
        reason: r.reason.as_ref().map(|v| v.as_str()),
        recorded_at: r.recorded_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        seq: r.seq.0,
        source: r.source.as_ref().map(|v| v.as_str()),
        event_type: r.event.event_type().as_str(),
        version: r.version,
    };
    serde_json::to_writer(out, &line).map_err(|e| e.to_string())
}
