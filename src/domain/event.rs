//! The events of the log (`docs/events.md`): one past-tense variant per fact, the
//! corrections that patch an earlier event field by field, and the envelope
//! every stored event carries.
//!
//! **Invariant:** variants and fields are only ever appended. The stored form
//! (`store::codec`) gives each variant a fixed number; reordering here would
//! be caught by the golden-bytes tests.

use chrono::{DateTime, Utc};

use super::date::PartialDate;
use super::id::{Digest, EntityId, EntityKind, EventId, PartnerId, Seq};
use super::kind::{Instrument, PartnerKind, TerminationKind};
use super::text::{
    Actor, AmendmentRef, CountryCode, Objectives, OfficialRef, PartnerName, Reason, ShortName,
    Source,
};

/// A partner was registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerRegistered {
    /// name as published
    pub name: PartnerName,
    /// kind of institution
    pub kind: PartnerKind,
    /// acronym, if any
    pub short_name: Option<ShortName>,
    /// ISO 3166-1 alpha-2, for foreign states
    pub country: Option<CountryCode>,
}

/// A partner changed its name in the world, from a date on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerRenamed {
    /// the name from `effective_on`
    pub new_name: PartnerName,
    /// the new acronym; `None` keeps the current one
    pub short_name: Option<ShortName>,
    /// when the new name took effect
    pub effective_on: PartialDate,
}

/// A partner ceased to exist in the world on a date, and its successors
/// took over its conventions: a merger (several predecessors name one
/// successor), a split (one predecessor, several successors), a
/// replacement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerSucceeded {
    /// the partners that take over, at least one, never the partner itself
    pub successors: Vec<PartnerId>,
    /// when the partner ceased to exist and its successors took over
    pub effective_on: PartialDate,
}

/// A convention was signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionSigned {
    /// kind of instrument
    pub instrument: Instrument,
    /// partners that signed, at least one, no repeats
    pub parties: Vec<PartnerId>,
    /// date of signature
    pub signed_on: PartialDate,
    /// what it is for
    pub objectives: Objectives,
    /// when it expires, if it does
    pub expires_on: Option<PartialDate>,
    /// official reference number
    pub official_ref: Option<OfficialRef>,
}

/// How an amendment changes a convention's expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpiryChange {
    /// the convention now expires on this date
    Set(PartialDate),
    /// the convention no longer expires
    Cleared,
}

/// A convention was amended (avenant), from a date on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionAmended {
    /// when the amendment takes effect
    pub effective_on: PartialDate,
    /// the avenant's reference
    pub amendment_ref: Option<AmendmentRef>,
    /// new objectives
    pub objectives: Option<Objectives>,
    /// partners joining
    pub parties_added: Vec<PartnerId>,
    /// partners leaving
    pub parties_removed: Vec<PartnerId>,
    /// new expiry, or none any more
    pub expiry: Option<ExpiryChange>,
    /// new kind of instrument
    pub instrument: Option<Instrument>,
}

/// A convention ended, from a date on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConventionTerminated {
    /// when it ended
    pub effective_on: PartialDate,
    /// terminated or expired
    pub kind: TerminationKind,
}

/// New values for a [`PartnerRegistered`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PartnerRegisteredPatch {
    /// corrected name
    pub name: Option<PartnerName>,
    /// corrected kind
    pub kind: Option<PartnerKind>,
    /// corrected acronym (`Some(None)` removes it)
    pub short_name: Option<Option<ShortName>>,
    /// corrected country (`Some(None)` removes it)
    pub country: Option<Option<CountryCode>>,
}

/// New values for a [`PartnerRenamed`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PartnerRenamedPatch {
    /// corrected new name
    pub new_name: Option<PartnerName>,
    /// corrected acronym
    pub short_name: Option<Option<ShortName>>,
    /// corrected date
    pub effective_on: Option<PartialDate>,
}

/// New values for a [`PartnerSucceeded`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PartnerSucceededPatch {
    /// corrected successors (the whole list)
    pub successors: Option<Vec<PartnerId>>,
    /// corrected date
    pub effective_on: Option<PartialDate>,
}

/// New values for a [`ConventionSigned`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConventionSignedPatch {
    /// corrected instrument
    pub instrument: Option<Instrument>,
    /// corrected parties (the whole list)
    pub parties: Option<Vec<PartnerId>>,
    /// corrected signing date
    pub signed_on: Option<PartialDate>,
    /// corrected objectives
    pub objectives: Option<Objectives>,
    /// corrected expiry (`Some(None)`: it does not expire)
    pub expires_on: Option<Option<PartialDate>>,
    /// corrected official reference
    pub official_ref: Option<Option<OfficialRef>>,
}

/// New values for a [`ConventionAmended`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConventionAmendedPatch {
    /// corrected date
    pub effective_on: Option<PartialDate>,
    /// corrected reference
    pub amendment_ref: Option<Option<AmendmentRef>>,
    /// corrected new objectives
    pub objectives: Option<Option<Objectives>>,
    /// corrected list of partners joining
    pub parties_added: Option<Vec<PartnerId>>,
    /// corrected list of partners leaving
    pub parties_removed: Option<Vec<PartnerId>>,
    /// corrected expiry change
    pub expiry: Option<Option<ExpiryChange>>,
    /// corrected new instrument
    pub instrument: Option<Option<Instrument>>,
}

/// New values for a [`ConventionTerminated`]; `None` keeps a field.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ConventionTerminatedPatch {
    /// corrected date
    pub effective_on: Option<PartialDate>,
    /// corrected kind of end
    pub kind: Option<TerminationKind>,
}

/// The new values a correction gives its target, shaped like the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Patch {
    /// corrects a registration
    PartnerRegistered(PartnerRegisteredPatch),
    /// corrects a rename
    PartnerRenamed(PartnerRenamedPatch),
    /// corrects a signing
    ConventionSigned(ConventionSignedPatch),
    /// corrects an amendment
    ConventionAmended(ConventionAmendedPatch),
    /// corrects a termination
    ConventionTerminated(ConventionTerminatedPatch),
    /// corrects a succession
    PartnerSucceeded(PartnerSucceededPatch),
}

/// The record was wrong: an earlier event of the same entity gets new values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Corrected {
    /// the event corrected
    pub target: EventId,
    /// its new values
    pub patch: Patch,
}

/// An earlier event of the same entity should never have been recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retracted {
    /// the event voided
    pub target: EventId,
}

/// Every fact the log can hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `partner-registered`
    PartnerRegistered(PartnerRegistered),
    /// `partner-renamed`
    PartnerRenamed(PartnerRenamed),
    /// `convention-signed`
    ConventionSigned(ConventionSigned),
    /// `convention-amended`
    ConventionAmended(ConventionAmended),
    /// `convention-terminated`
    ConventionTerminated(ConventionTerminated),
    /// `corrected`
    Corrected(Corrected),
    /// `retracted`
    Retracted(Retracted),
    /// `partner-succeeded`
    PartnerSucceeded(PartnerSucceeded),
}

/// The type of an event, as named in output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// `partner-registered`
    PartnerRegistered,
    /// `partner-renamed`
    PartnerRenamed,
    /// `convention-signed`
    ConventionSigned,
    /// `convention-amended`
    ConventionAmended,
    /// `convention-terminated`
    ConventionTerminated,
    /// `corrected`
    Corrected,
    /// `retracted`
    Retracted,
    /// `partner-succeeded`
    PartnerSucceeded,
}

impl EventType {
    /// Every type, in declaration order.
    pub const ALL: &'static [EventType] = &[
        EventType::PartnerRegistered,
        EventType::PartnerRenamed,
        EventType::ConventionSigned,
        EventType::ConventionAmended,
        EventType::ConventionTerminated,
        EventType::Corrected,
        EventType::Retracted,
        EventType::PartnerSucceeded,
    ];

    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PartnerRegistered => "partner-registered",
            EventType::PartnerRenamed => "partner-renamed",
            EventType::ConventionSigned => "convention-signed",
            EventType::ConventionAmended => "convention-amended",
            EventType::ConventionTerminated => "convention-terminated",
            EventType::Corrected => "corrected",
            EventType::Retracted => "retracted",
            EventType::PartnerSucceeded => "partner-succeeded",
        }
    }

    /// The event in words, with its article, for messages ("a termination
    /// needs a reason").
    pub fn in_words(self) -> &'static str {
        match self {
            EventType::PartnerRegistered => "a partner registration",
            EventType::PartnerRenamed => "a rename",
            EventType::ConventionSigned => "a signing",
            EventType::ConventionAmended => "an amendment",
            EventType::ConventionTerminated => "a termination",
            EventType::Corrected => "a correction",
            EventType::Retracted => "a retraction",
            EventType::PartnerSucceeded => "a succession",
        }
    }

    /// Parses a name used in output.
    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.as_str() == text)
    }

    /// True for the event that creates an entity.
    pub fn creates(self) -> bool {
        matches!(
            self,
            EventType::PartnerRegistered | EventType::ConventionSigned
        )
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::PartnerRegistered(_) => EventType::PartnerRegistered,
            Event::PartnerRenamed(_) => EventType::PartnerRenamed,
            Event::ConventionSigned(_) => EventType::ConventionSigned,
            Event::ConventionAmended(_) => EventType::ConventionAmended,
            Event::ConventionTerminated(_) => EventType::ConventionTerminated,
            Event::Corrected(_) => EventType::Corrected,
            Event::Retracted(_) => EventType::Retracted,
            Event::PartnerSucceeded(_) => EventType::PartnerSucceeded,
        }
    }

    /// The kind of entity this event can belong to, when the event says so
    /// (corrections and retractions belong to either).
    pub fn entity_kind(&self) -> Option<EntityKind> {
        match self {
            Event::PartnerRegistered(_) | Event::PartnerRenamed(_) | Event::PartnerSucceeded(_) => {
                Some(EntityKind::Partner)
            }
            Event::ConventionSigned(_)
            | Event::ConventionAmended(_)
            | Event::ConventionTerminated(_) => Some(EntityKind::Convention),
            Event::Corrected(c) => Some(c.patch.entity_kind()),
            Event::Retracted(_) => None,
        }
    }

    /// The date the fact takes effect in the world, if it has one.
    pub fn effective_on(&self) -> Option<PartialDate> {
        match self {
            Event::PartnerRenamed(e) => Some(e.effective_on),
            Event::ConventionSigned(e) => Some(e.signed_on),
            Event::ConventionAmended(e) => Some(e.effective_on),
            Event::ConventionTerminated(e) => Some(e.effective_on),
            Event::PartnerSucceeded(e) => Some(e.effective_on),
            Event::PartnerRegistered(_) | Event::Corrected(_) | Event::Retracted(_) => None,
        }
    }

    /// The event a correction or retraction points at.
    pub fn target(&self) -> Option<EventId> {
        match self {
            Event::Corrected(c) => Some(c.target),
            Event::Retracted(r) => Some(r.target),
            _ => None,
        }
    }

    /// Every partner this event names as a party (parties of a signing or
    /// amendment, including those of a correction). Successors are not
    /// parties: see [`Event::successors_named`].
    pub fn partners_named(&self) -> Vec<PartnerId> {
        match self {
            Event::ConventionSigned(s) => s.parties.clone(),
            Event::ConventionAmended(a) => a
                .parties_added
                .iter()
                .chain(&a.parties_removed)
                .copied()
                .collect(),
            Event::Corrected(Corrected {
                patch: Patch::ConventionSigned(p),
                ..
            }) => p.parties.clone().unwrap_or_default(),
            Event::Corrected(Corrected {
                patch: Patch::ConventionAmended(p),
                ..
            }) => p
                .parties_added
                .iter()
                .chain(&p.parties_removed)
                .flatten()
                .copied()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// True for a succession, or a correction of one, whatever successors
    /// it names (none, in a log that holds such an event).
    pub fn is_succession(&self) -> bool {
        matches!(
            self,
            Event::PartnerSucceeded(_)
                | Event::Corrected(Corrected {
                    patch: Patch::PartnerSucceeded(_),
                    ..
                })
        )
    }

    /// Every partner this event names as a successor (a succession, or a
    /// correction of one).
    pub fn successors_named(&self) -> Vec<PartnerId> {
        match self {
            Event::PartnerSucceeded(s) => s.successors.clone(),
            Event::Corrected(Corrected {
                patch: Patch::PartnerSucceeded(p),
                ..
            }) => p.successors.clone().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// Applies a correction's patch to this event's payload, field by field.
    /// A patch of another shape changes nothing (folding never refuses).
    pub fn patched(&self, patch: &Patch) -> Event {
        let mut event = self.clone();
        match (&mut event, patch) {
            (Event::PartnerRegistered(e), Patch::PartnerRegistered(p)) => {
                set(&mut e.name, &p.name);
                set(&mut e.kind, &p.kind);
                set(&mut e.short_name, &p.short_name);
                set(&mut e.country, &p.country);
            }
            (Event::PartnerRenamed(e), Patch::PartnerRenamed(p)) => {
                set(&mut e.new_name, &p.new_name);
                set(&mut e.short_name, &p.short_name);
                set(&mut e.effective_on, &p.effective_on);
            }
            (Event::ConventionSigned(e), Patch::ConventionSigned(p)) => {
                set(&mut e.instrument, &p.instrument);
                set(&mut e.parties, &p.parties);
                set(&mut e.signed_on, &p.signed_on);
                set(&mut e.objectives, &p.objectives);
                set(&mut e.expires_on, &p.expires_on);
                set(&mut e.official_ref, &p.official_ref);
            }
            (Event::ConventionAmended(e), Patch::ConventionAmended(p)) => {
                set(&mut e.effective_on, &p.effective_on);
                set(&mut e.amendment_ref, &p.amendment_ref);
                set(&mut e.objectives, &p.objectives);
                set(&mut e.parties_added, &p.parties_added);
                set(&mut e.parties_removed, &p.parties_removed);
                set(&mut e.expiry, &p.expiry);
                set(&mut e.instrument, &p.instrument);
            }
            (Event::ConventionTerminated(e), Patch::ConventionTerminated(p)) => {
                set(&mut e.effective_on, &p.effective_on);
                set(&mut e.kind, &p.kind);
            }
            (Event::PartnerSucceeded(e), Patch::PartnerSucceeded(p)) => {
                set(&mut e.successors, &p.successors);
                set(&mut e.effective_on, &p.effective_on);
            }
            _ => {}
        }
        event
    }
}

fn set<T: Clone>(field: &mut T, new: &Option<T>) {
    if let Some(value) = new {
        *field = value.clone();
    }
}

impl Patch {
    /// The type of event this patch can correct.
    pub fn target_type(&self) -> EventType {
        match self {
            Patch::PartnerRegistered(_) => EventType::PartnerRegistered,
            Patch::PartnerRenamed(_) => EventType::PartnerRenamed,
            Patch::ConventionSigned(_) => EventType::ConventionSigned,
            Patch::ConventionAmended(_) => EventType::ConventionAmended,
            Patch::ConventionTerminated(_) => EventType::ConventionTerminated,
            Patch::PartnerSucceeded(_) => EventType::PartnerSucceeded,
        }
    }

    /// The kind of entity the patched event belongs to.
    pub fn entity_kind(&self) -> EntityKind {
        match self {
            Patch::PartnerRegistered(_) | Patch::PartnerRenamed(_) | Patch::PartnerSucceeded(_) => {
                EntityKind::Partner
            }
            _ => EntityKind::Convention,
        }
    }

    /// True when the patch sets no field at all.
    pub fn is_empty(&self) -> bool {
        match self {
            Patch::PartnerRegistered(p) => *p == PartnerRegisteredPatch::default(),
            Patch::PartnerRenamed(p) => *p == PartnerRenamedPatch::default(),
            Patch::ConventionSigned(p) => *p == ConventionSignedPatch::default(),
            Patch::ConventionAmended(p) => *p == ConventionAmendedPatch::default(),
            Patch::ConventionTerminated(p) => *p == ConventionTerminatedPatch::default(),
            Patch::PartnerSucceeded(p) => *p == PartnerSucceededPatch::default(),
        }
    }
}

/// An event as stored: the fact and its envelope (`docs/events.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    /// position in the log, from 1, gapless
    pub seq: Seq,
    /// the event's own id
    pub id: EventId,
    /// the stream it belongs to
    pub entity: EntityId,
    /// position in that stream, from 1
    pub version: u64,
    /// when the store appended it
    pub recorded_at: DateTime<Utc>,
    /// who recorded it
    pub actor: Actor,
    /// why
    pub reason: Option<Reason>,
    /// the document the fact comes from
    pub source: Option<Source>,
    /// the previous event's hash ([`Digest::GENESIS`] for the first)
    pub prev_hash: Digest,
    /// `H(prev_hash ‖ canonical bytes of the rest)`
    pub hash: Digest,
    /// the fact
    pub event: Event,
}

/// An event decided but not yet appended: the store gives it its `seq`,
/// `recorded_at` and hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEvent {
    /// the event's own id
    pub id: EventId,
    /// the stream it goes to
    pub entity: EntityId,
    /// the stream's version it was decided on (0 for a new entity); the
    /// event becomes `version + 1`
    pub expected_version: u64,
    /// who records it
    pub actor: Actor,
    /// why
    pub reason: Option<Reason>,
    /// the document the fact comes from
    pub source: Option<Source>,
    /// the fact
    pub event: Event,
}
