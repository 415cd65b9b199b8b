//! Deciding: a command is checked against the current state of the log and
//! becomes exactly one event, or is refused with a [`Refusal`].
//!
//! All business rules live here; folding (`timeline`) has none. What decide
//! needs to know about the rest of the registry (does this partner exist,
//! who holds this name) it asks through [`Directory`], so this module knows
//! nothing of storage.

use std::collections::HashSet;

use super::correction::list_in_words;
pub use super::correction::{CorrectionField, CorrectionFields};
use super::date::PartialDate;
use super::event::{
    ConventionAmended, ConventionSigned, ConventionTerminated, Corrected, Event, EventRecord,
    EventType, ExpiryChange, PartnerRegistered, PartnerRenamed, PartnerSucceeded, Retracted,
};
use super::id::{ConventionId, EntityId, EventId, PartnerId, Seq};
use super::text::{PartnerName, Reason, fold_key};
use super::timeline::{
    AnyTimeline, ConventionChange, ConventionTimeline, PartnerTimeline, Payload, Succession,
    Timeline, successions_concerning,
};

/// What decide may ask about the rest of the registry (at the head of the log).
pub trait Directory {
    /// True when the partner is registered and its registration is not void.
    fn partner_exists(&self, id: PartnerId) -> bool;
    /// Partners other than `except` whose current name folds to `key`.
    fn partners_named(&self, key: &str, except: Option<PartnerId>) -> Vec<PartnerId>;
    /// Conventions that name the partner as a party in a surviving fact.
    fn conventions_naming(&self, partner: PartnerId) -> Vec<ConventionId>;
    /// The partner's surviving successions, corrected (empty for a partner
    /// that is unknown or never succeeded).
    fn successions_of(&self, partner: PartnerId) -> Vec<Succession>;
    /// Partners whose surviving succession names `partner` as a successor.
    fn predecessors_of(&self, partner: PartnerId) -> Vec<PartnerId>;
    /// The log position of a recorded event and the entity it belongs to
    /// (`None` for an event the log does not hold).
    fn event_owner(&self, event: EventId) -> Option<(Seq, EntityId)>;
    /// How to name an entity in a message (`P7 'Agadir'`).
    fn label(&self, entity: EntityId) -> String;
}

/// Something a clerk asks the registry to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `partner add`
    RegisterPartner(PartnerId, PartnerRegistered),
    /// `partner rename`
    RenamePartner(PartnerId, PartnerRenamed),
    /// `partner succeed`
    SucceedPartner(PartnerId, PartnerSucceeded),
    /// `sign`
    SignConvention(ConventionId, ConventionSigned),
    /// `amend`
    AmendConvention(ConventionId, ConventionAmended),
    /// `terminate`
    TerminateConvention(ConventionId, ConventionTerminated),
    /// `correct`: `target` defaults to the creating event
    Correct {
        /// whose record is fixed
        entity: EntityId,
        /// the event fixed; `None` means the creating event
        target: Option<EventId>,
        /// the new values, as given on the command line
        fields: CorrectionFields,
    },
    /// `retract`
    Retract {
        /// whose event is voided
        entity: EntityId,
        /// the event voided
        target: EventId,
    },
}

impl Command {
    /// The stream the command writes to.
    pub fn entity(&self) -> EntityId {
        match self {
            Command::RegisterPartner(id, _)
            | Command::RenamePartner(id, _)
            | Command::SucceedPartner(id, _) => (*id).into(),
            Command::SignConvention(id, _)
            | Command::AmendConvention(id, _)
            | Command::TerminateConvention(id, _) => (*id).into(),
            Command::Correct { entity, .. } | Command::Retract { entity, .. } => *entity,
        }
    }

    /// True for the commands that create their entity.
    pub fn creates(&self) -> bool {
        matches!(
            self,
            Command::RegisterPartner(..) | Command::SignConvention(..)
        )
    }
}

/// How a refusal is reported: bad input, or a reference to nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalClass {
    /// the command is invalid (exit 2)
    Invalid,
    /// it names something that does not exist (exit 3)
    NotFound,
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A creating command for an entity that already has events.
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The entity has no event.
    #[error("{0} does not exist")]
    NoSuchEntity(String),
    /// The entity's creating event is void.
    #[error("{0} was retracted: it exists nowhere and cannot change")]
    Retracted(String),
    /// A reference of the wrong kind (a partner where a convention is meant).
    #[error("{given} is a {actual}, not a {expected}")]
    WrongKind {
        /// what was named
        given: String,
        /// what it is
        actual: &'static str,
        /// what was needed
        expected: &'static str,
    },
    /// Another partner already has the name.
    #[error("another partner is already named '{name}': {holder}")]
    DuplicateName {
        /// the name asked for
        name: String,
        /// the partner that holds it
        holder: String,
    },
    /// A rename to the name the partner already has.
    #[error("{partner} is already named '{name}'")]
    SameName {
        /// the partner
        partner: String,
        /// its name
        name: String,
    },
    /// A signing with no party.
    #[error("a convention needs at least one party")]
    NoParty,
    /// A partner named twice.
    #[error("{0} is named twice")]
    RepeatedParty(String),
    /// A party that is not a registered partner.
    #[error("partner {0} is not registered")]
    UnknownPartner(String),
    /// A dated fact that would take effect before the signing.
    #[error("{what} {date} would fall before the signing ({signed_on})")]
    BeforeSigning {
        /// which date
        what: &'static str,
        /// its value
        date: PartialDate,
        /// the convention's signing date
        signed_on: PartialDate,
    },
    /// A change to a convention that has ended.
    #[error("{convention} ended on {ended_on}: a change from {date} on cannot be recorded")]
    AfterEnd {
        /// the convention
        convention: String,
        /// when it ended
        ended_on: PartialDate,
        /// the date of the change refused
        date: PartialDate,
    },
    /// A second termination.
    #[error("{convention} was already ended on {ended_on}")]
    AlreadyEnded {
        /// the convention
        convention: String,
        /// when it ended
        ended_on: PartialDate,
    },
    /// An amendment that changes nothing.
    #[error("the amendment changes nothing: give new objectives, parties, expiry or instrument")]
    EmptyAmendment,
    /// A field of an amendment that is already what it would set.
    #[error("the amendment changes nothing in {field}: as of {date} it is already {value}")]
    AmendmentChangesNothing {
        /// the field
        field: &'static str,
        /// the amendment's date
        date: PartialDate,
        /// what it already is
        value: String,
    },
    /// A country given to a partner that is not a foreign state.
    #[error("only a foreign-state carries a country, not a {kind} ({country})")]
    CountryNotForeign {
        /// the partner's kind
        kind: super::kind::PartnerKind,
        /// the country given
        country: String,
    },
    /// Expiry both set and cleared.
    #[error("an amendment cannot both set and clear the expiry")]
    ExpiryConflict,
    /// Adding a partner that is already a party.
    #[error("{0} is already a party")]
    AlreadyParty(String),
    /// Removing a partner that is not a party.
    #[error("{0} is not a party")]
    NotAParty(String),
    /// Removing every party.
    #[error("the amendment would leave the convention with no party")]
    NoPartyLeft,
    /// A command that needs a reason got none.
    #[error("{} needs a reason", .0.in_words())]
    ReasonRequired(EventType),
    /// The event named is not in the log.
    #[error("event {0} does not exist")]
    NoSuchEvent(String),
    /// The event named belongs to another entity.
    #[error("event {event} belongs to {owner}, not to {entity}")]
    EventOfAnotherEntity {
        /// the event
        event: String,
        /// whose it is
        owner: String,
        /// whose it was said to be
        entity: String,
    },
    /// A correction or retraction aimed at an event it cannot target.
    #[error("{} cannot be {action}", .event_type.in_words())]
    NotTargetable {
        /// the target's type
        event_type: EventType,
        /// "corrected" or "retracted"
        action: &'static str,
    },
    /// The target is already void.
    #[error("event {target} is already void (retracted by #{by})")]
    AlreadyVoid {
        /// the target
        target: String,
        /// the retraction's seq
        by: Seq,
    },
    /// Fields that do not belong to the target's type.
    #[error(
        "{} has no field for {} (it takes {})",
        .target.in_words(),
        list_in_words(.fields),
        list_in_words(.accepted)
    )]
    FieldsOfAnotherType {
        /// the target's type
        target: EventType,
        /// what the correction tried to set
        fields: Vec<CorrectionField>,
        /// the fields it accepts
        accepted: Vec<CorrectionField>,
    },
    /// A correction with no new value.
    #[error("give at least one new value to correct ({})", list_in_words(.accepted))]
    NoCorrectionGiven {
        /// the fields accepted
        accepted: Vec<CorrectionField>,
    },
    /// A correction that corrects nothing.
    #[error("the correction changes nothing: the record already says that")]
    NothingToCorrect,
    /// A succession with no successor.
    #[error("a succession needs at least one successor")]
    NoSuccessor,
    /// A partner named as its own successor.
    #[error("{0} cannot succeed itself")]
    SelfSuccession(String),
    /// A succession that would make a partner succeed itself through a chain.
    #[error(
        "{partner} cannot be succeeded by {successor}: {successor} is already, through its own successions, a predecessor of {partner}"
    )]
    SuccessionCycle {
        /// the partner succeeded
        partner: String,
        /// the successor that leads back to it
        successor: String,
    },
    /// A successor that has itself ceased by the succession's date.
    #[error("{successor} ceased on {on}; name its successors instead ({successors})")]
    SuccessorCeased {
        /// the successor
        successor: String,
        /// the date of its own succession
        on: PartialDate,
        /// its own successors
        successors: String,
    },
    /// A succession dated on or before the partner received conventions by
    /// succession: they would be left with a partner that had ceased.
    #[error(
        "{partner} received the conventions of {predecessor} by succession on {on}: it cannot cease on or before that date"
    )]
    CeasesBeforeReceiving {
        /// the partner succeeded
        partner: String,
        /// the partner it succeeded
        predecessor: String,
        /// the date of that succession
        on: PartialDate,
    },
    /// A second succession of the same partner.
    #[error("{partner} was already succeeded on {on}")]
    AlreadySucceeded {
        /// the partner
        partner: String,
        /// the date of its standing succession
        on: PartialDate,
    },
    /// Retracting a partner that a succession names as a successor.
    #[error(
        "{partner} is a successor of {predecessors}: retract or correct those successions first"
    )]
    SuccessorInUse {
        /// the partner
        partner: String,
        /// the partners it succeeds
        predecessors: String,
    },
    /// Retracting a partner that conventions still name.
    #[error("{partner} is a party of {conventions}: retract or correct those first")]
    PartnerInUse {
        /// the partner
        partner: String,
        /// the conventions naming it
        conventions: String,
    },
}

impl Refusal {
    /// Bad input or missing reference.
    pub fn class(&self) -> RefusalClass {
        match self {
            Refusal::NoSuchEntity(_)
            | Refusal::WrongKind { .. }
            | Refusal::UnknownPartner(_)
            | Refusal::NoSuchEvent(_) => RefusalClass::NotFound,
            _ => RefusalClass::Invalid,
        }
    }
}

/// What decide knows of the entity a command is about, at the head of the
/// log.
#[derive(Clone, Copy, Debug, Default)]
pub struct Subject<'a> {
    /// its timeline (`None`: the entity has no event yet)
    pub timeline: Option<&'a AnyTimeline>,
    /// its whole stream, oldest first, when [`Command::needs_stream`] says
    /// the decision needs it (else it may be left empty)
    pub stream: &'a [EventRecord],
}

impl Command {
    /// True when deciding needs the entity's raw stream besides its
    /// timeline: a correction or retraction whose target the timeline does
    /// not show (see [`target_in_timeline`]), which is then either refused
    /// (void, unknown, a retraction) or a correction of a void event.
    pub fn needs_stream(&self, timeline: Option<&AnyTimeline>) -> bool {
        let (target, retract) = match self {
            Command::Correct { target, .. } => (*target, false),
            Command::Retract { target, .. } => (Some(*target), true),
            _ => return false,
        };
        match timeline.and_then(|t| target_in_timeline(t, target)) {
            None => true,
            // retracting a standing correction of a partner revives the
            // payload before it, which is checked again from the stream
            Some(found) => {
                retract
                    && found.event_type == EventType::Corrected
                    && matches!(timeline, Some(AnyTimeline::Partner(_)))
            }
        }
    }
}

/// The event a correction or retraction targets, as the entity's history
/// shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// the event
    pub id: EventId,
    /// its type
    pub event_type: EventType,
    /// its payload with the corrections that stand applied; `None` for a
    /// correction or a retraction, which are never corrected themselves
    pub current: Option<Event>,
}

/// Finds `target` (the creating event when `None`) among what the timeline
/// keeps: a surviving event, with its payload as corrected, or a standing
/// correction. `None` when the timeline does not show it; the stream then
/// tells what it is ([`target_in_stream`]). Where both find it, they agree.
pub fn target_in_timeline(timeline: &AnyTimeline, target: Option<EventId>) -> Option<Target> {
    fn find<I, B: Payload, F: Payload>(
        t: &Timeline<I, B, F>,
        target: Option<EventId>,
    ) -> Option<Target> {
        let live = |id: EventId, event: Event| {
            Some(Target {
                id,
                event_type: event.event_type(),
                current: Some(event),
            })
        };
        let Some(target) = target else {
            return t
                .base
                .as_ref()
                .and_then(|b| live(b.id, b.payload.to_event()));
        };
        if let Some(b) = t.base.as_ref().filter(|b| b.id == target) {
            return live(b.id, b.payload.to_event());
        }
        if let Some(f) = t.facts.iter().find(|f| f.id == target) {
            return live(f.id, f.payload.to_event());
        }
        t.corrections
            .iter()
            .any(|(c, _)| *c == target)
            .then_some(Target {
                id: target,
                event_type: EventType::Corrected,
                current: None,
            })
    }
    match timeline {
        AnyTimeline::Partner(t) => find(t, target),
        AnyTimeline::Convention(t) => find(t, target),
    }
}

/// Finds `target` (the creating event when `None`) in the entity's whole
/// stream, and refuses a target that is unknown or void.
pub fn target_in_stream(
    entity: EntityId,
    target: Option<EventId>,
    stream: &[EventRecord],
    dir: &dyn Directory,
) -> Result<Target, Refusal> {
    let target = match target {
        Some(t) => t,
        None => stream
            .first()
            .map(|e| e.id)
            .ok_or_else(|| Refusal::NoSuchEntity(dir.label(entity)))?,
    };
    let record = stream
        .iter()
        .find(|e| e.id == target)
        .ok_or_else(|| Refusal::NoSuchEvent(format!("{target} of {}", dir.label(entity))))?;
    if let Some(by) = voided_by(target, stream) {
        return Err(Refusal::AlreadyVoid {
            target: target.to_string(),
            by,
        });
    }
    let event_type = record.event.event_type();
    let current = (!matches!(event_type, EventType::Corrected | EventType::Retracted)).then(|| {
        stream
            .iter()
            .filter(|e| voided_by(e.id, stream).is_none())
            .filter_map(|e| match &e.event {
                Event::Corrected(c) if c.target == target => Some(&c.patch),
                _ => None,
            })
            .fold(record.event.clone(), |event, p| event.patched(p))
    });
    Ok(Target {
        id: target,
        event_type,
        current,
    })
}

/// The target from the timeline when it shows it, else from the stream.
fn find_target(
    entity: EntityId,
    target: Option<EventId>,
    subject: Subject<'_>,
    dir: &dyn Directory,
) -> Result<Target, Refusal> {
    match subject.timeline.and_then(|t| target_in_timeline(t, target)) {
        Some(found) => Ok(found),
        None => target_in_stream(entity, target, subject.stream, dir),
    }
}

/// Checks `command` against what the registry holds of its entity and the
/// rest of the registry, and returns the one event to record.
pub fn decide(
    command: &Command,
    reason: Option<&Reason>,
    subject: Subject<'_>,
    dir: &dyn Directory,
) -> Result<Event, Refusal> {
    let entity = command.entity();
    if command.creates() {
        if subject.timeline.is_some() {
            return Err(Refusal::AlreadyExists(dir.label(entity)));
        }
    } else if subject.timeline.is_none() {
        return Err(Refusal::NoSuchEntity(dir.label(entity)));
    }
    match command {
        Command::RegisterPartner(id, payload) => {
            check_name_free(&payload.name, Some(*id), dir)?;
            check_short_free(payload.short_name.as_ref(), Some(*id), dir)?;
            check_country(payload)?;
            Ok(Event::PartnerRegistered(payload.clone()))
        }
        Command::RenamePartner(id, payload) => {
            let current = live_partner(*id, subject, dir)?;
            let now = current.state_at(super::date::end_of_time());
            if now.as_ref().map(|s| &s.name) == Some(&payload.new_name) {
                return Err(Refusal::SameName {
                    partner: dir.label(entity),
                    name: payload.new_name.to_string(),
                });
            }
            check_name_free(&payload.new_name, Some(*id), dir)?;
            check_short_free(payload.short_name.as_ref(), Some(*id), dir)?;
            Ok(Event::PartnerRenamed(payload.clone()))
        }
        Command::SucceedPartner(id, payload) => {
            require_reason(EventType::PartnerSucceeded, reason)?;
            let current = live_partner(*id, subject, dir)?;
            if let Some(standing) = current.successions().first() {
                return Err(Refusal::AlreadySucceeded {
                    partner: dir.label(entity),
                    on: standing.succeeded.effective_on,
                });
            }
            check_succession(*id, payload, dir)?;
            Ok(Event::PartnerSucceeded(payload.clone()))
        }
        Command::SignConvention(_, payload) => {
            check_signing(payload, dir)?;
            Ok(Event::ConventionSigned(payload.clone()))
        }
        Command::AmendConvention(id, payload) => {
            let timeline = live_convention(*id, subject, dir)?;
            check_amendment(payload, timeline, dir)?;
            Ok(Event::ConventionAmended(payload.clone()))
        }
        Command::TerminateConvention(id, payload) => {
            require_reason(EventType::ConventionTerminated, reason)?;
            let timeline = live_convention(*id, subject, dir)?;
            if let Some(ended_on) = ended_on(timeline) {
                return Err(Refusal::AlreadyEnded {
                    convention: dir.label(entity),
                    ended_on,
                });
            }
            check_not_before_signing(timeline, "the end", payload.effective_on)?;
            Ok(Event::ConventionTerminated(payload.clone()))
        }
        Command::Correct {
            entity,
            target,
            fields,
        } => {
            // an event the entity's own timeline or stream shows is its own:
            // the log is searched only for one it does not
            if let Some(target) = target
                && subject
                    .timeline
                    .and_then(|t| target_in_timeline(t, Some(*target)))
                    .is_none()
                && !subject.stream.iter().any(|r| r.id == *target)
            {
                check_event_of(*entity, *target, dir)?;
            }
            require_reason(EventType::Corrected, reason)?;
            decide_correction(*entity, *target, fields, subject, dir)
        }
        Command::Retract { entity, target } => {
            require_reason(EventType::Retracted, reason)?;
            decide_retraction(*entity, *target, subject, dir)
        }
    }
}

/// Refuses a target event recorded in another entity's stream.
fn check_event_of(entity: EntityId, event: EventId, dir: &dyn Directory) -> Result<(), Refusal> {
    match dir.event_owner(event) {
        Some((seq, owner)) if owner != entity => Err(Refusal::EventOfAnotherEntity {
            event: format!("#{seq}"),
            owner: dir.label(owner),
            entity: dir.label(entity),
        }),
        _ => Ok(()),
    }
}

fn require_reason(event_type: EventType, reason: Option<&Reason>) -> Result<(), Refusal> {
    match reason {
        Some(_) => Ok(()),
        None => Err(Refusal::ReasonRequired(event_type)),
    }
}

fn live_partner<'a>(
    id: PartnerId,
    subject: Subject<'a>,
    dir: &dyn Directory,
) -> Result<&'a PartnerTimeline, Refusal> {
    match subject.timeline {
        Some(AnyTimeline::Partner(t)) if t.base.is_some() => Ok(t),
        Some(AnyTimeline::Partner(_)) => Err(Refusal::Retracted(dir.label(id.into()))),
        _ => Err(Refusal::NoSuchEntity(dir.label(id.into()))),
    }
}

fn live_convention<'a>(
    id: ConventionId,
    subject: Subject<'a>,
    dir: &dyn Directory,
) -> Result<&'a ConventionTimeline, Refusal> {
    match subject.timeline {
        Some(AnyTimeline::Convention(t)) if t.base.is_some() => Ok(t),
        Some(AnyTimeline::Convention(_)) => Err(Refusal::Retracted(dir.label(id.into()))),
        _ => Err(Refusal::NoSuchEntity(dir.label(id.into()))),
    }
}

/// A short name is a reference like a name: no other partner may bear it
/// as a name or a short name.
fn check_short_free(
    short: Option<&super::text::ShortName>,
    own: Option<PartnerId>,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    let Some(short) = short else {
        return Ok(());
    };
    match dir.partners_named(&fold_key(short.as_str()), own).first() {
        Some(holder) => Err(Refusal::DuplicateName {
            name: short.to_string(),
            holder: dir.label((*holder).into()),
        }),
        None => Ok(()),
    }
}

/// Only foreign states carry a country.
fn check_country(p: &super::event::PartnerRegistered) -> Result<(), Refusal> {
    match p.country {
        Some(country) if p.kind != super::kind::PartnerKind::ForeignState => {
            Err(Refusal::CountryNotForeign {
                kind: p.kind,
                country: country.to_string(),
            })
        }
        _ => Ok(()),
    }
}

fn check_name_free(
    name: &PartnerName,
    own: Option<PartnerId>,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    match dir.partners_named(&fold_key(name.as_str()), own).first() {
        Some(holder) => Err(Refusal::DuplicateName {
            name: name.to_string(),
            holder: dir.label((*holder).into()),
        }),
        None => Ok(()),
    }
}

fn check_parties_exist<'a>(
    parties: impl IntoIterator<Item = &'a PartnerId>,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    for party in parties {
        if !seen.insert(*party) {
            return Err(Refusal::RepeatedParty(dir.label((*party).into())));
        }
        if !dir.partner_exists(*party) {
            return Err(Refusal::UnknownPartner(dir.label((*party).into())));
        }
    }
    Ok(())
}

/// The rules of a succession: at least one successor, no repeats, each
/// registered, never the partner itself, none that leads back to the
/// partner through the successions already recorded (a cycle), none that
/// has itself ceased by the succession's date, and no date on or before the
/// day the partner itself received conventions by succession.
fn check_succession(
    partner: PartnerId,
    payload: &PartnerSucceeded,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    let successors = &payload.successors;
    let from = payload.effective_on.earliest();
    if successors.is_empty() {
        return Err(Refusal::NoSuccessor);
    }
    if successors.contains(&partner) {
        return Err(Refusal::SelfSuccession(dir.label(partner.into())));
    }
    check_parties_exist(successors, dir)?;
    for q in successors {
        let chain = successions_concerning([*q], |p| dir.successions_of(p));
        if chain
            .iter()
            .any(|s| s.succeeded.successors.contains(&partner))
        {
            return Err(Refusal::SuccessionCycle {
                partner: dir.label(partner.into()),
                successor: dir.label((*q).into()),
            });
        }
        if let Some(ceased) = dir
            .successions_of(*q)
            .into_iter()
            .find(|s| s.succeeded.effective_on.earliest() <= from)
        {
            return Err(Refusal::SuccessorCeased {
                successor: dir.label((*q).into()),
                on: ceased.succeeded.effective_on,
                successors: ceased
                    .succeeded
                    .successors
                    .iter()
                    .map(|p| dir.label((*p).into()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    for r in dir.predecessors_of(partner) {
        if let Some(received) = dir.successions_of(r).into_iter().find(|s| {
            s.succeeded.successors.contains(&partner) && s.succeeded.effective_on.earliest() >= from
        }) {
            return Err(Refusal::CeasesBeforeReceiving {
                partner: dir.label(partner.into()),
                predecessor: dir.label(r.into()),
                on: received.succeeded.effective_on,
            });
        }
    }
    Ok(())
}

/// Retracting a standing correction of a partner's succession revives the
/// payload before it: that payload must pass the rules of a new succession.
fn check_revived_succession(
    partner: PartnerId,
    correction: EventId,
    subject: Subject<'_>,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    let Some(AnyTimeline::Partner(now)) = subject.timeline else {
        return Ok(());
    };
    let Some(last) = subject.stream.last() else {
        return Ok(());
    };
    let Some(revived) = PartnerTimeline::replay(
        partner,
        subject.stream.iter().filter(|e| e.id != correction),
        last.seq,
    ) else {
        return Ok(());
    };
    let before = now.successions();
    for s in revived.successions() {
        if !before
            .iter()
            .any(|b| b.id == s.id && b.succeeded == s.succeeded)
        {
            check_succession(partner, &s.succeeded, dir)?;
        }
    }
    Ok(())
}

fn check_signing(payload: &ConventionSigned, dir: &dyn Directory) -> Result<(), Refusal> {
    if payload.parties.is_empty() {
        return Err(Refusal::NoParty);
    }
    check_parties_exist(&payload.parties, dir)?;
    if let Some(expiry) = payload.expires_on {
        check_date_after(payload.signed_on, "the expiry", expiry)?;
    }
    Ok(())
}

/// Refuses a date whose whole period lies before the signing's.
fn check_date_after(
    signed_on: PartialDate,
    what: &'static str,
    date: PartialDate,
) -> Result<(), Refusal> {
    if date.latest() < signed_on.earliest() {
        return Err(Refusal::BeforeSigning {
            what,
            date,
            signed_on,
        });
    }
    Ok(())
}

fn check_not_before_signing(
    timeline: &ConventionTimeline,
    what: &'static str,
    date: PartialDate,
) -> Result<(), Refusal> {
    match &timeline.base {
        Some(base) => check_date_after(base.payload.signed_on, what, date),
        None => Ok(()),
    }
}

fn ended_on(timeline: &ConventionTimeline) -> Option<PartialDate> {
    match timeline.termination().map(|t| &t.payload) {
        Some(ConventionChange::Terminated(t)) => Some(t.effective_on),
        _ => None,
    }
}

fn check_amendment(
    payload: &ConventionAmended,
    timeline: &ConventionTimeline,
    dir: &dyn Directory,
) -> Result<(), Refusal> {
    let label = || dir.label(timeline.id.into());
    if payload.objectives.is_none()
        && payload.parties_added.is_empty()
        && payload.parties_removed.is_empty()
        && payload.expiry.is_none()
        && payload.instrument.is_none()
    {
        return Err(Refusal::EmptyAmendment);
    }
    check_not_before_signing(timeline, "the amendment's date", payload.effective_on)?;
    if let Some(ended_on) = ended_on(timeline)
        && payload.effective_on.latest() >= ended_on.earliest()
    {
        return Err(Refusal::AfterEnd {
            convention: label(),
            ended_on,
            date: payload.effective_on,
        });
    }
    if let Some(ExpiryChange::Set(expiry)) = payload.expiry {
        check_not_before_signing(timeline, "the expiry", expiry)?;
    }
    check_parties_exist(
        payload.parties_added.iter().chain(&payload.parties_removed),
        dir,
    )?;
    // Parties as they stand on the amendment's last day, every earlier fact
    // applied, successions of its partners included.
    let successions = successions_concerning(timeline.partners_ever(), |p| dir.successions_of(p));
    let state = timeline.state_at_with(payload.effective_on.latest(), &successions);
    if let Some(state) = &state {
        let same = |field: &'static str, value: String| Refusal::AmendmentChangesNothing {
            field,
            date: payload.effective_on,
            value,
        };
        if payload.objectives.as_ref() == Some(&state.objectives) {
            return Err(same("objectives", format!("'{}'", state.objectives)));
        }
        if payload.instrument == Some(state.instrument) {
            return Err(same("instrument", format!("'{}'", state.instrument)));
        }
        match (payload.expiry, state.expires_on) {
            (Some(ExpiryChange::Cleared), None) => {
                return Err(same("expiry", "without an expiry".into()));
            }
            (Some(ExpiryChange::Set(new)), Some(old)) if new == old => {
                return Err(same("expiry", format!("expiring on {old}")));
            }
            _ => {}
        }
    }
    let parties = state.map(|s| s.parties).unwrap_or_default();
    for p in &payload.parties_added {
        if parties.contains(p) {
            return Err(Refusal::AlreadyParty(dir.label((*p).into())));
        }
    }
    for p in &payload.parties_removed {
        if !parties.contains(p) {
            return Err(Refusal::NotAParty(dir.label((*p).into())));
        }
    }
    let left = parties
        .iter()
        .filter(|p| !payload.parties_removed.contains(p))
        .count()
        + payload.parties_added.len();
    if left == 0 {
        return Err(Refusal::NoPartyLeft);
    }
    Ok(())
}

/// The seq of the retraction that voids `target`, if any.
fn voided_by(target: EventId, stream: &[EventRecord]) -> Option<Seq> {
    stream.iter().find_map(|e| match &e.event {
        Event::Retracted(r) if r.target == target => Some(e.seq),
        _ => None,
    })
}

fn decide_correction(
    entity: EntityId,
    target: Option<EventId>,
    fields: &CorrectionFields,
    subject: Subject<'_>,
    dir: &dyn Directory,
) -> Result<Event, Refusal> {
    let found = find_target(entity, target, subject, dir)?;
    let target = found.id;
    let target_type = found.event_type;
    // The target's payload as corrected so far, then with this patch.
    let Some(current) = found.current else {
        return Err(Refusal::NotTargetable {
            event_type: target_type,
            action: "corrected",
        });
    };
    let patch = &fields.patch_for(target_type)?;
    let corrected = current.patched(patch);
    if corrected == current {
        return Err(Refusal::NothingToCorrect);
    }
    match (&corrected, entity) {
        (Event::PartnerRegistered(p), EntityId::Partner(id)) => {
            check_name_free(&p.name, Some(id), dir)?;
            check_short_free(p.short_name.as_ref(), Some(id), dir)?;
            check_country(p)?
        }
        (Event::PartnerRenamed(p), EntityId::Partner(id)) => {
            check_name_free(&p.new_name, Some(id), dir)?;
            check_short_free(p.short_name.as_ref(), Some(id), dir)?
        }
        (Event::PartnerSucceeded(p), EntityId::Partner(id)) => check_succession(id, p, dir)?,
        (Event::ConventionSigned(s), EntityId::Convention(id)) => {
            check_signing(s, dir)?;
            // Every surviving dated fact must still follow the signing.
            let timeline = live_convention(id, subject, dir)?;
            for fact in &timeline.facts {
                check_date_after(
                    s.signed_on,
                    "a recorded change's date",
                    effective(&fact.payload),
                )?;
            }
        }
        (Event::ConventionAmended(a), EntityId::Convention(id)) => {
            let timeline = live_convention(id, subject, dir)?;
            check_not_before_signing(timeline, "the amendment's date", a.effective_on)?;
            check_parties_exist(a.parties_added.iter().chain(&a.parties_removed), dir)?;
        }
        (Event::ConventionTerminated(t), EntityId::Convention(id)) => {
            let timeline = live_convention(id, subject, dir)?;
            check_not_before_signing(timeline, "the end", t.effective_on)?;
        }
        _ => {}
    }
    Ok(Event::Corrected(Corrected {
        target,
        patch: patch.clone(),
    }))
}

fn effective(change: &ConventionChange) -> PartialDate {
    use super::timeline::Dated;
    change.effective_on()
}

fn decide_retraction(
    entity: EntityId,
    target: EventId,
    subject: Subject<'_>,
    dir: &dyn Directory,
) -> Result<Event, Refusal> {
    let target_type = find_target(entity, Some(target), subject, dir)?.event_type;
    if target_type == EventType::Retracted {
        return Err(Refusal::NotTargetable {
            event_type: target_type,
            action: "retracted",
        });
    }
    if let (EventType::Corrected, EntityId::Partner(partner)) = (target_type, entity) {
        check_revived_succession(partner, target, subject, dir)?;
    }
    if let (EventType::PartnerRegistered, EntityId::Partner(partner)) = (target_type, entity) {
        let conventions = dir.conventions_naming(partner);
        if !conventions.is_empty() {
            return Err(Refusal::PartnerInUse {
                partner: dir.label(entity),
                conventions: conventions
                    .iter()
                    .map(|c| dir.label((*c).into()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        let predecessors = dir.predecessors_of(partner);
        if !predecessors.is_empty() {
            return Err(Refusal::SuccessorInUse {
                partner: dir.label(entity),
                predecessors: predecessors
                    .iter()
                    .map(|p| dir.label((*p).into()))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    Ok(Event::Retracted(Retracted { target }))
}
