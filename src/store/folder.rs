//! The registry folder: every file operation pactum makes on it, behind a
//! narrow API (sled's own reads and writes excepted).
//!
//! What it holds, and nothing else: sled's files (`conf`, `db`, `blobs/`
//! and the numbered files in it, `snap.*` snapshots) and pactum's own
//! (`pactum.registry`, the mark that pactum made the folder; `pactum.head`,
//! the last acknowledged head; `pactum.owner`, the process holding the
//! registry while it runs).
//!
//! **Invariant:** nothing in the folder is followed through a symbolic
//! link. A folder holding one (anywhere, `blobs/` included) is refused
//! before sled opens it, and pactum opens its own files with `O_NOFOLLOW`,
//! so a link planted after the check fails the open instead of being
//! followed.
//!
//! **Invariant:** the folder is `0700` and every file in it `0600`,
//! whatever the umask: the folder is made `0700` before sled writes in it
//! (so no other user can reach a file sled creates with its own mode), and
//! every file is set to `0600` once sled has opened the registry.
//!
//! **Invariant:** a folder holding files pactum did not make is refused,
//! touching nothing: any name outside the list above, sled's files without
//! pactum's (a foreign sled database), or half of sled's files.
//!
//! Repairs made on opening, each one something sled itself would do:
//! a snapshot that sled began writing (`snap.*.generating`) and never
//! completed — the disk filled up, or the process died — is removed. sled
//! writes a snapshot to that name, syncs it, renames it to `snap.*`, and
//! only then removes older snapshots; but on opening it reads the
//! last-sorting `snap.*` file, the unfinished one included, and fails on it
//! ("corrupted") for ever after. A file that fails sled's own check (more
//! than 12 bytes, ending with the CRC-32 of the rest) holds nothing sled
//! could use, and the older snapshot it was to replace is still there; a
//! complete one is left alone, since sled reads it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::StoreError;
use super::error::FolderProblem;

/// The mark pactum leaves in every folder it makes a registry of.
pub const MARK_FILE: &str = "pactum.registry";
/// The file naming the process that holds the registry.
pub const OWNER_FILE: &str = "pactum.owner";
/// The record of the last acknowledged head.
pub const HEAD_FILE: &str = "pactum.head";

const MARK_TEXT: &str = "pactum registry\n";
const FOLDER_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Names sled 0.34 keeps in its folder.
fn is_sled_name(name: &str) -> bool {
    matches!(name, "conf" | "db" | "blobs") || name.starts_with("snap.")
}

fn is_pactum_name(name: &str) -> bool {
    matches!(name, MARK_FILE | OWNER_FILE | HEAD_FILE)
}

/// An error about the folder: refused, with what is wrong.
fn refused(path: &Path, problem: FolderProblem) -> StoreError {
    StoreError::Folder {
        path: path.to_path_buf(),
        problem,
    }
}

/// Turns an I/O failure on `path` into a store error that names the path
/// and, for a permission problem, what is needed.
pub fn io_error(path: &Path, doing: &str, e: io::Error) -> StoreError {
    if e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS) {
        return permission_denied(path, doing, e);
    }
    if super::is_disk_full(&e) {
        return StoreError::DiskFull {
            path: path.to_path_buf(),
            source: e,
        };
    }
    StoreError::Io {
        context: format!("{doing} {}", path.display()),
        source: e,
    }
}

/// A permission problem on `path`, saying who owns it and what pactum needs.
pub fn permission_denied(path: &Path, doing: &str, e: io::Error) -> StoreError {
    let owner = fs::symlink_metadata(path)
        .map(|m| {
            format!(
                " (owner uid {}, mode {:04o}; this process runs as uid {})",
                m.uid(),
                m.mode() & 0o7777,
                rustix::process::geteuid().as_raw()
            )
        })
        .unwrap_or_default();
    StoreError::Permission {
        path: path.to_path_buf(),
        detail: format!("{doing}: {e}{owner}"),
    }
}

/// The registry folder.
#[derive(Debug)]
pub struct Folder {
    path: PathBuf,
}

/// What [`Folder::prepare`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// nothing yet: the folder is new (or was empty), sled will create it
    Fresh,
    /// a registry pactum made
    Registry,
}

impl Folder {
    /// The folder at `path`, as it is (no check): for reading files of a
    /// registry another process holds.
    pub fn at(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
        }
    }

    /// Where the folder is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks (and, with `create`, makes) the registry folder before sled
    /// opens it. Refuses a folder with a symbolic link, with files pactum
    /// did not make, or holding a foreign sled database; removes a
    /// snapshot sled never completed (see the module comment).
    pub fn prepare(path: &Path, create: bool) -> Result<(Self, Found), StoreError> {
        let folder = Self::at(path);
        let meta = match fs::metadata(path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(path, "reading", e)),
        };
        let Some(meta) = meta else {
            if !create {
                return Err(StoreError::Missing(path.to_path_buf()));
            }
            folder.make()?;
            return Ok((folder, Found::Fresh));
        };
        if !meta.is_dir() {
            return Err(refused(path, FolderProblem::NotAFolder));
        }
        let names = folder.names(path)?;
        if names.is_empty() {
            if !create {
                return Err(StoreError::Missing(path.to_path_buf()));
            }
            folder.make()?;
            return Ok((folder, Found::Fresh));
        }
        let foreign: Vec<&String> = names
            .iter()
            .filter(|n| !is_sled_name(n) && !is_pactum_name(n))
            .collect();
        if !foreign.is_empty() {
            return Err(refused(
                path,
                FolderProblem::ForeignFiles(foreign.into_iter().take(5).cloned().collect()),
            ));
        }
        let has = |n: &str| names.iter().any(|x| x == n);
        // Every registry an earlier pactum opened holds pactum.owner (it
        // was never removed) or pactum.head; newer ones hold the mark.
        let pactum_made = has(MARK_FILE) || has(OWNER_FILE) || has(HEAD_FILE);
        let sled_files = has("conf") || has("db");
        if sled_files && !pactum_made {
            return Err(refused(path, FolderProblem::ForeignDatabase));
        }
        if has("conf") != has("db") {
            let (present, absent) = if has("db") {
                ("db", "conf")
            } else {
                ("conf", "db")
            };
            return Err(refused(
                path,
                FolderProblem::HalfDatabase { present, absent },
            ));
        }
        if !sled_files {
            // only pactum's own files: a registry whose creation stopped
            // before sled wrote anything
            if !create {
                return Err(StoreError::Missing(path.to_path_buf()));
            }
            folder.make()?;
            return Ok((folder, Found::Fresh));
        }
        // private before sled writes in it (an older registry may be open
        // to others; sled writes a snapshot as it opens)
        if meta.mode() & 0o7777 != FOLDER_MODE {
            make_private(path, FOLDER_MODE)?;
        }
        folder.remove_unfinished_snapshots(&names)?;
        Ok((folder, Found::Registry))
    }

    /// The names in the folder (and in `blobs/`, which must hold only
    /// files), refusing a symbolic link anywhere.
    fn names(&self, path: &Path) -> Result<Vec<String>, StoreError> {
        let mut names = Vec::new();
        let entries = fs::read_dir(path).map_err(|e| io_error(path, "listing", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_error(path, "listing", e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry
                .file_type()
                .map_err(|e| io_error(&entry.path(), "reading", e))?;
            if kind.is_symlink() {
                return Err(refused(&entry.path(), FolderProblem::SymbolicLink));
            }
            if name == "blobs" {
                if !kind.is_dir() {
                    return Err(refused(&entry.path(), FolderProblem::BlobsNotAFolder));
                }
                let blobs = entry.path();
                for blob in fs::read_dir(&blobs).map_err(|e| io_error(&blobs, "listing", e))? {
                    let blob = blob.map_err(|e| io_error(&blobs, "listing", e))?;
                    let kind = blob
                        .file_type()
                        .map_err(|e| io_error(&blob.path(), "reading", e))?;
                    if !kind.is_file() {
                        return Err(refused(
                            &blob.path(),
                            if kind.is_symlink() {
                                FolderProblem::SymbolicLink
                            } else {
                                FolderProblem::BlobNotAFile
                            },
                        ));
                    }
                }
            } else if !kind.is_file() && (is_sled_name(&name) || is_pactum_name(&name)) {
                return Err(refused(&entry.path(), FolderProblem::NotAFile));
            } else if is_pactum_name(&name) {
                // pactum writes these in place: one that is also another
                // file's name (a hard link) would write that file too
                let links = entry
                    .metadata()
                    .map_err(|e| io_error(&entry.path(), "reading", e))?
                    .nlink();
                if links > 1 {
                    return Err(refused(&entry.path(), FolderProblem::HardLink));
                }
            }
            names.push(name);
        }
        names.sort();
        Ok(names)
    }

    /// Creates the folder `0700` (its parents as the umask allows) and
    /// leaves the mark in it.
    fn make(&self) -> Result<(), StoreError> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| io_error(parent, "creating", e))?;
        }
        match fs::DirBuilder::new().mode(FOLDER_MODE).create(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error(&self.path, "creating", e)),
        }
        fs::set_permissions(&self.path, fs::Permissions::from_mode(FOLDER_MODE))
            .map_err(|e| io_error(&self.path, "setting the permissions of", e))?;
        let mark = self.path.join(MARK_FILE);
        let mut file = Self::open_new(&mark).map_err(|e| io_error(&mark, "creating", e))?;
        file.write_all(MARK_TEXT.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error(&mark, "writing", e))?;
        Ok(())
    }

    /// Opens (creating) a file of the folder for writing: never through a
    /// link, `0600`.
    fn open_new(path: &Path) -> io::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)?;
        if file.metadata()?.nlink() > 1 {
            return Err(io::Error::other(format!(
                "{} is a hard link to another file",
                path.display()
            )));
        }
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
        Ok(file)
    }

    /// Opens a file of the folder for reading, never through a link.
    fn open_read(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    }

    /// Removes the snapshots sled began and never completed, when no other
    /// process holds the registry (sled's own lock on `db`, taken here for
    /// the time of the removal): a holder may be writing one right now.
    fn remove_unfinished_snapshots(&self, names: &[String]) -> Result<(), StoreError> {
        let mut unfinished = names
            .iter()
            .filter(|n| n.starts_with("snap.") && n.ends_with(".generating"))
            .peekable();
        if unfinished.peek().is_none() {
            return Ok(());
        }
        let db = self.path.join("db");
        let lock = Self::open_read(&db).map_err(|e| io_error(&db, "opening", e))?;
        if lock.try_lock().is_err() {
            return Ok(());
        }
        for name in unfinished {
            let path = self.path.join(name);
            let mut bytes = Vec::new();
            Self::open_read(&path)
                .and_then(|mut f| f.read_to_end(&mut bytes))
                .map_err(|e| io_error(&path, "reading", e))?;
            if snapshot_is_complete(&bytes) {
                continue;
            }
            tracing::warn!(
                file = %path.display(),
                "removing a snapshot sled never completed (a full disk or a crash while it was written)"
            );
            fs::remove_file(&path).map_err(|e| io_error(&path, "removing", e))?;
            self.sync()?;
        }
        drop(lock);
        Ok(())
    }

    /// Sets the folder to `0700` and every file in it (and in `blobs/`) to
    /// `0600`: called once sled has opened the registry, since sled creates
    /// its files with the umask's mode.
    pub fn secure(&self) -> Result<(), StoreError> {
        let set = |path: &Path, mode: u32| -> Result<(), StoreError> {
            let meta = fs::symlink_metadata(path).map_err(|e| io_error(path, "reading", e))?;
            if meta.file_type().is_symlink() {
                return Err(refused(path, FolderProblem::SymbolicLink));
            }
            if meta.mode() & 0o7777 != mode {
                make_private(path, mode)?;
            }
            Ok(())
        };
        set(&self.path, FOLDER_MODE)?;
        let mut folders = vec![self.path.clone()];
        while let Some(folder) = folders.pop() {
            let entries = fs::read_dir(&folder).map_err(|e| io_error(&folder, "listing", e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io_error(&folder, "listing", e))?;
                let path = entry.path();
                let kind = entry
                    .file_type()
                    .map_err(|e| io_error(&path, "reading", e))?;
                if kind.is_dir() {
                    set(&path, FOLDER_MODE)?;
                    folders.push(path);
                } else {
                    set(&path, FILE_MODE)?;
                }
            }
        }
        Ok(())
    }

    /// Leaves the mark in a registry an earlier pactum made without one.
    pub fn ensure_mark(&self) -> Result<(), StoreError> {
        let mark = self.path.join(MARK_FILE);
        if fs::symlink_metadata(&mark).is_ok() {
            return Ok(());
        }
        let mut file = Self::open_new(&mark).map_err(|e| io_error(&mark, "creating", e))?;
        file.write_all(MARK_TEXT.as_bytes())
            .map_err(|e| io_error(&mark, "writing", e))
    }

    /// True when the file of device `dev` and inode `ino` is one of the
    /// folder's files:
    /// for refusing to write a command's output into the registry.
    pub fn holds(&self, dev: u64, ino: u64) -> bool {
        let same = |m: &fs::Metadata| m.dev() == dev && m.ino() == ino;
        let mut folders = vec![self.path.clone()];
        while let Some(folder) = folders.pop() {
            let Ok(entries) = fs::read_dir(&folder) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(m) = entry.metadata() else { continue };
                if m.is_dir() {
                    folders.push(entry.path());
                } else if same(&m) {
                    return true;
                }
            }
        }
        false
    }

    /// Opens sled's data file for the fsyncs that make a write durable.
    pub fn open_data_file(&self) -> Result<File, StoreError> {
        let path = self.path.join("db");
        Self::open_read(&path).map_err(|e| io_error(&path, "opening", e))
    }

    /// Syncs one of sled's files, by name, if it is there.
    pub fn sync_file(&self, name: &str) -> Result<(), StoreError> {
        let path = self.path.join(name);
        match Self::open_read(&path) {
            Ok(f) => f.sync_all().map_err(|e| io_error(&path, "syncing", e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error(&path, "opening", e)),
        }
    }

    /// Syncs the folder itself (its entries), and its parent's when asked.
    pub fn sync(&self) -> Result<(), StoreError> {
        let sync_dir = |path: &Path| {
            File::open(path)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_error(path, "syncing folder", e))
        };
        sync_dir(&self.path)
    }

    /// Syncs the folder that holds the registry folder (after creating it).
    pub fn sync_parent(&self) -> Result<(), StoreError> {
        let parent = parent_of(&self.path);
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_error(parent, "syncing folder", e))
    }

    // ------------------------------------------------------- the owner file

    /// Records which process holds the registry (best effort: a registry
    /// works without it). It is removed by [`Folder::release_owner`].
    pub fn write_owner(&self) {
        let path = self.path.join(OWNER_FILE);
        let text = format!(
            "process {} ({})\n",
            std::process::id(),
            // (args_os: an argument need not be UTF-8)
            std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let written = Self::open_new(&path).and_then(|mut f| {
            f.set_len(0)?;
            f.write_all(text.as_bytes())
        });
        if let Err(e) = written {
            tracing::debug!(file = %path.display(), error = %e, "cannot record the owner");
        }
    }

    /// Removes the owner file if this process wrote it.
    pub fn release_owner(&self) {
        let path = self.path.join(OWNER_FILE);
        if owner_pid(&self.read_owner_raw()) == Some(std::process::id()) {
            let _ = fs::remove_file(path);
        }
    }

    fn read_owner_raw(&self) -> String {
        let mut text = String::new();
        let _ = Self::open_read(&self.path.join(OWNER_FILE))
            .and_then(|f| f.take(64 * 1024).read_to_string(&mut text));
        text
    }

    /// The process holding the registry, when the owner file names one
    /// that is still running.
    pub fn read_owner(&self) -> Option<String> {
        let text = self.read_owner_raw();
        let pid = owner_pid(&text)?;
        let alive = rustix::process::Pid::from_raw(i32::try_from(pid).ok()?).is_some_and(|p| {
            rustix::process::test_kill_process(p).is_ok()
                || fs::metadata(format!("/proc/{pid}")).is_ok()
        });
        alive
            .then(|| text.trim().to_owned())
            .filter(|s| !s.is_empty())
    }

    // -------------------------------------------------------- the head file

    /// Opens the head record for writing (created `0600`, never through a
    /// link).
    pub fn open_head_for_write(&self) -> io::Result<File> {
        Self::open_new(&self.path.join(HEAD_FILE))
    }

    /// Reads the head record: `Ok(None)` when there is none.
    pub fn read_head(&self) -> io::Result<Option<String>> {
        let path = self.path.join(HEAD_FILE);
        match Self::open_read(&path) {
            Ok(f) => {
                let mut text = String::new();
                f.take(4096).read_to_string(&mut text)?;
                Ok(Some(text))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Sets a file's or folder's mode. Only its owner (or root) may: a
/// registry another user owns and lets this one use is left as its owner
/// set it, with a warning, rather than refused.
fn make_private(path: &Path, mode: u32) -> Result<(), StoreError> {
    match fs::set_permissions(path, fs::Permissions::from_mode(mode)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            tracing::warn!(
                path = %path.display(),
                "cannot make it private ({mode:04o}): only its owner can"
            );
            Ok(())
        }
        Err(e) => Err(io_error(path, "setting the permissions of", e)),
    }
}

/// The pid an owner file names (`process N (…)`).
fn owner_pid(text: &str) -> Option<u32> {
    text.strip_prefix("process ")?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// True when a snapshot file passes sled 0.34's own check
/// (`pagecache::snapshot::read_snapshot`): more than 12 bytes, the last 4
/// the little-endian CRC-32 of all but the last 12.
pub fn snapshot_is_complete(bytes: &[u8]) -> bool {
    let len = bytes.len();
    if len <= 12 {
        return false;
    }
    let Ok(expected) = <[u8; 4]>::try_from(&bytes[len - 4..]) else {
        return false;
    };
    crc32fast::hash(&bytes[..len - 12]) == u32::from_le_bytes(expected)
}

/// The folder that holds `path` (`.` for a bare name).
pub fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A `flock` on the folder that holds a registry: shared while a process
/// opens the registry, exclusive while `pactum compact` exchanges it with
/// its copy. Unlike sled's lock on `db`, it stays where it is when the
/// registry's folder is renamed. Released when dropped.
pub struct ParentLock {
    _folder: File,
}

/// Takes the [`ParentLock`] of the registry at `path`, trying until
/// `deadline`.
pub fn lock_parent(
    path: &Path,
    exclusive: bool,
    deadline: std::time::Instant,
) -> Result<ParentLock, StoreError> {
    use rustix::fs::{FlockOperation, flock};
    let parent = parent_of(path);
    let folder = File::open(parent).map_err(|e| io_error(parent, "opening", e))?;
    let operation = if exclusive {
        FlockOperation::NonBlockingLockExclusive
    } else {
        FlockOperation::NonBlockingLockShared
    };
    loop {
        match flock(&folder, operation) {
            Ok(()) => return Ok(ParentLock { _folder: folder }),
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                if std::time::Instant::now() >= deadline {
                    return Err(StoreError::InUse {
                        path: path.to_path_buf(),
                        holder: None,
                    });
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => return Err(io_error(parent, "locking", e.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_complete_only_with_its_checksum() {
        assert!(!snapshot_is_complete(b""));
        assert!(!snapshot_is_complete(&[0; 12]));
        let body = b"some snapshot bytes";
        let mut file = body.to_vec();
        file.extend_from_slice(&u64::try_from(body.len()).unwrap_or(0).to_le_bytes());
        file.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        assert!(snapshot_is_complete(&file));
        file[0] ^= 1;
        assert!(!snapshot_is_complete(&file));
    }

    #[test]
    fn owner_files_name_their_process() {
        assert_eq!(owner_pid("process 42 (pactum list)\n"), Some(42));
        assert_eq!(owner_pid("junk"), None);
    }
}
