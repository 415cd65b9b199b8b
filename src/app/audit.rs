//! Audit queries: an entity's history with field changes, blame, the global
//! log, and the difference between two points of view.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, NaiveTime, Utc};

use super::read::Point;
use super::{AppError, Registry};
use crate::domain::audit::{self, Change, View, diff, view_at};
use crate::domain::{
    AnyTimeline, EntityId, EntityKind, Event, EventId, EventRecord, EventType, Handle, PartialDate,
    PartnerId, Seq, end_of_time,
};

/// One event with its audit facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// the event
    pub record: EventRecord,
    /// the retraction that voids it (seq and id), if one is at or before T
    pub voided_by: Option<(Seq, EventId)>,
    /// the fields it changed
    pub changes: Vec<Change>,
}

/// One line of blame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlameEntry {
    /// the field
    pub field: &'static str,
    /// its value
    pub value: audit::Value,
    /// the event that last set it
    pub record: EventRecord,
}

/// Which events `log` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// first seq shown
    pub since: Option<Seq>,
    /// last seq shown
    pub until: Option<Seq>,
    /// only this actor (exact)
    pub actor: Option<String>,
    /// only these types (empty: all)
    pub types: Vec<EventType>,
    /// only this entity
    pub entity: Option<EntityId>,
    /// only the last N of those
    pub limit: Option<usize>,
}

/// What changed for one entity between two points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntityDiff {
    /// the entity
    pub entity: EntityId,
    /// its handle
    pub handle: Handle,
    /// `added`, `removed` or `changed`
    pub kind: DiffKind,
    /// the field changes
    pub changes: Vec<Change>,
}

/// How an entity differs between two points.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffKind {
    /// exists only at the second point
    Added,
    /// exists only at the first point
    Removed,
    /// exists at both, with different fields
    Changed,
}

impl DiffKind {
    /// The word used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Added => "added",
            DiffKind::Removed => "removed",
            DiffKind::Changed => "changed",
        }
    }
}

impl Registry {
    /// The streams of the partners whose successions can bear on a
    /// convention's parties: every partner its stream names, then every
    /// successor their streams name, down every chain (void events
    /// included: at an earlier T they may stand). Empty for a partner.
    pub fn succession_context(
        &self,
        entity: EntityId,
        stream: &[EventRecord],
    ) -> Result<Vec<EventRecord>, AppError> {
        if !matches!(entity, EntityId::Convention(_)) {
            return Ok(Vec::new());
        }
        let mut seen: HashSet<PartnerId> = HashSet::new();
        let mut queue: Vec<PartnerId> = stream
            .iter()
            .flat_map(|e| e.event.partners_named())
            .filter(|p| seen.insert(*p))
            .collect();
        let mut context = Vec::new();
        while let Some(p) = queue.pop() {
            // a partner whose stream holds no succession adds nothing
            if !self.store().names_successors(p)? {
                continue;
            }
            let partner_stream = self.store().stream(p.into())?;
            for record in &partner_stream {
                for q in record.event.successors_named() {
                    if seen.insert(q) {
                        queue.push(q);
                    }
                }
            }
            if partner_stream.iter().any(|e| e.event.is_succession()) {
                context.extend(partner_stream);
            }
        }
        context.sort_by_key(|e| e.seq);
        Ok(context)
    }

    /// Every event of an entity at or before T, with the changes each made
    /// at D (the end of time unless `--as-of` was given). A convention's
    /// history also lists the successions of its partners that changed its
    /// parties, at their place in the log.
    pub fn history(&self, entity: EntityId, point: &Point) -> Result<Vec<HistoryEntry>, AppError> {
        let stream = self.store().stream(entity)?;
        let context = self.succession_context(entity, &stream)?;
        let d = if point.valid_given {
            point.valid
        } else {
            end_of_time()
        };
        Ok(audit::history(entity, &stream, &context, d, point.recorded)
            .into_iter()
            .map(|item| HistoryEntry {
                record: item.record.clone(),
                voided_by: item.voided_by,
                changes: item.changes,
            })
            .collect())
    }

    /// For each field of the entity at the point, the event that last set it.
    pub fn blame(&self, entity: EntityId, point: &Point) -> Result<Vec<BlameEntry>, AppError> {
        let stream = self.store().stream(entity)?;
        let context = self.succession_context(entity, &stream)?;
        let lines = audit::blame(entity, &stream, &context, point.valid, point.recorded)
            .ok_or_else(|| AppError::NotFound {
                message: format!(
                    "{} does not exist as of {} (recorded as of #{})",
                    self.label(entity),
                    point.valid,
                    point.recorded
                ),
                hint: Some(super::Advice::SeeEveryEvent.into()),
            })?;
        Ok(lines
            .into_iter()
            .map(|l| BlameEntry {
                field: l.field,
                value: l.value,
                record: l.record.clone(),
            })
            .collect())
    }

    /// The first seq recorded at or after `text` (`#N`, a timestamp, or a
    /// date meaning the start of that day).
    pub fn resolve_since(&self, text: &str) -> Result<Seq, AppError> {
        let text = text.trim();
        if text.starts_with('#') {
            return self.resolve_when(text);
        }
        let start: Option<DateTime<Utc>> = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                text.parse::<PartialDate>()
                    .ok()
                    .map(|d| d.earliest().and_time(NaiveTime::MIN).and_utc())
            });
        let start = start.ok_or_else(|| {
            AppError::invalid_with(
                format!("'{text}' is not a point in record time"),
                super::resolve::WHEN_FORMS,
            )
        })?;
        let before = self
            .store()
            .seq_at(start - chrono::Duration::microseconds(1))?;
        Ok(Seq(before.0 + 1))
    }

    /// The global log, oldest first, filtered, each event with its changes.
    pub fn log(&self, filter: &LogFilter, point: &Point) -> Result<Vec<HistoryEntry>, AppError> {
        let last = filter
            .until
            .map_or(point.recorded, |u| u.min(point.recorded));
        let first = filter.since.unwrap_or(Seq(1)).max(Seq(1));
        let mut picked: Vec<EventRecord> = Vec::new();
        let mut voided: HashMap<EventId, (Seq, EventId)> = HashMap::new();
        for record in self.store().events_from(first) {
            let record = record?;
            if record.seq > point.recorded {
                break;
            }
            if let Event::Retracted(r) = &record.event {
                voided.insert(r.target, (record.seq, record.id));
            }
            if record.seq > last {
                continue;
            }
            let keep = filter
                .actor
                .as_ref()
                .is_none_or(|a| record.actor.as_str() == a)
                && (filter.types.is_empty() || filter.types.contains(&record.event.event_type()))
                && filter.entity.is_none_or(|e| record.entity == e);
            if keep {
                picked.push(record);
            }
        }
        if let Some(limit) = filter.limit {
            let skip = picked.len().saturating_sub(limit);
            picked.drain(..skip);
        }
        let d = if point.valid_given {
            point.valid
        } else {
            end_of_time()
        };
        type Streams = HashMap<EntityId, (Vec<EventRecord>, Vec<EventRecord>)>;
        let mut streams: Streams = HashMap::new();
        let mut out = Vec::with_capacity(picked.len());
        for record in picked {
            if !streams.contains_key(&record.entity) {
                if streams.len() > 1024 {
                    streams.clear();
                }
                let stream = self.store().stream(record.entity)?;
                let context = self.succession_context(record.entity, &stream)?;
                streams.insert(record.entity, (stream, context));
            }
            let (stream, context) = streams
                .get(&record.entity)
                .map_or((&[][..], &[][..]), |(s, c)| (s.as_slice(), c.as_slice()));
            let before = view_at(record.entity, stream, context, d, Seq(record.seq.0 - 1));
            let after = view_at(record.entity, stream, context, d, record.seq);
            out.push(HistoryEntry {
                voided_by: voided.get(&record.id).copied(),
                changes: diff(record.entity, before.as_ref(), after.as_ref()),
                record,
            });
        }
        Ok(out)
    }

    /// What differs between two points of view: entities added, removed and
    /// changed, with their field changes, in handle order.
    pub fn diff(&self, from: &Point, to: &Point) -> Result<Vec<EntityDiff>, AppError> {
        type Views = BTreeMap<(EntityKind, u64), (EntityId, Handle, View)>;
        let views = |point: &Point| -> Result<Views, AppError> {
            let snapshot = self.snapshot(*point);
            let mut out = BTreeMap::new();
            for kind in [EntityKind::Partner, EntityKind::Convention] {
                for (handle, timeline) in snapshot.timelines_of(kind)? {
                    let view = match &timeline {
                        AnyTimeline::Partner(t) => t.state_at(point.valid).map(View::Partner),
                        AnyTimeline::Convention(t) => t
                            .state_at_with(point.valid, &snapshot.successions_for(t)?)
                            .map(View::Convention),
                    };
                    if let Some(view) = view {
                        let entity = match &timeline {
                            AnyTimeline::Partner(t) => EntityId::Partner(t.id),
                            AnyTimeline::Convention(t) => EntityId::Convention(t.id),
                        };
                        out.insert((kind, handle.number), (entity, handle, view));
                    }
                }
            }
            Ok(out)
        };
        let before = views(from)?;
        let after = views(to)?;
        let mut keys: Vec<&(EntityKind, u64)> = before.keys().chain(after.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut out = Vec::new();
        for key in keys {
            let (b, a) = (before.get(key), after.get(key));
            let (entity, handle) = match (b, a) {
                (Some((e, h, _)), _) | (None, Some((e, h, _))) => (*e, *h),
                (None, None) => continue,
            };
            let changes = diff(entity, b.map(|x| &x.2), a.map(|x| &x.2));
            let kind = match (b, a) {
                (None, Some(_)) => DiffKind::Added,
                (Some(_), None) => DiffKind::Removed,
                _ if changes.is_empty() => continue,
                _ => DiffKind::Changed,
            };
            out.push(EntityDiff {
                entity,
                handle,
                kind,
                changes,
            });
        }
        Ok(out)
    }
}
