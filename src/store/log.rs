//! The log: the only source of truth, as packed segments in the sled tree
//! `log`.
//!
//! A segment's key is the seq of its first event (u64 big-endian); its
//! value holds consecutive events in seq order (`codec::encode_segment`),
//! as one LZ4 block when that is shorter.
//! An append writes new segments holding exactly the events it appends
//! (one segment for a command; an import chunk is cut into segments of at
//! most [`SEGMENT_EVENTS`] events and [`SEGMENT_BYTES`] bytes, written by
//! one atomic `apply_batch`). Small segments at the tail are merged later
//! ([`Log::merge_tail`]) by one atomic `apply_batch` that removes them and
//! inserts the merged ones; merging copies event bytes (out of their
//! segments' bodies, into new ones), never re-encodes them.
//!
//! **Invariant:** segments are contiguous and gapless: the segment after
//! key `k` holding `n` events has key `k + n`; the head is the last event
//! of the last segment.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sled::{IVec, Tree};

use super::codec;
use super::error::{Result, StoreError};
use super::keys;
use super::scan;
use crate::domain::{Digest, EntityId, EventRecord, Seq};

/// The most events a segment holds (merged or appended). Reading one
/// event from a segment sled does not hold in memory reads the sled leaf
/// around it, up to 16 segments: shorter segments make that read shorter
/// (docs/decisions.md).
pub const SEGMENT_EVENTS: usize = 16;
/// The most bytes a plain segment of several events takes, format byte and
/// body (one larger event is a segment of its own, up to
/// `codec::MAX_EVENT_BYTES`); a compressed one stores less.
pub const SEGMENT_BYTES: usize = 64 * 1024;
/// How many small segments may gather at the tail before they are merged.
pub const MERGE_AFTER: usize = 32;

/// The head of the log: its last event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    /// the last seq (0 for an empty log)
    pub seq: Seq,
    /// the last hash ([`Digest::GENESIS`] for an empty log)
    pub hash: Digest,
    /// the last `recorded_at` (`None` for an empty log)
    pub recorded_at: Option<DateTime<Utc>>,
}

impl Head {
    /// The head of an empty log.
    pub const EMPTY: Head = Head {
        seq: Seq::ZERO,
        hash: Digest::GENESIS,
        recorded_at: None,
    };
}

/// The `log` tree.
#[derive(Clone)]
pub struct Log {
    tree: Tree,
    /// the head, once read (this process is the only writer: sled's lock
    /// keeps others out), kept as appends move it
    head: std::sync::Arc<std::sync::Mutex<Option<Head>>>,
}

fn first_seq(key: &[u8]) -> Result<u64> {
    keys::u64_of(key)
        .ok_or_else(|| StoreError::corrupt("log", format!("key {key:02x?}"), "malformed key"))
}

fn bad_segment(first: u64, e: codec::CodecError) -> StoreError {
    StoreError::corrupt("log", format!("seq {first}"), format!("segment: {e}"))
}

/// The body of a segment: borrowed when it is stored plain, decompressed
/// otherwise.
fn body_of(first: u64, value: &[u8]) -> Result<Cow<'_, [u8]>> {
    codec::segment_body(value).map_err(|e| bad_segment(first, e))
}

/// The stored bytes of each event of a segment's body, borrowed.
fn events_in(first: u64, body: &[u8]) -> Result<Vec<&[u8]>> {
    codec::body_events(body).map_err(|e| bad_segment(first, e))
}

/// Decodes the event at `seq` from its stored bytes.
pub fn decode_event_at(seq: u64, bytes: &[u8]) -> Result<EventRecord> {
    let record = codec::decode_record(bytes)
        .map_err(|e| StoreError::corrupt("log", format!("seq {seq}"), e))?;
    if record.seq.0 != seq {
        return Err(StoreError::corrupt(
            "log",
            format!("seq {seq}"),
            format!("the event says it is seq {}", record.seq),
        ));
    }
    Ok(record)
}

/// Decodes every event of the segment stored under `key`.
pub fn decode_segment(key: &[u8], value: &[u8]) -> Result<Vec<EventRecord>> {
    let first = first_seq(key)?;
    let body = body_of(first, value)?;
    events_in(first, &body)?
        .into_iter()
        .zip(first..)
        .map(|(bytes, seq)| decode_event_at(seq, bytes))
        .collect()
}

/// Decodes the events of the segment stored under `key` whose entity
/// `keep` takes; the others are read only as far as their entity.
pub fn decode_segment_where(
    key: &[u8],
    value: &[u8],
    keep: &dyn Fn(EntityId) -> bool,
) -> Result<Vec<EventRecord>> {
    let first = first_seq(key)?;
    let mut out = Vec::new();
    let body = body_of(first, value)?;
    for (bytes, seq) in events_in(first, &body)?.into_iter().zip(first..) {
        let entity = codec::entity_of(bytes)
            .map_err(|e| StoreError::corrupt("log", format!("seq {seq}"), e))?;
        if keep(entity) {
            out.push(decode_event_at(seq, bytes)?);
        }
    }
    Ok(out)
}

/// Cuts stored events into segments: at most [`SEGMENT_EVENTS`] events and
/// [`SEGMENT_BYTES`] bytes each (an event larger than that alone). Returns
/// each segment's first index and its events.
pub fn pack<'a>(events: &[&'a [u8]]) -> Vec<(usize, Vec<&'a [u8]>)> {
    let mut out: Vec<(usize, Vec<&'a [u8]>)> = Vec::new();
    let mut bytes = 0usize;
    for (i, event) in events.iter().enumerate() {
        let len = codec::segment_len([event.len()]);
        let fits = out
            .last()
            .is_some_and(|(_, seg)| seg.len() < SEGMENT_EVENTS && bytes + len - 1 <= SEGMENT_BYTES);
        if fits {
            if let Some((_, seg)) = out.last_mut() {
                seg.push(event);
            }
            bytes += len - 1;
        } else {
            out.push((i, vec![event]));
            bytes = len;
        }
    }
    out
}

impl Log {
    /// The `log` tree of a database.
    pub fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            tree: db.open_tree("log")?,
            head: Default::default(),
        })
    }

    /// The sled tree, for scans.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// True when the log holds no segment.
    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    /// The head: the last event of the last segment.
    pub fn head(&self) -> Result<Head> {
        let mut known = self.head.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(head) = *known {
            return Ok(head);
        }
        let head = self.read_head()?;
        *known = Some(head);
        Ok(head)
    }

    /// The head, read from the last segment.
    fn read_head(&self) -> Result<Head> {
        let Some((key, value)) = self.tree.last()? else {
            return Ok(Head::EMPTY);
        };
        let first = first_seq(&key)?;
        let body = body_of(first, &value)?;
        let events = events_in(first, &body)?;
        let last_seq = (first + index_u64(events.len())).saturating_sub(1);
        let last = events.last().ok_or_else(|| {
            StoreError::corrupt("log", format!("seq {first}"), "a segment without events")
        })?;
        let (seq, hash, recorded_at) = codec::event_head(last)
            .map_err(|e| StoreError::corrupt("log", format!("seq {last_seq}"), e))?;
        if seq.0 != last_seq {
            return Err(StoreError::corrupt(
                "log",
                format!("seq {last_seq}"),
                format!("the event says it is seq {seq}"),
            ));
        }
        Ok(Head {
            seq,
            hash,
            recorded_at: Some(recorded_at),
        })
    }

    /// The segment that holds `seq`, if any: its key and value.
    fn segment_of(&self, seq: Seq) -> Result<Option<(u64, IVec)>> {
        match self.tree.range(..=keys::seq(seq)).next_back() {
            None => Ok(None),
            Some(kv) => {
                let (k, v) = kv?;
                Ok(Some((first_seq(&k)?, v)))
            }
        }
    }

    /// The event at `seq`.
    pub fn event(&self, seq: Seq) -> Result<Option<EventRecord>> {
        let Some((first, value)) = self.segment_of(seq)? else {
            return Ok(None);
        };
        let index = usize::try_from(seq.0 - first).unwrap_or(usize::MAX);
        let body = body_of(first, &value)?;
        let bytes = codec::body_event(&body, index).map_err(|e| bad_segment(first, e))?;
        bytes.map(|b| decode_event_at(seq.0, b)).transpose()
    }

    /// Events from `from` on, in seq order.
    pub fn events_from(&self, from: Seq) -> impl Iterator<Item = Result<EventRecord>> + '_ {
        let start = match self.tree.range(..=keys::seq(from)).next_back() {
            Some(Ok((k, _))) => k.to_vec(),
            _ => keys::seq(from).to_vec(),
        };
        self.tree
            .range(start..)
            .flat_map(move |kv| -> Vec<Result<EventRecord>> {
                let decoded = kv
                    .map_err(StoreError::from)
                    .and_then(|(k, v)| decode_segment(&k, &v));
                match decoded {
                    Ok(records) => records
                        .into_iter()
                        .filter(|r| r.seq >= from)
                        .map(Ok)
                        .collect(),
                    Err(e) => vec![Err(e)],
                }
            })
    }

    /// Reads the segments from the one holding `from` on, maps each with
    /// `map` (key, value) on `workers` threads, and hands the values to
    /// `visit` in seq order.
    pub fn scan_ordered<T: Send>(
        &self,
        from: Seq,
        workers: usize,
        map: &(dyn Fn(&[u8], &[u8]) -> T + Sync),
        visit: &mut dyn FnMut(T) -> Result<()>,
    ) -> Result<()> {
        let start = match self.segment_of(from) {
            Ok(Some((first, _))) => keys::seq(Seq(first)),
            _ => keys::seq(from),
        };
        scan::scan_ordered(&self.tree, &start, None, workers, map, visit)
    }

    /// Writes stored events whose first seq is `first` as new segments, in
    /// one atomic batch. Nothing is durable until the caller syncs.
    pub(crate) fn append(&self, first: Seq, events: &[&[u8]]) -> Result<usize> {
        let mut batch = sled::Batch::default();
        let packed = pack(events);
        for (index, segment) in &packed {
            let seq = first.0 + index_u64(*index);
            let value = codec::encode_segment(segment.iter().copied())
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            batch.insert(&keys::seq(Seq(seq)), value);
        }
        let mut known = self.head.lock().unwrap_or_else(|p| p.into_inner());
        // until the batch is applied and the new head known, the head is
        // read again from the log
        *known = None;
        self.tree.apply_batch(batch)?;
        if let Some(last) = events.last()
            && let Ok((seq, hash, recorded_at)) = codec::event_head(last)
            && seq.0 + 1 == first.0 + index_u64(events.len())
        {
            *known = Some(Head {
                seq,
                hash,
                recorded_at: Some(recorded_at),
            });
        }
        Ok(packed.len())
    }

    /// How many small segments (ones a merge could still fill) end the log,
    /// counting back from the tail, up to `limit`.
    pub fn small_tail(&self, limit: usize) -> Result<usize> {
        let mut n = 0;
        for kv in self.tree.iter().rev() {
            let (k, v) = kv?;
            if !is_small(first_seq(&k)?, &v)? {
                break;
            }
            n += 1;
            if n >= limit {
                break;
            }
        }
        Ok(n)
    }

    /// Merges the small segments at the tail (at most `limit`) into as few
    /// segments as the limits allow, by one atomic batch that removes them
    /// and inserts the merged ones. Event bytes are copied as stored.
    /// Returns how many segments were replaced.
    pub(crate) fn merge_tail(&self, limit: usize) -> Result<usize> {
        let mut tail: Vec<(IVec, IVec)> = Vec::new();
        for kv in self.tree.iter().rev() {
            let (k, v) = kv?;
            if !is_small(first_seq(&k)?, &v)? {
                break;
            }
            tail.push((k, v));
            if tail.len() >= limit {
                break;
            }
        }
        if tail.len() < 2 {
            return Ok(0);
        }
        tail.reverse();
        let first = first_seq(&tail[0].0)?;
        let bodies = tail
            .iter()
            .map(|(k, v)| {
                let at = first_seq(k)?;
                Ok((at, body_of(at, v)?))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut events: Vec<&[u8]> = Vec::new();
        let mut expected = first;
        for (at, body) in &bodies {
            if *at != expected {
                return Err(StoreError::corrupt(
                    "log",
                    format!("seq {at}"),
                    format!("a gap: the previous segment ends before seq {expected}"),
                ));
            }
            let these = events_in(*at, body)?;
            expected = at + index_u64(these.len());
            events.extend(these);
        }
        let mut batch = sled::Batch::default();
        for (k, _) in &tail {
            batch.remove(k.clone());
        }
        for (index, segment) in pack(&events) {
            let value = codec::encode_segment(segment.iter().copied())
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            batch.insert(&keys::seq(Seq(first + index_u64(index))), value);
        }
        self.tree.apply_batch(batch)?;
        super::crash_point("after-merge");
        Ok(tail.len())
    }

    /// How many events the log holds and their stored bytes (as encoded,
    /// before a segment compresses them).
    pub fn payload(&self) -> Result<(u64, u64)> {
        let (mut events, mut bytes) = (0u64, 0u64);
        for kv in scan::ReadOnce::new(&self.tree, self.tree.iter()) {
            let (k, v) = kv?;
            let first = first_seq(&k)?;
            for e in events_in(first, &body_of(first, &v)?)? {
                events += 1;
                bytes += index_u64(e.len());
            }
        }
        Ok((events, bytes))
    }
}

/// True for a segment a merge could still fill: fewer events than
/// [`SEGMENT_EVENTS`], and a body under half of [`SEGMENT_BYTES`].
pub fn is_small_body(events: usize, body_len: usize) -> bool {
    events < SEGMENT_EVENTS && body_len < SEGMENT_BYTES / 2
}

/// [`is_small_body`] of a stored segment.
fn is_small(first: u64, value: &[u8]) -> Result<bool> {
    let body = body_of(first, value)?;
    Ok(is_small_body(events_in(first, &body)?.len(), body.len()))
}

fn index_u64(i: usize) -> u64 {
    // Invariant: usize is at most 64 bits on every supported target.
    u64::try_from(i).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_keeps_every_segment_within_its_limits_and_the_events_in_order() {
        let small = vec![7u8; 200];
        let large = vec![9u8; codec::MAX_EVENT_BYTES];
        let mut events: Vec<&[u8]> = vec![small.as_slice(); 1000];
        events.insert(500, large.as_slice());
        let packed = pack(&events);
        let mut next = 0;
        for (first, segment) in &packed {
            assert_eq!(*first, next, "segments are contiguous");
            next += segment.len();
            assert!(segment.len() <= SEGMENT_EVENTS);
            let bytes = codec::segment_len(segment.iter().map(|e| e.len()));
            assert!(segment.len() == 1 || bytes <= SEGMENT_BYTES + 1, "{bytes}");
        }
        assert_eq!(next, events.len());
        let flat: Vec<&[u8]> = packed.into_iter().flat_map(|(_, s)| s).collect();
        assert_eq!(flat, events);
    }

    /// The events of a stored segment, each copied out of its body.
    fn events(segment: &[u8]) -> std::result::Result<Vec<Vec<u8>>, codec::CodecError> {
        let body = codec::segment_body(segment)?;
        Ok(codec::body_events(&body)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect())
    }

    /// Events that compress well (repeated bytes) and ones that do not
    /// (a byte sequence without repeats of four).
    fn samples() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let compressible = (0..5u8).map(|i| vec![i; usize::from(i) * 10 + 1]).collect();
        let mut x: u32 = 0x9e37_79b9;
        let noise = (0..3)
            .map(|_| {
                (0..40)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x.to_le_bytes()[0]
                    })
                    .collect()
            })
            .collect();
        (compressible, noise)
    }

    #[test]
    fn a_segment_gives_back_its_events_byte_for_byte_compressed_or_plain() {
        let (compressible, noise) = samples();
        for (list, format) in [
            (compressible, codec::SEGMENT_LZ4),
            (noise, codec::SEGMENT_FORMAT),
        ] {
            let segment = codec::encode_segment(list.iter().map(Vec::as_slice)).unwrap();
            assert_eq!(segment[0], format);
            assert_eq!(events(&segment).unwrap(), list);
        }
        // a plain segment of events that would compress (as format 2 wrote
        // them) is read as it is
        let (compressible, _) = samples();
        let mut plain = vec![codec::SEGMENT_FORMAT];
        for e in &compressible {
            plain.extend_from_slice(&u32::try_from(e.len()).unwrap().to_be_bytes());
            plain.extend_from_slice(e);
        }
        assert_eq!(events(&plain).unwrap(), compressible);
    }

    #[test]
    fn a_segment_refuses_damage_compressed_or_plain() {
        let (compressible, noise) = samples();
        for list in [compressible, noise] {
            let segment = codec::encode_segment(list.iter().map(Vec::as_slice)).unwrap();
            assert!(events(&segment[..segment.len() - 1]).is_err());
            let mut other = segment.clone();
            other[0] = 99;
            assert!(events(&other).is_err());
        }
        // a plain segment: a huge length, no event
        let mut huge = vec![codec::SEGMENT_FORMAT];
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(events(&huge).is_err());
        assert!(events(&[codec::SEGMENT_FORMAT]).is_err());
        // a compressed segment: a body over the bound, a length it does not
        // have, a damaged block, nothing after the format byte
        let (compressible, _) = samples();
        let segment = codec::encode_segment(compressible.iter().map(Vec::as_slice)).unwrap();
        let mut over = segment.clone();
        over[1..5].copy_from_slice(
            &u32::try_from(codec::MAX_SEGMENT_BODY + 1)
                .unwrap()
                .to_be_bytes(),
        );
        assert!(events(&over).is_err());
        for claim in [1u32, 7, 1000] {
            let mut wrong = segment.clone();
            wrong[1..5].copy_from_slice(&claim.to_be_bytes());
            assert!(events(&wrong).is_err(), "{claim}");
        }
        for at in 5..segment.len() {
            let mut flipped = segment.clone();
            flipped[at] ^= 0xff;
            // never a panic; what decodes is checked by the events' own
            // hashes, further up
            let _ = events(&flipped);
        }
        assert!(events(&[codec::SEGMENT_LZ4]).is_err());
        assert!(codec::encode_segment([vec![0u8; codec::MAX_EVENT_BYTES + 1].as_slice()]).is_err());
    }

    #[test]
    fn a_segment_holds_at_most_its_bound_of_events_and_a_long_body_stays_plain() {
        // empty events: 4 bytes each, so a small value could name many
        let empty: Vec<&[u8]> = vec![&[]; codec::MAX_SEGMENT_EVENTS];
        let most = codec::encode_segment(empty.iter().copied()).unwrap();
        assert_eq!(events(&most).unwrap().len(), codec::MAX_SEGMENT_EVENTS);
        let one_more: Vec<&[u8]> = vec![&[]; codec::MAX_SEGMENT_EVENTS + 1];
        assert!(codec::encode_segment(one_more.iter().copied()).is_err());
        let mut plain = vec![codec::SEGMENT_FORMAT];
        plain.extend(std::iter::repeat_n(
            0u8,
            4 * (codec::MAX_SEGMENT_EVENTS + 1),
        ));
        assert!(events(&plain).is_err());
        let body = codec::segment_body(&plain).unwrap();
        assert!(codec::body_event(&body, codec::MAX_SEGMENT_EVENTS).is_err());
        // compressed, the same body is refused too
        let block = lz4_flex::block::compress(&plain[1..]);
        let mut compressed = vec![codec::SEGMENT_LZ4];
        compressed.extend_from_slice(&u32::try_from(plain.len() - 1).unwrap().to_be_bytes());
        compressed.extend_from_slice(&block);
        assert!(events(&compressed).is_err());
        // a body longer than a compressed one may claim is stored plain
        let long = vec![7u8; codec::MAX_EVENT_BYTES];
        let segment = codec::encode_segment([long.as_slice(), long.as_slice()]).unwrap();
        assert_eq!(segment[0], codec::SEGMENT_FORMAT);
        assert_eq!(events(&segment).unwrap(), vec![long.clone(), long]);
    }

    #[test]
    fn one_event_of_a_segment_is_the_one_the_whole_walk_gives() {
        let (compressible, noise) = samples();
        for list in [compressible, noise] {
            let segment = codec::encode_segment(list.iter().map(Vec::as_slice)).unwrap();
            let body = codec::segment_body(&segment).unwrap();
            for (i, e) in list.iter().enumerate() {
                assert_eq!(codec::body_event(&body, i).unwrap(), Some(e.as_slice()));
            }
            assert_eq!(codec::body_event(&body, list.len()).unwrap(), None);
            // damage at or before the event asked for is refused
            assert!(codec::body_event(&body[..body.len() - 1], list.len() - 1).is_err());
            assert!(codec::body_event(&[], 0).is_err());
            let mut long = body.to_vec();
            long[..4].copy_from_slice(&u32::MAX.to_be_bytes());
            assert!(codec::body_event(&long, 0).is_err());
        }
    }
}
