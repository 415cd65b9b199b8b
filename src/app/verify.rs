//! Integrity: `verify` proves the log is whole and unaltered and that every
//! derived tree equals a fresh rebuild; `rebuild` recomputes them.
//!
//! **Invariant:** verify reads; it never repairs, and it reports every
//! problem it finds (with the seq or key) instead of stopping at the first.

use std::collections::HashMap;

use super::transparency::{MerkleCheck, leaf_of};
use super::{AppError, Registry};
use crate::domain::logcheck::LogCheck;
use crate::domain::{Digest, EntityKind, EventRecord, Seq};
use crate::projection::{self, Derived, Difference, Rebuilt};
use crate::store::log::decode_event_at;
use crate::store::{Head, RecordedHead, Store, StoreError, codec, keys};
use crate::transparency::{Checkpoint, Hash};

/// One thing wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// the tree
    pub tree: &'static str,
    /// where (`seq 12`, a key)
    pub at: String,
    /// what
    pub detail: String,
}

/// What `verify` checked and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// events read
    pub events: u64,
    /// the head as the events say
    pub head: Option<(Seq, Digest)>,
    /// entries compared per derived tree
    pub compared: Vec<(&'static str, u64)>,
    /// the Merkle tree recomputed: its size and root
    pub tree: Option<(u64, Hash)>,
    /// every problem found
    pub problems: Vec<Problem>,
    /// what weakens the checks without being a problem of the log (the
    /// record of the acknowledged head missing or unreadable)
    pub warnings: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The most problems reported per tree before counting the rest.
const MAX_PER_TREE: usize = 50;

struct Problems {
    list: Vec<Problem>,
    per_tree: HashMap<&'static str, usize>,
}

impl Problems {
    /// Counts `k` more problems of `tree` that are not described (they
    /// come after as many described ones as are listed).
    fn count_unlisted(&mut self, tree: &'static str, k: usize) {
        let n = self.per_tree.entry(tree).or_default();
        let before = *n;
        *n += k;
        if before <= MAX_PER_TREE && *n > MAX_PER_TREE {
            self.list.push(Problem {
                tree,
                at: "…".into(),
                detail: "more problems in this tree are not listed".into(),
            });
        }
    }

    fn push(&mut self, tree: &'static str, at: impl ToString, detail: impl ToString) {
        let n = self.per_tree.entry(tree).or_default();
        *n += 1;
        if *n <= MAX_PER_TREE {
            self.list.push(Problem {
                tree,
                at: at.to_string(),
                detail: detail.to_string(),
            });
        } else if *n == MAX_PER_TREE + 1 {
            self.list.push(Problem {
                tree,
                at: "…".into(),
                detail: "more problems in this tree are not listed".into(),
            });
        }
    }
}

impl Registry {
    /// Walks the whole log and every derived tree. `published` is a head
    /// printed earlier that the log must still extend. `progress` gets the
    /// seq reached.
    pub fn verify(
        &self,
        published: Option<(Seq, Digest)>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, AppError> {
        self.verify_against(published, None, None, progress)
    }

    /// [`Registry::verify`], and also: the log's Merkle tree is recomputed
    /// and compared with the stored one, and, given a `checkpoint` (its
    /// signature already checked), the first `checkpoint.size` events must
    /// hash to its root. With `copy`, the leaves of a copy of the log that
    /// hashes to that root (see [`copy_leaves`](super::transparency::copy_leaves)),
    /// a difference is named by the first event that differs from it.
    pub fn verify_against(
        &self,
        published: Option<(Seq, Digest)>,
        checkpoint: Option<&Checkpoint>,
        copy: Option<Vec<Hash>>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<VerifyReport, AppError> {
        let store = self.store();
        let mut walk = LogWalk {
            problems: Problems {
                list: Vec::new(),
                per_tree: HashMap::new(),
            },
            report: VerifyReport::default(),
            checks: LogCheck::new(),
            deriver: projection::Deriver::for_log(store),
            merkle: MerkleCheck::new(store, checkpoint, copy),
            decodable: true,
            format_2: store.registry_format() == codec::REGISTRY_FORMAT_2,
        };
        store.log().scan_ordered(
            Seq(1),
            crate::store::workers(),
            &walk_segment,
            &mut |segment| {
                walk.segment(segment, progress);
                Ok(())
            },
        )?;
        let LogWalk {
            mut problems,
            mut report,
            checks,
            deriver,
            merkle,
            decodable,
            ..
        } = walk;
        for (seq, problem) in checks.finish() {
            problems.push("log", format!("seq {seq}"), problem);
        }
        check_heads(store, &mut report, &mut problems);
        if let Some(published) = published {
            check_published(store, published, &mut problems);
        }
        report.tree = merkle.head();
        for (tree, at, detail) in merkle.finish(store) {
            problems.push(tree, at, detail);
        }
        if decodable {
            let mut derivation = deriver.finish(store)?;
            self.compare_derived(&mut derivation, &mut report, &mut problems)?;
        } else {
            problems.push(
                "derived",
                "*",
                "not compared with a rebuild: some events cannot be decoded",
            );
        }
        report.problems = problems.list;
        Ok(report)
    }

    fn compare_derived(
        &self,
        derivation: &mut projection::Derivation,
        report: &mut VerifyReport,
        problems: &mut Problems,
    ) -> Result<(), AppError> {
        let store = self.store();
        // The documents part by part, then the other trees in parallel;
        // their problems are listed in tree order, as one thread would
        // list them.
        let mut docs = Compared::new(Derived::Docs);
        derivation.each_part(store, &mut |part| docs.compare_halves(store, part))?;
        let others: Vec<Derived> = Derived::ALL
            .into_iter()
            .filter(|t| *t != Derived::Docs)
            .collect();
        let derivation = &*derivation;
        let compared = projection::per_tree(&others, |tree| {
            let mut c = Compared::new(tree);
            c.compare(store, derivation)?;
            Ok(c)
        })?;
        for c in std::iter::once(docs).chain(compared) {
            let name = c.tree.name();
            let listed = c.found.len();
            for (at, detail) in c.found {
                problems.push(name, at, detail);
            }
            problems.count_unlisted(name, c.total - listed);
            report.compared.push((name, c.count));
        }
        for (kind, want) in [
            (EntityKind::Partner, derivation.partners),
            (EntityKind::Convention, derivation.conventions),
        ] {
            let have = store.count(kind)?;
            if have != want {
                problems.push(
                    "meta",
                    format!("counter {}", kind.letter()),
                    format!(
                        "says {have} {}s were created, the log says {want}",
                        kind.noun()
                    ),
                );
            }
        }
        if store.projections_stale()? {
            problems.push(
                "meta",
                "projection",
                "projections are marked stale (run pactum rebuild)",
            );
        }
        Ok(())
    }

    /// Drops and rebuilds every derived tree from `events`.
    pub fn rebuild(&self, progress: &mut dyn FnMut(u64)) -> Result<Rebuilt, AppError> {
        let rebuilt = {
            let _writer = self.store().writer()?;
            projection::rebuild(self.store(), progress)?
        };
        self.rebuild_merkle()?;
        Ok(rebuilt)
    }

    /// The head, for `info` and `verify`.
    pub fn head(&self) -> Result<Head, AppError> {
        Ok(self.store().head()?)
    }
}

/// A cache compared with the derivation: the first problems, described,
/// how many there are, and how many stored entries were compared.
struct Compared {
    tree: Derived,
    found: Vec<(String, &'static str)>,
    total: usize,
    count: u64,
}

impl Compared {
    fn new(tree: Derived) -> Self {
        Self {
            tree,
            found: Vec::new(),
            total: 0,
            count: 0,
        }
    }

    /// Compares the cache (the documents: of the part `derivation` holds).
    fn compare(
        &mut self,
        store: &Store,
        derivation: &projection::Derivation,
    ) -> Result<(), StoreError> {
        self.compare_within(store, derivation, None)
    }

    /// Compares the documents of the part `derivation` holds, each half on
    /// a thread of its own; what they find is listed in key order.
    fn compare_halves(
        &mut self,
        store: &Store,
        derivation: &projection::Derivation,
    ) -> Result<(), StoreError> {
        let halves = derivation.docs_halves();
        if halves.is_empty() {
            // outside a part: refused by the comparison itself
            return self.compare_within(store, derivation, None);
        }
        let compared = crate::store::scan::map_in_order(&halves, halves.len(), &|half| {
            let mut c = Compared::new(self.tree);
            c.compare_within(store, derivation, Some(half)).map(|()| c)
        })
        .ok_or_else(|| StoreError::corrupt(self.tree.name(), "*", "a comparing thread failed"))?;
        for c in compared {
            let c = c?;
            let room = MAX_PER_TREE.saturating_sub(self.found.len());
            self.found.extend(c.found.into_iter().take(room));
            self.total += c.total;
            self.count += c.count;
        }
        Ok(())
    }

    fn compare_within(
        &mut self,
        store: &Store,
        derivation: &projection::Derivation,
        within: Option<&projection::KeyRange>,
    ) -> Result<(), StoreError> {
        let tree = self.tree;
        self.count +=
            projection::compare_within(store, derivation, tree, within, &mut |difference| {
                let (key, detail) = match &difference {
                    Difference::Missing((k, _)) => (k.as_slice(), "missing entry"),
                    Difference::Extra(k) => (k.as_slice(), "entry a rebuild would not make"),
                    Difference::Differs((k, _)) => (k.as_slice(), "differs from a rebuild"),
                };
                self.total += 1;
                if self.found.len() < MAX_PER_TREE {
                    self.found.push((describe_key(tree, key), detail));
                }
                Ok(())
            })?;
        Ok(())
    }
}

/// One event of the log as a worker read it: its frame (previous hash,
/// hash, and whether the hash is the body's), its record, its Merkle leaf.
struct Walked {
    frame: Result<(Digest, Digest, bool), String>,
    record: Option<Result<EventRecord, StoreError>>,
    leaf: Option<Hash>,
}

/// One segment of the log as a worker read it.
struct SegmentWalked {
    key: Vec<u8>,
    first: Option<u64>,
    /// stored as an LZ4 block (registry format 3)
    compressed: bool,
    events: Result<Vec<Walked>, String>,
}

/// Reads one stored event (run by the scan's workers).
fn walk_event(seq: u64, value: &[u8]) -> Walked {
    let frame = codec::unframe(value)
        .map(|f| {
            (
                f.prev_hash,
                f.hash,
                codec::chain_hash(&f.prev_hash, f.body) == f.hash,
            )
        })
        .map_err(|e| e.to_string());
    let record = frame.is_ok().then(|| {
        decode_event_at(seq, value).and_then(|r| {
            // the stored form has one spelling per event (bincode would
            // also take, say, an over-long varint)
            if codec::encode_record(&r).is_ok_and(|b| b == value) {
                Ok(r)
            } else {
                Err(StoreError::Corrupt {
                    tree: "log",
                    at: format!("seq {}", r.seq),
                    detail: "the stored bytes are not in canonical form".into(),
                })
            }
        })
    });
    let leaf = match &record {
        Some(Ok(r)) => leaf_of(r).ok(),
        _ => None,
    };
    Walked {
        frame,
        record,
        leaf,
    }
}

/// Reads one stored segment (run by the scan's workers).
fn walk_segment(key: &[u8], value: &[u8]) -> SegmentWalked {
    let first = keys::u64_of(key);
    let events = codec::segment_body(value)
        .and_then(|body| {
            let list = codec::body_events(&body)?;
            Ok(list
                .iter()
                .zip(first.unwrap_or(0)..)
                .map(|(bytes, seq)| walk_event(seq, bytes))
                .collect())
        })
        .map_err(|e| e.to_string());
    SegmentWalked {
        key: key.to_vec(),
        first,
        compressed: value.first() == Some(&codec::SEGMENT_LZ4),
        events,
    }
}

/// What the walk of the log has found so far, segment by segment in order.
struct LogWalk {
    problems: Problems,
    report: VerifyReport,
    checks: LogCheck,
    deriver: projection::Deriver,
    merkle: MerkleCheck,
    decodable: bool,
    /// the registry's record says format 2 (plain segments only)
    format_2: bool,
}

impl LogWalk {
    /// Something that cannot be decoded: no rebuild is compared, and the
    /// Merkle tree has no leaf for it.
    fn undecodable(&mut self, at: impl ToString, detail: impl ToString) {
        self.problems.push("log", at, detail);
        self.decodable = false;
        self.merkle.push(None);
    }

    fn segment(&mut self, segment: SegmentWalked, progress: &mut dyn FnMut(u64)) {
        let Some(first) = segment.first else {
            self.undecodable(format!("key {:02x?}", segment.key), "malformed key");
            return;
        };
        let events = match segment.events {
            Ok(events) => events,
            Err(e) => {
                self.undecodable(format!("seq {first}"), format!("undecodable segment: {e}"));
                return;
            }
        };
        if segment.compressed && self.format_2 {
            self.problems.push(
                "log",
                format!("seq {first}"),
                "a compressed segment in a registry recorded as format 2, which cannot hold one",
            );
        }
        // a segment is keyed by the seq of its first event: the chain
        // check names a gap between segments
        for (walked, seq) in events.into_iter().zip(first..) {
            self.event(seq, walked);
            if seq.is_multiple_of(4096) {
                progress(seq);
            }
        }
    }

    fn event(&mut self, seq: u64, walked: Walked) {
        self.report.events += 1;
        let at = format!("seq {seq}");
        let (stored_prev, stored_hash, hash_ok) = match walked.frame {
            Ok(f) => f,
            Err(e) => return self.undecodable(&at, format!("undecodable: {e}")),
        };
        for problem in self.checks.chain(Seq(seq), stored_prev, stored_hash) {
            self.problems.push("log", &at, problem);
        }
        if !hash_ok {
            self.problems
                .push("log", &at, "hash mismatch: the stored bytes were altered");
        }
        self.report.head = Some((Seq(seq), stored_hash));
        let record = match walked.record {
            Some(Ok(r)) => r,
            Some(Err(e)) => return self.undecodable(&at, e),
            None => return self.merkle.push(None),
        };
        self.merkle.push(walked.leaf);
        for problem in self.checks.event(&record) {
            self.problems.push("log", &at, problem);
        }
        self.deriver.fold(&record);
    }
}

/// The stored head and the record of the last acknowledged head against
/// the end of the log.
fn check_heads(store: &Store, report: &mut VerifyReport, problems: &mut Problems) {
    match (store.head(), report.head) {
        (Ok(h), Some((seq, hash))) if h.seq != seq || h.hash != hash => problems.push(
            "meta",
            "head",
            format!("the head says #{} but the log ends at #{seq}", h.seq),
        ),
        (Ok(h), None) if h.seq != Seq::ZERO => problems.push(
            "meta",
            "head",
            format!("the head says #{} but the log is empty", h.seq),
        ),
        (Err(e), _) => problems.push("meta", "head", e),
        _ => {}
    }
    if let Err(e) = store.check_recorded_head() {
        match e {
            StoreError::Corrupt { tree, at, detail } => problems.push(tree, at, detail),
            other => problems.push("log", "head", other),
        }
    }
    match store.recorded_head_state() {
        RecordedHead::Head(..) => {}
        RecordedHead::Missing if report.events == 0 => {}
        RecordedHead::Missing => report.warnings.push(
            "the record of the last acknowledged head (pactum.head) is missing: a loss of the log's last events would not be detected; it is written again by the next write".into(),
        ),
        RecordedHead::Unreadable(why) => report.warnings.push(format!(
            "the record of the last acknowledged head (pactum.head) cannot be read ({why}): a loss of the log's last events would not be detected; it is written again by the next write"
        )),
    }
}

/// A head printed earlier, which the log must still extend.
fn check_published(store: &Store, (seq, hash): (Seq, Digest), problems: &mut Problems) {
    if seq == Seq::ZERO {
        if hash != Digest::GENESIS {
            problems.push(
                "log",
                "seq 0",
                format!(
                    "#0 is the empty log, whose hash is {}: the head given is not one pactum printed",
                    Digest::GENESIS
                ),
            );
        }
        return;
    }
    match store.event(seq) {
        Ok(Some(r)) if r.hash == hash => {}
        Ok(Some(_)) => problems.push(
            "log",
            format!("seq {seq}"),
            "the log no longer extends the published head: this event was rewritten",
        ),
        Ok(None) => problems.push(
            "log",
            format!("seq {seq}"),
            "the log no longer extends the published head: it was truncated",
        ),
        Err(e) => problems.push("log", format!("seq {seq}"), e),
    }
}

/// A readable form of a cache's key (after its prefix).
fn describe_key(tree: Derived, key: &[u8]) -> String {
    let uuid = |b: &[u8]| keys::uuid_of(b).map_or_else(|| format!("{b:02x?}"), |u| u.to_string());
    let body = key.get(tree.prefix().len()..).unwrap_or_default();
    match tree {
        Derived::Docs => {
            let parsed = body
                .split_first()
                .and_then(|(kind, id)| Some((keys::byte_kind(*kind)?, keys::uuid_of(id)?)));
            match parsed {
                Some((kind, id)) => format!("{} id {id}", kind.noun()),
                None => format!("{key:02x?}"),
            }
        }
        Derived::Handles => {
            let first = |(kind, page)| keys::handle_in(kind, page, 0);
            let last =
                |(kind, page)| keys::handle_in(kind, page, keys::HANDLES_PER_PAGE as usize - 1);
            match keys::handle_page_of(body).and_then(|p| Some((first(p)?, last(p)?))) {
                Some((first, last)) => format!("handles {first} to {last}"),
                None => format!("{key:02x?}"),
            }
        }
        Derived::Names => match body.iter().position(|b| *b == 0) {
            Some(i) => format!(
                "'{}' of {}",
                String::from_utf8_lossy(&body[..i]),
                uuid(&body[i + 1..])
            ),
            None => format!("{key:02x?}"),
        },
        Derived::Parties => match keys::party_chunk_of(body) {
            Some((partner, chunk)) => format!("conventions of partner {partner}, chunk {chunk}"),
            None => format!("{key:02x?}"),
        },
        Derived::Successions => format!("partner {}", uuid(body)),
        Derived::Watermark => "w".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(p: &Problems) -> Vec<&str> {
        p.list.iter().map(|x| x.at.as_str()).collect()
    }

    #[test]
    fn problems_counted_but_not_described_end_a_full_list_with_one_mark() {
        let mut p = Problems {
            list: Vec::new(),
            per_tree: HashMap::new(),
        };
        for i in 0..MAX_PER_TREE {
            p.push("names", i, "differs");
        }
        p.count_unlisted("names", 0);
        assert_eq!(p.list.len(), MAX_PER_TREE, "nothing more to count");
        p.count_unlisted("names", 7);
        p.count_unlisted("names", 3);
        assert_eq!(p.per_tree["names"], MAX_PER_TREE + 10);
        assert_eq!(p.list.len(), MAX_PER_TREE + 1);
        assert_eq!(listed(&p).last(), Some(&"…"));
    }

    #[test]
    fn a_tree_already_past_its_limit_is_marked_once() {
        let mut p = Problems {
            list: Vec::new(),
            per_tree: HashMap::new(),
        };
        for i in 0..MAX_PER_TREE + 2 {
            p.push("parties", i, "missing entry");
        }
        p.count_unlisted("parties", 5);
        p.count_unlisted("names", 0);
        assert_eq!(p.per_tree["parties"], MAX_PER_TREE + 7);
        assert_eq!(listed(&p).iter().filter(|at| **at == "…").count(), 1);
        assert_eq!(p.per_tree.get("names").copied().unwrap_or(0), 0);
    }
}
