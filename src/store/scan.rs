//! The parallel scans. [`scan_ordered`]: one thread reads a sled range,
//! `workers` threads turn its entries into values (decoding is most of the
//! cost), and the caller receives the values in key order on its own
//! thread, as they come. [`collect_from_both_ends`]: two threads read the
//! range, one from each end, until they meet, and the caller receives every
//! value at the end, in key order.

use std::sync::Mutex;

use sled::{IVec, Tree};

use super::error::{Result, StoreError};

/// `f` of each item, on up to `workers` threads (one contiguous share
/// each), in the items' order; `None` if a thread died.
pub fn map_in_order<T: Sync, U: Send>(
    items: &[T],
    workers: usize,
    f: &(dyn Fn(&T) -> U + Sync),
) -> Option<Vec<U>> {
    let share = items.len().div_ceil(workers.max(1)).max(1);
    std::thread::scope(|scope| {
        let mut shares = items.chunks(share);
        let first = shares.next();
        let helpers: Vec<_> = shares
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<U>>()))
            .collect();
        let mut out: Vec<U> = first.map_or_else(Vec::new, |part| part.iter().map(f).collect());
        // every helper joined, even after one that died
        let joined: Vec<_> = helpers.into_iter().map(|h| h.join()).collect();
        for part in joined {
            out.extend(part.ok()?);
        }
        Some(out)
    })
}

/// Calls `each` with every item and `f` of it, in the items' order, `f`
/// running on another thread one item ahead (`f` of the next item while
/// `each` takes this one). Stops at the first error of `each`; `None` if
/// that thread died.
pub fn ahead<T: Sync, U: Send, E>(
    items: &[T],
    f: &(dyn Fn(&T) -> U + Sync),
    each: &mut dyn FnMut(&T, U) -> Result<(), E>,
) -> Option<Result<(), E>> {
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let producer = scope.spawn(move || {
            for item in items {
                if tx.send(f(item)).is_err() {
                    break;
                }
            }
        });
        let mut given = 0usize;
        let mut outcome = Ok(());
        for (item, made) in items.iter().zip(rx.iter()) {
            given += 1;
            if let Err(e) = each(item, made) {
                outcome = Err(e);
                break;
            }
        }
        // dropping the receiver stops the producer at its next item
        drop(rx);
        let died = producer.join().is_err();
        match outcome {
            Err(e) => Some(Err(e)),
            Ok(()) if died || given < items.len() => None,
            Ok(()) => Some(Ok(())),
        }
    })
}

/// A walk over a sled tree that lets sled's cache evict what it has read.
///
/// sled 0.34 counts each access to a node in one of 256 shards and evicts
/// only when a shard has counted 64; its iterator reads each leaf once, so
/// a walk over a few thousand leaves never fills a shard and everything it
/// reads stays in memory (240–264 MB for the log of a 1M registry, whatever
/// the cache's size). Reading each entry's key back once more makes the
/// count reach the shards, and the cache keeps to its size: the same walk
/// then holds about the cache's size, in the same time (docs/decisions.md).
pub struct ReadOnce<'t, I> {
    tree: &'t Tree,
    inner: I,
}

impl<'t, I> ReadOnce<'t, I> {
    /// Walks `inner`, an iterator over `tree`.
    pub fn new(tree: &'t Tree, inner: I) -> Self {
        Self { tree, inner }
    }
}

impl<I: Iterator<Item = sled::Result<(IVec, IVec)>>> Iterator for ReadOnce<'_, I> {
    type Item = sled::Result<(IVec, IVec)>;

    fn next(&mut self) -> Option<Self::Item> {
        let kv = self.inner.next()?;
        if let Ok((key, _)) = &kv
            && let Err(e) = self.tree.get(key)
        {
            return Some(Err(e));
        }
        Some(kv)
    }
}

/// How many threads the scans use: the cores, up to four.
pub fn workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Reads `tree` from key `from` up to (not including) `to`, maps each
/// entry with `map` on `workers` threads, and hands the values to `visit`
/// on this thread, in key order. Stops at the first error.
pub fn scan_ordered<T: Send>(
    tree: &Tree,
    from: &[u8],
    to: Option<&[u8]>,
    workers: usize,
    map: &(dyn Fn(&[u8], &[u8]) -> T + Sync),
    visit: &mut dyn FnMut(T) -> Result<()>,
) -> Result<()> {
    use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
    const BLOCK: usize = 256;
    type Numbered = (u64, Vec<(IVec, IVec)>);
    let workers = workers.max(1);
    let (raw_tx, raw_rx): (SyncSender<Numbered>, Receiver<Numbered>) = sync_channel(2 * workers);
    // held by the workers only: if they all die, the reader's next send
    // fails instead of waiting for them
    let raw_rx = std::sync::Arc::new(Mutex::new(raw_rx));
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
            let range = match to {
                Some(to) => tree.range(from..to),
                None => tree.range(from..),
            };
            for kv in ReadOnce::new(tree, range) {
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
            let raw_rx = std::sync::Arc::clone(&raw_rx);
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
        drop((done_tx, raw_rx));
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
        let read = reader
            .join()
            .unwrap_or_else(|_| Err(StoreError::corrupt("log", "*", "the reader thread failed")));
        outcome.and(read)
    })
}

/// The end of the range a reader of [`collect_from_both_ends`] reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    /// from the first key on, forward
    Start,
    /// from the last key back
    Finish,
}

/// Where the two readers of [`collect_from_both_ends`] are: the last key
/// each has taken.
#[derive(Default)]
struct Meeting {
    start: Option<IVec>,
    finish: Option<IVec>,
}

impl Meeting {
    /// Takes `key` for the reader from `end`, unless the other reader has
    /// taken it or one beyond it (the caller holds the lock, so that the
    /// check and the record are one step).
    fn take(&mut self, end: End, key: &IVec) -> bool {
        let (mine, theirs) = match end {
            End::Start => (&mut self.start, &self.finish),
            End::Finish => (&mut self.finish, &self.start),
        };
        let taken = theirs.as_ref().is_some_and(|other| match end {
            End::Start => key >= other,
            End::Finish => key <= other,
        });
        if !taken {
            *mine = Some(key.clone());
        }
        !taken
    }
}

/// A block of entries one reader of [`collect_from_both_ends`] took: the
/// end it reads from, its number from that end.
type EndBlock = (End, u64, Vec<(IVec, IVec)>);

/// Reads `tree` from key `from` up to (not including) `to` with two
/// threads, one from each end, each taking keys until it reaches one the
/// other has taken; maps each entry with `map` on `workers` threads; and
/// returns the values in key order.
///
/// Reading a sled range is one thread's work per iterator, and when sled
/// has to read its nodes back from the file it is the longest share of a
/// scan: two iterators share it. Every key is taken by exactly one reader:
/// each checks, and records, the key it takes under one lock, the forward
/// reader's keys only grow and the backward reader's only shrink.
pub fn collect_from_both_ends<U: Send>(
    tree: &Tree,
    from: &[u8],
    to: Option<&[u8]>,
    workers: usize,
    map: &(dyn Fn(&[u8], &[u8]) -> U + Sync),
) -> Result<Vec<U>> {
    use std::sync::mpsc::sync_channel;
    const BLOCK: usize = 256;
    let workers = workers.max(1);
    let (raw_tx, raw_rx) = sync_channel::<EndBlock>(2 * workers);
    // held by the workers only, as in `scan_ordered`
    let raw_rx = std::sync::Arc::new(Mutex::new(raw_rx));
    let (done_tx, done_rx) = sync_channel::<(End, u64, Vec<U>)>(2 * workers);
    let meeting = Mutex::new(Meeting::default());
    let range = || match to {
        Some(to) => tree.range(from..to),
        None => tree.range(from..),
    };
    let meeting = &meeting;
    // One reader: takes keys while the other has not taken them; the
    // blocks it sent.
    let read = |end: End,
                entries: &mut dyn Iterator<Item = sled::Result<(IVec, IVec)>>,
                raw_tx: std::sync::mpsc::SyncSender<EndBlock>|
     -> Result<u64> {
        let mut block = Vec::with_capacity(BLOCK);
        let mut number = 0u64;
        for kv in entries {
            let (key, value) = kv?;
            let taken = meeting
                .lock()
                .map_err(|_| StoreError::corrupt("scan", "*", "a reader thread failed"))?
                .take(end, &key);
            if !taken {
                break;
            }
            block.push((key, value));
            if block.len() == BLOCK {
                if raw_tx
                    .send((end, number, std::mem::take(&mut block)))
                    .is_err()
                {
                    return Ok(number);
                }
                number += 1;
            }
        }
        if !block.is_empty() && raw_tx.send((end, number, block)).is_ok() {
            number += 1;
        }
        Ok(number)
    };
    std::thread::scope(|scope| {
        let readers = [End::Start, End::Finish].map(|end| {
            let raw_tx = raw_tx.clone();
            let read = &read;
            let range = &range;
            scope.spawn(move || match end {
                End::Start => read(end, &mut ReadOnce::new(tree, range()), raw_tx),
                End::Finish => read(end, &mut ReadOnce::new(tree, range().rev()), raw_tx),
            })
        });
        drop(raw_tx);
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let raw_rx = std::sync::Arc::clone(&raw_rx);
            scope.spawn(move || {
                loop {
                    let next = raw_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((end, number, raw))) = next else {
                        break;
                    };
                    let values = raw.iter().map(|(k, v)| map(k, v)).collect();
                    if done_tx.send((end, number, values)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((done_tx, raw_rx));
        let mut ahead = std::collections::BTreeMap::new();
        let mut behind = std::collections::BTreeMap::new();
        for (end, number, values) in done_rx.iter() {
            match end {
                End::Start => ahead.insert(number, values),
                End::Finish => behind.insert(number, values),
            };
        }
        let [sent_ahead, sent_behind] = readers.map(|r| {
            r.join()
                .unwrap_or_else(|_| Err(StoreError::corrupt("scan", "*", "a reader thread failed")))
        });
        let received = |blocks: usize| u64::try_from(blocks).unwrap_or(u64::MAX);
        if received(ahead.len()) != sent_ahead? || received(behind.len()) != sent_behind? {
            return Err(StoreError::corrupt("scan", "*", "a worker thread failed"));
        }
        let mut out = Vec::new();
        for (_, values) in ahead {
            out.extend(values);
        }
        for (_, values) in behind.into_iter().rev() {
            out.extend(values.into_iter().rev());
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of `n` keys (big-endian numbers) between two keys outside the
    /// range scanned.
    fn tree_of(n: u32) -> (sled::Db, Tree) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert([0u8], &[]).unwrap();
        for i in 0..n {
            let mut key = vec![1u8];
            key.extend(i.to_be_bytes());
            tree.insert(key, &i.to_le_bytes()).unwrap();
        }
        tree.insert([2u8], &[]).unwrap();
        (db, tree)
    }

    #[test]
    fn the_two_readers_never_take_the_same_key_in_any_order_of_their_steps() {
        let keys: Vec<IVec> = (0u8..6).map(|k| IVec::from(&[k][..])).collect();
        // every interleaving of the forward reader's steps (0, 1, 2, ...)
        // with the backward reader's (5, 4, 3, ...), as a bit mask
        for order in 0u32..(1 << 12) {
            let mut meeting = Meeting::default();
            let (mut next_up, mut next_down) = (0usize, keys.len());
            let (mut up_done, mut down_done) = (false, false);
            let mut taken = Vec::new();
            for step in 0..12 {
                if order & (1 << step) == 0 {
                    if !up_done && next_up < keys.len() {
                        if meeting.take(End::Start, &keys[next_up]) {
                            taken.push(next_up);
                            next_up += 1;
                        } else {
                            up_done = true;
                        }
                    }
                } else if !down_done && next_down > 0 {
                    if meeting.take(End::Finish, &keys[next_down - 1]) {
                        next_down -= 1;
                        taken.push(next_down);
                    } else {
                        down_done = true;
                    }
                }
            }
            // whatever is left is taken by the forward reader alone
            while !up_done && next_up < keys.len() && meeting.take(End::Start, &keys[next_up]) {
                taken.push(next_up);
                next_up += 1;
            }
            taken.sort_unstable();
            assert_eq!(
                taken,
                (0..keys.len()).collect::<Vec<_>>(),
                "order {order:b}"
            );
        }
    }

    #[test]
    fn both_ends_take_every_key_of_the_range_once_in_key_order() {
        for n in [0, 1, 2, 3, 255, 256, 257, 511, 512, 513, 3000] {
            let (_db, tree) = tree_of(n);
            for workers in [1, 2, 3] {
                let values = collect_from_both_ends(&tree, &[1], Some(&[2]), workers, &|k, v| {
                    assert_eq!(k.len(), 5);
                    u32::from_le_bytes(v.try_into().unwrap())
                })
                .unwrap();
                assert_eq!(
                    values,
                    (0..n).collect::<Vec<_>>(),
                    "{n} keys, {workers} workers"
                );
            }
            let open_ended = collect_from_both_ends(&tree, &[1], None, 2, &|k, _| k[0]).unwrap();
            assert_eq!(open_ended.len() as u32, n + 1, "{n} keys and the one after");
            assert_eq!(open_ended.last(), Some(&2));
        }
    }
}
