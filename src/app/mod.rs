//! The application layer: a [`Registry`] opens the store, resolves what the
//! user typed into domain values, runs commands through `decide`, appends
//! the resulting events with their projections, and answers queries as
//! folds at a point of view.
//!
//! **Invariant:** every write goes through [`Registry::execute`] or
//! [`Registry::execute_batch`]: decided against the stream it read, sealed
//! and committed in one transaction with the projections it changes.
//!
//! **Invariant:** this layer knows nothing of the command line; it returns
//! values and typed errors ([`AppError`]), each with one exit code.

pub mod audit;
pub mod compact;
pub mod demo;
pub mod exchange;
pub mod formats;
pub mod info;
pub mod outfile;
pub mod read;
pub mod resolve;
pub mod transparency;
pub mod upgrade;
pub mod verify;
pub mod write;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::decide::{Refusal, RefusalClass};
use crate::domain::{EntityId, Handle, Seq};
use crate::projection;
use crate::store::Store;

pub use crate::store::{DEFAULT_CACHE_BYTES, FolderProblem, OpenOptions, StoreError};
pub use info::{RegistryInfo, registry_exists, registry_holds_file};
pub use read::{ConventionFilter, ConventionView, PartnerView, Party, Point, Snapshot};
pub use resolve::{DATE_FORMS, WHEN_FORMS, read_date};
pub use write::{WriteMeta, Written};

/// What time it is. The store stamps events with it; "today" is the
/// default valid time.
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
    /// Today's date, in UTC.
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told: for tests and reproducible runs. Each
/// reading advances it by `step` microseconds.
#[derive(Debug)]
pub struct FixedClock {
    micros: AtomicU64,
    step: u64,
}

impl FixedClock {
    /// A clock at `start` that advances by `step_micros` at each reading.
    pub fn new(start: DateTime<Utc>, step_micros: u64) -> Self {
        Self {
            micros: AtomicU64::new(u64::try_from(start.timestamp_micros()).unwrap_or(0)),
            step: step_micros,
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.micros.fetch_add(self.step, Ordering::SeqCst);
        DateTime::<Utc>::from_timestamp_micros(i64::try_from(micros).unwrap_or(0))
            .unwrap_or_default()
    }
}

/// Where new ids come from.
pub trait IdSource: Send + Sync {
    /// A new UUID v7.
    fn new_id(&self, clock: &dyn Clock) -> Uuid;
}

/// Random UUID v7 ids.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn new_id(&self, clock: &dyn Clock) -> Uuid {
        let now = clock.now();
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            u64::try_from(now.timestamp()).unwrap_or(0),
            now.timestamp_subsec_nanos(),
        );
        Uuid::new_v7(ts)
    }
}

/// Deterministic UUID v7 ids (a counter in the random bits): for tests.
#[derive(Debug, Default)]
pub struct SequentialIds {
    next: AtomicU64,
}

impl IdSource for SequentialIds {
    fn new_id(&self, clock: &dyn Clock) -> Uuid {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let millis = u64::try_from(clock.now().timestamp_millis()).unwrap_or(0);
        let mut random = [0u8; 10];
        random[2..].copy_from_slice(&n.to_be_bytes());
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }
}

/// What an error says the user could do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// advice in words of the registry alone
    Text(String),
    /// advice that names the command line's commands or flags, which the
    /// command line words
    Advice(Advice),
}

impl From<String> for Hint {
    fn from(text: String) -> Self {
        Hint::Text(text)
    }
}

impl From<&str> for Hint {
    fn from(text: &str) -> Self {
        Hint::Text(text.to_owned())
    }
}

impl From<Advice> for Hint {
    fn from(advice: Advice) -> Self {
        Hint::Advice(advice)
    }
}

/// Advice this layer cannot word: it names what would help, the command
/// line says how to do it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Advice {
    /// a convention is named by its handle; the conventions can be listed
    NameConventions,
    /// a partner is named by its handle or name; the partners can be listed
    NamePartners,
    /// the partners can be listed
    ListPartners,
    /// an entity's events can be listed, with their ids
    ListEvents,
    /// an entity's every event can be seen, whatever the date
    SeeEveryEvent,
    /// the entity moved since it was read: look again, then retry at this
    /// version
    LookAgain {
        /// the entity's handle
        handle: String,
        /// the version it is at
        version: u64,
    },
    /// the demo needs an empty registry: a new folder
    DemoInNewFolder,
    /// an event log goes into an empty registry (or one holding an
    /// earlier part of it)
    LogIntoEmptyRegistry,
    /// a tree size goes up to the head
    SizeUpToHead,
}

/// Errors of the application layer; each has one exit code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad usage or invalid input (exit 2).
    #[error("{message}")]
    Invalid {
        /// what is wrong
        message: String,
        /// what to do
        hint: Option<Hint>,
    },
    /// A command refused by the rules (exit 2 or 3).
    #[error("{refusal}")]
    Refused {
        /// why
        refusal: Refusal,
        /// what to do
        hint: Option<Hint>,
    },
    /// A reference to nothing (exit 3).
    #[error("{message}")]
    NotFound {
        /// what was not found
        message: String,
        /// the closest matches, or what to do
        hint: Option<Hint>,
    },
    /// A reference to several things (exit 3).
    #[error("{message}")]
    Ambiguous {
        /// what was ambiguous
        message: String,
        /// the candidates
        candidates: Vec<String>,
    },
    /// A stale version (exit 4).
    #[error("{message}")]
    Conflict {
        /// what moved
        message: String,
        /// what to do
        hint: Option<Hint>,
    },
    /// A store error (exit code by kind).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the command's output failed (exit 1; a closed pipe ends
    /// the command quietly with exit 0 instead, see
    /// [`AppError::is_closed_pipe`]).
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// A key, checkpoint or proof that is malformed or does not verify
    /// (exit 5; a malformed key given by the user, exit 2).
    #[error(transparent)]
    Transparency(crate::transparency::TransparencyError),
    /// Anything else (exit 1).
    #[error("{0}")]
    Other(String),
}

impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        AppError::Refused {
            refusal,
            hint: None,
        }
    }
}

impl AppError {
    /// An invalid-input error without a hint.
    pub fn invalid(message: impl Into<String>) -> Self {
        AppError::Invalid {
            message: message.into(),
            hint: None,
        }
    }

    /// An invalid-input error with a hint.
    pub fn invalid_with(message: impl Into<String>, hint: impl Into<Hint>) -> Self {
        AppError::Invalid {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// The process exit code (`docs/cli.md`, "Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self {
            AppError::Invalid { .. } => 2,
            AppError::Refused { refusal, .. } => match refusal.class() {
                RefusalClass::Invalid => 2,
                RefusalClass::NotFound => 3,
            },
            AppError::NotFound { .. } | AppError::Ambiguous { .. } => 3,
            AppError::Conflict { .. } => 4,
            AppError::Store(e) => match e {
                StoreError::InUse { .. } | StoreError::Conflict { .. } => 4,
                StoreError::Missing(_) => 3,
                StoreError::Corrupt { .. } | StoreError::Format { .. } => 5,
                StoreError::Encode(_) | StoreError::Upgrade { .. } => 2,
                StoreError::Folder { .. } => 2,
                StoreError::Sled(_)
                | StoreError::Io { .. }
                | StoreError::DiskFull { .. }
                | StoreError::Permission { .. } => 1,
            },
            AppError::Transparency(e) => {
                use crate::transparency::TransparencyError as T;
                match e {
                    T::Malformed {
                        what: "verifier key" | "private key" | "key name" | "origin",
                        ..
                    } => 2,
                    T::Random(_) => 1,
                    _ => 5,
                }
            }
            AppError::Output(_) | AppError::Other(_) => 1,
        }
    }

    /// Fills in the registry's path where the error names none (a full
    /// disk met deep in the store).
    pub fn at_registry(self, path: &Path) -> Self {
        match self {
            AppError::Store(StoreError::DiskFull { path: p, source })
                if p.as_os_str().is_empty() =>
            {
                AppError::Store(StoreError::DiskFull {
                    path: path.to_path_buf(),
                    source,
                })
            }
            other => other,
        }
    }

    /// True when the output's reader went away (`pactum list | head -1`):
    /// not a failure of the command, which ends quietly with exit 0.
    pub fn is_closed_pipe(&self) -> bool {
        matches!(self, AppError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// An open registry: the store, a clock and an id source.
pub struct Registry {
    store: Store,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

/// How [`Registry::open`] treats stale projections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// rebuild them before anything else (every command but `verify`)
    Rebuild,
    /// leave them for `verify` to report
    Leave,
}

impl Registry {
    /// Opens the registry at `path`; rebuilds stale projections unless told
    /// not to.
    pub fn open(
        path: &Path,
        options: &OpenOptions,
        repair: Repair,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Result<Self, AppError> {
        let store = Store::open(path, options)?;
        if repair == Repair::Rebuild {
            store.check_recorded_head()?;
            if store.projections_stale()? {
                tracing::info!(path = %path.display(), "projections are stale: rebuilding");
                projection::rebuild(&store, &mut |_| {})?;
            } else {
                match projection::catch_up(&store) {
                    Ok(_) => {}
                    // caches exact at a position this log does not hold
                    // are no caches of it: recompute them (a log that lost
                    // acknowledged events was caught just above)
                    Err(StoreError::Corrupt {
                        tree: "watermark",
                        detail,
                        ..
                    }) => {
                        tracing::warn!(%detail, "the caches are not of this log: rebuilding");
                        projection::rebuild(&store, &mut |_| {})?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        } else if !store.projections_stale().unwrap_or(true) {
            // Catching up is the normal protocol, not a repair: verify
            // compares caches brought to the head, and reports what a
            // failed catch-up leaves.
            if let Err(e) = projection::catch_up_with(&store, false) {
                tracing::warn!(error = %e, "the caches could not be caught up");
            }
        }
        Ok(Self { store, clock, ids })
    }

    /// Catches the caches up with the log if a cache write of this process
    /// failed since (before a decision or a read at the head), under the
    /// write lock: the caches are written by one thread at a time.
    pub fn ensure_caught_up(&self) -> Result<(), AppError> {
        if self.store.caches_behind() {
            let _writer = self.store.write_lock();
            if self.store.caches_behind() {
                projection::catch_up(&self.store)?;
            }
        }
        Ok(())
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// A new id.
    pub fn new_id(&self) -> Uuid {
        self.ids.new_id(self.clock.as_ref())
    }

    /// The handle of an entity.
    pub fn handle(&self, entity: EntityId) -> Result<Handle, AppError> {
        match self.store.handle(entity)? {
            Some(h) => Ok(h),
            None => Err(AppError::NotFound {
                message: format!("no {} {}", entity.kind().noun(), entity),
                hint: None,
            }),
        }
    }

    /// The seq of the head.
    pub fn head_seq(&self) -> Result<Seq, AppError> {
        Ok(self.store.head()?.seq)
    }

    /// The log positions of an entity's events, in order.
    pub fn stream_seqs(&self, entity: EntityId) -> Result<Vec<Seq>, AppError> {
        Ok(self.store.stream_seqs(entity)?)
    }
}
