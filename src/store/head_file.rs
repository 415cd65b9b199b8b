//! `pactum.head`: the last acknowledged head, recorded beside sled's files.
//!
//! sled reads a damaged stretch of its log as the torn end of a crash and
//! drops everything after it; comparing the log's head with this record
//! turns such a silent loss into an integrity failure. The record is fixed
//! width, so that it is overwritten in place (one write, no rename), with a
//! checksum, so that a torn write reads as no record rather than as another
//! head. It is written after the event is durable and not synced: a record
//! left behind only weakens the check, and it is never ahead of the log.
//!
//! **Invariant:** the file is opened only through the registry folder
//! ([`Folder::open_head_for_write`], [`Folder::read_head`]): never through a
//! link, `0600`.

use std::fs::File;
use std::sync::Mutex;

use super::folder::{self, Folder};
use crate::domain::{Digest, Seq};

/// The file's name in the registry folder.
pub const NAME: &str = folder::HEAD_FILE;

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

/// The head file of one registry, opened at the first record.
pub struct HeadFile {
    file: Mutex<Option<File>>,
}

/// The record of a head.
fn record(seq: Seq, hash: Digest) -> String {
    let body = format!("{:020} {}", seq.0, hash);
    let check = blake3::hash(body.as_bytes()).to_hex();
    format!("{body} {}\n", &check[..16])
}

impl HeadFile {
    /// The head file of a registry, not opened yet.
    pub fn new() -> Self {
        Self {
            file: Mutex::new(None),
        }
    }

    /// Records an acknowledged head (best effort, see the module).
    pub fn record(&self, folder: &Folder, seq: Seq, hash: Digest) {
        use std::os::unix::fs::FileExt;
        let record = record(seq, hash);
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if file.is_none() {
            *file = folder.open_head_for_write().ok();
        }
        if let Some(f) = file.as_ref() {
            let _ = f.write_at(record.as_bytes(), 0);
        }
    }
}

impl Default for HeadFile {
    fn default() -> Self {
        Self::new()
    }
}

/// What the record in `folder` says, or why it says nothing.
pub fn read(folder: &Folder) -> RecordedHead {
    let text = match folder.read_head() {
        Ok(Some(text)) => text,
        Ok(None) => return RecordedHead::Missing,
        Err(e) => return RecordedHead::Unreadable(e.to_string()),
    };
    let parsed = (|| {
        let mut parts = text.split(' ');
        let (seq, hash) = (parts.next()?, parts.next()?);
        let (seq, hash) = (Seq(seq.parse().ok()?), Digest::from_hex(hash)?);
        // the record is canonical: anything else is a torn or foreign file
        (record(seq, hash) == text).then_some((seq, hash))
    })();
    match parsed {
        Some((seq, hash)) => RecordedHead::Head(seq, hash),
        None => RecordedHead::Unreadable("not a whole head record".into()),
    }
}
