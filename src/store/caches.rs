//! The caches: everything derived from the log, in the one sled tree
//! `cache`, each cache under its own key prefix (see `keys`).
//!
//! - documents: one per entity (`d`): its handle, the seqs of its stream
//!   and its folded timeline at the head;
//! - handles (`h`): `C12` → the entity;
//! - names (`n`): every folded name a partner was recorded under;
//! - parties (`p`): the conventions that name a partner;
//! - successions (`s`): the partners whose stream holds a succession (or
//!   a correction of one), so that a
//!   convention's history reads only those partners' streams;
//! - the watermark (`w`): the seq and hash of the event the caches are
//!   exact at.
//!
//! The caches are written after the log append is durable, all of them
//! with the watermark at once, through a [`Deferred`] map that reaches
//! sled in one atomic `apply_batch` for many appends, and never synced on
//! their own: a crash loses at most the last writes, which are recomputed
//! from the log, from the watermark on (`projection::catch_up`).
//!
//! Adding a cache is local: a key prefix in `keys`, a [`CacheWrite`]
//! variant (or a plain [`CacheWrite::Put`]), what the projector writes for
//! each event, and the entries a rebuild derives (`projection::Cache`).
//!
//! **Invariant:** nothing here is a source of truth; every entry can be
//! recomputed from the log.

use std::collections::{BTreeMap, BTreeSet};

use sled::{IVec, Tree};
use uuid::Uuid;

use super::codec;
use super::deferred::Deferred;
use super::error::{Result, StoreError};
use super::keys;
use super::scan;
use crate::domain::{
    AnyTimeline, ConventionId, Digest, EntityId, EntityKind, Handle, PartnerId, Seq,
};

/// A partner's name in the name index.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NameEntry {
    /// the folded name
    pub key: String,
    /// the partner
    pub partner: PartnerId,
    /// true for the current name, false for a former one
    pub current: bool,
}

/// An entity's document at the head.
#[derive(Clone, Debug)]
pub struct Doc {
    /// its handle
    pub handle: Handle,
    /// the seqs of its stream, oldest first
    pub seqs: Vec<Seq>,
    /// its folded timeline
    pub timeline: AnyTimeline,
}

/// One change to the caches, computed by the projection layer.
#[derive(Clone, Debug)]
pub enum CacheWrite {
    /// store an entity's document (`codec::encode_doc`)
    Doc(EntityId, Vec<u8>),
    /// record a handle
    Handle(Handle, EntityId),
    /// add or update a name
    PutName(NameEntry),
    /// remove a name
    DeleteName {
        /// folded name
        key: String,
        /// partner
        partner: PartnerId,
    },
    /// record that a convention names a partner
    PutParty(PartnerId, ConventionId),
    /// forget that a convention names a partner
    DeleteParty(PartnerId, ConventionId),
    /// record that a partner's stream holds a succession (never undone: the
    /// stream keeps the event)
    NamesSuccessors(PartnerId),
    /// any other cache entry, by its full key
    Put(Vec<u8>, Vec<u8>),
}

/// The `cache` tree.
#[derive(Clone)]
pub struct Caches {
    tree: Deferred,
}

/// The end (exclusive) of a key prefix's range.
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Decodes a stored document and checks it belongs to `entity`.
pub fn decode_doc(entity: EntityId, bytes: &[u8]) -> Result<Doc> {
    let (number, seqs, timeline) =
        codec::decode_doc(bytes).map_err(|e| StoreError::corrupt("docs", entity, e))?;
    let handle = owned_by(entity, number, &timeline)?;
    Ok(Doc {
        handle,
        seqs,
        timeline,
    })
}

/// Decodes a stored document's handle and timeline, its seqs checked but
/// not kept (`codec::decode_doc_timeline`), and checks it belongs to
/// `entity`: what the views read.
pub fn decode_timeline(entity: EntityId, bytes: &[u8]) -> Result<(Handle, AnyTimeline)> {
    let (number, timeline) =
        codec::decode_doc_timeline(bytes).map_err(|e| StoreError::corrupt("docs", entity, e))?;
    Ok((owned_by(entity, number, &timeline)?, timeline))
}

/// The handle numbered `number` of `entity`, when `timeline` is that
/// entity's.
fn owned_by(entity: EntityId, number: u64, timeline: &AnyTimeline) -> Result<Handle> {
    let matches = match (timeline, entity) {
        (AnyTimeline::Partner(p), EntityId::Partner(id)) => p.id == id,
        (AnyTimeline::Convention(c), EntityId::Convention(id)) => c.id == id,
        _ => false,
    };
    if !matches {
        return Err(StoreError::corrupt(
            "docs",
            entity,
            "the document of another entity",
        ));
    }
    Ok(Handle {
        kind: entity.kind(),
        number,
    })
}

impl Caches {
    /// The `cache` tree of a database.
    pub fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            tree: Deferred::new(db.open_tree("cache")?),
        })
    }

    /// The sled tree, every pending write given to it first: for
    /// comparisons with a rebuild and for the rebuild's own writes.
    pub fn tree(&self) -> Result<&Tree> {
        self.tree.persisted_tree()
    }

    /// True when writes wait in memory.
    pub fn is_dirty(&self) -> bool {
        self.tree.is_dirty()
    }

    /// True when sled refused the pending writes (see [`Deferred`]).
    pub fn refused(&self) -> bool {
        self.tree.refused()
    }

    /// Forgets a refusal, once the caches are caught up.
    pub fn clear_refused(&self) {
        self.tree.clear_refused()
    }

    /// Gives the pending writes to sled (not synced); true if there were
    /// any.
    pub fn persist(&self) -> Result<bool> {
        self.tree.persist()
    }

    /// Applies `writes` and sets the watermark, at once. The packed caches
    /// (handle pages, party chunks) are read, changed and written whole.
    ///
    /// Every caller holds the store's write lock (a writer's commit, a
    /// catch-up, a rebuild): the pages read here do not change before they
    /// are written back.
    pub fn write<'w>(
        &self,
        writes: impl IntoIterator<Item = &'w CacheWrite>,
        through: Option<(Seq, Digest)>,
    ) -> Result<()> {
        let mut entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
        let mut pages: BTreeMap<[u8; 10], Vec<(usize, Handle, Uuid)>> = BTreeMap::new();
        let mut parties: BTreeMap<PartnerId, Vec<(ConventionId, bool)>> = BTreeMap::new();
        for write in writes {
            match write {
                CacheWrite::Doc(entity, bytes) => {
                    entries.push((keys::doc(*entity).to_vec(), Some(bytes.clone())));
                }
                CacheWrite::Handle(handle, entity) => {
                    let (page, slot) = keys::handle_slot(*handle).ok_or_else(|| {
                        StoreError::corrupt("handles", handle, "no entity has number 0")
                    })?;
                    pages
                        .entry(page)
                        .or_default()
                        .push((slot, *handle, entity.uuid()));
                }
                CacheWrite::PutName(e) => entries.push((
                    keys::name(&e.key, e.partner),
                    Some(vec![u8::from(e.current)]),
                )),
                CacheWrite::DeleteName { key, partner } => {
                    entries.push((keys::name(key, *partner), None));
                }
                CacheWrite::PutParty(p, c) => parties.entry(*p).or_default().push((*c, true)),
                CacheWrite::DeleteParty(p, c) => parties.entry(*p).or_default().push((*c, false)),
                CacheWrite::NamesSuccessors(p) => {
                    entries.push((keys::succession(*p).to_vec(), Some(Vec::new())));
                }
                CacheWrite::Put(k, v) => entries.push((k.clone(), Some(v.clone()))),
            }
        }
        for (page, slots) in pages {
            entries.push(self.handle_page_write(page, &slots)?);
        }
        for (partner, changes) in parties {
            self.party_writes(partner, &changes, &mut entries)?;
        }
        let watermark = through.map(|(seq, hash)| {
            (
                keys::WATERMARK.to_vec(),
                Some(keys::watermark_value(seq, &hash).to_vec()),
            )
        });
        self.tree.apply(entries.into_iter().chain(watermark))
    }

    /// A page of handles with new entities in some of its slots. Handles
    /// are numbered without gaps, so a new one is the page's next slot.
    fn handle_page_write(
        &self,
        page: [u8; 10],
        slots: &[(usize, Handle, Uuid)],
    ) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        let mut uuids = match self.tree.get(page)? {
            None => Vec::new(),
            Some(v) => codec::decode_uuids(&v, PAGE)
                .map_err(|e| StoreError::corrupt("handles", format!("{page:02x?}"), e))?,
        };
        for (slot, handle, uuid) in slots {
            let filled = uuids.len();
            match uuids.get_mut(*slot) {
                Some(at) => *at = *uuid,
                None if *slot == filled => uuids.push(*uuid),
                None => {
                    return Err(StoreError::corrupt(
                        "handles",
                        handle,
                        "a handle past the next free number",
                    ));
                }
            }
        }
        Ok((page.to_vec(), Some(codec::encode_uuids(&uuids))))
    }

    /// The writes that add and remove conventions from a partner's party
    /// chunks: the chunks that change, and those no longer needed.
    fn party_writes(
        &self,
        partner: PartnerId,
        changes: &[(ConventionId, bool)],
        out: &mut Vec<(Vec<u8>, Option<Vec<u8>>)>,
    ) -> Result<()> {
        let Some(low) = changes.iter().map(|(c, _)| c.0).min() else {
            return Ok(());
        };
        let stored = self.tree.scan_prefix(&keys::parties_of(partner))?;
        let bad = |k: &IVec, e: String| StoreError::corrupt("parties", format!("{k:02x?}"), e);
        // chunks that are full, numbered in order and end below every
        // changed UUID are the same in the new packing
        let full = 16 * keys::PARTIES_PER_CHUNK;
        let mut from = 0usize;
        for (i, (k, v)) in stored.iter().enumerate() {
            let numbered = k
                .get(1..)
                .and_then(keys::party_chunk_of)
                .is_some_and(|(_, n)| usize::try_from(n).ok() == Some(i));
            let last = v
                .len()
                .checked_sub(16)
                .and_then(|at| v.get(at..))
                .and_then(keys::uuid_of);
            match last {
                Some(last) if numbered && v.len() == full && last < low => from = i + 1,
                _ => break,
            }
        }
        let tail = stored.get(from..).unwrap_or_default();
        let mut set = BTreeSet::new();
        for (k, v) in tail {
            let uuids = codec::decode_uuids(v, keys::PARTIES_PER_CHUNK)
                .map_err(|e| bad(k, e.to_string()))?;
            set.extend(uuids);
        }
        for (convention, named) in changes {
            if *named {
                set.insert(convention.0);
            } else {
                set.remove(&convention.0);
            }
        }
        let all: Vec<Uuid> = set.into_iter().collect();
        let wanted = party_chunks(partner, from, &all)?;
        // both in key order
        let (mut w, mut t) = (wanted.iter().peekable(), tail.iter().peekable());
        loop {
            match (w.peek(), t.peek()) {
                (Some((wk, wv)), Some((tk, tv))) if wk.as_slice() == tk.as_ref() => {
                    if wv.as_slice() != tv.as_ref() {
                        out.push((wk.clone(), Some(wv.clone())));
                    }
                    w.next();
                    t.next();
                }
                (Some((wk, wv)), Some((tk, _))) if wk.as_slice() < tk.as_ref() => {
                    out.push((wk.clone(), Some(wv.clone())));
                    w.next();
                }
                (Some(_), Some((tk, _))) => {
                    out.push((tk.to_vec(), None));
                    t.next();
                }
                (Some((wk, wv)), None) => {
                    out.push((wk.clone(), Some(wv.clone())));
                    w.next();
                }
                (None, Some((tk, _))) => {
                    out.push((tk.to_vec(), None));
                    t.next();
                }
                (None, None) => break,
            }
        }
        Ok(())
    }

    /// The log position the caches are exact at (`None`: never written).
    pub fn watermark(&self) -> Result<Option<(Seq, Digest)>> {
        match self.tree.get(keys::WATERMARK)? {
            None => Ok(None),
            Some(v) => keys::watermark_of(&v)
                .map(Some)
                .ok_or_else(|| StoreError::corrupt("watermark", "w", "malformed watermark")),
        }
    }

    /// True when the caches were written by another cache format, or a
    /// rebuild was interrupted.
    pub fn stale(&self) -> Result<bool> {
        let version = self.tree.get(keys::CACHE_FORMAT)?;
        let rebuilding = self.tree.get(keys::REBUILDING)?.is_some();
        Ok(rebuilding || version.as_deref() != Some(&[codec::PROJECTION_VERSION][..]))
    }

    /// Marks a rebuild as started (the caller syncs).
    pub fn begin_rebuild(&self) -> Result<()> {
        self.tree
            .apply([(keys::REBUILDING.to_vec(), Some(vec![1]))])?;
        self.tree.persist()?;
        Ok(())
    }

    /// Marks a rebuild as finished, with this cache format.
    pub fn finish_rebuild(&self) -> Result<()> {
        self.tree.apply([
            (
                keys::CACHE_FORMAT.to_vec(),
                Some(vec![codec::PROJECTION_VERSION]),
            ),
            (keys::REBUILDING.to_vec(), None),
        ])?;
        self.tree.persist()?;
        Ok(())
    }

    /// Records the cache format of a new registry.
    pub fn init(&self) -> Result<()> {
        self.tree.apply([(
            keys::CACHE_FORMAT.to_vec(),
            Some(vec![codec::PROJECTION_VERSION]),
        )])?;
        self.tree.persist()?;
        Ok(())
    }

    /// The entries under a key prefix, in key order.
    pub fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(IVec, IVec)>> {
        self.tree.scan_prefix(prefix)
    }

    /// An entity's document.
    pub fn doc(&self, entity: EntityId) -> Result<Option<Doc>> {
        match self.tree.get(keys::doc(entity))? {
            None => Ok(None),
            Some(v) => decode_doc(entity, &v).map(Some),
        }
    }

    /// An entity's handle and timeline, from its document (its seqs not
    /// kept).
    pub fn timeline(&self, entity: EntityId) -> Result<Option<(Handle, AnyTimeline)>> {
        match self.tree.get(keys::doc(entity))? {
            None => Ok(None),
            Some(v) => decode_timeline(entity, &v).map(Some),
        }
    }

    /// The seqs of an entity's stream, oldest first (read from its
    /// document without decoding the timeline).
    pub fn stream_seqs(&self, entity: EntityId) -> Result<Vec<Seq>> {
        match self.tree.get(keys::doc(entity))? {
            None => Ok(Vec::new()),
            Some(v) => codec::doc_seqs(&v).map_err(|e| StoreError::corrupt("docs", entity, e)),
        }
    }

    /// The kind and handle of an entity, by UUID.
    pub fn entity(&self, uuid: Uuid) -> Result<Option<(EntityId, Handle)>> {
        for kind in [EntityKind::Partner, EntityKind::Convention] {
            let entity = EntityId::new(kind, uuid);
            if let Some(handle) = self.handle(entity)? {
                return Ok(Some((entity, handle)));
            }
        }
        Ok(None)
    }

    /// An entity's handle (read from its document without decoding the
    /// timeline).
    pub fn handle(&self, entity: EntityId) -> Result<Option<Handle>> {
        let Some(v) = self.tree.get(keys::doc(entity))? else {
            return Ok(None);
        };
        let (stored, number) =
            codec::doc_handle(&v).map_err(|e| StoreError::corrupt("docs", entity, e))?;
        if stored != keys::kind_byte(entity.kind()) {
            return Err(StoreError::corrupt(
                "docs",
                entity,
                "the document of another entity",
            ));
        }
        Ok(Some(Handle {
            kind: entity.kind(),
            number,
        }))
    }

    /// The entity a handle names.
    pub fn by_handle(&self, handle: Handle) -> Result<Option<EntityId>> {
        let Some((page, slot)) = keys::handle_slot(handle) else {
            return Ok(None);
        };
        match self.tree.get(page)? {
            None => Ok(None),
            Some(v) => codec::uuid_at(&v, slot, PAGE)
                .map(|u| u.map(|u| EntityId::new(handle.kind, u)))
                .map_err(|e| StoreError::corrupt("handles", handle, e)),
        }
    }

    /// How many entities of a kind have a handle: the last handle's number.
    pub fn count(&self, kind: EntityKind) -> Result<u64> {
        let Some((k, v)) = self.tree.last_under(&keys::handles_of(kind))? else {
            return Ok(0);
        };
        let bad = |e: String| StoreError::corrupt("handles", format!("{k:02x?}"), e);
        let (_, page) = k
            .get(1..)
            .and_then(keys::handle_page_of)
            .ok_or_else(|| bad("malformed key".into()))?;
        let filled = codec::decode_uuids(&v, PAGE)
            .map_err(|e| bad(e.to_string()))?
            .len();
        keys::handle_in(kind, page, filled - 1)
            .map(|last| last.number)
            .ok_or_else(|| bad("a page past the last number".into()))
    }

    /// Entities whose UUID, in lower-case hex without hyphens, starts with
    /// `hex_prefix`; at most `limit`.
    pub fn entities_with_prefix(&self, hex_prefix: &str, limit: usize) -> Result<Vec<Uuid>> {
        let bytes: Vec<u8> = (0..hex_prefix.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex_prefix.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        let mut out = Vec::new();
        for kind in [EntityKind::Partner, EntityKind::Convention] {
            let mut prefix = keys::docs_of(kind).to_vec();
            prefix.extend_from_slice(&bytes);
            // a short prefix may match every document: read sled lazily
            let mut found = 0;
            for kv in self.tree.persisted_tree()?.scan_prefix(&prefix) {
                let (k, _) = kv?;
                if let Some(u) = k.get(2..).and_then(keys::uuid_of)
                    && u.simple().to_string().starts_with(hex_prefix)
                {
                    out.push(u);
                    found += 1;
                    if found >= limit {
                        break;
                    }
                }
            }
        }
        // the first `limit` of both kinds, in UUID order
        out.sort();
        out.truncate(limit);
        Ok(out)
    }

    /// Every name entry, or those whose folded name is exactly `key`.
    pub fn names(&self, key: Option<&str>) -> Result<Vec<NameEntry>> {
        let mut prefix = vec![keys::NAME];
        if let Some(k) = key {
            prefix.extend_from_slice(k.as_bytes());
            prefix.push(0);
        }
        self.tree
            .scan_prefix(&prefix)?
            .iter()
            .map(|(k, v)| name_entry(k, v))
            .collect()
    }

    /// Conventions that name `partner` in a surviving fact, in UUID order.
    pub fn conventions_naming(&self, partner: PartnerId) -> Result<Vec<ConventionId>> {
        let mut out = Vec::new();
        for (k, v) in self.tree.scan_prefix(&keys::parties_of(partner))? {
            let uuids = codec::decode_uuids(&v, keys::PARTIES_PER_CHUNK)
                .map_err(|e| StoreError::corrupt("parties", format!("{k:02x?}"), e))?;
            out.extend(uuids.into_iter().map(ConventionId));
        }
        Ok(out)
    }

    /// The UUIDs that end the keys under `prefix`, in key order.
    fn uuids_under(&self, prefix: &[u8], cache: &'static str) -> Result<Vec<Uuid>> {
        self.tree
            .scan_prefix(prefix)?
            .iter()
            .map(|(k, _)| {
                k.get(prefix.len()..)
                    .and_then(keys::uuid_of)
                    .ok_or_else(|| StoreError::corrupt(cache, format!("{k:02x?}"), "malformed key"))
            })
            .collect()
    }

    /// True when `partner`'s stream holds a succession.
    pub fn names_successors(&self, partner: PartnerId) -> Result<bool> {
        Ok(self.tree.get(keys::succession(partner))?.is_some())
    }

    /// Every partner whose stream holds a succession, in
    /// UUID order.
    pub fn partners_naming_successors(&self) -> Result<Vec<PartnerId>> {
        Ok(self
            .uuids_under(&[keys::SUCCESSION], "successions")?
            .into_iter()
            .map(PartnerId)
            .collect())
    }

    /// Decodes every document of one kind and keeps what `f` makes of it,
    /// in UUID order, decoding on `workers` threads.
    pub fn fold_docs<T: Send>(
        &self,
        kind: EntityKind,
        workers: usize,
        f: &(dyn Fn(Handle, AnyTimeline) -> Option<T> + Sync),
    ) -> Result<Vec<T>> {
        let map = |k: &[u8], v: &[u8]| -> Result<Option<T>> {
            let uuid = k
                .get(2..)
                .and_then(keys::uuid_of)
                .ok_or_else(|| StoreError::corrupt("docs", format!("{k:02x?}"), "malformed key"))?;
            let (handle, timeline) = decode_timeline(EntityId::new(kind, uuid), v)?;
            Ok(f(handle, timeline))
        };
        let prefix = keys::docs_of(kind);
        let end = prefix_end(&prefix);
        let mut out = Vec::new();
        for value in scan::collect_from_both_ends(
            self.tree.persisted_tree()?,
            &prefix,
            end.as_deref(),
            workers,
            &map,
        )? {
            out.extend(value?);
        }
        Ok(out)
    }
}

/// The handles in a page.
const PAGE: usize = keys::HANDLES_PER_PAGE as usize;

/// A partner's party chunks from chunk number `first` on, for the
/// conventions `uuids` (in UUID order) that follow the chunks before it:
/// the one packing both the writes and a rebuild use.
pub fn party_chunks(partner: PartnerId, first: usize, uuids: &[Uuid]) -> Result<Vec<Entry>> {
    uuids
        .chunks(keys::PARTIES_PER_CHUNK)
        .enumerate()
        .map(|(i, chunk)| {
            let n = first
                .checked_add(i)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| StoreError::corrupt("parties", partner, "too many chunks"))?;
            Ok((
                keys::party_chunk(partner, n).to_vec(),
                codec::encode_uuids(chunk),
            ))
        })
        .collect()
}

/// Every page of the handle index, from the handles of every entity: the
/// packing a rebuild writes (handles are numbered without gaps).
pub fn handle_pages(handles: impl Iterator<Item = (Handle, Uuid)>) -> Vec<Entry> {
    let mut all: Vec<(Handle, Uuid)> = handles.collect();
    all.sort_by_key(|(h, _)| (keys::kind_byte(h.kind), h.number));
    let mut out: Vec<Entry> = Vec::new();
    let mut page: Option<([u8; 10], Vec<Uuid>)> = None;
    for (h, uuid) in all {
        let Some((key, _)) = keys::handle_slot(h) else {
            continue;
        };
        match &mut page {
            Some((k, uuids)) if *k == key => uuids.push(uuid),
            _ => {
                if let Some((k, uuids)) = page.replace((key, vec![uuid])) {
                    out.push((k.to_vec(), codec::encode_uuids(&uuids)));
                }
            }
        }
    }
    if let Some((k, uuids)) = page {
        out.push((k.to_vec(), codec::encode_uuids(&uuids)));
    }
    out
}

/// One cache entry: key and value bytes.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reads a name entry.
pub fn name_entry(k: &[u8], v: &[u8]) -> Result<NameEntry> {
    let bad = || StoreError::corrupt("names", String::from_utf8_lossy(k), "malformed entry");
    let body = k.get(1..).ok_or_else(bad)?;
    let split = body.len().checked_sub(17).ok_or_else(bad)?;
    let (name, rest) = body.split_at(split);
    let partner = rest
        .split_first()
        .filter(|(zero, _)| **zero == 0)
        .and_then(|(_, id)| keys::uuid_of(id))
        .ok_or_else(bad)?;
    let key = std::str::from_utf8(name).map_err(|_| bad())?.to_owned();
    let current = match v {
        [1] => true,
        [0] => false,
        _ => return Err(bad()),
    };
    Ok(NameEntry {
        key,
        partner: PartnerId(partner),
        current,
    })
}
