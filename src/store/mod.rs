//! The event store on sled: the log of segments, and the caches derived
//! from it.
//!
//! Code map:
//! - `codec.rs`: the stored bytes (the only file that knows them);
//! - `keys.rs`: the key forms of the trees `log`, `cache` and `meta`;
//! - `log.rs`: the log as packed segments, its head, reads and tail merges;
//! - `caches.rs`: the caches (documents, handles, names, parties) and their
//!   watermark, in one tree;
//! - `deferred.rs`: cache writes held in memory until they are worth a
//!   sled write;
//! - `writer.rs`: sealing and committing events (the write path, step by
//!   step);
//! - `durable.rs`: flush and `fdatasync` of sled's files;
//! - `folder.rs`: every file operation on the registry folder (its checks,
//!   modes, pactum's own files beside sled's, the owner file);
//! - `head_file.rs`: the record of the last acknowledged head;
//! - `merkle.rs`: the log's Merkle tree, a cache in its own tree `merkle`;
//! - `scan.rs`: the ordered parallel scan;
//! - `format1.rs`: reading a registry of the earlier layout, for `upgrade`.
//!
//! **Invariant:** the log is the only source of truth; every other entry is
//! a cache of it, exact at the watermark it records.
//!
//! **Invariant:** an append returns only after its segment is durable (the
//! writer's steps); the caches follow without a sync of their own.

pub mod caches;
pub mod codec;
pub mod compact;
pub mod deferred;
pub mod durable;
pub mod error;
pub mod folder;
pub mod format1;
pub mod head_file;
pub mod keys;
pub mod log;
pub mod merkle;
pub mod scan;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{
    AnyTimeline, ConventionId, Digest, EntityId, EntityKind, EventId, EventRecord, Handle,
    HandleCounters, PartnerId, Seq,
};

pub use caches::{CacheWrite, Doc, NameEntry};
pub use error::{FolderProblem, StoreError, is_disk_full};
pub use head_file::RecordedHead;
pub use log::Head;
pub use scan::workers;
pub use writer::{Sealed, Writer};

use error::Result;

/// The sled cache a command-line process uses by default (sled's own
/// default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: u64 = 128 * 1024 * 1024;

/// The most events whose timelines a rebuild or `verify` folds at once,
/// unless told otherwise: about 300 MB of timelines, a registry of a
/// million events folded in one pass (docs/decisions.md).
pub const DEFAULT_PART_EVENTS: u64 = 1 << 20;

/// How to open a registry.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// create the registry if it does not exist
    pub create: bool,
    /// how long to wait for another process to release it
    pub wait: Duration,
    /// sled's cache size in bytes
    pub cache_bytes: u64,
    /// the most events whose timelines a rebuild or `verify` folds at
    /// once (a longer log is folded in parts of about this many events)
    pub part_events: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create: true,
            wait: Duration::ZERO,
            cache_bytes: DEFAULT_CACHE_BYTES,
            part_events: DEFAULT_PART_EVENTS,
        }
    }
}

/// An open registry.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    folder: folder::Folder,
    log: log::Log,
    caches: caches::Caches,
    durable: durable::Durable,
    head_file: head_file::HeadFile,
    merkle: deferred::Deferred,
    write_lock: Mutex<()>,
    caches_behind: AtomicBool,
    /// set by [`Store::retire`]: `path` names another registry's files now
    retired: AtomicBool,
    /// the registry's record says format 2 (until the first write)
    format_2: AtomicBool,
    /// how many small segments end the log, once known
    small_tail: Mutex<Option<usize>>,
    /// [`OpenOptions::part_events`]
    part_events: u64,
}

/// True when `path` holds a registry (of any format).
pub fn exists(path: &Path) -> bool {
    path.join("conf").is_file() && path.join("db").is_file()
}

impl Drop for Store {
    /// Gives the caches' pending writes to sled and writes them out (not
    /// synced: they are caches), and removes the owner file.
    fn drop(&mut self) {
        self.release_owner();
        closed_here()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(self.path.clone());
    }
}

/// Registries this process has closed: sled's background threads may hold
/// the file lock a moment after a store is dropped, so reopening one of
/// these waits for them ([`LOCK_GRACE`]) instead of reporting it in use.
fn closed_here() -> &'static Mutex<Vec<PathBuf>> {
    static CLOSED: std::sync::OnceLock<Mutex<Vec<PathBuf>>> = std::sync::OnceLock::new();
    CLOSED.get_or_init(|| Mutex::new(Vec::new()))
}

/// How long a registry this process closed may stay locked by sled's
/// threads.
const LOCK_GRACE: Duration = Duration::from_secs(5);

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// The `segment_size` a sled database was created with, from its `conf`.
fn stored_segment_size(path: &Path) -> Option<usize> {
    let conf = std::fs::read(path.join("conf")).ok()?;
    String::from_utf8_lossy(&conf)
        .lines()
        .find_map(|l| l.strip_prefix("segment_size: "))
        .and_then(|n| n.trim().parse().ok())
}

/// sled's configuration for the registry database at `path`: the
/// `segment_size` it was created with (stored in its `conf`, the same on
/// every open), or `default_segment_size` for a new one. Not the cache
/// size nor the flusher, which each opening sets.
pub fn sled_config(path: &Path, default_segment_size: usize) -> sled::Config {
    let segment_size = stored_segment_size(path).unwrap_or(default_segment_size);
    sled::Config::new().path(path).segment_size(segment_size)
}

/// Opens sled in `folder` (checked by [`folder::Folder::prepare`]),
/// waiting up to `wait` for another process to release it, then makes its
/// files private.
pub(crate) fn open_sled(
    folder: &folder::Folder,
    default_segment_size: usize,
    cache_bytes: u64,
    wait: Duration,
) -> Result<(sled::Db, Option<folder::ParentLock>)> {
    let path = folder.path();
    let config = sled_config(path, default_segment_size)
        .cache_capacity(cache_bytes)
        .flush_every_ms(None);
    let closed_by_us = closed_here()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .any(|p| p == path);
    let deadline = Instant::now()
        + if closed_by_us {
            wait.max(LOCK_GRACE)
        } else {
            wait
        };
    loop {
        // held by each attempt, and after it by the caller until it has
        // read the mark of retired files: `pactum compact` cannot exchange
        // the folder meanwhile. Best effort: a folder whose parent cannot
        // be locked still opens, guarded by the mark alone.
        let exchange = folder::lock_parent(path, false, Instant::now() + LOCK_GRACE);
        if let Err(e) = &exchange {
            tracing::debug!(error = %e, "the registry's parent folder cannot be locked");
        }
        match config.open() {
            Ok(db) => {
                folder.secure()?;
                return Ok((db, exchange.ok()));
            }
            Err(e) if is_lock_error(&e) => {
                drop(exchange);
                if Instant::now() >= deadline {
                    return Err(StoreError::InUse {
                        path: path.to_path_buf(),
                        holder: folder.read_owner(),
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(sled::Error::Io(e)) => return Err(folder::io_error(path, "opening", e)),
            Err(e) => return Err(e.into()),
        }
    }
}

impl Store {
    /// Opens (and, with `options.create`, creates) the registry at `path`.
    /// A registry of format 1 is refused with [`StoreError::Upgrade`]; one
    /// of format 2 is read as it is ([`Store::record_format`]).
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Self> {
        let started = Instant::now();
        let (folder, db, meta) = loop {
            let (folder, _) = folder::Folder::prepare(path, options.create)?;
            let (db, exchange) = open_sled(
                &folder,
                durable::SEGMENT_SIZE,
                options.cache_bytes,
                options.wait,
            )?;
            let meta = db.open_tree("meta")?;
            if meta.get(keys::RETIRED)?.is_none() {
                break (folder, db, meta);
            }
            // files `pactum compact` replaced after this process resolved
            // the path: the path now names the copy
            drop((meta, db, exchange));
            if started.elapsed() >= options.wait.max(LOCK_GRACE) {
                return Err(StoreError::corrupt(
                    "meta",
                    "retired",
                    format!(
                        "{} holds a registry's files as they were before pactum compact replaced them with a copy: use the registry's own path, and remove this folder",
                        path.display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut format_2 = false;
        match meta.get(keys::FORMAT)? {
            Some(v) if v.as_ref() == [codec::REGISTRY_FORMAT] => {}
            Some(v) if v.as_ref() == [codec::REGISTRY_FORMAT_2] => format_2 = true,
            Some(v) if v.as_ref() == [codec::REGISTRY_FORMAT_1] => {
                return Err(StoreError::Upgrade {
                    path: path.to_path_buf(),
                    found: codec::REGISTRY_FORMAT_1,
                });
            }
            Some(v) if v.len() == 1 => {
                return Err(StoreError::Format { found: v[0] });
            }
            Some(_) => {
                return Err(StoreError::corrupt(
                    "meta",
                    "format",
                    "a malformed format version",
                ));
            }
            None => {}
        }
        let segment_size = stored_segment_size(path).unwrap_or(durable::SEGMENT_SIZE);
        if segment_size != durable::SEGMENT_SIZE {
            return Err(StoreError::corrupt(
                "sled",
                "conf",
                format!(
                    "sled's segment_size is {segment_size}, not {}",
                    durable::SEGMENT_SIZE
                ),
            ));
        }
        let store = Self {
            log: log::Log::open(&db)?,
            caches: caches::Caches::open(&db)?,
            durable: durable::Durable::new(&folder)?,
            head_file: head_file::HeadFile::new(),
            merkle: deferred::Deferred::new(db.open_tree(merkle::TREE)?),
            db,
            path: path.to_path_buf(),
            folder,
            write_lock: Mutex::new(()),
            caches_behind: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            format_2: AtomicBool::new(format_2),
            small_tail: Mutex::new(None),
            part_events: options.part_events.max(1),
        };
        if meta.get(keys::FORMAT)?.is_none() {
            if !store.log.is_empty() {
                return Err(StoreError::corrupt(
                    "meta",
                    "format",
                    "missing format version",
                ));
            }
            // the cache format first: sled recovers a prefix of its writes,
            // so a crash that keeps the layout's version keeps it too (else
            // a new registry would read as one whose caches are stale)
            store.caches.init()?;
            meta.insert(keys::FORMAT, &[codec::REGISTRY_FORMAT])?;
            store.sync()?;
            store.folder.sync_file("conf")?;
            store.folder.sync()?;
            store.folder.sync_parent()?;
        } else {
            store.folder.ensure_mark()?;
        }
        store.folder.write_owner();
        Ok(store)
    }

    /// Records format 3 in a registry whose record says 2, durably, before
    /// anything that may write a compressed segment (called under the
    /// writer's lock, before each write to the log). Format 2's bytes are
    /// format 3's: only the record changes.
    pub(crate) fn record_format(&self) -> Result<()> {
        if self.format_2.load(Ordering::Acquire) {
            self.db
                .open_tree("meta")?
                .insert(keys::FORMAT, &[codec::REGISTRY_FORMAT])?;
            self.durable.sync(&self.db)?;
            self.format_2.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// The registry's layout as its record says: [`codec::REGISTRY_FORMAT`],
    /// or [`codec::REGISTRY_FORMAT_2`] until the first write records 3.
    pub fn registry_format(&self) -> u8 {
        if self.format_2.load(Ordering::Acquire) {
            codec::REGISTRY_FORMAT_2
        } else {
            codec::REGISTRY_FORMAT
        }
    }

    /// The last acknowledged head recorded beside sled, if there is one.
    pub fn recorded_head(&self) -> Option<(Seq, Digest)> {
        match self.recorded_head_state() {
            RecordedHead::Head(seq, hash) => Some((seq, hash)),
            _ => None,
        }
    }

    /// What the record of the acknowledged head says, or why it says
    /// nothing (for `verify`'s warning).
    pub fn recorded_head_state(&self) -> RecordedHead {
        head_file::read(&self.folder)
    }

    /// Writes the caches' pending writes out (not synced) and removes the
    /// owner file: the process is about to exit (and may not drop the
    /// store). A failure is logged: the caches are caught up by the next
    /// process.
    pub fn release_owner(&self) {
        if self.caches.is_dirty() || self.merkle.is_dirty() {
            crash_point("before-write-out");
        }
        match self.persist_caches() {
            Ok(true) => {
                if let Err(e) = self.db.flush() {
                    tracing::warn!(error = %e, "the caches could not be written out");
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "the caches could not be written"),
        }
        // once retired, the path names the copy, whose owner file is not ours
        if !self.retired.load(Ordering::SeqCst) {
            self.folder.release_owner();
        }
    }

    /// Gives every cache write held in memory to sled (not synced); true
    /// if there was any.
    pub fn persist_caches(&self) -> Result<bool> {
        let caches = self.caches.persist()?;
        let merkle = self.merkle.persist()?;
        Ok(caches || merkle)
    }

    /// Fails when the log does not reach the acknowledged head recorded
    /// beside sled, or holds another event there.
    pub fn check_recorded_head(&self) -> Result<()> {
        let Some((seq, hash)) = self.recorded_head() else {
            return Ok(());
        };
        let head = self.head()?;
        let lost = || {
            StoreError::corrupt(
                "log",
                format!("seq {seq}"),
                format!(
                    "event #{seq} was acknowledged ({}) but the log {}: the store's files were damaged or replaced",
                    head_file::NAME,
                    if head.seq < seq {
                        format!("ends at #{}", head.seq)
                    } else {
                        "holds another event there".into()
                    }
                ),
            )
        };
        if head.seq < seq {
            return Err(lost());
        }
        match self.event(seq) {
            Ok(Some(r)) if r.hash == hash => Ok(()),
            Ok(_) => Err(lost()),
            Err(e) => Err(e),
        }
    }

    /// Where the registry is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log.
    pub fn log(&self) -> &log::Log {
        &self.log
    }

    /// The caches.
    pub fn caches(&self) -> &caches::Caches {
        &self.caches
    }

    /// Bytes the registry takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// The segments of sled's file, and the free ones among them
    /// ([`durable::count_segments`]).
    pub fn segments(&self) -> Result<durable::Segments> {
        self.durable.segments()
    }

    /// Makes everything written so far durable, caches included.
    pub fn sync(&self) -> Result<()> {
        self.persist_caches()?;
        self.durable.sync(&self.db)
    }

    // ------------------------------------------------------------- reads

    /// The head of the log.
    pub fn head(&self) -> Result<Head> {
        self.log.head()
    }

    /// The event at `seq`.
    pub fn event(&self, seq: Seq) -> Result<Option<EventRecord>> {
        self.log.event(seq)
    }

    /// Events from `from` on, in seq order.
    pub fn events_from(&self, from: Seq) -> impl Iterator<Item = Result<EventRecord>> + '_ {
        self.log.events_from(from)
    }

    /// Every event of the segments from the one holding `from` on, decoded
    /// on `workers` threads, handed to `visit` in seq order.
    pub fn scan_events(
        &self,
        from: Seq,
        workers: usize,
        visit: &mut dyn FnMut(EventRecord) -> Result<()>,
    ) -> Result<()> {
        self.log
            .scan_ordered(from, workers, &log::decode_segment, &mut |records| {
                for r in records? {
                    if r.seq >= from {
                        visit(r)?;
                    }
                }
                Ok(())
            })
    }

    /// [`Store::scan_events`] of the events of the entities `keep` takes:
    /// the others are not decoded past their stream's id.
    pub fn scan_events_where(
        &self,
        from: Seq,
        workers: usize,
        keep: &(dyn Fn(EntityId) -> bool + Sync),
        visit: &mut dyn FnMut(EventRecord) -> Result<()>,
    ) -> Result<()> {
        let map = |key: &[u8], value: &[u8]| log::decode_segment_where(key, value, keep);
        self.log.scan_ordered(from, workers, &map, &mut |records| {
            for r in records? {
                if r.seq >= from {
                    visit(r)?;
                }
            }
            Ok(())
        })
    }

    /// The most events whose timelines a fold of the whole log holds at
    /// once ([`OpenOptions::part_events`]).
    pub fn part_events(&self) -> u64 {
        self.part_events
    }

    /// True when the caches were written by another cache format, or a
    /// rebuild was interrupted.
    pub fn projections_stale(&self) -> Result<bool> {
        self.caches.stale()
    }

    /// The log position the caches are exact at.
    pub fn watermark(&self) -> Result<(Seq, Digest)> {
        Ok(self
            .caches
            .watermark()?
            .unwrap_or((Seq::ZERO, Digest::GENESIS)))
    }

    /// True when a cache write failed in this process since the last
    /// catch-up.
    pub fn caches_behind(&self) -> bool {
        self.caches_behind.load(Ordering::SeqCst) || self.caches.refused()
    }

    /// Counts the segments an append wrote into the small tail.
    pub(crate) fn appended_segments(&self, small_last: bool, segments: usize) {
        let mut tail = self.small_tail.lock().unwrap_or_else(|p| p.into_inner());
        *tail = match (*tail, small_last) {
            (_, false) => Some(0),
            (Some(n), true) if segments == 1 => Some(n + 1),
            _ => None,
        };
    }

    pub(crate) fn mark_caches_behind(&self) {
        self.caches_behind.store(true, Ordering::SeqCst);
    }

    /// Records that the caches were caught up.
    pub fn caches_caught_up(&self) {
        self.caches_behind.store(false, Ordering::SeqCst);
        self.caches.clear_refused();
    }

    /// An entity's cached document.
    pub fn doc(&self, entity: EntityId) -> Result<Option<Doc>> {
        self.caches.doc(entity)
    }

    /// The seqs of an entity's stream, oldest first.
    pub fn stream_seqs(&self, entity: EntityId) -> Result<Vec<Seq>> {
        self.caches.stream_seqs(entity)
    }

    /// An entity's stream, oldest first.
    pub fn stream(&self, entity: EntityId) -> Result<Vec<EventRecord>> {
        self.stream_seqs(entity)?
            .into_iter()
            .map(|seq| {
                let record = self.event(seq)?.ok_or_else(|| {
                    StoreError::corrupt(
                        "docs",
                        format!("{entity}"),
                        format!("names missing seq {seq}"),
                    )
                })?;
                if record.entity != entity {
                    return Err(StoreError::corrupt(
                        "docs",
                        format!("{entity}"),
                        format!("seq {seq} belongs to {}", record.entity),
                    ));
                }
                Ok(record)
            })
            .collect()
    }

    /// The cached timeline of an entity at the head, with its handle.
    pub fn timeline(&self, entity: EntityId) -> Result<Option<(Handle, AnyTimeline)>> {
        self.caches.timeline(entity)
    }

    /// Every cached timeline of one kind with its handle, in UUID order.
    pub fn timelines_all(
        &self,
        kind: EntityKind,
        workers: usize,
    ) -> Result<Vec<(Handle, AnyTimeline)>> {
        self.fold_timelines(kind, workers, &|handle, timeline| Some((handle, timeline)))
    }

    /// Decodes every cached timeline of one kind and keeps what `f` makes
    /// of it, in UUID order (see [`caches::Caches::fold_docs`]).
    pub fn fold_timelines<T: Send>(
        &self,
        kind: EntityKind,
        workers: usize,
        f: &(dyn Fn(Handle, AnyTimeline) -> Option<T> + Sync),
    ) -> Result<Vec<T>> {
        self.caches.fold_docs(kind, workers, f)
    }

    /// The kind and handle of an entity, by UUID.
    pub fn entity(&self, uuid: Uuid) -> Result<Option<(EntityId, Handle)>> {
        self.caches.entity(uuid)
    }

    /// An entity's handle.
    pub fn handle(&self, entity: EntityId) -> Result<Option<Handle>> {
        self.caches.handle(entity)
    }

    /// The entity a handle names.
    pub fn by_handle(&self, handle: Handle) -> Result<Option<EntityId>> {
        self.caches.by_handle(handle)
    }

    /// Entities whose UUID starts with `hex_prefix` (at most `limit`).
    pub fn entities_with_prefix(&self, hex_prefix: &str, limit: usize) -> Result<Vec<Uuid>> {
        self.caches.entities_with_prefix(hex_prefix, limit)
    }

    /// Every name entry, or those whose folded name is exactly `key`.
    pub fn names(&self, key: Option<&str>) -> Result<Vec<NameEntry>> {
        self.caches.names(key)
    }

    /// Conventions that name `partner` in a surviving fact.
    pub fn conventions_naming(&self, partner: PartnerId) -> Result<Vec<ConventionId>> {
        self.caches.conventions_naming(partner)
    }

    /// True when `partner`'s stream holds a succession (from the caches).
    pub fn names_successors(&self, partner: PartnerId) -> Result<bool> {
        self.caches.names_successors(partner)
    }

    /// Every partner whose stream holds a succession (from the caches), in
    /// UUID order.
    pub fn partners_naming_successors(&self) -> Result<Vec<PartnerId>> {
        self.caches.partners_naming_successors()
    }

    /// How many entities of a kind have a handle.
    pub fn count(&self, kind: EntityKind) -> Result<u64> {
        self.caches.count(kind)
    }

    /// The handle counters: the highest handle number of each kind.
    pub fn handle_counters(&self) -> Result<HandleCounters> {
        Ok(HandleCounters::new(
            self.count(EntityKind::Partner)?,
            self.count(EntityKind::Convention)?,
        ))
    }

    /// The event with this id. Event ids are UUID v7, made from the clock
    /// just before the event was recorded, and the log is in record-time
    /// order: the event is looked for among those recorded around the time
    /// its id carries, then, if that fails (an id from another clock), in
    /// the whole log.
    pub fn find_event(&self, id: EventId) -> Result<Option<EventRecord>> {
        let hex = id.0.simple().to_string();
        Ok(self.find_events_by_prefix(&hex, 1)?.into_iter().next())
    }

    /// Events whose id, in lower-case hex without hyphens, starts with
    /// `hex_prefix` (at least 8 digits), at most `limit`, oldest first.
    pub fn find_events_by_prefix(
        &self,
        hex_prefix: &str,
        limit: usize,
    ) -> Result<Vec<EventRecord>> {
        let matches = |r: &EventRecord| r.id.0.simple().to_string().starts_with(hex_prefix);
        // The first 12 hex digits of a UUID v7 are its time in milliseconds.
        let known = hex_prefix.len().min(12);
        let window = hex_prefix
            .get(..known)
            .and_then(|h| u64::from_str_radix(h, 16).ok())
            .map(|high| {
                let shift = 4 * u32::try_from(12 - known).unwrap_or(0);
                (high << shift, (high + 1) << shift)
            });
        let mut out = Vec::new();
        if let Some((from_ms, to_ms)) = window {
            let slack = 5 * 60 * 1000;
            let start = i64::try_from(from_ms.saturating_sub(slack)).ok();
            let end = i64::try_from(to_ms.saturating_add(slack)).ok();
            if let (Some(start), Some(end)) = (
                start.and_then(DateTime::<Utc>::from_timestamp_millis),
                end.and_then(DateTime::<Utc>::from_timestamp_millis),
            ) {
                let first = self.seq_at(start)?;
                for record in self.events_from(Seq(first.0 + 1)) {
                    let record = record?;
                    if record.recorded_at > end {
                        break;
                    }
                    if matches(&record) {
                        out.push(record);
                        if out.len() >= limit {
                            return Ok(out);
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            for record in self.events_from(Seq(1)) {
                let record = record?;
                if matches(&record) {
                    out.push(record);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The last seq recorded at or before `when` (0 if none).
    pub fn seq_at(&self, when: DateTime<Utc>) -> Result<Seq> {
        let head = self.head()?;
        let (mut lo, mut hi) = (0u64, head.seq.0);
        // Invariant kept: events 1..=lo are at or before `when`, events after hi are not.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let record = self.event(Seq(mid))?.ok_or_else(|| {
                StoreError::corrupt("log", format!("seq {mid}"), "missing below the head")
            })?;
            if record.recorded_at <= when {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(Seq(lo))
    }

    // ------------------------------------------------------------ writes

    /// The lock that serialises writers in this process, alone: for work
    /// that writes a cache of its own (the Merkle tree) and must not run
    /// beside an append, but appends nothing (so it merges no tail).
    pub fn write_lock(&self) -> std::sync::MutexGuard<'_, ()> {
        self.write_lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a write: serialises writers in this process, merges the tail
    /// of the log if enough small segments have gathered there, and reads
    /// the head and the handle counters (the caches must be caught up).
    pub fn writer(&self) -> Result<Writer<'_>> {
        let guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        {
            // the count is read from the log once per process, then kept
            // as appends and merges change it (it only decides when to
            // merge: the merge reads the tail itself)
            let mut tail = self.small_tail.lock().unwrap_or_else(|p| p.into_inner());
            let mut n = match *tail {
                Some(n) => n,
                None => self.log.small_tail(log::MERGE_AFTER)?,
            };
            if n >= log::MERGE_AFTER {
                self.record_format()?;
                self.log.merge_tail(4 * log::SEGMENT_EVENTS)?;
                n = self.log.small_tail(log::MERGE_AFTER)?;
            }
            *tail = Some(n);
        }
        let head = self.head()?;
        let counters = self.handle_counters()?;
        Ok(Writer {
            store: self,
            _guard: guard,
            head,
            tip: head,
            counters,
            sealed: Sealed::default(),
            caches_left: false,
        })
    }

    /// Writes cache entries and the watermark (catch-up and rebuild); not
    /// synced.
    pub fn write_caches(
        &self,
        writes: &[CacheWrite],
        through: Option<(Seq, Digest)>,
    ) -> Result<()> {
        self.caches.write(writes, through)
    }

    /// Writes sled's buffers out without waiting for the disk, so that the
    /// pages they hold can leave memory (sled keeps every page changed
    /// since the last flush; pactum turns its periodic flush off).
    pub fn write_out(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// Marks the start of a rebuild of the caches, durably.
    pub fn begin_rebuild(&self) -> Result<()> {
        self.caches.begin_rebuild()?;
        self.sync()
    }

    /// Ends a rebuild: records the cache format, clears the mark, and syncs.
    pub fn finish_rebuild(&self) -> Result<()> {
        self.caches.finish_rebuild()?;
        self.sync()
    }
}

/// Fault injection for the crash tests: with `PACTUM_CRASH_AT=NAME` in its
/// environment, the process ends at once (as `kill -9` would: no
/// destructor, no flush) when it reaches the point of the write path so
/// named: `after-log` (the log append is durable, the caches are not
/// written), `after-merge` (a tail merge is applied, not flushed),
/// `before-write-out` (the process ends with cache writes still held in
/// memory).
pub(crate) fn crash_point(name: &str) {
    static AT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    if AT
        .get_or_init(|| std::env::var("PACTUM_CRASH_AT").ok())
        .as_deref()
        == Some(name)
    {
        std::process::abort();
    }
}
