//! Projections: the caches derived from the log, kept in step with it after
//! every append, caught up from their watermark on open, rebuilt from it on
//! demand, and checked against it by `verify`.
//!
//! Each entity's document (handle, stream seqs, [`AnyTimeline`] at the
//! head) is cached, with three indexes: handles, the names of partners
//! (current and former) and the partners each convention names.
//! [`Projector`] folds a batch of new events into the cached documents and
//! says what to write; [`derive_all`] recomputes every cache from the log
//! alone, for `rebuild` and `verify`; [`catch_up`] folds what the log holds
//! past the watermark.
//!
//! **Invariant:** everything this module writes can be recomputed from the
//! log; nothing here is a source of truth.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::domain::timeline::{NeedsReplay, recorded_names};
use crate::domain::{
    AnyTimeline, ConventionId, ConventionTimeline, EntityId, EntityKind, EventRecord, Handle,
    PartnerId, PartnerTimeline, Seq, end_of_time, fold_key,
};
use crate::store::caches::{handle_pages, party_chunks};
use crate::store::codec;
use crate::store::scan::ReadOnce;
use crate::store::{
    CacheWrite as DerivedWrite, Doc, NameEntry, Sealed, Store, StoreError, keys, workers,
};

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An empty timeline for the entity.
pub fn empty_timeline(entity: EntityId) -> AnyTimeline {
    match entity {
        EntityId::Partner(id) => AnyTimeline::Partner(PartnerTimeline::empty(id)),
        EntityId::Convention(id) => AnyTimeline::Convention(ConventionTimeline::empty(id)),
    }
}

/// Resolves a whole stream at log position `t`.
pub fn replay(entity: EntityId, stream: &[EventRecord], t: Seq) -> Option<AnyTimeline> {
    match entity {
        EntityId::Partner(id) => PartnerTimeline::replay(id, stream, t).map(AnyTimeline::Partner),
        EntityId::Convention(id) => {
            ConventionTimeline::replay(id, stream, t).map(AnyTimeline::Convention)
        }
    }
}

/// The name-index entries of a partner: every name its stream records
/// ([`recorded_names`]), the one it bears with every rename applied and its
/// current short name flagged current. A void partner has none.
pub fn name_entries(timeline: &PartnerTimeline, stream: &[EventRecord]) -> BTreeSet<NameEntry> {
    if timeline.base.is_none() {
        return BTreeSet::new();
    }
    let state = timeline.state_at(end_of_time());
    let current = state
        .as_ref()
        .map(|s| fold_key(s.name.as_str()))
        .unwrap_or_default();
    // the current short name is a reference as good as the name
    let short = state
        .as_ref()
        .and_then(|s| s.short_name.as_ref())
        .map(|s| fold_key(s.as_str()))
        .unwrap_or_default();
    recorded_names(stream)
        .iter()
        .map(|n| fold_key(n.as_str()))
        .chain([current.clone(), short.clone()])
        .filter(|k| !k.is_empty())
        .map(|key| NameEntry {
            current: key == current || key == short,
            key,
            partner: timeline.id,
        })
        .collect()
}

/// The party-index entries of a convention.
pub fn party_entries(timeline: &ConventionTimeline) -> BTreeSet<(PartnerId, ConventionId)> {
    timeline
        .partners_ever()
        .into_iter()
        .map(|p| (p, timeline.id))
        .collect()
}

/// The index writes that turn `old` entries into `new` ones.
fn name_delta(old: &BTreeSet<NameEntry>, new: &BTreeSet<NameEntry>, out: &mut Vec<DerivedWrite>) {
    for gone in old.iter().filter(|e| !new.iter().any(|n| n.key == e.key)) {
        out.push(DerivedWrite::DeleteName {
            key: gone.key.clone(),
            partner: gone.partner,
        });
    }
    out.extend(new.difference(old).cloned().map(DerivedWrite::PutName));
}

/// The party-index writes that turn the entries `old` into `after`'s.
fn party_delta(
    old: &BTreeSet<(PartnerId, ConventionId)>,
    after: &ConventionTimeline,
    out: &mut Vec<DerivedWrite>,
) {
    let new = party_entries(after);
    for (p, c) in old.difference(&new) {
        out.push(DerivedWrite::DeleteParty(*p, *c));
    }
    for (p, c) in new.difference(old) {
        out.push(DerivedWrite::PutParty(*p, *c));
    }
}

/// Folds a batch of sealed events into the cached timelines.
pub struct Projector<'a> {
    store: &'a Store,
    order: Vec<EntityId>,
    touched: HashMap<EntityId, Touched>,
    /// stored documents read before the batch touched their entity
    read: HashMap<EntityId, Option<Doc>>,
    batch: Vec<EventRecord>,
    /// the folded current name and short name of each partner the batch
    /// touched, as the batch leaves it
    partner_keys: HashMap<PartnerId, Vec<String>>,
}

struct Touched {
    handle: Handle,
    seqs: Vec<Seq>,
    before: Before,
    now: AnyTimeline,
}

/// What the index writes need of an entity as stored before the batch: a
/// partner's timeline (its names are those of its whole stream), a
/// convention's party entries only, so that its timeline is moved into
/// the batch's instead of copied.
enum Before {
    /// not stored before the batch
    New,
    Partner(Box<PartnerTimeline>),
    Convention(BTreeSet<(PartnerId, ConventionId)>),
}

impl<'a> Projector<'a> {
    /// A projector over the store's current projections.
    pub fn new(store: &'a Store) -> Self {
        Self {
            store,
            order: Vec::new(),
            touched: HashMap::new(),
            read: HashMap::new(),
            batch: Vec::new(),
            partner_keys: HashMap::new(),
        }
    }

    /// The partners the batch touched that bear the folded name `key` (as
    /// their name or short name) once it is committed.
    pub fn pending_partners_named<'k>(
        &'k self,
        key: &'k str,
    ) -> impl Iterator<Item = PartnerId> + 'k {
        // in the order the batch first touched them, as the store's own
        // entries are in a fixed order: a refusal names the same holder
        // every time
        self.order.iter().filter_map(move |e| match e {
            EntityId::Partner(p) => self
                .partner_keys
                .get(p)
                .filter(|keys| keys.iter().any(|k| k == key))
                .map(|_| *p),
            EntityId::Convention(_) => None,
        })
    }

    /// The timeline an entity will have once the batch is committed, if the
    /// batch touched it.
    pub fn pending(&self, entity: EntityId) -> Option<(Handle, &AnyTimeline)> {
        self.touched.get(&entity).map(|t| (t.handle, &t.now))
    }

    /// Reads the entity's stored timeline unless the batch already has it,
    /// once per batch: [`Projector::current`] shows it and [`Projector::apply`]
    /// starts from it.
    pub fn prefetch(&mut self, entity: EntityId) -> Result<()> {
        if !self.touched.contains_key(&entity) && !self.read.contains_key(&entity) {
            let stored = self.store.doc(entity)?;
            self.read.insert(entity, stored);
        }
        Ok(())
    }

    /// [`Projector::prefetch`] of many entities, their documents read on
    /// up to `workers` threads (a batch's documents are random reads of
    /// sled, most of a large batch's time on a large registry). A document
    /// that cannot be read is left out: the command's own prefetch reads it
    /// again and reports the failure at the command's position.
    pub fn prefetch_all(&mut self, entities: &[EntityId], workers: usize) {
        let mut wanted: Vec<EntityId> = entities
            .iter()
            .copied()
            .filter(|e| !self.touched.contains_key(e) && !self.read.contains_key(e))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let store = self.store;
        let docs = crate::store::scan::map_in_order(&wanted, workers, &|e| store.doc(*e));
        for (entity, doc) in wanted.into_iter().zip(docs.into_iter().flatten()) {
            if let Ok(doc) = doc {
                self.read.insert(entity, doc);
            }
        }
    }

    /// The entity's timeline as the batch leaves it, else as the store has
    /// it (`None` for an entity with no event, or one not yet
    /// [prefetched](Projector::prefetch)).
    pub fn current(&self, entity: EntityId) -> Option<&AnyTimeline> {
        match self.touched.get(&entity) {
            Some(t) => Some(&t.now),
            None => self.read.get(&entity)?.as_ref().map(|d| &d.timeline),
        }
    }

    /// Every entity the batch touched, with its handle and timeline to be.
    pub fn pending_all(&self) -> impl Iterator<Item = (EntityId, Handle, &AnyTimeline)> {
        self.order
            .iter()
            .filter_map(|e| self.touched.get(e).map(|t| (*e, t.handle, &t.now)))
    }

    /// Folds every record of a sealed batch.
    pub fn apply_all(&mut self, sealed: &Sealed) -> Result<()> {
        for record in &sealed.records {
            self.apply(record, sealed.handle_of(record.entity))?;
        }
        Ok(())
    }

    /// Folds the next sealed event; `new_handle` is the handle a creating
    /// event was given.
    pub fn apply(&mut self, record: &EventRecord, new_handle: Option<Handle>) -> Result<()> {
        let entity = record.entity;
        if !self.touched.contains_key(&entity) {
            let stored = match self.read.remove(&entity) {
                Some(read) => read,
                None => self.store.doc(entity)?,
            };
            let (handle, seqs, before, now) = match stored {
                Some(d) => {
                    let before = match &d.timeline {
                        AnyTimeline::Partner(p) => Before::Partner(Box::new(p.clone())),
                        AnyTimeline::Convention(c) => Before::Convention(party_entries(c)),
                    };
                    (d.handle, d.seqs, before, d.timeline)
                }
                None => {
                    let handle = new_handle.ok_or_else(|| StoreError::Corrupt {
                        tree: "proj",
                        at: entity.to_string(),
                        detail: "no projection for an existing entity".into(),
                    })?;
                    (handle, Vec::new(), Before::New, empty_timeline(entity))
                }
            };
            self.order.push(entity);
            self.touched.insert(
                entity,
                Touched {
                    handle,
                    seqs,
                    before,
                    now,
                },
            );
        }
        self.batch.push(record.clone());
        let needs_replay = match self.touched.get_mut(&entity) {
            Some(t) => {
                t.seqs.push(record.seq);
                t.now.record(record) == Err(NeedsReplay)
            }
            None => false,
        };
        if needs_replay {
            let mut stream = self.store.stream(entity)?;
            stream.extend(self.batch.iter().filter(|r| r.entity == entity).cloned());
            let fresh = replay(entity, &stream, Seq::MAX).unwrap_or_else(|| empty_timeline(entity));
            if let Some(t) = self.touched.get_mut(&entity) {
                t.now = fresh;
            }
        }
        if let (EntityId::Partner(p), Some(AnyTimeline::Partner(t))) =
            (entity, self.touched.get(&entity).map(|t| &t.now))
        {
            let keys = t
                .state_at(end_of_time())
                .map(|s| {
                    [
                        Some(s.name.as_str()),
                        s.short_name.as_ref().map(|n| n.as_str()),
                    ]
                    .into_iter()
                    .flatten()
                    .map(fold_key)
                    .collect()
                })
                .unwrap_or_default();
            self.partner_keys.insert(p, keys);
        }
        Ok(())
    }

    /// The derived writes for everything folded so far.
    pub fn writes(&self) -> Result<Vec<DerivedWrite>> {
        let mut out = Vec::new();
        for entity in &self.order {
            let Some(t) = self.touched.get(entity) else {
                continue;
            };
            let bytes = codec::encode_doc(t.handle.number, &t.seqs, &t.now)
                .map_err(|e| StoreError::Encode(e.to_string()))?;
            out.push(DerivedWrite::Doc(*entity, bytes));
            match &t.now {
                AnyTimeline::Partner(now) => {
                    let mut stream = match &t.before {
                        Before::New => Vec::new(),
                        _ => self.store.stream(*entity)?,
                    };
                    let old = match &t.before {
                        Before::Partner(b) => name_entries(b, &stream),
                        _ => BTreeSet::new(),
                    };
                    let stored = stream.len();
                    stream.extend(self.batch.iter().filter(|r| r.entity == *entity).cloned());
                    name_delta(&old, &name_entries(now, &stream), &mut out);
                    // the batch's own events of this partner
                    if stream[stored..].iter().any(|r| r.event.is_succession()) {
                        out.push(DerivedWrite::NamesSuccessors(now.id));
                    }
                }
                AnyTimeline::Convention(now) => {
                    let old = match &t.before {
                        Before::Convention(parties) => parties,
                        _ => &BTreeSet::new(),
                    };
                    party_delta(old, now, &mut out);
                }
            }
        }
        Ok(out)
    }
}

/// A cache: one key prefix of the `cache` tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Derived {
    /// one document per entity
    Docs,
    /// handle → entity
    Handles,
    /// folded names of partners
    Names,
    /// the conventions that name a partner
    Parties,
    /// the partners whose stream holds a succession
    Successions,
    /// the log position the caches are exact at
    Watermark,
}

impl Derived {
    /// Every cache.
    pub const ALL: [Derived; 6] = [
        Derived::Docs,
        Derived::Handles,
        Derived::Names,
        Derived::Parties,
        Derived::Successions,
        Derived::Watermark,
    ];

    /// The cache's name (in reports).
    pub fn name(self) -> &'static str {
        match self {
            Derived::Docs => "docs",
            Derived::Handles => "handles",
            Derived::Names => "names",
            Derived::Parties => "parties",
            Derived::Successions => "successions",
            Derived::Watermark => "watermark",
        }
    }

    /// The cache's key prefix in the `cache` tree.
    pub fn prefix(self) -> &'static [u8] {
        match self {
            Derived::Docs => &[keys::DOC],
            Derived::Handles => &[keys::HANDLE],
            Derived::Names => &[keys::NAME],
            Derived::Parties => &[keys::PARTY],
            Derived::Successions => &[keys::SUCCESSION],
            Derived::Watermark => keys::WATERMARK,
        }
    }
}

/// A range of keys of the `cache` tree: from `from` (included) to `to`
/// (excluded; `None`: the end of the documents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    from: Vec<u8>,
    to: Option<Vec<u8>>,
}

impl KeyRange {
    /// Every document.
    fn all_docs() -> Self {
        KeyRange {
            from: vec![keys::DOC],
            to: None,
        }
    }

    fn holds(&self, key: &[u8]) -> bool {
        key.starts_with(&[keys::DOC])
            && key >= self.from.as_slice()
            && self.to.as_deref().is_none_or(|to| key < to)
    }

    /// The keys both ranges hold.
    fn within(&self, other: &KeyRange) -> KeyRange {
        let to = match (&self.to, &other.to) {
            (Some(a), Some(b)) => Some(a.min(b).clone()),
            (Some(a), None) | (None, Some(a)) => Some(a.clone()),
            (None, None) => None,
        };
        KeyRange {
            from: self.from.as_slice().max(other.from.as_slice()).to_vec(),
            to,
        }
    }
}

/// An entity's document as a cache entry: its handle, its stream's seqs
/// and its timeline, under `key`.
fn doc_entry(
    key: [u8; 18],
    handles: &HashMap<EntityId, Handle>,
    streams: &HashMap<EntityId, Vec<Seq>>,
    entity: &EntityId,
    timeline: &AnyTimeline,
) -> Result<Entry> {
    let handle = handles.get(entity).map_or(0, |h| h.number);
    let stream = streams.get(entity).map_or(&[][..], |s| s.as_slice());
    let bytes = codec::encode_doc(handle, stream, timeline)
        .map_err(|e| StoreError::Encode(e.to_string()))?;
    Ok((key.to_vec(), bytes))
}

/// A timeline the derivation should hold and does not.
fn lost(entity: &EntityId) -> StoreError {
    StoreError::corrupt(Derived::Docs.name(), entity, "lost during the derivation")
}

/// Everything the caches must hold, recomputed from the log alone.
///
/// The timelines are those of the documents in [`Derivation::docs`]: every
/// document when the log was short enough to fold at once, else one part
/// after another in [`Derivation::each_part`], which also completes the
/// name and party indexes.
#[derive(Default)]
pub struct Derivation {
    /// events read
    pub events: u64,
    /// partners created (the next `P` handle is this plus one)
    pub partners: u64,
    /// conventions created
    pub conventions: u64,
    /// the last event's seq, hash and time
    pub last: Option<(Seq, crate::domain::Digest, chrono::DateTime<chrono::Utc>)>,
    streams: HashMap<EntityId, Vec<Seq>>,
    handles: HashMap<EntityId, Handle>,
    timelines: HashMap<EntityId, AnyTimeline>,
    names: BTreeSet<NameEntry>,
    parties: BTreeSet<(PartnerId, ConventionId)>,
    successions: BTreeSet<PartnerId>,
    /// the documents the timelines are those of
    docs: Option<KeyRange>,
    /// true when the timelines are still to be folded, part by part
    parted: bool,
}

pub use crate::store::caches::Entry;

impl Derivation {
    /// The entries one cache must hold, in key order (the documents: those
    /// of the part being visited).
    pub fn entries(&self, tree: Derived) -> Box<dyn Iterator<Item = Result<Entry>> + '_> {
        match tree {
            Derived::Docs => self.doc_entries(KeyRange::all_docs()),
            Derived::Handles => Box::new(
                handle_pages(self.handles.iter().map(|(e, h)| (*h, e.uuid())))
                    .into_iter()
                    .map(Ok),
            ),
            Derived::Names => Box::new(
                self.names
                    .iter()
                    .map(|e| Ok((keys::name(&e.key, e.partner), vec![u8::from(e.current)]))),
            ),
            Derived::Parties => {
                let mut all = self.parties.iter().peekable();
                let mut chunks = Vec::new();
                while let Some(&(partner, first)) = all.next() {
                    let mut set = vec![first.0];
                    while let Some((_, c)) = all.next_if(|(p, _)| *p == partner) {
                        set.push(c.0);
                    }
                    match party_chunks(partner, 0, &set) {
                        Ok(entries) => chunks.extend(entries.into_iter().map(Ok)),
                        Err(e) => chunks.push(Err(e)),
                    }
                }
                Box::new(chunks.into_iter())
            }
            Derived::Successions => Box::new(
                self.successions
                    .iter()
                    .map(|p| Ok((keys::succession(*p).to_vec(), Vec::new()))),
            ),
            Derived::Watermark => Box::new(self.last.iter().map(|(seq, hash, _)| {
                Ok((
                    keys::WATERMARK.to_vec(),
                    keys::watermark_value(*seq, hash).to_vec(),
                ))
            })),
        }
    }

    /// The documents whose timelines this derivation holds now.
    pub fn docs(&self) -> Option<&KeyRange> {
        self.docs.as_ref()
    }

    /// The documents of the part being visited that `within` holds, in key
    /// order.
    fn doc_entries(&self, within: KeyRange) -> Box<dyn Iterator<Item = Result<Entry>> + '_> {
        let mut ids: Vec<([u8; 18], &EntityId)> = self
            .timelines
            .keys()
            .map(|e| (keys::doc(*e), e))
            .filter(|(key, _)| within.holds(key))
            .collect();
        ids.sort_unstable_by_key(|(key, _)| *key);
        Box::new(ids.into_iter().map(move |(key, entity)| {
            let timeline = self.timelines.get(entity).ok_or_else(|| lost(entity))?;
            doc_entry(key, &self.handles, &self.streams, entity, timeline)
        }))
    }

    /// The documents of the part being visited, in key order, each
    /// timeline dropped once its document is encoded (a rebuild writes
    /// them as the fold's memory goes down).
    fn drain_doc_entries(&mut self) -> Box<dyn Iterator<Item = Result<Entry>> + '_> {
        let Derivation {
            timelines,
            handles,
            streams,
            ..
        } = self;
        let mut ids: Vec<([u8; 18], EntityId)> =
            timelines.keys().map(|e| (keys::doc(*e), *e)).collect();
        ids.sort_unstable_by_key(|(key, _)| *key);
        Box::new(ids.into_iter().map(move |(key, entity)| {
            let timeline = timelines.remove(&entity).ok_or_else(|| lost(&entity))?;
            doc_entry(key, handles, streams, &entity, &timeline)
        }))
    }

    /// The part being visited cut in two at its middle document, for two
    /// threads to compare (one range when it holds fewer than two).
    pub fn docs_halves(&self) -> Vec<KeyRange> {
        let Some(docs) = &self.docs else {
            return Vec::new();
        };
        let mut keys: Vec<[u8; 18]> = self.timelines.keys().map(|e| keys::doc(*e)).collect();
        if keys.len() < 2 {
            return vec![docs.clone()];
        }
        let middle = keys.len() / 2;
        let (_, cut, _) = keys.select_nth_unstable(middle);
        let cut = cut.to_vec();
        vec![
            KeyRange {
                from: docs.from.clone(),
                to: Some(cut.clone()),
            }
            .within(docs),
            KeyRange {
                from: cut,
                to: docs.to.clone(),
            }
            .within(docs),
        ]
    }

    /// Calls `each` with the timelines of every document, a part at a time
    /// in key order ([`Derivation::docs`] says which), folding each part
    /// by a pass over the log; a derivation folded at once is one part.
    /// Afterwards the name and party indexes are complete and no timeline
    /// is held.
    pub fn each_part(
        &mut self,
        store: &Store,
        each: &mut dyn FnMut(&mut Derivation) -> Result<()>,
    ) -> Result<()> {
        if !self.parted {
            each(self)?;
        } else {
            for range in self.parts(store.part_events()) {
                let mut fold = Fold::default();
                let mut timelines = HashMap::new();
                let keep = |entity: EntityId| range.holds(&keys::doc(entity));
                // the events the first pass read, not any appended since
                let last = self.last.map_or(Seq::ZERO, |(seq, _, _)| seq);
                store.scan_events_where(Seq(1), workers(), &keep, &mut |record| {
                    if record.seq <= last {
                        fold.fold(&mut timelines, &record);
                    }
                    Ok(())
                })?;
                self.timelines = timelines;
                fold.finish(store, self)?;
                self.docs = Some(range);
                each(self)?;
                self.timelines = HashMap::new();
            }
            self.parted = false;
        }
        self.timelines = HashMap::new();
        self.docs = None;
        Ok(())
    }

    /// The documents' key ranges of about `part_events` events each, in
    /// key order, covering every key of the documents.
    fn parts(&self, part_events: u64) -> Vec<KeyRange> {
        let mut weighted: Vec<([u8; 18], usize)> = self
            .streams
            .iter()
            .map(|(entity, seqs)| (keys::doc(*entity), seqs.len()))
            .collect();
        weighted.sort_unstable();
        let mut cuts = Vec::new();
        let mut in_part = 0u64;
        for (key, events) in weighted {
            let events = u64::try_from(events).unwrap_or(u64::MAX);
            if in_part > 0 && in_part.saturating_add(events) > part_events {
                cuts.push(key.to_vec());
                in_part = 0;
            }
            in_part = in_part.saturating_add(events);
        }
        let mut ranges = Vec::with_capacity(cuts.len() + 1);
        let mut from = vec![keys::DOC];
        for cut in cuts {
            ranges.push(KeyRange {
                from: std::mem::replace(&mut from, cut.clone()),
                to: Some(cut),
            });
        }
        ranges.push(KeyRange { from, to: None });
        ranges
    }
}

/// Recomputes what every cache must hold from the log alone, calling
/// `progress` with the seq reached. Fails on the first event that cannot
/// be decoded. The timelines of a long log are folded later, a part at a
/// time ([`Derivation::each_part`]).
pub fn derive_all(store: &Store, progress: &mut dyn FnMut(u64)) -> Result<Derivation> {
    let mut deriver = Deriver::for_log(store);
    store.scan_events(Seq(1), workers(), &mut |record| {
        deriver.fold(&record);
        if record.seq.0.is_multiple_of(8192) {
            progress(record.seq.0);
        }
        Ok(())
    })?;
    deriver.finish(store)
}

/// The derivation being folded, one event of the log at a time, in seq
/// order (for callers that read the log themselves, like `verify`).
pub struct Deriver {
    d: Derivation,
    /// whether this pass folds the timelines (else they are folded part by
    /// part afterwards)
    timelines: Option<Fold>,
}

/// The timelines being folded in a pass over the log.
#[derive(Default)]
struct Fold {
    /// streams incremental folding could not handle, replayed at the end
    dirty: BTreeSet<EntityId>,
    /// partners' events, kept for the name index (every name a partner
    /// was recorded under), instead of reading them back one by one
    partner_events: HashMap<EntityId, Vec<EventRecord>>,
}

impl Fold {
    fn fold(&mut self, timelines: &mut HashMap<EntityId, AnyTimeline>, record: &EventRecord) {
        let entity = record.entity;
        if !self.dirty.contains(&entity) {
            let timeline = timelines
                .entry(entity)
                .or_insert_with(|| empty_timeline(entity));
            if timeline.record(record) == Err(NeedsReplay) {
                self.dirty.insert(entity);
            }
        }
        if entity.kind() == EntityKind::Partner {
            self.partner_events
                .entry(entity)
                .or_default()
                .push(record.clone());
        }
    }

    /// Replays the streams incremental folding could not handle, then
    /// adds the index entries of the timelines folded to `d`'s.
    fn finish(self, store: &Store, d: &mut Derivation) -> Result<()> {
        let Fold {
            dirty,
            partner_events,
        } = self;
        for entity in dirty {
            let timeline = match partner_events.get(&entity) {
                Some(stream) => replay(entity, stream, Seq::MAX),
                None => replay(
                    entity,
                    &read_stream(store, d.streams.get(&entity))?,
                    Seq::MAX,
                ),
            };
            if let Some(t) = timeline {
                d.timelines.insert(entity, t);
            }
        }
        for (entity, timeline) in &d.timelines {
            match timeline {
                AnyTimeline::Partner(p) => {
                    let stream = partner_events.get(entity).map_or(&[][..], Vec::as_slice);
                    d.names.extend(name_entries(p, stream));
                }
                AnyTimeline::Convention(c) => d.parties.extend(party_entries(c)),
            }
        }
        Ok(())
    }
}

impl Deriver {
    /// A deriver for the log of `store`: it folds the timelines as it goes
    /// when the log holds at most [`Store::part_events`] events, else
    /// leaves them to [`Derivation::each_part`].
    pub fn for_log(store: &Store) -> Self {
        Self::for_events(store, store.head().map_or(u64::MAX, |h| h.seq.0))
    }

    /// A deriver for a log of `events` events, read from its start by the
    /// caller (an import into an empty registry folds the events it
    /// appends, before they are all in the store).
    pub fn for_events(store: &Store, events: u64) -> Self {
        let at_once = events <= store.part_events();
        Self {
            d: Derivation {
                parted: !at_once,
                ..Derivation::default()
            },
            timelines: at_once.then(Fold::default),
        }
    }

    /// Folds the next event of the log.
    pub fn fold(&mut self, record: &EventRecord) {
        let d = &mut self.d;
        d.events += 1;
        let entity = record.entity;
        let seqs = d.streams.entry(entity).or_default();
        seqs.push(record.seq);
        if seqs.len() == 1 {
            let counter = match entity.kind() {
                EntityKind::Partner => &mut d.partners,
                EntityKind::Convention => &mut d.conventions,
            };
            *counter += 1;
            d.handles.insert(
                entity,
                Handle {
                    kind: entity.kind(),
                    number: *counter,
                },
            );
        }
        if let EntityId::Partner(p) = entity
            && record.event.is_succession()
        {
            d.successions.insert(p);
        }
        if let Some(fold) = &mut self.timelines {
            fold.fold(&mut d.timelines, record);
        }
        d.last = Some((record.seq, record.hash, record.recorded_at));
    }

    /// Ends the pass: the timelines folded (if this pass folded them) are
    /// complete, and so are the indexes derived from them.
    pub fn finish(self, store: &Store) -> Result<Derivation> {
        let Deriver { mut d, timelines } = self;
        if let Some(fold) = timelines {
            fold.finish(store, &mut d)?;
            d.docs = Some(KeyRange::all_docs());
        }
        Ok(d)
    }
}

/// Reads the events at `seqs` back from the store.
fn read_stream(store: &Store, seqs: Option<&Vec<Seq>>) -> Result<Vec<EventRecord>> {
    seqs.into_iter()
        .flatten()
        .map(|seq| {
            store.event(*seq)?.ok_or_else(|| StoreError::Corrupt {
                tree: "events",
                at: format!("seq {seq}"),
                detail: "vanished during the derivation".into(),
            })
        })
        .collect()
}

/// How a stored entry differs from the derivation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// the derivation has it, the tree does not
    Missing(Entry),
    /// the tree has it, the derivation does not
    Extra(Vec<u8>),
    /// both have the key with other values (the derivation's given)
    Differs(Entry),
}

/// Walks a stored tree and the derivation's entries for it in key order,
/// calling `on` for each difference. Returns how many stored entries were
/// compared.
pub fn compare(
    store: &Store,
    derivation: &Derivation,
    tree: Derived,
    on: &mut dyn FnMut(Difference) -> Result<()>,
) -> Result<u64> {
    compare_within(store, derivation, tree, None, on)
}

/// [`compare`], the documents only where `within` says as well (the
/// other trees whole).
pub fn compare_within(
    store: &Store,
    derivation: &Derivation,
    tree: Derived,
    within: Option<&KeyRange>,
    on: &mut dyn FnMut(Difference) -> Result<()>,
) -> Result<u64> {
    let stored = store.caches().tree()?;
    let docs = derivation
        .docs()
        .map(|docs| within.map_or_else(|| docs.clone(), |w| w.within(docs)));
    let (walk, want) = match tree {
        Derived::Docs => {
            let range = docs.ok_or_else(outside_a_part)?;
            (docs_walk(stored, &range), derivation.doc_entries(range))
        }
        _ => (
            Box::new(stored.scan_prefix(tree.prefix())) as StoredWalk,
            derivation.entries(tree),
        ),
    };
    compare_walk(stored, walk, want, on)
}

/// [`compare`] of the documents of the part being visited, each timeline
/// dropped once compared (see [`Derivation::drain_doc_entries`]).
fn compare_draining_docs(
    store: &Store,
    derivation: &mut Derivation,
    on: &mut dyn FnMut(Difference) -> Result<()>,
) -> Result<u64> {
    let stored = store.caches().tree()?;
    let range = derivation.docs().cloned().ok_or_else(outside_a_part)?;
    let walk = docs_walk(stored, &range);
    compare_walk(stored, walk, derivation.drain_doc_entries(), on)
}

/// A walk over stored entries of a cache.
type StoredWalk<'t> = Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>> + 't>;

/// Comparing the documents outside a part of the derivation would find
/// nothing: it is refused, not passed.
fn outside_a_part() -> StoreError {
    StoreError::corrupt(
        Derived::Docs.name(),
        "*",
        "the documents were compared outside a part of the derivation",
    )
}

/// The stored documents `range` holds.
fn docs_walk<'t>(stored: &'t sled::Tree, range: &KeyRange) -> StoredWalk<'t> {
    let from = range.from.as_slice();
    let within = match range.to.as_deref() {
        Some(to) => stored.range(from..to),
        None => stored.range(from..),
    };
    Box::new(within.take_while(|kv| {
        kv.as_ref()
            .map_or(true, |(k, _)| k.starts_with(&[keys::DOC]))
    }))
}

/// Walks the stored entries `walk` against the entries `want` (both in
/// key order) and calls `on` with each difference; the stored entries
/// compared.
fn compare_walk(
    stored: &sled::Tree,
    walk: StoredWalk<'_>,
    want: Box<dyn Iterator<Item = Result<Entry>> + '_>,
    on: &mut dyn FnMut(Difference) -> Result<()>,
) -> Result<u64> {
    let mut want = want.peekable();
    let mut compared = 0;
    for kv in ReadOnce::new(stored, walk) {
        let (k, v) = kv?;
        compared += 1;
        loop {
            let behind = match want.peek() {
                Some(Ok((wk, _))) => wk.as_slice() < k.as_ref(),
                Some(Err(_)) => true,
                None => false,
            };
            if !behind {
                break;
            }
            if let Some(next) = want.next() {
                on(Difference::Missing(next?))?;
            }
        }
        match want.peek() {
            Some(Ok((wk, _))) if wk.as_slice() == k.as_ref() => {
                if let Some(next) = want.next() {
                    let (wk, wv) = next?;
                    if wv.as_slice() != v.as_ref() {
                        on(Difference::Differs((wk, wv)))?;
                    }
                }
            }
            _ => on(Difference::Extra(k.to_vec()))?,
        }
    }
    for next in want {
        on(Difference::Missing(next?))?;
    }
    Ok(compared)
}

/// What a rebuild found and fixed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rebuilt {
    /// events read
    pub events: u64,
    /// partners
    pub partners: u64,
    /// conventions
    pub conventions: u64,
    /// derived entries written or removed, per tree
    pub fixed: Vec<(&'static str, u64)>,
    /// how many parts the documents were folded in (one: at once)
    pub parts: u64,
}

/// Recomputes every derived tree from `events` and makes each stored tree
/// equal to it: entries that differ are rewritten, missing ones written,
/// extra ones removed; entries already right are left in place. The result
/// is what dropping and rebuilding would give, at the cost of reading the
/// trees instead of rewriting millions of identical entries. A crash midway
/// leaves the `rebuilding` mark, and the next open rebuilds again.
pub fn rebuild(store: &Store, progress: &mut dyn FnMut(u64)) -> Result<Rebuilt> {
    rebuild_trees(store, &Derived::ALL, progress)
}

/// Runs `work` for each tree, on as many threads as there are workers (sled
/// reads and writes to separate trees proceed in parallel), and returns the
/// results in the trees' order.
pub fn per_tree<T: Send>(
    trees: &[Derived],
    work: impl Fn(Derived) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let lost = || StoreError::Corrupt {
        tree: "derived",
        at: "a worker".into(),
        detail: "a worker thread failed".into(),
    };
    let next = AtomicUsize::new(0);
    let take_turns = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&tree) = trees.get(i) else { break };
            let result = work(tree);
            let failed = result.is_err();
            done.push((i, result));
            if failed {
                break;
            }
        }
        done
    };
    // The calling thread is one of the workers: with one worker nothing is
    // spawned, and each thread spawned costs an allocator arena.
    let mut done: Vec<(usize, Result<T>)> = std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers().min(trees.len()))
            .map(|_| scope.spawn(take_turns))
            .collect();
        let mut done = take_turns();
        for helper in helpers {
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|_| vec![(usize::MAX, Err(lost()))]),
            );
        }
        done
    });
    done.sort_by_key(|(i, _)| *i);
    let results = done
        .into_iter()
        .map(|(_, r)| r)
        .collect::<Result<Vec<T>>>()?;
    if results.len() == trees.len() {
        Ok(results)
    } else {
        Err(lost())
    }
}

/// The entries of one `apply_batch` when a rebuild writes or clears a
/// cache (no atomicity is needed there: a rebuild is marked as begun and
/// finished). sled 0.34 keeps what a batch's writes replace in memory for
/// a while after the batch: written 1,024 at a time, the 242,175 entries
/// of a 1M registry's caches held about 400 MB more than 256 at a time,
/// whatever the size of sled's cache (docs/decisions.md).
const CHUNK: usize = 256;

/// Makes one cache equal to the derivation; returns how many entries
/// were written or removed.
fn fix_tree(store: &Store, derivation: &Derivation, tree: Derived) -> Result<u64> {
    fix_with(store, &mut |on| compare(store, derivation, tree, on))
}

/// What a comparison does with each difference it finds.
type OnDifference<'a> = dyn FnMut(Difference) -> Result<()> + 'a;

/// Writes the differences a comparison finds: `compare` calls its argument
/// with each one. The number of entries written or removed.
fn fix_with(
    store: &Store,
    compare: &mut dyn FnMut(&mut OnDifference<'_>) -> Result<u64>,
) -> Result<u64> {
    let sled_tree = store.caches().tree()?;
    let mut count = 0u64;
    let mut batch = sled::Batch::default();
    let mut in_batch = 0usize;
    let mut batches = 0u64;
    compare(&mut |difference| {
        match difference {
            Difference::Missing((k, v)) | Difference::Differs((k, v)) => batch.insert(k, v),
            Difference::Extra(k) => batch.remove(k),
        }
        count += 1;
        in_batch += 1;
        if in_batch == CHUNK {
            sled_tree.apply_batch(std::mem::take(&mut batch))?;
            in_batch = 0;
            batches += 1;
            if batches.is_multiple_of(16) {
                store.write_out()?;
            }
        }
        Ok(())
    })?;
    if in_batch > 0 {
        sled_tree.apply_batch(batch)?;
    }
    Ok(count)
}

/// [`rebuild`], limited to some caches.
pub fn rebuild_trees(
    store: &Store,
    trees: &[Derived],
    progress: &mut dyn FnMut(u64),
) -> Result<Rebuilt> {
    store.begin_rebuild()?;
    let derivation = derive_all(store, progress)?;
    write_derivation(store, trees, derivation)
}

/// The second half of [`rebuild_trees`]: makes the caches `trees` equal to
/// `derivation`, a derivation of the whole log (folded by the caller, as
/// an import does while it appends), and marks them caught up. The
/// rebuild must have been begun ([`Store::begin_rebuild`]).
pub fn write_derivation(
    store: &Store,
    trees: &[Derived],
    mut derivation: Derivation,
) -> Result<Rebuilt> {
    // the documents part by part, which completes the indexes the other
    // caches need
    let (mut docs, mut parts) = (0u64, 0u64);
    let with_docs = trees.contains(&Derived::Docs);
    derivation.each_part(store, &mut |part| {
        parts += 1;
        if with_docs {
            // each timeline dropped as its document is written
            docs += fix_with(store, &mut |on| compare_draining_docs(store, part, on))?;
        }
        Ok(())
    })?;
    let others: Vec<Derived> = trees
        .iter()
        .copied()
        .filter(|t| *t != Derived::Docs)
        .collect();
    let mut fixed_others =
        per_tree(&others, |tree| fix_tree(store, &derivation, tree))?.into_iter();
    let fixed = trees
        .iter()
        .map(|tree| match tree {
            Derived::Docs => (tree.name(), docs),
            _ => (tree.name(), fixed_others.next().unwrap_or(0)),
        })
        .collect();
    store.finish_rebuild()?;
    store.caches_caught_up();
    Ok(Rebuilt {
        events: derivation.events,
        partners: derivation.partners,
        conventions: derivation.conventions,
        fixed,
        parts,
    })
}

/// Removes every entry of some caches (for measurements and tests of a
/// rebuild from nothing).
pub fn clear(store: &Store, trees: &[Derived]) -> Result<()> {
    let tree = store.caches().tree()?;
    for cache in trees {
        let mut batch = sled::Batch::default();
        let mut in_batch = 0;
        for kv in ReadOnce::new(tree, tree.scan_prefix(cache.prefix())) {
            let (k, _) = kv?;
            batch.remove(k);
            in_batch += 1;
            if in_batch == CHUNK {
                tree.apply_batch(std::mem::take(&mut batch))?;
                store.write_out()?;
                in_batch = 0;
            }
        }
        tree.apply_batch(batch)?;
    }
    Ok(())
}

/// How many events [`catch_up`] folds per cache write.
const CATCH_UP_CHUNK: usize = 4096;

/// Caches behind the log by more than this many events, and by more than
/// a quarter of it, are rebuilt rather than caught up one chunk at a time
/// (a rebuild then reads a log less than four times what is behind).
const REBUILD_BEHIND: u64 = CATCH_UP_CHUNK as u64;

/// Brings the caches from their watermark to the head of the log: folds
/// the events past the watermark (normally none, or the last one) and
/// writes what they change with the new watermark, or rebuilds them when
/// they are far behind ([`REBUILD_BEHIND`]). Returns how many events were
/// folded. Fails when the watermark is not a position of this log.
pub fn catch_up(store: &Store) -> Result<u64> {
    catch_up_with(store, true)
}

/// [`catch_up`], never by a rebuild unless `may_rebuild`: `verify` brings
/// the caches to the head but reports what a rebuild would repair.
pub fn catch_up_with(store: &Store, may_rebuild: bool) -> Result<u64> {
    let head = store.head()?;
    let (seq, hash) = store.watermark()?;
    if (seq, hash) == (head.seq, head.hash) {
        store.caches_caught_up();
        return Ok(0);
    }
    let not_this_log = |detail: String| StoreError::corrupt("watermark", "w", detail);
    if seq > head.seq {
        return Err(not_this_log(format!(
            "the caches are at #{seq}, past the log's head #{}",
            head.seq
        )));
    }
    if seq > Seq::ZERO {
        match store.event(seq)? {
            Some(r) if r.hash == hash => {}
            _ => {
                return Err(not_this_log(format!(
                    "the caches are at #{seq} {hash}, which is not an event of this log"
                )));
            }
        }
    }
    let behind = head.seq.0 - seq.0;
    if may_rebuild && behind > REBUILD_BEHIND && behind > head.seq.0 / 4 {
        // folding the whole log in memory costs less than reading and
        // writing documents for this many events (an interrupted import)
        tracing::info!(
            from = seq.0,
            to = head.seq.0,
            "the caches are far behind: rebuilding them"
        );
        return Ok(rebuild(store, &mut |_| {})?.events);
    }
    tracing::info!(from = seq.0, to = head.seq.0, "catching the caches up");
    let mut counters = store.handle_counters()?;
    let mut folded = 0u64;
    let mut events = store.events_from(Seq(seq.0 + 1)).peekable();
    while events.peek().is_some() {
        let mut projector = Projector::new(store);
        let mut handles = Vec::new();
        let mut last = None;
        for record in events.by_ref().take(CATCH_UP_CHUNK) {
            let record = record?;
            let handle = if record.version == 1 {
                let kind = record.entity.kind();
                Some(counters.next(kind).ok_or_else(|| {
                    StoreError::corrupt("handles", kind.letter(), "the numbers are exhausted")
                })?)
            } else {
                None
            };
            if let Some(h) = handle {
                handles.push(DerivedWrite::Handle(h, record.entity));
            }
            projector.apply(&record, handle)?;
            last = Some((record.seq, record.hash));
            folded += 1;
        }
        handles.extend(projector.writes()?);
        store.write_caches(&handles, last)?;
    }
    store.caches_caught_up();
    Ok(folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_tree_gives_results_in_the_trees_order() {
        let names = per_tree(&Derived::ALL, |tree| Ok(tree.name())).unwrap();
        let expected: Vec<&str> = Derived::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, expected);
        assert_eq!(
            per_tree(&[], |tree| Ok(tree.name())).unwrap(),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn per_tree_fails_with_the_first_failing_tree_in_order() {
        let failed = per_tree(&Derived::ALL, |tree| match tree {
            Derived::Names | Derived::Watermark => Err(StoreError::Corrupt {
                tree: tree.name(),
                at: "k".into(),
                detail: "bad".into(),
            }),
            _ => Ok(()),
        });
        match failed {
            Err(StoreError::Corrupt { tree, .. }) => assert_eq!(tree, "names"),
            other => panic!("{other:?}"),
        }
    }
}
