//! The checks every event of a log must pass, in log order, written once
//! and used by both `verify` (over the stored log) and the import of a
//! JSON Lines log (over the file, before anything is appended), so that an
//! import can never accept a log that `verify` would then reject.
//!
//! [`LogCheck::chain`] checks the chain (gapless seqs from 1, each
//! `prev_hash` the previous event's hash); the caller checks that each
//! hash is the hash of its event's bytes, which takes the codec.
//! [`LogCheck::event`] checks one decoded event against the events before
//! it: `recorded_at` never earlier than the previous event's; each stream
//! gapless from version 1, starting with its creating event and holding
//! only one; the event's kind fits its stream's (no partner event in a
//! convention's stream); a correction or retraction targets an earlier
//! event of the same stream, a correction's patch is of its target's type,
//! and a retraction never targets a retraction. [`LogCheck::finish`] finds
//! event ids used twice (sorted once at the end: a set of every id would
//! cost more memory on a large log).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Digest, EntityId, EntityKind, Event, EventId, EventRecord, EventType, Seq};

/// What the walk remembers of each stream.
#[derive(Default)]
struct StreamCheck {
    kind: Option<EntityKind>,
    version: u64,
    events: HashMap<EventId, EventType>,
}

/// The state of a walk over a log, in seq order.
#[derive(Default)]
pub struct LogCheck {
    last_seq: u64,
    last_hash: Option<Digest>,
    last_time: Option<DateTime<Utc>>,
    streams: HashMap<EntityId, StreamCheck>,
    ids: Vec<([u8; 16], Seq)>,
}

impl LogCheck {
    /// A walk from the start of a log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks that the event at `seq`, whose frame says `prev_hash` and
    /// `hash`, continues the chain. Returns what is wrong.
    pub fn chain(&mut self, seq: Seq, prev_hash: Digest, hash: Digest) -> Vec<String> {
        let mut problems = Vec::new();
        if seq.0 != self.last_seq + 1 {
            problems.push(format!(
                "seq {seq} where {} was expected",
                self.last_seq + 1
            ));
        }
        if prev_hash != self.last_hash.unwrap_or(Digest::GENESIS) {
            problems
                .push("hash chain broken: prev_hash is not the previous event's hash".to_owned());
        }
        self.last_seq = seq.0;
        self.last_hash = Some(hash);
        problems
    }

    /// Checks one decoded event against those before it. Returns what is
    /// wrong.
    pub fn event(&mut self, record: &EventRecord) -> Vec<String> {
        let mut problems = Vec::new();
        if self.last_time.is_some_and(|t| record.recorded_at < t) {
            problems.push("recorded_at is earlier than the previous event's".to_owned());
        }
        self.last_time = Some(
            self.last_time
                .map_or(record.recorded_at, |t| t.max(record.recorded_at)),
        );
        let stream = self.streams.entry(record.entity).or_default();
        let expected = stream.version + 1;
        if record.version != expected {
            problems.push(format!(
                "{} is at version {}, but this event says version {}",
                record.entity, stream.version, record.version
            ));
        }
        stream.version = stream.version.max(record.version);
        let event_type = record.event.event_type();
        if expected == 1 && !event_type.creates() {
            problems.push(format!("a stream starts with a {event_type}"));
        }
        if expected > 1 && event_type.creates() {
            problems.push(format!("a second {event_type} in one stream"));
        }
        if let Some(kind) = record.event.entity_kind()
            && kind != record.entity.kind()
        {
            problems.push(format!(
                "a {event_type} in a {} stream",
                record.entity.kind().noun()
            ));
        }
        if stream.kind.is_none() {
            stream.kind = Some(record.entity.kind());
        }
        if let Some(target) = record.event.target() {
            match stream.events.get(&target) {
                None => problems.push(format!(
                    "{event_type} targets {target}, which is not an earlier event of {}",
                    record.entity
                )),
                Some(target_type) => {
                    let bad = match &record.event {
                        Event::Corrected(c) => {
                            c.patch.target_type() != *target_type
                                || *target_type == EventType::Corrected
                        }
                        Event::Retracted(_) => *target_type == EventType::Retracted,
                        _ => false,
                    };
                    if bad {
                        problems.push(format!("{event_type} cannot target a {target_type}"));
                    }
                }
            }
        }
        stream.events.insert(record.id, event_type);
        self.ids.push((*record.id.as_bytes(), record.seq));
        problems
    }

    /// Ends the walk: the seq of each event whose id an earlier event
    /// already bears, with what is wrong.
    pub fn finish(mut self) -> Vec<(Seq, String)> {
        self.ids.sort_unstable();
        let mut out = Vec::new();
        for pair in self.ids.windows(2) {
            if let [(a, first), (b, second)] = pair
                && a == b
            {
                let (first, second) = ((*first).min(*second), (*first).max(*second));
                out.push((
                    second,
                    format!(
                        "event id {} is already the id of seq {first}",
                        uuid::Uuid::from_bytes(*b)
                    ),
                ));
            }
        }
        out.sort_by_key(|(seq, _)| *seq);
        out
    }
}
