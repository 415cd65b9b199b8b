//! `pactum compact`: rewrites a registry's files into a fresh database,
//! losslessly, to give back the space and the opening time that sled keeps
//! for the segments its cleaner emptied.
//!
//! Step by step:
//! 1. the registry is opened (sled's lock keeps every other process out
//!    until the end) and its caches caught up;
//! 2. every entry of every sled tree is copied, byte for byte and in key
//!    order, into a new registry beside it (`NAME.compacting`), which is
//!    made durable;
//! 3. the copy is verified as `pactum verify` does, and must end at the
//!    same head; if anything is wrong, it is removed and the registry is
//!    left as it was;
//! 4. only then the two folders are exchanged in one atomic rename, the
//!    old files are marked as replaced (a process that resolved the path
//!    before the exchange opens it again), and they are removed.
//!
//! **Invariant:** the registry's path names a whole registry at every
//! moment: the old one until step 4's exchange, the verified copy after
//! it. A crash before the exchange leaves the registry untouched and a
//! `NAME.compacting` folder that the next compaction refuses to overwrite.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::upgrade::{check_copy, io, sibling};
use super::{AppError, Registry, Repair};
use crate::domain::{Digest, Seq};
use crate::store::{OpenOptions, Store, durable, folder};

/// What a compaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compacted {
    /// sled entries copied (events are packed many to an entry)
    pub entries: u64,
    /// the head, the same before and after
    pub head: Option<(Seq, Digest)>,
    /// bytes of sled's files before
    pub bytes_before: u64,
    /// bytes of sled's files after
    pub bytes_after: u64,
    /// where the old files are left, if they could not be removed
    pub left: Option<PathBuf>,
}

/// How long the exchange waits for processes that are opening the
/// registry (each holds the parent folder's lock for the moment of its
/// open), and for sled's threads to let go of the old files.
const SETTLE: Duration = Duration::from_secs(10);

/// Compacts the registry at `path`.
pub fn compact(
    path: &Path,
    options: &OpenOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Compacted, AppError> {
    let opened = |at: &Path, repair| {
        Registry::open(
            at,
            &OpenOptions {
                create: false,
                ..options.clone()
            },
            repair,
            Arc::new(super::SystemClock),
            Arc::new(super::RandomIds),
        )
    };
    // the exchange swaps names in the folder that holds them: through a
    // link, it would move the link and leave the files it names; a folder
    // mounted on its own cannot be renamed at all
    let own = std::fs::symlink_metadata(path);
    if own.as_ref().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(AppError::invalid_with(
            format!("{} is a symbolic link", path.display()),
            "compact the registry through the folder's own path",
        ));
    }
    let parent = folder::parent_of(path);
    if let (Ok(own), Ok(up)) = (&own, std::fs::metadata(parent))
        && own.dev() != up.dev()
    {
        return Err(AppError::invalid_with(
            format!("{} is a mount point", path.display()),
            "a compaction writes its copy beside the registry's folder and exchanges the two: move the registry into a folder of the mounted file system",
        ));
    }
    let old = opened(path, Repair::Rebuild)?;
    let fresh = sibling(path, ".compacting")?;
    // made here, so that it is ours: an existing one is refused
    match std::fs::DirBuilder::new().mode(0o700).create(&fresh) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(AppError::invalid_with(
                format!("{} exists", fresh.display()),
                "an earlier compaction was interrupted: that folder holds either an unfinished copy or the registry's files before it was compacted, and the registry itself is whole; remove that folder and run pactum compact again",
            ));
        }
        Err(e) => return Err(io(format!("creating {}", fresh.display()))(e)),
    }
    let head = old.store().head()?;
    let head = (head.seq.0 > 0).then_some((head.seq, head.hash));
    let bytes_before = old.store().size_on_disk()?;
    let copied = (|| -> Result<(u64, u64), AppError> {
        let entries = {
            let to = Store::open(
                &fresh,
                &OpenOptions {
                    create: true,
                    ..options.clone()
                },
            )?;
            old.store().copy_into(&to, progress)?
        };
        let copy = opened(&fresh, Repair::Leave)?;
        check_copy(
            &copy.verify(None, &mut |_| {})?,
            head,
            "compact",
            "the compacted copy",
        )?;
        // what opening it for the check wrote, durable too
        copy.store().sync()?;
        let bytes = copy.store().size_on_disk()?;
        drop(copy);
        durable::sync_dir(&fresh)?;
        Ok((entries, bytes))
    })();
    let (entries, bytes_after) = match copied {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
    };
    crate::store::crash_point("compact-before-exchange");
    // no process is between opening the old files and reading their mark
    // while this is held
    let exchanging = match folder::lock_parent(path, true, Instant::now() + SETTLE) {
        Ok(lock) => lock,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e.into());
        }
    };
    if let Err(e) = renameat_with(CWD, path, CWD, &fresh, RenameFlags::EXCHANGE) {
        let _ = std::fs::remove_dir_all(&fresh);
        return Err(io(format!(
            "exchanging {} with its compacted copy (the registry was not changed)",
            path.display()
        ))(e.into()));
    }
    durable::sync_dir(parent)?;
    // the old files are now at `fresh`; the registry's path holds the copy
    crate::store::crash_point("compact-after-exchange");
    let retired = old.store().retire();
    drop(old);
    if let Err(e) = &retired {
        tracing::warn!(error = %e, "the replaced files could not be marked");
    }
    // sled's threads let go of the old files before they are removed
    let released = released(&fresh.join("db"), Instant::now() + SETTLE);
    crate::store::crash_point("compact-after-retire");
    let left = match (retired, released) {
        (Ok(()), true) => std::fs::remove_dir_all(&fresh).err().map(|_| fresh),
        _ => Some(fresh),
    };
    drop(exchanging);
    Ok(Compacted {
        entries,
        head,
        bytes_before,
        bytes_after,
        left,
    })
}

/// Waits until no one holds the lock sled takes on `db`, until `deadline`;
/// true once it is free.
fn released(db: &Path, deadline: Instant) -> bool {
    let Ok(file) = std::fs::File::open(db) else {
        return false;
    };
    loop {
        if file.try_lock().is_ok() {
            let _ = file.unlock();
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
