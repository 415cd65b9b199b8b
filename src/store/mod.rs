//! The event store on sled (design §5).
//!
//! Trees and their keys (all integers big-endian, so keys sort numerically):
//!
//! | tree | key | value |
//! | --- | --- | --- |
//! | `events` | seq | the stored event (`codec`) |
//! | `streams` | entity uuid ‖ version | seq |
//! | `entities` | entity uuid | kind letter ‖ handle number |
//! | `handles` | kind letter ‖ handle number | entity uuid |
//! | `names` | folded name ‖ 0 ‖ partner uuid | 1 current name, 0 former |
//! | `parties` | partner uuid ‖ convention uuid | (empty) |
//! | `proj_partners`, `proj_conventions` | entity uuid | timeline (`codec`) |
//! | `meta` | text | head, counters, format versions |
//! | `merkle` | see `merkle.rs` | the log's Merkle tree (a cache) |
//!
//! Only `events` is the truth; every other tree but `meta` is derived and
//! rebuilt by `projection::rebuild`.
//!
//! **Invariant:** one append is one sled transaction over every tree it
//! touches, followed by `flush()` and an `fsync` of the data file before
//! [`Writer::commit`] returns. sled 0.34's `flush` only calls
//! `sync_file_range` on Linux (sled issue #1452), which does not survive a
//! power loss by itself.
//!
//! **Invariant:** writes in one process are serialised by [`Store::writer`];
//! sled's exclusive file lock keeps every other process out.

pub mod codec;
pub mod folder;
pub mod merkle;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{IVec, Transactional, Tree};
use uuid::Uuid;

use crate::domain::{
    AnyTimeline, ConventionId, Digest, EntityId, EntityKind, EventId, EventRecord, Handle,
    PartnerId, PendingEvent, Seq,
};
use codec::Unsealed;

/// The sled cache a command-line process uses by default (sled's own
/// default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// How many threads the scans use: the cores, up to four.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// The file, beside sled's, that records the last acknowledged head. sled
/// reads a damaged stretch of its log as the torn end of a crash and drops
/// everything after it; comparing its head with this record turns such a
/// silent loss into an integrity failure.
const HEAD_FILE: &str = folder::HEAD_FILE;

/// True for the errors of a full disk (or a full quota).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || e.kind() == std::io::ErrorKind::StorageFull
}

/// Errors of the store. Each maps to one exit code in the binary.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the registry.
    #[error("registry in use: {path}")]
    InUse {
        /// the registry
        path: PathBuf,
        /// who holds it, when known
        holder: Option<String>,
    },
    /// No registry at the path (read commands do not create one).
    #[error("no registry at {0}")]
    Missing(PathBuf),
    /// A stream moved since the command read it.
    #[error("{entity} is at version {actual}, not {expected}")]
    Conflict {
        /// the stream
        entity: EntityId,
        /// the version the command was decided on
        expected: u64,
        /// the stream's version now
        actual: u64,
    },
    /// Stored bytes that cannot be what pactum wrote.
    #[error("integrity failure in {tree} at {at}: {detail}")]
    Corrupt {
        /// the tree
        tree: &'static str,
        /// the key (a seq, an id)
        at: String,
        /// what is wrong
        detail: String,
    },
    /// A registry written by a newer or unknown format.
    #[error(
        "unsupported registry format {found} (this pactum reads format {})",
        codec::FORMAT_VERSION
    )]
    Format {
        /// the format byte found
        found: u8,
    },
    /// A value pactum refuses to store (too large).
    #[error("cannot encode event: {0}")]
    Encode(String),
    /// sled failed.
    #[error("storage error: {0}")]
    Sled(sled::Error),
    /// The disk (or the quota) holding the registry is full. Nothing was
    /// recorded by the write that met it.
    #[error(
        "no space left on the disk holding the registry{}: {source}",
        if path.as_os_str().is_empty() { String::new() } else { format!(" {}", path.display()) }
    )]
    DiskFull {
        /// the registry, or the file that met it (empty when not known)
        path: PathBuf,
        /// the failure
        source: std::io::Error,
    },
    /// The registry folder or one of its files may not be read or written
    /// by this user.
    #[error("permission denied on {}: {detail}", path.display())]
    Permission {
        /// the folder or file
        path: PathBuf,
        /// what was done, and who owns it
        detail: String,
    },
    /// The folder is not one pactum may use as a registry (a link inside,
    /// files pactum did not make); nothing in it was touched.
    #[error("refusing the registry folder {}: {problem}", path.display())]
    Folder {
        /// the folder, or the entry in it that is wrong
        path: PathBuf,
        /// what is wrong
        problem: String,
        /// what to do
        hint: String,
    },
    /// The file system failed.
    #[error("{context}: {source}")]
    Io {
        /// what was being done
        context: String,
        /// the failure
        source: std::io::Error,
    },
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                tree: "sled",
                at: at.map_or_else(|| "its files".to_owned(), |p| format!("{p:?}")),
                detail: "sled found damaged data in the registry's files".into(),
            },
            sled::Error::Io(io) if is_disk_full(&io) => StoreError::DiskFull {
                path: PathBuf::new(),
                source: io,
            },
            other => StoreError::Sled(other),
        }
    }
}

impl StoreError {
    fn corrupt(tree: &'static str, at: impl ToString, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            tree,
            at: at.to_string(),
            detail: detail.to_string(),
        }
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open a registry.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// create the registry if it does not exist
    pub create: bool,
    /// how long to wait for another process to release it
    pub wait: Duration,
    /// sled's cache size in bytes
    pub cache_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            create: true,
            wait: Duration::ZERO,
            cache_bytes: DEFAULT_CACHE_BYTES,
        }
    }
}

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
    const EMPTY: Head = Head {
        seq: Seq::ZERO,
        hash: Digest::GENESIS,
        recorded_at: None,
    };
}

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

/// A change to a derived tree, computed outside the transaction by the
/// projection layer.
#[derive(Clone, Debug)]
pub enum DerivedWrite {
    /// store an entity's timeline
    Timeline(EntityId, Vec<u8>),
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
}

/// The sled trees (see the module table).
#[derive(Clone)]
pub struct Trees {
    /// seq → event
    pub events: Tree,
    /// entity ‖ version → seq
    pub streams: Tree,
    /// entity → kind ‖ handle
    pub entities: Tree,
    /// kind ‖ handle → entity
    pub handles: Tree,
    /// folded name ‖ 0 ‖ partner → current flag
    pub names: Tree,
    /// partner ‖ convention → ()
    pub parties: Tree,
    /// partner → timeline
    pub proj_partners: Tree,
    /// convention → timeline
    pub proj_conventions: Tree,
    /// metadata
    pub meta: Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            events: db.open_tree("events")?,
            streams: db.open_tree("streams")?,
            entities: db.open_tree("entities")?,
            handles: db.open_tree("handles")?,
            names: db.open_tree("names")?,
            parties: db.open_tree("parties")?,
            proj_partners: db.open_tree("proj_partners")?,
            proj_conventions: db.open_tree("proj_conventions")?,
            meta: db.open_tree("meta")?,
        })
    }

    /// The derived trees, which a rebuild empties and refills.
    pub fn derived(&self) -> [(&'static str, &Tree); 7] {
        [
            ("streams", &self.streams),
            ("entities", &self.entities),
            ("handles", &self.handles),
            ("names", &self.names),
            ("parties", &self.parties),
            ("proj_partners", &self.proj_partners),
            ("proj_conventions", &self.proj_conventions),
        ]
    }
}

// ---------------------------------------------------------------- key forms

/// Key forms of every tree. Public so that `verify` and tests can address
/// entries directly.
pub mod keys {
    use super::*;

    /// `events` key.
    pub fn seq(seq: Seq) -> [u8; 8] {
        seq.0.to_be_bytes()
    }

    /// `streams` key.
    pub fn stream(entity: EntityId, version: u64) -> [u8; 24] {
        let mut k = [0u8; 24];
        k[..16].copy_from_slice(entity.uuid().as_bytes());
        k[16..].copy_from_slice(&version.to_be_bytes());
        k
    }

    /// `handles` key.
    pub fn handle(h: Handle) -> [u8; 9] {
        let mut k = [0u8; 9];
        k[0] = kind_byte(h.kind);
        k[1..].copy_from_slice(&h.number.to_be_bytes());
        k
    }

    /// `entities` value.
    pub fn entity_value(h: Handle) -> [u8; 9] {
        handle(h)
    }

    /// `names` key.
    pub fn name(key: &str, partner: PartnerId) -> Vec<u8> {
        let mut k = Vec::with_capacity(key.len() + 17);
        k.extend_from_slice(key.as_bytes());
        k.push(0);
        k.extend_from_slice(partner.as_bytes());
        k
    }

    /// `parties` key.
    pub fn party(partner: PartnerId, convention: ConventionId) -> [u8; 32] {
        let mut k = [0u8; 32];
        k[..16].copy_from_slice(partner.as_bytes());
        k[16..].copy_from_slice(convention.as_bytes());
        k
    }

    /// The byte for an entity kind.
    pub fn kind_byte(kind: EntityKind) -> u8 {
        match kind {
            EntityKind::Partner => b'P',
            EntityKind::Convention => b'C',
        }
    }

    /// The entity kind of a byte.
    pub fn byte_kind(b: u8) -> Option<EntityKind> {
        match b {
            b'P' => Some(EntityKind::Partner),
            b'C' => Some(EntityKind::Convention),
            _ => None,
        }
    }

    /// Reads a big-endian u64 value.
    pub fn u64_of(bytes: &[u8]) -> Option<u64> {
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }

    /// Reads a 16-byte UUID.
    pub fn uuid_of(bytes: &[u8]) -> Option<Uuid> {
        Some(Uuid::from_bytes(bytes.try_into().ok()?))
    }

    /// Reads a handle key or `entities` value.
    pub fn handle_of(bytes: &[u8]) -> Option<Handle> {
        let (kind, number) = bytes.split_first()?;
        Some(Handle {
            kind: byte_kind(*kind)?,
            number: u64_of(number)?,
        })
    }

    /// `meta` key of the head.
    pub const HEAD: &[u8] = b"head";
    /// `meta` key of the event format.
    pub const FORMAT: &[u8] = b"format";
    /// `meta` key of the projection format.
    pub const PROJECTION: &[u8] = b"projection";
    /// `meta` key set while a rebuild runs.
    pub const REBUILDING: &[u8] = b"rebuilding";

    /// `meta` key of a handle counter.
    pub fn counter(kind: EntityKind) -> [u8; 9] {
        let mut k = *b"counter:_";
        k[8] = kind_byte(kind);
        k
    }

    /// Encodes the head.
    pub fn head_value(head: &Head) -> Vec<u8> {
        let mut v = Vec::with_capacity(48);
        v.extend_from_slice(&head.seq.0.to_be_bytes());
        v.extend_from_slice(&head.hash.0);
        v.extend_from_slice(
            &head
                .recorded_at
                .map_or(i64::MIN, |t| t.timestamp_micros())
                .to_be_bytes(),
        );
        v
    }

    /// Decodes the head.
    pub fn head_of(bytes: &[u8]) -> Option<Head> {
        if bytes.len() != 48 {
            return None;
        }
        let seq = u64_of(&bytes[..8])?;
        let hash = Digest(bytes[8..40].try_into().ok()?);
        let micros = i64::from_be_bytes(bytes[40..48].try_into().ok()?);
        let recorded_at = if micros == i64::MIN {
            None
        } else {
            Some(DateTime::<Utc>::from_timestamp_micros(micros)?)
        };
        Some(Head {
            seq: Seq(seq),
            hash,
            recorded_at,
        })
    }
}

// ------------------------------------------------------------------- store

/// An open registry.
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    folder: folder::Folder,
    data_file: File,
    head_file: Mutex<Option<File>>,
    trees: Trees,
    write_lock: Mutex<()>,
}

/// True when `path` holds a registry.
pub fn exists(path: &Path) -> bool {
    path.join("conf").is_file() && path.join("db").is_file()
}

impl Drop for Store {
    fn drop(&mut self) {
        self.folder.release_owner();
    }
}

/// What the record of the acknowledged head beside sled says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordedHead {
    /// a whole record
    Head(Seq, Digest),
    /// no record: the registry never acknowledged a write since the record
    /// was introduced, or the file was removed
    Missing,
    /// a file that is not a whole record (torn, replaced, unreadable)
    Unreadable(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
    let context = context.into();
    move |source| {
        if is_disk_full(&source) {
            StoreError::DiskFull {
                path: PathBuf::new(),
                source,
            }
        } else {
            StoreError::Io { context, source }
        }
    }
}

fn is_lock_error(e: &sled::Error) -> bool {
    matches!(e, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

impl Store {
    /// Opens (and, with `options.create`, creates) the registry at `path`.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<Self> {
        let (folder, found) = folder::Folder::prepare(path, options.create)?;
        let fresh = found == folder::Found::Fresh;
        let config = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_bytes)
            .flush_every_ms(None);
        let deadline = Instant::now() + options.wait;
        let db = loop {
            match config.open() {
                Ok(db) => break db,
                Err(e) if is_lock_error(&e) => {
                    if Instant::now() >= deadline {
                        let holder = folder.read_owner();
                        return Err(StoreError::InUse {
                            path: path.to_path_buf(),
                            holder,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(sled::Error::Io(e)) => return Err(folder::io_error(path, "opening", e)),
                Err(e) => return Err(e.into()),
            }
        };
        folder.secure()?;
        let data_file = folder.open_data_file()?;
        let trees = Trees::open(&db)?;
        let store = Self {
            db,
            path: path.to_path_buf(),
            folder,
            data_file,
            head_file: Mutex::new(None),
            trees,
            write_lock: Mutex::new(()),
        };
        store.check_format(fresh)?;
        if fresh {
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

    fn check_format(&self, fresh: bool) -> Result<()> {
        match self.trees.meta.get(keys::FORMAT)? {
            Some(v) if v.as_ref() == [codec::FORMAT_VERSION] => Ok(()),
            Some(v) => Err(StoreError::Format {
                found: v.first().copied().unwrap_or(0),
            }),
            None if fresh || self.trees.events.is_empty() => {
                self.trees
                    .meta
                    .insert(keys::FORMAT, &[codec::FORMAT_VERSION])?;
                self.trees
                    .meta
                    .insert(keys::PROJECTION, &[codec::PROJECTION_VERSION])?;
                Ok(())
            }
            None => Err(StoreError::corrupt(
                "meta",
                "format",
                "missing format version",
            )),
        }
    }

    /// The record of a head: fixed width, so that it is overwritten in place
    /// (one write, no rename), with a checksum, so that a torn write reads
    /// as no record rather than as another head.
    fn head_record(seq: Seq, hash: Digest) -> String {
        let body = format!("{:020} {}", seq.0, hash);
        let check = blake3::hash(body.as_bytes()).to_hex();
        format!("{body} {}\n", &check[..16])
    }

    /// Records an acknowledged head beside sled, after the event is durable
    /// (best effort, not synced: a record left behind only weakens the
    /// check, and it is never ahead of the log).
    fn record_head(&self, seq: Seq, hash: Digest) {
        use std::os::unix::fs::FileExt;
        let record = Self::head_record(seq, hash);
        let mut file = self.head_file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = self.folder.open_head_for_write().ok();
        }
        if let Some(f) = file.as_ref() {
            let _ = f.write_at(record.as_bytes(), 0);
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
        let text = match self.folder.read_head() {
            Ok(Some(text)) => text,
            Ok(None) => return RecordedHead::Missing,
            Err(e) => return RecordedHead::Unreadable(e.to_string()),
        };
        let parsed = (|| {
            let mut parts = text.split(' ');
            let (seq, hash) = (parts.next()?, parts.next()?);
            let (seq, hash) = (Seq(seq.parse().ok()?), Digest::from_hex(hash)?);
            // the record is canonical: anything else is a torn or foreign file
            (Self::head_record(seq, hash) == text).then_some((seq, hash))
        })();
        match parsed {
            Some((seq, hash)) => RecordedHead::Head(seq, hash),
            None => RecordedHead::Unreadable("not a whole head record".into()),
        }
    }

    /// Removes the owner file now (the process is about to exit without
    /// dropping the store).
    pub fn release_owner(&self) {
        self.folder.release_owner();
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
                "events",
                format!("seq {seq}"),
                format!(
                    "event #{seq} was acknowledged ({HEAD_FILE}) but the log {}: the store's files were damaged or replaced",
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

    /// The trees, for the projection layer and for tests.
    pub fn trees(&self) -> &Trees {
        &self.trees
    }

    /// Bytes the registry takes on disk.
    pub fn size_on_disk(&self) -> Result<u64> {
        Ok(self.db.size_on_disk()?)
    }

    /// Makes everything written so far durable: sled's flush, then a real
    /// fsync of its data file.
    pub fn sync(&self) -> Result<()> {
        self.db.flush()?;
        self.data_file
            .sync_all()
            .map_err(io("syncing the data file"))?;
        Ok(())
    }

    // ------------------------------------------------------------- reads

    /// The head of the log.
    pub fn head(&self) -> Result<Head> {
        match self.trees.meta.get(keys::HEAD)? {
            None => Ok(Head::EMPTY),
            Some(v) => keys::head_of(&v)
                .ok_or_else(|| StoreError::corrupt("meta", "head", "malformed head")),
        }
    }

    /// True when the stored projections were written by another projection
    /// format, or a rebuild was interrupted.
    pub fn projections_stale(&self) -> Result<bool> {
        let version = self.trees.meta.get(keys::PROJECTION)?;
        let rebuilding = self.trees.meta.get(keys::REBUILDING)?.is_some();
        Ok(rebuilding || version.as_deref() != Some(&[codec::PROJECTION_VERSION][..]))
    }

    /// Decodes the event stored under `key`.
    pub fn decode_event(key: &[u8], value: &[u8]) -> Result<EventRecord> {
        let seq = keys::u64_of(key).ok_or_else(|| {
            StoreError::corrupt("events", format!("key {key:02x?}"), "malformed key")
        })?;
        let record = codec::decode_record(value)
            .map_err(|e| StoreError::corrupt("events", format!("seq {seq}"), e))?;
        if record.seq.0 != seq {
            return Err(StoreError::corrupt(
                "events",
                format!("seq {seq}"),
                format!("the event says it is seq {}", record.seq),
            ));
        }
        Ok(record)
    }

    /// The event at `seq`.
    pub fn event(&self, seq: Seq) -> Result<Option<EventRecord>> {
        let key = keys::seq(seq);
        match self.trees.events.get(key)? {
            None => Ok(None),
            Some(v) => Self::decode_event(&key, &v).map(Some),
        }
    }

    /// Events from `from` on, in seq order.
    pub fn events_from(&self, from: Seq) -> impl Iterator<Item = Result<EventRecord>> + '_ {
        self.trees.events.range(keys::seq(from)..).map(|kv| {
            let (k, v) = kv?;
            Self::decode_event(&k, &v)
        })
    }

    /// Reads the log from `from` on, turns stored entries into values with
    /// `map` on `workers` threads (decoding is most of the cost; sled's
    /// iterator runs on one reader thread), and hands the values to `visit`
    /// on this thread, in seq order. Stops at the first error.
    pub fn scan_events_ordered<T: Send>(
        &self,
        from: Seq,
        workers: usize,
        map: &(dyn Fn(&[u8], &[u8]) -> T + Sync),
        visit: &mut dyn FnMut(T) -> Result<()>,
    ) -> Result<()> {
        Self::scan_ordered(&self.trees.events, &keys::seq(from), workers, map, visit)
    }

    /// [`Store::scan_events_ordered`] over any tree, from key `from` on.
    fn scan_ordered<T: Send>(
        tree: &Tree,
        from: &[u8],
        workers: usize,
        map: &(dyn Fn(&[u8], &[u8]) -> T + Sync),
        visit: &mut dyn FnMut(T) -> Result<()>,
    ) -> Result<()> {
        use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
        const BLOCK: usize = 1024;
        type Numbered = (u64, Vec<(IVec, IVec)>);
        let workers = workers.max(1);
        let (raw_tx, raw_rx): (SyncSender<Numbered>, Receiver<Numbered>) =
            sync_channel(2 * workers);
        let raw_rx = Mutex::new(raw_rx);
        let (done_tx, done_rx) = sync_channel::<(u64, Result<Vec<T>>)>(2 * workers);
        // Set when this thread stops early: the reader stops sending, and the
        // workers drain (and drop) what is left until the reader hangs up.
        let stop = std::sync::atomic::AtomicBool::new(false);
        let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
        std::thread::scope(|scope| {
            let stopped = &stopped;
            let reader = scope.spawn(move || -> Result<()> {
                let mut block = Vec::with_capacity(BLOCK);
                let mut number = 0u64;
                for kv in tree.range(from..) {
                    block.push(kv?);
                    if block.len() == BLOCK {
                        if stopped() || raw_tx.send((number, std::mem::take(&mut block))).is_err() {
                            return Ok(());
                        }
                        number += 1;
                    }
                }
                if !block.is_empty() && !stopped() {
                    let _ = raw_tx.send((number, block));
                }
                Ok(())
            });
            for _ in 0..workers {
                let done_tx = done_tx.clone();
                let raw_rx = &raw_rx;
                let stop = &stop;
                scope.spawn(move || {
                    loop {
                        let next = raw_rx.lock().map(|rx| rx.recv());
                        let Ok(Ok((number, raw))) = next else {
                            break;
                        };
                        if stopped() {
                            continue;
                        }
                        let values = raw.iter().map(|(k, v)| map(k, v)).collect();
                        if done_tx.send((number, Ok(values))).is_err() {
                            stop.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
            drop(done_tx);
            let mut waiting = std::collections::BTreeMap::new();
            let mut wanted = 0u64;
            let mut outcome = Ok(());
            for (number, values) in done_rx.iter() {
                waiting.insert(number, values);
                while let Some(values) = waiting.remove(&wanted) {
                    wanted += 1;
                    let delivered =
                        values.and_then(|values| values.into_iter().try_for_each(&mut *visit));
                    if let Err(e) = delivered {
                        outcome = Err(e);
                        break;
                    }
                }
                if outcome.is_err() {
                    break;
                }
            }
            if outcome.is_err() {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            drop(done_rx);
            let read = reader.join().unwrap_or_else(|_| {
                Err(StoreError::corrupt(
                    "events",
                    "*",
                    "the reader thread failed",
                ))
            });
            outcome.and(read)
        })
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
    /// of it, in UUID order. The tree is read on one thread (sled's iterator
    /// does not gain from more); decoding and `f` run on `workers` threads,
    /// and each timeline is dropped as soon as `f` has seen it.
    pub fn fold_timelines<T: Send>(
        &self,
        kind: EntityKind,
        workers: usize,
        f: &(dyn Fn(Handle, AnyTimeline) -> Option<T> + Sync),
    ) -> Result<Vec<T>> {
        let (tree_name, tree) = self.projection_tree(kind);
        let map = |k: &[u8], v: &[u8]| -> Result<Option<T>> {
            let uuid = keys::uuid_of(k).ok_or_else(|| {
                StoreError::corrupt(tree_name, format!("{k:02x?}"), "malformed key")
            })?;
            let (handle, timeline) = Self::decode_timeline(EntityId::new(kind, uuid), v)?;
            Ok(f(handle, timeline))
        };
        let mut out = Vec::new();
        Self::scan_ordered(tree, &[], workers, &map, &mut |value| {
            out.extend(value?);
            Ok(())
        })?;
        Ok(out)
    }

    /// The seqs of an entity's stream, oldest first.
    pub fn stream_seqs(&self, entity: EntityId) -> Result<Vec<Seq>> {
        self.trees
            .streams
            .scan_prefix(entity.uuid().as_bytes())
            .map(|kv| {
                let (k, v) = kv?;
                keys::u64_of(&v).map(Seq).ok_or_else(|| {
                    StoreError::corrupt("streams", format!("{k:02x?}"), "malformed seq")
                })
            })
            .collect()
    }

    /// An entity's stream, oldest first.
    pub fn stream(&self, entity: EntityId) -> Result<Vec<EventRecord>> {
        self.stream_seqs(entity)?
            .into_iter()
            .map(|seq| {
                let record = self.event(seq)?.ok_or_else(|| {
                    StoreError::corrupt(
                        "streams",
                        format!("{entity}"),
                        format!("names missing seq {seq}"),
                    )
                })?;
                if record.entity != entity {
                    return Err(StoreError::corrupt(
                        "streams",
                        format!("{entity}"),
                        format!("seq {seq} belongs to {}", record.entity),
                    ));
                }
                Ok(record)
            })
            .collect()
    }

    /// The kind and handle of an entity, by UUID.
    pub fn entity(&self, uuid: Uuid) -> Result<Option<(EntityId, Handle)>> {
        match self.trees.entities.get(uuid.as_bytes())? {
            None => Ok(None),
            Some(v) => {
                let handle = keys::handle_of(&v)
                    .ok_or_else(|| StoreError::corrupt("entities", uuid, "malformed handle"))?;
                Ok(Some((EntityId::new(handle.kind, uuid), handle)))
            }
        }
    }

    /// The entity a handle names.
    pub fn by_handle(&self, handle: Handle) -> Result<Option<EntityId>> {
        match self.trees.handles.get(keys::handle(handle))? {
            None => Ok(None),
            Some(v) => keys::uuid_of(&v)
                .map(|u| Some(EntityId::new(handle.kind, u)))
                .ok_or_else(|| StoreError::corrupt("handles", handle, "malformed uuid")),
        }
    }

    /// UUIDs in `tree` whose hexadecimal form starts with `hex_prefix`
    /// (lower case, no hyphens); at most `limit`.
    fn uuids_with_prefix(tree: &Tree, hex_prefix: &str, limit: usize) -> Result<Vec<Uuid>> {
        let whole_bytes: Vec<u8> = (0..hex_prefix.len() / 2)
            .filter_map(|i| u8::from_str_radix(hex_prefix.get(2 * i..2 * i + 2)?, 16).ok())
            .collect();
        let mut out = Vec::new();
        for kv in tree.scan_prefix(&whole_bytes) {
            let (k, _) = kv?;
            if let Some(u) = keys::uuid_of(&k)
                && u.simple().to_string().starts_with(hex_prefix)
            {
                out.push(u);
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// Entities whose UUID starts with `hex_prefix` (at most `limit`).
    pub fn entities_with_prefix(&self, hex_prefix: &str, limit: usize) -> Result<Vec<Uuid>> {
        Self::uuids_with_prefix(&self.trees.entities, hex_prefix, limit)
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
        let window = u64::from_str_radix(&hex_prefix[..known], 16)
            .ok()
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

    /// Every name entry, or those whose folded name is exactly `key`.
    pub fn names(&self, key: Option<&str>) -> Result<Vec<NameEntry>> {
        let prefix = key.map(|k| {
            let mut p = k.as_bytes().to_vec();
            p.push(0);
            p
        });
        self.trees
            .names
            .scan_prefix(prefix.unwrap_or_default())
            .map(|kv| {
                let (k, v) = kv?;
                let bad =
                    || StoreError::corrupt("names", String::from_utf8_lossy(&k), "malformed entry");
                let split = k.len().checked_sub(17).ok_or_else(bad)?;
                let (name, rest) = k.split_at(split);
                let partner = rest
                    .split_first()
                    .filter(|(zero, _)| **zero == 0)
                    .and_then(|(_, id)| keys::uuid_of(id))
                    .ok_or_else(bad)?;
                let key = std::str::from_utf8(name).map_err(|_| bad())?.to_owned();
                let current = match v.as_ref() {
                    [1] => true,
                    [0] => false,
                    _ => return Err(bad()),
                };
                Ok(NameEntry {
                    key,
                    partner: PartnerId(partner),
                    current,
                })
            })
            .collect()
    }

    /// Conventions that name `partner` in a surviving fact.
    pub fn conventions_naming(&self, partner: PartnerId) -> Result<Vec<ConventionId>> {
        self.trees
            .parties
            .scan_prefix(partner.as_bytes())
            .map(|kv| {
                let (k, _) = kv?;
                k.get(16..)
                    .and_then(keys::uuid_of)
                    .map(ConventionId)
                    .ok_or_else(|| {
                        StoreError::corrupt("parties", format!("{k:02x?}"), "malformed key")
                    })
            })
            .collect()
    }

    fn projection_tree(&self, kind: EntityKind) -> (&'static str, &Tree) {
        match kind {
            EntityKind::Partner => ("proj_partners", &self.trees.proj_partners),
            EntityKind::Convention => ("proj_conventions", &self.trees.proj_conventions),
        }
    }

    /// Decodes a stored timeline and checks it belongs to `entity`.
    pub fn decode_timeline(entity: EntityId, bytes: &[u8]) -> Result<(Handle, AnyTimeline)> {
        let tree = match entity.kind() {
            EntityKind::Partner => "proj_partners",
            EntityKind::Convention => "proj_conventions",
        };
        let (number, timeline) =
            codec::decode_timeline(bytes).map_err(|e| StoreError::corrupt(tree, entity, e))?;
        if !codec::timeline_kind_matches(&timeline, entity) {
            return Err(StoreError::corrupt(
                tree,
                entity,
                "timeline of another entity",
            ));
        }
        let handle = Handle {
            kind: entity.kind(),
            number,
        };
        Ok((handle, timeline))
    }

    /// The cached timeline of an entity at the head, with its handle.
    pub fn timeline(&self, entity: EntityId) -> Result<Option<(Handle, AnyTimeline)>> {
        let (_, tree) = self.projection_tree(entity.kind());
        match tree.get(entity.uuid().as_bytes())? {
            None => Ok(None),
            Some(v) => Self::decode_timeline(entity, &v).map(Some),
        }
    }

    /// Every cached timeline of one kind with its handle, in UUID order.
    pub fn timelines(
        &self,
        kind: EntityKind,
    ) -> impl Iterator<Item = Result<(Handle, AnyTimeline)>> + '_ {
        let (tree_name, tree) = self.projection_tree(kind);
        tree.iter().map(move |kv| {
            let (k, v) = kv?;
            let uuid = keys::uuid_of(&k).ok_or_else(|| {
                StoreError::corrupt(tree_name, format!("{k:02x?}"), "malformed key")
            })?;
            Self::decode_timeline(EntityId::new(kind, uuid), &v)
        })
    }

    /// How many entities of a kind have a handle.
    pub fn count(&self, kind: EntityKind) -> Result<u64> {
        Ok(self
            .trees
            .meta
            .get(keys::counter(kind))?
            .and_then(|v| keys::u64_of(&v))
            .unwrap_or(0))
    }

    /// The last seq recorded at or before `when` (0 if none).
    pub fn seq_at(&self, when: DateTime<Utc>) -> Result<Seq> {
        let head = self.head()?;
        let (mut lo, mut hi) = (0u64, head.seq.0);
        // Invariant kept: events 1..=lo are at or before `when`, events after hi are not.
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            let record = self.event(Seq(mid))?.ok_or_else(|| {
                StoreError::corrupt("events", format!("seq {mid}"), "missing below the head")
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

    /// Starts a write: serialises writers in this process and reads the head.
    pub fn writer(&self) -> Result<Writer<'_>> {
        let guard = self.write_lock.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.head()?;
        let counters = [
            self.count(EntityKind::Partner)?,
            self.count(EntityKind::Convention)?,
        ];
        Ok(Writer {
            store: self,
            _guard: guard,
            head,
            tip: head,
            counters,
            sealed: Sealed::default(),
        })
    }

    /// Marks the start of a rebuild of the derived trees, durably.
    pub fn begin_rebuild(&self) -> Result<()> {
        self.trees.meta.insert(keys::REBUILDING, &[1])?;
        self.sync()
    }

    /// Ends a rebuild: records the counters and the projection format,
    /// clears the mark, and syncs.
    pub fn finish_rebuild(&self, partners: u64, conventions: u64) -> Result<()> {
        self.trees
            .meta
            .insert(keys::counter(EntityKind::Partner), &partners.to_be_bytes())?;
        self.trees.meta.insert(
            keys::counter(EntityKind::Convention),
            &conventions.to_be_bytes(),
        )?;
        self.trees
            .meta
            .insert(keys::PROJECTION, &[codec::PROJECTION_VERSION])?;
        self.sync()?;
        self.trees.meta.remove(keys::REBUILDING)?;
        self.sync()
    }

    /// Sets the head (used by a rebuild that finds the stored head wrong).
    pub fn set_head(&self, head: &Head) -> Result<()> {
        self.trees.meta.insert(keys::HEAD, keys::head_value(head))?;
        Ok(())
    }
}

/// A write in progress: holds the process's write lock, and the events
/// sealed so far.
pub struct Writer<'a> {
    store: &'a Store,
    _guard: MutexGuard<'a, ()>,
    head: Head,
    tip: Head,
    counters: [u64; 2],
    sealed: Sealed,
}

/// Events ready to commit: sealed records and the handles of the entities
/// they create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sealed {
    /// the records, in seq order
    pub records: Vec<EventRecord>,
    /// (entity, handle) for each entity created
    pub handles: Vec<(EntityId, Handle)>,
    /// each record's stored bytes, made when it was hashed
    framed: Vec<Vec<u8>>,
}

impl Sealed {
    /// The handle assigned to a new entity.
    pub fn handle_of(&self, entity: EntityId) -> Option<Handle> {
        self.handles
            .iter()
            .find(|(e, _)| *e == entity)
            .map(|(_, h)| *h)
    }
}

/// Why a transaction gave up.
enum Abort {
    Conflict {
        entity: EntityId,
        expected: u64,
        actual: u64,
    },
    HeadMoved,
    Corrupt(String),
}

fn abort<T>(a: Abort) -> std::result::Result<T, ConflictableTransactionError<Abort>> {
    Err(ConflictableTransactionError::Abort(a))
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
                let kind = p.entity.kind();
                let counter = &mut self.counters[usize::from(kind == EntityKind::Convention)];
                *counter += 1;
                let handle = Handle {
                    kind,
                    number: *counter,
                };
                out.handles.push((p.entity, handle));
                self.sealed.handles.push((p.entity, handle));
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
        let expected_seq = self.tip.seq.next();
        if Some(record.seq) != expected_seq || record.prev_hash != self.tip.hash {
            return Err(StoreError::corrupt(
                "events",
                format!("seq {}", record.seq),
                "does not continue the log",
            ));
        }
        if record.version == 1 {
            let kind = record.entity.kind();
            let counter = &mut self.counters[usize::from(kind == EntityKind::Convention)];
            *counter += 1;
            self.sealed.handles.push((
                record.entity,
                Handle {
                    kind,
                    number: *counter,
                },
            ));
        }
        self.tip = Head {
            seq: record.seq,
            hash: record.hash,
            recorded_at: Some(record.recorded_at),
        };
        let framed =
            codec::encode_record(&record).map_err(|e| StoreError::Encode(e.to_string()))?;
        self.sealed.records.push(record);
        self.sealed.framed.push(framed);
        Ok(())
    }

    /// Appends sealed records and the derived writes that go with them in
    /// one transaction, then makes them durable. Refused with
    /// [`StoreError::Conflict`] if a stream is not at the version a record
    /// was decided on.
    pub fn commit(self, derived: &[DerivedWrite]) -> Result<()> {
        let sealed = &self.sealed;
        let records = &sealed.records;
        if records.is_empty() {
            return Ok(());
        }
        let framed = &sealed.framed;
        let store: &'s Store = self.store;
        let t = &store.trees;
        // Only the trees this commit writes take part in the transaction:
        // sled's cost grows with every tree in it.
        let mut used: Vec<&Tree> = vec![&t.events, &t.streams, &t.meta];
        let mut slot = |wanted: bool, tree: &'s Tree| -> Option<usize> {
            wanted.then(|| {
                used.push(tree);
                used.len() - 1
            })
        };
        let creates = !sealed.handles.is_empty();
        let entities_at = slot(creates, &t.entities);
        let handles_at = slot(creates, &t.handles);
        let names_at = slot(
            derived.iter().any(|w| {
                matches!(
                    w,
                    DerivedWrite::PutName(_) | DerivedWrite::DeleteName { .. }
                )
            }),
            &t.names,
        );
        let parties_at = slot(
            derived.iter().any(|w| {
                matches!(
                    w,
                    DerivedWrite::PutParty(..) | DerivedWrite::DeleteParty(..)
                )
            }),
            &t.parties,
        );
        let partners_at = slot(
            derived
                .iter()
                .any(|w| matches!(w, DerivedWrite::Timeline(EntityId::Partner(_), _))),
            &t.proj_partners,
        );
        let conventions_at = slot(
            derived
                .iter()
                .any(|w| matches!(w, DerivedWrite::Timeline(EntityId::Convention(_), _))),
            &t.proj_conventions,
        );
        let expected_head = self.head;
        let result = used[..].transaction(|tx| {
            let missing = || {
                ConflictableTransactionError::Abort(Abort::Corrupt(
                    "a tree left out of the transaction".into(),
                ))
            };
            let at = |i: Option<usize>| i.and_then(|i| tx.get(i)).ok_or_else(missing);
            let (events, streams, meta) = match tx.as_slice() {
                [e, s, m, ..] => (e, s, m),
                _ => return Err(missing()),
            };
            let head = match meta.get(keys::HEAD)? {
                None => Head::EMPTY,
                Some(v) => match keys::head_of(&v) {
                    Some(h) => h,
                    None => return abort(Abort::Corrupt("malformed head".into())),
                },
            };
            if head != expected_head {
                return abort(Abort::HeadMoved);
            }
            for (record, bytes) in records.iter().zip(framed) {
                check_version(streams, record)?;
                events.insert(&keys::seq(record.seq), bytes.as_slice())?;
                streams.insert(
                    &keys::stream(record.entity, record.version),
                    &record.seq.0.to_be_bytes(),
                )?;
            }
            for (entity, handle) in &sealed.handles {
                let counter = keys::counter(handle.kind);
                let taken = meta
                    .get(counter)?
                    .and_then(|v| keys::u64_of(&v))
                    .unwrap_or(0);
                if handle.number != taken + 1 {
                    return abort(Abort::Corrupt(format!("handle {handle} is not next")));
                }
                meta.insert(&counter, &handle.number.to_be_bytes())?;
                at(entities_at)?.insert(entity.uuid().as_bytes(), &keys::entity_value(*handle))?;
                at(handles_at)?.insert(&keys::handle(*handle), entity.uuid().as_bytes())?;
            }
            for write in derived {
                let tree = match write {
                    DerivedWrite::Timeline(EntityId::Partner(_), _) => at(partners_at)?,
                    DerivedWrite::Timeline(EntityId::Convention(_), _) => at(conventions_at)?,
                    DerivedWrite::PutName(_) | DerivedWrite::DeleteName { .. } => at(names_at)?,
                    DerivedWrite::PutParty(..) | DerivedWrite::DeleteParty(..) => at(parties_at)?,
                };
                apply_derived(write, tree)?;
            }
            let last = records.last().map(|r| Head {
                seq: r.seq,
                hash: r.hash,
                recorded_at: Some(r.recorded_at),
            });
            if let Some(last) = last {
                meta.insert(keys::HEAD, keys::head_value(&last))?;
            }
            Ok(())
        });
        match result {
            Ok(()) => {}
            Err(TransactionError::Abort(Abort::Conflict {
                entity,
                expected,
                actual,
            })) => {
                return Err(StoreError::Conflict {
                    entity,
                    expected,
                    actual,
                });
            }
            Err(TransactionError::Abort(Abort::HeadMoved)) => {
                return Err(StoreError::corrupt(
                    "meta",
                    "head",
                    "the head moved during a write",
                ));
            }
            Err(TransactionError::Abort(Abort::Corrupt(detail))) => {
                return Err(StoreError::corrupt("meta", "head", detail));
            }
            Err(TransactionError::Storage(e)) => return Err(e.into()),
        }
        self.store.sync()?;
        if let Some(last) = records.last() {
            self.store.record_head(last.seq, last.hash);
        }
        Ok(())
    }
}

type TxResult<T> = std::result::Result<T, ConflictableTransactionError<Abort>>;

fn check_version(streams: &TransactionalTree, record: &EventRecord) -> TxResult<()> {
    let expected = record.version.saturating_sub(1);
    let taken = streams
        .get(keys::stream(record.entity, record.version))?
        .is_some();
    let present = expected == 0
        || streams
            .get(keys::stream(record.entity, expected))?
            .is_some();
    if taken || !present {
        // Find the actual version for the message (streams are short).
        let mut actual = expected;
        while streams
            .get(keys::stream(record.entity, actual + 1))?
            .is_some()
        {
            actual += 1;
        }
        while actual > 0 && streams.get(keys::stream(record.entity, actual))?.is_none() {
            actual -= 1;
        }
        return abort(Abort::Conflict {
            entity: record.entity,
            expected,
            actual,
        });
    }
    Ok(())
}

/// Applies one derived write to the tree it belongs to.
fn apply_derived(write: &DerivedWrite, tree: &TransactionalTree) -> TxResult<()> {
    match write {
        DerivedWrite::Timeline(entity, bytes) => {
            tree.insert(entity.uuid().as_bytes(), bytes.as_slice())?;
        }
        DerivedWrite::PutName(entry) => {
            tree.insert(
                keys::name(&entry.key, entry.partner),
                IVec::from(&[u8::from(entry.current)]),
            )?;
        }
        DerivedWrite::DeleteName { key, partner } => {
            tree.remove(keys::name(key, *partner))?;
        }
        DerivedWrite::PutParty(p, c) => {
            tree.insert(&keys::party(*p, *c), &[])?;
        }
        DerivedWrite::DeleteParty(p, c) => {
            tree.remove(&keys::party(*p, *c))?;
        }
    }
    Ok(())
}
