//! The errors of the store: one enum, each variant mapped to one exit code
//! by the binary.

use std::path::PathBuf;

use crate::domain::EntityId;

use super::codec;

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
        "integrity failure in meta at format: unknown registry format {found} (this pactum reads formats {} and {}; a newer pactum may have written it)",
        codec::REGISTRY_FORMAT_2,
        codec::REGISTRY_FORMAT
    )]
    Format {
        /// the format byte found
        found: u8,
    },
    /// A registry written in an earlier format, which `pactum upgrade`
    /// converts.
    #[error(
        "{path} is a registry of format {found}, written by an earlier pactum; this pactum reads formats {} and {}",
        codec::REGISTRY_FORMAT_2,
        codec::REGISTRY_FORMAT
    )]
    Upgrade {
        /// the registry
        path: PathBuf,
        /// its format
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
        problem: FolderProblem,
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

/// What makes a folder one pactum may not use as a registry. The command
/// line says what to do about each.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FolderProblem {
    /// The registry's path is a file, not a folder.
    #[error("it is not a folder")]
    NotAFolder,
    /// The folder holds files pactum did not make (their names, the first
    /// five).
    #[error("it holds files pactum did not make ({})", .0.join(", "))]
    ForeignFiles(Vec<String>),
    /// The folder holds a sled database without pactum's files.
    #[error("it holds a database pactum did not make")]
    ForeignDatabase,
    /// The folder holds one of sled's two files without the other.
    #[error("it holds sled's {present} without its {absent}: not a whole registry")]
    HalfDatabase {
        /// the file there (`db` or `conf`)
        present: &'static str,
        /// the file missing
        absent: &'static str,
    },
    /// An entry of the folder is a symbolic link.
    #[error("it is a symbolic link inside the registry folder")]
    SymbolicLink,
    /// sled's `blobs` is not a folder.
    #[error("it is not a folder")]
    BlobsNotAFolder,
    /// An entry of `blobs/` is neither a file nor a link.
    #[error("it is not a file")]
    BlobNotAFile,
    /// One of sled's or pactum's files is not a file.
    #[error("it is not a file")]
    NotAFile,
    /// One of pactum's files is a hard link to another file.
    #[error("it is a hard link to another file")]
    HardLink,
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
    /// An integrity failure in `tree` at `at`.
    pub fn corrupt(tree: &'static str, at: impl ToString, detail: impl ToString) -> Self {
        StoreError::Corrupt {
            tree,
            at: at.to_string(),
            detail: detail.to_string(),
        }
    }
}

/// True for the errors of a full disk (or a full quota).
pub fn is_disk_full(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
        || e.kind() == std::io::ErrorKind::StorageFull
}

/// An I/O error with what was being done (a full disk is
/// [`StoreError::DiskFull`]).
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> StoreError {
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

/// The store's result.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
