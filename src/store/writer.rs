//! The write path: sealing events and committing them.
//!
//! A commit, step by step:
//! 1. the sealed events go to the log as new segments, by one atomic
//!    `apply_batch` (one segment for a command);
//! 2. `flush()` and `fdatasync` of sled's files (`durable`): the events
//!    are now acknowledged;
//! 3. the head is recorded beside sled (`head_file`);
//! 4. the caches and their watermark are written by one atomic
//!    `apply_batch`, without a sync of their own. A crash before this step
//!    loses nothing: the next open catches the caches up from their
//!    watermark.
//!
//! **Invariant:** writes in one process are serialised by the writer's
//! lock; sled's exclusive file lock keeps every other process out. So the
//! head and the stream versions a writer reads when it starts cannot move
//! before it commits.

use std::collections::HashMap;
use std::sync::MutexGuard;

use chrono::{DateTime, Utc};

use super::Store;
use super::caches::CacheWrite;
use super::codec::{self, Unsealed};
use super::error::{Result, StoreError};
use super::log::Head;
use crate::domain::{Digest, EntityId, EventRecord, Handle, HandleCounters, PendingEvent, Seq};

/// A write in progress: holds the process's write lock, and the events
/// sealed so far.
pub struct Writer<'a> {
    pub(super) store: &'a Store,
    pub(super) _guard: MutexGuard<'a, ()>,
    pub(super) head: Head,
    pub(super) tip: Head,
    pub(super) counters: HandleCounters,
    pub(super) sealed: Sealed,
    /// set by [`Writer::commit_log`]: the caches were left behind
    pub(super) caches_left: bool,
}

/// Events ready to commit: sealed records and the handles of the entities
/// they create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sealed {
    /// the records, in seq order
    pub records: Vec<EventRecord>,
    /// (entity, handle) for each entity created
    pub handles: Vec<(EntityId, Handle)>,
    /// the same, by entity (a batch of many creations looks each one up)
    by_entity: HashMap<EntityId, Handle>,
    /// each record's stored bytes, made when it was hashed
    framed: Vec<Vec<u8>>,
}

impl Sealed {
    /// The handle assigned to a new entity.
    pub fn handle_of(&self, entity: EntityId) -> Option<Handle> {
        self.by_entity.get(&entity).copied()
    }

    fn add_handle(&mut self, entity: EntityId, handle: Handle) {
        self.handles.push((entity, handle));
        self.by_entity.insert(entity, handle);
    }
}

impl<'s> Writer<'s> {
    /// The head this write builds on.
    pub fn head(&self) -> Head {
        self.head
    }

    /// Everything sealed so far.
    pub fn sealed(&self) -> &Sealed {
        &self.sealed
    }

    fn next_handle(&mut self, entity: EntityId) -> Result<Handle> {
        self.counters
            .next(entity.kind())
            .ok_or_else(|| StoreError::Encode("the handle numbers are exhausted".into()))
    }

    /// Gives pending events (each `expected_version` set by the caller)
    /// their seq, `recorded_at` (never earlier than the previous event's),
    /// hashes, and the handles of the entities they create. Returns what
    /// this call sealed; nothing is written until [`Writer::commit`].
    pub fn seal(&mut self, pending: &[PendingEvent], now: DateTime<Utc>) -> Result<Sealed> {
        let now = DateTime::<Utc>::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now);
        let recorded_at = self.tip.recorded_at.map_or(now, |last| last.max(now));
        let mut out = Sealed::default();
        for p in pending {
            let seq = self
                .tip
                .seq
                .next()
                .ok_or_else(|| StoreError::Encode("the log is full".into()))?;
            let version = p.expected_version + 1;
            if version == 1 && self.sealed.handle_of(p.entity).is_none() {
                let handle = self.next_handle(p.entity)?;
                out.add_handle(p.entity, handle);
                self.sealed.add_handle(p.entity, handle);
            }
            let unsealed = Unsealed {
                seq,
                id: p.id,
                entity: p.entity,
                version,
                recorded_at,
                actor: &p.actor,
                reason: p.reason.as_ref(),
                source: p.source.as_ref(),
                event: &p.event,
            };
            let body =
                codec::canonical_body(&unsealed).map_err(|e| StoreError::Encode(e.to_string()))?;
            let hash = codec::chain_hash(&self.tip.hash, &body);
            let framed = codec::frame(&self.tip.hash, &hash, &body);
            if framed.len() > codec::MAX_EVENT_BYTES {
                return Err(StoreError::Encode(format!(
                    "the event takes {} bytes, more than the {} an event may take",
                    framed.len(),
                    codec::MAX_EVENT_BYTES
                )));
            }
            let record = EventRecord {
                seq,
                id: p.id,
                entity: p.entity,
                version,
                recorded_at,
                actor: p.actor.clone(),
                reason: p.reason.clone(),
                source: p.source.clone(),
                prev_hash: self.tip.hash,
                hash,
                event: p.event.clone(),
            };
            self.tip = Head {
                seq,
                hash,
                recorded_at: Some(recorded_at),
            };
            out.records.push(record.clone());
            self.sealed.records.push(record);
            self.sealed.framed.push(framed);
        }
        Ok(out)
    }

    /// Takes records sealed elsewhere (an imported log) as they are: their
    /// seqs, times and hashes must continue the tip exactly.
    pub fn adopt(&mut self, record: EventRecord) -> Result<()> {
        let framed =
            codec::encode_record(&record).map_err(|e| StoreError::Encode(e.to_string()))?;
        self.adopt_stored(record, framed)
    }

    /// Takes an event with its stored bytes as they are (an upgrade copies
    /// them): `record` must be what they decode to, and continue the tip.
    pub fn adopt_stored(&mut self, record: EventRecord, stored: Vec<u8>) -> Result<()> {
        let expected_seq = self.tip.seq.next();
        if Some(record.seq) != expected_seq || record.prev_hash != self.tip.hash {
            return Err(StoreError::corrupt(
                "log",
                format!("seq {}", record.seq),
                "does not continue the log",
            ));
        }
        if stored.len() > codec::MAX_EVENT_BYTES {
            return Err(StoreError::Encode(format!(
                "event #{} takes {} bytes, more than {}",
                record.seq,
                stored.len(),
                codec::MAX_EVENT_BYTES
            )));
        }
        if record.version == 1 {
            let handle = self.next_handle(record.entity)?;
            self.sealed.add_handle(record.entity, handle);
        }
        self.tip = Head {
            seq: record.seq,
            hash: record.hash,
            recorded_at: Some(record.recorded_at),
        };
        self.sealed.records.push(record);
        self.sealed.framed.push(stored);
        Ok(())
    }

    /// Appends the sealed records to the log and makes them durable, then
    /// writes `derived` (and the handles of new entities) to the caches
    /// with the new watermark. Once the log is durable the commit has
    /// succeeded: a failure to write the caches is logged, and the caches
    /// are caught up before the next decision. Returns the records
    /// committed.
    pub fn commit(mut self, derived: &[CacheWrite]) -> Result<Vec<EventRecord>> {
        let Some((seq, hash)) = self.append_durable()? else {
            return Ok(Vec::new());
        };
        let store = self.store;
        if self.caches_left {
            // the caches miss the events of the earlier log-only commits:
            // a watermark written now would vouch for them
            store.mark_caches_behind();
            return Ok(self.sealed.records);
        }
        let handles: Vec<CacheWrite> = self
            .sealed
            .handles
            .iter()
            .map(|(entity, handle)| CacheWrite::Handle(*handle, *entity))
            .collect();
        let writes = handles.iter().chain(derived);
        if let Err(e) = store.caches.write(writes, Some((seq, hash))) {
            tracing::warn!(error = %e, "the caches could not be written; they will be caught up");
            store.mark_caches_behind();
        }
        Ok(self.sealed.records)
    }

    /// Appends the records sealed so far to the log and makes them durable,
    /// without writing the caches, which are marked behind: for a long
    /// import, whose caches are derived once at its end. The writer stays
    /// open for the next events. Returns how many were appended.
    pub fn commit_log(&mut self) -> Result<usize> {
        let appended = self.sealed.records.len();
        if self.append_durable()?.is_some() {
            self.store.mark_caches_behind();
            self.caches_left = true;
            self.head = self.tip;
            self.sealed = Sealed::default();
        }
        Ok(appended)
    }

    /// Steps 1 to 3 of a commit: the sealed records in the log, durable,
    /// and the head recorded. Returns the last record's seq and hash
    /// (`None`: nothing was sealed).
    fn append_durable(&mut self) -> Result<Option<(Seq, Digest)>> {
        let records = &self.sealed.records;
        let (Some(first), Some(last)) = (records.first(), records.last()) else {
            return Ok(None);
        };
        let store = self.store;
        if store.log.head()? != self.head {
            return Err(StoreError::corrupt(
                "log",
                "head",
                "the head moved during a write",
            ));
        }
        let framed: Vec<&[u8]> = self.sealed.framed.iter().map(Vec::as_slice).collect();
        store.record_format()?;
        let segments = store.log.append(first.seq, &framed)?;
        let small_last = segments == 1
            && super::log::is_small_body(
                framed.len(),
                codec::segment_len(framed.iter().map(|e| e.len())) - 1,
            );
        store.appended_segments(small_last, segments);
        store.durable.sync(&store.db)?;
        super::crash_point("after-log");
        store.head_file.record(&store.folder, last.seq, last.hash);
        Ok(Some((last.seq, last.hash)))
    }
}
