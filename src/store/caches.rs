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

impl CacheWrite {
    /// The key this write changes, and its new value (`None`: removed).
    fn entry(&self) -> (Vec<u8>, Option<Vec<u8>>) {
        match self {
            CacheWrite::Doc(entity, bytes) => (keys::doc(*entity).to_vec(), Some(bytes.clone())),
            CacheWrite::Handle(handle, entity) => (
                keys::handle(*handle).to_vec(),
                Some(entity.uuid().as_bytes().to_vec()),
            ),
            CacheWrite::PutName(e) => (
                keys::name(&e.key, e.partner),
                Some(vec![u8::from(e.current)]),
            ),
            CacheWrite::DeleteName { key, partner } => (keys::name(key, *partner), None),
            CacheWrite::PutParty(p, c) => (keys::party(*p, *c).to_vec(), Some(Vec::new())),
            CacheWrite::DeleteParty(p, c) => (keys::party(*p, *c).to_vec(), None),
            CacheWrite::NamesSuccessors(p) => (keys::succession(*p).to_vec(), Some(Vec::new())),
            CacheWrite::Put(k, v) => (k.clone(), Some(v.clone())),
        }
    }
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
    let matches = match (&timeline, entity) {
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
    Ok(Doc {
        handle: Handle {
            kind: entity.kind(),
            number,
        },
        seqs,
        timeline,
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

    /// Applies `writes` and sets the watermark, at once.
    pub fn write<'w>(
        &self,
        writes: impl IntoIterator<Item = &'w CacheWrite>,
        through: Option<(Seq, Digest)>,
    ) -> Result<()> {
        let watermark = through.map(|(seq, hash)| {
            (
                keys::WATERMARK.to_vec(),
                Some(keys::watermark_value(seq, &hash).to_vec()),
            )
        });
        self.tree
            .apply(writes.into_iter().map(CacheWrite::entry).chain(watermark))
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
        match self.tree.get(keys::handle(handle))? {
            None => Ok(None),
            Some(v) => keys::uuid_of(&v)
                .map(|u| Some(EntityId::new(handle.kind, u)))
                .ok_or_else(|| StoreError::corrupt("handles", handle, "malformed uuid")),
        }
    }

    /// How many entities of a kind have a handle: the last handle's number.
    pub fn count(&self, kind: EntityKind) -> Result<u64> {
        match self.tree.last_under(&keys::handles_of(kind))? {
            None => Ok(0),
            Some((k, _)) => k
                .get(1..)
                .and_then(keys::handle_of)
                .map(|h| h.number)
                .ok_or_else(|| {
                    StoreError::corrupt("handles", format!("{k:02x?}"), "malformed key")
                }),
        }
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

    /// Conventions that name `partner` in a surviving fact.
    pub fn conventions_naming(&self, partner: PartnerId) -> Result<Vec<ConventionId>> {
        let mut prefix = vec![keys::PARTY];
        prefix.extend_from_slice(partner.as_bytes());
        Ok(self
            .uuids_under(&prefix, "parties")?
            .into_iter()
            .map(ConventionId)
            .collect())
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
            let doc = decode_doc(EntityId::new(kind, uuid), v)?;
            Ok(f(doc.handle, doc.timeline))
        };
        let mut out = Vec::new();
        let prefix = keys::docs_of(kind);
        let end = prefix_end(&prefix);
        scan::scan_ordered(
            self.tree.persisted_tree()?,
            &prefix,
            end.as_deref(),
            workers,
            &map,
            &mut |value| {
                out.extend(value?);
                Ok(())
            },
        )?;
        Ok(out)
    }
}

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
