//! Audit folds (`docs/model.md` §5): the field-by-field changes each event
//! made, and which event last set each field.
//!
//! An event's `changes` are the difference between the entity's state with
//! the log through `seq - 1` and through `seq`, both at the same valid date
//! (by default the end of time, every dated fact applied). Blame is read
//! off those changes: a field was last set by the last event that changed
//! it, or by the creating event when nothing ever did.
//!
//! A convention's parties also change with the successions of its
//! partners, which are events of the partners' streams. Those streams are
//! passed beside the convention's as its *context*: the convention's
//! history then shows each succession event (or a correction or retraction
//! of one) that changed its view, and blame can name it.

use chrono::NaiveDate;

use std::collections::{BTreeMap, HashSet};

use super::event::{Event, EventRecord, Patch};
use super::id::{EntityId, EventId, PartnerId, Seq};
use super::state::{ConventionState, PartnerState};
use super::timeline::{ConventionTimeline, PartnerTimeline, Succession};

/// A field's value in a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// absent
    Null,
    /// a text, a date, a word
    Text(String),
    /// a list of parties
    Parties(Vec<PartnerId>),
}

/// One field that an event changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// the field's name (as in the JSON shapes)
    pub field: &'static str,
    /// its value before the event
    pub before: Value,
    /// its value after
    pub after: Value,
}

/// Either kind of folded entity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// a partner
    Partner(PartnerState),
    /// a convention
    Convention(ConventionState),
}

/// The fields of a partner, in display order.
pub const PARTNER_FIELDS: &[&str] = &[
    "name",
    "short_name",
    "kind",
    "country",
    "status",
    "successors",
];
/// The fields of a convention, in display order.
pub const CONVENTION_FIELDS: &[&str] = &[
    "instrument",
    "parties",
    "signed_on",
    "objectives",
    "expires_on",
    "official_ref",
    "status",
];

fn text(value: impl ToString) -> Value {
    Value::Text(value.to_string())
}

fn opt(value: Option<impl ToString>) -> Value {
    value.map_or(Value::Null, text)
}

impl View {
    /// The view's fields and values, in display order.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        match self {
            View::Partner(p) => vec![
                ("name", text(&p.name)),
                ("short_name", opt(p.short_name.as_ref())),
                ("kind", text(p.kind)),
                ("country", opt(p.country)),
                ("status", text(p.status)),
                (
                    "successors",
                    if p.successors.is_empty() {
                        Value::Null
                    } else {
                        Value::Parties(p.successors.clone())
                    },
                ),
            ],
            View::Convention(c) => vec![
                ("instrument", text(c.instrument)),
                ("parties", Value::Parties(c.parties.clone())),
                ("signed_on", text(c.signed_on)),
                ("objectives", text(&c.objectives)),
                ("expires_on", opt(c.expires_on)),
                ("official_ref", opt(c.official_ref.as_ref())),
                ("status", text(c.status)),
            ],
        }
    }
}

/// The names of an entity's fields.
pub fn field_names(entity: EntityId) -> &'static [&'static str] {
    match entity {
        EntityId::Partner(_) => PARTNER_FIELDS,
        EntityId::Convention(_) => CONVENTION_FIELDS,
    }
}

/// The surviving successions at log position `t` in `context` (events of
/// partners' streams, in any order).
pub fn successions_in(context: &[EventRecord], t: Seq) -> Vec<Succession> {
    let mut streams: BTreeMap<PartnerId, Vec<&EventRecord>> = BTreeMap::new();
    for record in context {
        if let EntityId::Partner(p) = record.entity {
            streams.entry(p).or_default().push(record);
        }
    }
    streams
        .into_iter()
        .filter_map(|(p, mut records)| {
            records.sort_by_key(|r| r.seq);
            PartnerTimeline::replay(p, records, t)
        })
        .flat_map(|tl| tl.successions())
        .collect()
}

/// The entity at `(d, t)`, folded from its stream (and, for a convention,
/// the successions its `context` holds at `t`).
pub fn view_at(
    entity: EntityId,
    stream: &[EventRecord],
    context: &[EventRecord],
    d: NaiveDate,
    t: Seq,
) -> Option<View> {
    match entity {
        EntityId::Partner(id) => PartnerTimeline::replay(id, stream, t)
            .and_then(|tl| tl.state_at(d))
            .map(View::Partner),
        EntityId::Convention(id) => ConventionTimeline::replay(id, stream, t)
            .and_then(|tl| tl.state_at_with(d, &successions_in(context, t)))
            .map(View::Convention),
    }
}

/// True for the events of a partner's stream that bear on the parties of
/// conventions: successions, and corrections and retractions of them.
fn bears_on_parties(record: &EventRecord, succession_ids: &HashSet<EventId>) -> bool {
    match &record.event {
        Event::PartnerSucceeded(_) => true,
        Event::Corrected(c) => matches!(c.patch, Patch::PartnerSucceeded(_)),
        Event::Retracted(r) => succession_ids.contains(&r.target),
        _ => false,
    }
}

/// The fields that differ between two views of one entity (`None`: the
/// entity does not exist there, every field null).
pub fn diff(entity: EntityId, before: Option<&View>, after: Option<&View>) -> Vec<Change> {
    let values = |v: Option<&View>| -> Vec<(&'static str, Value)> {
        match v {
            Some(v) => v.fields(),
            None => field_names(entity)
                .iter()
                .map(|f| (*f, Value::Null))
                .collect(),
        }
    };
    values(before)
        .into_iter()
        .zip(values(after))
        .filter(|((_, b), (_, a))| a != b)
        .map(|((field, before), (_, after))| Change {
            field,
            before,
            after,
        })
        .collect()
}

/// One event of an entity's history, as seen at log position T.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryItem<'a> {
    /// the event
    pub record: &'a EventRecord,
    /// the retraction that voids it, if one is at or before T
    pub voided_by: Option<(Seq, EventId)>,
    /// what it changed, at the valid date asked
    pub changes: Vec<Change>,
}

/// Every event of the stream at or before `t`, oldest first, with the
/// changes each made to the entity's state at valid date `d`. For a
/// convention, the events of its `context` that changed its view (a
/// succession of one of its partners, a correction or retraction of one)
/// are listed too, in log order, with the changes they made.
pub fn history<'a>(
    entity: EntityId,
    stream: &'a [EventRecord],
    context: &'a [EventRecord],
    d: NaiveDate,
    t: Seq,
) -> Vec<HistoryItem<'a>> {
    let succession_ids: HashSet<EventId> = context
        .iter()
        .filter(|e| matches!(e.event, Event::PartnerSucceeded(_)))
        .map(|e| e.id)
        .collect();
    let mut upto: Vec<(&EventRecord, bool)> = stream
        .iter()
        .filter(|e| e.seq <= t)
        .map(|e| (e, true))
        .collect();
    if matches!(entity, EntityId::Convention(_)) {
        upto.extend(
            context
                .iter()
                .filter(|e| e.seq <= t && bears_on_parties(e, &succession_ids))
                .map(|e| (e, false)),
        );
        upto.sort_by_key(|(e, _)| e.seq);
    }
    let mut before: Option<View> = None;
    let mut out = Vec::new();
    for (record, own) in &upto {
        let after = view_at(entity, stream, context, d, record.seq);
        let changes = diff(entity, before.as_ref(), after.as_ref());
        before = after;
        if !own && changes.is_empty() {
            continue;
        }
        let voided_by = upto.iter().find_map(|(e, _)| match &e.event {
            Event::Retracted(r) if r.target == record.id => Some((e.seq, e.id)),
            _ => None,
        });
        out.push(HistoryItem {
            record,
            voided_by,
            changes,
        });
    }
    out
}

/// Which event last set a field of the current view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlameLine<'a> {
    /// the field
    pub field: &'static str,
    /// its value at (D, T)
    pub value: Value,
    /// the event that last changed it
    pub record: &'a EventRecord,
}

/// For each field of the entity at `(d, t)`, the event that last set it;
/// `None` when the entity does not exist there.
pub fn blame<'a>(
    entity: EntityId,
    stream: &'a [EventRecord],
    context: &'a [EventRecord],
    d: NaiveDate,
    t: Seq,
) -> Option<Vec<BlameLine<'a>>> {
    let view = view_at(entity, stream, context, d, t)?;
    let items = history(entity, stream, context, d, t);
    let creating = items.iter().find(|i| i.record.entity == entity)?.record;
    Some(
        view.fields()
            .into_iter()
            .map(|(field, value)| {
                let record = items
                    .iter()
                    .rev()
                    .find(|item| item.changes.iter().any(|c| c.field == field))
                    .map_or(creating, |item| item.record);
                BlameLine {
                    field,
                    value,
                    record,
                }
            })
            .collect(),
    )
}
