//! Bounds: what sled itself allows for the least work the design asks of
//! an append and of a rebuild, on the bytes of an existing registry.
//!
//!     cargo bench --bench scale -- --events 1000000 --keep registry-1m
//!     cargo bench --bench bounds -- --from registry-1m
//!
//! It measures, with sled alone (no decoding, no validation, no
//! projections), on fresh trees and with the durability of the design
//! (`flush` then `fsync` of the data file):
//! - batches of 1,000 events as one `apply_batch` on one tree (the scale
//!   benchmark's bare sled baseline) and as one transaction writing the
//!   `events` and `streams` entries the design requires;
//! - then 2,000 single appends of each kind on the loaded trees, and the
//!   disk's limit (write + fsync of one event's bytes to a plain file);
//! - a plain scan of the registry's `events` tree, which any rebuild reads.
//!
//! Figures and what they bound are in `docs/performance.md`.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Parser;
use sled::Transactional;
use sled::transaction::ConflictableTransactionError;

#[derive(Parser, Debug)]
struct Args {
    /// A registry folder (made with the scale benchmark's `--keep`)
    #[arg(long)]
    from: PathBuf,
    /// Rounds of each kind of write
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Passed by cargo
    #[arg(long, hide = true)]
    bench: bool,
}

const CACHE_BYTES: u64 = 32 << 20;
const BATCH: usize = 1000;
const SINGLES: usize = 2000;

/// The events tree's entries and the streams tree's, in the order the log
/// wrote them (a stream entry's value is its event's seq).
struct Log {
    events: Vec<(sled::IVec, sled::IVec)>,
    streams: Vec<(sled::IVec, sled::IVec)>,
}

fn read_log(path: &Path) -> (Log, f64) {
    let db = sled::Config::new()
        .path(path)
        .cache_capacity(CACHE_BYTES)
        .open()
        .expect("open the registry");
    let events = db.open_tree("events").expect("events tree");
    let started = Instant::now();
    let scanned = events.iter().filter_map(Result::ok).count();
    let scan_secs = started.elapsed().as_secs_f64();
    eprintln!("scanned {scanned} events");
    let events: Vec<_> = events.iter().map(|kv| kv.expect("event")).collect();
    let mut streams: Vec<_> = db
        .open_tree("streams")
        .expect("streams tree")
        .iter()
        .map(|kv| kv.expect("stream entry"))
        .collect();
    streams.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(events.len(), streams.len(), "one stream entry per event");
    (Log { events, streams }, scan_secs)
}

struct Durable {
    db: sled::Db,
    file: File,
    events: sled::Tree,
    streams: sled::Tree,
}

impl Durable {
    fn create(path: &Path) -> Self {
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(None)
            .open()
            .expect("scratch sled");
        let file = File::open(path.join("db")).expect("sled data file");
        Durable {
            events: db.open_tree("events").expect("tree"),
            streams: db.open_tree("streams").expect("tree"),
            db,
            file,
        }
    }

    fn sync(&self) {
        self.db.flush().expect("flush");
        self.file.sync_all().expect("fsync");
    }

    /// Writes entries `range` of the log: one tree and `apply_batch`, or
    /// both trees in one transaction.
    fn write(&self, log: &Log, range: std::ops::Range<usize>, both: bool) {
        if both {
            (&self.events, &self.streams)
                .transaction(|(events, streams)| {
                    for i in range.clone() {
                        let (seq, body) = &log.events[i];
                        let (key, value) = &log.streams[i];
                        events.insert(seq, body)?;
                        streams.insert(key, value)?;
                    }
                    Ok::<(), ConflictableTransactionError<()>>(())
                })
                .expect("transaction");
        } else {
            let mut batch = sled::Batch::default();
            for (seq, body) in &log.events[range] {
                batch.insert(seq, body);
            }
            self.events.apply_batch(batch).expect("batch");
        }
        self.sync();
    }
}

fn per_second(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let args = Args::parse();
    let (log, scan_secs) = read_log(&args.from);
    let n = log.events.len();
    assert!(n > SINGLES, "the registry needs more than {SINGLES} events");
    let loaded = n - SINGLES;
    let scratch = tempfile::tempdir().expect("temp dir");
    println!(
        "scan of the events tree: {n} events in {:.2} s ({:.0} events/s)",
        scan_secs,
        n as f64 / scan_secs
    );
    for round in 0..args.rounds {
        for (name, both) in [
            ("one tree, apply_batch", false),
            ("events + streams, one transaction", true),
        ] {
            let store = Durable::create(&scratch.path().join(format!("{round}-{both}")));
            let started = Instant::now();
            for start in (0..loaded).step_by(BATCH) {
                store.write(&log, start..(start + BATCH).min(loaded), both);
            }
            let batches = per_second(loaded, started);
            let started = Instant::now();
            for i in loaded..n {
                store.write(&log, i..i + 1, both);
            }
            let singles = per_second(SINGLES, started);
            println!("{name}: batches {batches:.0} events/s, singles {singles:.0} events/s");
        }
        let mut plain = File::create(scratch.path().join("plain")).expect("plain file");
        let started = Instant::now();
        for (_, body) in &log.events[loaded..] {
            plain.write_all(body).expect("write");
            plain.sync_all().expect("fsync");
        }
        println!("fsync limit: {:.0} events/s", per_second(SINGLES, started));
    }
}
