//! Audit folds (design §4, "Audit"): the field-by-field changes each event
//! made, and which event last set each field.
//!
//! An event's `changes` are the difference between the entity's state with
//! the log through `seq - 1` and through `seq`, both at the same valid date
//! (by default the end of time, every dated fact applied). Blame is read
//! off those changes: a field was last set by the last event that changed
//! it, or by the creating event when nothing ever did.

use chrono::NaiveDate;

use super::event::{Event, EventRecord};
use super::id::{EntityId, EventId, PartnerId, Seq};
use super::state::{ConventionState, PartnerState};
use super::timeline::{ConventionTimeline, PartnerTimeline};

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
pub const PARTNER_FIELDS: &[&str] = &["name", "short_name", "kind", "country"];
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

/// The entity at `(d, t)`, folded from its stream.
pub fn view_at(entity: EntityId, stream: &[EventRecord], d: NaiveDate, t: Seq) -> Option<View> {
    match entity {
        EntityId::Partner(id) => PartnerTimeline::replay(id, stream, t)
            .and_then(|tl| tl.state_at(d))
            .map(View::Partner),
        EntityId::Convention(id) => ConventionTimeline::replay(id, stream, t)
            .and_then(|tl| tl.state_at(d))
            .map(View::Convention),
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
/// changes each made to the entity's state at valid date `d`.
pub fn history(
    entity: EntityId,
    stream: &[EventRecord],
    d: NaiveDate,
    t: Seq,
) -> Vec<HistoryItem<'_>> {
    let upto: Vec<&EventRecord> = stream.iter().filter(|e| e.seq <= t).collect();
    let mut before: Option<View> = None;
    upto.iter()
        .map(|record| {
            let after = view_at(entity, stream, d, record.seq);
            let changes = diff(entity, before.as_ref(), after.as_ref());
            before = after;
            let voided_by = upto.iter().find_map(|e| match &e.event {
                Event::Retracted(r) if r.target == record.id => Some((e.seq, e.id)),
                _ => None,
            });
            HistoryItem {
                record,
                voided_by,
                changes,
            }
        })
        .collect()
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
pub fn blame(
    entity: EntityId,
    stream: &[EventRecord],
    d: NaiveDate,
    t: Seq,
) -> Option<Vec<BlameLine<'_>>> {
    let view = view_at(entity, stream, d, t)?;
    let items = history(entity, stream, d, t);
    let creating = items.first()?.record;
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
