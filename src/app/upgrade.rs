//! `pactum upgrade`: converts a registry of an earlier layout to the
//! current one, losslessly.
//!
//! Step by step:
//! 1. the registry of layout 1 is opened (sled's lock keeps every other
//!    process out) and its events read in seq order, each with its stored
//!    bytes;
//! 2. a new registry is written beside it (`NAME.upgrading`): the same
//!    bytes, hence the same seqs, ids, hashes and `recorded_at`, in
//!    segments, then every cache rebuilt;
//! 3. the new registry is verified as `pactum verify` does; if anything is
//!    wrong, it is removed and the old one is left as it was;
//! 4. only then the old folder is renamed `NAME.format-1` (kept, for the
//!    user to remove) and the new one takes its name.
//!
//! **Invariant:** until step 4 the old folder is untouched; a crash before
//! it leaves the old registry whole and a `NAME.upgrading` folder that
//! the next upgrade refuses to overwrite.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{AppError, Registry, Repair};
use crate::domain::{Digest, Seq};
use crate::store::format1::Format1;
use crate::store::{OpenOptions, Store, StoreError, codec, durable};

/// Events copied per commit.
const CHUNK: usize = 10_000;

/// What an upgrade did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgraded {
    /// events copied
    pub events: u64,
    /// the head, the same before and after
    pub head: Option<(Seq, Digest)>,
    /// where the registry of the earlier layout is kept
    pub kept: PathBuf,
}

pub(super) fn sibling(path: &Path, suffix: &str) -> Result<PathBuf, AppError> {
    let name = path
        .file_name()
        .ok_or_else(|| AppError::invalid(format!("{} names no folder", path.display())))?;
    let mut name = name.to_os_string();
    name.push(suffix);
    Ok(path.with_file_name(name))
}

pub(super) fn io(context: String) -> impl FnOnce(std::io::Error) -> AppError {
    move |e| AppError::Store(StoreError::Io { context, source: e })
}

/// Fails unless `report`, the verification of a registry copied from
/// another, found nothing wrong and the head `head`; `step` and `what`
/// name the copy in the error.
pub(super) fn check_copy(
    report: &super::verify::VerifyReport,
    head: Option<(Seq, Digest)>,
    step: &str,
    what: &str,
) -> Result<(), AppError> {
    if report.ok() && report.head == head {
        Ok(())
    } else {
        Err(does_not_verify(report, step, what))
    }
}

fn does_not_verify(report: &super::verify::VerifyReport, step: &str, what: &str) -> AppError {
    let first = report.problems.first().map_or_else(String::new, |p| {
        format!(": {} at {}: {}", p.tree, p.at, p.detail)
    });
    AppError::Store(StoreError::corrupt(
        "log",
        step,
        format!("{what} does not verify{first}"),
    ))
}

/// Converts the registry at `path` (layout 1) to the current layout.
pub fn upgrade(
    path: &Path,
    options: &OpenOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<Upgraded, AppError> {
    let old = match Format1::open(path, options.wait) {
        Ok(old) => old,
        Err(StoreError::Format { found })
            if found == codec::REGISTRY_FORMAT || found == codec::REGISTRY_FORMAT_2 =>
        {
            // format 2 is read as it is (its first write records 3)
            return Err(AppError::invalid(format!(
                "{} is already a registry of format {found}, which this pactum reads as it is: there is nothing to upgrade",
                path.display()
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let fresh = sibling(path, ".upgrading")?;
    if fresh.exists() {
        return Err(AppError::invalid_with(
            format!("{} exists", fresh.display()),
            "an earlier upgrade was interrupted: remove that folder (the registry itself was not changed) and run pactum upgrade again",
        ));
    }
    let copied = copy_log(&old, &fresh, options, progress);
    let checked = copied.and_then(|(events, head)| {
        let registry = Registry::open(
            &fresh,
            &OpenOptions {
                create: false,
                ..options.clone()
            },
            Repair::Leave,
            Arc::new(super::SystemClock),
            Arc::new(super::RandomIds),
        )?;
        let report = registry.verify(None, &mut |_| {})?;
        if report.events != events {
            return Err(does_not_verify(&report, "upgrade", "the upgraded registry"));
        }
        check_copy(&report, head, "upgrade", "the upgraded registry")?;
        // the head acknowledged beside the old registry must be in the log
        if let crate::store::RecordedHead::Head(seq, hash) = old.recorded_head()
            && head.is_none_or(|(s, _)| s < seq)
        {
            return Err(AppError::Store(StoreError::corrupt(
                "events",
                format!("seq {seq}"),
                format!(
                    "event #{seq} {hash} was acknowledged but the registry's log ends before it"
                ),
            )));
        }
        Ok((events, head))
    });
    let (events, head) = match checked {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&fresh);
            return Err(e);
        }
    };
    old.close();
    let mut kept = sibling(path, ".format-1")?;
    let mut n = 1;
    while kept.exists() {
        n += 1;
        kept = sibling(path, &format!(".format-1.{n}"))?;
    }
    std::fs::rename(path, &kept).map_err(io(format!(
        "renaming {} to {}",
        path.display(),
        kept.display()
    )))?;
    std::fs::rename(&fresh, path).map_err(io(format!(
        "renaming {} to {}",
        fresh.display(),
        path.display()
    )))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        durable::sync_dir(parent)?;
    }
    Ok(Upgraded { events, head, kept })
}

/// Writes the old log's events, byte for byte, to a new registry at
/// `fresh`, then rebuilds its caches. Returns the events copied and the
/// head.
fn copy_log(
    old: &Format1,
    fresh: &Path,
    options: &OpenOptions,
    progress: &mut dyn FnMut(u64),
) -> Result<(u64, Option<(Seq, Digest)>), AppError> {
    let store = Store::open(
        fresh,
        &OpenOptions {
            create: true,
            ..options.clone()
        },
    )?;
    let mut events = old.events().peekable();
    let mut copied = 0u64;
    let mut head = None;
    while events.peek().is_some() {
        let mut writer = store.writer()?;
        for next in events.by_ref().take(CHUNK) {
            let (record, bytes) = next?;
            head = Some((record.seq, record.hash));
            writer.adopt_stored(record, bytes)?;
            copied += 1;
        }
        writer.commit(&[])?;
        progress(copied);
    }
    crate::projection::rebuild(&store, &mut |_| {})?;
    store.sync()?;
    Ok((copied, head))
}
